"""API keys with scopes, the audit log, shared rate-limit counters, and the key a run was
started with.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("max_cost_usd", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
    )
    op.create_index("ix_api_keys_prefix", "api_keys", ["prefix"])
    op.create_index("ix_api_keys_created", "api_keys", ["created_at", "id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=True),
        sa.Column("key_name", sa.String(100), nullable=True),
        sa.Column("operation_id", sa.String(100), nullable=False),
        sa.Column("target_ids", sa.JSON(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_created", "audit_log", ["created_at", "id"])
    op.create_index("ix_audit_log_key_created", "audit_log", ["key_id", "created_at"])
    op.create_index("ix_audit_log_operation_created", "audit_log", ["operation_id", "created_at"])
    op.create_table(
        "rate_limit_counters",
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("window_start", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("subject", "window_start", name="pk_rate_limit_counters"),
    )
    with op.batch_alter_table("runs", recreate="never") as batch:
        batch.add_column(sa.Column("key_id", sa.String(64), nullable=True))
    op.create_index("ix_runs_key_id", "runs", ["key_id"])


def downgrade() -> None:
    op.drop_index("ix_runs_key_id", table_name="runs")
    with op.batch_alter_table("runs", recreate="never") as batch:
        batch.drop_column("key_id")
    op.drop_table("rate_limit_counters")
    op.drop_table("audit_log")
    op.drop_table("api_keys")
