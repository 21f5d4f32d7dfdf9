"""The Vault identities (SPEC section 1): the facade can write but never decrypt; an
executor reads and decrypts one organization's one environment, nothing else.

Policies come from `policies/*.hcl`, rendered and applied by `vaultfront.operator` (the
`vault` session fixture bootstraps the dev server with it). Everything here asks Vault
itself: `sys/capabilities-self` with the identity's own token, then a real call.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

import hvac
import hvac.exceptions
import pytest

from vaultfront import layout
from vaultfront import vault_admin as operator

KV = "vaultfront"
TRANSIT = "vaultfront-transit"


def new_org() -> str:
    return f"pol{uuid.uuid4().hex[:10]}"


def approle_client(vault: Any, role_id: str, secret_id: str) -> hvac.Client:
    client = hvac.Client(vault.addr)
    client.auth.approle.login(role_id=role_id, secret_id=secret_id, use_token=True)
    return client


def capabilities(client: hvac.Client, *paths: str) -> dict[str, list[str]]:
    """POST sys/capabilities-self: path -> capabilities of the client's own token."""
    response = client.adapter.post("/v1/sys/capabilities-self", json={"paths": list(paths)})
    data = response.get("data", response) if isinstance(response, dict) else response.json()
    return {path: sorted(data[path]) for path in paths}


def refused(call: Callable[[], Any]) -> bool:
    try:
        call()
    except hvac.exceptions.Forbidden:
        return True
    return False


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.fixture(scope="module")
def facade(vault: Any) -> hvac.Client:
    return approle_client(vault, vault.role_id, vault.secret_id)


# --- the facade -----------------------------------------------------------------------------


def test_facade_token_has_only_its_policy(facade: hvac.Client) -> None:
    me = facade.auth.token.lookup_self()["data"]
    assert me["policies"] == [operator.FACADE_POLICY], me["policies"]
    assert "default" not in me["policies"] and "root" not in me["policies"], me
    renewed = facade.auth.token.renew_self()["auth"]
    assert renewed["lease_duration"] > 0, renewed


def test_facade_is_refused_decryption_but_encrypts_and_writes(
    vault: Any, facade: hvac.Client
) -> None:
    org = new_org()
    key = layout.transit_key(org, "production")

    # It creates the key (`keys/+`, update) and encrypts with it.
    facade.adapter.post(f"/v1/{TRANSIT}/keys/{key}", json={"type": "aes256-gcm96"})
    value = "a-value-only-the-executor-may-see-" + uuid.uuid4().hex
    ct = facade.secrets.transit.encrypt_data(key, b64(value), mount_point=TRANSIT)["data"][
        "ciphertext"
    ]
    assert ct.startswith("vault:v1:"), ct

    # ... but may not decrypt it: capabilities-self says deny, and a real call is refused.
    caps = capabilities(
        facade,
        f"{TRANSIT}/decrypt/{key}",
        f"{TRANSIT}/decrypt/anything-else",
        f"{TRANSIT}/encrypt/{key}",
    )
    assert caps[f"{TRANSIT}/decrypt/{key}"] == ["deny"], caps
    assert caps[f"{TRANSIT}/decrypt/anything-else"] == ["deny"], caps
    assert caps[f"{TRANSIT}/encrypt/{key}"] == ["update"], caps
    with pytest.raises(hvac.exceptions.Forbidden):
        facade.secrets.transit.decrypt_data(key, ct, mount_point=TRANSIT)
    with pytest.raises(hvac.exceptions.Forbidden):
        facade.adapter.post(
            f"/v1/{TRANSIT}/decrypt/{key}", json={"batch_input": [{"ciphertext": ct}]}
        )
    root = vault.root_client()
    plain = root.secrets.transit.decrypt_data(key, ct, mount_point=TRANSIT)["data"]["plaintext"]
    assert base64.b64decode(plain).decode() == value, "root can decrypt what the facade wrote"

    # Encrypt cannot auto-create keys (update only, never create).
    missing = layout.transit_key(new_org(), "staging")
    assert refused(
        lambda: facade.secrets.transit.encrypt_data(missing, b64("x"), mount_point=TRANSIT)
    ), "encrypt created a key"
    with pytest.raises(hvac.exceptions.InvalidPath):
        root.secrets.transit.read_key(missing, mount_point=TRANSIT)

    # Rotate and rewrap work (ciphertext only comes back).
    facade.adapter.post(f"/v1/{TRANSIT}/keys/{key}/rotate")
    rewrapped = facade.secrets.transit.rewrap_data(key, ct, mount_point=TRANSIT)["data"]
    assert set(rewrapped) <= {"ciphertext", "key_version"}, rewrapped
    assert rewrapped["ciphertext"].startswith("vault:v2:"), rewrapped

    # KV under orgs/: create, read, update, list, destroy.
    path = f"orgs/{org}/production"
    facade.secrets.kv.v2.create_or_update_secret(
        path, secret={"format": layout.FORMAT, "secrets": "{}"}, mount_point=KV, cas=0
    )
    facade.secrets.kv.v2.create_or_update_secret(
        path, secret={"format": layout.FORMAT, "secrets": '{"X":1}'}, mount_point=KV, cas=1
    )
    read = facade.secrets.kv.v2.read_secret_version(
        path, mount_point=KV, raise_on_deleted_version=True
    )
    assert read["data"]["data"]["secrets"] == '{"X":1}', read
    assert facade.secrets.kv.v2.list_secrets(f"orgs/{org}", mount_point=KV)["data"]["keys"] == [
        "production"
    ]
    facade.secrets.kv.v2.delete_metadata_and_all_versions(path, mount_point=KV)
    with pytest.raises(hvac.exceptions.InvalidPath):
        root.secrets.kv.v2.read_secret_version(path, mount_point=KV, raise_on_deleted_version=True)

    # Outside orgs/ on its own mount: nothing (writes in flight wait in the database).
    assert refused(
        lambda: facade.secrets.kv.v2.create_or_update_secret(
            f"journal/{org}/op1", secret={"record": "{}"}, mount_point=KV
        )
    )
    assert refused(
        lambda: facade.secrets.kv.v2.create_or_update_secret(
            "elsewhere/x", secret={"a": "b"}, mount_point=KV
        )
    )
    assert refused(lambda: facade.adapter.post(f"/v1/{KV}/config", json={"max_versions": 10}))


