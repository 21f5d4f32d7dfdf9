"""The `vaultfront` command line (SPEC section 7).

Lines meant for the shell are `NAME=value` on stdout; messages for people go to stderr.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

import click

from vaultfront.config import DEFAULT_DATA_DIR, Settings, default_database_url

ROLES = ("viewer", "member", "admin")


def say(message: str) -> None:
    click.echo(message, err=True)


def fail(message: str) -> None:
    raise click.ClickException(message)


def _database() -> Any:
    from vaultfront.db import Database

    return Database(Settings.from_env().database_url)


def _root_vault() -> Any:
    import hvac

    addr = os.environ.get("VAULT_ADDR")
    token = os.environ.get("VAULT_TOKEN")
    if not addr or not token:
        fail("Set VAULT_ADDR and a privileged VAULT_TOKEN (an operator's token, not the facade's).")
    return hvac.Client(url=addr, token=token)


@click.group()
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


def create_org(database: Any, slug: str, name: str | None) -> Any:
    from sqlmodel import select

    from vaultfront import layout
    from vaultfront.models import Organization

    try:
        layout.check_org_slug(slug)
    except ValueError as exc:
        fail(str(exc))
    with database.session() as session:
        if session.exec(select(Organization).where(Organization.slug == slug)).first():
            fail(f"An organization with the slug {slug} already exists.")
        org = Organization(slug=slug, name=name or slug)
        session.add(org)
        session.commit()
        return org


@cli.group()
def orgs() -> None:
    """Organizations."""


@orgs.command("create")
@click.argument("slug")
@click.option("--name", help="Display name (defaults to the slug).")
def orgs_create(slug: str, name: str | None) -> None:
    """Create an organization."""
    create_org(_database(), slug, name)
    say(f"created organization {slug}")


def create_user(
    database: Any,
    email: str,
    org_slug: str,
    role: str,
    name: str | None = None,
    superadmin: bool = False,
    password: str | None = None,
) -> tuple[Any, bool]:
    """Create the user (or find them) and give them `role` in the organization."""
    from sqlmodel import select

    from vaultfront.auth import hash_password
    from vaultfront.models import Membership, Organization, User

    email = email.strip().lower()
    if "@" not in email:
        fail(f"{email!r} is not an email address.")
    with database.session() as session:
        org = session.exec(select(Organization).where(Organization.slug == org_slug)).first()
        if org is None:
            fail(f"No organization {org_slug}: create it with `vaultfront orgs create {org_slug}`.")
        user = session.exec(select(User).where(User.email == email)).first()
        created = user is None
        if user is None:
            user = User(email=email, name=name)
        if name:
            user.name = name
        if superadmin:
            user.superadmin = True
        if password:
            user.password_hash = hash_password(password)
        session.add(user)
        session.flush()
        membership = session.exec(
            select(Membership).where(Membership.user_id == user.id, Membership.org_id == org.id)
        ).first()
        if membership is None:
            membership = Membership(user_id=user.id, org_id=org.id, role=role)
        membership.role = role
        session.add(membership)
        session.commit()
        return user, created


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
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            fail("The password read from standard input is empty.")
    _, created = create_user(_database(), email, org_slug, role, name, superadmin, password)
    verb = "created user" if created else "updated user"
    say(f"{verb} {email.strip().lower()}: {role} in {org_slug}")
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
    from sqlmodel import select

    from vaultfront import tokens as token_store
    from vaultfront.models import User

    database = _database()
    with database.session() as session:
        user = session.exec(select(User).where(User.email == email.strip().lower())).first()
        if user is None:
            fail(f"No user {email}: create them with `vaultfront users create`.")
        _, plaintext = token_store.create_token(session, user.id, name)
    click.echo(plaintext)


# --- Vault (operator) -------------------------------------------------------------------


@cli.group()
def vault() -> None:
    """Operator commands, with a privileged VAULT_TOKEN."""


@vault.command("bootstrap")
def vault_bootstrap() -> None:
    """Enable the mounts, write the policies, create the facade's AppRole."""
    from vaultfront import operator

    settings = Settings.from_env()
    creds = operator.bootstrap(_root_vault(), settings.kv_mount, settings.transit_mount)
    say(f"bootstrapped mounts {settings.kv_mount} and {settings.transit_mount}")
    click.echo(f"VAULTFRONT_VAULT_ROLE_ID={creds.role_id}")
    click.echo(f"VAULTFRONT_VAULT_SECRET_ID={creds.secret_id}")


@vault.command("executor-role")
@click.option("--org", "org_slug", required=True)
@click.option("--env", type=click.Choice(["development", "staging", "production"]), required=True)
def vault_executor_role(org_slug: str, env: str) -> None:
    """Create an AppRole for one organization and environment."""
    from vaultfront import layout, operator

    try:
        layout.check_org_slug(org_slug)
    except ValueError as exc:
        fail(str(exc))
    settings = Settings.from_env()
    creds = operator.executor_role(
        _root_vault(), org_slug, env, settings.kv_mount, settings.transit_mount
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
        "vaultfront.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
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
    import hvac
    import uvicorn

    from vaultfront import operator
    from vaultfront.app import create_app
    from vaultfront.db import Database
    from vaultfront.devserver import DevServerError, start_dev_server

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
        creds = operator.bootstrap(hvac.Client(url=server.addr, token=server.root_token))
        database_url = default_database_url(data)
        database = Database(database_url)
        database.upgrade()
        create_org(database, "demo", "Demo")
        password = secrets.token_urlsafe(12)
        create_user(database, "admin@example.com", "demo", "admin", "Admin", False, password)
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
        uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
    finally:
        server.stop()
        shutil.rmtree(server.home, ignore_errors=True)
