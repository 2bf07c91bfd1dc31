"""The privacy preview through the real app (POST /experiments/{id}/privacy-preview) and the
``persona generate --privacy-preview`` command."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from persona.api import create_app
from persona.cli import app as cli
from persona.settings import Settings
from typer.testing import CliRunner

from tests.server.privacy._planted import PLANTED, SOURCES, write_sources


@pytest.fixture
async def client(
    research_dir: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    for key in ("PERSONA_API_TOKEN", "PERSONA_DATABASE_URL", "OPENAI_BASE_URL"):
        monkeypatch.delenv(key, raising=False)
    write_sources(research_dir)
    settings = Settings(_env_file=None, data_dir=research_dir, database_url=database_url)  # type: ignore[call-arg]
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def _experiment(client: httpx.AsyncClient) -> str:
    body = {
        "name": "Sign-in study",
        "data_sources": SOURCES,
        "config": {"provider": "local", "privacy": {"names": ["Northwind Traders"]}},
    }
    response = await client.post("/experiments", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_the_preview_shows_what_a_cloud_provider_would_receive(
    client: httpx.AsyncClient,
) -> None:
    experiment_id = await _experiment(client)
    url = f"/experiments/{experiment_id}/privacy-preview"

    response = await client.post(url, json={"provider": "anthropic", "limit": 20})

    assert response.status_code == 200, response.text
    preview = response.json()
    assert preview["provider"] == "anthropic" and preview["report"]["pseudonymized"]
    assert "on by default" in preview["report"]["reason"]
    assert len(preview["records"]) == 6
    sent = [json.loads(r["sent"]) for r in preview["records"]]
    assert [s["id"] for s in sent] == [f"E{n}" for n in range(1, 7)]
    assert sent[0]["text"] == (
        "Email me at [email 1] and I will send the export; Person 1 pays for the seats."
    )
    shown = json.dumps(preview)
    for values in PLANTED.values():
        for value in values:
            assert value not in shown

    one = preview["records"][3]["id"]
    again = (await client.post(url, json={"provider": "anthropic", "evidence_id": one})).json()
    (shown_alone,) = [json.loads(r["sent"]) for r in again["records"]]
    assert shown_alone == {**sent[3], "id": "E1"}  # the same pseudonyms, a request of its own


async def test_off_for_the_local_provider_shows_the_records_as_they_are(
    client: httpx.AsyncClient,
) -> None:
    experiment_id = await _experiment(client)

    preview = (await client.post(f"/experiments/{experiment_id}/privacy-preview", json={})).json()

    assert not preview["report"]["pseudonymized"] and len(preview["records"]) == 3
    assert "dana.whitfield@northwind.example.com" in preview["records"][0]["sent"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"evidence_id": "ev-0000000000000000"}, 422),
        ({"limit": 0}, 422),
        ({"limit": 21}, 422),
        ({"provider": "skynet"}, 422),
        ({"surprise": True}, 422),
        (None, 422),  # no body: {} asks for the defaults
    ],
)
async def test_bad_requests_name_what_was_wrong(
    client: httpx.AsyncClient, body: dict[str, object] | None, status: int
) -> None:
    experiment_id = await _experiment(client)

    response = await client.post(f"/experiments/{experiment_id}/privacy-preview", json=body)

    assert response.status_code == status
    assert response.json()["errors"] or response.json()["detail"]


async def test_a_whole_number_written_as_a_float_is_a_limit(client: httpx.AsyncClient) -> None:
    experiment_id = await _experiment(client)

    response = await client.post(
        f"/experiments/{experiment_id}/privacy-preview", json={"limit": 2.0}
    )

    assert response.status_code == 200 and len(response.json()["records"]) == 2


async def test_an_unknown_experiment_is_404(client: httpx.AsyncClient) -> None:
    response = await client.post("/experiments/exp-nope/privacy-preview", json={})
    assert response.status_code == 404


def test_generate_privacy_preview_prints_it(
    research_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_sources(research_dir)
    monkeypatch.chdir(research_dir)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "not-used")

    result = CliRunner().invoke(
        cli, ["generate", *SOURCES, "--provider", "anthropic", "--privacy-preview"]
    )

    assert result.exit_code == 0, result.output
    preview = json.loads(result.stdout)
    assert preview["report"]["pseudonymized"]
    assert "[phone 1]" in preview["records"][1]["sent"]
    assert "+44 20 7946 0958" not in result.stdout
