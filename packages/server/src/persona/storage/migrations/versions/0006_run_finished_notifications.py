"""Finished-run notifications: NOTIFY persona_run_finished when a run ends (PostgreSQL only).

A trigger on ``runs`` sends the run's id on the ``persona_run_finished`` channel when its
status becomes succeeded, failed or cancelled, whichever process (API, worker) and whichever
path (execution, cancel, the attempt limit) ends it, at that transaction's commit. Processes
waiting for a run another process executes listen on it (``persona.runs.finished``) instead
of polling. On SQLite this revision does nothing.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNEL = "persona_run_finished"

_CREATE_FUNCTION = f"""
CREATE FUNCTION persona_notify_run_finished() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', NEW.id);
    RETURN NULL;
END;
$$
"""
_CREATE_TRIGGER = """
CREATE TRIGGER persona_run_finished AFTER UPDATE OF status ON runs
FOR EACH ROW
WHEN (NEW.status IN ('succeeded', 'failed', 'cancelled')
      AND OLD.status IS DISTINCT FROM NEW.status)
EXECUTE FUNCTION persona_notify_run_finished()
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_CREATE_FUNCTION)
    op.execute(_CREATE_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS persona_run_finished ON runs")
    op.execute("DROP FUNCTION IF EXISTS persona_notify_run_finished()")