def test_facade_cannot_weaken_keys_or_get_them_out(facade: hvac.Client) -> None:
    org = new_org()
    key = layout.transit_key(org, "staging")
    facade.adapter.post(f"/v1/{TRANSIT}/keys/{key}", json={"type": "aes256-gcm96"})
    other = layout.transit_key(org, "production")

    # allowed_parameters: no exportable, plaintext-backup, derived or other-type keys.
    for params in (
        {"type": "aes256-gcm96", "exportable": True},
        {"type": "aes256-gcm96", "allow_plaintext_backup": True},
        {"type": "aes256-gcm96", "derived": True},
        {"type": "rsa-4096"},
        {"type": "aes256-gcm96", "auto_rotate_period": "1h"},
    ):
        assert refused(partial(facade.adapter.post, f"/v1/{TRANSIT}/keys/{other}", json=params)), (
            params
        )
    # ... nor turn them on later, nor allow deletion, nor trim old versions.
    assert refused(
        lambda: facade.adapter.post(f"/v1/{TRANSIT}/keys/{key}/config", json={"exportable": True})
    )
    assert refused(
        lambda: facade.adapter.post(
            f"/v1/{TRANSIT}/keys/{key}/config", json={"deletion_allowed": True}
        )
    )
    assert refused(
        lambda: facade.adapter.post(
            f"/v1/{TRANSIT}/keys/{key}/trim", json={"min_available_version": 1}
        )
    )
    assert refused(lambda: facade.adapter.delete(f"/v1/{TRANSIT}/keys/{key}"))

    # No export, backup or data keys (each would hand out key material or a plaintext).
    refusals = {
        "export": lambda: facade.adapter.get(f"/v1/{TRANSIT}/export/encryption-key/{key}"),
        "backup": lambda: facade.adapter.get(f"/v1/{TRANSIT}/backup/{key}"),
        "datakey plaintext": lambda: facade.adapter.post(f"/v1/{TRANSIT}/datakey/plaintext/{key}"),
        "datakey wrapped": lambda: facade.adapter.post(f"/v1/{TRANSIT}/datakey/wrapped/{key}"),
        "restore": lambda: facade.adapter.post(
            f"/v1/{TRANSIT}/restore/{key}", json={"backup": "x"}
        ),
    }
    for what, call in refusals.items():
        assert refused(call), what
    caps = capabilities(
        facade,
        f"{TRANSIT}/export/encryption-key/{key}",
        f"{TRANSIT}/backup/{key}",
        f"{TRANSIT}/datakey/plaintext/{key}",
        f"{TRANSIT}/keys/{key}/config",
        f"{TRANSIT}/keys/{key}/trim",
        f"{TRANSIT}/keys/{key}",
    )
    for path in list(caps)[:4]:
        assert caps[path] == ["deny"], caps
    assert caps[f"{TRANSIT}/keys/{key}/trim"] == ["deny"], caps
    assert caps[f"{TRANSIT}/keys/{key}"] == ["read", "update"], caps


