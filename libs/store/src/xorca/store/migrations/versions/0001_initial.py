"""The initial schema: objects, raw, positions, meta.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from xorca.store.models import UtcDateTime

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "objects",
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("pool", sa.Text(), nullable=True),
        sa.Column("rev", sa.BigInteger(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "data",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True), "postgresql"
            ),
            nullable=True,
        ),
        sa.Column("ref", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("type", "id"),
    )
    op.create_index("ix_objects_rev", "objects", ["rev"])
    op.create_index("ix_objects_pool_type_id", "objects", ["pool", "type", "id"])
    op.create_index(
        "ix_objects_tombstones",
        "objects",
        ["deleted", "changed_at"],
        postgresql_where=sa.text("deleted"),
        sqlite_where=sa.text("deleted"),
    )
    op.create_table(
        "raw",
        sa.Column("pool", sa.Text(), nullable=False),
        sa.Column("ref", sa.Text(), nullable=False),
        sa.Column("cls", sa.Text(), nullable=False),
        sa.Column("uuid", sa.Text(), nullable=False),
        sa.Column("record", sa.LargeBinary(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("changed_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("pool", "ref"),
    )
    op.create_table(
        "positions",
        sa.Column("consumer", sa.Text(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("consumer"),
    )
    op.create_table(
        "meta",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("meta")
    op.drop_table("positions")
    op.drop_table("raw")
    op.drop_index("ix_objects_tombstones", table_name="objects")
    op.drop_index("ix_objects_pool_type_id", table_name="objects")
    op.drop_index("ix_objects_rev", table_name="objects")
    op.drop_table("objects")
