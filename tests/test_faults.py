"""Faults: a create, update or delete that fails halfway leaves no half-written secret.

Against a real, non-dev OpenBao (raft storage in a temporary folder, so it can be stopped,
started again and sealed) and both databases. Vault is never mocked: an outage is a real
SIGTERM or a real seal, a refusal is a real policy edit. Where a failure has to land at an
exact point of an operation, the test wraps one of vaultfront's own functions to pull the
trigger there (stop or seal Vault, or raise `Crash`, which stands for the process dying).

After every fault the test checks, reading with the root token and a separate database
connection: a write that failed left the database rows, audit records and every Vault index
document as they were; a write that committed reaches Vault once the fault is gone (nothing
stays in the outbox once recovery ran); what an executor can read is only ever a committed
value; and the same request succeeds once the fault is gone.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import hvac
import hvac.exceptions
import pytest
import sqlalchemy as sa
from conftest import VaultInstance, World, outbox_rows, settings_for, unique_slug
from sqlmodel import select
from starlette.testclient import TestClient
from vault_server import VaultServer, start_vault_server

from vaultfront import layout, schemas
from vaultfront import vault_admin as operator
from vaultfront.config import DEFAULT_KV_MOUNT, DEFAULT_TRANSIT_MOUNT
from vaultfront.errors import VaultUnavailable
from vaultfront.models import User
from vaultfront.service import members
from vaultfront.service.outbox import Outbox
from vaultfront.service.secrets import SecretService
from vaultfront.store.vault import VaultStore
from vaultfront.web import app as app_module
from vaultfront.web.app import create_app

pytestmark = pytest.mark.faults

KV = DEFAULT_KV_MOUNT
SEALED_MESSAGE = "Vault is sealed or in maintenance"
UNREACHABLE_MESSAGE = "Vault cannot be reached"
REFUSED_MESSAGE = "Vault refused to write the secrets index (permission denied)"


class Crash(BaseException):
    """The process dies here: no `except Exception` runs, nothing more happens after it."""


# --- the non-dev OpenBao, and the app over it --------------------------------------------


@pytest.fixture(scope="module")
def bao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VaultServer]:
    server = start_vault_server(tmp_path_factory.mktemp("bao-faults"))
    try:
        yield server
    finally:
        server.stop()


def ensure_up(bao: VaultServer) -> None:
    """Running and unsealed, whatever the previous test left."""
    if not bao.running:
        bao.start()
    if hvac.Client(bao.addr).sys.is_sealed():
        bao.unseal()
    bao.wait_active()


@pytest.fixture
def bao_up(bao: VaultServer) -> Iterator[VaultServer]:
    """The server up before the test, and up again after it, with the facade's policy."""
    ensure_up(bao)
    policy = bao.root_client().sys.read_policy(operator.FACADE_POLICY)["data"]["rules"]
    try:
        yield bao
    finally:
        ensure_up(bao)
        bao.root_client().sys.create_or_update_policy(operator.FACADE_POLICY, policy)


def instance(bao: VaultServer) -> VaultInstance:
    return VaultInstance(bao.addr, bao.root_token, bao.role_id, bao.secret_id)


def populate_owner(database_url: str, org: str) -> dict[str, str]:
    """The organization and its owner (a member) with an API token; no password, so no
    argon2 hashing: these tests are about Vault, not people."""
    from vaultfront.cli import create_org, create_user
    from vaultfront.db import Database
    from vaultfront.service import tokens as token_store

    database = Database(database_url)
    database.upgrade()
    create_org(database, org, "Faults")
    user, _ = create_user(database, "owner@example.com", org, "member", "Olive Owner")
    with database.session() as session:
        _, token = token_store.create_token(session, user.id, "owner")
    database.dispose()
    return {"owner": token}


