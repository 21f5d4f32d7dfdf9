"""The facade's Vault calls, all of them, and the one place Vault errors are translated.

The facade's identity (policies/facade.hcl) encrypts, reads and writes ciphertext, and
deletes; it cannot decrypt. Nothing here returns or logs a plaintext value: `encrypt`
takes one and returns only ciphertext. Every function names the Vault path it hits.
"""

from __future__ import annotations

import base64
import http.client
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import hvac
import hvac.exceptions
import requests

from vaultfront import layout
from vaultfront.config import Settings
from vaultfront.errors import VaultRefused, VaultUnavailable, VaultUnreachable
from vaultfront.executor.client import TLSSettings, VaultHTTP
from vaultfront.vault_statuses import REFUSED_STATUSES, UNAVAILABLE_STATUSES

log = logging.getLogger("vaultfront.vault")
T = TypeVar("T")
U = TypeVar("U")

TIMEOUT_SECONDS = 5
RENEW_FRACTION = 1 / 3  # renew once less than a third of the token's TTL is left
PARALLEL_CALLS = 6  # concurrent Vault calls of one write (one per environment) and more
TRANSIT_BATCH = 400  # items per batch call: the listener caps a request at 1,000 strings


class IndexChanged(Exception):
    """A check-and-set write found the index document changed since it was read."""


@dataclass(frozen=True)
class IndexSnapshot:
    """An index document as read or last written: its entries, the KV version to
    check-and-set against, its `applied` mark, and the size of its secrets map."""

    entries: dict[str, layout.Entry]
    cas: int
    applied: str
    size: int


