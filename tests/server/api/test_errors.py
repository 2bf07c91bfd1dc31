from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from persona.api import create_app
from persona.errors import PersonaError, ProviderError

from .conftest import LOCAL_BODY, ClientFactory, assert_problem, create_local


async def test_every_response_carries_a_generated_request_id(client: httpx.AsyncClient) -> None:
    ok = await client.get("/health")
    missing = await client.get("/experiments/exp-nope")

    assert len(ok.headers["x-request-id"]) == 32
    assert ok.headers["x-request-id"] != missing.headers["x-request-id"]
    assert missing.json()["request_id"] == missing.headers["x-request-id"]


async def test_sane_incoming_request_id_is_echoed_and_insane_one_replaced(
    client: httpx.AsyncClient,
) -> None:
    echoed = await client.get("/health", headers={"X-Request-ID": "trace-42.abc:1"})
    replaced = await client.get("/health", headers={"X-Request-ID": "<script>" + "x" * 200})

    assert echoed.headers["x-request-id"] == "trace-42.abc:1"
    assert replaced.headers["x-request-id"] != "<script>" + "x" * 200
    assert len(replaced.headers["x-request-id"]) == 32


async def test_unknown_route_and_wrong_method_are_problems(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/nowhere"), 404, "not_found")
    collection = await client.put("/experiments")
    item = await client.options("/experiments/exp-x")
    run = await client.delete("/experiments/exp-x/runs/run-y")

    for response in (collection, item, run):
        assert_problem(response, 405, "method_not_allowed")
    # Every method of every route at the path, though each method has its own route.
    assert collection.headers["allow"] == "GET, POST"
    assert item.headers["allow"] == "DELETE, GET"
    assert run.headers["allow"] == "GET"
    undocumented = await client.post("/docs")
    assert_problem(undocumented, 405)
    assert undocumented.headers["allow"] == "GET"


async def test_body_that_is_not_utf8_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/experiments", content=b"\xa7g=", headers={"content-type": "application/json"}
    )

    assert_problem(response, 400, "bad_request")


async def test_json_body_over_limit_is_413_before_reading(make_client: ClientFactory) -> None:
    client = await make_client(max_body_bytes=1000)
    body = {**LOCAL_BODY, "description": "x" * 1500}

    response = await client.post("/experiments", json=body)

    problem = assert_problem(response, 413, "payload_too_large")
    assert "1000 bytes" in problem["detail"]
    assert (await client.get("/experiments")).json()["items"] == []


async def test_streamed_body_over_limit_is_413_without_content_length(
    make_client: ClientFactory,
) -> None:
    client = await make_client(max_body_bytes=1000)
    sent_chunks = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent_chunks
        for _ in range(1000):  # 1 MB offered; the server must stop long before the end
            sent_chunks += 1
            yield b" " * 1024

    response = await client.post(
        "/experiments", content=chunks(), headers={"content-type": "application/json"}
    )

    assert_problem(response, 413, "payload_too_large")
    assert sent_chunks < 1000


async def test_upload_has_its_own_larger_limit(make_client: ClientFactory) -> None:
    client = await make_client(max_body_bytes=1000, max_upload_bytes=5000)
    experiment = await create_local(client)
    url = f"/experiments/{experiment['id']}/sources"
    row = b"P20,I would pay more for next-day delivery to my office.\n"

    small = await client.post(
        url, files=[("files", ("more.csv", b"participant,answer\n" + row * 40))]
    )
    large = await client.post(
        url, files=[("files", ("big.csv", b"participant,answer\n" + row * 200))]
    )

    assert small.status_code == 200, small.text
    assert_problem(large, 413)
    sources = (await client.get(f"/experiments/{experiment['id']}")).json()["data_sources"]
    assert not any(s.endswith("big.csv") for s in sources)


async def test_multipart_to_a_json_route_gets_the_json_limit(make_client: ClientFactory) -> None:
    client = await make_client(max_body_bytes=1000, max_upload_bytes=100_000)

    response = await client.post("/experiments", files=[("files", ("a.csv", b"x" * 5000))])

    assert_problem(response, 413)


