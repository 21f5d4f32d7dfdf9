"""environments as data: one secret_value row per set value, not columns per environment

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# The environments that had columns on `secret` (revision 0001). Spelled out here, not read
# from `layout.ENVIRONMENTS`: this migration moves those columns, whatever the list is later.
OLD_ENVIRONMENTS = ("development", "staging", "production")

FK_NAME = "fk_secret_value_secret_id_secret"


def _old_secret() -> sa.TableClause:
    columns: list[sa.ColumnClause[Any]] = [sa.column("id", sa.String())]
    for env in OLD_ENVIRONMENTS:
        columns += [sa.column(f"{env}_set", sa.Boolean()), sa.column(f"{env}_mask", sa.String())]
    return sa.table("secret", *columns)


def _secret_value() -> sa.TableClause:
    return sa.table(
        "secret_value",
        sa.column("secret_id", sa.String()),
        sa.column("environment", sa.String()),
        sa.column("mask", sa.String()),
    )


def upgrade() -> None:
    # The foreign key comes last: on SQLite, dropping the columns rebuilds `secret` (batch
    # mode: copy, DROP, rename), and with foreign keys on, that DROP would cascade to
    # every secret_value row that already referenced it.
    op.create_table(
        "secret_value",
        sa.Column("secret_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("environment", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("mask", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.PrimaryKeyConstraint("secret_id", "environment"),
    )
    secret, secret_value = _old_secret(), _secret_value()
    for env in OLD_ENVIRONMENTS:
        # A set value always had its mask; "***" (reveals nothing) stands in should one lack it.
        rows = sa.select(
            secret.c.id,
            sa.literal(env, sa.String),
            sa.func.coalesce(secret.c[f"{env}_mask"], "***"),
        ).where(secret.c[f"{env}_set"] == sa.true())
        op.execute(secret_value.insert().from_select(["secret_id", "environment", "mask"], rows))
    with op.batch_alter_table("secret", schema=None) as batch_op:
        for env in OLD_ENVIRONMENTS:
            batch_op.drop_column(f"{env}_set")
            batch_op.drop_column(f"{env}_mask")
    with op.batch_alter_table("secret_value", schema=None) as batch_op:
        batch_op.create_foreign_key(FK_NAME, "secret", ["secret_id"], ["id"], ondelete="CASCADE")


def downgrade() -> None:
    # The foreign key goes first, for the same reason it came last: rebuilding `secret`
    # (SQLite) must not cascade to the rows the columns are filled from.
    with op.batch_alter_table("secret_value", schema=None) as batch_op:
        batch_op.drop_constraint(FK_NAME, type_="foreignkey")
    with op.batch_alter_table("secret", schema=None) as batch_op:
        for env in OLD_ENVIRONMENTS:
            batch_op.add_column(
                sa.Column(f"{env}_set", sa.Boolean(), nullable=False, server_default=sa.false())
            )
            batch_op.add_column(
                sa.Column(f"{env}_mask", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True)
            )
    secret, secret_value = _old_secret(), _secret_value()
    for env in OLD_ENVIRONMENTS:
        row = (
            sa.select(secret_value.c.mask)
            .where(secret_value.c.secret_id == secret.c.id, secret_value.c.environment == env)
            .scalar_subquery()
        )
        op.execute(
            secret.update()
            .where(row.is_not(None))
            .values({f"{env}_set": sa.true(), f"{env}_mask": row})
        )
    op.drop_table("secret_value")
    with op.batch_alter_table("secret", schema=None) as batch_op:
        for env in OLD_ENVIRONMENTS:
            batch_op.alter_column(f"{env}_set", server_default=None)