def test_facade_cannot_touch_vault_itself(facade: hvac.Client) -> None:
    sys_reads: dict[str, Callable[[], Any]] = {
        "mounts": lambda: facade.sys.list_mounted_secrets_engines(),
        "auth methods": lambda: facade.sys.list_auth_methods(),
        "its own policy": lambda: facade.sys.read_policy(operator.FACADE_POLICY),
        "policies": lambda: facade.sys.list_policies(),
        "audit devices": lambda: facade.sys.list_enabled_audit_devices(),
        "approle role": lambda: facade.auth.approle.read_role(operator.FACADE_ROLE),
        "new secret_id": lambda: facade.auth.approle.generate_secret_id(operator.FACADE_ROLE),
        "write a policy": lambda: facade.sys.create_or_update_policy("x", 'path "*" {}'),
        "a child token": lambda: facade.auth.token.create(policies=["root"]),
        "cubbyhole": lambda: facade.adapter.get("/v1/cubbyhole/x"),
    }
    for what, call in sys_reads.items():
        assert refused(call), what
    caps = capabilities(facade, "sys/mounts", "sys/policies/acl/x", "auth/token/create")
    assert all(c == ["deny"] for c in caps.values()), caps


def test_bootstrap_is_idempotent(vault: Any, facade: hvac.Client) -> None:
    root = vault.root_client()
    org = new_org()
    path = f"orgs/{org}/staging"
    root.secrets.kv.v2.create_or_update_secret(path, secret={"keep": "me"}, mount_point=KV)
    policy_before = root.sys.read_policy(operator.FACADE_POLICY)["data"]["rules"]

    first = operator.bootstrap(root)
    second = operator.bootstrap(root)

    # Mounts kept (data survives), the policy rewritten identically, one version per entry.
    kept = root.secrets.kv.v2.read_secret_version(
        path, mount_point=KV, raise_on_deleted_version=True
    )
    assert kept["data"]["data"] == {"keep": "me"}
    assert root.sys.read_policy(operator.FACADE_POLICY)["data"]["rules"] == policy_before
    assert root.secrets.kv.v2.read_configuration(mount_point=KV)["data"]["max_versions"] == 1
    # The role is the same; each run issues a new secret_id, and every one still logs in.
    assert first.role_id == second.role_id == vault.role_id
    assert first.secret_id != second.secret_id
    for creds in (first, second):
        client = approle_client(vault, creds.role_id, creds.secret_id)
        assert client.auth.token.lookup_self()["data"]["policies"] == [operator.FACADE_POLICY]
    assert facade.auth.token.lookup_self()["data"]["policies"] == [operator.FACADE_POLICY]
    root.secrets.kv.v2.delete_metadata_and_all_versions(path, mount_point=KV)


def test_scoping_names_are_checked_exactly() -> None:
    # Policies and paths are built from these; `$` alone would accept a trailing newline.
    for slug in ("acme\n", "Acme", "acme/x", "acme*", "", "-acme"):
        with pytest.raises(ValueError):
            layout.check_org_slug(slug)
    for env in ("staging\n", "staging2", "prod", "Staging"):
        with pytest.raises(ValueError):
            layout.check_environment(env)
    with pytest.raises(ValueError):
        operator.executor_names("acme\n", "staging")


def test_policy_files_render_without_leftover_placeholders() -> None:
    facade_hcl = operator.render_policy("facade", kv_mount="kvx", transit_mount="trx")
    executor_hcl = operator.render_policy(
        "executor",
        kv_mount="kvx",
        transit_mount="trx",
        org="acme",
        env="staging",
        transit_key=layout.transit_key("acme", "staging"),
    )
    for text in (facade_hcl, executor_hcl):
        assert "$" not in text, text
    assert 'path "trx/decrypt/*"' in facade_hcl
    assert 'path "kvx/data/orgs/acme/staging"' in executor_hcl
    assert 'path "trx/decrypt/org-acme-staging"' in executor_hcl
    executor_paths = re.findall(r'^path "([^"]+)"', executor_hcl, flags=re.MULTILINE)
    assert executor_paths, executor_hcl
    for path in executor_paths:
        # Exact paths: a glob or `+` may only stand for the id under large/.
        assert "*" not in path.replace("/large/*", "") and "+" not in path, path


