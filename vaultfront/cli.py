"""The `vaultfront` command line (SPEC section 7).

Commands parse their arguments and call a service: `vaultfront.accounts` (organizations,
users), `vaultfront.tokens`, `vaultfront.vault_admin` (operator commands, with the
privileged `VAULT_TOKEN`). A service's typed error (`vaultfront.errors.AppError`) becomes
one line on stderr and exit code 1, never a traceback.

Lines meant for the shell are `NAME=value` on stdout; messages for people go to stderr.
Services are imported inside the commands, so that `vaultfront --help` and the operator
commands start without loading the database layer.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import click

from vaultfront import layout
from vaultfront.config import DEFAULT_DATA_DIR, Settings, default_database_url
from vaultfront.errors import AppError

if TYPE_CHECKING:
    from vaultfront.db import Database

# `vaultfront.accounts.ROLES`, spelled out: importing it would load the database layer.
ROLES: Final = ("viewer", "member", "admin")
# uvicorn's h11 parser answers a bare 400, before the app sees the request, when a request
# head stays incomplete past its own limit (16 KiB by default). Set well above the app's
# limit (16 KiB of headers), so that clients get the app's 431 with the error body.
MAX_REQUEST_HEAD_BYTES: Final = 64 * 1024


def __getattr__(name: str) -> Any:
    """`create_org` and `create_user`, moved to `vaultfront.accounts`: still importable
    from here, for the test fixtures written against them (lazily, see above)."""
    if name in ("create_org", "create_user"):
        from vaultfront.service import accounts

        return getattr(accounts, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def say(message: str) -> None:
    click.echo(message, err=True)


def fail(message: str) -> None:
    raise click.ClickException(message)


def _database() -> Database:
    from vaultfront.db import Database

    return Database(Settings.from_env().database_url)


class Commands(click.Group):
    """The command tree: a service's typed error is its message, as a click error."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AppError as exc:
            raise click.ClickException(exc.message) from None


@click.group(cls=Commands)
@click.version_option(package_name="vaultfront")
def cli() -> None:
    """vaultfront: organization-scoped secrets over HashiCorp Vault / OpenBao."""


# --- database ---------------------------------------------------------------------------


@cli.group()
def db() -> None:
    """The metadata database."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the schema migrations (Alembic)."""
    database = _database()
    database.upgrade()
    say(f"database is up to date ({database.engine.url.render_as_string(hide_password=True)})")


# --- organizations, users, tokens -------------------------------------------------------


@cli.group()
def orgs() -> None:
    """Organizations."""


@orgs.command("create")
@click.argument("slug")
@click.option("--name", help="Display name (defaults to the slug).")
def orgs_create(slug: str, name: str | None) -> None:
    """Create an organization."""
    from vaultfront.service import accounts

    accounts.create_org(_database(), slug, name)
    say(f"created organization {slug}")


@cli.group()
def users() -> None:
    """Users and their memberships."""


@users.command("create")
@click.argument("email")
@click.option("--org", "org_slug", required=True, help="Organization slug.")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--name", help="Display name.")
@click.option("--superadmin", is_flag=True, help="Priority 1000 in every organization.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def users_create(
    email: str, org_slug: str, role: str, name: str | None, superadmin: bool, password_stdin: bool
) -> None:
    """Create a user, or add a membership to an existing one."""
    from vaultfront.service import accounts

    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            fail("The password read from standard input is empty.")
    user, created = accounts.create_user(
        _database(), email, org_slug, role, name, superadmin, password
    )
    verb = "created user" if created else "updated user"
    say(f"{verb} {user.email}: {role} in {org_slug}")
    if created and not password:
        say("they have no password (web login off); API tokens work: `vaultfront tokens create`")


@cli.group()
def tokens() -> None:
    """API tokens."""


@tokens.command("create")
@click.option("--user", "email", required=True, help="The token's user (email).")
@click.option("--name", default="cli", help="A name to recognise the token by.")
def tokens_create(email: str, name: str) -> None:
    """Print a new API token once, alone on stdout."""
    from vaultfront.service import accounts
    from vaultfront.service import tokens as token_service

    with _database().session() as session:
        user = accounts.user_by_email(session, email)
        assert user.id is not None
        _, plaintext = token_service.create_token(session, user.id, name, via="cli")
    click.echo(plaintext)


# --- Vault (operator) -------------------------------------------------------------------


@cli.group()
def vault() -> None:
    """Operator commands, with a privileged VAULT_TOKEN."""


