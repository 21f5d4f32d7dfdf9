"""Operator actions with a privileged `VAULT_TOKEN`: `vaultfront vault bootstrap` and
`vaultfront vault executor-role`.

These never run with the facade's identity (that is `vaultfront.store.vault`): the client comes
from `operator_client`, with the operator's own token. Everything here is idempotent:
running bootstrap again keeps the mounts, rewrites the policies and issues a new
secret_id. Vault's refusals, and a Vault that cannot be reached, become one
`VaultUnavailable` naming the address and what Vault said (SPEC section 12: one line,
never a traceback).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

import hvac
import hvac.exceptions
import requests

from vaultfront import layout
from vaultfront.config import DEFAULT_KV_MOUNT, DEFAULT_TRANSIT_MOUNT
from vaultfront.errors import Invalid, Unauthenticated, VaultUnavailable

FACADE_POLICY = "vaultfront-facade"
FACADE_ROLE = "vaultfront-facade"
APPROLE_MOUNT = "approle"


def policies_dir() -> Path:
    """`policies/` at the repository root, or its copy inside an installed wheel."""
    packaged = Path(str(resources.files("vaultfront"))) / "policies"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "policies"


def render_policy(name: str, **values: str) -> str:
    text = (policies_dir() / f"{name}.hcl").read_text()
    return Template(text).substitute(values)


def executor_names(org: str, env: str) -> tuple[str, str]:
    """(policy name, AppRole name) of the executor for one organization and environment."""
    name = f"vaultfront-executor-{layout.check_org_slug(org)}-{layout.check_environment(env)}"
    return name, name


@dataclass(frozen=True)
class AppRoleCredentials:
    role_id: str
    secret_id: str


def operator_client(addr: str | None, token: str | None) -> hvac.Client:
    """A client acting with the operator's privileged token (`VAULT_ADDR`, `VAULT_TOKEN`)."""
    if not addr or not token:
        raise Unauthenticated(
            "Set VAULT_ADDR and a privileged VAULT_TOKEN (an operator's token, not the facade's)."
        )
    return hvac.Client(url=addr, token=token)


@contextmanager
def _vault_errors(client: hvac.Client) -> Iterator[None]:
    """Vault's errors for the operator, translated here once, in one line each."""
    try:
        yield
    except hvac.exceptions.VaultError as exc:
        said = " ".join(str(exc).split()) or type(exc).__name__
        raise VaultUnavailable(f"Vault at {client.url} refused: {said}") from None
    except requests.RequestException as exc:
        raise VaultUnavailable(
            f"Vault at {client.url} cannot be reached ({type(exc).__name__}); "
            "check VAULT_ADDR and that Vault is running."
        ) from None


def _enable_mount(client: hvac.Client, path: str, backend: str, options: dict[str, str]) -> None:
    # GET sys/mounts: enable only what is missing, so bootstrap can run again.
    mounts = client.sys.list_mounted_secrets_engines()
    mounts = mounts.get("data", mounts)
    if f"{path}/" in mounts:
        return
    client.sys.enable_secrets_engine(backend, path=path, options=options)


def _configure_kv(client: hvac.Client, kv_mount: str, timeout: float = 30) -> None:
    """POST {kv}/config: keep one version, so a write destroys the previous value.

    A KV v2 mount just enabled on a server with persistent storage (not dev mode) first
    upgrades its storage and answers 400 "Upgrading from non-versioned to versioned data"
    for a moment; wait for it rather than fail the first bootstrap.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.adapter.post(f"/v1/{kv_mount}/config", json={"max_versions": 1})
            return
        except hvac.exceptions.InvalidRequest as exc:
            if "non-versioned to versioned" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _ensure_approle(client: hvac.Client) -> None:
    # GET sys/auth, POST sys/auth/approle
    methods = client.sys.list_auth_methods()
    methods = methods.get("data", methods)
    if f"{APPROLE_MOUNT}/" not in methods:
        client.sys.enable_auth_method("approle", path=APPROLE_MOUNT)


def _role_credentials(
    client: hvac.Client, role: str, policy: str, token_ttl: str, token_max_ttl: str
) -> AppRoleCredentials:
    # POST auth/approle/role/{role}; GET .../role-id; POST .../secret-id
    client.auth.approle.create_or_update_approle(
        role,
        token_policies=[policy],
        token_ttl=token_ttl,
        token_max_ttl=token_max_ttl,
        token_no_default_policy=True,
        token_type="service",
        secret_id_num_uses=0,
        secret_id_ttl="0",  # no expiry; rotate by re-running
        mount_point=APPROLE_MOUNT,
    )
    role_id = client.auth.approle.read_role_id(role, mount_point=APPROLE_MOUNT)["data"]["role_id"]
    secret_id = client.auth.approle.generate_secret_id(role, mount_point=APPROLE_MOUNT)["data"][
        "secret_id"
    ]
    return AppRoleCredentials(role_id=role_id, secret_id=secret_id)


def bootstrap(
    client: hvac.Client,
    kv_mount: str = DEFAULT_KV_MOUNT,
    transit_mount: str = DEFAULT_TRANSIT_MOUNT,
) -> AppRoleCredentials:
    """Mounts, the facade's policy and its AppRole. Returns fresh AppRole credentials."""
    policy = render_policy("facade", kv_mount=kv_mount, transit_mount=transit_mount)
    with _vault_errors(client):
        _enable_mount(client, kv_mount, "kv", {"version": "2"})
        _configure_kv(client, kv_mount)
        _enable_mount(client, transit_mount, "transit", {})
        client.sys.create_or_update_policy(FACADE_POLICY, policy)
        _ensure_approle(client)
        return _role_credentials(client, FACADE_ROLE, FACADE_POLICY, "1h", "24h")


def executor_role(
    client: hvac.Client,
    org: str,
    env: str,
    kv_mount: str = DEFAULT_KV_MOUNT,
    transit_mount: str = DEFAULT_TRANSIT_MOUNT,
) -> AppRoleCredentials:
    """An AppRole that reads and decrypts one organization's one environment.

    The slug and environment are checked before Vault is called: they end up in policy
    paths, where `acme/staging*` would also match `staging2`.
    """
    try:
        policy_name, role = executor_names(org, env)
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    policy = render_policy(
        "executor",
        kv_mount=kv_mount,
        transit_mount=transit_mount,
        org=org,
        env=env,
        transit_key=layout.transit_key(org, env),
    )
    with _vault_errors(client):
        client.sys.create_or_update_policy(policy_name, policy)
        _ensure_approle(client)
        return _role_credentials(client, role, policy_name, "20m", "4h")
