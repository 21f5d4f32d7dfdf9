"""Each folder of the package keeps the rule its README states (the executor's own rule is
tests/test_boundaries.py). The imports are read from the source with `ast` (at any depth:
inside functions and `if TYPE_CHECKING:` too), never by importing it.

- `vaultfront/web/`: no hvac or requests, no store, no executor, no operator commands;
- `vaultfront/service/`: no web stack, no hvac or requests, no executor, no operator
  commands;
- `vaultfront/store/`: no database, no web stack, no service; of the executor only its
  standard-library HTTP client;
- the shared pure modules: only each other; no hvac, requests or web stack.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_boundaries import ROOT, Import, imports_of, module_name

WEB_STACK = ("starlette", "jinja2", "uvicorn", "itsdangerous", "multipart")
DATABASE = ("sqlalchemy", "sqlmodel", "alembic", "psycopg", "vaultfront.db", "vaultfront.models")
VAULT_CLIENTS = ("hvac", "requests", "urllib3")
OPERATOR = ("vaultfront.vault_admin", "vaultfront.devserver", "vaultfront.cli")
SHARED = (
    "vaultfront.config",
    "vaultfront.errors",
    "vaultfront.layout",
    "vaultfront.masks",
    "vaultfront.models",
    "vaultfront.schemas",
    "vaultfront.vault_statuses",
)

RULES: dict[str, tuple[str, ...]] = {
    "vaultfront/web": (*VAULT_CLIENTS, "vaultfront.store", "vaultfront.executor", *OPERATOR),
    "vaultfront/service": (
        *WEB_STACK,
        *VAULT_CLIENTS,
        "vaultfront.web",
        "vaultfront.executor",
        *OPERATOR,
    ),
    "vaultfront/store": (
        *DATABASE,
        *WEB_STACK,
        "vaultfront.web",
        "vaultfront.service",
        *OPERATOR,
        "vaultfront.executor.executor",
        "vaultfront.executor.session",
        "vaultfront.executor.run",
    ),
}


def matches(target: str | None, prefixes: tuple[str, ...]) -> bool:
    return target is not None and any(
        target == prefix or target.startswith(prefix + ".") for prefix in prefixes
    )


def imports_in(paths: list[Path]) -> list[Import]:
    found: list[Import] = []
    for path in paths:
        name = module_name(path)
        found += imports_of(
            path.read_text(encoding="utf-8"),
            name,
            is_package=path.name == "__init__.py",
            where=str(path.relative_to(ROOT)),
        )
    return found


@pytest.mark.parametrize("folder", sorted(RULES))
def test_each_folder_keeps_its_rule(folder: str) -> None:
    paths = sorted((ROOT / folder).rglob("*.py"))
    assert paths and (ROOT / folder / "README.md").is_file(), f"{folder} has no README.md"
    broken = [str(found) for found in imports_in(paths) if matches(found.target, RULES[folder])]
    assert not broken, f"{folder}/README.md forbids these imports:\n" + "\n".join(broken)


def test_shared_modules_import_only_each_other() -> None:
    paths = [ROOT / (name.replace(".", "/") + ".py") for name in SHARED]
    outside = [
        str(found)
        for found in imports_in(paths)
        if (
            (found.target or "").startswith("vaultfront")
            and not matches(found.target, (*SHARED, "vaultfront"))
        )
        or matches(found.target, (*VAULT_CLIENTS, *WEB_STACK))
    ]
    assert not outside, "a shared module imports beyond the shared ones:\n" + "\n".join(outside)


def test_the_store_never_decrypts() -> None:
    """The facade's Vault code names no decrypt path (its policy denies it anyway)."""
    for path in sorted((ROOT / "vaultfront/store").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert "decrypt" not in text.replace("cannot decrypt", "").replace("never decrypt", ""), (
            f"{path} mentions decrypt"
        )


def test_only_the_store_and_the_operator_commands_talk_to_vault() -> None:
    """hvac (and requests) are imported by the store and the operator commands only."""
    allowed = ("vaultfront.store", "vaultfront.vault_admin", "vaultfront.devserver")
    paths = sorted((ROOT / "vaultfront").rglob("*.py"))
    users = {
        found.module for found in imports_in(paths) if matches(found.target, ("hvac", "requests"))
    }
    assert users and all(matches(module, allowed) for module in users), sorted(users)


def test_the_rules_catch_a_broken_import(tmp_path: Path) -> None:
    """The check can fail: a route importing hvac and the store is reported."""
    source = "import hvac\nfrom vaultfront.store.vault import VaultStore\n"
    found = imports_of(source, "vaultfront.web.example", is_package=False, where="example.py")
    broken = [item.target for item in found if matches(item.target, RULES["vaultfront/web"])]
    assert broken == ["hvac", "vaultfront.store.vault.VaultStore"]
