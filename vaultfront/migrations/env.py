"""Alembic environment: runs on the engine `vaultfront.db.Database` hands it."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import vaultfront.models  # noqa: F401  (registers the tables)

config = context.config
target_metadata = SQLModel.metadata
engine = config.attributes.get("engine")
if engine is None:
    from vaultfront.db import make_engine

    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
