"""Edges of HTTP handled by the app: malformed and mistyped bodies, an unreachable database,
CORS, request logs and tokens in the wrong place."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from persona.api import create_app
from persona.settings import Settings
from sqlalchemy.engine import URL, make_url

from .conftest import LOCAL_BODY, TOKEN, ClientFactory, assert_problem, create_local

ORIGIN = "https://app.example.com"


async def test_malformed_json_is_400_naming_line_and_column(client: httpx.AsyncClient) -> None:
    body = b'{\n  "name": "x",\n  "data_sources": ["a.csv"]\n  "config": {}\n}'

    response = await client.post(
        "/experiments", content=body, headers={"content-type": "application/json"}
    )

    problem = assert_problem(response, 400, "malformed_json")
    assert "line 4, column 3" in problem["detail"]
    assert "delimiter" in problem["detail"]


async def test_truncated_json_is_400_at_its_end(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/experiments", content=b'{"name": "x", ', headers={"content-type": "application/json"}
    )

    problem = assert_problem(response, 400, "malformed_json")
    assert "line 1, column 15" in problem["detail"]


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml", None]
)
async def test_a_json_route_refuses_other_media_types_with_415(
    client: httpx.AsyncClient, content_type: str | None
) -> None:
    headers = {"content-type": content_type} if content_type else {}

    response = await client.post("/experiments", content=b'{"name": "x"}', headers=headers)

    problem = assert_problem(response, 415, "unsupported_media_type")
    assert "application/json" in problem["detail"]
    assert (await client.get("/experiments")).json()["items"] == []


async def test_json_with_a_charset_or_a_json_suffix_is_accepted(client: httpx.AsyncClient) -> None:
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        response = await client.post(
            "/experiments",
            content=httpx.Request("POST", "/", json=LOCAL_BODY).content,
            headers={"content-type": content_type},
        )
        assert response.status_code == 201, (content_type, response.text)


async def test_generate_without_a_body_needs_no_content_type(client: httpx.AsyncClient) -> None:
    experiment = await create_local(client)

    response = await client.post(f"/experiments/{experiment['id']}/generate")

    assert response.status_code == 202, response.text


def break_the_database(app: object, data_dir: Path) -> None:
    """Make the database impossible to reach, as a lost volume or a downed server would: the
    app's pooled connections closed, then the SQLite file replaced by a directory, or the
    PostgreSQL database refusing connections (allowed again by ``database_restored``)."""
    database = app.state.service._started.database  # type: ignore[attr-defined]
    database.dispose()
    url = make_url(app.state.settings.effective_database_url)  # type: ignore[attr-defined]
    if url.get_backend_name() == "sqlite":
        path = Path(str(url.database))
        for stale in path.parent.glob(f"{path.name}*"):
            stale.unlink()
        path.mkdir()
        return
    _allow_connections(url, allowed=False)


def _allow_connections(url: URL, *, allowed: bool) -> None:
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    name = url.database
    try:
        with admin.connect() as connection:
            connection.execute(
                sa.text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS {str(allowed).lower()}')
            )
            if not allowed:
                connection.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": name},
                )
    finally:
        admin.dispose()


def restore_the_database(app: object) -> None:
    """A PostgreSQL database ``break_the_database`` made unreachable accepts connections again."""
    url = make_url(app.state.settings.effective_database_url)  # type: ignore[attr-defined]
    if url.get_backend_name() == "postgresql":
        _allow_connections(url, allowed=True)


@pytest.fixture(autouse=True)
def database_restored(database_url: str) -> Iterator[None]:
    """A PostgreSQL database a test made unreachable accepts connections again after it."""
    yield
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        _allow_connections(url, allowed=True)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/experiments"),
        ("POST", "/experiments"),
        ("GET", "/experiments/{id}"),
        ("DELETE", "/experiments/{id}"),
        ("POST", "/experiments/{id}/generate"),
        ("GET", "/experiments/{id}/runs"),
        ("GET", "/experiments/{id}/personas"),
        ("GET", "/personas/persona-0123"),
    ],
)
async def test_an_unreachable_database_is_503_on_every_route_and_logged_once(
    settings_for: object,
    data_dir: Path,
    method: str,
    path: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = create_app(settings_for())  # type: ignore[operator]
    async with app.router.lifespan_context(app):
        # Errors the app leaves unhandled are raised to the server, which logs them again.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            experiment = await create_local(client)
            await app.state.service._started.writes.drain()  # its audit entry, written
            break_the_database(app, data_dir)
            caplog.clear()

            response = await client.request(
                method,
                path.format(id=experiment["id"]),
                json=LOCAL_BODY if path == "/experiments" and method == "POST" else None,
            )

            problem = assert_problem(response, 503, "database_unavailable")
            assert response.headers["retry-after"].isdigit()
            assert "sqlite" not in problem["detail"].lower()
            assert "psycopg" not in problem["detail"].lower()
            # Once per component that lost it (the engine, and on PostgreSQL the run-event
            # listener), with no traceback: not once per request.
            logged = [r for r in caplog.records if r.levelno >= logging.WARNING]
            components = [r.getMessage().split(":")[0] for r in logged]
            assert sorted(components) in (["database"], ["database", "run-event listener"])
            assert all("the database is unreachable" in r.getMessage() for r in logged)
            assert all(r.exc_info is None for r in logged)


async def test_health_says_503_when_the_database_file_is_gone(
    client: httpx.AsyncClient, data_dir: Path
) -> None:
    break_the_database(client.app, data_dir)  # type: ignore[attr-defined]

    response = await client.get("/health")

    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"


def test_cors_origins_are_read_comma_separated_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PERSONA_CORS_ORIGINS", f"{ORIGIN}, http://localhost:5173,")

    settings = Settings(_env_file=None)  # type: ignore[call-arg]

    assert settings.cors_origins == [ORIGIN, "http://localhost:5173"]


def preflight(origin: str, method: str = "POST") -> dict[str, str]:
    return {
        "origin": origin,
        "access-control-request-method": method,
        "access-control-request-headers": "authorization, content-type",
    }


async def test_preflight_from_an_allowed_origin_is_204_with_cors_headers(
    make_client: ClientFactory,
) -> None:
    client = await make_client(cors_origins=[ORIGIN], api_token=TOKEN)

    response = await client.options("/experiments", headers=preflight(ORIGIN))

    assert response.status_code == 204
    assert response.content == b""
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed
    assert int(response.headers["access-control-max-age"]) > 0


async def test_a_request_from_an_allowed_origin_can_read_the_request_id(
    make_client: ClientFactory,
) -> None:
    client = await make_client(cors_origins=[ORIGIN])
    await create_local(client)

    for path in ("/experiments", "/nowhere"):
        response = await client.get(path, headers={"origin": ORIGIN})
        assert response.headers["access-control-allow-origin"] == ORIGIN
        assert "x-request-id" in response.headers["access-control-expose-headers"].lower()


async def test_other_origins_get_no_cors_headers(make_client: ClientFactory) -> None:
    client = await make_client(cors_origins=[ORIGIN])
    evil = "https://evil.example.net"

    refused = await client.options("/experiments", headers=preflight(evil))
    plain = await client.get("/experiments", headers={"origin": evil})

    assert_problem(refused, 403, "cors_refused")
    for response in (refused, plain):
        assert not [h for h in response.headers if h.lower().startswith("access-control-")]


async def test_without_cors_origins_no_origin_is_allowed(client: httpx.AsyncClient) -> None:
    preflighted = await client.options("/experiments", headers=preflight(ORIGIN))
    plain = await client.get("/experiments", headers={"origin": ORIGIN})

    assert_problem(preflighted, 405)
    for response in (preflighted, plain):
        assert "access-control-allow-origin" not in response.headers


async def test_a_token_in_the_query_string_is_refused_saying_so(
    make_client: ClientFactory,
) -> None:
    client = await make_client(api_token=TOKEN)

    in_query = await client.get("/experiments", params={"token": TOKEN})
    missing = await client.get("/experiments")

    problem = assert_problem(in_query, 401, "unauthorized")
    assert "?token=" in problem["detail"] and "Authorization: Bearer" in problem["detail"]
    assert TOKEN not in in_query.text
    assert "query" not in assert_problem(missing, 401)["detail"]


async def test_request_lines_carry_the_request_id_and_never_a_token(
    make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    client = await make_client(api_token=TOKEN, token=TOKEN)
    caplog.set_level(logging.INFO, logger="persona.access")

    response = await client.get(
        "/experiments",
        params={"token": "leaked-secret", "limit": 5},
        headers={"x-request-id": "r-42"},
    )

    assert response.status_code == 200
    lines = [r.getMessage() for r in caplog.records if r.name == "persona.access"]
    assert len(lines) == 1
    assert "GET /experiments?token=%2A%2A%2A&limit=5" in lines[0]
    assert " 200 " in lines[0] and "request_id=r-42" in lines[0]
    assert "leaked-secret" not in caplog.text and TOKEN not in caplog.text


async def test_a_failing_request_is_logged_as_500(
    make_client: ClientFactory, caplog: pytest.LogCaptureFixture, settings_for: object
) -> None:
    app = create_app(settings_for())  # type: ignore[operator]

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    client = await make_client(app=app)
    caplog.set_level(logging.INFO, logger="persona.access")

    response = await client.get("/boom")

    lines = [r.getMessage() for r in caplog.records if r.name == "persona.access"]
    assert lines and " 500 " in lines[0]
    assert f"request_id={response.headers['x-request-id']}" in lines[0]
