"""Vault's HTTP API with the standard library: one keep-alive connection, TLS, redirects.

The executor's requests are few and fixed (login, token calls, KV reads, Transit
decrypt), so it needs little from HTTP: `http.client` on one keep-alive connection, JSON
bodies, the TLS settings Vault's CLI reads (`TLSSettings`), and a 307/308 redirect
followed once. Not hvac, nor requests and urllib3 under it: their import alone costs more
than everything else `vaultfront run` does.

This module moves bytes only: it returns Vault's answers as `Reply` and raises `OSError`
or `http.client.HTTPException` when the exchange breaks. What an answer means (which
status is which error) is decided in one place, `vaultfront.executor.session`.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import ssl  # used for https only (http.client imports it anyway)
import threading
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from vaultfront.executor.errors import ExecutorConfigError

REQUEST_TIMEOUT_SECONDS: Final = 10.0
#: `VAULT_SKIP_VERIFY` values, as Vault's CLI reads them (Go's `strconv.ParseBool`).
_TRUE: Final = frozenset({"1", "t", "true"})
_FALSE: Final = frozenset({"", "0", "f", "false"})
#: What an HTTP header value may hold (a token, a namespace): printable ASCII, no space.
HEADER_VALUE: Final = re.compile(r"[\x21-\x7e]+")
#: Errors of a keep-alive connection the server closed while it was idle. The request is
#: sent once more on a new connection: it most likely never reached Vault, and every
#: request the executor makes may be repeated (reads, decrypts, renewing or revoking its
#: own token; a repeated login only makes one more short-lived token).
_STALE_CONNECTION: Final = (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)


@dataclass(frozen=True)
class Reply:
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


class VaultHTTP:
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
    ) -> Reply:
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
    ) -> Reply:
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
        reply: Reply,
        body: bytes | None,
        headers: dict[str, str],
    ) -> Reply:
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
) -> tuple[Reply, bool]:
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
    reply = Reply(response.status, response.reason, parsed, response.getheader("Location"))
    return reply, response.will_close
