"""Both clients against the real server app in-process (real service, SQLite, local provider),
served by uvicorn on a loopback port in a thread, so event streams stream as they would
from ``persona serve``.

The one thing mocked is an LLM provider's HTTP API (Anthropic's, via respx), made to never
answer so a run stays running long enough to be cancelled or timed out.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx
import persona_client as pc
import pytest
import respx
import uvicorn
from fastapi import FastAPI

from .conftest import AppFactory

TOKEN = "client-test-token"
SEED = {
    "name": "Checkout research Q3",
    "data_sources": ["./interviews.csv"],
    "config": {"provider": "local", "persona_count": 3, "seed": 7},
}
POLL = 0.02
RUN_TIMEOUT = 60.0


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` (lifespan included) on a free loopback port; yields its base URL."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="uvicorn-under-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@contextmanager
def sync_client(app: FastAPI, token: str | None = None) -> Iterator[pc.PersonaClient]:
    with serving(app) as base_url, pc.PersonaClient(base_url=base_url, token=token) as client:
        yield client


@asynccontextmanager
async def async_client(
    app: FastAPI, token: str | None = None
) -> AsyncIterator[pc.AsyncPersonaClient]:
    with serving(app) as base_url:
        async with pc.AsyncPersonaClient(base_url=base_url, token=token) as client:
            yield client


@pytest.fixture
def stalled_anthropic(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Anthropic's API, configured but never answering: its runs stay 'running'."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)

    async def never_answers(request: httpx.Request) -> httpx.Response:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    with respx.mock(assert_all_called=False) as mock:
        mock.post("https://api.anthropic.com/v1/messages").mock(side_effect=never_answers)
        mock.route(host="127.0.0.1").pass_through()  # the client's calls to the app
        yield


# --------------------------------------------------------------------------- sync


def test_sync_create_generate_wait_and_read(make_app: AppFactory) -> None:
    with sync_client(make_app()) as client:
        assert client.health().status == "ok"
        experiment = client.experiments.create(**SEED)
        assert experiment.id.startswith("exp-")
        assert experiment.status == "created"
        assert experiment.data_sources == ["interviews.csv"]

        run = client.runs.start(experiment.id)
        assert run.status in {"queued", "running"}
        finished = client.runs.wait(run, timeout=RUN_TIMEOUT, poll_interval=POLL)

        assert finished.status == "succeeded"
        assert len(finished.personas) == 3
        assert client.runs.get(experiment.id, run.id).persona_ids == finished.persona_ids
        persona = client.personas.get(finished.persona_ids[0])
        assert persona.run_id == run.id and persona.evidence_ids
        assert client.personas.markdown(persona.id).startswith(f"# {persona.name}")
        card = client.personas.html(persona.id)
        assert card.startswith("<!doctype html>") and persona.name in card
        listed = client.personas.list(experiment.id)
        assert {p.id for p in listed.items} == set(finished.persona_ids)
        assert [r.id for r in client.runs.list(experiment.id, status="succeeded").items] == [run.id]
        assert client.runs.list(experiment.id, status="failed").items == []
        assert [r.id for r in client.runs.iter(experiment.id, page_size=1)] == [run.id]
        paged = [p.id for p in client.personas.iter(experiment.id, page_size=2)]
        assert sorted(paged) == sorted(finished.persona_ids)
        events = client.runs.list_events(experiment.id, run.id).items
        assert [e.type for e in events[:2]] == ["run.queued", "run.started"]
        assert events[-1].type == "run.succeeded"
        assert events[-1].data.persona_ids == finished.persona_ids
        after = client.runs.list_events(experiment.id, run.id, after=1, limit=1)
        assert [e.id for e in after.items] == [2] and after.next_after == 2


def test_sync_follows_a_persona_to_its_sources(make_app: AppFactory) -> None:
    with sync_client(make_app()) as client:
        experiment = client.experiments.create(**SEED)
        first = client.runs.wait(
            client.runs.start(experiment.id), timeout=RUN_TIMEOUT, poll_interval=POLL
        )
        second = client.runs.wait(
            client.runs.start(experiment.id), timeout=RUN_TIMEOUT, poll_interval=POLL
        )
        persona = second.personas[0]

        cited = list(client.personas.iter_evidence(persona.id, page_size=3))
        everything = list(client.runs.iter_evidence(experiment.id, second.id, page_size=7))
        some = list(
            client.runs.iter_evidence(experiment.id, second.id, ids=persona.evidence_ids[:2])
        )
        one = list(client.runs.iter_evidence(experiment.id, second.id, ids=persona.evidence_ids[0]))
        of_p01 = client.runs.list_evidence(experiment.id, second.id, participant="P01")
        latest = client.personas.list(experiment.id, latest=True).items
        of_first = list(client.personas.iter(experiment.id, run_id=first.id, page_size=1))

    assert [record.id for record in cited] == persona.evidence_ids
    quote = persona.quotes[0]
    record = next(r for r in cited if r.id == quote.evidence_ids[0])
    span = next(c for c in record.cited_by if c.section == "quotes" and c.index == 0).spans[0]
    assert record.text[span.start : span.end] == quote.text.rstrip(".")
    assert record.source == "interviews.csv" and record.locator.startswith("row ")
    assert len(everything) == len({e.id for e in everything}) > len(cited) > 0
    assert [e.id for e in some] == [e.id for e in everything if e.id in persona.evidence_ids[:2]]
    assert [e.id for e in one] == [persona.evidence_ids[0]]
    assert of_p01.items and {e.participant for e in of_p01.items} == {"P01"}
    assert {p.id for p in latest} == set(second.persona_ids)
    assert {p.id for p in of_first} == set(first.persona_ids)


def test_sync_generate_overrides_and_idempotency(make_app: AppFactory) -> None:
    with sync_client(make_app()) as client:
        experiment = client.experiments.create(**SEED)
        first = client.runs.start(experiment.id, persona_count=2, idempotency_key="k-1")
        again = client.runs.start(experiment.id, persona_count=2, idempotency_key="k-1")
        assert again.id == first.id
        assert first.config.persona_count == 2
        with pytest.raises(pc.ConflictError) as raised:
            client.runs.start(experiment.id, persona_count=3, idempotency_key="k-1")
        assert raised.value.code == "idempotency_conflict"
        assert len(client.runs.wait(first, poll_interval=POLL).personas) == 2
        assert len(client.runs.list(experiment.id).items) == 1


def test_sync_pages_through_experiments(make_app: AppFactory) -> None:
    with sync_client(make_app()) as client:
        created = [client.experiments.create(**{**SEED, "name": f"Study {n}"}) for n in range(5)]
        first = client.experiments.list(limit=2)
        assert len(first.items) == 2 and first.next_cursor is not None
        second = client.experiments.list(limit=2, cursor=first.next_cursor)
        assert {e.id for e in first.items}.isdisjoint(e.id for e in second.items)
        newest_first = [e.id for e in reversed(created)]
        assert [e.id for e in client.experiments.iter(page_size=2)] == newest_first
        named = client.experiments.iter(name="study 3", page_size=1)
        assert [e.id for e in named] == [created[3].id]


def test_sync_errors_carry_the_problem(make_app: AppFactory) -> None:
    with sync_client(make_app()) as client:
        with pytest.raises(pc.NotFoundError) as missing:
            client.experiments.get("exp-does-not-exist")
        assert missing.value.code == "not_found"
        assert missing.value.request_id == missing.value.response.headers["X-Request-ID"]
        assert "exp-does-not-exist" in str(missing.value)

        with pytest.raises(pc.UnprocessableEntityError) as invalid:
            client.experiments.create(
                name="x", data_sources=["../outside.csv"], config={"persona_count": 0}
            )
        locations = {tuple(error.loc) for error in invalid.value.errors}
        assert ("body", "config", "persona_count") in locations

        with pytest.raises(pc.UnprocessableEntityError) as traversal:
            client.experiments.create(name="x", data_sources=["../outside.csv"])
        assert [e.loc for e in traversal.value.errors] == [["body", "data_sources", 0]]
        assert "../outside.csv" in str(traversal.value)


def test_sync_token_is_sent_and_checked(make_app: AppFactory) -> None:
    app = make_app(api_token=TOKEN)
    with sync_client(app, token="wrong") as client:
        assert client.health().status == "ok"
        with pytest.raises(pc.AuthenticationError) as raised:
            client.experiments.list()
        assert raised.value.status_code == 401
        assert "wrong" not in str(raised.value)
    with sync_client(app, token=TOKEN) as client:
        assert client.experiments.list().items == []


def test_sync_upload_and_providers(make_app: AppFactory, tmp_path: Path) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text("# Interview 9\nI abandon the checkout when it asks me to sign up.\n")
    with sync_client(make_app()) as client:
        experiment = client.experiments.create(**SEED)
        updated = client.sources.upload(experiment.id, [notes])
        assert len(updated.data_sources) == 2
        assert updated.data_sources[1].endswith("notes.md")
        providers = {p.name: p for p in client.providers.list()}
        assert providers["local"].configured
        assert providers["anthropic"].env_var == "ANTHROPIC_API_KEY"


def test_sync_cancel_wait_and_delete(make_app: AppFactory, stalled_anthropic: None) -> None:
    with sync_client(make_app()) as client:
        experiment = client.experiments.create(
            **{**SEED, "config": {"provider": "anthropic", "persona_count": 3}}
        )
        run = client.runs.start(experiment.id)
        with pytest.raises(pc.WaitTimeoutError) as timed_out:
            client.runs.wait(run, timeout=0.2, poll_interval=POLL)
        assert timed_out.value.run.status in {"queued", "running"}

        cancelled = client.runs.cancel(experiment.id, run.id)
        assert cancelled.id == run.id
        with pytest.raises(pc.RunCancelledError) as raised:
            client.runs.wait(run, timeout=RUN_TIMEOUT, poll_interval=POLL)
        assert raised.value.run.status == "cancelled"
        with pytest.raises(pc.ConflictError):
            client.runs.cancel(experiment.id, run.id)

        client.experiments.delete(experiment.id)
        with pytest.raises(pc.NotFoundError):
            client.experiments.get(experiment.id)
        with pytest.raises(pc.NotFoundError):
            client.experiments.delete(experiment.id)


def test_sync_sources_are_listed_and_deleted(make_app: AppFactory, tmp_path: Path) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text("P9 abandons the checkout when it asks for an account.\n")
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with sync_client(make_app()) as client:
        experiment = client.experiments.create(**SEED)
        with pytest.raises(pc.UnprocessableEntityError, match=r"empty\.csv: the file is empty"):
            client.sources.upload(experiment.id, [notes, empty])
        uploaded = client.sources.upload(experiment.id, notes).data_sources[1]

        listed = client.sources.list(experiment.id).items
        assert [(s.name, s.kind, s.records) for s in listed][1] == (uploaded, "upload", 1)
        assert listed[0].kind == "path" and listed[0].size_bytes
        with pytest.raises(pc.ConflictError) as refused:
            client.sources.delete(experiment.id, listed[0].name)
        assert refused.value.code == "path_source"
        client.sources.delete(experiment.id, uploaded)
        assert [s.name for s in client.sources.list(experiment.id).items] == [listed[0].name]
        with pytest.raises(pc.NotFoundError):
            client.sources.delete(experiment.id, uploaded)


def test_sync_privacy_preview(make_app: AppFactory) -> None:
    inline = {"name": "mail.md", "content": "Hi Sarah, call me on +44 20 7946 0958.\n"}
    with sync_client(make_app()) as client:
        experiment = client.experiments.create(
            **{**SEED, "data_sources": [inline, "./interviews.csv"]}
        )
        first = client.experiments.preview_privacy(experiment.id)
        assert not first.report.pseudonymized and len(first.records) == 3

        preview = client.experiments.preview_privacy(experiment.id, provider="anthropic", limit=2)
        assert preview.report.pseudonymized and preview.provider == "anthropic"
        mail = preview.records[0]
        assert "Hi Person 1, call me on [phone 1]." in mail.sent
        assert "Sarah" not in mail.sent and "7946" not in mail.sent
        with pytest.raises(pc.UnprocessableEntityError, match="evidence_id"):
            client.experiments.preview_privacy(experiment.id, evidence_id="ev-0000000000000000")


# --------------------------------------------------------------------------- async


async def test_async_sources_are_listed_and_deleted(make_app: AppFactory) -> None:
    inline = {"name": "notes.md", "content": "P9 wants to pay by invoice.\n"}
    async with async_client(make_app()) as client:
        experiment = await client.experiments.create(
            **{**SEED, "data_sources": ["./interviews.csv", inline]}
        )
        listed = (await client.sources.list(experiment.id)).items
        assert [s.kind for s in listed] == ["path", "inline"]
        assert listed[1].records == 1

        await client.sources.delete(experiment.id, listed[1].name)
        assert (await client.experiments.get(experiment.id)).data_sources == [listed[0].name]
        with pytest.raises(pc.ConflictError) as refused:
            await client.sources.delete(experiment.id, listed[0].name)
        assert refused.value.code in {"path_source", "last_source"}


async def test_async_create_generate_wait_and_read(make_app: AppFactory) -> None:
    async with async_client(make_app()) as client:
        assert (await client.health()).database == "ok"
        experiment = await client.experiments.create(**SEED)
        run = await client.runs.start(experiment.id, seed=11)
        finished = await client.runs.wait(run, timeout=RUN_TIMEOUT, poll_interval=POLL)
        assert finished.status == "succeeded"
        assert finished.config.seed == 11
        persona = await client.personas.get(finished.personas[0].id)
        assert persona == finished.personas[0]
        assert persona.name in await client.personas.markdown(persona.id)
        assert persona.title in await client.personas.html(persona.id)
        assert [p.id async for p in client.personas.iter(experiment.id, page_size=1)] != []
        assert [r.id async for r in client.runs.iter(experiment.id)] == [run.id]
        events = (await client.runs.list_events(experiment.id, run.id)).items
        assert [e.type for e in events][:: len(events) - 1] == ["run.queued", "run.succeeded"]
        providers = await client.providers.list()
        assert "local" in {p.name for p in providers if p.configured}


async def test_async_follows_a_persona_to_its_sources(make_app: AppFactory) -> None:
    async with async_client(make_app()) as client:
        experiment = await client.experiments.create(**SEED)
        run = await client.runs.start(experiment.id)
        finished = await client.runs.wait(run, timeout=RUN_TIMEOUT, poll_interval=POLL)
        persona = finished.personas[0]

        cited = [r async for r in client.personas.iter_evidence(persona.id, page_size=2)]
        matching = [
            r
            async for r in client.runs.iter_evidence(
                experiment.id, run.id, q="SUBSCRIPTION", page_size=2
            )
        ]
        page = await client.runs.list_evidence(experiment.id, run.id, limit=1)
        latest = await client.personas.list(experiment.id, latest=True)

    assert [record.id for record in cited] == persona.evidence_ids
    assert matching and all("subscription" in r.text.lower() for r in matching)
    assert len(page.items) == 1 and page.next_cursor is not None
    assert {p.id for p in latest.items} == set(finished.persona_ids)


async def test_async_pages_errors_and_delete(make_app: AppFactory) -> None:
    async with async_client(make_app()) as client:
        created = [await client.experiments.create(**{**SEED, "name": f"S{n}"}) for n in range(3)]
        assert [e.id async for e in client.experiments.iter(page_size=2)] == [
            e.id for e in reversed(created)
        ]
        with pytest.raises(pc.NotFoundError):
            await client.runs.get(created[0].id, "run-missing")
        with pytest.raises(pc.UnprocessableEntityError) as invalid:
            await client.experiments.create(name="", data_sources=["interviews.csv"])
        assert [e.loc for e in invalid.value.errors] == [["body", "name"]]
        await client.experiments.delete(created[0].id)
        assert len((await client.experiments.list()).items) == 2


async def test_async_cancel_and_auth(make_app: AppFactory, stalled_anthropic: None) -> None:
    app = make_app(api_token=TOKEN)
    async with async_client(app, token=TOKEN) as client:
        experiment = await client.experiments.create(
            **{**SEED, "config": {"provider": "anthropic", "persona_count": 2}}
        )
        run = await client.runs.start(experiment.id)
        await client.runs.cancel(experiment.id, run.id)
        with pytest.raises(pc.RunFailedError) as raised:
            await client.runs.wait(run, timeout=RUN_TIMEOUT, poll_interval=POLL)
        assert isinstance(raised.value, pc.RunCancelledError)
        wrong = pc.AsyncPersonaClient(
            base_url=client.base_url, token="nope", http_client=client._http
        )
        with pytest.raises(pc.AuthenticationError):
            await wrong.experiments.get(experiment.id)


def test_sync_column_roles_and_run_warnings(make_app: AppFactory, tmp_path: Path) -> None:
    data = tmp_path / "data"
    rows = [
        ("C1", "Finance", "I want every subscription in one list with its real cost."),
        ("C1", "Finance", "Vendor invoices never match the licence numbers we use."),
        ("C2", "Finance", "I need purchase orders approved before anyone signs."),
        ("C2", "Finance", "Month end is a scramble because sales logs deals late."),
        ("C3", "IT", "I want new starters to have every account on their first morning."),
        ("C3", "IT", "Offboarding someone means logging into fourteen admin consoles."),
        ("C4", "IT", "I need to see who holds a licence they have not used."),
        ("C4", "IT", "Permissions are so granular that nobody understands them."),
    ]
    lines = ["Client Ref,works_in,notes", *(",".join(row) for row in rows)]
    (data / "accounts.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with sync_client(make_app()) as client:
        named = client.experiments.create(
            name="Accounts",
            data_sources=["accounts.csv"],
            config={
                "provider": "local",
                "persona_count": 2,
                "columns": {"participant": "client ref", "segment": "Works In"},
            },
        )
        run = client.runs.wait(client.runs.start(named.id), timeout=RUN_TIMEOUT, poll_interval=POLL)
        assert run.status == "succeeded" and run.warnings == []
        assert {p.title: p.participants for p in run.personas} == {
            "Finance": ["C1", "C2"],
            "IT": ["C3", "C4"],
        }
        assert all(len(p.summary) >= 2 and p.summary[0].evidence_ids for p in run.personas)

        unnamed = client.experiments.create(
            name="Accounts", data_sources=["accounts.csv"], config={"persona_count": 2}
        )
        run = client.runs.wait(
            client.runs.start(unnamed.id), timeout=RUN_TIMEOUT, poll_interval=POLL
        )
        [warning] = run.warnings
        assert warning.startswith("accounts.csv: no participant column")
        assert all(p.participants for p in run.personas)


async def test_async_privacy_preview(make_app: AppFactory) -> None:
    async with async_client(make_app()) as client:
        experiment = await client.experiments.create(**SEED)
        preview = await client.experiments.preview_privacy(
            experiment.id, provider="gemini", evidence_id=None, limit=1
        )
        assert preview.report.pseudonymized and len(preview.records) == 1
        assert '"participant": "Participant A"' in preview.records[0].sent
