"""The facade's Vault calls, all of them, and the one place Vault errors are translated.

The facade's identity (policies/facade.hcl) encrypts, reads and writes ciphertext, and
deletes; it cannot decrypt. Nothing here returns or logs a plaintext value: `encrypt`
takes one and returns only ciphertext. Every function names the Vault path it hits.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import hvac
import hvac.exceptions
import requests

from vaultfront import layout
from vaultfront.config import Settings
from vaultfront.errors import VaultUnavailable

log = logging.getLogger("vaultfront.vault")
T = TypeVar("T")

TIMEOUT_SECONDS = 5
RENEW_FRACTION = 1 / 3  # renew once less than a third of the token's TTL is left


class IndexChanged(Exception):
    """A check-and-set write found the index document changed since it was read."""


@contextmanager
def translated(action: str) -> Iterator[None]:
    """Turn hvac's and the network's errors into `VaultUnavailable`, with the cause."""
    try:
        yield
    except IndexChanged:
        raise
    except hvac.exceptions.Forbidden as exc:
        log.warning("vault refused: %s (%s)", action, type(exc).__name__)
        raise VaultUnavailable(
            f"Vault refused to {action} (permission denied); nothing was written. "
            "Check the facade's Vault policy (`vaultfront vault bootstrap`)."
        ) from None
    except hvac.exceptions.VaultDown:
        log.warning("vault sealed or down: %s", action)
        raise VaultUnavailable(
            f"Vault is sealed or in maintenance and could not {action}; nothing was written. "
            "Try again once Vault is unsealed."
        ) from None
    except (requests.exceptions.RequestException, OSError) as exc:
        log.warning("vault unreachable: %s (%s)", action, type(exc).__name__)
        raise VaultUnavailable(
            f"Vault cannot be reached to {action}; nothing was written. Try again in a moment."
        ) from None
    except hvac.exceptions.VaultError as exc:
        log.warning("vault error: %s (%s)", action, type(exc).__name__)
        raise VaultUnavailable(
            f"Vault could not {action} ({type(exc).__name__}); nothing was written. "
            "Try again in a moment."
        ) from None


def http_session(addr: str) -> requests.Session:
    """A keep-alive session that looks proxy settings up once, not on every call.

    requests re-reads the proxy environment per request when `trust_env` is on, which cost
    about 0.5 ms of every Vault call here. TLS trust comes from VAULT_CACERT/VAULT_CAPATH
    (hvac reads them), not from REQUESTS_CA_BUNDLE.
    """
    session = requests.Session()
    session.proxies.update(requests.utils.get_environ_proxies(addr))
    session.trust_env = False
    return session


class VaultStore:
    """The facade's session with Vault: AppRole (or token) login, renewal, and the calls."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.kv = settings.kv_mount
        self.transit = settings.transit_mount
        self._client = hvac.Client(
            url=settings.vault_addr,
            timeout=TIMEOUT_SECONDS,
            session=http_session(settings.vault_addr),
        )
        self._lock = threading.Lock()
        self._renew_at: float | None = None  # monotonic time to renew; None: static token
        self._logged_in = False
        self._keys_ready: set[str] = set()

    # --- identity -------------------------------------------------------------------

    def _login(self) -> None:
        """POST auth/approle/login, or adopt VAULT_TOKEN as it is."""
        s = self.settings
        if s.vault_role_id and s.vault_secret_id:
            with translated("log in with the facade's AppRole"):
                auth = self._client.auth.approle.login(
                    role_id=s.vault_role_id, secret_id=s.vault_secret_id, use_token=True
                )["auth"]
            ttl = float(auth.get("lease_duration") or 0)
            self._renew_at = time.monotonic() + ttl * (1 - RENEW_FRACTION) if ttl else None
        elif s.vault_token:
            self._client.token = s.vault_token
            self._renew_at = None
        else:
            raise VaultUnavailable(
                "vaultfront has no Vault credentials: set VAULTFRONT_VAULT_ROLE_ID and "
                "VAULTFRONT_VAULT_SECRET_ID (from `vaultfront vault bootstrap`) or VAULT_TOKEN."
            )
        self._logged_in = True

    def _renew(self) -> None:
        """POST auth/token/renew-self; log in again when renewal is refused or maxed out."""
        try:
            auth = self._client.auth.token.renew_self()["auth"]
            ttl = float(auth.get("lease_duration") or 0)
            if ttl < 60:
                self._login()
            else:
                self._renew_at = time.monotonic() + ttl * (1 - RENEW_FRACTION)
        except (hvac.exceptions.VaultError, requests.exceptions.RequestException):
            self._login()

    def client(self) -> hvac.Client:
        with self._lock:
            if not self._logged_in:
                self._login()
            elif self._renew_at is not None and time.monotonic() >= self._renew_at:
                self._renew()
        return self._client

    def _call(self, action: str, fn: Callable[[hvac.Client], T]) -> T:
        with translated(action):
            return fn(self.client())

    # --- Transit --------------------------------------------------------------------

    def ensure_key(self, org: str, env: str) -> str:
        """POST {transit}/keys/org-{org}-{env} (idempotent), once per process and key."""
        name = layout.transit_key(org, env)
        if name not in self._keys_ready:
            self._call(
                "create the Transit key",
                lambda c: c.adapter.post(
                    f"/v1/{self.transit}/keys/{name}", json={"type": "aes256-gcm96"}
                ),
            )
            self._keys_ready.add(name)
        return name

    def encrypt(self, org: str, env: str, plaintext: str) -> str:
        """POST {transit}/encrypt/org-{org}-{env}. Returns ciphertext only."""
        key = self.ensure_key(org, env)
        encoded = base64.b64encode(plaintext.encode()).decode()
        result = self._call(
            "encrypt the value",
            lambda c: c.secrets.transit.encrypt_data(key, encoded, mount_point=self.transit),
        )
        ciphertext = str(result["data"]["ciphertext"])
        if not layout.is_ciphertext(ciphertext):  # pragma: no cover - Vault's contract
            raise VaultUnavailable("Vault returned something that is not Transit ciphertext.")
        return ciphertext

    # --- KV: index documents and out-of-line values ----------------------------------

    def _read(self, path: str, action: str) -> tuple[dict[str, Any] | None, int]:
        """GET {kv}/data/{path}: (data, version); (None, 0) when nothing is there."""

        def read(c: hvac.Client) -> tuple[dict[str, Any] | None, int]:
            try:
                result = c.secrets.kv.v2.read_secret_version(
                    path, mount_point=self.kv, raise_on_deleted_version=True
                )
            except hvac.exceptions.InvalidPath:
                return None, 0
            return result["data"]["data"], int(result["data"]["metadata"]["version"])

        return self._call(action, read)

    def _write(self, path: str, data: dict[str, Any], cas: int | None, action: str) -> None:
        """POST {kv}/data/{path}, with check-and-set when `cas` is given."""

        def write(c: hvac.Client) -> None:
            try:
                c.secrets.kv.v2.create_or_update_secret(
                    path, secret=data, cas=cas, mount_point=self.kv
                )
            except hvac.exceptions.InvalidRequest as exc:
                if "check-and-set" in str(exc):
                    raise IndexChanged(path) from None
                raise

        self._call(action, write)

    def destroy(self, path: str) -> None:
        """DELETE {kv}/metadata/{path}: every version, gone for good."""
        self._call(
            "delete from Vault",
            lambda c: c.secrets.kv.v2.delete_metadata_and_all_versions(path, mount_point=self.kv),
        )

    def read_index(self, org: str, env: str) -> tuple[dict[str, layout.Entry], int]:
        """GET {kv}/data/orgs/{org}/{env}: the environment's entries and the CAS version."""
        data, version = self._read(layout.index_path(org, env), "read the secrets index")
        return layout.decode_index(data), version

    def write_index(self, org: str, env: str, entries: dict[str, layout.Entry], cas: int) -> None:
        """POST {kv}/data/orgs/{org}/{env} with check-and-set."""
        self._write(
            layout.index_path(org, env),
            layout.encode_index(entries),
            cas,
            "write the secrets index",
        )

    def write_large(self, path: str, ciphertext: str) -> None:
        """POST {kv}/data/orgs/{org}/{env}/large/{id}."""
        self._write(path, {"ct": ciphertext}, None, "write a value")

    # --- KV: the write-ahead journal --------------------------------------------------

    def write_journal(self, org: str, op_id: str, record: dict[str, Any]) -> None:
        """POST {kv}/data/journal/{org}/{op}."""
        self._write(
            layout.journal_path(org, op_id),
            {"record": json.dumps(record, separators=(",", ":"))},
            0,
            "record the change",
        )

    def read_journal(self, org: str, op_id: str) -> dict[str, Any] | None:
        """GET {kv}/data/journal/{org}/{op}."""
        data, _ = self._read(layout.journal_path(org, op_id), "read the change record")
        return None if data is None else dict(json.loads(data["record"]))

    def list_journal(self, org: str) -> list[str]:
        """LIST {kv}/metadata/journal/{org}: operations left in flight."""

        def listing(c: hvac.Client) -> list[str]:
            try:
                result = c.secrets.kv.v2.list_secrets(layout.journal_dir(org), mount_point=self.kv)
            except hvac.exceptions.InvalidPath:
                return []
            return [str(k) for k in result["data"]["keys"]]

        return self._call("list the change records", listing)

    def list_journal_orgs(self) -> list[str]:
        """LIST {kv}/metadata/journal: organizations with operations left in flight."""

        def listing(c: hvac.Client) -> list[str]:
            try:
                result = c.secrets.kv.v2.list_secrets("journal", mount_point=self.kv)
            except hvac.exceptions.InvalidPath:
                return []
            return [str(k).rstrip("/") for k in result["data"]["keys"]]

        return self._call("list the change records", listing)

    def delete_journal(self, org: str, op_id: str) -> None:
        """DELETE {kv}/metadata/journal/{org}/{op}."""
        self.destroy(layout.journal_path(org, op_id))
