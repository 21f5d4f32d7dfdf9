"""The write path of SPEC sections 1 and 4, against real OpenBao and both databases:

- an executor polling Vault with its own token never decrypts a write that then fails;
- eight concurrent writers, across two organizations, all get an answer, none a 5xx;
- reads (and writes that need no Vault) go on while a write is stuck on a stopped Vault;
- the facade logs in again when Vault revokes its token.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import hvac
import hvac.exceptions
import pytest
import uvicorn
from conftest import VaultInstance, World, outbox_rows, populate, settings_for, unique_slug
from executor_helpers import executor_environ, executor_for, login
from sqlmodel import select
from starlette.applications import Starlette
from test_faults import defuse_commit_bomb, plant_commit_bomb

from vaultfront import layout, schemas
from vaultfront import vault_admin as operator
from vaultfront.config import DEFAULT_KV_MOUNT, DEFAULT_TRANSIT_MOUNT
from vaultfront.devserver import DevServer, free_port, start_dev_server
from vaultfront.models import Organization, Secret, User
from vaultfront.service import members
from vaultfront.service import tokens as token_store
from vaultfront.service.outbox import Outbox
from vaultfront.service.secrets import SecretService
from vaultfront.store import vault as vault_module
from vaultfront.store.vault import VaultStore
from vaultfront.web.app import create_app

KV = DEFAULT_KV_MOUNT


def canary(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex}"


def serve(app: Starlette) -> tuple[uvicorn.Server, str]:
    """The app under uvicorn in a thread: requests from several threads run concurrently
    in its thread pool, as in production."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-write-path", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    return server, f"http://127.0.0.1:{port}"


# --- an executor polling Vault never decrypts a failed write ------------------------------


class Poller:
    """An executor's own token reading everything its policy allows, decrypting every
    ciphertext it finds, until stopped. `seen` holds each plaintext it got."""

    def __init__(self, client: hvac.Client, org: str, env: str, ids: Callable[[], list[str]]):
        self.client, self.org, self.env, self.ids = client, org, env, ids
        self.seen: set[str] = set()
        self.rounds = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def read(self, path: str) -> dict[str, Any] | None:
        try:
            result = self.client.secrets.kv.v2.read_secret_version(
                path, mount_point=KV, raise_on_deleted_version=True
            )
        except (hvac.exceptions.InvalidPath, hvac.exceptions.Forbidden):
            return None
        return dict(result["data"]["data"])

    def ciphertexts(self) -> list[str]:
        found: list[str] = []
        index = self.read(layout.index_path(self.org, self.env))
        if index is not None:
            for item in json.loads(index["secrets"]).values():
                found += [v for v in (item.get("ct"), (item.get("pending") or {}).get("ct")) if v]
                if item.get("ref"):
                    large = self.read(item["ref"])
                    found += [large["ct"]] if large else []
        # Out-of-line paths it may guess: every version of every secret id it knows of.
        for secret_id in self.ids():
            for version in range(1, 8):
                large = self.read(layout.large_path(self.org, self.env, secret_id, version))
                found += [large["ct"]] if large else []
        return found

    def run(self) -> None:
        key = layout.transit_key(self.org, self.env)
        while not self.stop.is_set():
            batch = [{"ciphertext": ct} for ct in self.ciphertexts()]
            if batch:
                result = self.client.secrets.transit.decrypt_data(
                    key, "", batch_input=batch, mount_point=DEFAULT_TRANSIT_MOUNT
                )
                for item in result["data"]["batch_results"]:
                    self.seen.add(base64.b64decode(item["plaintext"]).decode())
            self.rounds += 1

    def __enter__(self) -> Poller:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)


class Crash(BaseException):
    """The process dies here."""


