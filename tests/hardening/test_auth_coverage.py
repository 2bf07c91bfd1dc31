"""Every operation of the published spec refuses a request without a valid bearer token.

The operations are read from the app's own OpenAPI document, so a route added later is
covered without touching this file.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from persona.api import create_app
from persona.settings import Settings

from tests.hardening.conftest import TOKEN, assert_problem

# Reachable without a token by design: liveness probes must not need a secret.
PUBLIC_OPERATIONS = frozenset({"getHealth"})

# What a client without the right secret may send instead of it.
BAD_AUTHORIZATIONS: dict[str, dict[str, str]] = {
    "no header": {},
    "wrong token": {"Authorization": "Bearer not-the-token"},
    "token prefix": {"Authorization": f"Bearer {TOKEN[:-1]}"},
    "token with suffix": {"Authorization": f"Bearer {TOKEN}x"},
    "empty bearer": {"Authorization": "Bearer "},
    "basic scheme": {"Authorization": f"Basic {TOKEN}"},
    "bare token": {"Authorization": TOKEN},
}

# Bodies that would fail validation: auth must be decided before the body is looked at.
BODY_BY_MEDIA_TYPE: dict[str, dict[str, Any]] = {
    "application/json": {"content": b"{not json", "headers": {"Content-Type": "application/json"}},
    "multipart/form-data": {
        "content": b"--x\r\nbroken",
        "headers": {"Content-Type": "multipart/form-data; boundary=x"},
    },
}


@pytest.fixture
def app(make_settings: Callable[..., Settings]) -> FastAPI:
    """The real app, without the lock-out of an address past its failed attempts: every
    operation is tried with a bad token from one address, to see each one's 401."""
    return create_app(make_settings(rate_limit_auth_failures=0))


def protected_operations(app: FastAPI) -> list[tuple[str, str, dict[str, Any]]]:
    """(METHOD, path template, operation) for every operation but the public ones."""
    spec = app.openapi()
    return [
        (method.upper(), path, operation)
        for path, path_item in spec["paths"].items()
        for method, operation in path_item.items()
        if operation["operationId"] not in PUBLIC_OPERATIONS
    ]


def concrete_path(template: str) -> str:
    """The path with every parameter filled in with a plausible id."""
    return re.sub(
        r"\{([^}]+)\}", lambda m: f"{m.group(1).split('_')[0][:3]}-0123456789abcdef", template
    )


def request_body(operation: dict[str, Any]) -> dict[str, Any]:
    media_types = operation.get("requestBody", {}).get("content", {})
    for media_type in media_types:
        return BODY_BY_MEDIA_TYPE[media_type]
    return {}


def test_the_spec_lists_the_operations(app: FastAPI) -> None:
    operations = protected_operations(app)
    assert len(operations) > 10, operations
    # The spec itself says each one needs the token (with a scope) and may answer 401.
    for method, path, operation in operations:
        (requirement,) = operation.get("security", [])
        assert list(requirement) == ["bearerAuth"], (method, path)
        assert requirement["bearerAuth"] in (["read"], ["write"], ["admin"]), (method, path)
        assert "401" in operation["responses"], (method, path)


@pytest.mark.parametrize("case", list(BAD_AUTHORIZATIONS))
async def test_every_operation_refuses_a_request_without_the_token(
    api: httpx.AsyncClient, app: FastAPI, case: str
) -> None:
    failures = []
    for method, template, operation in protected_operations(app):
        body = request_body(operation)
        headers = {**body.get("headers", {}), **BAD_AUTHORIZATIONS[case]}
        request = api.build_request(
            method, concrete_path(template), content=body.get("content"), headers=headers
        )
        # The client's own Authorization header is dropped: this request carries only `case`'s.
        if "Authorization" not in BAD_AUTHORIZATIONS[case]:
            del request.headers["Authorization"]
        response = await api.send(request)
        try:
            problem = assert_problem(response, 401)
            assert problem["code"] == "unauthorized"
            assert response.headers["www-authenticate"].startswith("Bearer")
        except (AssertionError, KeyError) as err:
            failures.append(f"{method} {template}: {err!r}")
    assert not failures, "\n".join(failures)


async def test_health_stays_public(api: httpx.AsyncClient) -> None:
    response = await api.get("/health", headers={"Authorization": "Bearer not-the-token"})
    assert response.status_code == 200
