"""Run-event notifications: NOTIFY persona_run_event for each run event (PostgreSQL only).

A trigger on ``run_events`` sends the run's id on the ``persona_run_event`` channel for every
event inserted, at that transaction's commit, whichever process wrote it. Processes with open
event streams listen on it (``persona.runs.finished``) and read what is new; on SQLite they
watch the database's data_version instead, and this revision does nothing.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNEL = "persona_run_event"

_CREATE_FUNCTION = f"""
CREATE FUNCTION persona_notify_run_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', NEW.run_id);
    RETURN NULL;
END;
$$
"""
_CREATE_TRIGGER = """
CREATE TRIGGER persona_run_event AFTER INSERT ON run_events
FOR EACH ROW EXECUTE FUNCTION persona_notify_run_event()
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_CREATE_FUNCTION)
    op.execute(_CREATE_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS persona_run_event ON run_events")
    op.execute("DROP FUNCTION IF EXISTS persona_notify_run_event()")
