"""Migration 0014: a webhook's one previous secret becomes the first of its previous secrets,
with its grace period, and going back keeps the newest."""

from __future__ import annotations

import pytest
from alembic import command
from persona.storage import Database
from persona.storage.models import WebhookRow
from sqlalchemy import text

from .conftest import alembic_config, database_at

_ROWS_AT_0010 = [
    "INSERT INTO webhooks (id, url, description, secret, previous_secret,"
    " previous_secret_expires_at, enabled, disabled_reason, created_at) VALUES"
    " ('wh-rotated', 'https://example.com/a', NULL, 'whsec_new', 'whsec_old',"
    " '2026-12-08 09:00:00.000000', 1, NULL, '2026-12-07 09:00:00.000000')",
    "INSERT INTO webhooks (id, url, description, secret, previous_secret,"
    " previous_secret_expires_at, enabled, disabled_reason, created_at) VALUES"
    " ('wh-plain', 'https://example.com/b', NULL, 'whsec_only', NULL, NULL, 1, NULL,"
    " '2026-12-07 09:00:00.000000')",
]


@pytest.mark.sqlite_only  # the migration scripts on SQLite; PostgreSQL runs them from empty
def test_upgrading_keeps_a_rotated_secret_in_its_grace_period(url: str) -> None:
    database_at(url, "0010", _ROWS_AT_0010)

    newer = Database(url)
    newer.migrate()
    with newer.read() as session:
        rotated = session.get(WebhookRow, "wh-rotated")
        plain = session.get(WebhookRow, "wh-plain")
        assert rotated is not None and plain is not None
        kept = rotated.previous_secrets
        assert plain.previous_secrets == []
    newer.dispose()

    assert kept == [{"secret": "whsec_old", "expires_at": "2026-12-08T09:00:00+00:00"}]


@pytest.mark.sqlite_only
def test_downgrading_to_0010_keeps_the_newest_previous_secret(url: str) -> None:
    database_at(url, "0010", _ROWS_AT_0010)
    config = alembic_config(url)
    command.upgrade(config, "head")

    command.downgrade(config, "0010")

    db = Database(url)
    with db.read_connection() as connection:
        rows = connection.execute(
            text("SELECT id, previous_secret FROM webhooks ORDER BY id")
        ).all()
    db.dispose()
    assert [tuple(row) for row in rows] == [("wh-plain", None), ("wh-rotated", "whsec_old")]
