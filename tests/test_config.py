"""The settings the code reads, docker-compose.yml and the README cannot drift apart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from vaultfront.config import (
    DEFAULT_KV_MOUNT,
    DEFAULT_TRANSIT_MOUNT,
    ENVIRONMENT_VARIABLES,
    Settings,
)

ROOT = Path(__file__).resolve().parent.parent


def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "docker-compose.yml").read_text()))


def test_compose_sets_only_settings_the_code_reads() -> None:
    env = compose()["services"]["vaultfront"]["environment"]
    unknown = {
        name for name in env if name.startswith("VAULT") and name not in ENVIRONMENT_VARIABLES
    }
    assert not unknown, f"docker-compose.yml sets {unknown}, which vaultfront never reads"
    settings = Settings.from_env({k: str(v) for k, v in env.items()})
    assert settings.kv_mount == DEFAULT_KV_MOUNT
    assert settings.transit_mount == DEFAULT_TRANSIT_MOUNT
    assert settings.database_url.startswith("postgresql+psycopg://")


def test_compose_points_the_app_at_its_services() -> None:
    services = compose()["services"]
    env = services["vaultfront"]["environment"]
    postgres = services["postgres"]["environment"]
    user, password, db = (
        postgres["POSTGRES_USER"],
        postgres["POSTGRES_PASSWORD"],
        postgres["POSTGRES_DB"],
    )
    assert env["VAULTFRONT_DATABASE_URL"] == (
        f"postgresql+psycopg://{user}:{password}@postgres:5432/{db}"
    )
    listen = services["openbao"]["command"][-1].rsplit(":", 1)[1]
    assert env["VAULT_ADDR"] == f"http://openbao:{listen}"
    assert (
        env["BOOTSTRAP_VAULT_TOKEN"] == services["openbao"]["environment"]["BAO_DEV_ROOT_TOKEN_ID"]
    )
    command = " ".join(services["vaultfront"]["command"])
    assert "vaultfront vault bootstrap" in command and "vaultfront db upgrade" in command


def test_readme_documents_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [name for name in ENVIRONMENT_VARIABLES if f"`{name}`" not in readme]
    assert not missing, f"README.md does not document {missing}"


def test_defaults_match_the_spec() -> None:
    settings = Settings.from_env({})
    assert settings.kv_mount == "vaultfront"
    assert settings.transit_mount == "vaultfront-transit"
    assert settings.database_url.startswith("sqlite:///") and ".vaultfront" in settings.database_url
