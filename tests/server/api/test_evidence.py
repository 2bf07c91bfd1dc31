"""Evidence you can follow: a run's evidence snapshot, a persona's cited records, filters."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import ClientFactory, assert_problem, create_local
from .test_runs import wait_finished

EDGE_PUNCTUATION = " \"'.,;:!?-()[]"
"""What a quote's span leaves out at its edges (a quote matches without them)."""


async def _generate(client: httpx.AsyncClient, experiment_id: str) -> dict[str, Any]:
    started = await client.post(f"/experiments/{experiment_id}/generate")
    run = await wait_finished(client, started.headers["location"])
    assert run["status"] == "succeeded", run["error"]
    return run


@pytest.fixture
async def finished(client: httpx.AsyncClient) -> dict[str, Any]:
    experiment = await create_local(client)
    return await _generate(client, experiment["id"])


def _rows(data_dir: Path) -> list[dict[str, str]]:
    with (data_dir / "interviews.csv").open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


async def _all_evidence(client: httpx.AsyncClient, url: str, **params: Any) -> list[dict]:
    items: list[dict] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await client.get(url, params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def test_a_run_lists_every_record_it_read_in_source_order_with_locator_and_participant(
    client: httpx.AsyncClient, finished: dict[str, Any], data_dir: Path
) -> None:
    url = f"/experiments/{finished['experiment_id']}/runs/{finished['id']}/evidence"

    items = await _all_evidence(client, url, limit=3)

    rows = _rows(data_dir)
    assert len(items) == len(rows)
    for number, (item, row) in enumerate(zip(items, rows, strict=True), start=2):
        assert item["source"] == "interviews.csv"
        assert item["locator"] == f"row {number}"
        assert item["participant"] == row["participant"]
        assert item["text"] == row["answer"]
        assert item["attributes"]["role"] == row["role"]
        assert item["id"].startswith("ev-")


async def test_run_evidence_filters_by_ids_participant_source_and_text(
    client: httpx.AsyncClient, finished: dict[str, Any]
) -> None:
    url = f"/experiments/{finished['experiment_id']}/runs/{finished['id']}/evidence"
    everything = await _all_evidence(client, url, limit=200)
    first, second, third = everything[0]["id"], everything[1]["id"], everything[4]["id"]

    by_ids = await client.get(url, params=[("ids", f"{first},{third}"), ("ids", second)])
    by_participant = await client.get(url, params={"participant": "P2"})
    by_text = await client.get(url, params={"q": "SHIPPING"})
    by_source = await client.get(url, params={"source": "elsewhere.csv"})
    combined = await client.get(url, params={"participant": "P1", "q": "shipping"})

    assert [e["id"] for e in by_ids.json()["items"]] == [first, second, third]
    assert {e["participant"] for e in by_participant.json()["items"]} == {"P2"}
    assert by_participant.json()["items"]
    assert all("shipping" in e["text"].lower() for e in by_text.json()["items"])
    expected = [e["id"] for e in everything if "shipping" in e["text"].lower()]
    assert [e["id"] for e in by_text.json()["items"]] == expected
    assert by_source.json() == {"items": [], "next_cursor": None}
    assert all(
        e["participant"] == "P1" and "shipping" in e["text"].lower()
        for e in combined.json()["items"]
    )


async def test_a_text_filter_is_a_substring_not_a_pattern(
    client: httpx.AsyncClient, finished: dict[str, Any]
) -> None:
    url = f"/experiments/{finished['experiment_id']}/runs/{finished['id']}/evidence"

    response = await client.get(url, params={"q": "%"})

    assert response.status_code == 200
    assert all("%" in e["text"] for e in response.json()["items"])


async def test_run_evidence_of_an_unknown_run_or_a_bad_cursor_is_refused(
    client: httpx.AsyncClient, finished: dict[str, Any]
) -> None:
    experiment_id = finished["experiment_id"]

    unknown = await client.get(f"/experiments/{experiment_id}/runs/run-nope/evidence")
    other_experiment = await client.get(f"/experiments/exp-nope/runs/{finished['id']}/evidence")
    bad_cursor = await client.get(
        f"/experiments/{experiment_id}/runs/{finished['id']}/evidence", params={"cursor": "x"}
    )
    too_many = await client.get(
        f"/experiments/{experiment_id}/runs/{finished['id']}/evidence",
        params={"ids": ",".join(f"ev-{n}" for n in range(201))},
    )

    assert_problem(unknown, 404)
    assert_problem(other_experiment, 404)
    assert_problem(bad_cursor, 422)
    assert_problem(too_many, 422)


async def test_a_persona_lists_the_records_it_cites_with_the_statements_and_quote_spans(
    client: httpx.AsyncClient, finished: dict[str, Any]
) -> None:
    persona = finished["personas"][0]

    items = await _all_evidence(client, f"/personas/{persona['id']}/evidence", limit=2)

    assert [item["id"] for item in items] == persona["evidence_ids"]
    by_id = {item["id"]: item for item in items}
    for index, quote in enumerate(persona["quotes"]):
        for evidence_id in quote["evidence_ids"]:
            record = by_id[evidence_id]
            citation = next(
                c for c in record["cited_by"] if c["section"] == "quotes" and c["index"] == index
            )
            assert citation["text"] == quote["text"]
            span = citation["spans"][0]
            shown = record["text"][span["start"] : span["end"]]
            assert shown.lower() == quote["text"].lower().strip(EDGE_PUNCTUATION)
    for section in ("goals", "pain_points", "behaviours"):
        for index, insight in enumerate(persona[section]):
            for evidence_id in insight["evidence_ids"]:
                assert {
                    "section": section,
                    "index": index,
                    "text": insight["text"],
                    "spans": [],
                } in (by_id[evidence_id]["cited_by"])


async def test_evidence_is_the_snapshot_a_source_edited_or_deleted_later_changes_nothing(
    client: httpx.AsyncClient, finished: dict[str, Any], data_dir: Path
) -> None:
    persona = finished["personas"][0]
    run_url = f"/experiments/{finished['experiment_id']}/runs/{finished['id']}/evidence"
    before_run = await _all_evidence(client, run_url)
    before_persona = await _all_evidence(client, f"/personas/{persona['id']}/evidence")

    source = data_dir / "interviews.csv"
    source.write_text("participant,answer\nP9,Everything is different now.\n", encoding="utf-8")
    after_edit = await _all_evidence(client, run_url)
    source.unlink()
    after_delete = await _all_evidence(client, f"/personas/{persona['id']}/evidence")

    assert after_edit == before_run
    assert after_delete == before_persona


async def test_a_new_run_over_edited_sources_gets_its_own_snapshot(
    client: httpx.AsyncClient, data_dir: Path
) -> None:
    experiment = await create_local(client)
    first = await _generate(client, experiment["id"])
    source = data_dir / "interviews.csv"
    source.write_text(source.read_text(encoding="utf-8").replace("hate", "dislike"), "utf-8")
    second = await _generate(client, experiment["id"])

    def url(run: dict[str, Any]) -> str:
        return f"/experiments/{experiment['id']}/runs/{run['id']}/evidence"

    old = await _all_evidence(client, url(first), q="hate")
    new = await _all_evidence(client, url(second), q="hate")
    assert old and not new
    assert await _all_evidence(client, url(second), q="dislike")


async def test_personas_are_listed_by_run_or_for_the_latest_succeeded_run(
    client: httpx.AsyncClient,
) -> None:
    experiment = await create_local(client, config={"provider": "local", "persona_count": 2})
    url = f"/experiments/{experiment['id']}/personas"
    empty = await client.get(url, params={"latest": "true"})
    first = await _generate(client, experiment["id"])
    second = await _generate(client, experiment["id"])

    everything = (await client.get(url)).json()["items"]
    of_first = (await client.get(url, params={"run_id": first["id"]})).json()["items"]
    latest = (await client.get(url, params={"latest": "true"})).json()["items"]
    both = await client.get(url, params={"latest": "true", "run_id": first["id"]})
    unknown_run = await client.get(url, params={"run_id": "run-nope"})

    assert empty.json() == {"items": [], "next_cursor": None}
    assert len(everything) == 4
    assert {p["id"] for p in of_first} == set(first["persona_ids"])
    assert {p["id"] for p in latest} == set(second["persona_ids"])
    assert_problem(both, 422)
    assert_problem(unknown_run, 404)


async def test_a_runs_personas_are_listed_in_the_runs_order_page_by_page(
    client: httpx.AsyncClient,
) -> None:
    experiment = await create_local(client, config={"provider": "local", "persona_count": 4})
    run = await _generate(client, experiment["id"])
    url = f"/experiments/{experiment['id']}/personas"

    pages: dict[str, list[str]] = {}
    for name, params in (("run", {"run_id": run["id"]}), ("latest", {"latest": "true"})):
        cursor, pages[name] = None, []
        while True:
            after = {} if cursor is None else {"cursor": cursor}
            page = (await client.get(url, params={**params, "limit": 1, **after})).json()
            pages[name] += [p["id"] for p in page["items"]]
            if (cursor := page["next_cursor"]) is None:
                break
    whole = (await client.get(url, params={"latest": "true"})).json()["items"]

    assert len(run["persona_ids"]) == 4
    assert pages == {"run": run["persona_ids"], "latest": run["persona_ids"]}
    assert [p["id"] for p in whole] == run["persona_ids"]


async def test_markdown_ends_with_the_sources_of_the_cited_records(
    client: httpx.AsyncClient, finished: dict[str, Any]
) -> None:
    persona = finished["personas"][0]
    cited = await _all_evidence(client, f"/personas/{persona['id']}/evidence")

    markdown = (await client.get(f"/personas/{persona['id']}", params={"format": "markdown"})).text

    sources = markdown[markdown.index("## Sources") :]
    stated = [record for record in cited if record["cited_by"]]
    assert stated
    for record in cited:
        where = (
            f"- `{record['source']}` \u00b7 {record['locator']} \u00b7 "
            f"participant {record['participant']} (`{record['id']}`)"
        )
        assert (where in sources) == bool(record["cited_by"])
    unstated = len(cited) - len(stated)
    assert (f"_{unstated} more of the records" in sources) == (unstated > 0)


async def test_deleting_an_experiment_deletes_its_snapshot_but_not_one_shared_with_another(
    make_client: ClientFactory,
) -> None:
    client = await make_client()
    one, other = await create_local(client), await create_local(client)
    run_one = await _generate(client, one["id"])
    run_other = await _generate(client, other["id"])
    service = client.app.state.service  # type: ignore[attr-defined]
    db = service._repository.db

    def snapshot_rows() -> tuple[int, int]:
        from sqlalchemy import text

        with db.read_connection() as connection:
            sets = connection.execute(text("SELECT count(*) FROM evidence_sets")).scalar_one()
            records = connection.execute(text("SELECT count(*) FROM evidence_records")).scalar_one()
        return sets, records

    shared = snapshot_rows()
    await client.delete(f"/experiments/{one['id']}")
    still_there = await _all_evidence(
        client, f"/experiments/{other['id']}/runs/{run_other['id']}/evidence"
    )
    after_one = snapshot_rows()
    await client.delete(f"/experiments/{other['id']}")

    assert shared[0] == 1  # the same bytes: one snapshot for both runs
    assert after_one == shared
    assert still_there
    assert snapshot_rows() == (0, 0)
    assert run_one["id"] != run_other["id"]
