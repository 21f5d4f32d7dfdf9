"""The executor's Vault identity: its token's life, and what Vault's answers mean.

A `Session` logs in on first use (AppRole, or looks up a given `VAULT_TOKEN`), renews the
token once two thirds of its lease have passed, logs in again when renewal is refused, the
token is near its maximum TTL, or Vault refuses a token that was not issued during the
current call, and revokes the token it logged in for when closed (never a `VAULT_TOKEN` it
was given). Every request of the executor goes through `Session.call`, and `_answer` is
the one place where Vault's statuses become the errors of `vaultfront.executor.errors`.
"""

from __future__ import annotations

import http.client
import ssl
import threading
from collections.abc import Callable
from typing import Any, Final

from vaultfront.executor.client import HEADER_VALUE, Reply, TLSSettings, VaultHTTP
from vaultfront.executor.errors import VaultDenied, VaultFailure, VaultUnreachable
from vaultfront.vault_statuses import REFUSED_STATUSES, UNAVAILABLE_STATUSES

#: Renew the token once this fraction of its lease has passed.
RENEW_AFTER_FRACTION: Final = 2 / 3


class Session:
    """One executor identity talking to Vault; safe to share between threads.

    `where` names the organization's environment in messages. Give either `role_id` and
    `secret_id` (the AppRole wins) or `token`; the caller has checked them.
    """

    def __init__(
        self,
        *,
        vault_addr: str,
        where: str,
        role_id: str | None,
        secret_id: str | None,
        token: str | None,
        timeout: float,
        clock: Callable[[], float],
        namespace: str | None,
        tls: TLSSettings,
    ) -> None:
        self.vault_addr = vault_addr
        self.where = where
        self._role_id = role_id
        self._secret_id = secret_id
        self._static_token = None if role_id else token
        self._clock = clock
        self._lock = threading.Lock()
        self.client = VaultHTTP(vault_addr, timeout=timeout, tls=tls, namespace=namespace)
        self._authenticated = False
        self._lease_seconds: float | None = None  # None: the token does not expire
        self._renew_at: float | None = None
        self._authenticated_at = 0.0

    def call(
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

    def close(self) -> None:
        """`POST auth/token/revoke-self` for a token this session logged in for (never
        for a `VAULT_TOKEN` it was given), then close the HTTP connection. Best effort: a
        token that cannot be revoked now expires with its short TTL."""
        try:
            if self._role_id and self._authenticated:
                self.client.request("POST", "auth/token/revoke-self")
                self._authenticated = False
        except (OSError, http.client.HTTPException):
            pass
        finally:
            self.client.close()

    # -- requests and answers -------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        payload: dict[str, Any] | None = None,
        *,
        action: str,
        secret: str | None = None,
        authenticated: bool = True,
    ) -> Reply:
        try:
            return self.client.request(method, path, payload, authenticated=authenticated)
        except (OSError, http.client.HTTPException) as exc:  # refused, reset, timeout, TLS
            raise VaultUnreachable(
                f"Vault at {self.vault_addr} cannot be reached to {action} "
                f"({_unreachable_cause(exc)})",
                secret=secret,
                path=path,
            ) from exc

    def _answer(
        self,
        reply: Reply,
        *,
        action: str,
        path: str,
        secret: str | None = None,
        missing_ok: bool = False,
        batch: bool = False,
        refused: str | None = None,
        refused_statuses: frozenset[int] = REFUSED_STATUSES,
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
        if status == 400 and batch and isinstance(batch_results(body), list):
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

    # -- the token --------------------------------------------------------------------------

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
            refused_statuses=REFUSED_STATUSES | {400},
        )
        auth = (body or {}).get("auth") or {}
        token = auth.get("client_token")
        if not isinstance(token, str) or not HEADER_VALUE.fullmatch(token):
            raise VaultFailure("Vault's answer to the AppRole login holds no token", path=path)
        self.client.token = token
        self._track_lease(float(auth.get("lease_duration") or 0), bool(auth.get("renewable")))

    def _lookup_token(self) -> None:
        """`GET auth/token/lookup-self`: the lease of a token given as `VAULT_TOKEN`."""
        self.client.token = self._static_token
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
        # The token calls above, outside `call` so that they neither re-enter the login
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


def batch_results(body: Any) -> Any:
    """The `batch_results` of a Transit batch answer, if it has them."""
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
