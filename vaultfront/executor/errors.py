"""The executor's errors. Each names the secret and the cause, never a value.

They are raised by the executor only: `vaultfront run` turns any of them into one line on
stderr and exit status 2.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar


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


class ValueMoved(VaultFailure):
    """An out-of-line value disappeared between the index read and its own read.

    `Executor` reads the index once more when it sees this; raised a second time, it
    reaches the caller as the `VaultFailure` it is.
    """
