"""the outbox: the database is the commit point of a write

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("organization", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "vault_epoch",
                sqlmodel.sql.sqltypes.AutoString(length=32),
                nullable=False,
                server_default="",
            )
        )
    conn = op.get_bind()
    for (org_id,) in conn.execute(sa.text("SELECT id FROM organization")).all():
        conn.execute(
            sa.text("UPDATE organization SET vault_epoch = :epoch WHERE id = :id"),
            {"epoch": uuid.uuid4().hex, "id": org_id},
        )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("secret_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("changes", sa.Text(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organization.id"]),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_org_id"), ["org_id"], unique=False)
    op.create_table(
        "vault_garbage",
        sa.Column("path", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organization.id"]),
        sa.PrimaryKeyConstraint("path"),
    )
    with op.batch_alter_table("vault_garbage", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_vault_garbage_org_id"), ["org_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("vault_garbage", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vault_garbage_org_id"))
    op.drop_table("vault_garbage")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_org_id"))
    op.drop_table("outbox")
    with op.batch_alter_table("organization", schema=None) as batch_op:
        batch_op.drop_column("vault_epoch")
