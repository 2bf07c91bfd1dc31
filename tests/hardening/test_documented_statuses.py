"""Every status the API answers is one its OpenAPI document lists for that operation.

Schemathesis (test_schema_fuzz.py) sends bodies that parse; a hostile caller also sends
bodies that do not, bodies in another media type, garbage path and query values, and no or
a wrong key. Each of those is fired at every operation of the document, against the real
app, and every answer's status must be one the operation documents: a generated client
(or a reader of the spec) is told of every answer it can get.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from persona.api import create_app
from persona.settings import Settings

HOSTILE_BODIES: dict[str, tuple[bytes, str]] = {
    "malformed JSON": (b'{"name": ', "application/json"),
    "JSON that is not UTF-8": (b'{"name": "\xff\xfe"}', "application/json"),
    "JSON of the wrong shape": (b'[1, "two", null]', "application/json"),
    "an empty JSON body": (b"", "application/json"),
    "plain text": (b"name=x", "text/plain"),
    "a broken multipart message": (
        b'--b\r\nContent-Disposition: form-data; name="files"; filename="a.csv"\r\n\r\nx',
        "multipart/form-data; boundary=b",
    ),
}
GARBAGE = "not-an-id\u00e9%20'\""
WRONG_KEYS: dict[str, dict[str, str]] = {
    "no key": {},
    "a wrong key": {"Authorization": "Bearer wrong-key-0123456789"},
    "a malformed Authorization header": {"Authorization": "Basic Zm9vOmJhcg=="},
}


@pytest.fixture
def app(make_settings: Callable[..., Settings]) -> FastAPI:
    """The real app without its request limits: hundreds of requests come from one address,
    many of them with a wrong key, and a 429 would hide the answer under test."""
    return create_app(
        make_settings(rate_limit_auth_failures=0, rate_limit_requests=0, rate_limit_run_starts=0)
    )


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    spec: dict[str, Any]

    @property
    def documented(self) -> set[str]:
        return set(self.spec["responses"])

    @property
    def takes_body(self) -> bool:
        return "requestBody" in self.spec

    def url(self, value: str = GARBAGE) -> str:
        """The path with every path parameter set to ``value``."""
        path = self.path
        for parameter in self.spec.get("parameters", []):
            if parameter["in"] == "path":
                path = path.replace(
                    "{" + parameter["name"] + "}", httpx.URL(value).raw_path.decode()
                )
        return path

    def query_names(self) -> list[str]:
        return [p["name"] for p in self.spec.get("parameters", []) if p["in"] == "query"]


@dataclass
class Findings:
    sent: int = 0
    undocumented: list[str] = field(default_factory=list)

    def check(self, operation: Operation, what: str, response: httpx.Response) -> None:
        self.sent += 1
        if str(response.status_code) not in operation.documented:
            self.undocumented.append(
                f"{operation.method} {operation.path} with {what} -> {response.status_code} "
                f"(documented: {sorted(operation.documented)}) {response.text[:200]}"
            )


def spec_operations(app: FastAPI) -> Iterator[Operation]:
    for path, path_item in app.openapi()["paths"].items():
        for method, spec in path_item.items():
            yield Operation(method.upper(), path, spec)


async def fire_hostile_bodies(
    api: httpx.AsyncClient, op: Operation, experiment_id: str, found: Findings
) -> None:
    """Each hostile body, to a path that exists as far as it can (so the body is read)."""
    for what, (body, content_type) in HOSTILE_BODIES.items():
        response = await api.request(
            op.method,
            op.url(experiment_id),
            content=body,
            headers={"Content-Type": content_type},
        )
        found.check(op, what, response)


async def fire_garbage_parameters(api: httpx.AsyncClient, op: Operation, found: Findings) -> None:
    response = await api.request(op.method, op.url(), json={} if op.takes_body else None)
    found.check(op, "garbage path parameters", response)
    for name in op.query_names():
        for value in ("-1", "x" * 2000, "\x00"):
            response = await api.request(op.method, op.url(), params={name: value})
            found.check(op, f"query {name}={value[:10]!r}", response)


async def fire_wrong_keys(app: FastAPI, op: Operation, found: Findings) -> None:
    if "security" not in op.spec:
        return  # an open operation (the health check) takes no key to refuse
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    for what, headers in WRONG_KEYS.items():
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", headers=headers
        ) as anonymous:
            response = await anonymous.request(
                op.method, op.url(), json={} if op.takes_body else None
            )
        found.check(op, what, response)


async def test_every_answer_to_a_hostile_request_is_documented(
    app: FastAPI, api: httpx.AsyncClient
) -> None:
    created = await api.post(
        "/experiments", json={"name": "Probed", "data_sources": ["interviews.csv"]}
    )
    assert created.status_code == 201, created.text
    experiment_id = created.json()["id"]
    found = Findings()
    operations = list(spec_operations(app))
    with_body = [op for op in operations if op.takes_body]

    for op in operations:
        if op.takes_body:
            await fire_hostile_bodies(api, op, experiment_id, found)
        await fire_garbage_parameters(api, op, found)
        await fire_wrong_keys(app, op, found)

    assert not found.undocumented, "\n".join(found.undocumented)
    # Nothing vacuous: the document has operations, some with bodies, and each was tried.
    assert len(operations) > 10 and len(with_body) > 5
    assert found.sent > len(operations) + len(with_body) * len(HOSTILE_BODIES)


def test_every_operation_with_a_body_documents_the_bad_body_answers(app: FastAPI) -> None:
    for op in spec_operations(app):
        if not op.takes_body:
            continue
        assert {"400", "413"} <= op.documented, (op.method, op.path)
        if "application/json" in op.spec["requestBody"]["content"]:
            assert "415" in op.documented, (op.method, op.path)
