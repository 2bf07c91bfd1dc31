"""Both clients under scripted transport faults: what is retried, what is not, and how long
they wait. httpx.MockTransport stands in for the network only; everything above it is real."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import persona_client as pc
import pytest

BASE = "http://persona.test"
Step = httpx.Response | type[httpx.TransportError] | Callable[[httpx.Request], httpx.Response]


class Script:
    """A fake network that answers each request with the next scripted step."""

    def __init__(self, *steps: Step) -> None:
        self.steps: Iterator[Step] = iter(steps)
        self.requests: list[httpx.Request] = []
        self.bodies: list[bytes] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.bodies.append(request.read())
        step = next(self.steps, None)
        if step is None:
            raise AssertionError(f"unscripted request #{len(self.requests)}: {request.url}")
        if isinstance(step, httpx.Response):
            return step
        if isinstance(step, type):
            raise step("scripted fault", request=request)
        return step(request)

    def sync_client(self, **options: Any) -> pc.PersonaClient:
        http = httpx.Client(transport=httpx.MockTransport(self))
        return pc.PersonaClient(base_url=BASE, token="tok", http_client=http, **options)

    def async_client(self, **options: Any) -> pc.AsyncPersonaClient:
        http = httpx.AsyncClient(transport=httpx.MockTransport(self))
        return pc.AsyncPersonaClient(base_url=BASE, token="tok", http_client=http, **options)


def ok(payload: Any, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=payload, headers=headers)


def unavailable(**headers: str) -> httpx.Response:
    body = {"title": "Service Unavailable", "status": 503}
    return httpx.Response(503, json=body, headers=headers)


def not_streamed() -> httpx.Response:
    """What a server without event streams answers a stream request: the JSON page."""
    return ok({"items": [], "next_after": None})


# --------------------------------------------------------------------------- reads


def test_get_retries_a_503_then_succeeds(experiment_payload: Any, sleeps: list[float]) -> None:
    script = Script(unavailable(), ok(experiment_payload()))
    experiment = script.sync_client().experiments.get("exp-abc")
    assert experiment.id == "exp-abc"
    assert len(script.requests) == 2
    assert len(sleeps) == 1 and 0.375 <= sleeps[0] <= 0.5


def test_retry_after_is_waited_exactly(experiment_payload: Any, sleeps: list[float]) -> None:
    script = Script(unavailable(**{"Retry-After": "2"}), ok(experiment_payload()))
    script.sync_client().experiments.get("exp-abc")
    assert sleeps == [2.0]


def test_rate_limited_read_is_retried(experiment_payload: Any, sleeps: list[float]) -> None:
    limited = httpx.Response(429, json={"title": "Too Many Requests", "status": 429})
    script = Script(limited, limited, ok(experiment_payload()))
    script.sync_client().experiments.get("exp-abc")
    assert len(script.requests) == 3


def test_retries_give_up_after_max_retries(sleeps: list[float]) -> None:
    script = Script(unavailable(), unavailable(), unavailable(**{"X-Request-ID": "req-last"}))
    with pytest.raises(pc.InternalServerError) as raised:
        script.sync_client(max_retries=2).experiments.get("exp-abc")
    assert raised.value.status_code == 503
    assert raised.value.request_id == "req-last"
    assert len(script.requests) == 3
    assert len(sleeps) == 2 and sleeps[0] < sleeps[1]


def test_max_retries_zero_sends_once(sleeps: list[float]) -> None:
    script = Script(unavailable())
    with pytest.raises(pc.InternalServerError):
        script.sync_client(max_retries=0).experiments.get("exp-abc")
    assert len(script.requests) == 1
    assert sleeps == []


def test_read_retried_after_connection_error(experiment_payload: Any, sleeps: list[float]) -> None:
    script = Script(httpx.ConnectError, httpx.ReadError, ok(experiment_payload()))
    assert script.sync_client().experiments.get("exp-abc").id == "exp-abc"
    assert len(script.requests) == 3


def test_read_timeout_exhausted_raises_api_timeout(sleeps: list[float]) -> None:
    script = Script(httpx.ReadTimeout, httpx.ReadTimeout, httpx.ReadTimeout)
    with pytest.raises(pc.APITimeoutError) as raised:
        script.sync_client().experiments.get("exp-abc")
    assert isinstance(raised.value.__cause__, httpx.ReadTimeout)


def test_client_errors_are_raised_at_once(problem_response: Any, sleeps: list[float]) -> None:
    script = Script(problem_response(404, "Not Found", "experiment 'exp-x' not found"))
    with pytest.raises(pc.NotFoundError, match="experiment 'exp-x' not found"):
        script.sync_client().experiments.get("exp-x")
    assert len(script.requests) == 1


# --------------------------------------------------------------------------- generate


def test_generate_retries_reuse_one_idempotency_key(run_payload: Any, sleeps: list[float]) -> None:
    script = Script(httpx.ReadTimeout, unavailable(), ok(run_payload("queued"), 202))
    run = script.sync_client().runs.start("exp-abc", persona_count=2)
    assert run.status == "queued"
    keys = {request.headers["Idempotency-Key"] for request in script.requests}
    assert len(script.requests) == 3 and len(keys) == 1
    assert {body for body in script.bodies} == {b'{"persona_count":2}'}


def test_each_generate_call_has_its_own_key(run_payload: Any) -> None:
    script = Script(ok(run_payload(), 202), ok(run_payload(), 202))
    client = script.sync_client()
    client.runs.start("exp-abc")
    client.runs.start("exp-abc")
    first, second = (request.headers["Idempotency-Key"] for request in script.requests)
    assert first != second


# --------------------------------------------------------------------------- other writes


def test_create_is_not_retried_once_sent(sleeps: list[float]) -> None:
    script = Script(unavailable())
    with pytest.raises(pc.InternalServerError):
        script.sync_client().experiments.create(name="n", data_sources=["a.csv"])
    assert len(script.requests) == 1


@pytest.mark.parametrize("fault", [httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError])
def test_create_is_not_retried_when_the_server_may_have_seen_it(
    fault: type[httpx.TransportError], sleeps: list[float]
) -> None:
    script = Script(fault)
    with pytest.raises(pc.APIConnectionError):
        script.sync_client().experiments.create(name="n", data_sources=["a.csv"])
    assert len(script.requests) == 1


def test_create_is_retried_when_the_connection_was_never_made(
    experiment_payload: Any, sleeps: list[float]
) -> None:
    script = Script(httpx.ConnectError, ok(experiment_payload(), 201))
    experiment = script.sync_client().experiments.create(name="n", data_sources=["a.csv"])
    assert experiment.id == "exp-abc"
    assert len(script.requests) == 2


def test_delete_and_cancel_are_not_retried(sleeps: list[float]) -> None:
    script = Script(unavailable(), unavailable())
    client = script.sync_client()
    with pytest.raises(pc.InternalServerError):
        client.experiments.delete("exp-abc")
    with pytest.raises(pc.InternalServerError):
        client.runs.cancel("exp-abc", "run-abc")
    assert [r.method for r in script.requests] == ["DELETE", "POST"]


def test_upload_reopens_its_files_for_a_retry(
    tmp_path: Path, experiment_payload: Any, sleeps: list[float]
) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text("# Interview 4\nThe checkout asked twice for my address.\n")
    script = Script(httpx.ConnectError, ok(experiment_payload()))
    script.sync_client().sources.upload("exp-abc", notes)
    assert len(script.requests) == 2
    assert b"The checkout asked twice for my address." in script.bodies[1]
    assert b'name="files"; filename="notes.md"' in script.bodies[1]


def test_upload_of_a_missing_file_sends_nothing(tmp_path: Path) -> None:
    script = Script()
    with pytest.raises(FileNotFoundError, match=r"missing\.csv"):
        script.sync_client().sources.upload("exp-abc", [tmp_path / "missing.csv"])
    assert script.requests == []


# --------------------------------------------------------------------------- responses


def test_success_body_that_breaks_the_contract(sleeps: list[float]) -> None:
    script = Script(ok({"id": "exp-abc"}))
    with pytest.raises(pc.APIResponseValidationError, match="not an Experiment"):
        script.sync_client().experiments.get("exp-abc")


def test_markdown_must_come_back_as_markdown() -> None:
    script = Script(ok({"name": "Maya"}))
    with pytest.raises(pc.APIResponseValidationError, match="text/markdown"):
        script.sync_client().personas.markdown("persona-abc")


def test_requests_carry_token_and_accept_json(experiment_payload: Any) -> None:
    script = Script(ok(experiment_payload()))
    script.sync_client().experiments.get("exp-abc")
    request = script.requests[0]
    assert request.headers["Authorization"] == "Bearer tok"
    assert request.headers["Accept"] == "application/json"
    assert request.url == httpx.URL(f"{BASE}/experiments/exp-abc")


def test_injected_client_keeps_its_timeout_unless_one_is_given(experiment_payload: Any) -> None:
    script = Script(ok(experiment_payload()), ok(experiment_payload()))
    http = httpx.Client(transport=httpx.MockTransport(script), timeout=3.0)
    pc.PersonaClient(base_url=BASE, http_client=http).experiments.get("exp-abc")
    pc.PersonaClient(base_url=BASE, http_client=http, timeout=9.0).experiments.get("exp-abc")
    reads = [request.extensions["timeout"]["read"] for request in script.requests]
    assert reads == [3.0, 9.0]


def test_health_reports_an_unreachable_database_instead_of_raising(sleeps: list[float]) -> None:
    down = {"status": "unavailable", "version": "0.2.0", "database": "unreachable"}
    script = Script(ok(down, 503))
    health = script.sync_client().health()
    assert (health.status, health.database) == ("unavailable", "unreachable")
    assert len(script.requests) == 1


def test_base_url_with_a_path_prefix(experiment_payload: Any) -> None:
    script = Script(ok(experiment_payload()))
    http = httpx.Client(transport=httpx.MockTransport(script))
    pc.PersonaClient(base_url=f"{BASE}/persona/", http_client=http).experiments.get("exp-abc")
    assert script.requests[0].url.path == "/persona/experiments/exp-abc"


# --------------------------------------------------------------------------- waiting


def test_wait_polls_until_the_run_succeeds_when_the_server_does_not_stream(
    run_payload: Any, sleeps: list[float]
) -> None:
    script = Script(
        not_streamed(),
        ok(run_payload("queued")),
        ok(run_payload("running", progress=0.5)),
        ok(run_payload("succeeded", progress=1.0, persona_ids=["persona-1"])),
    )
    client = script.sync_client()
    queued = pc.models.Run.model_validate(run_payload("queued"))
    finished = client.runs.wait(queued, timeout=None, poll_interval=0.2)
    assert finished.status == "succeeded"
    assert sleeps == [0.2, 0.2]
    assert script.requests[0].headers["accept"] == "text/event-stream"
    assert script.requests[0].url.path == "/experiments/exp-abc/runs/run-abc/events"
    assert {r.url.path for r in script.requests[1:]} == {"/experiments/exp-abc/runs/run-abc"}


def test_wait_raises_the_run_error(run_payload: Any, sleeps: list[float]) -> None:
    error = {"code": "provider_auth", "message": "the API key was rejected"}
    script = Script(not_streamed(), ok(run_payload("failed", error=error)))
    run = pc.models.Run.model_validate(run_payload("queued"))
    with pytest.raises(pc.RunFailedError) as raised:
        script.sync_client().runs.wait(run)
    assert raised.value.error is not None
    assert raised.value.error.message == "the API key was rejected"


def test_wait_gives_up_at_the_timeout(run_payload: Any) -> None:
    script = Script(*(ok(run_payload("running")) for _ in range(100)))
    run = pc.models.Run.model_validate(run_payload("queued"))
    with pytest.raises(TimeoutError) as raised:
        script.sync_client().runs.wait(run, timeout=0.05, poll_interval=0.01)
    assert isinstance(raised.value, pc.WaitTimeoutError)
    assert raised.value.run.status == "running"


# --------------------------------------------------------------------------- pagination


def test_iter_follows_cursors_to_the_last_page(experiment_payload: Any) -> None:
    pages = [
        ok(
            {
                "items": [experiment_payload("exp-3"), experiment_payload("exp-2")],
                "next_cursor": "c1",
            }
        ),
        ok({"items": [experiment_payload("exp-1")], "next_cursor": None}),
    ]
    script = Script(*pages)
    ids = [e.id for e in script.sync_client().experiments.iter(page_size=2)]
    assert ids == ["exp-3", "exp-2", "exp-1"]
    assert [dict(r.url.params) for r in script.requests] == [
        {"limit": "2"},
        {"limit": "2", "cursor": "c1"},
    ]


# --------------------------------------------------------------------------- async twin


async def test_async_get_retries_a_503(experiment_payload: Any, sleeps: list[float]) -> None:
    script = Script(unavailable(**{"Retry-After": "1"}), ok(experiment_payload()))
    async with script.async_client() as client:
        assert (await client.experiments.get("exp-abc")).id == "exp-abc"
    assert sleeps == [1.0]


async def test_async_generate_reuses_its_key(run_payload: Any, sleeps: list[float]) -> None:
    script = Script(httpx.ConnectError, unavailable(), ok(run_payload(), 202))
    async with script.async_client() as client:
        await client.runs.start("exp-abc", provider="local")
    assert len({r.headers["Idempotency-Key"] for r in script.requests}) == 1
    assert len(script.requests) == 3
    assert json.loads(script.bodies[0]) == {"provider": "local"}


async def test_async_create_is_not_retried_once_sent(sleeps: list[float]) -> None:
    script = Script(httpx.ReadTimeout)
    async with script.async_client() as client:
        with pytest.raises(pc.APITimeoutError):
            await client.experiments.create(name="n", data_sources=["a.csv"])
    assert len(script.requests) == 1


async def test_async_wait_and_iter(
    run_payload: Any, experiment_payload: Any, sleeps: list[float]
) -> None:
    script = Script(
        not_streamed(),
        ok(run_payload("running")),
        ok(run_payload("cancelled")),
        ok({"items": [experiment_payload("exp-2")], "next_cursor": "c"}),
        ok({"items": [experiment_payload("exp-1")], "next_cursor": None}),
    )
    run = pc.models.Run.model_validate(run_payload("queued"))
    async with script.async_client() as client:
        with pytest.raises(pc.RunCancelledError):
            await client.runs.wait(run, poll_interval=0.5)
        assert [e.id async for e in client.experiments.iter()] == ["exp-2", "exp-1"]
    assert sleeps == [0.5]


async def test_async_upload(tmp_path: Path, experiment_payload: Any) -> None:
    data = tmp_path / "interviews.csv"
    data.write_text("participant,answer\np1,too many steps\n")
    script = Script(ok(experiment_payload()))
    async with script.async_client() as client:
        await client.sources.upload("exp-abc", [data])
    assert b"too many steps" in script.bodies[0]


# --------------------------------------------------------------------------- lifecycle


def test_close_leaves_an_injected_client_open(experiment_payload: Any) -> None:
    http = httpx.Client(transport=httpx.MockTransport(Script(ok(experiment_payload()))))
    with pc.PersonaClient(base_url=BASE, http_client=http):
        pass
    assert not http.is_closed
    http.close()


def test_close_closes_the_client_it_made() -> None:
    client = pc.PersonaClient(base_url=BASE)
    client.close()
    assert client._http.is_closed


async def test_aclose_closes_the_client_it_made() -> None:
    async with pc.AsyncPersonaClient(base_url=BASE) as client:
        pass
    assert client._http.is_closed


def test_nothing_listening_raises_api_connection_error(unused_tcp_port: int) -> None:
    client = pc.PersonaClient(base_url=f"http://127.0.0.1:{unused_tcp_port}", max_retries=0)
    with client, pytest.raises(pc.APIConnectionError, match=f"127.0.0.1:{unused_tcp_port}"):
        client.health()
