"""Personas have a summary (cited sentences, like goals); runs carry warnings about their
input (a source without a participant column).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE; NOT NULL needs a default to be added in place. Stored personas keep
    # an empty summary: it cannot be written afterwards without the model or the evidence.
    with op.batch_alter_table("personas", recreate="never") as batch:
        batch.add_column(sa.Column("summary", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("runs", recreate="never") as batch:
        batch.add_column(sa.Column("warnings", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("runs", recreate="never") as batch:
        batch.drop_column("warnings")
    with op.batch_alter_table("personas", recreate="never") as batch:
        batch.drop_column("summary")
