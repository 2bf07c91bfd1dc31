"""Privacy: each experiment's pseudonyms, and each run's privacy report.

Revision ID: 0013
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pseudonyms",
        sa.Column("experiment_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("original", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name="fk_pseudonyms_experiment_id_experiments",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("experiment_id", "kind", "number", name="pk_pseudonyms"),
        sa.UniqueConstraint("experiment_id", "kind", "digest", name="uq_pseudonyms_value"),
    )
    with op.batch_alter_table("runs", recreate="never") as batch:
        batch.add_column(sa.Column("privacy", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs", recreate="never") as batch:
        batch.drop_column("privacy")
    op.drop_table("pseudonyms")