def test_an_executor_polling_vault_never_decrypts_a_failed_write(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    w, org, env = world, world.org, "staging"
    root = w.vault.root_client()
    environ = executor_environ(root, w.vault.addr, org, env)
    known_ids: list[str] = []
    committed: set[str] = set()
    failed: set[str] = set()
    base = f"/api/orgs/{org}/secrets"

    def create(name: str, value: str) -> httpx.Response:
        body = {"name": name, "values": {env: value, "production": canary("p")}}
        return w.call("owner", "POST", base, json=body)

    first = canary("committed")
    kept = create("KEPT", first)
    assert kept.status_code == 201, kept.text
    committed.add(first)
    known_ids.append(kept.json()["id"])

    with Poller(login(w.vault.addr, environ), org, env, lambda: list(known_ids)) as poller:
        plant_commit_bomb(w.database_url)
        for i in range(6):
            # A create and an update (rename + new value) whose COMMIT fails; one value
            # in three is large enough to go out of line.
            value = canary(f"failed-create-{i}") + ("x" * 6000 if i % 3 == 0 else "")
            failed.add(value)
            assert create(f"DBFAIL_NEW_{i}", value).status_code == 500
            value = canary(f"failed-update-{i}") + ("y" * 6000 if i % 3 == 1 else "")
            failed.add(value)
            body = {"name": f"DBFAIL_KEPT_{i}", "values": {env: value}}
            assert w.call("owner", "PATCH", f"{base}/{known_ids[0]}", json=body).status_code == 500
            # Refused before anything is written: a stale If-Match, a taken name.
            value = canary(f"stale-{i}")
            failed.add(value)
            stale = w.call(
                "owner",
                "PATCH",
                f"{base}/{known_ids[0]}",
                json={"values": {env: value}},
                headers={"If-Match": '"999"'},
            )
            assert stale.status_code == 412, stale.text
            value = canary(f"taken-{i}")
            failed.add(value)
            assert create("KEPT", value).status_code == 409
            # Committed writes in between, some large.
            value = canary(f"ok-{i}") + ("z" * 6000 if i % 2 else "")
            response = create(f"OK_{i}", value)
            assert response.status_code == 201, response.text
            committed.add(value)
            known_ids.append(response.json()["id"])
        defuse_commit_bomb(w.database_url)

        # The process dies after encrypting and flushing, before COMMIT.
        svc: SecretService = w.app.state.secrets

        def dies(self: SecretService, session: Any, org: Any, changes: Any) -> None:
            raise Crash()

        monkeypatch.setattr(SecretService, "_commit", dies)
        with svc.db.session() as session:
            user = session.exec(select(User).where(User.email == "owner@example.com")).one()
            actor = members.actor_for(session, user, org)
            for i in range(3):
                value = canary(f"crashed-{i}") + ("w" * 6000 if i == 0 else "")
                failed.add(value)
                request = schemas.parse_create({"name": f"CRASH_{i}", "values": {env: value}})
                with pytest.raises(Crash):
                    svc.create(session, actor, request)
        monkeypatch.undo()
        rounds = poller.rounds
        while poller.rounds < rounds + 2:  # two full rounds after the last write
            time.sleep(0.01)

    print(f"poller: {poller.rounds} rounds, {len(poller.seen)} values seen")
    assert not poller.seen & failed, "an executor decrypted a write that failed"
    assert poller.seen <= committed, "an executor decrypted something never committed"
    assert first in poller.seen and poller.seen & (committed - {first}), "the poller saw nothing"
    final = executor_for(root, w.vault.addr, org, env).resolve_all()
    assert set(final.values()) <= committed and not set(final.values()) & failed


# --- eight concurrent writers --------------------------------------------------------------


def test_eight_concurrent_writers_across_two_organizations_all_succeed(
    vault: VaultInstance, database_url: str
) -> None:
    """Creates with three values, PATCHes and deletes, 8 at a time over two organizations:
    every request answered, none with a 5xx, and Vault holds exactly what the database
    says afterwards. SPEC section 4: writers wait their turn and succeed."""
    orgs = [unique_slug("busy"), unique_slug("busy")]
    tokens = populate(database_url, orgs[0], orgs[1])
    who = {orgs[0]: tokens["owner"], orgs[1]: tokens["outsider"]}  # a writer in each
    app = create_app(settings_for(vault, database_url), background_recovery=False)
    server, base = serve(app)
    statuses: list[tuple[str, int]] = []
    problems: list[str] = []

    def worker(n: int) -> None:
        org = orgs[n % 2]
        headers = {"Authorization": f"Bearer {who[org]}"}
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            for i in range(5):
                try:
                    path = f"/api/orgs/{org}/secrets"
                    name = f"W{n}_{i}"
                    values = {env: canary(env) for env in layout.ENVIRONMENTS}
                    created = client.post(path, json={"name": name, "values": values})
                    statuses.append(("create", created.status_code))
                    if created.status_code != 201:
                        problems.append(f"create {name}: {created.status_code} {created.text}")
                        continue
                    one = f"{path}/{created.json()['id']}"
                    for body in (
                        {"values": {"production": canary("p2")}},
                        {"name": f"{name}_R", "values": {"development": None}},
                    ):
                        patched = client.patch(one, json=body)
                        statuses.append(("patch", patched.status_code))
                    if i % 2:
                        statuses.append(("delete", client.delete(one).status_code))
                except httpx.HTTPError as exc:
                    problems.append(f"worker {n}: no answer ({type(exc).__name__})")

    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(worker, range(8)))
    finally:
        server.should_exit = True
    counts: dict[str, int] = {}
    for kind, status in statuses:
        counts[f"{kind} {status}"] = counts.get(f"{kind} {status}", 0) + 1
    print(sorted(counts.items()))
    assert not problems, "\n".join(problems[:10])
    assert all(status < 500 for _, status in statuses), counts
    assert len(statuses) == 8 * 5 * 3 + 8 * 2, counts  # every request was answered
    assert all(status in (200, 201, 204) for _, status in statuses), counts

    root = vault.root_client()
    for org in orgs:
        assert outbox_rows(database_url, org) == []
        with app.state.db.session() as session:
            org_row = session.exec(select(Organization).where(Organization.slug == org)).one()
            secrets = session.exec(select(Secret).where(Secret.org_id == org_row.id)).all()
            for env in layout.ENVIRONMENTS:
                data = root.secrets.kv.v2.read_secret_version(
                    layout.index_path(org, env), mount_point=KV, raise_on_deleted_version=True
                )["data"]["data"]
                held = {n: e.id for n, e in layout.decode_index(data).items()}
                expected = {s.name: s.id for s in secrets if s.is_set(env)}
                assert held == expected, (org, env)


