"""Runs carry the most they may spend (the least left of their budgets when they started) and
what their estimate reserved of those budgets while they are active.

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: runs stored before had no budget, and a run with none has no cap.
    with op.batch_alter_table("runs", recreate="never") as batch:
        batch.add_column(sa.Column("spend_cap_usd", sa.Float(), nullable=True))
        batch.add_column(sa.Column("spend_reserved_usd", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs", recreate="never") as batch:
        batch.drop_column("spend_reserved_usd")
        batch.drop_column("spend_cap_usd")
