"""Write index documents as the facade does (vaultfront/layout.py), with the root token.

The executor's tests use these to set up what the facade would have written, so that
they depend on the layout contract only.
"""

from __future__ import annotations

import base64
import uuid

import hvac

from vaultfront import layout
from vaultfront import vault_admin as operator
from vaultfront.config import DEFAULT_KV_MOUNT, DEFAULT_TRANSIT_MOUNT
from vaultfront.executor import Executor


def new_org() -> str:
    return f"org{uuid.uuid4().hex[:8]}"


def encrypt(root: hvac.Client, org: str, env: str, value: str) -> str:
    key = layout.transit_key(org, env)
    root.adapter.post(f"/v1/{DEFAULT_TRANSIT_MOUNT}/keys/{key}")
    result = root.secrets.transit.encrypt_data(
        key, base64.b64encode(value.encode()).decode(), mount_point=DEFAULT_TRANSIT_MOUNT
    )
    return str(result["data"]["ciphertext"])


def write_env(
    root: hvac.Client,
    org: str,
    env: str,
    values: dict[str, str],
    *,
    large: frozenset[str] | set[str] = frozenset(),
    ids: dict[str, str] | None = None,
) -> dict[str, layout.Entry]:
    """Replace the environment's index with `values` (names in `large` kept out of line).

    Values kept out of line that are no longer in `values` are destroyed, as the facade
    does on delete.
    """
    ids = ids if ids is not None else {}
    before = read_index(root, org, env)
    entries: dict[str, layout.Entry] = {}
    for name, value in values.items():
        secret_id = ids.get(name) or (before[name].id if name in before else str(uuid.uuid4()))
        version = before[name].version + 1 if name in before else 1
        ct = encrypt(root, org, env, value)
        if name in large:
            ref = layout.large_path(org, env, secret_id, version)
            root.secrets.kv.v2.create_or_update_secret(
                ref, secret={"ct": ct}, mount_point=DEFAULT_KV_MOUNT
            )
            entries[name] = layout.Entry(id=secret_id, version=version, ref=ref)
        else:
            entries[name] = layout.Entry(id=secret_id, version=version, ct=ct)
    root.secrets.kv.v2.create_or_update_secret(
        layout.index_path(org, env),
        secret=layout.encode_index(entries),
        mount_point=DEFAULT_KV_MOUNT,
    )
    for name, entry in before.items():
        if entry.ref and (name not in entries or entries[name].ref != entry.ref):
            root.secrets.kv.v2.delete_metadata_and_all_versions(
                entry.ref, mount_point=DEFAULT_KV_MOUNT
            )
    return entries


def read_index(root: hvac.Client, org: str, env: str) -> dict[str, layout.Entry]:
    try:
        result = root.secrets.kv.v2.read_secret_version(
            layout.index_path(org, env), mount_point=DEFAULT_KV_MOUNT, raise_on_deleted_version=True
        )
    except hvac.exceptions.InvalidPath:
        return {}
    return layout.decode_index(result["data"]["data"])


def executor_environ(root: hvac.Client, addr: str, org: str, env: str) -> dict[str, str]:
    """The variables an integration host sets for (org, env), as `executor-role` prints."""
    creds = operator.executor_role(root, org, env)
    return {
        "VAULT_ADDR": addr,
        "VAULTFRONT_EXECUTOR_ROLE_ID": creds.role_id,
        "VAULTFRONT_EXECUTOR_SECRET_ID": creds.secret_id,
    }


def executor_for(root: hvac.Client, addr: str, org: str, env: str) -> Executor:
    return Executor.from_env(
        org=org, environment=env, environ=executor_environ(root, addr, org, env)
    )


def login(addr: str, environ: dict[str, str]) -> hvac.Client:
    """A raw hvac client holding the executor's own token (no vaultfront code involved)."""
    client = hvac.Client(addr, token="")
    client.auth.approle.login(
        environ["VAULTFRONT_EXECUTOR_ROLE_ID"], environ["VAULTFRONT_EXECUTOR_SECRET_ID"]
    )
    return client
