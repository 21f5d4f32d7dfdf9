"""Writers to one organization share its index documents: they must neither lose nor
reorder each other's changes (docs/design.md, "Ordering"). Real OpenBao, both databases,
real threads through the service."""

from __future__ import annotations

import base64
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from conftest import World, outbox_rows
from sqlmodel import select

from vaultfront import layout, schemas
from vaultfront.errors import AppError, VersionConflict
from vaultfront.models import Secret, User
from vaultfront.service import members

KV = "vaultfront"
TRANSIT = "vaultfront-transit"


def as_owner(world: World) -> tuple[Any, Any]:
    app = world.app
    with app.state.db.session() as session:
        user = session.exec(select(User).where(User.email == "owner@example.com")).one()
        actor = members.actor_for(session, user, world.org)
    return app.state.secrets, actor


def index(world: World, env: str) -> dict[str, layout.Entry]:
    root = world.vault.root_client()
    data = root.secrets.kv.v2.read_secret_version(
        layout.index_path(world.org, env), mount_point=KV, raise_on_deleted_version=True
    )["data"]["data"]
    return layout.decode_index(data)


def decrypt(world: World, env: str, ciphertext: str) -> str:
    root = world.vault.root_client()
    result = root.secrets.transit.decrypt_data(
        layout.transit_key(world.org, env), ciphertext, mount_point=TRANSIT
    )
    return base64.b64decode(result["data"]["plaintext"]).decode()


def test_concurrent_creates_lose_nothing(world: World) -> None:
    service, actor = as_owner(world)
    names = [f"CONCURRENT_{i:02d}" for i in range(24)]
    values = {name: f"value-{name}-{uuid.uuid4().hex}" for name in names}
    start = threading.Barrier(6)

    def create(batch: list[str]) -> list[str]:
        start.wait()
        done = []
        for name in batch:
            request = schemas.parse_create(
                {"name": name, "values": {env: values[name] for env in layout.ENVIRONMENTS}}
            )
            with world.app.state.db.session() as session:
                service.create(session, actor, request)
            done.append(name)
        return done

    batches = [names[i::6] for i in range(6)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        created = [name for done in pool.map(create, batches) for name in done]
    assert sorted(created) == names

    with world.app.state.db.session() as session:
        rows = session.exec(select(Secret).where(Secret.org_id == actor.org.id)).all()
    assert sorted(row.name for row in rows) == names
    for env in layout.ENVIRONMENTS:
        entries = index(world, env)
        assert sorted(entries) == names, f"{env}: the index lost or kept extra entries"
        for name in names[:3]:  # decrypting all 72 would only repeat the point
            assert decrypt(world, env, entries[name].ct or "") == values[name]


def test_concurrent_patches_with_the_same_if_match_one_wins(world: World) -> None:
    service, actor = as_owner(world)
    with world.app.state.db.session() as session:
        detail = service.create(
            session,
            actor,
            schemas.parse_create({"name": "RACED", "values": {"staging": "v0-initial"}}),
        )
    start = threading.Barrier(6)
    attempts = {i: f"attempt-{i}-{uuid.uuid4().hex}" for i in range(6)}

    def patch(i: int) -> tuple[int, str]:
        request = schemas.parse_update({"values": {"staging": attempts[i]}})
        start.wait()
        try:
            with world.app.state.db.session() as session:
                service.update(session, actor, detail["id"], request, if_match=1)
        except VersionConflict:
            return i, "conflict"
        except AppError as exc:
            return i, f"{exc.code}: {exc.message}"
        return i, "ok"

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = dict(pool.map(patch, range(6)))
    winners = [i for i, outcome in outcomes.items() if outcome == "ok"]
    assert len(winners) == 1, outcomes
    assert all(o in ("ok", "conflict") for o in outcomes.values()), outcomes

    with world.app.state.db.session() as session:
        row = session.get(Secret, detail["id"])
        assert row is not None and row.version == 2, row
    entries = index(world, "staging")
    assert set(entries) == {"RACED"}, entries
    assert decrypt(world, "staging", entries["RACED"].ct or "") == attempts[winners[0]]


def test_concurrent_mixed_writes_leave_vault_and_database_agreeing(world: World) -> None:
    service, actor = as_owner(world)
    start = threading.Barrier(5)

    def lifecycle(worker: int) -> str:
        start.wait()
        with world.app.state.db.session() as session:
            created = service.create(
                session,
                actor,
                schemas.parse_create(
                    {
                        "name": f"MIXED_{worker}",
                        "values": {
                            env: f"w{worker}-{env}-{uuid.uuid4().hex}"
                            for env in layout.ENVIRONMENTS
                        },
                    }
                ),
            )
        steps: list[dict[str, Any]] = [
            {"name": f"MIXED_{worker}_RENAMED"},
            {"values": {"staging": None, "production": f"w{worker}-new-{uuid.uuid4().hex}"}},
            {"description": f"worker {worker}", "values": {"staging": f"w{worker}-back"}},
        ]
        for step in steps:
            with world.app.state.db.session() as session:
                service.update(session, actor, created["id"], schemas.parse_update(step), None)
        if worker % 2:
            with world.app.state.db.session() as session:
                service.delete(session, actor, created["id"], None)
            return "deleted"
        return f"MIXED_{worker}_RENAMED"

    with ThreadPoolExecutor(max_workers=5) as pool:
        kept = sorted(name for name in pool.map(lifecycle, range(5)) if name != "deleted")
    assert kept == ["MIXED_0_RENAMED", "MIXED_2_RENAMED", "MIXED_4_RENAMED"]

    with world.app.state.db.session() as session:
        rows = {
            row.name: row
            for row in session.exec(select(Secret).where(Secret.org_id == actor.org.id)).all()
        }
    assert sorted(rows) == kept
    for env in layout.ENVIRONMENTS:
        entries = index(world, env)
        expected = {name: row.id for name, row in rows.items() if row.is_set(env)}
        held = {name: entry.id for name, entry in entries.items()}
        assert held == expected, f"{env}: Vault holds {held}, the database says {expected}"
    left = outbox_rows(world.database_url, world.org)
    assert left == [], f"outbox rows left: {left}"
