"""Oversized and malformed request bodies: a 4xx problem naming what is wrong, nothing stored.

Bodies over the limit are refused without being read: a declared Content-Length over it is
answered before any byte is read, and a streamed body is cut off once the limit is passed
(the tests count the chunks the server pulled from the client).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from persona.api import create_app

from tests.hardening.conftest import assert_problem

JSON_LIMIT = 2 * 1024 * 1024
UPLOAD_LIMIT = 4 * 1024 * 1024
CHUNK = 64 * 1024
JSON_HEADERS = {"Content-Type": "application/json"}
VALID_BODY: dict[str, Any] = {"name": "Bodies", "data_sources": ["interviews.csv"]}


@pytest.fixture
def app(make_settings: Any) -> FastAPI:
    """The app with small body limits, so 10x the limit stays cheap."""
    return create_app(make_settings(max_body_bytes=JSON_LIMIT, max_upload_bytes=UPLOAD_LIMIT))


class CountingBody:
    """A streamed request body of ``total`` bytes that counts the chunks the server pulled."""

    def __init__(self, total: int, *, prefix: bytes = b"") -> None:
        self.total = total
        self.prefix = prefix
        self.pulled = 0

    @property
    def chunks(self) -> int:
        return -(-self.total // CHUNK)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        sent = 0
        while sent < self.total:
            self.pulled += 1
            chunk = (self.prefix if sent == 0 else b"") + b"x" * CHUNK
            chunk = chunk[: self.total - sent]
            sent += len(chunk)
            yield chunk


async def stored_experiments(api: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await api.get("/experiments")
    assert response.status_code == 200
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def experiment_files(data_dir: Path) -> list[Path]:
    folder = data_dir / ".persona" / "experiments"
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


# --------------------------------------------------------------------------- size limits


async def test_a_streamed_json_body_over_the_limit_is_cut_off(api: httpx.AsyncClient) -> None:
    body = CountingBody(10 * JSON_LIMIT, prefix=b'{"name": "')
    response = await api.post("/experiments", content=body, headers=JSON_HEADERS)

    assert "content-length" not in response.request.headers
    problem = assert_problem(response, 413)
    assert problem["code"] == "payload_too_large"
    assert str(JSON_LIMIT) in problem["detail"]
    # The server stopped pulling just past the limit, not at the end of the body.
    assert body.pulled <= JSON_LIMIT // CHUNK + 2 < body.chunks
    assert await stored_experiments(api) == []


async def test_a_declared_length_over_the_limit_is_refused_before_reading(
    api: httpx.AsyncClient,
) -> None:
    body = CountingBody(JSON_LIMIT + 1)
    headers = {**JSON_HEADERS, "Content-Length": str(JSON_LIMIT + 1)}
    response = await api.post("/experiments", content=body, headers=headers)

    assert_problem(response, 413)
    assert body.pulled == 0


async def test_a_streamed_upload_over_the_upload_limit_is_cut_off(
    api: httpx.AsyncClient, data_dir: Path
) -> None:
    created = await api.post("/experiments", json=VALID_BODY)
    assert created.status_code == 201
    experiment = created.json()
    head = (
        b"--bound\r\n"
        b'Content-Disposition: form-data; name="files"; filename="big.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\nid,text\r\n"
    )
    body = CountingBody(10 * UPLOAD_LIMIT, prefix=head)
    response = await api.post(
        f"/experiments/{experiment['id']}/sources",
        content=body,
        headers={"Content-Type": "multipart/form-data; boundary=bound"},
    )

    assert_problem(response, 413)
    assert body.pulled <= UPLOAD_LIMIT // CHUNK + 2 < body.chunks
    # Nothing half-written is left behind, and the experiment is as it was.
    assert experiment_files(data_dir) == []
    after = await api.get(f"/experiments/{experiment['id']}")
    assert after.json()["data_sources"] == experiment["data_sources"]


async def test_a_declared_upload_length_over_the_limit_is_refused_before_reading(
    api: httpx.AsyncClient,
) -> None:
    created = await api.post("/experiments", json=VALID_BODY)
    body = CountingBody(UPLOAD_LIMIT + 1)
    response = await api.post(
        f"/experiments/{created.json()['id']}/sources",
        content=body,
        headers={
            "Content-Type": "multipart/form-data; boundary=bound",
            "Content-Length": str(UPLOAD_LIMIT + 1),
        },
    )
    assert_problem(response, 413)
    assert body.pulled == 0


async def test_the_json_limit_applies_to_a_json_body_sent_to_the_upload_path(
    api: httpx.AsyncClient,
) -> None:
    """Only multipart bodies get the larger upload limit."""
    created = await api.post("/experiments", json=VALID_BODY)
    body = CountingBody(UPLOAD_LIMIT - 1)
    response = await api.post(
        f"/experiments/{created.json()['id']}/sources",
        content=body,
        headers={**JSON_HEADERS, "Content-Length": str(UPLOAD_LIMIT - 1)},
    )
    assert_problem(response, 413)
    assert body.pulled == 0


# --------------------------------------------------------------------------- malformed bodies


def nested(depth: int) -> bytes:
    return b'{"name": "x", "data_sources": ' + b"[" * depth + b"]" * depth + b"}"


UNPARSEABLE: dict[str, bytes] = {
    "truncated JSON": b'{"name": "x", "data_sources": ["interviews.csv"',
    "trailing garbage": b'{"name": "x", "data_sources": ["interviews.csv"]} x',
    "single quotes": b"{'name': 'x'}",
    "not UTF-8": b'{"name": "\xff\xfe", "data_sources": ["interviews.csv"]}',
    "deeply nested arrays": nested(50_000),
    "deeply nested objects": b'{"name": "x", "config": '
    + b'{"a": ' * 20_000
    + b"1"
    + b"}" * 20_001,
    "integer of 5000 digits": b'{"name": "x", "config": {"seed": ' + b"9" * 5000 + b"}}",
}


@pytest.mark.parametrize("case", list(UNPARSEABLE))
async def test_an_unparseable_body_is_a_client_error(api: httpx.AsyncClient, case: str) -> None:
    response = await api.post("/experiments", content=UNPARSEABLE[case], headers=JSON_HEADERS)

    assert response.status_code in (400, 422), response.text
    problem = assert_problem(response, response.status_code)
    if response.status_code == 422:
        assert problem["errors"][0]["loc"][0] == "body"
    assert await stored_experiments(api) == []


# body changes -> where the error must point
INVALID: dict[str, tuple[dict[str, Any], list[str | int]]] = {
    "name is a number": ({"name": 123}, ["body", "name"]),
    "name is null": ({"name": None}, ["body", "name"]),
    "name missing": ({"name": ...}, ["body", "name"]),
    "sources is a string": ({"data_sources": "interviews.csv"}, ["body", "data_sources"]),
    "sources empty": ({"data_sources": []}, ["body", "data_sources"]),
    "101 sources": ({"data_sources": ["interviews.csv"] * 101}, ["body", "data_sources"]),
    "config is a list": ({"config": [1]}, ["body", "config"]),
    "count as string": ({"config": {"persona_count": "3"}}, ["body", "config", "persona_count"]),
    "count as bool": ({"config": {"persona_count": True}}, ["body", "config", "persona_count"]),
    "count fractional": ({"config": {"persona_count": 2.5}}, ["body", "config", "persona_count"]),
    "count too big": ({"config": {"persona_count": 21}}, ["body", "config", "persona_count"]),
    "seed negative": ({"config": {"seed": -1}}, ["body", "config", "seed"]),
    "seed above 2**53": ({"config": {"seed": 2**60}}, ["body", "config", "seed"]),
    "temperature as string": (
        {"config": {"temperature": "hot"}},
        ["body", "config", "temperature"],
    ),
    "unknown provider": ({"config": {"provider": "skynet"}}, ["body", "config", "provider"]),
    "unknown field": ({"owner": "me"}, ["body", "owner"]),
    "unknown config field": ({"config": {"top_k": 3}}, ["body", "config", "top_k"]),
    "unknown inline field": (
        {"data_sources": [{"name": "a.md", "content": "x", "mode": "w"}]},
        ["body", "data_sources", 0],
    ),
    "name of 1 MB": ({"name": "n" * 1_000_000}, ["body", "name"]),
    "description of 1 MB": ({"description": "d" * 1_000_000}, ["body", "description"]),
    "source path of 1 MB": ({"data_sources": ["p" * 1_000_000]}, ["body", "data_sources", 0]),
}


@pytest.mark.parametrize("case", list(INVALID))
async def test_an_invalid_body_names_the_offending_field(api: httpx.AsyncClient, case: str) -> None:
    changes, location = INVALID[case]
    body = {k: v for k, v in {**VALID_BODY, **changes}.items() if v is not ...}
    response = await api.post("/experiments", json=body)

    problem = assert_problem(response, 422)
    assert problem["code"] == "validation_error"
    locations = [error["loc"] for error in problem["errors"]]
    assert any(loc[: len(location)] == location for loc in locations), locations
    # The error describes the input; it does not echo a huge one back.
    assert len(response.content) < 10_000
    assert await stored_experiments(api) == []


NOT_JSON_OBJECTS = {"empty body": b"", "array": b"[]", "null": b"null", "string": b'"x"'}


@pytest.mark.parametrize("case", list(NOT_JSON_OBJECTS))
async def test_a_body_that_is_not_an_object_is_refused(api: httpx.AsyncClient, case: str) -> None:
    response = await api.post("/experiments", content=NOT_JSON_OBJECTS[case], headers=JSON_HEADERS)
    problem = assert_problem(response, 422)
    assert problem["errors"][0]["loc"] == ["body"]


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None],
)
async def test_a_json_body_under_the_wrong_content_type_is_refused(
    api: httpx.AsyncClient, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = await api.post("/experiments", content=json.dumps(VALID_BODY), headers=headers)
    assert 400 <= response.status_code < 500, response.text
    assert_problem(response, response.status_code)
    assert await stored_experiments(api) == []


async def test_a_malformed_multipart_upload_is_a_client_error(
    api: httpx.AsyncClient, data_dir: Path
) -> None:
    created = await api.post("/experiments", json=VALID_BODY)
    experiment_id = created.json()["id"]
    for content, content_type in [
        (b"--b\r\nbroken", "multipart/form-data; boundary=b"),
        (b"no boundary at all", "multipart/form-data"),
        (json.dumps({"files": ["a.csv"]}).encode(), "application/json"),
    ]:
        response = await api.post(
            f"/experiments/{experiment_id}/sources",
            content=content,
            headers={"Content-Type": content_type},
        )
        assert response.status_code in (400, 422), (content_type, response.text)
        assert_problem(response, response.status_code)
    assert experiment_files(data_dir) == []


async def test_integral_floats_are_integers_and_nothing_else_is(api: httpx.AsyncClient) -> None:
    """JSON Schema counts 7.0 as an integer; strings and booleans are not."""
    body = {**VALID_BODY, "config": {"provider": "local", "persona_count": 7.0, "seed": 3.0}}
    response = await api.post("/experiments", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["config"]["persona_count"] == 7
    assert response.json()["config"]["seed"] == 3

    run = await api.post(f"/experiments/{response.json()['id']}/generate", json={"seed": "3"})
    problem = assert_problem(run, 422)
    assert problem["errors"][0]["loc"] == ["body", "seed"]
