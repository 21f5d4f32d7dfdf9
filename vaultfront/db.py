"""The metadata database: engine, sessions, migrations and the per-organization write lock.

SQLite (the embedded default) runs in WAL mode with foreign keys on; PostgreSQL through
psycopg 3. Schema changes are Alembic migrations in `vaultfront/migrations/`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def _normalize(url: str) -> str:
    # `postgresql://` means psycopg 3 here (psycopg2 is not a dependency).
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str) -> Engine:
    url = _normalize(url)
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Connections to a SQLite file are cheap; the pool is sized so that every worker
        # thread can hold its request's connection and take a second one (the write's
        # transaction, a token's last use) without waiting for another thread to finish.
        pool = {"pool_size": 20, "max_overflow": 100} if path and path != ":memory:" else {}
        engine = sa.create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **pool
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy's "begin" event (below) start transactions itself.
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: sa.Connection) -> None:
            # IMMEDIATE takes the write lock up front: a read-then-write transaction in WAL
            # mode would otherwise fail with SQLITE_BUSY instead of waiting its turn.
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("write") else "BEGIN")

        @event.listens_for(engine, "checkin")
        def _sqlite_end_transaction(dbapi_conn: Any, _record: Any) -> None:
            # A COMMIT that SQLite refuses (a deferred constraint, a full disk) leaves the
            # transaction open, and SQLAlchemy, which saw the commit attempted, skips its
            # reset: the pooled connection would keep the database-wide write lock and
            # every later write would wait out busy_timeout and fail.
            if dbapi_conn.in_transaction:
                dbapi_conn.rollback()

        return engine
    # Sized like SQLite's above (a request may hold two connections at a moment), within
    # PostgreSQL's default of 100 connections for one replica.
    return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=50)


class Database:
    def __init__(self, url: str) -> None:
        self.url = _normalize(url)
        self.engine = make_engine(self.url)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session for reads, and for small writes that need no lock."""
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def write_session(self, org_id: int) -> Iterator[Session]:
        """A transaction that holds the organization's write lock until it ends.

        Every change to an organization's secrets runs inside one, so two writers never
        interleave their Vault writes (see docs/design.md, "Ordering"). PostgreSQL locks the
        organization's row; SQLite takes its database-wide write lock (BEGIN IMMEDIATE).
        Either way the lock is taken here, on entry, before the caller reads Vault.
        The caller commits; leaving without a commit rolls everything back.
        """
        with self.engine.connect() as conn:
            conn.info["write"] = True
            try:
                with Session(bind=conn, expire_on_commit=False) as session:
                    if self.is_sqlite:
                        session.execute(sa.text("SELECT 1"))  # BEGIN IMMEDIATE, now
                    else:
                        session.execute(
                            sa.text("SELECT id FROM organization WHERE id = :id FOR UPDATE"),
                            {"id": org_id},
                        )
                    yield session
            finally:
                conn.info.pop("write", None)

    def alembic_config(self) -> Any:
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        config.attributes["engine"] = self.engine
        return config

    def upgrade(self) -> None:
        """Apply every migration (`vaultfront db upgrade`)."""
        from alembic import command

        command.upgrade(self.alembic_config(), "head")

    def dispose(self) -> None:
        self.engine.dispose()
