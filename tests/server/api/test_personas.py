from __future__ import annotations

from typing import Any

import httpx
import pytest
from persona.api.routes.personas import prefers_markdown

from .conftest import assert_problem, create_local
from .test_runs import wait_finished


@pytest.fixture
async def finished_run(client: httpx.AsyncClient) -> dict[str, Any]:
    experiment = await create_local(client)
    started = await client.post(f"/experiments/{experiment['id']}/generate")
    run = await wait_finished(client, started.headers["location"])
    assert run["status"] == "succeeded", run["error"]
    return run


async def test_get_persona_as_json(client: httpx.AsyncClient, finished_run: dict[str, Any]) -> None:
    embedded = finished_run["personas"][0]

    response = await client.get(f"/personas/{embedded['id']}")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["vary"] == "Accept"
    assert response.json() == embedded


async def test_get_persona_as_markdown_by_accept_header_or_query(
    client: httpx.AsyncClient, finished_run: dict[str, Any]
) -> None:
    persona = finished_run["personas"][0]
    url = f"/personas/{persona['id']}"

    by_header = await client.get(url, headers={"Accept": "text/markdown"})
    by_query = await client.get(url, params={"format": "markdown"})

    for response in (by_header, by_query):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/markdown")
        assert response.headers["vary"] == "Accept"
        assert persona["name"] in response.text
        assert persona["quotes"][0]["text"] in response.text
    assert by_header.text == by_query.text
    as_json = await client.get(url, params={"format": "json"}, headers={"Accept": "text/markdown"})
    assert as_json.json()["id"] == persona["id"]


async def test_markdown_operation_returns_what_accept_negotiation_returns(
    client: httpx.AsyncClient, finished_run: dict[str, Any]
) -> None:
    url = f"/personas/{finished_run['personas'][0]['id']}"

    markdown = await client.get(f"{url}/markdown", headers={"Accept": "application/json"})
    negotiated = await client.get(url, headers={"Accept": "text/markdown"})

    assert markdown.status_code == 200
    assert markdown.headers["content-type"] == "text/markdown; charset=utf-8"
    assert "vary" not in markdown.headers
    assert markdown.text == negotiated.text


async def test_unknown_persona_is_404_even_as_markdown(client: httpx.AsyncClient) -> None:
    response = await client.get("/personas/persona-nope", headers={"Accept": "text/markdown"})
    operation = await client.get("/personas/persona-nope/markdown")

    assert_problem(response, 404)
    assert_problem(operation, 404)


async def test_bad_format_is_422(client: httpx.AsyncClient) -> None:
    response = await client.get("/personas/persona-nope", params={"format": "pdf"})

    assert assert_problem(response, 422)["errors"][0]["loc"] == ["query", "format"]


async def test_list_experiment_personas_pages(
    client: httpx.AsyncClient, finished_run: dict[str, Any]
) -> None:
    url = f"/experiments/{finished_run['experiment_id']}/personas"

    first = (await client.get(url, params={"limit": 2})).json()
    second = (await client.get(url, params={"limit": 2, "cursor": first["next_cursor"]})).json()

    ids = [p["id"] for p in first["items"] + second["items"]]
    assert sorted(ids) == sorted(finished_run["persona_ids"])
    assert second["next_cursor"] is None


async def test_personas_of_unknown_experiment_is_404(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/experiments/exp-nope/personas"), 404)


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, False),
        ("", False),
        ("application/json", False),
        ("text/markdown", True),
        ("text/*", True),
        ("*/*", False),
        ("text/markdown, application/json", False),
        ("text/markdown;q=1.0, application/json;q=0.5", True),
        ("application/json;q=0.2, text/markdown;q=0.9", True),
        ("text/markdown;q=0, */*", False),
        ("text/markdown;q=abc", False),
        ("text/html", False),
    ],
)
def test_accept_negotiation(accept: str | None, expected: bool) -> None:
    assert prefers_markdown(accept) is expected
