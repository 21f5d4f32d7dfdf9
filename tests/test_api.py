"""The JSON API of SPEC section 4, every row of both tables, on SQLite and PostgreSQL.

Each test gets a fresh `world` (an organization with its people, the app over the real
OpenBao dev server). What the API claims about Vault is checked in Vault itself, with the
root token, through the layout contract: KV mount `vaultfront`, index document
`orgs/{org}/{env}` holding `{"format", "secrets": "<json map NAME -> entry>"}`, large
values out of line in `orgs/{org}/{env}/large/{id}-{version}`, Transit key `org-{org}-{env}`.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import hvac
import hvac.exceptions
from conftest import assert_error, ok, outbox_rows, show
from sqlmodel import select

from vaultfront.db import Database
from vaultfront.models import User
from vaultfront.service import tokens as token_store

KV = "vaultfront"
TRANSIT = "vaultfront-transit"
ENVS = ("development", "staging", "production")
ROW_FIELDS = {"id", "name", "description", "owner", "created_at", "updated_at", "environments"}
DETAIL_FIELDS = ROW_FIELDS | {"version", "can_edit", "values"}

# A 107-character live key: the SPEC's example of a mask.
SK_LIVE = "sk_live_" + ("51HxQ2kLmN8pR4tV6wY9zA3bC5dE7fG0" * 3)[:95] + "RgA1"
assert len(SK_LIVE) == 107, len(SK_LIVE)


# --- helpers ------------------------------------------------------------------------------


def secrets_url(world: Any, secret_id: str | None = None, org: str | None = None) -> str:
    base = f"/api/orgs/{org or world.org}/secrets"
    return base if secret_id is None else f"{base}/{secret_id}"


def detail(world: Any, secret_id: str, who: str = "owner") -> dict[str, Any]:
    return ok(world.call(who, "GET", secrets_url(world, secret_id)))


def index(world: Any, env: str) -> dict[str, dict[str, Any]]:
    """The environment's index document in Vault (root token): NAME -> entry."""
    root = world.vault.root_client()
    try:
        result = root.secrets.kv.v2.read_secret_version(
            f"orgs/{world.org}/{env}", mount_point=KV, raise_on_deleted_version=True
        )
    except hvac.exceptions.InvalidPath:
        return {}
    data = result["data"]["data"]
    assert set(data) == {"format", "secrets", "applied"}, data
    assert data["format"] == "vaultfront/1", data
    return dict(json.loads(data["secrets"]))


def entry_of(world: Any, env: str, secret_id: str) -> tuple[str, dict[str, Any]] | None:
    """(name, entry) of the secret in one environment's index, or None."""
    found = [(name, e) for name, e in index(world, env).items() if e["id"] == secret_id]
    assert len(found) <= 1, found
    return found[0] if found else None


def ciphertexts(world: Any, secret_id: str) -> dict[str, str | None]:
    """env -> the secret's ciphertext in Vault (inline or out of line), or None."""
    result: dict[str, str | None] = {}
    for env in ENVS:
        found = entry_of(world, env, secret_id)
        if found is None:
            result[env] = None
            continue
        entry = found[1]
        if "ref" in entry:
            result[env] = large_ct(world, entry["ref"])
        else:
            result[env] = entry["ct"]
    return result


def large_ct(world: Any, path: str) -> str:
    root = world.vault.root_client()
    result = root.secrets.kv.v2.read_secret_version(
        path, mount_point=KV, raise_on_deleted_version=True
    )
    return str(result["data"]["data"]["ct"])


def large_paths(world: Any, env: str) -> list[str]:
    root = world.vault.root_client()
    try:
        keys = root.secrets.kv.v2.list_secrets(f"orgs/{world.org}/{env}/large", mount_point=KV)
    except hvac.exceptions.InvalidPath:
        return []
    return list(keys["data"]["keys"])


def outbox_left(world: Any) -> list[int]:
    return outbox_rows(world.database_url, world.org)


def decrypt(world: Any, env: str, ciphertext: str) -> str:
    """Transit decrypt with the root token (the facade itself cannot)."""
    root = world.vault.root_client()
    result = root.secrets.transit.decrypt_data(
        f"org-{world.org}-{env}", ciphertext, mount_point=TRANSIT
    )
    return base64.b64decode(result["data"]["plaintext"]).decode()


def db_user_id(world: Any, email: str) -> int:
    database = Database(world.database_url)
    try:
        with database.session() as session:
            user = session.exec(select(User).where(User.email == email)).one()
            assert user.id is not None
            return user.id
    finally:
        database.dispose()


def assert_iso_utc(value: Any) -> None:
    assert isinstance(value, str), value
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    offset = parsed.utcoffset()
    assert offset is not None and offset.total_seconds() == 0, value
    assert abs((datetime.now(UTC) - parsed).total_seconds()) < 600, value


def assert_row_shape(row: dict[str, Any]) -> None:
    assert set(row) >= ROW_FIELDS, row
    uuid.UUID(row["id"])
    assert set(row["owner"]) == {"id", "email", "name"}, row
    assert set(row["environments"]) == set(ENVS), row
    assert all(isinstance(flag, bool) for flag in row["environments"].values()), row
    assert_iso_utc(row["created_at"])
    assert_iso_utc(row["updated_at"])


