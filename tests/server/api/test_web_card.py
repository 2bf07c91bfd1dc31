"""The printable persona card: GET /personas/{id} as text/html, its operation, the CLI's."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import markupsafe
import pytest
from persona.cli import app
from typer.testing import CliRunner

from ._web_cases import finished_local_run


@pytest.fixture
async def persona(client: httpx.AsyncClient) -> dict[str, Any]:
    run = await finished_local_run(client)
    return dict(run["personas"][0])


def assert_self_contained_card(html: str, persona: dict[str, Any]) -> None:
    assert html.startswith("<!doctype html>")
    assert persona["name"] in html and persona["title"] in html
    assert "<script" not in html.lower()
    assert not re.search(r"<link[^>]+stylesheet", html)  # the CSS is inline
    assert "<style>" in html and "@media print" in html
    assert '"Segoe UI"' in html and "&#34;" not in html.split("</style>")[0]  # CSS unescaped
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing fetched from elsewhere
    sources = html.index('id="h-sources"')
    assert html.index('id="h-quotes"') < sources  # the card, then its sources
    assert "<mark>" in html[sources:]


async def test_accept_text_html_returns_the_printable_card(
    client: httpx.AsyncClient, persona: dict[str, Any]
) -> None:
    url = f"/personas/{persona['id']}"
    browser_accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

    by_header = await client.get(url, headers={"Accept": browser_accept})
    by_query = await client.get(url, params={"format": "html"})
    operation = await client.get(f"{url}/html")

    for response in (by_header, by_query, operation):
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        policy = response.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "script-src" not in policy
        assert_self_contained_card(response.text, persona)
    assert by_header.headers["vary"] == "Accept"
    assert by_header.text == by_query.text == operation.text
    as_json = await client.get(url, headers={"Accept": "application/json, text/html"})
    assert as_json.json()["id"] == persona["id"]


async def test_the_interface_links_the_same_card(
    client: httpx.AsyncClient, persona: dict[str, Any]
) -> None:
    page = await client.get(f"/ui/personas/{persona['id']}/card")
    api = await client.get(f"/personas/{persona['id']}/html")

    assert page.text == api.text
    assert page.headers["content-security-policy"] == api.headers["content-security-policy"]


async def test_the_card_of_an_unknown_persona_is_a_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/personas/persona-nope/html")

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


def test_generate_writes_a_card_per_persona_and_an_index(
    research_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(research_dir)
    out = tmp_path / "cards"

    result = CliRunner().invoke(
        app, ["generate", "interviews.csv", "-n", "2", "--format", "html", "--out", str(out)]
    )

    assert result.exit_code == 0, result.output
    cards = sorted(p for p in out.iterdir() if p.name != "index.html")
    assert [p.suffix for p in cards] == [".html", ".html"]
    index = (out / "index.html").read_text(encoding="utf-8")
    for card in cards:
        html = card.read_text(encoding="utf-8")
        name = re.search(r'<h1 id="persona-name">(.*?)<', html)
        assert name is not None
        assert f'<a href="{card.name}">{name.group(1)}</a>' in index
        assert "<script" not in html and "<mark>" in html


def test_generate_html_without_a_folder_says_so(
    research_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(research_dir)

    result = CliRunner().invoke(app, ["generate", "interviews.csv", "--format", "html"])

    assert result.exit_code == 1
    assert "--out" in result.stderr


async def test_the_card_shows_the_summary_with_its_grounding_and_evidence(
    client: httpx.AsyncClient, persona: dict[str, Any]
) -> None:
    html = (await client.get(f"/personas/{persona['id']}/html")).text

    assert persona["summary"], "the local provider writes a summary"
    summary = html[html.index('id="h-summary"') : html.index('id="h-goals"')]
    for index, sentence in enumerate(persona["summary"]):
        start = summary.index(f'id="summary-{index}"')
        line = summary[start : summary.index("</li>", start)]
        assert str(markupsafe.escape(sentence["text"])) in line
        assert 'class="badge badge-' in line and 'class="records"' in line
    assert html.index('id="persona-name"') < html.index('id="h-summary"')
    assert "invented name" in html[: html.index('id="h-summary"')]
