"""Evidence snapshots in the database: stored once per content, linked to runs, paged,
deleted with the last run using them, and the 0002 → 0003 migration."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from alembic import command
from persona.errors import InvalidInputError, NotFoundError
from persona.ids import utcnow
from persona.schemas import Evidence, Insight, PersonaContent, Quote, ResolvedConfig, Usage
from persona.sources.digest import evidence_digest
from persona.storage import Database, Repository, alembic_config
from persona.storage import evidence as snapshots
from persona.storage.cursor import PositionCursor
from persona.storage.evidence import EvidenceFilter
from sqlalchemy import text

from .conftest import database_at

LOCAL = ResolvedConfig(provider="local", persona_count=1)


def _records(count: int, *, source: str = "big.csv", word: str = "scanner") -> list[Evidence]:
    return [
        Evidence(
            id=f"ev-{n:06d}",
            source=source,
            locator=f"row {n + 2}",
            participant=f"P{n % 7}",
            text=f"Record {n}: the {word} froze again",
            attributes={"site": f"S{n % 3}"},
        )
        for n in range(count)
    ]


def _running(repo: Repository, experiment_id: str = "exp-1") -> tuple[str, int]:
    if not any(e.id == experiment_id for e in repo.list_experiments(limit=200).items):
        repo.create_experiment(
            experiment_id=experiment_id,
            name="study",
            description=None,
            data_sources=["big.csv"],
            config=LOCAL,
        )
    run, _ = repo.create_run(experiment_id, LOCAL)
    claimed = repo.claim_run(run.id)
    assert claimed is not None
    return run.id, claimed.attempt


def _count(db: Database, table: str) -> int:
    with db.engine.connect() as connection:
        return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_the_digest_follows_every_field_and_the_order() -> None:
    records = _records(3)
    changed = [records[0], records[1].model_copy(update={"attributes": {"site": "S9"}}), records[2]]

    assert evidence_digest(records) == evidence_digest(_records(3))
    assert evidence_digest(records) != evidence_digest(changed)
    assert evidence_digest(records) != evidence_digest(list(reversed(records)))
    assert evidence_digest(records) != evidence_digest(_records(3, word="printer"))


def test_a_snapshot_larger_than_one_insert_is_stored_once_and_paged_in_source_order(
    repo: Repository, db: Database
) -> None:
    records = _records(snapshots.INSERT_CHUNK * 2 + 5)
    set_id = evidence_digest(records)
    run_id, attempt = _running(repo)

    repo.store_evidence(set_id, records)
    repo.store_evidence(set_id, records)
    assert repo.attach_evidence(run_id, attempt, set_id, records)

    assert _count(db, "evidence_sets") == 1
    assert _count(db, "evidence_records") == len(records)
    seen: list[Evidence] = []
    cursor = None
    while True:
        page = repo.list_run_evidence("exp-1", run_id, limit=200, cursor=cursor)
        seen += page.items
        if (cursor := page.next_cursor) is None:
            break
    assert seen == records


@pytest.mark.postgresql_only
def test_a_snapshot_two_workers_store_at_once_is_stored_once(db: Database) -> None:
    records = _records(3)
    set_id = evidence_digest(records)

    def store() -> bool:
        with db.engine.begin() as connection:
            return snapshots.store_snapshot(connection, set_id, records, utcnow())

    with db.engine.connect() as first, ThreadPoolExecutor(1) as pool:
        first.begin()
        stored_first = snapshots.store_snapshot(first, set_id, records, utcnow())
        second = pool.submit(store)  # waits on the first one's uncommitted set row
        time.sleep(0.3)
        waited = not second.done()
        first.commit()
        stored_second = second.result(timeout=10)

    assert (stored_first, waited, stored_second) == (True, True, False)
    assert _count(db, "evidence_sets") == 1
    assert _count(db, "evidence_records") == len(records)


def test_filters_combine(repo: Repository) -> None:
    records = _records(50)
    set_id = evidence_digest(records)
    run_id, attempt = _running(repo)
    repo.attach_evidence(run_id, attempt, set_id, records)

    page = repo.list_run_evidence(
        "exp-1",
        run_id,
        EvidenceFilter(ids=["ev-000003", "ev-000010", "ev-000017", "ev-nope"], participant="P3"),
    )
    text_page = repo.list_run_evidence("exp-1", run_id, EvidenceFilter(text="RECORD 4"))

    assert [e.id for e in page.items] == ["ev-000003", "ev-000010", "ev-000017"]
    assert [e.id for e in text_page.items] == ["ev-000004"] + [f"ev-{n:06d}" for n in range(40, 50)]


def test_a_stale_attempt_is_not_linked(repo: Repository) -> None:
    records = _records(2)
    run_id, attempt = _running(repo)
    repo.cancel_run("exp-1", run_id)

    assert not repo.attach_evidence(run_id, attempt, evidence_digest(records), records)
    assert repo.list_run_evidence("exp-1", run_id).items == []


def test_a_snapshot_deleted_with_another_experiment_is_stored_again_when_linked(
    repo: Repository, db: Database
) -> None:
    records = _records(4)
    set_id = evidence_digest(records)
    repo.store_evidence(set_id, records)  # read ahead for a run of exp-2 ...
    first, first_attempt = _running(repo, "exp-1")
    repo.attach_evidence(first, first_attempt, set_id, records)
    repo.delete_experiment("exp-1")  # ... and gone with the only run pointing at it
    assert _count(db, "evidence_sets") == 0

    run_id, attempt = _running(repo, "exp-2")
    assert repo.attach_evidence(run_id, attempt, set_id, records)

    assert repo.list_run_evidence("exp-2", run_id).items == records


def test_a_persona_pages_through_the_records_it_cites_in_its_order(repo: Repository) -> None:
    records = _records(10)
    set_id = evidence_digest(records)
    run_id, attempt = _running(repo)
    repo.attach_evidence(run_id, attempt, set_id, records)
    cited = ["ev-000007", "ev-000002", "ev-000009"]
    content = PersonaContent(
        name="Ada",
        title="Ops",
        goals=[Insight(text="g", evidence_ids=cited[:1])],
        quotes=[Quote(text="froze", evidence_ids=cited[1:], verified=True)],
        evidence_ids=cited,
    )
    stored = repo.mark_succeeded(run_id, attempt, [content], Usage())
    assert stored is not None
    persona_id = stored.persona_ids[0]

    persona, first, cursor = repo.persona_evidence(persona_id, limit=2)
    _, second, last = repo.persona_evidence(persona_id, limit=2, cursor=cursor)

    assert persona.id == persona_id
    assert [e.id for e in first + second] == cited
    assert last is None
    with pytest.raises(NotFoundError):
        repo.persona_evidence("persona-nope")
    with pytest.raises(InvalidInputError):  # a cursor of the run's evidence, not the persona's
        repo.persona_evidence(persona_id, cursor=PositionCursor("evidence", 1).encode())


def test_a_run_stores_its_grounding_totals(repo: Repository) -> None:
    run_id, attempt = _running(repo)
    content = PersonaContent(
        name="Ada",
        title="Ops",
        goals=[Insight(text="g", evidence_ids=[], supported=False)],
        quotes=[Quote(text="q", evidence_ids=["ev-1"], verified=True)],
    )
    counts = content.grounding.model_copy(update={"quotes_verified": 1, "insights_unsupported": 1})
    content = content.model_copy(update={"grounding": counts})

    repo.mark_succeeded(run_id, attempt, [content, content], Usage())

    grounding = repo.get_run("exp-1", run_id).grounding
    assert grounding is not None
    assert (grounding.quotes_verified, grounding.insights_unsupported, grounding.score) == (
        2,
        2,
        1.0,
    )


# ---------------------------------------------------------------------- migration 0003

_PERSONA_AT_0002 = (
    "INSERT INTO personas VALUES ('per-old', 'exp-old', 'run-done', 0, 'Ada', 'Ops lead', '{}',"
    ' \'[{"text": "fewer alerts", "evidence_ids": ["ev-1"]}]\','
    ' \'[{"text": "noise", "evidence_ids": []}]\', \'[]\','
    ' \'[{"text": "too many", "evidence_ids": ["ev-1"], "verified": true},'
    ' {"text": "made up", "evidence_ids": [], "verified": false}]\','
    " '[\"ev-1\"]', 0.5, 0, '2026-01-01 10:00:03.000000')"
)
_ROWS_AT_0002 = [
    "INSERT INTO experiments VALUES ('exp-old', 'kept', NULL, '[\"a.csv\"]', "
    '\'{"provider": "local", "persona_count": 1}\', NULL, '
    "'2026-01-01 10:00:00.000000', '2026-01-01 10:00:00.000000')",
    "INSERT INTO runs (id, experiment_id, status, config, progress, stage, attempts, created_at,"
    " started_at, finished_at, usage, error_code, error_message) VALUES "
    "('run-done', 'exp-old', 'succeeded', '{\"provider\": \"local\", \"persona_count\": 1}', "
    "1.0, 'done', 1, '2026-01-01 10:00:01.000000', '2026-01-01 10:00:02.000000', "
    "'2026-01-01 10:00:03.000000', '{}', NULL, NULL)",
    _PERSONA_AT_0002,
]


@pytest.mark.sqlite_only  # the migration scripts on SQLite; PostgreSQL's in test_postgres.py
def test_upgrading_from_0002_turns_scores_into_counts_and_keeps_every_row(url: str) -> None:
    database_at(url, "0002", _ROWS_AT_0002)

    newer = Database(url)
    newer.migrate()
    repo = Repository(newer)
    persona = repo.get_persona("per-old")
    run = repo.get_run("exp-old", "run-done")
    evidence = repo.list_run_evidence("exp-old", "run-done")
    _, cited, _ = repo.persona_evidence("per-old")
    newer.dispose()

    assert persona.grounding.score == 0.5
    assert (persona.grounding.quotes_verified, persona.grounding.quotes_unverified) == (1, 1)
    assert (persona.grounding.insights_supported, persona.grounding.insights_unsupported) == (1, 1)
    assert [g.supported for g in persona.goals] == [True]
    assert [p.supported for p in persona.pain_points] == [False]
    assert [(q.match, q.citation) for q in persona.quotes] == [
        ("exact", "given"),
        ("none", "given"),
    ]
    assert run.persona_ids == ["per-old"] and run.grounding is None
    assert evidence.items == [] and cited == []  # runs from before snapshots have none


@pytest.mark.sqlite_only  # the migration scripts on SQLite; PostgreSQL's in test_postgres.py
def test_downgrading_0003_gives_the_scores_back(url: str) -> None:
    database_at(url, "0002", _ROWS_AT_0002)
    config = alembic_config(url)
    command.upgrade(config, "head")

    command.downgrade(config, "0002")

    db = Database(url)
    with db.read_connection() as connection:
        score = connection.execute(text("SELECT grounding FROM personas")).scalar_one()
        tables = {
            row[0]
            for row in connection.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))
        }
    db.dispose()
    assert score == 0.5
    assert "evidence_sets" not in tables and "evidence_records" not in tables
