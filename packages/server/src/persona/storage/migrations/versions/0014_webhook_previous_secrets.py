"""Webhooks keep every secret still in its grace period after rotations, not only the last:
``previous_secrets`` (a JSON list) replaces ``previous_secret`` and its expiry.

Revision ID: 0014
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WEBHOOKS = sa.table(
    "webhooks",
    sa.column("id", sa.String),
    sa.column("previous_secret", sa.String),
    sa.column("previous_secret_expires_at", sa.DateTime),
    sa.column("previous_secrets", sa.JSON),
)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def upgrade() -> None:
    with op.batch_alter_table("webhooks", recreate="never") as batch:
        batch.add_column(
            sa.Column("previous_secrets", sa.JSON(), nullable=False, server_default="[]")
        )
    connection = op.get_bind()
    rotated = connection.execute(
        sa.select(WEBHOOKS.c.id, WEBHOOKS.c.previous_secret, WEBHOOKS.c.previous_secret_expires_at)
        .where(WEBHOOKS.c.previous_secret.is_not(None))
        .where(WEBHOOKS.c.previous_secret_expires_at.is_not(None))
    ).all()
    for webhook_id, secret, expires_at in rotated:
        kept = [{"secret": secret, "expires_at": _aware(expires_at).isoformat()}]
        connection.execute(
            sa.update(WEBHOOKS).where(WEBHOOKS.c.id == webhook_id).values(previous_secrets=kept)
        )
    with op.batch_alter_table("webhooks", recreate="never") as batch:
        batch.drop_column("previous_secret_expires_at")
        batch.drop_column("previous_secret")


def downgrade() -> None:
    with op.batch_alter_table("webhooks", recreate="never") as batch:
        batch.add_column(sa.Column("previous_secret", sa.String(100), nullable=True))
        batch.add_column(
            sa.Column("previous_secret_expires_at", sa.DateTime(timezone=True), nullable=True)
        )
    connection = op.get_bind()
    for webhook_id, kept in connection.execute(
        sa.select(WEBHOOKS.c.id, WEBHOOKS.c.previous_secrets)
    ).all():
        if kept:
            newest = kept[0]
            connection.execute(
                sa.update(WEBHOOKS)
                .where(WEBHOOKS.c.id == webhook_id)
                .values(
                    previous_secret=newest["secret"],
                    previous_secret_expires_at=datetime.fromisoformat(newest["expires_at"]),
                )
            )
    with op.batch_alter_table("webhooks", recreate="never") as batch:
        batch.drop_column("previous_secrets")
