"""`Executor`: the current secrets of one organization's one environment, decrypted.

An `Executor` holds one Vault identity scoped to one organization and one environment
(`vaultfront vault executor-role`, policy `policies/executor.hcl`). Resolving any number
of secrets costs one KV read of the environment's index document (`vaultfront.layout`),
one KV read per value kept out of line (rare), and one Transit batch decrypt per
`DECRYPT_BATCH_LIMIT` ciphertexts. Values are returned to the caller and never kept,
logged, or put into an exception: errors name the secret and the cause only.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from vaultfront import layout
from vaultfront.executor.client import HEADER_VALUE, REQUEST_TIMEOUT_SECONDS, TLSSettings
from vaultfront.executor.errors import (
    ExecutorConfigError,
    ExecutorError,
    SecretNotFound,
    ValueMoved,
    VaultFailure,
)
from vaultfront.executor.session import Session, batch_results

#: OpenBao's listener refuses a request with more than 1,000 JSON strings (499 batch items);
#: stay well below it.
DECRYPT_BATCH_LIMIT: Final = 400
DEFAULT_VAULT_ADDR: Final = "http://127.0.0.1:8200"
#: The facade's defaults (`vaultfront.config`), repeated here because the executor does not
#: import the facade's code; `tests/test_boundaries.py` checks that they agree.
DEFAULT_KV_MOUNT: Final = "vaultfront"
DEFAULT_TRANSIT_MOUNT: Final = "vaultfront-transit"

#: `{{ secrets.NAME }}`: spaces or tabs (not newlines) are allowed inside the braces.
PLACEHOLDER: Final = re.compile(r"\{\{[ \t]*secrets\.([A-Za-z0-9_]+)[ \t]*\}\}")
_PLACEHOLDER_START: Final = re.compile(r"\{\{[ \t]*secrets\.")


class Executor:
    """Reads and decrypts the current secrets of one organization's one environment.

    Log in happens on first use (one AppRole login per Executor); the token is renewed
    once two thirds of its lease have passed, and the Executor logs in again if renewal
    fails or the token is refused (`vaultfront.executor.session`). Safe to share between
    threads.
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
            if value and not HEADER_VALUE.fullmatch(value):
                raise ExecutorConfigError(
                    f"{variable} holds a space, line break or other character that cannot "
                    "be sent to Vault"
                )
        self.vault_addr = vault_addr.rstrip("/")
        self.kv_mount = kv_mount.strip("/")
        self.transit_mount = transit_mount.strip("/")
        self._session = Session(
            vault_addr=self.vault_addr,
            where=self.where,
            role_id=role_id,
            secret_id=secret_id,
            token=token,
            timeout=timeout,
            clock=clock,
            namespace=namespace,
            tls=tls or TLSSettings(),
        )

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
        self._session.close()

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
            except ValueMoved:
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

        Only committed values (`layout.read_committed`: an entry without one, left by a
        version before 0.2, is not set). For `wanted` names the map is not parsed whole
        (`layout.find_committed`: in an environment of 2,000 secrets it is 386 KB), and
        `Entry` objects are built only for the names asked, by `_entry`.
        """
        path = self._index_path()
        body = self._session.call("GET", path, action=f"read the index of {self.where}")
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
        body = self._session.call("GET", path, action=f"read the value of {name}", secret=name)
        if body is None:
            raise ValueMoved(f"the value of {name} was removed while it was read", secret=name)
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
            body = self._session.call(
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
            results = batch_results(body) or []
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


def _names_phrase(names: Iterable[str]) -> str:
    names = list(names)
    if len(names) == 1:
        return f"{names[0]} is"
    return f"{', '.join(names)} are"
