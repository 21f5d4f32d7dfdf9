"""One live app and one Chromium for the whole browser session.

The app runs under uvicorn in a background thread, against the session's OpenBao (the
`vault` fixture) and a SQLite database: the API's behaviour on PostgreSQL is covered by the
API tests; here the subject is the page. Playwright drives Debian's Chromium
(`/usr/bin/chromium`), never a downloaded browser.

Every browser context built here aborts and records any request that leaves the app's
origin, and records Content-Security-Policy violations, page errors and AG Grid warnings;
a test fails at teardown if any of them happened.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    Route,
    sync_playwright,
)
from playwright.sync_api import Error as PlaywrightError

from browser.helpers import ORGS, PASSWORD, PEOPLE, TIMEOUT_MS, log_in, unique_name
from vaultfront import cli
from vaultfront.config import Settings
from vaultfront.db import Database
from vaultfront.devserver import free_port
from vaultfront.service.tokens import create_token
from vaultfront.web.app import create_app

CHROMIUM = os.environ.get("VAULTFRONT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class LiveServer:
    url: str
    settings: Settings
    api_tokens: dict[str, str] = field(default_factory=dict)

    def api(self, who: str) -> httpx.Client:
        """An API client authenticated as `who` with a bearer token (the setup's back door)."""
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {self.api_tokens[who]}"},
            timeout=30,
        )

    def create_secret(
        self,
        who: str,
        name: str | None = None,
        description: str = "",
        values: dict[str, str] | None = None,
        org: str = "acme",
    ) -> dict[str, Any]:
        body = {"name": name or unique_name(), "description": description, "values": values or {}}
        with self.api(who) as client:
            response = client.post(f"/api/orgs/{org}/secrets", json=body)
        assert response.status_code == 201, response.text
        detail: dict[str, Any] = response.json()
        return detail

    def get_secret(self, who: str, secret_id: str, org: str = "acme") -> httpx.Response:
        with self.api(who) as client:
            return client.get(f"/api/orgs/{org}/secrets/{secret_id}")


def _seed(database_url: str) -> dict[str, str]:
    database = Database(database_url)
    database.upgrade()
    for slug, name in ORGS.items():
        cli.create_org(database, slug, name)
    tokens: dict[str, str] = {}
    for person in PEOPLE.values():
        user = None
        for slug, role in person.memberships:
            user, _ = cli.create_user(
                database, person.email, slug, role, person.name, password=PASSWORD
            )
        assert user is not None and user.id is not None
        with database.session() as session:
            _, tokens[person.key] = create_token(session, user.id, "browser-tests")
    database.dispose()
    return tokens


@pytest.fixture(scope="session")
def live_server(vault: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("browser-app")
    settings = Settings(
        database_url=f"sqlite:///{data_dir / 'vaultfront.db'}",
        vault_addr=vault.addr,
        vault_role_id=vault.role_id,
        vault_secret_id=vault.secret_id,
        secret_key=secrets.token_urlsafe(32),
        data_dir=str(data_dir),
    )
    tokens = _seed(settings.database_url)
    app = create_app(settings, background_recovery=False)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="vaultfront-live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the app did not start under uvicorn")
        time.sleep(0.02)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", settings, tokens)
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Playwright]:
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not at {CHROMIUM}: apt-get install chromium")
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@dataclass
class Watch:
    """What a browser context did that it must not: leave the origin, break the CSP."""

    origin: str
    foreign_requests: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def route(self, route: Route) -> None:
        url = route.request.url
        if url == self.origin or url.startswith(self.origin + "/"):
            route.continue_()
        else:
            self.foreign_requests.append(url)
            route.abort()

    expected: list[str] = field(default_factory=list)

    def expect(self, text: str) -> None:
        """A console message containing `text` is this test's point, not a problem."""
        self.expected.append(text)

    def console(self, message: ConsoleMessage) -> None:
        text = message.text
        if any(expected in text for expected in self.expected):
            return
        if "Content Security Policy" in text or "AG Grid" in text:
            self.problems.append(f"console {message.type}: {text}")

    def page_error(self, error: PlaywrightError) -> None:
        self.problems.append(f"page error: {error}")

    def attach(self, page: Page) -> None:
        page.on("console", self.console)
        page.on("pageerror", self.page_error)


@pytest.fixture(scope="session")
def storage_states(
    browser: Browser, live_server: LiveServer, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], str]:
    """A signed-in storage state per person, made once by logging in through the form."""
    folder = tmp_path_factory.mktemp("storage-states")
    made: dict[str, str] = {}

    def state_for(who: str) -> str:
        if who not in made:
            context = browser.new_context(base_url=live_server.url)
            page = context.new_page()
            log_in(page, PEOPLE[who].email)
            path = str(folder / f"{who}.json")
            context.storage_state(path=path)
            context.close()
            made[who] = path
        return made[who]

    return state_for


ContextFactory = Callable[..., BrowserContext]
#: The watch of each context made by `new_context`, for tests that check it themselves.
WATCHES: weakref.WeakKeyDictionary[BrowserContext, Watch] = weakref.WeakKeyDictionary()


@pytest.fixture
def new_context(
    browser: Browser, live_server: LiveServer, storage_states: Callable[[str], str]
) -> Iterator[ContextFactory]:
    """`new_context("alice")`: a fresh, watched browser context signed in as alice
    (`new_context()` for one signed out)."""
    made: list[tuple[BrowserContext, Watch]] = []

    def make(who: str | None = None, **options: Any) -> BrowserContext:
        if who is not None:
            options["storage_state"] = storage_states(who)
        context = browser.new_context(base_url=live_server.url, **options)
        context.set_default_timeout(TIMEOUT_MS)
        watch = Watch(live_server.url)
        context.route("**/*", watch.route)
        context.on("page", watch.attach)
        made.append((context, watch))
        WATCHES[context] = watch
        return context

    yield make
    problems = []
    for context, watch in made:
        context.close()
        problems += [f"request outside the app's origin: {url}" for url in watch.foreign_requests]
        problems += watch.problems
    assert not problems, "\n".join(problems)


@pytest.fixture
def page_as(new_context: ContextFactory) -> Callable[[str | None], Page]:
    """`page_as("alice")`: a new page in a fresh context signed in as alice."""

    def make(who: str | None = None) -> Page:
        return new_context(who).new_page()

    return make
