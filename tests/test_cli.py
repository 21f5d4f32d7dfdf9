"""The command line of SPEC section 7, run as a user runs it: `python -m vaultfront ...` in a
subprocess, configured by the environment only.

Lines for the shell (`NAME=value`, a token) go to stdout and nothing else does; messages for
people go to stderr. The servers (`serve`, `dev`) run as real uvicorn processes.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hvac
import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from vaultfront import cli as cli_module
from vaultfront import vault_admin
from vaultfront.cli import cli
from vaultfront.db import Database
from vaultfront.devserver import free_port
from vaultfront.service.passwords import verify_password_login


@dataclass
class Outcome:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str


SHELL_LINE = re.compile(r"^[A-Z][A-Z0-9_]*=[^\s'\"]+$")


def clean_env(**extra: str) -> dict[str, str]:
    """The test process's environment without any vaultfront or Vault settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not (k.startswith("VAULTFRONT_") or k.startswith("VAULT_") or k.startswith("BAO_"))
    }
    env.update(extra)
    return env


def vaultfront(
    *args: str, env: dict[str, str], cwd: Path, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vaultfront", *args],
        env=env,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def shown(result: Outcome | subprocess.CompletedProcess[str]) -> str:
    return (
        f"$ vaultfront {' '.join(result.args[3:])}\nexit {result.returncode}\n"
        f"--- stdout\n{result.stdout}--- stderr\n{result.stderr}"
    )


def succeeds(result: Any) -> Any:
    assert result.returncode == 0, shown(result)
    return result


def fails(result: Outcome | subprocess.CompletedProcess[str], *words: str) -> None:
    """A clear failure: non-zero exit, nothing on stdout, the words on stderr, no traceback."""
    assert result.returncode != 0, shown(result)
    assert result.stdout == "", shown(result)
    assert "Traceback" not in result.stderr, shown(result)
    for word in words:
        assert word in result.stderr, (word, shown(result))


def shell_lines(result: Outcome | subprocess.CompletedProcess[str]) -> dict[str, str]:
    lines = result.stdout.splitlines()
    for line in lines:
        assert SHELL_LINE.match(line), (line, shown(result))
    return dict(line.split("=", 1) for line in lines)


# --- database, organizations, users, tokens -------------------------------------------------


def test_setting_up_an_organization(empty_database_url: str, vault: Any, tmp_path: Path) -> None:
    from conftest import settings_for

    from vaultfront.web.app import create_app

    database_url = empty_database_url  # `db upgrade` creates the tables
    env = clean_env(VAULTFRONT_DATABASE_URL=database_url)
    result = succeeds(vaultfront("db", "upgrade", env=env, cwd=tmp_path))
    assert result.stdout == "", shown(result)
    assert "up to date" in result.stderr, shown(result)

    result = succeeds(
        vaultfront("orgs", "create", "acme", "--name", "Acme Inc", env=env, cwd=tmp_path)
    )
    assert result.stdout == "" and "acme" in result.stderr, shown(result)

    password = "correct horse battery staple ✓"
    result = succeeds(
        vaultfront(
            "users",
            "create",
            "Alice@Example.com",
            "--org",
            "acme",
            "--role",
            "admin",
            "--name",
            "Alice",
            "--password-stdin",
            env=env,
            cwd=tmp_path,
            stdin=password + "\n",
        )
    )
    assert result.stdout == "", shown(result)
    assert password not in result.stderr, shown(result)
    # A second organization for the same user: a membership is added.
    succeeds(vaultfront("orgs", "create", "beta", env=env, cwd=tmp_path))
    succeeds(
        vaultfront(
            "users",
            "create",
            "alice@example.com",
            "--org",
            "beta",
            "--role",
            "viewer",
            env=env,
            cwd=tmp_path,
        )
    )

    database = Database(database_url)
    try:
        with database.session() as session:
            user = verify_password_login(session, "alice@example.com", password)
            assert user is not None, "the password read from stdin does not log in"
            assert user.name == "Alice"
            assert verify_password_login(session, "alice@example.com", password + "x") is None
    finally:
        database.dispose()

    result = succeeds(
        vaultfront("tokens", "create", "--user", "alice@example.com", env=env, cwd=tmp_path)
    )
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and result.stdout == lines[0] + "\n", shown(result)
    token = lines[0]
    assert len(token) >= 32 and " " not in token, shown(result)
    assert token not in result.stderr, shown(result)
    # An audit event in each of Alice's organizations, naming the CLI; never the token.
    assert audit_events(database_url) == [
        ("acme", "token.create", "alice@example.com"),
        ("beta", "token.create", "alice@example.com"),
    ]
    assert all(detail.endswith("(cli); via cli") for detail in audit_details(database_url))
    app = create_app(settings_for(vault, database_url), background_recovery=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        headers = {"Authorization": f"Bearer {token}"}
        me = client.get("/api/me", headers=headers)
        assert me.status_code == 200, me.text
        assert me.json()["user"]["email"] == "alice@example.com", me.text
        roles = {o["slug"]: o["role"] for o in me.json()["organizations"]}
        assert roles == {"acme": "admin", "beta": "viewer"}, me.text
        created = client.post(
            "/api/orgs/acme/secrets",
            headers=headers,
            json={"name": "FROM_CLI_TOKEN", "values": {"staging": "cli-token-works"}},
        )
        assert created.status_code == 201, created.text
        assert created.json()["owner"]["name"] == "Alice", created.text
        viewer = client.post("/api/orgs/beta/secrets", headers=headers, json={"name": "NOPE"})
        assert viewer.status_code == 403, viewer.text


def _audit_rows(database_url: str) -> list[tuple[str, str, str, str]]:
    import sqlalchemy as sa

    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    'SELECT organization.slug, action, "user".email, detail FROM audit_event '
                    "JOIN organization ON organization.id = audit_event.org_id "
                    'JOIN "user" ON "user".id = audit_event.actor_id ORDER BY audit_event.id'
                )
            )
            return [(slug, action, email, detail) for slug, action, email, detail in rows]
    finally:
        engine.dispose()