@pytest.fixture
def fw(bao_up: VaultServer, database_url: str) -> Iterator[World]:
    """`world` of conftest (with only the owner), over the non-dev OpenBao."""
    org, other = unique_slug("fault"), "unused"
    tokens = populate_owner(database_url, org)
    vault = instance(bao_up)
    app = create_app(settings_for(vault, database_url), background_recovery=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield World(client, app, org, other, tokens, database_url, vault)


def service(w: World) -> SecretService:
    return w.app.state.secrets  # type: ignore[no-any-return]


# --- what Vault and the database hold, read from outside the app --------------------------


def read_kv(root: hvac.Client, path: str) -> dict[str, Any] | None:
    try:
        result = root.secrets.kv.v2.read_secret_version(
            path, mount_point=KV, raise_on_deleted_version=True
        )
    except hvac.exceptions.InvalidPath:
        return None
    return dict(result["data"]["data"])


def vault_state(bao: VaultServer, org: str) -> dict[str, dict[str, tuple[str, int, str]]]:
    """env -> name -> (secret id, entry version, ciphertext), out-of-line values resolved:
    what an executor reads."""
    root = bao.root_client()
    state: dict[str, dict[str, tuple[str, int, str]]] = {}
    for env in layout.ENVIRONMENTS:
        raw = read_kv(root, layout.index_path(org, env))
        assert "pending" not in str(raw), f"an index holds something uncommitted: {raw}"
        entries = layout.decode_index(raw)
        resolved = {}
        for name, entry in entries.items():
            ct = entry.ct
            if ct is None:
                large = read_kv(root, entry.ref or "")
                ct = None if large is None else large["ct"]
            resolved[name] = (entry.id, entry.version, str(ct))
        state[env] = resolved
    return state


def outbox_left(w: World) -> list[int]:
    """Committed changes that Vault has not taken yet."""
    return outbox_rows(w.database_url, w.org)


def plaintext(bao: VaultServer, org: str, env: str, ct: str) -> str:
    """Decrypt with root: only the test may; the facade's policy denies it."""
    import base64

    result = bao.root_client().secrets.transit.decrypt_data(
        layout.transit_key(org, env), ct, mount_point=DEFAULT_TRANSIT_MOUNT
    )
    return base64.b64decode(result["data"]["plaintext"]).decode()


def values_in_vault(bao: VaultServer, org: str) -> dict[str, dict[str, str]]:
    """env -> name -> the decrypted value: what an executor would get."""
    return {
        env: {name: plaintext(bao, org, env, ct) for name, (_, _, ct) in entries.items()}
        for env, entries in vault_state(bao, org).items()
    }


def db_state(database_url: str, org: str) -> dict[str, Any]:
    """The organization's secret rows (every column, and under "values" its secret_value
    rows: env -> mask, for the environments set) and its number of audit records."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            org_id = conn.execute(
                sa.text("SELECT id FROM organization WHERE slug = :slug"), {"slug": org}
            ).scalar_one()
            rows = conn.execute(
                sa.text("SELECT * FROM secret WHERE org_id = :org ORDER BY name"), {"org": org_id}
            ).mappings()
            secrets = {row["name"]: {**row, "values": {}} for row in rows}
            by_id = {secret["id"]: secret for secret in secrets.values()}
            values = conn.execute(
                sa.text(
                    "SELECT v.secret_id, v.environment, v.mask FROM secret_value v"
                    " JOIN secret s ON s.id = v.secret_id WHERE s.org_id = :org"
                ),
                {"org": org_id},
            )
            for secret_id, env, mask in values:
                by_id[secret_id]["values"][env] = mask
            audit = conn.execute(
                sa.text("SELECT count(*) FROM audit_event WHERE org_id = :org"), {"org": org_id}
            ).scalar_one()
    finally:
        engine.dispose()
    return {"secrets": secrets, "audit_events": audit}


def assert_consistent(w: World, bao: VaultServer) -> None:
    """Vault holds exactly what the database says: no orphan, nothing missing, no change
    left in the outbox."""
    db = db_state(w.database_url, w.org)["secrets"]
    vault = vault_state(bao, w.org)
    problems = []
    for env in layout.ENVIRONMENTS:
        expected = {row["name"]: row["id"] for row in db.values() if env in row["values"]}
        held = {name: entry[0] for name, entry in vault[env].items()}
        if expected != held:
            problems.append(f"{env}: database says {expected}, Vault index holds {held}")
        for name, (_, _, ct) in vault[env].items():
            if not layout.is_ciphertext(ct):
                problems.append(f"{env}/{name}: not Transit ciphertext")
    left = outbox_left(w)
    if left:
        problems.append(f"outbox rows left: {left}")
    assert not problems, "\n".join(problems)


def assert_unavailable(response: httpx.Response, message: str) -> None:
    assert response.status_code == 503, (response.status_code, response.text)
    error = response.json()["error"]
    assert error["code"] == "vault_unavailable", error
    assert message in error["message"], error
    assert "nothing was written" in error["message"], error


def assert_unchanged(
    w: World, bao: VaultServer, db_before: dict[str, Any], vault_before: dict[str, Any]
) -> None:
    db_after = db_state(w.database_url, w.org)
    assert db_after == db_before, f"database changed:\nbefore {db_before}\nafter  {db_after}"
    vault_after = vault_state(bao, w.org)
    assert vault_after == vault_before, (
        f"Vault index changed:\nbefore {vault_before}\nafter  {vault_after}"
    )


def canary(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex}"


def take_down(bao: VaultServer, outage: str) -> None:
    if outage == "sealed":
        bao.seal()
    else:
        bao.stop()


def bring_back(bao: VaultServer) -> None:
    ensure_up(bao)


# --- Vault down for a whole request --------------------------------------------------------


@pytest.mark.parametrize("outage", ["stopped", "sealed"])
def test_vault_down_create_update_rename_delete(
    fw: World, bao_up: VaultServer, outage: str
) -> None:
    """Every write answers 503 with its message, changes nothing, and works once Vault is back."""
    w, org = fw, fw.org
    a = w.create(name="ALPHA", values={"development": canary("a-dev"), "production": "p" * 40})
    b_dev = canary("b-dev")
    b = w.create(name="BRAVO", values={"development": b_dev, "staging": canary("b-st")})
    c = w.create(name="CHARLIE", values={"production": canary("c-prod")})
    db_before, vault_before = db_state(w.database_url, org), vault_state(bao_up, org)

    new_dev, new_alpha = canary("new-dev"), canary("alpha-dev-2")
    requests: list[tuple[str, str, dict[str, Any] | None, int]] = [
        ("POST", "", {"name": "DELTA", "values": {"development": new_dev, "production": "x"}}, 201),
        ("PATCH", a["id"], {"values": {"development": new_alpha, "production": None}}, 200),
        ("PATCH", b["id"], {"name": "BRAVO_RENAMED"}, 200),
        ("DELETE", c["id"], None, 204),
    ]
    message = SEALED_MESSAGE if outage == "sealed" else UNREACHABLE_MESSAGE
    take_down(bao_up, outage)
    for method, secret_id, body, _ in requests:
        path = f"/api/orgs/{org}/secrets" + (f"/{secret_id}" if secret_id else "")
        response = w.call("owner", method, path, json=body)
        print(method, secret_id or "(new)", response.status_code, response.text)
        assert_unavailable(response, message)
        # The database answers reads meanwhile, and shows nothing changed.
        if secret_id:
            detail = w.call("owner", "GET", path).json()
            assert detail["version"] == 1, detail
    bring_back(bao_up)

    assert outbox_left(w) == [], "a write that failed whole left a change in the outbox"
    assert_unchanged(w, bao_up, db_before, vault_before)
    assert service(w).recover_all() == 0

    for method, secret_id, body, status in requests:
        path = f"/api/orgs/{org}/secrets" + (f"/{secret_id}" if secret_id else "")
        response = w.call("owner", method, path, json=body)
        assert response.status_code == status, (method, secret_id, response.text)
    assert_consistent(w, bao_up)
    values = values_in_vault(bao_up, org)
    assert values["development"] == {"ALPHA": new_alpha, "BRAVO_RENAMED": b_dev, "DELTA": new_dev}
    assert values["production"] == {"DELTA": "x"}
    assert set(values["staging"]) == {"BRAVO_RENAMED"}
    assert w.call("owner", "GET", f"/api/orgs/{org}/secrets/{c['id']}").status_code == 404
    assert db_state(w.database_url, org)["secrets"]["ALPHA"]["values"].get("production") is None


# --- Vault goes down in the middle of applying a committed change ------------------------


def trigger_before(
    monkeypatch: pytest.MonkeyPatch, env: str, action: Callable[[], None]
) -> list[str]:
    """Run `action` (take Vault down, or crash) just before the first write to `env`'s index
    (`env="*"`: before the first index write of all).

    Wraps vaultfront's own `VaultStore.write_index`; Vault itself stays real. The facade
    writes the environments of one change side by side, so the wrapper orders them: the
    write to `env` waits until development's (when there is one) is done, and writes that
    come after the trigger start only once `action` has run. Returns the log of the
    environments written, to show where the operation stood.
    """
    real = VaultStore.write_index
    applied: list[str] = []
    development_done = threading.Event()
    gate = threading.Lock()

    def wrapper(self: VaultStore, org: str, target: str, *args: Any, **kwargs: Any) -> Any:
        if target == env or env == "*":
            if target != "development" and env != "*":
                development_done.wait(10)
            with gate:
                if "TRIGGERED" not in applied:
                    applied.append("TRIGGERED")
                    action()
        elif target != "development":
            with gate:
                pass
        try:
            result = real(self, org, target, *args, **kwargs)
        finally:
            if target == "development":
                development_done.set()
        applied.append(str(target))
        return result

    monkeypatch.setattr(VaultStore, "write_index", wrapper)
    return applied


def fault_request(w: World, op: str, secret: dict[str, Any]) -> tuple[str, str, Any, int]:
    base = f"/api/orgs/{w.org}/secrets"
    if op == "create":
        body = {"name": "ECHO", "values": {"development": "dev-new-1", "production": "prod-new-1"}}
        return "POST", base, body, 201
    if op == "update":
        body = {
            "name": "ALPHA_RENAMED",
            "values": {"development": "dev-new-2", "production": "prod-new-2"},
        }
        return "PATCH", f"{base}/{secret['id']}", body, 200
    return "DELETE", f"{base}/{secret['id']}", None, 204


EXPECTED_AFTER: dict[str, dict[str, dict[str, str]]] = {
    "create": {
        "development": {"ALPHA": "dev-old", "ECHO": "dev-new-1"},
        "staging": {"ALPHA": "staging-old"},
        "production": {"ALPHA": "prod-old", "ECHO": "prod-new-1"},
    },
    "update": {
        "development": {"ALPHA_RENAMED": "dev-new-2"},
        "staging": {"ALPHA_RENAMED": "staging-old"},
        "production": {"ALPHA_RENAMED": "prod-new-2"},
    },
    "delete": {"development": {}, "staging": {}, "production": {}},
}


def committed_or_before(
    values: dict[str, dict[str, str]], before: dict[str, dict[str, str]], op: str
) -> None:
    """Each environment holds either the state from before or the committed one: never a
    value that was not committed, never a mix inside one environment."""
    for env, held in values.items():
        assert held in (before[env], EXPECTED_AFTER[op][env]), (env, held)


@pytest.mark.parametrize("outage", ["stopped", "sealed"])
@pytest.mark.parametrize("op", ["create", "update", "delete"])
def test_vault_lost_between_two_index_writes(
    fw: World, bao_up: VaultServer, monkeypatch: pytest.MonkeyPatch, op: str, outage: str
) -> None:
    """The database committed and development's index is written, then Vault goes away
    before production's.

    The write stands (the commit point is the database): it is answered as the success it
    is, the outbox keeps the change, and an executor reads, per environment, either the
    value from before or the committed one. Once Vault is back, recovery finishes it.
    """
    w, org = fw, fw.org
    alpha = w.create(
        name="ALPHA",
        values={"development": "dev-old", "staging": "staging-old", "production": "prod-old"},
    )
    values_before = values_in_vault(bao_up, org)
    method, path, body, status = fault_request(w, op, alpha)

    applied = trigger_before(monkeypatch, "production", lambda: take_down(bao_up, outage))
    response = w.call("owner", method, path, json=body)
    print("applied:", applied, "->", response.status_code, response.text)
    assert "development" in applied and "production" not in applied, applied
    assert response.status_code == status, response.text
    monkeypatch.undo()
    bring_back(bao_up)

    assert len(outbox_left(w)) == 1, outbox_left(w)
    partial = values_in_vault(bao_up, org)
    print("before recovery:", partial)
    assert partial["development"] == EXPECTED_AFTER[op]["development"]
    assert partial["production"] == values_before["production"]
    committed_or_before(partial, values_before, op)

    assert service(w).recover_all() == 1
    assert_consistent(w, bao_up)
    assert values_in_vault(bao_up, org) == EXPECTED_AFTER[op]


# --- Vault refuses in the middle: a real policy denial on one index -------------------------


def deny_production_writes(bao: VaultServer, org: str) -> None:
    """Edit the facade's policy with root: production's index of `org` becomes read-only."""
    root = bao.root_client()
    rules = root.sys.read_policy(operator.FACADE_POLICY)["data"]["rules"]
    rules += f'\npath "{KV}/data/{layout.index_path(org, "production")}" {{\n'
    rules += '  capabilities = ["read"]\n}\n'
    root.sys.create_or_update_policy(operator.FACADE_POLICY, rules)


@pytest.mark.parametrize("op", ["create", "update", "delete"])
def test_vault_refuses_production_index_after_development(
    fw: World, bao_up: VaultServer, op: str
) -> None:
    """Committed, development written, production refused (403): the write stands, the
    change waits in the outbox (logged), and production's executor keeps reading its
    committed value from before until the policy is repaired; then recovery finishes."""
    w, org = fw, fw.org
    alpha = w.create(
        name="ALPHA",
        values={"development": "dev-old", "staging": "staging-old", "production": "prod-old"},
    )
    values_before = values_in_vault(bao_up, org)
    policy = bao_up.root_client().sys.read_policy(operator.FACADE_POLICY)["data"]["rules"]
    method, path, body, status = fault_request(w, op, alpha)

    deny_production_writes(bao_up, org)
    response = w.call("owner", method, path, json=body)
    print(response.status_code, response.text)
    assert response.status_code == status, response.text
    assert len(outbox_left(w)) == 1
    held = values_in_vault(bao_up, org)
    assert held["production"] == values_before["production"], held
    committed_or_before(held, values_before, op)
    with pytest.raises(VaultUnavailable, match="permission denied"):
        service(w).recover_all()  # still refused: nothing changes
    assert values_in_vault(bao_up, org) == held

    bao_up.root_client().sys.create_or_update_policy(operator.FACADE_POLICY, policy)
    assert service(w).recover_all() == 1
    assert_consistent(w, bao_up)
    assert values_in_vault(bao_up, org) == EXPECTED_AFTER[op]


# --- the database fails at COMMIT, after Vault was written -----------------------------------


def plant_commit_bomb(database_url: str) -> None:
    """Make COMMIT fail for any change to a secret named DBFAIL*, long after flush succeeded.

    PostgreSQL: a DEFERRABLE INITIALLY DEFERRED constraint trigger raises at commit.
    SQLite has no deferred triggers, but it checks a deferred foreign key at COMMIT: a
    trigger inserts a dangling reference, and the commit fails with "FOREIGN KEY
    constraint failed" (vaultfront turns `PRAGMA foreign_keys` on).
    """
    engine = sa.create_engine(database_url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(
                sa.text(
                    "CREATE FUNCTION commit_bomb() RETURNS trigger LANGUAGE plpgsql AS $$ "
                    "BEGIN IF (CASE WHEN TG_OP = 'DELETE' THEN OLD.name ELSE NEW.name END) "
                    "LIKE 'DBFAIL%' THEN RAISE EXCEPTION 'commit bomb (%)', TG_OP; END IF; "
                    "RETURN NULL; END $$"
                )
            )
            conn.execute(
                sa.text(
                    "CREATE CONSTRAINT TRIGGER commit_bomb AFTER INSERT OR UPDATE OR DELETE "
                    "ON secret DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
                    "EXECUTE FUNCTION commit_bomb()"
                )
            )
        else:
            conn.exec_driver_sql("CREATE TABLE bomb_parent (id INTEGER PRIMARY KEY)")
            conn.exec_driver_sql(
                "CREATE TABLE bomb (parent INTEGER REFERENCES bomb_parent (id) "
                "DEFERRABLE INITIALLY DEFERRED)"
            )
            for trigger in (
                "CREATE TRIGGER bomb_insert AFTER INSERT ON secret WHEN NEW.name LIKE 'DBFAIL%' "
                "BEGIN INSERT INTO bomb VALUES (-1); END",
                "CREATE TRIGGER bomb_update AFTER UPDATE ON secret WHEN NEW.name LIKE 'DBFAIL%' "
                "BEGIN INSERT INTO bomb VALUES (-1); END",
                "CREATE TRIGGER bomb_delete AFTER DELETE ON secret WHEN OLD.name LIKE 'DBFAIL%' "
                "BEGIN INSERT INTO bomb VALUES (-1); END",
            ):
                conn.exec_driver_sql(trigger)
    engine.dispose()


def assert_no_write_lock_held(database_url: str) -> None:
    """Another writer gets the database (SQLite) or the organization's row (PostgreSQL)."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA busy_timeout=2000")
                statement = "BEGIN IMMEDIATE"
            else:
                conn.exec_driver_sql("SET lock_timeout = '2s'")
                statement = "SELECT id FROM organization FOR UPDATE"
            try:
                conn.exec_driver_sql(statement)
            except sa.exc.OperationalError as exc:
                pytest.fail(f"the failed commit left the write lock held: {exc.orig}")
            conn.rollback()
    finally:
        engine.dispose()


def defuse_commit_bomb(database_url: str) -> None:
    engine = sa.create_engine(database_url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("DROP TRIGGER commit_bomb ON secret"))
        else:
            for name in ("bomb_insert", "bomb_update", "bomb_delete"):
                conn.exec_driver_sql(f"DROP TRIGGER {name}")
    engine.dispose()


def count_index_writes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every index write the facade makes from now on, by environment."""
    real = VaultStore.write_index
    written: list[str] = []

    def spy(self: VaultStore, org: str, env: str, *args: Any, **kwargs: Any) -> Any:
        written.append(env)
        return real(self, org, env, *args, **kwargs)

    monkeypatch.setattr(VaultStore, "write_index", spy)
    return written


@pytest.mark.parametrize("op", ["create", "update", "delete"])
def test_database_fails_at_commit(
    fw: World, bao_up: VaultServer, monkeypatch: pytest.MonkeyPatch, op: str
) -> None:
    """COMMIT fails (after the values were encrypted): 500, Vault was never written,
    nothing is left anywhere, and the lock is released."""
    w, org = fw, fw.org
    name = "DBFAIL_ALPHA" if op == "delete" else "ALPHA"
    alpha = w.create(name=name, values={"development": "dev-old", "production": "prod-old"})
    db_before, vault_before = db_state(w.database_url, org), vault_state(bao_up, org)
    values_before = values_in_vault(bao_up, org)
    path = f"/api/orgs/{org}/secrets/{alpha['id']}"
    body: dict[str, Any] | None = None
    if op == "create":
        method, path, status = "POST", f"/api/orgs/{org}/secrets", 201
        body = {"name": "DBFAIL_NEW", "values": {"development": "dev-new", "production": "x"}}
    elif op == "update":
        method, status = "PATCH", 200
        body = {"name": "DBFAIL_RENAMED", "values": {"development": "dev-new"}}
    else:
        method, status = "DELETE", 204

    written = count_index_writes(monkeypatch)
    plant_commit_bomb(w.database_url)
    response = w.call("owner", method, path, json=body)
    print(written, response.status_code, response.text)
    assert written == [], "Vault's index was written before the commit"
    assert response.status_code == 500, response.text
    assert response.json()["error"]["code"] == "internal"
    assert "DBFAIL" not in response.text and "bomb" not in response.text
    assert outbox_left(w) == []
    assert_unchanged(w, bao_up, db_before, vault_before)
    assert values_in_vault(bao_up, org) == values_before
    assert_no_write_lock_held(w.database_url)

    defuse_commit_bomb(w.database_url)
    response = w.call("owner", method, path, json=body)
    assert response.status_code == status, response.text
    assert_consistent(w, bao_up)


# --- the process dies between the Vault writes and the commit, or just after the commit ------


def act(w: World, who: str, work: Callable[[SecretService, Any, Any], Any]) -> Any:
    """Call the service directly as `who` (no HTTP: a BaseException must reach the test)."""
    svc = service(w)
    email = f"{who}@example.com"
    with svc.db.session() as session:
        user = session.exec(select(User).where(User.email == email)).one()
        actor = members.actor_for(session, user, w.org)
        return work(svc, session, actor)


def run_op(w: World, op: str, secret: dict[str, Any]) -> None:
    if op == "create":
        request = schemas.parse_create(
            {"name": "ECHO", "values": {"development": "dev-new-1", "production": "prod-new-1"}}
        )
        act(w, "owner", lambda svc, s, a: svc.create(s, a, request))
    elif op == "update":
        update = schemas.parse_update(
            {"name": "ALPHA_RENAMED", "values": {"development": "dev-new-2", "production": None}}
        )
        act(w, "owner", lambda svc, s, a: svc.update(s, a, secret["id"], update, None))
    else:
        act(w, "owner", lambda svc, s, a: svc.delete(s, a, secret["id"], None))


def crash_before_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    """The process dies after the values were encrypted and the rows flushed, before COMMIT."""

    def dies(self: SecretService, session: Any, org: Any, changes: Any) -> None:
        raise Crash("the process died before the database commit")

    monkeypatch.setattr(SecretService, "_commit", dies)


def crash_after_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    """The process dies right after COMMIT, before Vault was written."""
    real_commit = SecretService._commit

    def commit_then_die(self: SecretService, session: Any, org: Any, changes: Any) -> None:
        monkeypatch.setattr(Outbox, "apply", dies)
        real_commit(self, session, org, changes)

    def dies(self: Outbox, org_id: int, batch: Any = None) -> int:
        raise Crash("the process died after the commit, before Vault was written")

    monkeypatch.setattr(SecretService, "_commit", commit_then_die)


def crash_between_index_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The process dies after development's index was written, before production's."""

    def dies() -> None:
        raise Crash("the process died between two index writes")

    trigger_before(monkeypatch, "production", dies)


def crash_before_outbox_cleared(monkeypatch: pytest.MonkeyPatch) -> None:
    """The process dies after every index was written, before the outbox row was deleted."""

    def dies(self: Outbox, ids: list[int]) -> None:
        raise Crash("the process died before clearing the outbox")

    monkeypatch.setattr(Outbox, "_delete_rows", dies)


@pytest.mark.parametrize("op", ["create", "update", "delete"])
def test_crash_before_commit_is_rolled_back(
    fw: World, bao_up: VaultServer, monkeypatch: pytest.MonkeyPatch, op: str
) -> None:
    """Encrypted, rows flushed, the process dies before COMMIT: the database rolls back, and
    Vault was never written, so there is nothing to repair."""
    w, org = fw, fw.org
    alpha = w.create(
        name="ALPHA",
        values={"development": "dev-old", "staging": "staging-old", "production": "prod-old"},
    )
    db_before, vault_before = db_state(w.database_url, org), vault_state(bao_up, org)
    values_before = values_in_vault(bao_up, org)

    crash_before_commit(monkeypatch)
    with pytest.raises(Crash):
        run_op(w, op, alpha)
    monkeypatch.undo()

    assert outbox_left(w) == []
    assert_unchanged(w, bao_up, db_before, vault_before)
    assert values_in_vault(bao_up, org) == values_before, "an executor sees an uncommitted change"
    assert service(w).recover_all() == 0
    assert_consistent(w, bao_up)

    run_op(w, op, alpha)  # the same operation, now without a crash
    assert_consistent(w, bao_up)


CRASHES_AFTER_COMMIT = {
    "after the commit": crash_after_commit,
    "between two index writes": crash_between_index_writes,
    "before the outbox is cleared": crash_before_outbox_cleared,
}


@pytest.mark.parametrize("crash", sorted(CRASHES_AFTER_COMMIT))
@pytest.mark.parametrize("op", ["create", "update", "delete"])
def test_crash_after_commit_keeps_the_committed_state(
    fw: World, bao_up: VaultServer, monkeypatch: pytest.MonkeyPatch, op: str, crash: str
) -> None:
    """Database committed, Vault not (or not wholly) written when the process dies: the
    outbox keeps the change, an executor reads per environment the value from before or the
    committed one, and recovery (here: the next write to the organization) finishes it."""
    w, org = fw, fw.org
    alpha = w.create(
        name="ALPHA",
        values={"development": "dev-old", "staging": "staging-old", "production": "prod-old"},
    )
    values_before = values_in_vault(bao_up, org)
    CRASHES_AFTER_COMMIT[crash](monkeypatch)
    with pytest.raises(Crash):
        run_op(w, op, alpha)
    monkeypatch.undo()
    service(w).outbox.forget()  # a new process knows nothing of the documents

    left = outbox_left(w)
    db_after = db_state(w.database_url, org)
    print("after the crash: outbox", left, "db", sorted(db_after["secrets"]))
    assert len(left) == 1, left
    expected_names = {"create": {"ALPHA", "ECHO"}, "update": {"ALPHA_RENAMED"}, "delete": set()}
    assert set(db_after["secrets"]) == expected_names[op]
    expected = {
        "create": EXPECTED_AFTER["create"],
        "update": {
            "development": {"ALPHA_RENAMED": "dev-new-2"},
            "staging": {"ALPHA_RENAMED": "staging-old"},
            "production": {},
        },
        "delete": EXPECTED_AFTER["delete"],
    }[op]
    for env, held in values_in_vault(bao_up, org).items():
        assert held in (values_before[env], expected[env]), (env, held)

    # The next write to the organization applies what was left first.
    w.create(name="ZULU", values={"staging": "z"})
    assert outbox_left(w) == []
    assert_consistent(w, bao_up)
    after = values_in_vault(bao_up, org)
    assert after["staging"].pop("ZULU") == "z"
    assert after == expected


# --- recovery when the app starts again ------------------------------------------------------


def wait_for_empty_outbox(w: World, timeout: float = 20) -> float:
    started = time.monotonic()
    while outbox_left(w):
        if time.monotonic() - started > timeout:
            pytest.fail(f"the outbox of {w.org} still holds {outbox_left(w)}")
        time.sleep(0.1)
    return time.monotonic() - started


def test_restarted_app_recovers_at_start_up(
    fw: World, bao_up: VaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process dies right after a create committed; Vault restarts too; a new app
    applies the change on start-up."""
    w, org = fw, fw.org
    w.create(name="ALPHA", values={"development": "dev-old"})
    crash_after_commit(monkeypatch)
    with pytest.raises(Crash):
        run_op(w, "create", {})
    monkeypatch.undo()
    assert len(outbox_left(w)) == 1
    assert set(values_in_vault(bao_up, org)["development"]) == {"ALPHA"}

    bao_up.restart()  # the same storage, sealed, then unsealed
    app = create_app(settings_for(instance(bao_up), w.database_url), background_recovery=True)
    with TestClient(app, raise_server_exceptions=False):
        took = wait_for_empty_outbox(w)
    print(f"recovered {took:.2f} s after start-up")
    assert_consistent(w, bao_up)
    assert values_in_vault(bao_up, org)["development"] == {"ALPHA": "dev-old", "ECHO": "dev-new-1"}


def test_background_recovery_waits_for_unseal(
    fw: World,
    bao_up: VaultServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Started while Vault is sealed, the app postpones recovery and applies after unseal."""
    w, org = fw, fw.org
    alpha = w.create(name="ALPHA", values={"development": "dev-old", "production": "prod-old"})
    crash_after_commit(monkeypatch)
    with pytest.raises(Crash):
        run_op(w, "delete", alpha)
    monkeypatch.undo()
    assert set(values_in_vault(bao_up, org)["production"]) == {"ALPHA"}

    bao_up.seal()
    monkeypatch.setattr(app_module, "RECOVERY_INTERVAL_SECONDS", 0.2)
    caplog.set_level(logging.WARNING, logger="vaultfront")
    app = create_app(settings_for(instance(bao_up), w.database_url), background_recovery=True)
    with TestClient(app, raise_server_exceptions=False):
        deadline = time.monotonic() + 10
        while "recovery postponed" not in caplog.text:
            assert time.monotonic() < deadline, caplog.text
            time.sleep(0.05)
        bao_up.unseal()
        wait_for_empty_outbox(w)
    assert_consistent(w, bao_up)
    assert values_in_vault(bao_up, org) == EXPECTED_AFTER["delete"]


@pytest.mark.parametrize("outage", ["stopped", "sealed"])
def test_vault_lost_after_the_commit_keeps_the_write(
    fw: World, bao_up: VaultServer, monkeypatch: pytest.MonkeyPatch, outage: str
) -> None:
    """Vault goes away after the commit, before any index is written: the write stands.

    The answer is the success it is (the database committed). Until Vault is back and
    recovery applies the change, executors read the state from before; then the new one.
    """
    w, org = fw, fw.org
    trigger_before(monkeypatch, "*", lambda: take_down(bao_up, outage))
    created = w.create(name="ECHO", values={"development": "dev-new", "staging": "stg-new"})
    monkeypatch.undo()
    bring_back(bao_up)

    assert len(outbox_left(w)) == 1
    assert vault_state(bao_up, org) == {"development": {}, "staging": {}, "production": {}}
    assert service(w).recover_all() == 1
    assert set(vault_state(bao_up, org)["development"]) == {"ECHO"}
    assert_consistent(w, bao_up)
    detail = w.call("owner", "GET", f"/api/orgs/{org}/secrets/{created['id']}").json()
    assert detail["values"]["staging"] == {"set": True, "mask": "***"}, detail
    assert values_in_vault(bao_up, org)["staging"] == {"ECHO": "stg-new"}


def test_executor_never_sees_a_failed_create(
    fw: World, bao_up: VaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A create whose COMMIT fails was never decryptable by the executor."""
    from executor_helpers import executor_for

    w, org = fw, fw.org
    w.create(name="ALPHA", values={"development": "dev-old"})
    plant_commit_bomb(w.database_url)
    body = {"name": "DBFAIL_NEW", "values": {"development": "dev-new", "production": "x"}}
    assert w.call("owner", "POST", f"/api/orgs/{org}/secrets", json=body).status_code == 500
    defuse_commit_bomb(w.database_url)

    executor = executor_for(bao_up.root_client(), bao_up.addr, org, "development")
    resolved = executor.resolve_all()
    print("the development executor resolves:", sorted(resolved))
    assert set(resolved) == {"ALPHA"}, sorted(resolved)
