"""The executor's boundary (`vaultfront/executor/README.md`): it is the only code that
decrypts, and it imports the standard library and `vaultfront.layout` only; no hvac (nor
requests under it), no database, no web stack, none of the facade's modules.

The imports are read from the source with `ast`, not by importing it, so that an import
inside a function, under `if TYPE_CHECKING:` or on a branch no test takes is seen too;
relative imports are resolved against the module's package. A second test imports the
package in a fresh interpreter and looks at what was loaded.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "vaultfront.executor"
PACKAGE_DIR = ROOT / "vaultfront" / "executor"
#: First-party modules the executor may import; everything else must be standard library.
ALLOWED = ("vaultfront.layout", "vaultfront.vault_statuses", PACKAGE)
#: Functions that import a module named at run time.
DYNAMIC_IMPORTS = frozenset({"__import__", "import_module"})


@dataclass(frozen=True)
class Import:
    """One module that `module` imports, as absolute dotted name (`None`: a relative import
    beyond the top-level package), and the statement as written."""

    module: str
    where: str
    target: str | None
    statement: str

    def __str__(self) -> str:
        return f"{self.module} ({self.where}) imports {self.target}: {self.statement}"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def absolute(module: str | None, level: int, package: str) -> str | None:
    """The absolute name of `from {'.' * level}{module} import ...` inside `package`."""
    if level == 0:
        return module or ""
    parts = package.split(".")
    if level > len(parts):
        return None
    base = ".".join(parts[: len(parts) - level + 1])
    return f"{base}.{module}" if module else base


def imports_of(source: str, module: str, *, is_package: bool, where: str) -> list[Import]:
    """Every import in `source` (the module `module`), at any depth of its syntax tree."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[tuple[int, Import]] = []
    for node in ast.walk(ast.parse(source)):
        line = getattr(node, "lineno", 0)
        at = f"{where}:{line}"
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append((line, Import(module, at, alias.name, f"import {alias.name}")))
        elif isinstance(node, ast.ImportFrom):
            base = absolute(node.module, node.level, package)
            names = ", ".join(alias.name for alias in node.names)
            statement = f"from {'.' * node.level}{node.module or ''} import {names}"
            for alias in node.names:
                # `from package import name` may load the submodule `package.name`.
                target = base if base is None or alias.name == "*" else f"{base}.{alias.name}"
                found.append((line, Import(module, at, target, statement)))
        elif isinstance(node, ast.Call):
            function = node.func
            name = function.attr if isinstance(function, ast.Attribute) else None
            name = function.id if isinstance(function, ast.Name) else name
            if name in DYNAMIC_IMPORTS:
                argument = node.args[0] if node.args else None
                target = (
                    argument.value
                    if isinstance(argument, ast.Constant) and isinstance(argument.value, str)
                    else "<a name known at run time>"
                )
                found.append((line, Import(module, at, target, ast.unparse(node))))
    return [item for _, item in sorted(found, key=lambda pair: pair[0])]


def allowed(target: str | None) -> bool:
    if not target:
        return False
    if target.partition(".")[0] in sys.stdlib_module_names:
        return True
    return any(target == name or target.startswith(name + ".") for name in ALLOWED)


def violations(imports: list[Import]) -> list[str]:
    return [str(found) for found in imports if not allowed(found.target)]


def executor_imports() -> dict[str, list[Import]]:
    modules: dict[str, list[Import]] = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        name = module_name(path)
        modules[name] = imports_of(
            path.read_text(encoding="utf-8"),
            name,
            is_package=path.name == "__init__.py",
            where=str(path.relative_to(ROOT)),
        )
    return modules