def audit_events(database_url: str) -> list[tuple[str, str, str]]:
    """(organization, action, actor's email) of every audit event, oldest first."""
    return [row[:3] for row in _audit_rows(database_url)]


def audit_details(database_url: str) -> list[str]:
    return [row[3] for row in _audit_rows(database_url)]


def invoke(*args: str, env: dict[str, str | None], stdin: str | None = None) -> Outcome:
    """The same CLI in-process (click's runner): the error cases need no fresh interpreter."""
    result = CliRunner().invoke(cli, list(args), env=env, input=stdin)
    return Outcome(
        [sys.executable, "-m", "vaultfront", *args], result.exit_code, result.stdout, result.stderr
    )


def test_clear_errors(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'vaultfront.db'}"
    # Nothing of the test process's own Vault or vaultfront settings leaks in.
    env: dict[str, str | None] = {k: None for k in os.environ if k not in clean_env()}
    env["VAULTFRONT_DATABASE_URL"] = url
    succeeds(invoke("db", "upgrade", env=env))
    succeeds(invoke("orgs", "create", "acme", env=env))

    # One of them as a real process: the exit code and the streams as a shell sees them.
    fails(
        vaultfront(
            "users", "create", "bob@example.com", "--org", "nope", "--role", "member",
            env=clean_env(VAULTFRONT_DATABASE_URL=url), cwd=tmp_path,
        ),
        "No organization nope",
        "vaultfront orgs create nope",
    )  # fmt: skip

    for slug in ("Bad_Slug", "UPPER", "trailing-", "a" * 64, "has space", "dot.ted", "acme2\n"):
        fails(invoke("orgs", "create", slug, env=env), slug.strip(), "not an organization slug")
    fails(invoke("orgs", "create", "acme", env=env), "acme", "already exists")
    user = ("users", "create", "bob@example.com", "--org", "acme")
    fails(invoke(*user, "--role", "owner", env=env), "owner")
    fails(
        invoke("users", "create", "not-an-email", "--org", "acme", "--role", "member", env=env),
        "not an email address",
    )
    fails(invoke(*user, "--role", "member", "--password-stdin", env=env, stdin="\n"), "empty")
    fails(invoke("tokens", "create", "--user", "ghost@example.com", env=env), "No user ghost")
    succeeds(
        invoke("users", "create", "carol@example.com", "--org", "acme", "--role", "viewer", env=env)
    )
    token = ("tokens", "create", "--user", "carol@example.com", "--name")
    fails(invoke(*token, "   ", env=env), "Give the token a name")
    fails(invoke(*token, "x" * 101, env=env), "at most 100 characters")
    fails(invoke(*token, "bad-\udcff", env=env), "not valid text")  # argv that is not UTF-8
    dan = ("users", "create", "dan@example.com", "--org", "acme", "--role", "member")
    fails(invoke(*dan, "--name", "Dan \udcff", env=env), "not valid text")
    assert audit_events(url) == [], "a refused token left an audit event"

    # Operator commands refuse to run without a privileged token, and check their input.
    fails(invoke("vault", "bootstrap", env=env), "VAULT_TOKEN")
    fails(
        invoke("vault", "executor-role", "--org", "acme", "--env", "staging", env=env),
        "VAULT_TOKEN",
    )
    vault_env = {**env, "VAULT_ADDR": "http://127.0.0.1:9", "VAULT_TOKEN": "x"}
    role = ("vault", "executor-role", "--org")
    fails(invoke(*role, "Bad_Slug", "--env", "staging", env=vault_env), "not an organization slug")
    fails(invoke(*role, "acme", "--env", "prod", env=vault_env), "prod")
    # Vault cannot be reached: one line naming the address, never a traceback.
    for command in (("vault", "bootstrap"), (*role, "acme", "--env", "staging")):
        result = invoke(*command, env=vault_env)
        fails(result, "http://127.0.0.1:9", "cannot be reached")
        assert len(result.stderr.strip().splitlines()) == 1, shown(result)