# --- a write stuck on a stopped Vault holds up nothing else -----------------------------------


@dataclass
class Pausable:
    server: DevServer
    vault: VaultInstance

    def pause(self) -> None:
        os.kill(self.server.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.server.process.pid, signal.SIGCONT)


@pytest.fixture(scope="module")
def pausable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pausable]:
    """An OpenBao of this module's own, so that stopping it (SIGSTOP) stops no one else."""
    server = start_dev_server(log_dir=tmp_path_factory.mktemp("openbao-pausable"))
    try:
        creds = operator.bootstrap(hvac.Client(server.addr, token=server.root_token))
        yield Pausable(
            server, VaultInstance(server.addr, server.root_token, creds.role_id, creds.secret_id)
        )
    finally:
        os.kill(server.process.pid, signal.SIGCONT)
        server.stop()


@pytest.mark.parametrize("stuck", ["encrypting, before the commit", "applying, after the commit"])
def test_reads_and_other_organizations_go_on_while_a_write_is_stuck_on_vault(
    pausable: Pausable, database_url: str, monkeypatch: pytest.MonkeyPatch, stuck: str
) -> None:
    """Vault stops (SIGSTOP) under a write. Until it resumes: list, detail, /api/me, the
    first use of a fresh token, and a write to another organization that needs no Vault
    all answer 200, and all of them while the stuck write is still in flight."""
    monkeypatch.setattr(vault_module, "TIMEOUT_SECONDS", 60)  # stuck, not failed, meanwhile
    org, other = unique_slug("stuck"), unique_slug("free")
    tokens = populate(database_url, org, other)
    app = create_app(settings_for(pausable.vault, database_url), background_recovery=False)
    server, base = serve(app)
    owner = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {tokens['owner']}"})
    outsider = httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {tokens['outsider']}"}
    )
    try:
        mine = owner.post(
            f"/api/orgs/{org}/secrets", json={"name": "MINE", "values": {"staging": "s1"}}
        ).json()
        theirs = outsider.post(
            f"/api/orgs/{other}/secrets", json={"name": "THEIRS", "values": {"staging": "t1"}}
        ).json()
        inside = threading.Event()
        if stuck.startswith("encrypting"):
            real_encrypt = VaultStore.encrypt_many

            def encrypt_stuck(self: VaultStore, *args: Any) -> list[str]:
                if threading.current_thread().name != "MainThread" and not inside.is_set():
                    pausable.pause()
                    inside.set()
                return real_encrypt(self, *args)

            monkeypatch.setattr(VaultStore, "encrypt_many", encrypt_stuck)
        else:
            real_apply = Outbox.apply

            def apply_stuck(self: Outbox, org_id: int, batch: Any = None) -> int:
                if not inside.is_set():
                    pausable.pause()
                    inside.set()
                return real_apply(self, org_id, batch)

            monkeypatch.setattr(Outbox, "apply", apply_stuck)

        answer: list[httpx.Response] = []
        writer = threading.Thread(
            target=lambda: answer.append(
                owner.patch(
                    f"/api/orgs/{org}/secrets/{mine['id']}",
                    json={"values": {"staging": "s2"}},
                    timeout=120,
                )
            )
        )
        writer.start()
        assert inside.wait(30), "the write never reached Vault"
        try:
            with app.state.db.session() as session:
                user = session.exec(select(User).where(User.email == "viewer@example.com")).one()
                assert user.id is not None
                _, fresh = token_store.create_token(session, user.id, "fresh")
            checks = {
                "list": owner.get(f"/api/orgs/{org}/secrets"),
                "detail": owner.get(f"/api/orgs/{org}/secrets/{mine['id']}"),
                "me": owner.get("/api/me"),
                "a fresh token's first use": httpx.get(
                    f"{base}/api/orgs/{org}/secrets", headers={"Authorization": f"Bearer {fresh}"}
                ),
                "another organization's write": outsider.patch(
                    f"/api/orgs/{other}/secrets/{theirs['id']}", json={"description": "still here"}
                ),
                "another organization's list": outsider.get(f"/api/orgs/{other}/secrets"),
            }
            still_stuck = writer.is_alive()
        finally:
            pausable.resume()
        writer.join(timeout=120)
        for what, response in checks.items():
            assert response.status_code == 200, (what, response.status_code, response.text)
        assert still_stuck, "the stuck write finished before the reads: nothing was proven"
        assert answer and answer[0].status_code == 200, answer and answer[0].text
        detail = owner.get(f"/api/orgs/{org}/secrets/{mine['id']}").json()
        assert detail["version"] == 2, detail
    finally:
        server.should_exit = True
        owner.close()
        outsider.close()


# --- the facade logs in again when its token is revoked --------------------------------------


def test_the_facade_logs_in_again_when_vault_revokes_its_token(world: World) -> None:
    w = world
    w.create(name="BEFORE", values={"staging": "b"})
    store: VaultStore = w.app.state.vault
    revoked = store.client().token
    w.vault.root_client().auth.token.revoke(revoked)

    created = w.call(
        "owner",
        "POST",
        f"/api/orgs/{w.org}/secrets",
        json={"name": "AFTER", "values": {"staging": "a"}},
    )
    assert created.status_code == 201, created.text
    assert store.client().token != revoked
    resolved = executor_for(w.vault.root_client(), w.vault.addr, w.org, "staging").resolve_all()
    assert resolved == {"BEFORE": "b", "AFTER": "a"}
    assert outbox_rows(w.database_url, w.org) == []
