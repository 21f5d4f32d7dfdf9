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
- It imports the standard library only (`http.client`, `json`, `ssl`), not hvac and the
  requests/urllib3 stack under it, nor anything of the web stack: `vaultfront run` starts
  in a fraction of the time `import hvac` takes. Vault's HTTP API needs little: one
  keep-alive connection (`_VaultHTTP`), JSON bodies, and a translation of its statuses
  into the errors below, done in one place (`Executor._answer`).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import http.client
import json
import os
import re
import ssl  # used for https only (http.client imports it anyway)
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Final

from vaultfront import layout
from vaultfront.config import DEFAULT_KV_MOUNT, DEFAULT_TRANSIT_MOUNT

#: OpenBao's listener refuses a request with more than 1,000 JSON strings (499 batch items);
#: stay well below it.
DECRYPT_BATCH_LIMIT: Final = 400
#: Renew the token once this fraction of its lease has passed.
RENEW_AFTER_FRACTION: Final = 2 / 3
REQUEST_TIMEOUT_SECONDS: Final = 10.0
DEFAULT_VAULT_ADDR: Final = "http://127.0.0.1:8200"
#: Statuses of a Vault that cannot serve now: rate limited (429), a DR secondary (472) or
#: performance standby (473) asked for what it does not serve, not initialised (501),
#: sealed or without a leader (503); 502 and 504 come from a proxy or load balancer in
#: front of a Vault that does not answer.
UNAVAILABLE_STATUSES: Final = {
    429: "rate limiting requests",
    472: "a disaster-recovery secondary",
    473: "a performance standby",
    501: "not initialised",
    502: "not answering its proxy",
    503: "sealed or without a leader",
    504: "not answering its proxy in time",
}
#: `VAULT_SKIP_VERIFY` values, as Vault's CLI reads them (Go's `strconv.ParseBool`).
_TRUE: Final = frozenset({"1", "t", "true"})
_FALSE: Final = frozenset({"", "0", "f", "false"})
#: What an HTTP header value may hold (a token, a namespace): printable ASCII, no space.
_HEADER_VALUE: Final = re.compile(r"[\x21-\x7e]+")

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


@dataclass(frozen=True)
class _Reply:
    """Vault's answer: the status, the JSON body (None if there was none or it was not
    JSON), and where a redirect points."""

    status: int
    reason: str
    body: Any
    location: str | None = None

    @property
    def cause(self) -> str:
        """Vault's own error strings (paths and reasons, never request data), else the
        status line. Other bodies (a proxy's page) are not quoted."""
        errors = self.body.get("errors") if isinstance(self.body, dict) else None
        text = "; ".join(" ".join(str(error).split()) for error in errors or [])
        if len(text) > 500:
            text = text[:500] + "..."
        return f"{self.status} {text or self.reason}".strip()


#: Errors of a keep-alive connection the server closed while it was idle. The request is
#: sent once more on a new connection: it most likely never reached Vault, and every
#: request the executor makes may be repeated (reads, decrypts, renewing or revoking its
#: own token; a repeated login only makes one more short-lived token).
_STALE_CONNECTION: Final = (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)


