"""Evidence snapshots per run; grounding counts on personas and runs.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SECTIONS = ("goals", "pain_points", "behaviours")


def upgrade() -> None:
    op.create_table(
        "evidence_sets",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_sets")),
    )
    op.create_table(
        "evidence_records",
        sa.Column("set_id", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("evidence_id", sa.String(length=200), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("locator", sa.String(length=200), nullable=False),
        sa.Column("participant", sa.Text(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["set_id"],
            ["evidence_sets.id"],
            name=op.f("fk_evidence_records_set_id_evidence_sets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("set_id", "position", name=op.f("pk_evidence_records")),
    )
    op.create_index(
        "ix_evidence_records_set_evidence", "evidence_records", ["set_id", "evidence_id"]
    )
    # Plain ALTER TABLE statements: copying the runs table would cascade-delete the personas.
    with op.batch_alter_table("runs", recreate="never") as batch:
        batch.add_column(sa.Column("evidence_set_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("grounding", sa.JSON(), nullable=True))
    op.create_index("ix_runs_evidence_set_id", "runs", ["evidence_set_id"])
    _personas_grounding_to_counts()


def _personas_grounding_to_counts() -> None:
    """The float score becomes an object with counts, derived from each stored persona."""
    with op.batch_alter_table("personas", recreate="never") as batch:
        # NOT NULL needs a default to be added in place; every row is filled in below.
        batch.add_column(
            sa.Column("grounding_counts", sa.JSON(), nullable=False, server_default="{}")
        )
    connection = op.get_bind()
    rows = connection.execute(
        sa.text("SELECT id, grounding, goals, pain_points, behaviours, quotes FROM personas")
    ).all()
    for persona_id, score, *sections, quotes in rows:
        values = {"b_id": persona_id, "b_counts": json.dumps(_counts(score, sections, quotes))}
        for name, items in zip(_SECTIONS, sections, strict=True):
            values[f"b_{name}"] = json.dumps(_with_support(_loaded(items)))
        connection.execute(
            sa.text(
                "UPDATE personas SET grounding_counts = :b_counts, goals = :b_goals, "
                "pain_points = :b_pain_points, behaviours = :b_behaviours WHERE id = :b_id"
            ),
            values,
        )
    with op.batch_alter_table("personas", recreate="never") as batch:
        batch.drop_column("grounding")
    with op.batch_alter_table("personas", recreate="never") as batch:
        batch.alter_column("grounding_counts", new_column_name="grounding", existing_type=sa.JSON())


def _loaded(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _with_support(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**item, "supported": bool(item.get("evidence_ids"))} for item in items or []]


def _counts(score: float, sections: list[Any], quotes: Any) -> dict[str, Any]:
    quotes = _loaded(quotes) or []
    insights = [item for section in sections for item in (_loaded(section) or [])]
    verified = sum(1 for quote in quotes if quote.get("verified"))
    supported = sum(1 for item in insights if item.get("evidence_ids"))
    return {
        "quotes_verified": verified,
        "quotes_corrected": 0,
        "quotes_approximate": 0,
        "quotes_unverified": len(quotes) - verified,
        "insights_supported": supported,
        "insights_unsupported": len(insights) - supported,
        "score": float(score),
    }


def downgrade() -> None:
    with op.batch_alter_table("personas", recreate="never") as batch:
        batch.add_column(
            sa.Column("grounding_score", sa.Float(), nullable=False, server_default="1.0")
        )
    connection = op.get_bind()
    for persona_id, grounding in connection.execute(
        sa.text("SELECT id, grounding FROM personas")
    ).all():
        score = (_loaded(grounding) or {}).get("score", 1.0)
        connection.execute(
            sa.text("UPDATE personas SET grounding_score = :b_score WHERE id = :b_id"),
            {"b_score": score, "b_id": persona_id},
        )
    with op.batch_alter_table("personas", recreate="never") as batch:
        batch.drop_column("grounding")
    with op.batch_alter_table("personas", recreate="never") as batch:
        batch.alter_column("grounding_score", new_column_name="grounding", existing_type=sa.Float())
    op.drop_index("ix_runs_evidence_set_id", table_name="runs")
    with op.batch_alter_table("runs", recreate="never") as batch:
        batch.drop_column("grounding")
        batch.drop_column("evidence_set_id")
    op.drop_index("ix_evidence_records_set_evidence", table_name="evidence_records")
    op.drop_table("evidence_records")
    op.drop_table("evidence_sets")