def test_the_cli_offers_the_roles_the_permissions_know() -> None:
    from vaultfront.service import accounts, permissions

    assert cli_module.ROLES == accounts.ROLES == tuple(permissions.ROLE_PRIORITIES)


# --- Vault operator commands ----------------------------------------------------------------


def test_vault_commands_print_shell_lines(vault: Any, tmp_path: Path) -> None:
    env = clean_env(VAULT_ADDR=vault.addr, VAULT_TOKEN=vault.root_token)
    runs = [succeeds(vaultfront("vault", "bootstrap", env=env, cwd=tmp_path)) for _ in range(2)]
    for result in runs:
        lines = shell_lines(result)
        assert set(lines) == {"VAULTFRONT_VAULT_ROLE_ID", "VAULTFRONT_VAULT_SECRET_ID"}, shown(
            result
        )
        assert lines["VAULTFRONT_VAULT_ROLE_ID"] == vault.role_id, shown(result)
        assert result.stderr.strip(), "a message for people goes to stderr"
        client = hvac.Client(vault.addr)
        client.auth.approle.login(
            role_id=lines["VAULTFRONT_VAULT_ROLE_ID"],
            secret_id=lines["VAULTFRONT_VAULT_SECRET_ID"],
            use_token=True,
        )
        assert client.auth.token.lookup_self()["data"]["policies"] == [vault_admin.FACADE_POLICY]

    result = succeeds(
        vaultfront(
            "vault", "executor-role", "--org", "clitest", "--env", "staging", env=env, cwd=tmp_path
        )
    )
    lines = shell_lines(result)
    assert set(lines) == {"VAULTFRONT_EXECUTOR_ROLE_ID", "VAULTFRONT_EXECUTOR_SECRET_ID"}, shown(
        result
    )
    assert result.stderr.strip(), shown(result)
    client = hvac.Client(vault.addr)
    client.auth.approle.login(
        role_id=lines["VAULTFRONT_EXECUTOR_ROLE_ID"],
        secret_id=lines["VAULTFRONT_EXECUTOR_SECRET_ID"],
        use_token=True,
    )
    policies = client.auth.token.lookup_self()["data"]["policies"]
    assert policies == ["vaultfront-executor-clitest-staging"], policies
    # `>> .env` then `set -a; . .env` gives the variables back.
    dotenv = tmp_path / ".env"
    dotenv.write_text(runs[1].stdout + result.stdout)
    sourced = subprocess.run(
        ["sh", "-c", f"set -a; . {dotenv}; env"],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": os.environ.get("PATH", "")},
    ).stdout
    assert f"VAULTFRONT_EXECUTOR_ROLE_ID={lines['VAULTFRONT_EXECUTOR_ROLE_ID']}" in sourced

    # A token Vault refuses: what Vault said, in one line.
    refused = vaultfront(
        "vault", "bootstrap", env={**env, "VAULT_TOKEN": "not-a-token"}, cwd=tmp_path
    )
    fails(refused, vault.addr, "refused", "permission denied")
    assert len(refused.stderr.strip().splitlines()) == 1, shown(refused)


# --- vaultfront serve, vaultfront dev -------------------------------------------------------