@dataclass(frozen=True)
class TLSSettings:
    """How an https `VAULT_ADDR` is verified, as Vault's CLI reads its environment:
    `VAULT_CACERT` (a PEM file; wins over `VAULT_CAPATH`), `VAULT_CAPATH` (a directory of
    PEM files), `VAULT_SKIP_VERIFY` (no verification at all), `VAULT_CLIENT_CERT` and
    `VAULT_CLIENT_KEY` (a client certificate). Without a CA the system's trust store is
    used (`SSL_CERT_FILE` / `SSL_CERT_DIR` move it)."""

    ca_cert: str | None = None
    ca_path: str | None = None
    skip_verify: bool = False
    client_cert: str | None = None
    client_key: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TLSSettings:
        skip = (env.get("VAULT_SKIP_VERIFY") or "").strip().lower()
        if skip not in _TRUE | _FALSE:
            raise ExecutorConfigError("VAULT_SKIP_VERIFY must be true or false (or 1 or 0)")
        return cls(
            ca_cert=env.get("VAULT_CACERT") or None,
            ca_path=env.get("VAULT_CAPATH") or None,
            skip_verify=skip in _TRUE,
            client_cert=env.get("VAULT_CLIENT_CERT") or None,
            client_key=env.get("VAULT_CLIENT_KEY") or None,
        )

    def context(self) -> ssl.SSLContext:
        """The client TLS context; `ExecutorConfigError` naming the variable whose file
        cannot be loaded."""
        variable, path = (
            ("VAULT_CACERT", self.ca_cert) if self.ca_cert else ("VAULT_CAPATH", self.ca_path)
        )
        try:
            if self.skip_verify:
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            elif self.ca_cert:
                context = ssl.create_default_context(cafile=self.ca_cert)
            elif self.ca_path:
                # OpenSSL looks a directory up by subject hash (`c_rehash`); Vault's CLI
                # loads every PEM file in it. Do both; a file that is not a PEM
                # certificate is skipped.
                context = ssl.create_default_context(capath=self.ca_path)
                for entry in sorted(os.scandir(self.ca_path), key=lambda e: e.name):
                    with contextlib.suppress(OSError, ValueError):  # ssl.SSLError: OSError
                        if entry.is_file():
                            context.load_verify_locations(cafile=entry.path)
            else:
                context = ssl.create_default_context()
            if self.client_cert:
                variable, path = "VAULT_CLIENT_CERT", self.client_cert
                context.load_cert_chain(self.client_cert, self.client_key)
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            raise ExecutorConfigError(
                f"{variable} {path!r} cannot be loaded ({type(exc).__name__}: {exc})"
            ) from None
        return context


