"""The repository: experiments, runs, personas and idempotency keys on a real SQLite file."""

from __future__ import annotations

import base64
import json

import pytest
from persona.errors import InvalidInputError, NotFoundError
from persona.ids import utcnow
from persona.schemas import ResolvedConfig, Usage
from persona.storage import Cursor, Database, Repository
from sqlalchemy import text

from tests.server.storage._repository_cases import (
    LOCAL,
    add_experiment,
    failed_run,
    persona_content,
    row_count,
    succeeded_run,
)

# ---------------------------------------------------------------------- experiments


def test_create_and_get_an_experiment(repo: Repository) -> None:
    created = repo.create_experiment(
        experiment_id="exp-a",
        name="Checkout",
        description=None,
        data_sources=["interviews.csv", "notes"],
        config=ResolvedConfig(provider="anthropic", model="claude", persona_count=4),
    )

    fetched = repo.get_experiment("exp-a")

    assert fetched == created
    assert fetched.status == "created"
    assert fetched.data_sources == ["interviews.csv", "notes"]
    assert fetched.config.model == "claude"
    assert (fetched.run_count, fetched.personas_stored) == (0, 0)


def test_an_unknown_experiment_is_not_found(repo: Repository) -> None:
    with pytest.raises(NotFoundError, match="exp-nope"):
        repo.get_experiment("exp-nope")


def test_experiments_are_paged_newest_first_with_an_opaque_cursor(repo: Repository) -> None:
    ids = [add_experiment(repo, f"exp-{n}") for n in range(5)]

    pages = []
    cursor = None
    while True:
        page = repo.list_experiments(limit=2, cursor=cursor)
        pages.append([item.id for item in page.items])
        cursor = page.next_cursor
        if cursor is None:
            break

    assert pages == [ids[4:2:-1], ids[2:0:-1], ids[0:1]]
    assert all(c.isalnum() or c in "-_" for c in repo.list_experiments(limit=1).next_cursor or "")


