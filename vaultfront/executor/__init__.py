"""The integration executor: the only code in vaultfront that decrypts.

It runs on the integration host, talks to Vault alone (never to the facade's database or
HTTP API), and imports only the standard library and `vaultfront.layout`: no hvac, no web
stack, so `vaultfront run` starts in a fraction of the time `import hvac` takes. The rule
and the modules are in `README.md` beside this file; `tests/test_boundaries.py` checks it.

    from vaultfront.executor import Executor

    with Executor.from_env(org="acme", environment="staging") as secrets:
        key = secrets.get("STRIPE_API_KEY")
"""

from __future__ import annotations

from vaultfront.executor.client import TLSSettings
from vaultfront.executor.errors import (
    ExecutorConfigError,
    ExecutorError,
    SecretNotFound,
    VaultDenied,
    VaultFailure,
    VaultUnreachable,
)
from vaultfront.executor.executor import DECRYPT_BATCH_LIMIT, PLACEHOLDER, Executor

__all__ = [
    "DECRYPT_BATCH_LIMIT",
    "PLACEHOLDER",
    "Executor",
    "ExecutorConfigError",
    "ExecutorError",
    "SecretNotFound",
    "TLSSettings",
    "VaultDenied",
    "VaultFailure",
    "VaultUnreachable",
]
