"""Settings read from the environment, in one place.

Every name here is also in `docker-compose.yml` and the README; `tests/test_config.py`
checks that the three do not drift.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_DATA_DIR = ".vaultfront"
DEFAULT_KV_MOUNT = "vaultfront"
DEFAULT_TRANSIT_MOUNT = "vaultfront-transit"

#: Every environment variable the facade reads, with what it is for.
ENVIRONMENT_VARIABLES: dict[str, str] = {
    "VAULTFRONT_DATABASE_URL": "SQLAlchemy URL of the metadata database",
    "VAULT_ADDR": "address of Vault / OpenBao",
    "VAULTFRONT_VAULT_ROLE_ID": "the facade's AppRole role_id",
    "VAULTFRONT_VAULT_SECRET_ID": "the facade's AppRole secret_id",
    "VAULT_TOKEN": "a token used instead of the AppRole",
    "VAULTFRONT_SECRET_KEY": "key that signs session cookies",
    "VAULTFRONT_KV_MOUNT": "path of the KV v2 mount",
    "VAULTFRONT_TRANSIT_MOUNT": "path of the Transit mount",
    "VAULTFRONT_DATA_DIR": "where the embedded default keeps SQLite and its files",
}


def default_database_url(data_dir: str | os.PathLike[str]) -> str:
    return f"sqlite:///{Path(data_dir).resolve() / 'vaultfront.db'}"


@dataclass(frozen=True)
class Settings:
    database_url: str
    vault_addr: str
    vault_role_id: str | None = None
    vault_secret_id: str | None = field(default=None, repr=False)
    vault_token: str | None = field(default=None, repr=False)
    secret_key: str = field(default="", repr=False)
    kv_mount: str = DEFAULT_KV_MOUNT
    transit_mount: str = DEFAULT_TRANSIT_MOUNT
    data_dir: str = DEFAULT_DATA_DIR

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        data_dir = env.get("VAULTFRONT_DATA_DIR") or DEFAULT_DATA_DIR
        secret_key = env.get("VAULTFRONT_SECRET_KEY") or ""
        if not secret_key:
            # A random key still works (sessions end on restart); production sets one.
            secret_key = secrets.token_urlsafe(32)
        return cls(
            database_url=env.get("VAULTFRONT_DATABASE_URL") or default_database_url(data_dir),
            vault_addr=env.get("VAULT_ADDR") or "http://127.0.0.1:8200",
            vault_role_id=env.get("VAULTFRONT_VAULT_ROLE_ID") or None,
            vault_secret_id=env.get("VAULTFRONT_VAULT_SECRET_ID") or None,
            vault_token=env.get("VAULT_TOKEN") or None,
            secret_key=secret_key,
            kv_mount=env.get("VAULTFRONT_KV_MOUNT") or DEFAULT_KV_MOUNT,
            transit_mount=env.get("VAULTFRONT_TRANSIT_MOUNT") or DEFAULT_TRANSIT_MOUNT,
            data_dir=data_dir,
        )