def test_a_page_exactly_full_has_no_next_cursor(repo: Repository) -> None:
    for n in range(3):
        add_experiment(repo, f"exp-{n}")
    assert repo.list_experiments(limit=3).next_cursor is None


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor",
        "%%%",
        base64.urlsafe_b64encode(b"[1,2]").decode(),
        base64.urlsafe_b64encode(b'{"a": 1}').decode(),
        base64.urlsafe_b64encode(b'["experiments", "yesterday", "exp-1"]').decode(),
        base64.urlsafe_b64encode(b'["experiments", "2026-01-01T00:00:00", "exp-1"]').decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_a_bad_cursor_is_invalid_input_located_at_the_query_parameter(
    repo: Repository, cursor: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        repo.list_experiments(cursor=cursor)
    assert caught.value.location == ["query", "cursor"]


def test_a_cursor_of_another_listing_is_refused(repo: Repository) -> None:
    experiment_id = add_experiment(repo)
    for _ in range(2):
        repo.create_run(experiment_id, LOCAL)
    runs_cursor = repo.list_runs(experiment_id, limit=1).next_cursor
    assert runs_cursor is not None

    with pytest.raises(InvalidInputError) as caught:
        repo.list_experiments(cursor=runs_cursor)
    assert caught.value.location == ["query", "cursor"]


@pytest.mark.parametrize("limit", [0, -1, 201])
def test_a_page_size_outside_1_to_200_is_refused(repo: Repository, limit: int) -> None:
    with pytest.raises(InvalidInputError) as caught:
        repo.list_experiments(limit=limit)
    assert caught.value.location == ["query", "limit"]


def test_cursor_round_trip() -> None:
    cursor = Cursor("runs", utcnow(), "run-x")
    assert Cursor.decode(cursor.encode(), kind="runs") == cursor


def test_adding_sources_appends_them_once(repo: Repository) -> None:
    experiment_id = add_experiment(repo)
    before = repo.get_experiment(experiment_id)

    updated = repo.add_data_sources(experiment_id, ["more.csv", "interviews.csv", "more.csv"])

    assert updated.data_sources == ["interviews.csv", "more.csv"]
    assert updated.updated_at >= before.updated_at
    with pytest.raises(NotFoundError):
        repo.add_data_sources("exp-gone", ["x.csv"])


# ---------------------------------------------------------------------- derived status


def test_status_follows_the_runs(repo: Repository) -> None:
    experiment_id = add_experiment(repo)
    assert repo.get_experiment(experiment_id).status == "created"

    run, _ = repo.create_run(experiment_id, LOCAL)
    assert repo.get_experiment(experiment_id).status == "running"
    claimed = repo.claim_run(run.id)
    assert claimed is not None
    assert repo.get_experiment(experiment_id).status == "running"
    repo.mark_succeeded(run.id, claimed.attempt, [persona_content("Ada")], Usage())
    assert repo.get_experiment(experiment_id).status == "succeeded"

    failed_run(repo, experiment_id)
    assert repo.get_experiment(experiment_id).status == "failed"

    succeeded_run(repo, experiment_id)
    experiment = repo.get_experiment(experiment_id)
    assert experiment.status == "succeeded"
    assert (experiment.run_count, experiment.personas_stored) == (3, 3)


def test_a_cancelled_run_does_not_change_the_outcome(repo: Repository) -> None:
    experiment_id = add_experiment(repo)
    succeeded_run(repo, experiment_id)
    run, _ = repo.create_run(experiment_id, LOCAL)
    repo.cancel_run(experiment_id, run.id)

    experiment = repo.get_experiment(experiment_id)
    assert experiment.status == "succeeded"
    assert experiment.run_count == 2

    only_cancelled = add_experiment(repo, "exp-2")
    run, _ = repo.create_run(only_cancelled, LOCAL)
    repo.cancel_run(only_cancelled, run.id)
    assert repo.get_experiment(only_cancelled).status == "created"


def test_listed_experiments_carry_their_own_counts(repo: Repository) -> None:
    first = add_experiment(repo, "exp-1")
    second = add_experiment(repo, "exp-2")
    succeeded_run(repo, first, ("Ada", "Ben", "Cy"))
    repo.create_run(second, LOCAL)

    items = {item.id: item for item in repo.list_experiments().items}

    assert (items[first].status, items[first].run_count, items[first].personas_stored) == (
        "succeeded",
        1,
        3,
    )
    assert (items[second].status, items[second].run_count, items[second].personas_stored) == (
        "running",
        1,
        0,
    )


# ---------------------------------------------------------------------- personas


def test_personas_of_an_experiment_are_paged(repo: Repository) -> None:
    experiment_id = add_experiment(repo)
    other = add_experiment(repo, "exp-other")
    succeeded_run(repo, other, ("Zed",))
    succeeded_run(repo, experiment_id, ("Ada", "Ben"))
    succeeded_run(repo, experiment_id, ("Cy", "Dee", "Eve"))

    first = repo.list_personas(experiment_id, limit=3)
    second = repo.list_personas(experiment_id, limit=3, cursor=first.next_cursor)

    names = [p.name for p in first.items + second.items]
    assert sorted(names[:3]) == ["Cy", "Dee", "Eve"]
    assert sorted(names[3:]) == ["Ada", "Ben"]
    assert second.next_cursor is None
    with pytest.raises(NotFoundError):
        repo.list_personas("exp-nope")


def test_an_unknown_persona_is_not_found(repo: Repository) -> None:
    with pytest.raises(NotFoundError, match="persona-nope"):
        repo.get_persona("persona-nope")


# ---------------------------------------------------------------------- delete


def test_deleting_an_experiment_deletes_its_runs_personas_and_keys_only(
    repo: Repository, db: Database
) -> None:
    doomed = add_experiment(repo, "exp-doomed")
    kept = add_experiment(repo, "exp-kept")
    doomed_runs = {
        succeeded_run(repo, doomed),
        repo.create_run(doomed, LOCAL, idempotency=("k", "h"))[0].id,
    }
    kept_run = succeeded_run(repo, kept)

    deleted_runs = repo.delete_experiment(doomed)

    assert set(deleted_runs) == doomed_runs
    with pytest.raises(NotFoundError):
        repo.get_experiment(doomed)
    assert (row_count(db, "runs"), row_count(db, "personas"), row_count(db, "run_idempotency")) == (
        1,
        2,
        0,
    )
    assert repo.get_run(kept, kept_run).status == "succeeded"
    with pytest.raises(NotFoundError):
        repo.delete_experiment(doomed)


def test_the_database_cascades_deletes_on_its_own(repo: Repository, db: Database) -> None:
    experiment_id = add_experiment(repo)
    succeeded_run(repo, experiment_id)
    repo.create_run(experiment_id, LOCAL, idempotency=("k", "h"))

    with db.engine.begin() as connection:
        connection.execute(text("DELETE FROM experiments WHERE id = :id"), {"id": experiment_id})

    assert (row_count(db, "runs"), row_count(db, "personas"), row_count(db, "run_idempotency")) == (
        0,
        0,
        0,
    )


def test_json_columns_round_trip(repo: Repository, db: Database) -> None:
    experiment_id = add_experiment(repo)
    succeeded_run(repo, experiment_id)
    with db.engine.connect() as connection:
        raw = connection.execute(text("SELECT quotes FROM personas LIMIT 1")).scalar_one()
    stored = raw if isinstance(raw, list) else json.loads(raw)  # PostgreSQL's driver decodes it
    assert stored == [
        {
            "text": "too many alerts",
            "evidence_ids": ["ev-1"],
            "verified": True,
            "citation": "given",
            "match": "exact",
            "source_text": None,
        }
    ]
