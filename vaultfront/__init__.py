"""vaultfront: an organization-scoped secrets manager over HashiCorp Vault / OpenBao.

The package is laid out one concept per module; `docs/design.md` names the boundaries.
Importing the package imports nothing heavy, so `vaultfront run` stays fast.
"""

from __future__ import annotations

__version__ = "0.1.0"