@vault.command("bootstrap")
def vault_bootstrap() -> None:
    """Enable the mounts, write the policies, create the facade's AppRole."""
    from vaultfront import vault_admin

    settings = Settings.from_env()
    client = vault_admin.operator_client(
        os.environ.get("VAULT_ADDR"), os.environ.get("VAULT_TOKEN")
    )
    creds = vault_admin.bootstrap(client, settings.kv_mount, settings.transit_mount)
    say(f"bootstrapped mounts {settings.kv_mount} and {settings.transit_mount}")
    click.echo(f"VAULTFRONT_VAULT_ROLE_ID={creds.role_id}")
    click.echo(f"VAULTFRONT_VAULT_SECRET_ID={creds.secret_id}")


@vault.command("executor-role")
@click.option("--org", "org_slug", required=True)
@click.option("--env", type=click.Choice(layout.ENVIRONMENTS), required=True)
def vault_executor_role(org_slug: str, env: str) -> None:
    """Create an AppRole for one organization and environment."""
    from vaultfront import vault_admin

    settings = Settings.from_env()
    client = vault_admin.operator_client(
        os.environ.get("VAULT_ADDR"), os.environ.get("VAULT_TOKEN")
    )
    creds = vault_admin.executor_role(
        client, org_slug, env, settings.kv_mount, settings.transit_mount
    )
    say(f"executor role for {org_slug}/{env}: reads and decrypts that environment only")
    click.echo(f"VAULTFRONT_EXECUTOR_ROLE_ID={creds.role_id}")
    click.echo(f"VAULTFRONT_EXECUTOR_SECRET_ID={creds.secret_id}")


# --- servers ----------------------------------------------------------------------------


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int)
def serve(host: str, port: int, workers: int) -> None:
    """The production server (uvicorn), configured by the environment."""
    import uvicorn

    if workers > 1 and not os.environ.get("VAULTFRONT_SECRET_KEY"):
        fail("Set VAULTFRONT_SECRET_KEY: with several workers, sessions need one shared key.")
    uvicorn.run(
        "vaultfront.web.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        h11_max_incomplete_event_size=MAX_REQUEST_HEAD_BYTES,
    )


@cli.command("run", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def run_command(ctx: click.Context) -> None:
    """Run a command with an environment's secrets: run --org ORG --env ENV -- COMMAND."""
    from vaultfront.executor.run import main as run_main

    sys.exit(run_main(list(ctx.args)))


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--data-dir", default=DEFAULT_DATA_DIR, show_default=True, type=click.Path())
def dev(host: str, port: int, data_dir: str) -> None:
    """The embedded default: OpenBao dev server + SQLite, a demo organization and an admin."""
    import uvicorn

    from vaultfront import vault_admin
    from vaultfront.db import Database
    from vaultfront.devserver import DevServerError, start_dev_server
    from vaultfront.service import accounts
    from vaultfront.web.app import create_app

    data = Path(data_dir)
    data.mkdir(parents=True, exist_ok=True)
    # OpenBao's dev server keeps nothing between runs, so neither does the metadata.
    for stale in data.glob("vaultfront.db*"):
        stale.unlink()
    say("starting the OpenBao dev server ...")
    try:
        server = start_dev_server(log_dir=data)
    except DevServerError as exc:
        fail(str(exc))
    try:
        creds = vault_admin.bootstrap(vault_admin.operator_client(server.addr, server.root_token))
        database_url = default_database_url(data)
        database = Database(database_url)
        database.upgrade()
        accounts.create_org(database, "demo", "Demo")
        password = secrets.token_urlsafe(12)
        accounts.create_user(
            database, "admin@example.com", "demo", "admin", "Admin", False, password
        )
        database.dispose()
        settings = Settings(
            database_url=database_url,
            vault_addr=server.addr,
            vault_role_id=creds.role_id,
            vault_secret_id=creds.secret_id,
            secret_key=secrets.token_urlsafe(32),
            data_dir=str(data),
        )
        say("")
        say(f"  vaultfront is running at http://{host}:{port}/")
        say("  sign in as admin@example.com with the password:")
        say(f"      {password}")
        say(f"  OpenBao dev server: {server.addr} (log: {server.log_path})")
        say(f"  metadata: {database_url}")
        say("")
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        uvicorn.run(
            create_app(settings),
            host=host,
            port=port,
            log_level="info",
            h11_max_incomplete_event_size=MAX_REQUEST_HEAD_BYTES,
        )
    finally:
        server.stop()
        shutil.rmtree(server.home, ignore_errors=True)