def test_executor_imports_only_the_standard_library_and_layout() -> None:
    modules = executor_imports()
    expected = {"", ".client", ".errors", ".executor", ".redaction", ".run", ".session"}
    assert {PACKAGE + suffix for suffix in expected} <= set(modules), sorted(modules)
    problems = [problem for imports in modules.values() for problem in violations(imports)]
    assert not problems, (
        "the executor may import only the standard library and vaultfront.layout "
        "(vaultfront/executor/README.md):\n" + "\n".join(problems)
    )
    # The check reads real imports: the package does use both kinds it allows.
    targets = {found.target for imports in modules.values() for found in imports}
    assert "http.client" in targets and "vaultfront.layout" in targets, sorted(map(str, targets))


def test_the_check_sees_every_kind_of_import() -> None:
    source = textwrap.dedent(
        """
        from __future__ import annotations
        import json, os.path
        import hvac
        from typing import TYPE_CHECKING
        from . import client
        from .errors import ExecutorError
        from .. import layout
        from .. import db
        from ..config import DEFAULT_KV_MOUNT
        from ..layout import Entry
        from vaultfront import executor, secrets
        from vaultfront.executor.session import Session
        from .... import beyond
        if TYPE_CHECKING:
            from starlette.requests import Request
        def later():
            import requests
            importlib.import_module("httpx")
            __import__(name)
            importlib.import_module("json")
        """
    )
    imports = imports_of(
        source, "vaultfront.executor.example", is_package=False, where="example.py"
    )
    assert [(found.target, found.where) for found in imports if not allowed(found.target)] == [
        ("hvac", "example.py:4"),
        ("vaultfront.db", "example.py:9"),
        ("vaultfront.config.DEFAULT_KV_MOUNT", "example.py:10"),
        ("vaultfront.secrets", "example.py:12"),
        (None, "example.py:14"),
        ("starlette.requests.Request", "example.py:16"),
        ("requests", "example.py:18"),
        ("httpx", "example.py:19"),
        ("<a name known at run time>", "example.py:20"),
    ]
    allowed_targets = [found.target for found in imports if allowed(found.target)]
    assert "vaultfront.executor.client" in allowed_targets
    assert "vaultfront.layout.Entry" in allowed_targets
    assert "vaultfront.executor" in allowed_targets
    # In a package's `__init__`, `.` is the package itself.
    (init,) = imports_of(
        "from .client import X", "vaultfront.executor", is_package=True, where="__init__.py"
    )
    assert init.target == "vaultfront.executor.client.X"
    message = violations(imports)[0]
    assert message == "vaultfront.executor.example (example.py:4) imports hvac: import hvac"


def test_importing_the_executor_and_run_loads_no_web_database_or_hvac() -> None:
    """`vaultfront run` starts fast: in a fresh interpreter, importing the executor and
    `vaultfront run` loads no web stack, no database, no hvac (nor requests and urllib3
    under it), and of vaultfront nothing but the package, `layout` and the executor."""
    code = (
        "import sys, vaultfront.executor, vaultfront.executor.run\n"
        "heavy = [m for m in ('starlette', 'sqlmodel', 'sqlalchemy', 'jinja2', 'click',"
        " 'uvicorn', 'hvac', 'requests', 'urllib3', 'httpx', 'psycopg', 'alembic')"
        " if m in sys.modules]\n"
        "ours = [m for m in sys.modules if m.startswith('vaultfront') and m not in"
        " ('vaultfront', 'vaultfront.layout', 'vaultfront.vault_statuses',"
        " 'vaultfront.executor')"
        " and not m.startswith('vaultfront.executor.')]\n"
        "print(','.join(heavy + ours))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "", f"imported: {result.stdout.strip()}"


def test_the_executor_defaults_match_the_facade() -> None:
    """The executor repeats the facade's default mounts rather than import its config."""
    from vaultfront import config
    from vaultfront.executor import executor

    assert executor.DEFAULT_KV_MOUNT == config.DEFAULT_KV_MOUNT
    assert executor.DEFAULT_TRANSIT_MOUNT == config.DEFAULT_TRANSIT_MOUNT
