"""Personas list their participants: the ids of the participants whose evidence they cite.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE: copying the personas table is not needed to add a column.
    with op.batch_alter_table("personas", recreate="never") as batch:
        # NOT NULL needs a default to be added in place; stored personas are filled in below.
        batch.add_column(sa.Column("participants", sa.JSON(), nullable=False, server_default="[]"))
    _fill_stored_personas()


def _fill_stored_personas() -> None:
    """Each stored persona gets the participants of the records it cites, read from its
    run's evidence snapshot (a run without one leaves the list empty)."""
    connection = op.get_bind()
    rows = connection.execute(
        sa.text(
            "SELECT personas.id, personas.evidence_ids, runs.evidence_set_id FROM personas "
            "JOIN runs ON runs.id = personas.run_id WHERE runs.evidence_set_id IS NOT NULL"
        )
    ).all()
    participant_of: dict[str, dict[str, str]] = {}
    for persona_id, evidence_ids, set_id in rows:
        if set_id not in participant_of:
            participant_of[set_id] = _participants_of_set(connection, set_id)
        known = participant_of[set_id]
        participants = sorted({known[i] for i in _loaded(evidence_ids) or [] if i in known})
        connection.execute(
            sa.text("UPDATE personas SET participants = :b_participants WHERE id = :b_id"),
            {"b_participants": json.dumps(participants), "b_id": persona_id},
        )


def _participants_of_set(connection: sa.Connection, set_id: str) -> dict[str, str]:
    rows = connection.execute(
        sa.text(
            "SELECT evidence_id, participant FROM evidence_records "
            "WHERE set_id = :b_set AND participant IS NOT NULL"
        ),
        {"b_set": set_id},
    ).all()
    return {evidence_id: participant for evidence_id, participant in rows if participant}


def _loaded(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def downgrade() -> None:
    with op.batch_alter_table("personas", recreate="never") as batch:
        batch.drop_column("participants")
