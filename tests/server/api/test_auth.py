from __future__ import annotations

import logging

import httpx
import pytest
from persona.api.deps import token_matches
from persona.api.spec import openapi_json

from .conftest import LOCAL_BODY, TOKEN, ClientFactory, assert_problem

PUBLIC_PATHS = {"/health"}


def spec_operations() -> list[tuple[str, str]]:
    """Every (method, path) of the spec, with placeholder ids: a new route cannot slip by."""
    import json

    spec = json.loads(openapi_json())
    return [
        (method.upper(), path.replace("{", "x-").replace("}", ""))
        for path, item in spec["paths"].items()
        for method in item
        if path not in PUBLIC_PATHS
    ]


@pytest.fixture
async def secured(make_client: ClientFactory) -> httpx.AsyncClient:
    return await make_client(api_token=f"old-token, {TOKEN}")


@pytest.mark.parametrize(("method", "path"), spec_operations())
async def test_every_operation_needs_a_token(
    secured: httpx.AsyncClient, method: str, path: str
) -> None:
    missing = await secured.request(method, path)
    wrong = await secured.request(method, path, headers={"Authorization": "Bearer wrong"})
    basic = await secured.request(method, path, headers={"Authorization": "Basic dXNlcjpwYXNz"})

    for response in (missing, wrong, basic):
        body = assert_problem(response, 401, "unauthorized")
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert "wrong" not in body.get("detail", "")
    assert wrong.headers["www-authenticate"] == 'Bearer error="invalid_token"'


async def test_any_rotated_token_is_accepted(secured: httpx.AsyncClient) -> None:
    for token in ("old-token", TOKEN):
        response = await secured.get("/experiments", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, token


async def test_token_is_never_logged_or_echoed(
    secured: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    headers = {"Authorization": f"Bearer {TOKEN}"}

    created = await secured.post("/experiments", json=LOCAL_BODY, headers=headers)
    rejected = await secured.post(
        "/experiments", json=LOCAL_BODY, headers={"Authorization": "Bearer nearly-" + TOKEN}
    )

    assert created.status_code == 201
    assert rejected.status_code == 401
    for response in (created, rejected):
        assert TOKEN not in response.text
        assert TOKEN not in str(response.headers)
    assert TOKEN not in caplog.text


async def test_docs_and_spec_need_no_token(secured: httpx.AsyncClient) -> None:
    docs_assets = ("/docs-static/swagger-ui.css", "/docs-redoc/redoc.standalone.js")
    for path in ("/health", "/docs", "/redoc", "/openapi.json", *docs_assets):
        assert (await secured.get(path)).status_code == 200, path


async def test_auth_off_when_no_token_configured(client: httpx.AsyncClient) -> None:
    response = await client.get("/experiments", headers={"Authorization": "Bearer anything"})

    assert response.status_code == 200


def test_token_matching_is_exact() -> None:
    accepted = (b"alpha", b"beta")

    assert token_matches("alpha", accepted)
    assert token_matches("beta", accepted)
    assert not token_matches("alph", accepted)
    assert not token_matches("alphaa", accepted)
    assert not token_matches("", accepted)
    assert not token_matches("gämma", accepted)
