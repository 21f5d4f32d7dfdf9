"""The integration executor: the only place in vaultfront that decrypts.

An `Executor` holds one Vault identity scoped to one organization and one environment
(`vaultfront vault executor-role`, policy `policies/executor.hcl`). It talks to Vault only:
never to the facade's database or HTTP API. Resolving any number of secrets costs one KV
read of the environment's index document (`vaultfront.layout`), one KV read per value kept
out of line (rare), and one Transit batch decrypt per `DECRYPT_BATCH_LIMIT` ciphertexts.

Rules for this module:

- Every Vault call lives here and names its Vault path in its docstring.
- Values are returned to the caller and never kept, logged, or put into an exception:
  errors name the secret and the cause only.
- It imports hvac and the standard library, nothing of the web stack, so that
  `vaultfront run` starts about as fast as `import hvac`.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, Final

import hvac
import hvac.exceptions

from vaultfront import layout
from vaultfront.config import DEFAULT_KV_MOUNT, DEFAULT_TRANSIT_MOUNT

#: OpenBao's listener refuses a request with more than 1,000 JSON strings (499 batch items);
#: stay well below it.
DECRYPT_BATCH_LIMIT: Final = 400
#: Renew the token once this fraction of its lease has passed.
RENEW_AFTER_FRACTION: Final = 2 / 3
REQUEST_TIMEOUT_SECONDS: Final = 10.0
DEFAULT_VAULT_ADDR: Final = "http://127.0.0.1:8200"

#: `{{ secrets.NAME }}`: spaces or tabs (not newlines) are allowed inside the braces.
PLACEHOLDER: Final = re.compile(r"\{\{[ \t]*secrets\.([A-Za-z0-9_]+)[ \t]*\}\}")
_PLACEHOLDER_START: Final = re.compile(r"\{\{[ \t]*secrets\.")


class ExecutorError(Exception):
    """Base of the executor's errors. The message names the secret and the cause; never a
    value. `secret` is the secret concerned (if one is), `path` the Vault path (if any)."""

    code: ClassVar[str] = "executor_error"

    def __init__(self, message: str, *, secret: str | None = None, path: str | None = None):
        super().__init__(message)
        self.secret = secret
        self.path = path


class ExecutorConfigError(ExecutorError):
    """The environment does not say where Vault is or who the executor is."""

    code = "config"


class SecretNotFound(ExecutorError, LookupError):
    """A name that is not set in this organization's environment.

    An executor's identity can only see its own environment, so a name that is set in
    another environment (or another organization) is, from here, simply not set here.
    """

    code = "secret_not_found"

    def __init__(self, message: str, *, names: Iterable[str], path: str | None = None):
        self.names = tuple(names)
        super().__init__(message, secret=self.names[0] if self.names else None, path=path)


class VaultDenied(ExecutorError):
    """Vault answered 403 (or refused the login): the identity may not do this."""

    code = "vault_denied"
    status: ClassVar[int] = 403


class VaultUnreachable(ExecutorError):
    """Vault could not be reached, timed out, or is sealed / in standby without a leader."""

    code = "vault_unreachable"


class VaultFailure(ExecutorError):
    """Vault answered with an error other than 403 (bad ciphertext, server error, ...)."""

    code = "vault_error"


class _ValueMoved(VaultFailure):
    """An out-of-line value disappeared between the index read and its own read."""


def _describe(exc: hvac.exceptions.VaultError) -> str:
    # Vault's own error strings: paths and reasons, never request data.
    errors = exc.errors or ([str(exc.args[0])] if exc.args and exc.args[0] else [])
    text = "; ".join(" ".join(str(error).split()) for error in errors)
    return text or type(exc).__name__


def _names_phrase(names: Iterable[str]) -> str:
    names = list(names)
    if len(names) == 1:
        return f"{names[0]} is"
    return f"{', '.join(names)} are"


class Executor:
    """Reads and decrypts the current secrets of one organization's one environment.

    Log in happens on first use (one AppRole login per Executor); the token is renewed
    once two thirds of its lease have passed, and the Executor logs in again if renewal
    fails or the token is refused. Safe to share between threads.
    """

    def __init__(
        self,
        *,
        org: str,
        environment: str,
        vault_addr: str = DEFAULT_VAULT_ADDR,
        role_id: str | None = None,
        secret_id: str | None = None,
        token: str | None = None,
        kv_mount: str = DEFAULT_KV_MOUNT,
        transit_mount: str = DEFAULT_TRANSIT_MOUNT,
        timeout: float = REQUEST_TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        try:
            self.org = layout.check_org_slug(org)
            self.environment = layout.check_environment(environment)
        except ValueError as exc:
            raise ExecutorConfigError(str(exc)) from None
        if role_id or secret_id:
            if not (role_id and secret_id):
                raise ExecutorConfigError(
                    "set both VAULTFRONT_EXECUTOR_ROLE_ID and VAULTFRONT_EXECUTOR_SECRET_ID "
                    "(printed by `vaultfront vault executor-role`)"
                )
        elif not token:
            raise ExecutorConfigError(
                "no Vault credentials: set VAULTFRONT_EXECUTOR_ROLE_ID and "
                "VAULTFRONT_EXECUTOR_SECRET_ID (printed by `vaultfront vault executor-role "
                f"--org {self.org} --env {self.environment}`), or VAULT_TOKEN"
            )
        self.vault_addr = vault_addr.rstrip("/")
        self.kv_mount = kv_mount.strip("/")
        self.transit_mount = transit_mount.strip("/")
        self._role_id = role_id
        self._secret_id = secret_id
        self._static_token = None if role_id else token
        self._clock = clock
        self._lock = threading.Lock()
        # token="" keeps hvac from falling back to VAULT_TOKEN or ~/.vault-token.
        self._client = hvac.Client(url=self.vault_addr, token="", timeout=timeout)
        self._authenticated = False
        self._lease_seconds: float | None = None  # None: the token does not expire
        self._renew_at: float | None = None
        self._authenticated_at = 0.0

    @classmethod
    def from_env(
        cls, *, org: str, environment: str, environ: Mapping[str, str] | None = None
    ) -> Executor:
        """An Executor configured by `VAULT_ADDR`, `VAULTFRONT_EXECUTOR_ROLE_ID` and
        `VAULTFRONT_EXECUTOR_SECRET_ID` (or `VAULT_TOKEN`), `VAULTFRONT_KV_MOUNT` and
        `VAULTFRONT_TRANSIT_MOUNT`. The AppRole wins when both kinds are set."""
        env = os.environ if environ is None else environ
        return cls(
            org=org,
            environment=environment,
            vault_addr=env.get("VAULT_ADDR") or DEFAULT_VAULT_ADDR,
            role_id=env.get("VAULTFRONT_EXECUTOR_ROLE_ID") or None,
            secret_id=env.get("VAULTFRONT_EXECUTOR_SECRET_ID") or None,
            token=env.get("VAULT_TOKEN") or None,
            kv_mount=env.get("VAULTFRONT_KV_MOUNT") or DEFAULT_KV_MOUNT,
            transit_mount=env.get("VAULTFRONT_TRANSIT_MOUNT") or DEFAULT_TRANSIT_MOUNT,
        )

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """`POST auth/token/revoke-self` for a token this executor logged in for (never
        for a `VAULT_TOKEN` it was given), then close the HTTP connection. Best effort: a
        token that cannot be revoked now expires with its short TTL."""
        try:
            if self._role_id and self._authenticated:
                self._client.adapter.post("/v1/auth/token/revoke-self")
                self._authenticated = False
        except (hvac.exceptions.VaultError, OSError):
            pass
        finally:
            self._client.adapter.close()

    def __repr__(self) -> str:
        return f"Executor(org={self.org!r}, environment={self.environment!r})"

    @property
    def where(self) -> str:
        return f"{self.environment} of organization {self.org}"

    # -- the public API ---------------------------------------------------------------

    def get(self, name: str) -> str:
        """The current value of one secret."""
        return self.resolve([name])[name]

    def resolve(self, names: Iterable[str]) -> dict[str, str]:
        """Current values of the named secrets (one KV read, batched decrypts).

        Raises `SecretNotFound` naming every name that is not set here.
        """
        wanted = list(dict.fromkeys(names))
        if not wanted:
            return {}
        return self._resolve(wanted)

    def resolve_all(self) -> dict[str, str]:
        """Every secret set in this environment, by name."""
        return self._resolve(None)

    def render(self, text: str) -> str:
        """`text` with every `{{ secrets.NAME }}` replaced by that secret's value.

        Whitespace inside the braces may be spaces or tabs, or none. The text is scanned
        once, so a value that itself contains a placeholder is inserted as it is. A
        placeholder naming a secret that is not set raises `SecretNotFound`; a
        `{{ secrets.` that does not form a placeholder raises `ExecutorError`.
        """
        for start in _PLACEHOLDER_START.finditer(text):
            if not PLACEHOLDER.match(text, start.start()):
                snippet = text[start.start() : start.start() + 60].split("\n", 1)[0]
                raise ExecutorError(
                    f"malformed placeholder {snippet!r}: write {{{{ secrets.NAME }}}}"
                )
        names = list(dict.fromkeys(match.group(1) for match in PLACEHOLDER.finditer(text)))
        if not names:
            return text
        try:
            values = self.resolve(names)
        except SecretNotFound as exc:
            placeholders = ", ".join(f"{{{{ secrets.{name} }}}}" for name in exc.names)
            raise SecretNotFound(
                f"unknown placeholder {placeholders}: {_names_phrase(exc.names)} "
                f"not set in {self.where}",
                names=exc.names,
                path=exc.path,
            ) from None
        return PLACEHOLDER.sub(lambda match: values[match.group(1)], text)

    # -- resolving ----------------------------------------------------------------------

    def _resolve(self, wanted: list[str] | None) -> dict[str, str]:
        # A value kept out of line can vanish between the index read and its own read
        # (the facade deleted or moved it): read the index once more in that case.
        for attempt in (1, 2):
            index = self._read_index()
            names = list(index) if wanted is None else wanted
            missing = [name for name in names if name not in index]
            if missing:
                raise SecretNotFound(
                    f"{_names_phrase(missing)} not set in {self.where}",
                    names=missing,
                    path=self._index_path(),
                )
            ciphertexts: dict[str, str] = {}
            try:
                for name in names:
                    ciphertexts[name] = self._ciphertext(name, self._entry(name, index[name]))
            except _ValueMoved:
                if attempt == 2:
                    raise
                continue
            return self._decrypt(ciphertexts)
        raise AssertionError("unreachable")  # pragma: no cover

    def _index_path(self) -> str:
        return f"{self.kv_mount}/data/{layout.index_path(self.org, self.environment)}"

    def _read_index(self) -> dict[str, Any]:
        """`GET {kv}/data/orgs/{org}/{env}`: the environment's index document, as the raw
        name -> entry JSON map.

        This is `layout.decode_index` without building an `Entry` for every name: in an
        environment of 2,000 secrets that would cost more than the read itself, so
        `_entry` builds only the entries asked for.
        """
        path = self._index_path()
        body = self._vault("GET", path, action=f"read the index of {self.where}")
        if body is None:
            return {}  # nothing has ever been set in this environment
        try:
            data = body["data"]["data"] or {}
            if data.get("format") != layout.FORMAT:
                raise ValueError(f"unknown index format {data.get('format')!r}")
            raw = json.loads(data.get("secrets") or "{}")
            if not isinstance(raw, dict):
                raise ValueError("the secrets map is not an object")
            # Only committed values: a change the facade has not committed yet rides
            # beside them as `pending`, and is not ours to read.
            return layout.committed_items(raw)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise VaultFailure(
                f"the index document at {path} is not readable ({exc})", path=path
            ) from None

    def _entry(self, name: str, raw: Any) -> layout.Entry:
        try:
            return layout.Entry.from_json(raw)
        except (KeyError, TypeError, ValueError) as exc:
            raise VaultFailure(
                f"the index entry of {name} is not readable ({exc})", secret=name
            ) from None

    def _ciphertext(self, name: str, entry: layout.Entry) -> str:
        """The entry's ciphertext; for an out-of-line value,
        `GET {kv}/data/orgs/{org}/{env}/large/{id}`."""
        if entry.ct is not None:
            return entry.ct
        ref = entry.ref or ""
        if not ref.startswith(layout.index_path(self.org, self.environment) + "/large/"):
            raise VaultFailure(f"{name} points outside {self.where} ({ref!r})", secret=name)
        path = f"{self.kv_mount}/data/{ref}"
        body = self._vault("GET", path, action=f"read the value of {name}", secret=name)
        if body is None:
            raise _ValueMoved(f"the value of {name} was removed while it was read", secret=name)
        ct = (body.get("data", {}).get("data") or {}).get("ct")
        if not layout.is_ciphertext(ct):
            raise VaultFailure(f"the value of {name} at {path} is not a ciphertext", secret=name)
        return str(ct)

    def _decrypt(self, ciphertexts: dict[str, str]) -> dict[str, str]:
        """`POST {transit}/decrypt/org-{org}-{env}` with `batch_input`, in chunks of
        `DECRYPT_BATCH_LIMIT`, asking for per-item errors so a failure names its secret."""
        key = layout.transit_key(self.org, self.environment)
        path = f"{self.transit_mount}/decrypt/{key}"
        names = list(ciphertexts)
        values: dict[str, str] = {}
        for offset in range(0, len(names), DECRYPT_BATCH_LIMIT):
            chunk = names[offset : offset + DECRYPT_BATCH_LIMIT]
            body = self._vault(
                "POST",
                path,
                payload={
                    "batch_input": [{"ciphertext": ciphertexts[name]} for name in chunk],
                    "partial_failure_response_code": 200,
                },
                action=f"decrypt {chunk[0] if len(chunk) == 1 else 'the secrets'} of {self.where}",
                secret=chunk[0] if len(chunk) == 1 else None,
                missing_ok=False,
            )
            results = (body or {}).get("data", {}).get("batch_results") or []
            if len(results) != len(chunk):
                raise VaultFailure(
                    f"Vault answered {len(results)} results for {len(chunk)} ciphertexts at {path}",
                    path=path,
                )
            failed = [
                f"{name} ({' '.join(str(result['error']).split())})"
                for name, result in zip(chunk, results, strict=True)
                if result.get("error")
            ]
            if failed:
                raise VaultFailure(
                    f"Vault could not decrypt {', '.join(failed)} with key {key}",
                    secret=chunk[0],
                    path=path,
                )
            for name, result in zip(chunk, results, strict=True):
                try:
                    values[name] = base64.b64decode(result["plaintext"], validate=True).decode()
                except (KeyError, binascii.Error, UnicodeDecodeError):
                    raise VaultFailure(
                        f"the value of {name} is not UTF-8 text", secret=name, path=path
                    ) from None
        return values

    # -- talking to Vault ----------------------------------------------------------------

    def _vault(
        self,
        method: str,
        path: str,
        *,
        action: str,
        payload: dict[str, Any] | None = None,
        secret: str | None = None,
        missing_ok: bool = True,
    ) -> dict[str, Any] | None:
        """One request to `/v1/{path}` with the executor's token. None on 404 if
        `missing_ok`.

        A 403 from a token that was not obtained for this very call (it may have expired
        or been revoked) is retried once after a new login.
        """
        started = self._clock()
        self._ensure_token()
        while True:
            try:
                response = self._client.adapter.request(method, f"/v1/{path}", json=payload)
            except hvac.exceptions.InvalidPath as exc:
                if missing_ok:
                    return None
                raise self._translate(exc, action, path, secret) from exc
            except hvac.exceptions.Forbidden as exc:
                if self._role_id and self._authenticated_at < started:
                    with self._lock:
                        self._login()
                    continue
                raise VaultDenied(
                    f"Vault refused to {action} ({_describe(exc)} on {path}): the executor's "
                    f"credentials do not cover {self.where}, or they were revoked",
                    secret=secret,
                    path=path,
                ) from exc
            except hvac.exceptions.VaultError as exc:
                raise self._translate(exc, action, path, secret) from exc
            except OSError as exc:  # requests' connection errors and timeouts
                raise VaultUnreachable(
                    f"Vault at {self.vault_addr} cannot be reached to {action} "
                    f"({type(exc).__name__})",
                    secret=secret,
                    path=path,
                ) from exc
            return response if isinstance(response, dict) else None

    def _translate(
        self, exc: hvac.exceptions.VaultError, action: str, path: str, secret: str | None
    ) -> ExecutorError:
        if isinstance(exc, hvac.exceptions.VaultDown | hvac.exceptions.BadGateway):
            return VaultUnreachable(
                f"Vault at {self.vault_addr} is unavailable (sealed or without a leader) "
                f"and cannot {action}: {_describe(exc)}",
                secret=secret,
                path=path,
            )
        return VaultFailure(
            f"Vault failed to {action} ({_describe(exc)} on {path})", secret=secret, path=path
        )

    def _ensure_token(self) -> None:
        with self._lock:
            if not self._authenticated:
                if self._role_id:
                    self._login()
                else:
                    self._lookup_token()
            elif self._renew_at is not None and self._clock() >= self._renew_at:
                self._renew()

    def _login(self) -> None:
        """`POST auth/approle/login` with the executor's role_id and secret_id."""
        try:
            response = self._client.adapter.post(
                "/v1/auth/approle/login",
                json={"role_id": self._role_id, "secret_id": self._secret_id},
            )
        except (hvac.exceptions.InvalidRequest, hvac.exceptions.Forbidden) as exc:
            raise VaultDenied(
                f"Vault refused the executor's AppRole login ({_describe(exc)}): check "
                "VAULTFRONT_EXECUTOR_ROLE_ID and VAULTFRONT_EXECUTOR_SECRET_ID",
                path="auth/approle/login",
            ) from exc
        except hvac.exceptions.VaultError as exc:
            raise self._translate(exc, "log in", "auth/approle/login", None) from exc
        except OSError as exc:
            raise VaultUnreachable(
                f"Vault at {self.vault_addr} cannot be reached to log in ({type(exc).__name__})",
                path="auth/approle/login",
            ) from exc
        auth = response["auth"]
        self._client.token = auth["client_token"]
        self._track_lease(float(auth.get("lease_duration") or 0), bool(auth.get("renewable")))

    def _lookup_token(self) -> None:
        """`GET auth/token/lookup-self`: the lease of a token given as `VAULT_TOKEN`."""
        self._client.token = self._static_token
        body = self._vault_unauthenticated("GET", "auth/token/lookup-self", "look up its token")
        data = body.get("data") or {}
        self._track_lease(float(data.get("ttl") or 0), bool(data.get("renewable")))

    def _renew(self) -> None:
        """`POST auth/token/renew-self`; a new login when renewal fails or the token is
        close to its maximum TTL."""
        try:
            body = self._vault_unauthenticated("POST", "auth/token/renew-self", "renew its token")
        except (VaultDenied, VaultFailure):
            if not self._role_id:
                raise
            self._login()
            return
        auth = body.get("auth") or {}
        lease = float(auth.get("lease_duration") or 0)
        previous = self._lease_seconds or 0.0
        if self._role_id and lease < previous * (1 - RENEW_AFTER_FRACTION):
            self._login()  # capped by the token's max TTL: start afresh
            return
        self._track_lease(lease, bool(auth.get("renewable")), fresh=False)

    def _vault_unauthenticated(self, method: str, path: str, action: str) -> dict[str, Any]:
        # The token calls above, outside `_vault` so that they neither re-enter the login
        # logic nor retry.
        try:
            response = self._client.adapter.request(method, f"/v1/{path}")
        except hvac.exceptions.Forbidden as exc:
            raise VaultDenied(
                f"Vault refused the executor's token to {action} ({_describe(exc)}): "
                "it expired or was revoked",
                path=path,
            ) from exc
        except hvac.exceptions.VaultError as exc:
            raise self._translate(exc, action, path, None) from exc
        except OSError as exc:
            raise VaultUnreachable(
                f"Vault at {self.vault_addr} cannot be reached to {action} ({type(exc).__name__})",
                path=path,
            ) from exc
        return response if isinstance(response, dict) else {}

    def _track_lease(self, lease: float, renewable: bool, *, fresh: bool = True) -> None:
        now = self._clock()
        self._authenticated = True
        if fresh:
            self._authenticated_at = now
        if lease <= 0:
            self._lease_seconds = None  # a token without expiry (root, or never-expiring)
            self._renew_at = None
            return
        self._lease_seconds = lease
        if renewable or self._role_id:
            self._renew_at = now + lease * RENEW_AFTER_FRACTION
        else:
            self._renew_at = None