@pytest.fixture
async def failing_client(make_client: ClientFactory, settings_for: object) -> httpx.AsyncClient:
    """The real app plus two routes that fail the way a bug or a provider would."""
    app = create_app(settings_for())  # type: ignore[operator]

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals: password=hunter2")

    @app.get("/provider-down")
    async def provider_down() -> None:
        raise ProviderError("upstream said 503", code="provider_unavailable", status=503)

    @app.get("/unmapped")
    async def unmapped() -> None:
        raise PersonaError("an error class no status was chosen for")

    return await make_client(app=app)


async def test_unhandled_error_is_500_without_internals_and_logged_with_request_id(
    failing_client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="persona.api")

    response = await failing_client.get("/boom", headers={"X-Request-ID": "req-500"})

    body = assert_problem(response, 500, "internal_error")
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text
    assert "RuntimeError" not in response.text
    assert "req-500" in body["detail"]
    records = [r for r in caplog.records if r.name == "persona.api"]
    assert any("req-500" in r.getMessage() and r.exc_info for r in records)


async def test_an_unhandled_error_is_answered_and_logged_once_not_raised_to_the_server(
    settings_for: object, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(settings_for())  # type: ignore[operator]

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    # An error raised out of the app is what the server logs (again, without the request id).
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        caplog.set_level(logging.ERROR)
        response = await client.get("/boom", headers={"X-Request-ID": "req-once"})

    assert_problem(response, 500, "internal_error")
    assert response.headers["x-request-id"] == "req-once"
    logged = [r for r in caplog.records if r.exc_info]
    assert len(logged) == 1
    assert "req-once" in logged[0].getMessage()


async def test_provider_error_is_502_with_its_code(failing_client: httpx.AsyncClient) -> None:
    response = await failing_client.get("/provider-down")

    assert_problem(response, 502, "provider_unavailable")


async def test_domain_error_without_a_status_is_a_500(failing_client: httpx.AsyncClient) -> None:
    response = await failing_client.get("/unmapped")

    body = assert_problem(response, 500, "internal_error")
    assert "no status was chosen" not in body["detail"]


async def test_problem_bodies_have_no_null_members(client: httpx.AsyncClient) -> None:
    response = await client.get("/experiments/exp-nope")

    assert None not in json.loads(response.text).values()


NASTY_CURSORS = [
    "=",
    "%%%",
    "\x00",
    "🙂",
    "a" * 512,
    "W10",  # base64 of []
    "WzEsMiwzXQ",  # base64 of [1,2,3]
    "eyJhIjoxfQ",  # base64 of {"a":1}
    "WyJvdGhlciIsIjIwMjUtMDEtMDFUMDA6MDA6MDArMDA6MDAiLCJpZCJd",  # a cursor of an unknown kind
]


@pytest.mark.parametrize("cursor", NASTY_CURSORS)
async def test_nasty_cursors_are_422_never_500(client: httpx.AsyncClient, cursor: str) -> None:
    experiment = await create_local(client)

    for path in (
        "/experiments",
        f"/experiments/{experiment['id']}/runs",
        f"/experiments/{experiment['id']}/personas",
    ):
        response = await client.get(path, params={"cursor": cursor})
        body = assert_problem(response, 422)
        assert body["errors"][0]["loc"] == ["query", "cursor"], path


@pytest.mark.parametrize("resource_id", ["%00", "%F0%9F%99%82", "x" * 2000, "..%2F..", "%20"])
async def test_odd_ids_in_the_path_are_404(client: httpx.AsyncClient, resource_id: str) -> None:
    for path in (
        f"/experiments/{resource_id}",
        f"/experiments/{resource_id}/runs",
        f"/experiments/{resource_id}/runs/{resource_id}",
        f"/personas/{resource_id}",
    ):
        assert_problem(await client.get(path), 404)