def big_headers_request(base: str, path: str) -> tuple[int, dict[str, Any]]:
    """GET with 20 KiB of headers (over the app's 16 KiB limit), sent as a slow client does:
    17,000 bytes, a pause, the rest. h11 refuses a request head that stays incomplete past
    its limit (16 KiB by default) with a bare 400; a head that arrives in one read it never
    measures."""
    host, port = base.removeprefix("http://").split(":")
    fillers = "".join(f"X-Filler-{n}: {'f' * 1024}\r\n" for n in range(20))
    head = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{fillers}Connection: close\r\n\r\n"
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(head[:17_000].encode())
        time.sleep(0.3)
        conn.sendall(head[17_000:].encode())
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    body = rest.partition(b"\r\n\r\n")[2]
    try:
        return int(status_line.split()[1]), json.loads(body)
    except ValueError:
        return int(status_line.split()[1]), {"not json": body.decode(errors="replace")}


def assert_headers_too_large(base: str, path: str = "/api/me") -> None:
    """The app's own 431 with the error body, not uvicorn's bare 400 (SPEC section 4)."""
    status, body = big_headers_request(base, path)
    assert status == 431, (status, body)
    assert body["error"]["code"] == "headers_too_large", body


def test_serve_answers_431_with_the_error_body_over_16_kib_of_headers(
    vault: Any, tmp_path: Path
) -> None:
    database_url = f"sqlite:///{tmp_path / 'vaultfront.db'}"
    database = Database(database_url)
    database.upgrade()
    database.dispose()
    env = clean_env(
        VAULTFRONT_DATABASE_URL=database_url,
        VAULT_ADDR=vault.addr,
        VAULTFRONT_VAULT_ROLE_ID=vault.role_id,
        VAULTFRONT_VAULT_SECRET_ID=vault.secret_id,
        VAULTFRONT_SECRET_KEY="serve-test-key-" + "k" * 32,
    )
    port = free_port()
    stderr_path = tmp_path / "stderr"
    with stderr_path.open("w") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "vaultfront", "serve", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=err,
            stdin=subprocess.DEVNULL,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base, process, stderr_path, "serve")
        assert_headers_too_large(base)
        assert answers(f"{base}/api/me") == 401  # and the server still serves
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def answers(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def wait_until_serving(
    base: str, process: subprocess.Popen[bytes], stderr_path: Path, command: str
) -> None:
    """Poll until the started `vaultfront {command}` answers, failing with its stderr if it
    exits or stays silent for 30 s."""
    deadline = time.monotonic() + 30
    while answers(f"{base}/api/openapi.json") != 200:
        assert process.poll() is None, (
            f"{command} exited {process.returncode}: {stderr_path.read_text()}"
        )
        assert time.monotonic() < deadline, f"no answer in 30 s: {stderr_path.read_text()}"
        time.sleep(0.1)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc for the child")
def test_dev_starts_serves_and_stops(tmp_path: Path) -> None:
    port = free_port()
    data_dir = tmp_path / "data"
    stdout_path, stderr_path = tmp_path / "stdout", tmp_path / "stderr"
    with stdout_path.open("w") as out, stderr_path.open("w") as err:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "vaultfront",
                "dev",
                "--port",
                str(port),
                "--data-dir",
                str(data_dir),
            ],
            env=clean_env(),
            cwd=tmp_path,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base, process, stderr_path, "dev")
        assert answers(f"{base}/login") == 200
        assert_headers_too_large(base)
        stderr = stderr_path.read_text()
        assert f"{base}/" in stderr, stderr
        assert "admin@example.com" in stderr, stderr
        found = re.search(r"with the password:\s*\n\s*(\S+)\s*\n", stderr)
        assert found, stderr
        password = found.group(1)
        assert password not in stdout_path.read_text()
        bao = re.search(r"OpenBao dev server: (http://127\.0\.0\.1:\d+)", stderr)
        assert bao, stderr
        bao_addr = bao.group(1)
        assert answers(f"{bao_addr}/v1/sys/health") == 200

        # The login it printed works (SQLite in the data dir, organization demo).
        database = Database(f"sqlite:///{data_dir / 'vaultfront.db'}")
        try:
            with database.session() as session:
                admin = verify_password_login(session, "admin@example.com", password)
                assert admin is not None, "the printed password does not log in"
        finally:
            database.dispose()

        children = children_of(process.pid)
        assert children, "OpenBao should run as a child of vaultfront dev"
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, (process.returncode, stderr_path.read_text())
    for pid in children:
        assert not alive(pid), f"OpenBao (pid {pid}) outlived vaultfront dev"
    assert answers(f"{bao_addr}/v1/sys/health") is None
    assert answers(f"{base}/login") is None