def _split_addr(addr: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path prefix) of a `VAULT_ADDR`."""
    try:
        parts = urllib.parse.urlsplit(addr)
        scheme, host, port = parts.scheme.lower(), parts.hostname, parts.port
    except ValueError:
        scheme, host, port = "", None, None
    if scheme not in ("http", "https") or not host:
        raise ExecutorConfigError(
            f"VAULT_ADDR {addr!r} is not an address: write http://HOST:PORT or https://HOST:PORT"
        )
    return scheme, host, port or (443 if scheme == "https" else 80), parts.path.rstrip("/")


class _VaultHTTP:
    """Vault's HTTP API over one keep-alive connection (`http.client`).

    The connection is opened on first use and re-opened after any failure; requests are
    serialized (one at a time per Executor). A request on a kept-alive connection that
    the server closed while idle is sent once more on a new one. A 307/308 redirect (a
    standby pointing at the active node) is followed once, never from https to http.
    Headers: `X-Vault-Token` (`token`, when set), `X-Vault-Request: true`, and
    `X-Vault-Namespace` when a namespace is given.
    """

    def __init__(
        self, addr: str, *, timeout: float, tls: TLSSettings, namespace: str | None = None
    ) -> None:
        self.scheme, self.host, self.port, self.prefix = _split_addr(addr)
        self.timeout = timeout
        self.token: str | None = None
        self._tls = tls
        self._context = tls.context() if self.scheme == "https" else None
        self._namespace = namespace
        self._connection: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()

    def request(
        self, method: str, path: str, payload: Any = None, *, authenticated: bool = True
    ) -> _Reply:
        """`method /v1/{path}` with `payload` as its JSON body. Raises `OSError` or
        `http.client.HTTPException` when Vault cannot be reached or the exchange breaks."""
        body = None if payload is None else json.dumps(payload).encode()
        headers = {"X-Vault-Request": "true"}
        if authenticated and self.token:
            headers["X-Vault-Token"] = self.token
        if self._namespace:
            headers["X-Vault-Namespace"] = self._namespace
        if body is not None:
            headers["Content-Type"] = "application/json"
        target = f"{self.prefix}/v1/{path}"
        with self._lock:
            reply = self._exchange(method, target, body, headers)
            if reply.status in (307, 308) and reply.location:
                reply = self._follow(method, target, reply, body, headers)
        return reply

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def _open(self, scheme: str, host: str, port: int) -> http.client.HTTPConnection:
        if scheme == "https":
            if self._context is None:
                self._context = self._tls.context()
            return http.client.HTTPSConnection(
                host, port, timeout=self.timeout, context=self._context
            )
        return http.client.HTTPConnection(host, port, timeout=self.timeout)

    def _exchange(
        self, method: str, target: str, body: bytes | None, headers: dict[str, str]
    ) -> _Reply:
        for attempt in (1, 2):
            reused = self._connection is not None
            if self._connection is None:
                self._connection = self._open(self.scheme, self.host, self.port)
            try:
                reply = _send(self._connection, method, target, body, headers)
            except _STALE_CONNECTION:
                self.close()
                if reused and attempt == 1:
                    continue
                raise
            except BaseException:
                self.close()  # a half-read answer: the connection is unusable
                raise
            if reply[1]:
                self.close()  # the server said `Connection: close`
            return reply[0]
        raise AssertionError("unreachable")  # pragma: no cover

    def _follow(
        self,
        method: str,
        target: str,
        reply: _Reply,
        body: bytes | None,
        headers: dict[str, str],
    ) -> _Reply:
        origin = f"[{self.host}]" if ":" in self.host else self.host  # IPv6
        base = f"{self.scheme}://{origin}:{self.port}{target}"
        location = urllib.parse.urlsplit(urllib.parse.urljoin(base, reply.location or ""))
        scheme = location.scheme.lower()
        try:
            host, port = location.hostname, location.port
        except ValueError:
            return reply
        if (
            scheme not in ("http", "https")
            or not host
            or (self.scheme, scheme) == ("https", "http")
        ):
            return reply  # not followed: reported as the redirect it is
        port = port or (443 if scheme == "https" else 80)
        path = location.path + (f"?{location.query}" if location.query else "")
        if (scheme, host, port) == (self.scheme, self.host, self.port):
            return self._exchange(method, path, body, headers)
        connection = self._open(scheme, host, port)
        try:
            return _send(connection, method, path, body, headers)[0]
        finally:
            connection.close()


def _send(
    connection: http.client.HTTPConnection,
    method: str,
    target: str,
    body: bytes | None,
    headers: dict[str, str],
) -> tuple[_Reply, bool]:
    """One exchange; the reply and whether the server closes the connection."""
    connection.request(method, target, body=body, headers=headers)
    response = connection.getresponse()
    data = response.read()
    parsed: Any = None
    if data:
        try:
            parsed = json.loads(data)
        except ValueError:
            parsed = None
    reply = _Reply(response.status, response.reason, parsed, response.getheader("Location"))
    return reply, response.will_close


def _batch_results(body: Any) -> Any:
    data = body.get("data") if isinstance(body, dict) else None
    return data.get("batch_results") if isinstance(data, dict) else None


def _unreachable_cause(exc: BaseException) -> str:
    """Why a connection failed, for a message (socket and TLS errors carry no request
    data)."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"TLS: {exc.verify_message or exc}; set VAULT_CACERT or VAULT_CAPATH to the CA "
            "that signed Vault's certificate"
        )
    if isinstance(exc, OSError):
        detail = exc.strerror or (str(exc) if exc.args else "")
        return f"{type(exc).__name__}: {detail}"[:300] if detail else type(exc).__name__
    return type(exc).__name__


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
        namespace: str | None = None,
        tls: TLSSettings | None = None,
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
        for variable, value in (("VAULT_TOKEN", token), ("VAULT_NAMESPACE", namespace)):
            if value and not _HEADER_VALUE.fullmatch(value):
                raise ExecutorConfigError(
                    f"{variable} holds a space, line break or other character that cannot "
                    "be sent to Vault"
                )
        self.vault_addr = vault_addr.rstrip("/")
        self.kv_mount = kv_mount.strip("/")
        self.transit_mount = transit_mount.strip("/")
        self._role_id = role_id
        self._secret_id = secret_id
        self._static_token = None if role_id else token
        self._clock = clock
        self._lock = threading.Lock()
        self._client = _VaultHTTP(
            self.vault_addr, timeout=timeout, tls=tls or TLSSettings(), namespace=namespace
        )
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
        `VAULTFRONT_TRANSIT_MOUNT`, `VAULT_NAMESPACE`, and for https the TLS variables of
        `TLSSettings`. The AppRole wins when both kinds are set."""
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
            namespace=env.get("VAULT_NAMESPACE") or None,
            tls=TLSSettings.from_env(env),
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
                self._client.request("POST", "auth/token/revoke-self")
                self._authenticated = False
        except (OSError, http.client.HTTPException):
            pass
        finally:
            self._client.close()

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
            index = self._read_index(wanted)
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

    def _read_index(self, wanted: list[str] | None) -> dict[str, Any]:
        """`GET {kv}/data/orgs/{org}/{env}`: the environment's index document, as the raw
        name -> entry JSON items of its committed entries (`wanted` only, if given).

        Only committed values: a change the facade has not committed yet rides beside
        them as `pending`, and is not ours to read. For `wanted` names the map is not
        parsed whole (`layout.find_committed`: in an environment of 2,000 secrets it is
        386 KB), and `Entry` objects are built only for the names asked, by `_entry`.
        """
        path = self._index_path()
        body = self._vault("GET", path, action=f"read the index of {self.where}")
        if body is None:
            return {}  # nothing has ever been set in this environment
        try:
            return layout.read_committed(body["data"]["data"] or {}, wanted)
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
                batch=True,
            )
            results = _batch_results(body) or []
            if len(results) != len(chunk):
                raise VaultFailure(
                    f"Vault answered {len(results)} results for {len(chunk)} ciphertexts at {path}",
                    path=path,
                )
            failed = {
                name: " ".join(str(result["error"]).split())
                for name, result in zip(chunk, results, strict=True)
                if result.get("error")
            }
            if failed:
                reasons = ", ".join(f"{name} ({error})" for name, error in failed.items())
                raise VaultFailure(
                    f"Vault could not decrypt {reasons} with key {key}",
                    secret=next(iter(failed)),
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
        batch: bool = False,
    ) -> dict[str, Any] | None:
        """One request to `/v1/{path}` with the executor's token (see `_answer`).

        A 403 to a token that was not obtained for this very call (it may have expired
        or been revoked) is retried once after a new login.
        """
        started = self._clock()
        self._ensure_token()
        while True:
            reply = self._send(method, path, payload, action=action, secret=secret)
            if reply.status == 403 and self._role_id and self._authenticated_at < started:
                with self._lock:
                    self._login()
                continue
            return self._answer(
                reply, action=action, path=path, secret=secret, missing_ok=missing_ok, batch=batch
            )

    def _send(
        self,
        method: str,
        path: str,
        payload: dict[str, Any] | None = None,
        *,
        action: str,
        secret: str | None = None,
        authenticated: bool = True,
    ) -> _Reply:
        try:
            return self._client.request(method, path, payload, authenticated=authenticated)
        except (OSError, http.client.HTTPException) as exc:  # refused, reset, timeout, TLS
            raise VaultUnreachable(
                f"Vault at {self.vault_addr} cannot be reached to {action} "
                f"({_unreachable_cause(exc)})",
                secret=secret,
                path=path,
            ) from exc

    def _answer(
        self,
        reply: _Reply,
        *,
        action: str,
        path: str,
        secret: str | None = None,
        missing_ok: bool = False,
        batch: bool = False,
        refused: str | None = None,
        refused_statuses: tuple[int, ...] = (403,),
    ) -> dict[str, Any] | None:
        """Vault's answer as its JSON body, or the error it means: the one place where
        statuses are translated.

        2xx: the body (`{}` if none). 404: None when `missing_ok` (nothing there).
        400 with per-item `batch_results` when `batch`: the body (the caller names each
        failed item). 403 (and `refused_statuses`): `VaultDenied`, explained by `refused`.
        `UNAVAILABLE_STATUSES` (sealed, standby, not initialised, ...): `VaultUnreachable`.
        Anything else: `VaultFailure`. Messages carry Vault's error strings, the path and
        the status; never a request body.
        """
        status = reply.status
        body = reply.body
        if 200 <= status < 300:
            if status != 204 and not isinstance(body, dict):
                raise VaultFailure(
                    f"Vault answered {status} with no JSON object to {action} ({path})",
                    secret=secret,
                    path=path,
                )
            return body if isinstance(body, dict) else {}
        if status == 404 and missing_ok:
            return None
        if status == 400 and batch and isinstance(_batch_results(body), list):
            return body  # type: ignore[no-any-return]
        if status in refused_statuses:
            explanation = refused or (
                f"the executor's credentials do not cover {self.where}, or they were revoked"
            )
            raise VaultDenied(
                f"Vault refused to {action} ({reply.cause} on {path}): {explanation}",
                secret=secret,
                path=path,
            )
        if status in UNAVAILABLE_STATUSES:
            raise VaultUnreachable(
                f"Vault at {self.vault_addr} is unavailable ({UNAVAILABLE_STATUSES[status]}) "
                f"and cannot {action} ({reply.cause} on {path})",
                secret=secret,
                path=path,
            )
        where = f" to {reply.location}" if reply.location and 300 <= status < 400 else ""
        raise VaultFailure(
            f"Vault failed to {action} ({reply.cause}{where} on {path})",
            secret=secret,
            path=path,
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
        path = "auth/approle/login"
        reply = self._send(
            "POST",
            path,
            {"role_id": self._role_id, "secret_id": self._secret_id},
            action="log in",
            authenticated=False,
        )
        body = self._answer(
            reply,
            action="complete the executor's AppRole login",
            path=path,
            refused="check VAULTFRONT_EXECUTOR_ROLE_ID and VAULTFRONT_EXECUTOR_SECRET_ID",
            refused_statuses=(400, 403),
        )
        auth = (body or {}).get("auth") or {}
        token = auth.get("client_token")
        if not isinstance(token, str) or not _HEADER_VALUE.fullmatch(token):
            raise VaultFailure("Vault's answer to the AppRole login holds no token", path=path)
        self._client.token = token
        self._track_lease(float(auth.get("lease_duration") or 0), bool(auth.get("renewable")))

    def _lookup_token(self) -> None:
        """`GET auth/token/lookup-self`: the lease of a token given as `VAULT_TOKEN`."""
        self._client.token = self._static_token
        body = self._token_call("GET", "auth/token/lookup-self", "look up the executor's token")
        data = body.get("data") or {}
        self._track_lease(float(data.get("ttl") or 0), bool(data.get("renewable")))

    def _renew(self) -> None:
        """`POST auth/token/renew-self`; a new login when renewal fails or the token is
        close to its maximum TTL."""
        try:
            body = self._token_call("POST", "auth/token/renew-self", "renew the executor's token")
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

    def _token_call(self, method: str, path: str, action: str) -> dict[str, Any]:
        # The token calls above, outside `_vault` so that they neither re-enter the login
        # logic nor retry.
        reply = self._send(method, path, action=action)
        body = self._answer(
            reply,
            action=action,
            path=path,
            refused="it expired or was revoked",
        )
        return body or {}

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