def assert_detail(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    body = ok(response, status)
    assert set(body) == DETAIL_FIELDS, show(response)
    assert_row_shape(body)
    assert response.headers.get("etag") == f'"{body["version"]}"', show(response)
    assert set(body["values"]) == set(ENVS), body
    for env, state in body["values"].items():
        assert set(state) == {"set", "mask"}, body
        assert state["set"] is body["environments"][env], body
        assert (state["mask"] is None) is (not state["set"]), body
    return body


def masks(body: dict[str, Any]) -> dict[str, str | None]:
    return {env: body["values"][env]["mask"] for env in ENVS}


# --- GET /api/me ----------------------------------------------------------------------------


def test_me_lists_the_caller_their_organizations_and_roles(world: Any) -> None:
    me = ok(world.call("owner", "GET", "/api/me"))
    assert me["user"]["email"] == "owner@example.com", me
    assert me["user"]["name"] == "Olive Owner", me
    assert me["user"]["superadmin"] is False, me
    assert [(o["slug"], o["role"], o["priority"]) for o in me["organizations"]] == [
        (world.org, "member", 10)
    ], me

    viewer = ok(world.call("viewer", "GET", "/api/me"))
    assert [(o["slug"], o["role"], o["priority"]) for o in viewer["organizations"]] == [
        (world.org, "viewer", 0)
    ], viewer
    admin = ok(world.call("admin", "GET", "/api/me"))
    assert [(o["slug"], o["priority"]) for o in admin["organizations"]] == [(world.org, 100)]

    outsider = ok(world.call("outsider", "GET", "/api/me"))
    assert [o["slug"] for o in outsider["organizations"]] == [world.other_org], outsider
    assert world.org not in json.dumps(outsider), outsider

    # A superadmin has priority 1000 in every organization, member or not.
    sup = ok(world.call("superadmin", "GET", "/api/me"))
    assert sup["user"]["superadmin"] is True, sup
    by_slug = {o["slug"]: o for o in sup["organizations"]}
    assert set(by_slug) >= {world.org, world.other_org}, sup
    assert by_slug[world.org]["priority"] == 1000, sup
    assert by_slug[world.other_org]["priority"] == 1000, sup

    for headers in ({}, {"Authorization": "Bearer vf_nope"}):
        assert_error(world.client.get("/api/me", headers=headers), 401, "unauthenticated")


# --- create, list, detail -------------------------------------------------------------------


def test_create_list_and_detail(world: Any) -> None:
    created = world.call(
        "owner",
        "POST",
        secrets_url(world),
        json={
            "name": "STRIPE_API_KEY",
            "description": "Stripe <b>live</b> key",
            "values": {"production": SK_LIVE, "development": "sk_test_1234567890"},
        },
    )
    body = assert_detail(created, 201)
    assert body["name"] == "STRIPE_API_KEY"
    assert body["description"] == "Stripe <b>live</b> key"
    assert body["version"] == 1, body
    assert body["can_edit"] is True, body
    assert body["owner"] == {
        "id": db_user_id(world, "owner@example.com"),
        "email": "owner@example.com",
        "name": "Olive Owner",
    }, body
    assert body["environments"] == {"development": True, "staging": False, "production": True}
    # SPEC section 3: r = min(12, 107 // 4) = 12, s = 4 -> 8 + "***" + 4.
    assert masks(body) == {
        "development": "sk***90",  # n = 18: r = 4, s = 2
        "staging": None,
        "production": "sk_live_***RgA1",
    }, body
    assert SK_LIVE not in created.text and "sk_test_1234567890" not in created.text

    # Vault holds ciphertext under the name, and it decrypts (root) to the value.
    cts = ciphertexts(world, body["id"])
    assert cts["staging"] is None, cts
    assert entry_of(world, "production", body["id"])[0] == "STRIPE_API_KEY"  # type: ignore[index]
    assert decrypt(world, "production", cts["production"] or "") == SK_LIVE
    assert decrypt(world, "development", cts["development"] or "") == "sk_test_1234567890"

    # Minimal create: a name only; no values, empty description. A member with no name.
    bare = assert_detail(world.call("member", "POST", secrets_url(world), json={"name": "A"}), 201)
    assert bare["description"] == "" and bare["environments"] == dict.fromkeys(ENVS, False)
    assert bare["owner"] == {
        "id": db_user_id(world, "member@example.com"),
        "email": "member@example.com",
        "name": None,
    }, bare
    assert ciphertexts(world, bare["id"]) == dict.fromkeys(ENVS), "a secret without values"

    # The list: exactly the SPEC fields, any member may read it (viewer included).
    for who in ("viewer", "member", "owner", "admin", "superadmin"):
        listing = ok(world.call(who, "GET", secrets_url(world)))
        assert set(listing) == {"secrets"}, listing
        rows = {row["name"]: row for row in listing["secrets"]}
        assert set(rows) == {"STRIPE_API_KEY", "A"}, listing
        for row in listing["secrets"]:
            assert set(row) == ROW_FIELDS, row
            assert_row_shape(row)
        stripe = rows["STRIPE_API_KEY"]
        assert stripe["id"] == body["id"]
        assert stripe["environments"] == {
            "development": True,
            "staging": False,
            "production": True,
        }, stripe
        assert stripe["owner"]["name"] == "Olive Owner", stripe
        assert stripe["created_at"] == body["created_at"], stripe
        assert rows["A"]["environments"] == dict.fromkeys(ENVS, False), rows["A"]
        assert SK_LIVE not in json.dumps(listing)

    # The detail: any member reads it; can_edit follows SPEC section 2.
    can_edit = {
        "owner": True,
        "admin": True,
        "superadmin": True,
        "member": False,
        "viewer": False,
    }
    for who, expected in can_edit.items():
        seen = assert_detail(world.call(who, "GET", secrets_url(world, body["id"])))
        assert seen["can_edit"] is expected, (who, seen)
        assert {k: v for k, v in seen.items() if k != "can_edit"} == {
            k: v for k, v in body.items() if k != "can_edit"
        }, (who, seen, body)
    assert detail(world, bare["id"], "member")["can_edit"] is True
    assert detail(world, bare["id"], "owner")["can_edit"] is False


# --- PATCH ----------------------------------------------------------------------------------


def test_patch_changes_only_what_the_body_names(world: Any) -> None:
    body = world.create(
        name="DATABASE_URL",
        description="the main database",
        values={
            "development": "postgres://dev-value-0001",
            "staging": "postgres://staging-value-0002",
            "production": "postgres://prod-value-0003",
        },
    )
    sid = body["id"]
    before_index = {env: entry_of(world, env, sid) for env in ENVS}
    before_cts = ciphertexts(world, sid)
    assert all(before_cts.values()), before_cts

    # A description only: no environment is touched, in the database or in Vault.
    patched = assert_detail(
        world.call("owner", "PATCH", secrets_url(world, sid), json={"description": "new words"})
    )
    assert patched["description"] == "new words"
    assert patched["name"] == "DATABASE_URL"
    assert patched["version"] == 2, patched
    assert patched["created_at"] == body["created_at"], patched
    assert patched["updated_at"] > body["updated_at"], (patched, body)
    assert masks(patched) == masks(body), patched
    assert {env: entry_of(world, env, sid) for env in ENVS} == before_index

    # One value: the others keep their masks AND their ciphertexts.
    new_prod = "postgres://prod-value-rotated-9999"
    patched = assert_detail(
        world.call(
            "owner", "PATCH", secrets_url(world, sid), json={"values": {"production": new_prod}}
        )
    )
    assert patched["version"] == 3, patched
    assert patched["description"] == "new words", patched
    assert patched["values"]["production"]["mask"] == "post***9999"  # n = 34: r = 8, s = 4, patched
    assert masks(patched)["development"] == masks(body)["development"]
    assert masks(patched)["staging"] == masks(body)["staging"]
    after_cts = ciphertexts(world, sid)
    assert after_cts["development"] == before_cts["development"], after_cts
    assert after_cts["staging"] == before_cts["staging"], after_cts
    assert entry_of(world, "development", sid) == before_index["development"]
    assert entry_of(world, "staging", sid) == before_index["staging"]
    assert after_cts["production"] != before_cts["production"], after_cts
    assert decrypt(world, "production", after_cts["production"] or "") == new_prod
    assert new_prod not in json.dumps(patched)
    # KV keeps one version: the previous production ciphertext is gone from Vault.
    root = world.vault.root_client()
    meta = root.secrets.kv.v2.read_secret_metadata(f"orgs/{world.org}/production", mount_point=KV)
    assert len(meta["data"]["versions"]) == 1, meta["data"]["versions"]
    assert str(before_cts["production"]) not in json.dumps(index(world, "production"))

    # The detail agrees with what PATCH returned.
    assert detail(world, sid) == patched

    # An empty body changes nothing.
    unchanged = assert_detail(world.call("owner", "PATCH", secrets_url(world, sid), json={}))
    assert masks(unchanged) == masks(patched)
    assert ciphertexts(world, sid) == after_cts


def test_patch_null_clears_and_rename_keeps_values(world: Any) -> None:
    body = world.create(
        name="OLD_NAME",
        values={"development": "dev-value-abcdef", "staging": "staging-value-abcdef"},
    )
    sid = body["id"]
    before = ciphertexts(world, sid)

    # null clears: the flag goes false, the mask null, the Vault entry away.
    cleared = assert_detail(
        world.call("owner", "PATCH", secrets_url(world, sid), json={"values": {"staging": None}})
    )
    assert cleared["environments"] == {
        "development": True,
        "staging": False,
        "production": False,
    }, cleared
    assert cleared["values"]["staging"] == {"set": False, "mask": None}, cleared
    assert entry_of(world, "staging", sid) is None, index(world, "staging")
    assert ciphertexts(world, sid)["development"] == before["development"]
    listed = ok(world.call("viewer", "GET", secrets_url(world)))["secrets"]
    assert listed[0]["environments"]["staging"] is False, listed

    # Clearing what is not set is allowed and leaves everything as it was.
    again = assert_detail(
        world.call("owner", "PATCH", secrets_url(world, sid), json={"values": {"production": None}})
    )
    assert again["environments"] == cleared["environments"], again

    # Rename: values and masks stay, the index entries move to the new name.
    renamed = assert_detail(
        world.call("owner", "PATCH", secrets_url(world, sid), json={"name": "NEW_NAME"})
    )
    assert renamed["name"] == "NEW_NAME", renamed
    assert renamed["id"] == sid
    assert masks(renamed) == masks(cleared), renamed
    dev_index = index(world, "development")
    assert "OLD_NAME" not in dev_index, dev_index
    assert dev_index["NEW_NAME"]["id"] == sid, dev_index
    assert ciphertexts(world, sid)["development"] == before["development"]
    assert decrypt(world, "development", before["development"] or "") == "dev-value-abcdef"
    assert "OLD_NAME" not in index(world, "staging") and "NEW_NAME" not in index(world, "staging")
    names = [row["name"] for row in ok(world.call("viewer", "GET", secrets_url(world)))["secrets"]]
    assert names == ["NEW_NAME"], names

    # Rename and set a value at once, then "rename" to the same name (a no-op rename).
    both = assert_detail(
        world.call(
            "owner",
            "PATCH",
            secrets_url(world, sid),
            json={"name": "NEWER", "values": {"production": "prod-value-xyz123"}},
        )
    )
    assert both["name"] == "NEWER" and both["environments"]["production"] is True, both
    assert set(index(world, "production")) == {"NEWER"}
    assert set(index(world, "development")) == {"NEWER"}
    same = world.call("owner", "PATCH", secrets_url(world, sid), json={"name": "NEWER"})
    assert assert_detail(same)["name"] == "NEWER"
    assert outbox_left(world) == [], "no change may stay in flight"


def test_if_match(world: Any) -> None:
    body = world.create(name="TOKEN", values={"production": "first-value-123456"})
    sid = body["id"]
    url = secrets_url(world, sid)
    v2 = assert_detail(
        world.call(
            "owner",
            "PATCH",
            url,
            json={"values": {"production": "second-value-123456"}},
            headers={"If-Match": '"1"'},
        )
    )
    assert v2["version"] == 2, v2
    cts = ciphertexts(world, sid)

    # Stale: 412, nothing written (database version and Vault ciphertext unchanged).
    for headers in ({"If-Match": '"1"'}, {"If-Match": '"7"'}):
        stale = world.call(
            "admin",
            "PATCH",
            url,
            json={"name": "OTHER", "values": {"production": "third-value-12345"}},
            headers=headers,
        )
        assert_error(stale, 412, "version_conflict")
        assert "third-value" not in stale.text
    seen = detail(world, sid)
    assert seen["version"] == 2 and seen["name"] == "TOKEN", seen
    assert masks(seen) == masks(v2), seen
    assert ciphertexts(world, sid) == cts
    assert set(index(world, "production")) == {"TOKEN"}

    stale_delete = world.call("owner", "DELETE", url, headers={"If-Match": '"1"'})
    assert_error(stale_delete, 412, "version_conflict")
    assert detail(world, sid)["version"] == 2
    assert ciphertexts(world, sid) == cts

    # A malformed If-Match names the header.
    assert_error(
        world.call("owner", "PATCH", url, json={}, headers={"If-Match": "yesterday"}),
        422,
        "invalid",
        field="If-Match",
    )

    # Current: 200, and the ETag of one response is the If-Match of the next.
    current = world.call("owner", "GET", url)
    etag = current.headers["etag"]
    assert etag == '"2"', show(current)
    v3 = world.call("owner", "PATCH", url, json={"description": "d"}, headers={"If-Match": etag})
    assert assert_detail(v3)["version"] == 3
    v4 = world.call(
        "owner", "PATCH", url, json={"description": "e"}, headers={"If-Match": v3.headers["etag"]}
    )
    assert assert_detail(v4)["version"] == 4
    deleted = world.call("owner", "DELETE", url, headers={"If-Match": '"4"'})
    assert deleted.status_code == 204, show(deleted)


# --- DELETE -------------------------------------------------------------------------------


def test_delete_removes_metadata_and_every_environment_in_vault(world: Any) -> None:
    large = "L" * (64 * 1024)
    body = world.create(
        name="DOOMED",
        values={
            "development": "dev-doomed-12345",
            "staging": "stg-doomed-12345",
            "production": large,
        },
    )
    keeper = world.create(name="KEEPER", values={"production": "keep-me-please-1"})
    sid = body["id"]
    assert all(entry_of(world, env, sid) for env in ENVS)
    assert large_paths(world, "production") == [f"{sid}-1"], "the 64 KiB value is out of line"
    keeper_ct = ciphertexts(world, keeper["id"])

    deleted = world.call("owner", "DELETE", secrets_url(world, sid))
    assert deleted.status_code == 204, show(deleted)
    assert deleted.content == b"", show(deleted)

    assert_error(world.call("owner", "GET", secrets_url(world, sid)), 404, "not_found")
    assert_error(
        world.call("owner", "PATCH", secrets_url(world, sid), json={"description": "x"}),
        404,
        "not_found",
    )
    assert_error(world.call("owner", "DELETE", secrets_url(world, sid)), 404, "not_found")
    names = [row["name"] for row in ok(world.call("owner", "GET", secrets_url(world)))["secrets"]]
    assert names == ["KEEPER"], names

    for env in ENVS:
        assert entry_of(world, env, sid) is None, (env, index(world, env))
        assert "DOOMED" not in index(world, env), (env, index(world, env))
        assert large_paths(world, env) == [], (env, large_paths(world, env))
    root = world.vault.root_client()
    try:
        root.secrets.kv.v2.read_secret_metadata(
            f"orgs/{world.org}/production/large/{sid}-1", mount_point=KV
        )
        raise AssertionError("the out-of-line value's metadata (and versions) survived")
    except hvac.exceptions.InvalidPath:
        pass
    assert outbox_left(world) == []
    # The other secret is untouched.
    assert ciphertexts(world, keeper["id"]) == keeper_ct

    # The name is free again.
    again = world.create(name="DOOMED", values={"staging": "a-new-life-1234"})
    assert again["id"] != sid


# --- large values and masks through the API -----------------------------------------------


def test_large_value_round_trip_out_of_line(world: Any) -> None:
    value = ("0123456789abcdef" * 4096)[: 64 * 1024]  # exactly 64 KiB: the limit is allowed
    assert len(value.encode()) == 65536
    body = world.create(name="BIG", values={"production": value, "staging": "small-value-123"})
    sid = body["id"]
    assert body["values"]["production"]["mask"] == "01234567***cdef", body
    assert value[:100] not in json.dumps(body)

    name, entry = entry_of(world, "production", sid)  # type: ignore[misc]
    assert name == "BIG"
    assert set(entry) == {"id", "version", "ref"}, entry
    assert entry["ref"] == f"orgs/{world.org}/production/large/{sid}-1", entry
    ct = large_ct(world, entry["ref"])
    assert len(ct) > 4096 and ct.startswith("vault:v"), ct[:40]
    assert decrypt(world, "production", ct) == value
    _, small = entry_of(world, "staging", sid)  # type: ignore[misc]
    assert "ct" in small and "ref" not in small, small

    # Multi-byte text: 64 KiB is counted in UTF-8 bytes; the mask counts code points.
    wide = "é" * 32768  # 65,536 bytes
    patched = assert_detail(
        world.call("owner", "PATCH", secrets_url(world, sid), json={"values": {"staging": wide}})
    )
    assert patched["values"]["staging"]["mask"] == "é" * 8 + "***" + "é" * 4, patched
    _, staged = entry_of(world, "staging", sid)  # type: ignore[misc]
    assert decrypt(world, "staging", large_ct(world, staged["ref"])) == wide

    # Back to a small value: the entry is inline again and the large entry is gone.
    patched = assert_detail(
        world.call(
            "owner", "PATCH", secrets_url(world, sid), json={"values": {"production": "tiny-1234"}}
        )
    )
    assert patched["values"]["production"]["mask"] == "t***4", patched
    _, entry = entry_of(world, "production", sid)  # type: ignore[misc]
    assert "ct" in entry and "ref" not in entry, entry
    assert large_paths(world, "production") == []
    assert decrypt(world, "production", entry["ct"]) == "tiny-1234"

    # The SPEC's mask example, through the API on an update too.
    patched = assert_detail(
        world.call(
            "owner", "PATCH", secrets_url(world, sid), json={"values": {"development": SK_LIVE}}
        )
    )
    assert patched["values"]["development"]["mask"] == "sk_live_***RgA1", patched
    assert detail(world, sid, "viewer")["values"]["development"]["mask"] == "sk_live_***RgA1"


# --- 401 ----------------------------------------------------------------------------------


def every_route(world: Any, org: str, secret_id: str) -> Iterator[tuple[str, str, Any]]:
    """(method, path, json body) for every route under an organization."""
    yield "GET", f"/api/orgs/{org}/secrets", None
    yield "POST", f"/api/orgs/{org}/secrets", {"name": "PROBE", "values": {"staging": "x" * 9}}
    yield "GET", f"/api/orgs/{org}/secrets/{secret_id}", None
    yield "PATCH", f"/api/orgs/{org}/secrets/{secret_id}", {"description": "probe"}
    yield "DELETE", f"/api/orgs/{org}/secrets/{secret_id}", None
    yield "GET", f"/api/orgs/{org}/members", None


def test_unauthenticated(world: Any) -> None:
    body = world.create(name="GUARDED", values={"production": "guarded-value-1"})
    revoked = revoked_token(world)
    bad_headers = {
        "no header": {},
        "unknown token": {"Authorization": "Bearer vf_" + "A" * 43},
        "empty bearer": {"Authorization": "Bearer "},
        "other scheme": {"Authorization": "Basic b3duZXI6cHctb3duZXI="},
        "revoked token": {"Authorization": f"Bearer {revoked}"},
    }
    routes = [("GET", "/api/me", None), *every_route(world, world.org, body["id"])]
    for label, headers in bad_headers.items():
        for method, path, payload in routes:
            response = world.client.request(method, path, headers=headers, json=payload)
            assert_error(response, 401, "unauthenticated", field=None)
            assert response.status_code == 401, (label, show(response))
    # Credentials are checked before the body is parsed: a bad body still gets 401.
    for method, path in (("POST", secrets_url(world)), ("PATCH", secrets_url(world, body["id"]))):
        for raw in (b"{not json", b"[]", b'{"name": "lowercase"}'):
            response = world.client.request(
                method, path, content=raw, headers={"Content-Type": "application/json"}
            )
            assert_error(response, 401, "unauthenticated")

    # Nothing was written by any of them.
    seen = detail(world, body["id"])
    assert seen["version"] == 1 and seen["description"] == "", seen
    names = [row["name"] for row in ok(world.call("owner", "GET", secrets_url(world)))["secrets"]]
    assert names == ["GUARDED"], names


def revoked_token(world: Any) -> str:
    """A token of the owner's, revoked: it must stop working at once."""
    database = Database(world.database_url)
    try:
        with database.session() as session:
            user_id = db_user_id(world, "owner@example.com")
            token, plaintext = token_store.create_token(session, user_id, "to-revoke")
        headers = {"Authorization": f"Bearer {plaintext}"}
        assert world.client.get("/api/me", headers=headers).status_code == 200
        with database.session() as session:
            assert token.id is not None
            assert token_store.revoke_token(session, user_id, token.id)
    finally:
        database.dispose()
    return plaintext


# --- 403 ----------------------------------------------------------------------------------


def test_forbidden_and_the_admin_override(world: Any) -> None:
    url = secrets_url(world)
    viewer_create = world.call(
        "viewer", "POST", url, json={"name": "NOPE", "values": {"production": "v" * 10}}
    )
    assert_error(viewer_create, 403, "forbidden")
    assert ok(world.call("owner", "GET", url))["secrets"] == [], "the viewer created nothing"

    body = world.create(name="OWNED", values={"production": "owned-value-1234"})
    sid = body["id"]
    cts = ciphertexts(world, sid)
    only_olive = "Only Olive Owner can modify this secret"
    for who in ("member", "viewer"):
        patch = world.call(
            who,
            "PATCH",
            secrets_url(world, sid),
            json={"name": "STOLEN", "values": {"production": "stolen-value-12"}},
        )
        assert_error(patch, 403, "forbidden", message=only_olive)
        assert_error(
            world.call(who, "DELETE", secrets_url(world, sid)), 403, "forbidden", message=only_olive
        )
    seen = detail(world, sid)
    assert seen["version"] == 1 and seen["name"] == "OWNED", seen
    assert ciphertexts(world, sid) == cts

    # An owner without a name is shown by their email.
    by_member = world.create("member", name="MEMBERS", values={"staging": "member-value-12"})
    assert_error(
        world.call(
            "owner", "PATCH", secrets_url(world, by_member["id"]), json={"description": "x"}
        ),
        403,
        "forbidden",
        message="Only member@example.com can modify this secret",
    )
    assert_error(
        world.call("owner", "DELETE", secrets_url(world, by_member["id"])),
        403,
        "forbidden",
        message="Only member@example.com can modify this secret",
    )

    # Admins and superadmins manage anyone's secret; the owner stays the creator.
    for who, new_value in (("admin", "admin-value-1234"), ("superadmin", "super-value-1234")):
        patched = assert_detail(
            world.call(
                who,
                "PATCH",
                secrets_url(world, sid),
                json={"description": who, "values": {"production": new_value}},
            )
        )
        assert patched["can_edit"] is True, patched
        assert patched["owner"]["email"] == "owner@example.com", patched
        assert patched["description"] == who
        assert decrypt(world, "production", ciphertexts(world, sid)["production"] or "") == (
            new_value
        )
    deleted = world.call("admin", "DELETE", secrets_url(world, sid))
    assert deleted.status_code == 204, show(deleted)
    deleted = world.call("superadmin", "DELETE", secrets_url(world, by_member["id"]))
    assert deleted.status_code == 204, show(deleted)
    assert ok(world.call("owner", "GET", url))["secrets"] == []
    assert all(entry_of(world, env, sid) is None for env in ENVS)

    # A superadmin (not a member) may also create; they become the owner.
    made = assert_detail(world.call("superadmin", "POST", url, json={"name": "SUPERS"}), 201)
    assert made["owner"]["email"] == "root@example.com", made


def without_nonce(headers: httpx.Headers) -> dict[str, str]:
    """Response headers, with the per-response CSP nonce blanked out."""
    return {k: re.sub(r"'nonce-[^']*'", "'nonce-'", v) for k, v in headers.items()}


# --- 404 ----------------------------------------------------------------------------------


def test_not_found_never_hints(world: Any) -> None:
    body = world.create(name="HIDDEN", values={"production": "hidden-value-123"})
    sid = body["id"]
    ghost_org = "no-such-org-" + uuid.uuid4().hex[:8]
    ghost_id = str(uuid.uuid4())

    # An outsider gets, on every route of the organization, exactly what anyone gets for an
    # organization that does not exist.
    real_routes = every_route(world, world.org, sid)
    ghost_routes = every_route(world, ghost_org, sid)
    for (method, path, payload), (_, ghost_path, _) in zip(real_routes, ghost_routes, strict=True):
        real = world.call("outsider", method, path, json=payload)
        ghost = world.call("outsider", method, ghost_path, json=payload)
        assert_error(real, 404, "not_found")
        assert_error(ghost, 404, "not_found")
        assert real.content == ghost.content, (show(real), show(ghost))
        assert without_nonce(real.headers) == without_nonce(ghost.headers), (
            real.headers,
            ghost.headers,
        )
        for hint in ("HIDDEN", sid):
            assert hint not in real.text, show(real)
        # A member asking about an organization that does not exist: the same 404.
        assert_error(world.call("owner", method, ghost_path, json=payload), 404, "not_found")
    # Even with a body that is not JSON: membership is decided before the body is read.
    for org in (world.org, ghost_org):
        response = world.client.post(
            f"/api/orgs/{org}/secrets", content=b"{oops", headers=world.headers("outsider")
        )
        assert_error(response, 404, "not_found")
        assert response.content == ghost.content, show(response)

    # Slugs that cannot exist are the same 404, on both databases.
    for bad_org in ("%00", "acme%00", "UPPER", "x" * 300):
        for method, path, payload in every_route(world, bad_org, sid):
            response = world.call("owner", method, path, json=payload)
            assert_error(response, 404, "not_found")
            assert response.content == ghost.content, (show(response), show(ghost))

    # ... nor a secret id of the organization they cannot see, nor an unknown id.
    outsider_unknown = world.call("outsider", "GET", secrets_url(world, ghost_id))
    assert (
        outsider_unknown.content == world.call("outsider", "GET", secrets_url(world, sid)).content
    )

    # Unknown secret ids, for a member (PostgreSQL cannot even compare text holding NUL).
    for bad_id in (ghost_id, "not-a-uuid", "x" * 300, "%00", "a%00b", ghost_id.upper()):
        for method, payload in (("GET", None), ("PATCH", {"description": "x"}), ("DELETE", None)):
            response = world.call("owner", method, secrets_url(world, bad_id), json=payload)
            assert_error(response, 404, "not_found")

    # A secret of another organization is not found through this one.
    theirs = world.call(
        "outsider",
        "POST",
        f"/api/orgs/{world.other_org}/secrets",
        json={"name": "THEIRS", "values": {"production": "their-value-123"}},
    )
    their_id = ok(theirs, 201)["id"]
    for who in ("owner", "admin"):
        for method, payload in (("GET", None), ("PATCH", {"description": "x"}), ("DELETE", None)):
            response = world.call(who, method, secrets_url(world, their_id), json=payload)
            assert_error(response, 404, "not_found")
            assert "THEIRS" not in response.text
    still = ok(world.call("outsider", "GET", f"/api/orgs/{world.other_org}/secrets/{their_id}"))
    assert still["version"] == 1 and still["description"] == "", still

    # A path the API does not have is a JSON 404 too.
    for path in ("/api/nope", f"/api/orgs/{world.org}/secrets/{sid}/values"):
        assert_error(world.call("owner", "GET", path), 404, "not_found")

    # The outsider wrote nothing anywhere.
    seen = detail(world, sid)
    assert seen["version"] == 1 and seen["description"] == "", seen
    names = [row["name"] for row in ok(world.call("owner", "GET", secrets_url(world)))["secrets"]]
    assert names == ["HIDDEN"], names


# --- 409 ----------------------------------------------------------------------------------


def test_name_taken(world: Any) -> None:
    first = world.create(name="API_KEY", values={"production": "first-api-key-1"})
    other = world.create("member", name="OTHER_KEY", values={"staging": "other-api-key-1"})
    message = "A secret named API_KEY already exists in this organization"

    dup = world.call(
        "admin",
        "POST",
        secrets_url(world),
        json={"name": "API_KEY", "values": {"production": "second-api-key-2"}},
    )
    assert_error(dup, 409, "name_taken", field="name", message=message)
    rows = ok(world.call("owner", "GET", secrets_url(world)))["secrets"]
    assert sorted(row["name"] for row in rows) == ["API_KEY", "OTHER_KEY"], rows
    assert [n for n, e in index(world, "production").items()] == ["API_KEY"]
    assert index(world, "production")["API_KEY"]["id"] == first["id"]

    # Rename onto a taken name: 409 and nothing written.
    other_cts = ciphertexts(world, other["id"])
    rename = world.call(
        "member",
        "PATCH",
        secrets_url(world, other["id"]),
        json={"name": "API_KEY", "values": {"staging": "changed-too-123"}},
    )
    assert_error(rename, 409, "name_taken", field="name", message=message)
    seen = detail(world, other["id"])
    assert seen["name"] == "OTHER_KEY" and seen["version"] == 1, seen
    assert ciphertexts(world, other["id"]) == other_cts
    assert index(world, "staging")["OTHER_KEY"]["id"] == other["id"]

    # The same name in another organization is fine.
    elsewhere = world.call(
        "outsider", "POST", f"/api/orgs/{world.other_org}/secrets", json={"name": "API_KEY"}
    )
    assert ok(elsewhere, 201)["name"] == "API_KEY"


# --- 413 ----------------------------------------------------------------------------------


def test_too_large(world: Any) -> None:
    big = json.dumps({"name": "HUGE", "values": {"production": "x" * (1024 * 1024)}}).encode()
    assert len(big) > 1024 * 1024
    headers = {**world.headers("owner"), "Content-Type": "application/json"}
    response = world.client.post(secrets_url(world), content=big, headers=headers)
    assert_error(response, 413, "too_large")

    # Without a Content-Length (chunked), the size is counted as the body arrives.
    def chunks() -> Iterator[bytes]:
        for start in range(0, len(big), 64 * 1024):
            yield big[start : start + 64 * 1024]

    response = world.client.post(secrets_url(world), content=chunks(), headers=headers)
    assert_error(response, 413, "too_large")

    sid = world.create(name="SMALL", values={"production": "small-value-1234"})["id"]
    response = world.client.patch(secrets_url(world, sid), content=big, headers=headers)
    assert_error(response, 413, "too_large")
    assert detail(world, sid)["version"] == 1
    names = [row["name"] for row in ok(world.call("owner", "GET", secrets_url(world)))["secrets"]]
    assert names == ["SMALL"], names


# --- 422 ----------------------------------------------------------------------------------


def test_invalid_input_names_the_field(world: Any) -> None:
    too_big = "v" * (64 * 1024 + 1)
    too_big_wide = "é" * 32769  # 32,769 code points, 65,538 bytes
    cases: list[tuple[Any, str]] = [
        ({"name": "lowercase"}, "name"),
        ({"name": "A" * 129}, "name"),
        ({"name": "1LEADING_DIGIT"}, "name"),
        ({"name": "_LEADING"}, "name"),
        ({"name": "HAS-DASH"}, "name"),
        ({"name": "TRAILING_NEWLINE\n"}, "name"),  # `$` alone would let this through
        ({"name": ""}, "name"),
        ({"name": 12}, "name"),
        ({"name": "OK", "description": "d" * 1001}, "description"),
        ({"name": "OK", "description": "nul \x00 inside"}, "description"),
        ({"name": "OK", "values": {"production": too_big}}, "values.production"),
        ({"name": "OK", "values": {"staging": too_big_wide}}, "values.staging"),
        ({"name": "OK", "values": {"production": ""}}, "values.production"),
        ({"name": "OK", "values": {"development": 42}}, "values.development"),
        ({"name": "OK", "values": {"prod": "abcdefgh"}}, "values.prod"),
        ({"name": "OK", "values": ["abcdefgh"]}, "values"),
        ({"name": "OK", "owner": 1}, "owner"),
        ({"name": "OK", "value": "abcdefgh"}, "value"),
        ([{"name": "OK"}], "body"),
        ("OK", "body"),
        (None, "body"),  # no body at all
        (123, "body"),
    ]
    for payload, field in cases:
        response = world.call("owner", "POST", secrets_url(world), json=payload)
        error = assert_error(response, 422, "invalid", field=field)
        assert "v" * 100 not in error["message"] and "é" * 100 not in error["message"]
    # The boundaries are allowed: 128 characters, 1,000 characters of description.
    edge = world.create(name="A" * 128, description="d" * 1000)
    assert edge["name"] == "A" * 128

    headers = {**world.headers("owner"), "Content-Type": "application/json"}
    for raw in (b"{not json", b"", b"null", b"\xff\xfe{}", b'{"name": "OK",}'):
        response = world.client.post(secrets_url(world), content=raw, headers=headers)
        assert_error(response, 422, "invalid", field="body")
    # A lone surrogate is valid JSON but not UTF-8 text.
    raw = b'{"name": "OK", "values": {"production": "\\ud800abcdefgh"}}'
    response = world.client.post(secrets_url(world), content=raw, headers=headers)
    assert_error(response, 422, "invalid", field="values.production")

    # The same checks on PATCH, and nothing is written by a rejected one.
    sid = world.create(name="VALID", values={"production": "valid-value-1234"})["id"]
    cts = ciphertexts(world, sid)
    patch_cases: list[tuple[Any, str]] = [
        ({"name": "lowercase"}, "name"),
        ({"name": "A" * 129}, "name"),
        ({"name": "9LIVES"}, "name"),
        ({"name": "VALID\n"}, "name"),
        ({"name": None}, "name"),
        ({"description": "d" * 1001}, "description"),
        ({"description": "\x00"}, "description"),
        ({"values": {"production": too_big}}, "values.production"),
        ({"values": {"production": ""}}, "values.production"),
        ({"values": {"qa": "abcdefgh"}}, "values.qa"),
        ({"version": 3}, "version"),
        (["description"], "body"),
        # One bad field spoils the whole body: the good parts are not applied either.
        (
            {"description": "fine", "values": {"staging": "fine-value", "production": ""}},
            "values.production",
        ),
    ]
    for payload, field in patch_cases:
        response = world.call("owner", "PATCH", secrets_url(world, sid), json=payload)
        assert_error(response, 422, "invalid", field=field)
    response = world.client.patch(secrets_url(world, sid), content=b"{oops", headers=headers)
    assert_error(response, 422, "invalid", field="body")
    seen = detail(world, sid)
    assert seen["version"] == 1 and seen["name"] == "VALID" and seen["description"] == "", seen
    assert ciphertexts(world, sid) == cts
    names = sorted(r["name"] for r in ok(world.call("owner", "GET", secrets_url(world)))["secrets"])
    assert names == ["A" * 128, "VALID"], names


def test_a_value_holding_nul_is_refused_the_same_way_on_both_databases(world: Any) -> None:
    for value in ("\x00" * 20, "abcdefgh\x00" * 3):
        response = world.call(
            "owner", "POST", secrets_url(world), json={"name": "NUL", "values": {"staging": value}}
        )
        assert_error(response, 422, "invalid", field="values.staging")


# --- transfer of ownership (SPEC section 3: an admin action) --------------------------------


def test_admins_transfer_ownership_to_a_member(world: Any) -> None:
    body = world.create(name="HANDOVER", values={"staging": "handover-value-1"})
    url = secrets_url(world, body["id"])
    member = ok(world.call("member", "GET", "/api/me"))["user"]
    viewer = ok(world.call("viewer", "GET", "/api/me"))["user"]
    outsider = ok(world.call("outsider", "GET", "/api/me"))["user"]

    # The owner is no admin: transferring is not theirs to do, and nothing changes.
    assert_error(
        world.call("owner", "PATCH", url, json={"owner_id": member["id"]}),
        403,
        "forbidden",
        message="Only an admin of this organization can do this.",
    )
    superadmin = ok(world.call("superadmin", "GET", "/api/me"))["user"]
    # A viewer cannot own (owning means editing); an outsider is no member; nor is the
    # superadmin here (priority 1000 everywhere, but an owner belongs to the organization).
    for who in (viewer, outsider, superadmin):
        assert_error(
            world.call("admin", "PATCH", url, json={"owner_id": who["id"]}),
            422,
            "invalid",
            field="owner_id",
        )
    assert_error(
        world.call("admin", "PATCH", url, json={"owner_id": "member"}),
        422,
        "invalid",
        field="owner_id",
    )
    assert ok(world.call("owner", "GET", url))["version"] == 1

    moved = assert_detail(world.call("admin", "PATCH", url, json={"owner_id": member["id"]}))
    assert moved["owner"]["email"] == "member@example.com", moved
    assert moved["version"] == 2 and moved["values"]["staging"]["set"], moved
    # The new owner may edit; the old one, a member, no longer may.
    assert ok(world.call("member", "GET", url))["can_edit"] is True
    assert_error(
        world.call("owner", "PATCH", url, json={"description": "mine again?"}),
        403,
        "forbidden",
        message="Only member@example.com can modify this secret",
    )


# --- GET /api/orgs/{org}/members (the page's Owner field) ----------------------------------


def test_members_lists_roles_and_who_can_own(world: Any) -> None:
    from vaultfront.cli import create_user

    # A superadmin who is a member, even a viewer, can own (priority 1000).
    database = Database(world.database_url)
    try:
        create_user(database, "root@example.com", world.org, "viewer")
    finally:
        database.dispose()
    url = f"/api/orgs/{world.org}/members"
    expected = [
        ("admin@example.com", "Ada Admin", "admin", True),
        ("member@example.com", None, "member", True),  # no name: sorted by email
        ("owner@example.com", "Olive Owner", "member", True),
        ("root@example.com", "Sue Super", "viewer", True),
        ("viewer@example.com", "Vic Viewer", "viewer", False),
    ]
    for who in ("viewer", "member", "admin", "superadmin"):  # any member may ask
        body = ok(world.call(who, "GET", url))
        assert set(body) == {"members"}, body
        people = body["members"]
        assert all(set(p) == {"id", "email", "name", "role", "can_own"} for p in people), people
        assert [(p["email"], p["name"], p["role"], p["can_own"]) for p in people] == expected
        assert all(p["id"] == db_user_id(world, p["email"]) for p in people), people
    # The other organization's people are not listed, nor it through this one.
    assert "outsider@example.com" not in json.dumps(people)
    theirs = ok(world.call("outsider", "GET", f"/api/orgs/{world.other_org}/members"))
    assert [(p["email"], p["role"]) for p in theirs["members"]] == [
        ("outsider@example.com", "admin"),
        ("root@example.com", "viewer"),
    ], theirs

    # Whom it marks as able to own, a transfer accepts; and no one else.
    sid = world.create(name="LISTED", values={"staging": "listed-value-1"})["id"]
    version = 1
    for person in people:
        response = world.call(
            "admin",
            "PATCH",
            secrets_url(world, sid),
            json={"owner_id": person["id"]},
            headers={"If-Match": f'"{version}"'},
        )
        if person["can_own"]:
            moved = assert_detail(response)
            assert moved["owner"]["id"] == person["id"], moved
            version = moved["version"]
        else:
            assert_error(response, 422, "invalid", field="owner_id")


def test_members_needs_credentials_and_membership(world: Any) -> None:
    url = f"/api/orgs/{world.org}/members"
    for headers in ({}, {"Authorization": "Bearer vf_" + "A" * 43}):
        assert_error(world.client.get(url, headers=headers), 401, "unauthenticated", field=None)
    ghost = world.call("outsider", "GET", f"/api/orgs/no-such-org-{uuid.uuid4().hex[:8]}/members")
    real = world.call("outsider", "GET", url)
    assert_error(real, 404, "not_found")
    assert real.content == ghost.content, (show(real), show(ghost))
    assert "example.com" not in real.text, show(real)
