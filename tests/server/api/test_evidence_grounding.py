"""A model that quotes right but cites wrong, against the loopback fake OpenAI-compatible
server, through the real app: quotes come back verified with corrected citations,
approximate with the words the source really has, or not found; and every cited id leads
to its file, row and participant."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.fakes import Content, FakeOpenAIServer

from .conftest import ClientFactory
from .test_runs import wait_finished

ROW_3 = "I want to see the total price with shipping on the product page so I can budget."
ROW_4 = "Coupons never work for me and the discount code field is hidden."
ROW_5 = "I need free shipping thresholds to be obvious because money is tight every month."
INVENTED = "Our chief executive personally phones every customer on Friday evenings."
MISSPELT = "I need free shiping thresholds to be obvious because money is tight every month"


def _reply() -> str:
    persona = {
        "name": "Sam K.",
        "title": "Budget-minded shopper",
        "demographics": {"role": "student"},
        "goals": [{"text": "See the full price early", "evidence_ids": ["E2"]}],
        "pain_points": [{"text": "Coupons fail", "evidence_ids": []}],
        "behaviours": [{"text": "Compares prices", "evidence_ids": ["E99"]}],
        "quotes": [
            {"text": ROW_3, "evidence_ids": ["E1"]},  # the wrong record: row 2
            {"text": ROW_4, "evidence_ids": []},  # no citation at all
            {"text": INVENTED, "evidence_ids": ["E1"]},
            {"text": MISSPELT, "evidence_ids": []},
        ],
        "evidence_ids": ["E1"],
    }
    return json.dumps({"personas": [persona]})


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        server.script(Content(_reply()))
        yield server


async def test_a_miscited_run_is_corrected_and_every_cited_id_leads_to_its_row(
    make_client: ClientFactory, fake: FakeOpenAIServer
) -> None:
    client = await make_client()
    body = {
        "name": "Miscited",
        "data_sources": ["interviews.csv"],
        "config": {"provider": "openai", "persona_count": 1},
    }
    experiment = (await client.post("/experiments", json=body)).json()
    started = await client.post(f"/experiments/{experiment['id']}/generate")
    run = await wait_finished(client, started.headers["location"])
    assert run["status"] == "succeeded", run["error"]
    persona = run["personas"][0]
    evidence_url = f"/experiments/{experiment['id']}/runs/{run['id']}/evidence"
    rows = {e["locator"]: e for e in (await client.get(evidence_url)).json()["items"]}

    exact_miscited, exact_uncited, invented, misspelt = persona["quotes"]
    assert (exact_miscited["verified"], exact_miscited["citation"]) == (True, "corrected")
    assert exact_miscited["evidence_ids"] == [rows["row 3"]["id"]]
    assert (exact_uncited["verified"], exact_uncited["citation"]) == (True, "corrected")
    assert exact_uncited["evidence_ids"] == [rows["row 4"]["id"]]
    assert (invented["verified"], invented["match"]) == (False, "none")
    assert (misspelt["verified"], misspelt["match"]) == (False, "approximate")
    assert misspelt["source_text"].rstrip(".") == ROW_5.rstrip(".")
    assert misspelt["evidence_ids"] == [rows["row 5"]["id"]]
    assert [g["supported"] for g in persona["goals"]] == [True]
    assert [p["supported"] for p in persona["pain_points"]] == [False]
    assert [b["supported"] for b in persona["behaviours"]] == [False]
    assert persona["dropped_evidence_ids"] == 1  # E99 was never in the prompt
    grounding = persona["grounding"]
    assert grounding == run["grounding"]
    assert {key: grounding[key] for key in grounding if key != "score"} == {
        "quotes_verified": 2,
        "quotes_corrected": 2,
        "quotes_approximate": 1,
        "quotes_unverified": 1,
        "insights_supported": 1,
        "insights_unsupported": 2,
    }
    assert grounding["score"] == 0.5

    cited = (await client.get(f"/personas/{persona['id']}/evidence")).json()["items"]
    by_id = {record["id"]: record for record in cited}
    for quote, locator, participant in [
        (exact_miscited, "row 3", "P1"),
        (exact_uncited, "row 4", "P2"),
        (misspelt, "row 5", "P2"),
    ]:
        record = by_id[quote["evidence_ids"][0]]
        assert (record["source"], record["locator"], record["participant"]) == (
            "interviews.csv",
            locator,
            participant,
        )
        (span,) = next(c for c in record["cited_by"] if c["section"] == "quotes")["spans"]
        assert record["text"][span["start"] : span["end"]].rstrip(".") in {
            quote["text"].rstrip("."),
            (quote["source_text"] or "").rstrip("."),
        }
    (request,) = fake.chat_requests
    prompt = json.dumps(request.body["messages"])
    assert '\\"id\\": \\"E1\\"' in prompt and "ev-" not in prompt  # short aliases only
