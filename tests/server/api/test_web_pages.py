"""The web interface's pages, through the real app and service (no browser: see tests/e2e)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
import pytest

from tests.paths import EXAMPLE_INTERVIEWS

from ._web_cases import finished_local_run, links, post_form
from .conftest import create_local


async def test_the_experiments_page_lists_pages_and_searches_by_name(
    client: httpx.AsyncClient,
) -> None:
    for number in range(27):
        await create_local(client, name=f"Study {number:02d}")
    await create_local(client, name="Checkout interviews")

    first = await client.get("/")
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("text/html")
    assert "Checkout interviews" in first.text and "Study 00" not in first.text
    following = links(first.text, r"/\?cursor=[^\"]+")
    assert len(following) == 1
    second = await client.get(following[0].replace("&amp;", "&"))
    assert "Study 00" in second.text and "Checkout interviews" not in second.text

    found = await client.get("/", params={"name": "CHECKOUT"})
    assert "Checkout interviews" in found.text and "Study" not in found.text
    none = await client.get("/", params={"name": "%_"})  # wildcards are matched literally
    assert "No experiment" in none.text


async def test_the_new_experiment_form_offers_configured_providers_only(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/ui/experiments/new")

    assert page.status_code == 200
    assert re.search(r'value="local"[^>]*checked', page.text)
    anthropic = re.search(r'<input[^>]*id="provider-anthropic"[^>]*>', page.text)
    assert anthropic is not None and "disabled" in anthropic.group(0)
    assert "needs ANTHROPIC_API_KEY on the server" in page.text


async def test_uploading_files_and_pasted_text_creates_the_experiment(
    client: httpx.AsyncClient,
) -> None:
    response = await post_form(
        client,
        "/ui/experiments",
        data={"name": "Uploaded", "provider": "local", "persona_count": "2", "pasted": "P1: hi"},
        files=[("files", ("interviews.csv", EXAMPLE_INTERVIEWS.read_bytes(), "text/csv"))],
    )

    assert response.status_code == 303
    experiment_id = response.headers["location"].rsplit("/", 1)[1]
    experiment = (await client.get(f"/experiments/{experiment_id}")).json()
    assert experiment["name"] == "Uploaded"
    assert experiment["config"]["persona_count"] == 2
    assert [Path(s).name for s in experiment["data_sources"]] == ["interviews.csv", "pasted.md"]
    page = await client.get(response.headers["location"])
    assert "interviews.csv" in page.text and "Start a run" in page.text


async def test_a_bad_file_is_named_with_the_apis_message_and_nothing_is_stored(
    client: httpx.AsyncClient, data_dir: Path
) -> None:
    header_only = b"participant,response\n"
    api = await client.post(
        "/experiments",
        json={
            "name": "x",
            "data_sources": [{"name": "empty.csv", "content": "participant,response\n"}],
        },
    )
    assert api.json()["code"] == "invalid_source"

    response = await post_form(
        client,
        "/ui/experiments",
        data={"name": "Bad", "provider": "local", "persona_count": "3"},
        files=[
            ("files", ("good.csv", EXAMPLE_INTERVIEWS.read_bytes(), "text/csv")),
            ("files", ("empty.csv", header_only, "text/csv")),
        ],
    )

    assert response.status_code == 422
    error = re.search(r'<div id="files-error">(.*?)</div>', response.text, re.S)
    assert error is not None
    assert "<strong>empty.csv</strong>" in error.group(1)
    problem = api.json()["detail"].split(": ", 1)[1]
    assert problem in error.group(1)
    assert "good.csv" not in error.group(1)
    assert 'value="Bad"' in response.text  # what was typed is kept
    assert (await client.get("/experiments")).json()["items"] == []
    assert not list((data_dir / ".persona" / "experiments").rglob("*.*"))


async def test_files_added_on_the_experiment_page_are_checked_like_the_apis(
    client: httpx.AsyncClient,
) -> None:
    experiment = await create_local(client)
    url = f"/ui/experiments/{experiment['id']}/sources"
    csv = EXAMPLE_INTERVIEWS.read_bytes()

    refused = await post_form(
        client,
        url,
        files=[
            ("files", ("more.csv", csv, "text/csv")),
            ("files", ("empty.csv", b"participant,response\n", "text/csv")),
        ],
    )
    added = await post_form(client, url, files=[("files", ("more.csv", csv, "text/csv"))])

    assert refused.status_code == 422
    error = re.search(r'<p class="error" id="files-error"[^>]*>(.*?)</p>', refused.text)
    assert error is not None and error.group(1).startswith("empty.csv: ")
    assert added.status_code == 303
    sources = (await client.get(f"/experiments/{experiment['id']}/sources")).json()["items"]
    assert [Path(s["name"]).name for s in sources] == ["interviews.csv", "more.csv"]
    assert sources[1]["kind"] == "upload"


async def test_a_form_without_sources_or_name_says_what_is_missing(
    client: httpx.AsyncClient,
) -> None:
    response = await post_form(client, "/ui/experiments", data={"name": "", "persona_count": "40"})

    assert response.status_code == 422
    assert "Add at least one source" in response.text
    assert (await client.get("/experiments")).json()["items"] == []


async def test_the_experiment_page_starts_and_cancels_runs(
    client: httpx.AsyncClient, stalled_provider: asyncio.Event
) -> None:
    experiment = await create_local(client, config={"provider": "anthropic"})
    page_url = f"/ui/experiments/{experiment['id']}"

    started = await post_form(client, f"{page_url}/runs")
    assert started.status_code == 303 and started.headers["location"] == page_url
    await asyncio.wait_for(stalled_provider.wait(), 10)
    page = await client.get(page_url)
    run_id = re.search(r'id="run-(run-[^"]+)"', page.text)
    assert run_id is not None
    assert f'sse-connect="{page_url}/runs/{run_id.group(1)}/progress"' in page.text

    cancelled = await post_form(client, f"{page_url}/runs/{run_id.group(1)}/cancel")
    assert cancelled.status_code == 303
    run = (await client.get(f"/experiments/{experiment['id']}/runs/{run_id.group(1)}")).json()
    assert run["status"] == "cancelled"
    again = await post_form(client, f"{page_url}/runs/{run_id.group(1)}/cancel")
    assert again.status_code == 409 and "<html" in again.text


async def test_the_progress_stream_sends_fragments_then_done(client: httpx.AsyncClient) -> None:
    experiment = await create_local(client)
    started = await client.post(f"/experiments/{experiment['id']}/generate")
    run_path = started.headers["location"]
    url = f"/ui{run_path}/progress"

    async with client.stream("GET", url, headers={"Accept": "text/event-stream"}) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        body = ""
        async with asyncio.timeout(30):
            async for chunk in stream.aiter_text():
                body += chunk
                if "event: done" in body:
                    break

    fragments = re.findall(r"event: progress\ndata: (.*)\n", body)
    assert fragments, body
    assert 'status-succeeded">succeeded' in fragments[-1]
    assert "event: done\ndata: succeeded" in body


async def test_a_persona_page_shows_badges_participants_and_marked_evidence(
    client: httpx.AsyncClient,
) -> None:
    run = await finished_local_run(client)
    persona = run["personas"][0]

    page = await client.get(f"/ui/personas/{persona['id']}")

    assert page.status_code == 200
    assert persona["name"] in page.text and "invented name" in page.text
    assert re.search(r'class="badge badge-verified"[^>]*>Verified<', page.text)
    assert f"{round(persona['grounding']['score'] * 100)}%" in page.text
    quote = persona["quotes"][0]
    evidence = (await client.get(f"/personas/{persona['id']}/evidence")).json()["items"]
    record = next(r for r in evidence if r["id"] == quote["evidence_ids"][0])
    span = next(c for c in record["cited_by"] if c["section"] == "quotes")["spans"][0]
    marked = record["text"][span["start"] : span["end"]]
    assert f"<mark>{marked}</mark>" in page.text.replace("&#39;", "'")
    for participant in persona["participants"]:
        assert f'<span class="participant">{participant}</span>' in page.text
    assert f'href="/ui/personas/{persona["id"]}/card"' in page.text
    await client.delete(f"/experiments/{persona['experiment_id']}")
    assert (await client.get(f"/ui/personas/{persona['id']}")).status_code == 404


async def test_the_evidence_page_filters_and_names_the_citing_lines(
    client: httpx.AsyncClient,
) -> None:
    run = await finished_local_run(client)
    persona = run["personas"][0]
    quote = persona["quotes"][0]
    record = (await client.get(f"/personas/{persona['id']}/evidence")).json()["items"][0]
    url = f"/ui/experiments/{run['experiment_id']}/runs/{run['id']}/evidence"
    grounding = run["grounding"]
    summary = (
        f"{grounding['quotes_verified']} verified ({grounding['quotes_corrected']} corrected), "
        f"{grounding['quotes_approximate']} approximate, {grounding['quotes_unverified']} not found"
    )
    experiment_page = await client.get(f"/ui/experiments/{run['experiment_id']}")
    assert summary in experiment_page.text

    everything = await client.get(url)
    assert summary in everything.text
    api_page = await client.get(f"/experiments/{run['experiment_id']}/runs/{run['id']}/evidence")
    assert everything.text.count('class="record"') == len(api_page.json()["items"]) > 1
    filtered = await client.get(url, params={"participant": record["participant"]})
    wheres = re.findall(r'<p class="record-where">(.*?)</p>', filtered.text)
    assert wheres and all(w.endswith(f"· {record['participant']}") for w in wheres)
    by_text = await client.get(url, params={"text": quote["text"][:30]})
    assert f'href="/ui/personas/{persona["id"]}#quotes-0"' in by_text.text
    assert "<mark>" in by_text.text
    nothing = await client.get(url, params={"source": "no-such-file.csv"})
    assert "No record matches" in nothing.text


@pytest.mark.parametrize(
    "path",
    ["/ui/experiments/exp-nope", "/ui/personas/persona-nope", "/ui/personas/persona-nope/card"],
)
async def test_an_unknown_id_gives_an_html_404(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "not found" in response.text


async def test_a_bad_query_gives_an_html_422(client: httpx.AsyncClient) -> None:
    response = await client.get("/", params={"name": "x" * 101})

    assert response.status_code == 422
    assert "name:" in response.text
