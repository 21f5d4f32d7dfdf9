"""A throw-away vaultfront for scripts that need the real page: OpenBao in dev mode, a SQLite
database in a temporary folder, the app under uvicorn in a thread.

Used by `scripts/screenshots.py` and `bench/bench_grid.py`; the tests have their own
fixtures (tests/conftest.py, tests/browser/conftest.py).
"""

from __future__ import annotations

import secrets
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
import hvac
import uvicorn

from vaultfront import cli, vault_admin
from vaultfront.config import Settings
from vaultfront.db import Database
from vaultfront.devserver import free_port, start_dev_server
from vaultfront.service.tokens import create_token
from vaultfront.web.app import create_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "correct horse battery staple"


@dataclass
class LiveApp:
    url: str
    settings: Settings
    database: Database
    api_tokens: dict[str, str] = field(default_factory=dict)

    def api(self, email: str) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.api_tokens[email]}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


@contextmanager
def live_app(
    people: list[tuple[str, str | None, str, str]],
    orgs: dict[str, str],
) -> Iterator[LiveApp]:
    """Start everything; `people` are (email, name, org, role) memberships."""
    data_dir = tempfile.mkdtemp(prefix="vaultfront-live-")
    bao = start_dev_server(log_dir=data_dir)
    server: uvicorn.Server | None = None
    thread: threading.Thread | None = None
    try:
        creds = vault_admin.bootstrap(hvac.Client(bao.addr, token=bao.root_token))
        settings = Settings(
            database_url=f"sqlite:///{data_dir}/vaultfront.db",
            vault_addr=bao.addr,
            vault_role_id=creds.role_id,
            vault_secret_id=creds.secret_id,
            secret_key=secrets.token_urlsafe(32),
            data_dir=data_dir,
        )
        database = Database(settings.database_url)
        database.upgrade()
        for slug, name in orgs.items():
            cli.create_org(database, slug, name)
        tokens: dict[str, str] = {}
        for email, name, org, role in people:
            user, _ = cli.create_user(database, email, org, role, name, password=PASSWORD)
            if email not in tokens:
                with database.session() as session:
                    _, tokens[email] = create_token(session, user.id, "seed")
        app = create_app(settings, background_recovery=False)
        port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the app did not start")
            time.sleep(0.02)
        yield LiveApp(f"http://127.0.0.1:{port}", settings, database, tokens)
    finally:
        if server is not None and thread is not None:
            server.should_exit = True
            thread.join(timeout=15)
        bao.stop()