# --- the executor ---------------------------------------------------------------------------


def test_executor_reads_and_decrypts_one_org_and_environment(vault: Any) -> None:
    root = vault.root_client()
    org = new_org()
    neighbour = org + "2"  # a prefix pitfall: `orgs/{org}*` would match it
    creds = operator.executor_role(root, org, "staging")
    executor = approle_client(vault, creds.role_id, creds.secret_id)
    me = executor.auth.token.lookup_self()["data"]
    assert me["policies"] == [f"vaultfront-executor-{org}-staging"], me["policies"]

    own = f"{KV}/data/orgs/{org}/staging"
    caps = capabilities(
        executor,
        own,
        f"{own}/large/some-id",
        f"{TRANSIT}/decrypt/org-{org}-staging",
        f"{KV}/data/orgs/{org}/production",
        f"{KV}/data/orgs/{org}/development",
        f"{KV}/data/orgs/{org}/staging2",
        f"{KV}/data/orgs/{org}/staging2/large/some-id",
        f"{KV}/data/orgs/{org}/stagingx",
        f"{KV}/data/orgs/{org}/production/large/some-id",
        f"{KV}/data/orgs/{neighbour}/staging",
        f"{KV}/data/orgs/other/staging",
        f"{KV}/metadata/orgs/{org}/staging",
        f"{KV}/data/journal/{org}/op",
        f"{TRANSIT}/decrypt/org-{org}-production",
        f"{TRANSIT}/decrypt/org-{org}-development",
        f"{TRANSIT}/decrypt/org-{org}-staging2",
        f"{TRANSIT}/decrypt/org-{neighbour}-staging",
        f"{TRANSIT}/encrypt/org-{org}-staging",
        f"{TRANSIT}/export/encryption-key/org-{org}-staging",
    )
    assert caps.pop(own) == ["read"], caps
    assert caps.pop(f"{own}/large/some-id") == ["read"], caps
    assert caps.pop(f"{TRANSIT}/decrypt/org-{org}-staging") == ["update"], caps
    assert {path: c for path, c in caps.items() if c != ["deny"]} == {}, caps

    # Real calls: staging decrypts; production is refused even holding its ciphertext.
    stg = encrypt(root, org, "staging", "staging-value-42")
    prod = encrypt(root, org, "production", "production-value-42")
    plain = executor.secrets.transit.decrypt_data(
        layout.transit_key(org, "staging"), stg, mount_point=TRANSIT
    )["data"]["plaintext"]
    assert base64.b64decode(plain).decode() == "staging-value-42"
    assert refused(
        lambda: executor.secrets.transit.decrypt_data(
            layout.transit_key(org, "production"), prod, mount_point=TRANSIT
        )
    )
    # The staging key cannot open production's ciphertext either.
    with pytest.raises(hvac.exceptions.InvalidRequest):
        executor.secrets.transit.decrypt_data(
            layout.transit_key(org, "staging"), prod, mount_point=TRANSIT
        )
    root.secrets.kv.v2.create_or_update_secret(
        f"orgs/{org}/staging", secret={"format": layout.FORMAT, "secrets": "{}"}, mount_point=KV
    )
    root.secrets.kv.v2.create_or_update_secret(
        f"orgs/{org}/production", secret={"format": layout.FORMAT, "secrets": "{}"}, mount_point=KV
    )
    read = executor.secrets.kv.v2.read_secret_version(
        f"orgs/{org}/staging", mount_point=KV, raise_on_deleted_version=True
    )
    assert read["data"]["data"]["format"] == layout.FORMAT
    assert refused(
        lambda: executor.secrets.kv.v2.read_secret_version(
            f"orgs/{org}/production", mount_point=KV, raise_on_deleted_version=True
        )
    )
    assert refused(
        lambda: executor.secrets.kv.v2.create_or_update_secret(
            f"orgs/{org}/staging", secret={"x": "y"}, mount_point=KV
        )
    )
    assert refused(lambda: executor.secrets.kv.v2.list_secrets(f"orgs/{org}", mount_point=KV))
    for path in (f"orgs/{org}/staging", f"orgs/{org}/production"):
        root.secrets.kv.v2.delete_metadata_and_all_versions(path, mount_point=KV)


def encrypt(root: hvac.Client, org: str, env: str, value: str) -> str:
    key = layout.transit_key(org, env)
    root.adapter.post(f"/v1/{TRANSIT}/keys/{key}")
    result = root.secrets.transit.encrypt_data(key, b64(value), mount_point=TRANSIT)
    return str(result["data"]["ciphertext"])