class VaultStatusError(hvac.exceptions.VaultError):  # type: ignore[misc]
    """Vault answered an error on the facade's own HTTP path (`VaultStore._fast`), with the
    status kept, so that `translated` reads it in `vault_statuses`' table."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


#: hvac's exceptions by the status they stand for (hvac keeps the class, not the status).
_HVAC_STATUSES: dict[type[Exception], int] = {
    hvac.exceptions.Forbidden: 403,
    hvac.exceptions.RateLimitExceeded: 429,
    hvac.exceptions.VaultNotInitialized: 501,
    hvac.exceptions.BadGateway: 502,
    hvac.exceptions.VaultDown: 503,
}


def _status(exc: hvac.exceptions.VaultError) -> int | None:
    if isinstance(exc, VaultStatusError):
        return exc.status
    return next((code for kind, code in _HVAC_STATUSES.items() if isinstance(exc, kind)), None)


@contextmanager
def translated(action: str) -> Iterator[None]:
    """Vault's answers and the network's failures as typed errors, in one place:
    `VaultRefused` (a policy or token refusal), `VaultUnreachable` (no answer, sealed,
    standby, ...), `VaultUnavailable` (anything else). Statuses mean what
    `vaultfront.vault_statuses` says, for the facade and the executor alike."""
    try:
        yield
    except IndexChanged:
        raise
    except hvac.exceptions.VaultError as exc:
        status = _status(exc)
        if status in REFUSED_STATUSES:
            log.warning("vault refused: %s (%s)", action, status)
            raise VaultRefused(
                f"Vault refused to {action} (permission denied); nothing was written. "
                "Check the facade's Vault policy (`vaultfront vault bootstrap`)."
            ) from None
        if status == 503:
            log.warning("vault sealed or down: %s", action)
            raise VaultUnreachable(
                f"Vault is sealed or in maintenance and could not {action}; nothing was "
                "written. Try again once Vault is unsealed."
            ) from None
        if status in UNAVAILABLE_STATUSES:
            log.warning("vault unavailable: %s (%s)", action, status)
            raise VaultUnreachable(
                f"Vault is unavailable ({UNAVAILABLE_STATUSES[status]}) and could not "
                f"{action}; nothing was written. Try again in a moment."
            ) from None
        log.warning("vault error: %s (%s)", action, type(exc).__name__)
        raise VaultUnavailable(
            f"Vault could not {action} ({type(exc).__name__}); nothing was written. "
            "Try again in a moment."
        ) from None
    except (requests.exceptions.RequestException, OSError, http.client.HTTPException) as exc:
        log.warning("vault unreachable: %s (%s)", action, type(exc).__name__)
        raise VaultUnreachable(
            f"Vault cannot be reached to {action}; nothing was written. Try again in a moment."
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

    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self._clock = clock  # when to renew the token; tests drive it instead of waiting
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
        self._local = threading.local()
        self._tls = TLSSettings.from_env(os.environ)
        # Calls to different documents or keys of one write (up to one per environment)
        # go out side by side: Vault answers them concurrently.
        self._side_by_side = ThreadPoolExecutor(
            max_workers=PARALLEL_CALLS, thread_name_prefix="vaultfront-vault"
        )

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
            self._renew_at = self._clock() + ttl * (1 - RENEW_FRACTION) if ttl else None
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
                self._renew_at = self._clock() + ttl * (1 - RENEW_FRACTION)
        except (hvac.exceptions.VaultError, requests.exceptions.RequestException):
            self._login()

    def client(self) -> hvac.Client:
        with self._lock:
            if not self._logged_in:
                self._login()
            elif self._renew_at is not None and self._clock() >= self._renew_at:
                self._renew()
        return self._client

    def _call(self, action: str, fn: Callable[[hvac.Client], T]) -> T:
        with translated(action):
            try:
                return fn(self.client())
            except hvac.exceptions.Forbidden:
                # A revoked or expired token looks like any refusal (403). With an AppRole
                # to log in with, log in again once and retry: a real policy refusal is
                # refused again and reported as such.
                if not self._can_log_in():
                    raise
                log.info("vault refused the facade's token; logging in again")
                with self._lock:
                    self._login()
                return fn(self._client)

    def each(self, fn: Callable[[U], T], items: Iterable[U]) -> list[T]:
        """`fn` over `items`, side by side, in order. Every call runs to its end before the
        first error (a `VaultUnavailable`, say) is raised, so nothing is left in flight."""
        work = list(items)
        if len(work) < 2:
            return [fn(item) for item in work]
        futures = [self._side_by_side.submit(fn, item) for item in work]
        errors = [future.exception() for future in futures]
        for error in errors:
            if error is not None:
                raise error
        return [future.result() for future in futures]

    def close(self) -> None:
        """Stop the threads of side-by-side calls (the app's shutdown)."""
        self._side_by_side.shutdown(wait=False)

    def _fast(self, method: str, path: str, payload: Any = None) -> Any:
        """`method /v1/{path}` over this thread's keep-alive `http.client` connection, for
        the calls every write makes (encrypt, index read and write): requests, under hvac,
        costs about 0.8 ms of each call here (docs/design.md, "Speed"). Vault's errors
        become hvac's exceptions, so that `translated` handles them like every other."""
        connection: VaultHTTP | None = getattr(self._local, "http", None)
        if connection is None:
            connection = VaultHTTP(self.settings.vault_addr, timeout=TIMEOUT_SECONDS, tls=self._tls)
            self._local.http = connection
        connection.token = self.client().token
        reply = connection.request(method, path, payload)
        if reply.status in (400, 403, 404):
            # hvac's own classes, which the callers catch: a check-and-set or bad request,
            # a refusal (log in again), nothing there.
            errors = reply.body.get("errors") if isinstance(reply.body, dict) else None
            raise hvac.exceptions.VaultError.from_status(
                reply.status, reply.cause, errors=errors, method=method, url=path
            )
        if reply.status >= 300:
            raise VaultStatusError(reply.status, reply.cause)
        return reply.body

    def _can_log_in(self) -> bool:
        return bool(self.settings.vault_role_id and self.settings.vault_secret_id)

    def check(self) -> None:
        """GET auth/token/lookup-self: Vault is up, unsealed, and takes the facade's token.

        A write that changes Vault without encrypting anything first (a delete, a rename, a
        clear) asks this before it commits, so that an unreachable Vault is a plain 503
        with nothing written, as it is for writes that encrypt.
        """
        self._call("check the facade's token", lambda c: c.auth.token.lookup_self())

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
        return self.encrypt_many(org, env, [plaintext])[0]

    def encrypt_many(self, org: str, env: str, plaintexts: list[str]) -> list[str]:
        """POST {transit}/encrypt/org-{org}-{env}, one call for them all (`batch_input`,
        which keeps order; at most 499 items per call, the listener's string limit).
        Returns ciphertexts only, in order."""
        key = self.ensure_key(org, env)
        ciphertexts: list[str] = []
        path = f"{self.transit}/encrypt/{key}"
        for start in range(0, len(plaintexts), TRANSIT_BATCH):
            chunk = plaintexts[start : start + TRANSIT_BATCH]
            if len(chunk) == 1:
                payload: dict[str, Any] = {
                    "plaintext": base64.b64encode(chunk[0].encode()).decode()
                }
                result = self._call(
                    "encrypt the value",
                    lambda c, p=payload: self._fast("POST", path, p),  # type: ignore[misc]
                )
                found = [result["data"]["ciphertext"]]
            else:
                batch = [{"plaintext": base64.b64encode(p.encode()).decode()} for p in chunk]
                result = self._call(
                    "encrypt the values",
                    lambda c, b=batch: self._fast(  # type: ignore[misc]
                        "POST", path, {"batch_input": b}
                    ),
                )
                found = [item.get("ciphertext") for item in result["data"]["batch_results"]]
            for ciphertext in found:
                if not layout.is_ciphertext(ciphertext):  # pragma: no cover - Vault's contract
                    raise VaultUnavailable(
                        "Vault returned something that is not Transit ciphertext; nothing "
                        "was written."
                    )
                ciphertexts.append(str(ciphertext))
        return ciphertexts

    # --- KV: index documents and out-of-line values ----------------------------------

    def _read(self, path: str, action: str) -> tuple[dict[str, Any] | None, int]:
        """GET {kv}/data/{path}: (data, version); (None, 0) when nothing is there."""

        def read(c: hvac.Client) -> tuple[dict[str, Any] | None, int]:
            try:
                result = self._fast("GET", f"{self.kv}/data/{path}")
            except hvac.exceptions.InvalidPath:
                return None, 0
            return result["data"]["data"], int(result["data"]["metadata"]["version"])

        return self._call(action, read)

    def _write(self, path: str, data: dict[str, Any], cas: int | None, action: str) -> None:
        """POST {kv}/data/{path}, with check-and-set when `cas` is given."""

        def write(c: hvac.Client) -> None:
            payload: dict[str, Any] = {"data": data}
            if cas is not None:
                payload["options"] = {"cas": cas}
            try:
                self._fast("POST", f"{self.kv}/data/{path}", payload)
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

    def read_index(self, org: str, env: str) -> IndexSnapshot:
        """GET {kv}/data/orgs/{org}/{env}: the environment's entries, CAS version and mark."""
        data, version = self._read(layout.index_path(org, env), "read the secrets index")
        return IndexSnapshot(
            entries=layout.decode_index(data),
            cas=version,
            applied=layout.decode_applied(data),
            size=len(str((data or {}).get("secrets") or "")),
        )

    def write_index(
        self, org: str, env: str, entries: dict[str, layout.Entry], cas: int, applied: str
    ) -> IndexSnapshot:
        """POST {kv}/data/orgs/{org}/{env} with check-and-set; returns what it now holds."""
        data = layout.encode_index(entries, applied)
        self._write(layout.index_path(org, env), data, cas, "write the secrets index")
        return IndexSnapshot(
            entries=entries, cas=cas + 1, applied=applied, size=len(data["secrets"])
        )

    def write_large(self, path: str, ciphertext: str) -> None:
        """POST {kv}/data/orgs/{org}/{env}/large/{id}-{version}."""
        self._write(path, {"ct": ciphertext}, None, "write a value")
