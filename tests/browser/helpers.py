"""Helpers for the browser tests: the seeded people, and how a user does common things."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from playwright.sync_api import Locator, Page, expect

PASSWORD = "correct horse battery staple"
TIMEOUT_MS = 10_000


@dataclass(frozen=True)
class Person:
    key: str
    email: str
    name: str | None
    memberships: tuple[tuple[str, str], ...]

    @property
    def display(self) -> str:
        return self.name or self.email


MALLORY_NAME = '<img src=x onerror="window.__xss=1">Mallory'
ORGS = {"acme": "Acme Corp", "globex": "Globex", "initech": "Initech"}
PEOPLE = {
    person.key: person
    for person in (
        Person(
            "alice", "alice@example.com", "Alice Admin", (("acme", "admin"), ("globex", "member"))
        ),
        Person("bob", "bob@example.com", "Bob Builder", (("acme", "member"),)),
        Person("carol", "carol@example.com", "Carol Member", (("acme", "member"),)),
        Person("vic", "vic@example.com", "Vic Viewer", (("acme", "viewer"),)),
        # No display name: shown by email.
        Person("dan", "dan@example.com", None, (("acme", "member"),)),
        # A display name carrying HTML: it must stay text wherever it is shown.
        Person("mallory", "mallory@example.com", MALLORY_NAME, (("acme", "member"),)),
        Person("ivan", "ivan@example.com", "Ivan Initech", (("initech", "admin"),)),
    )
}


def unique_name(prefix: str = "T") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10].upper()}"


def log_in(page: Page, email: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/orgs/[a-z0-9-]+/secrets$"))


def open_grid(page: Page, org: str = "acme") -> None:
    page.goto(f"/orgs/{org}/secrets")
    page.locator("#secrets-grid .ag-header-cell").first.wait_for()
    # The rows arrive with one API call after the grid is drawn.
    page.wait_for_function(
        "() => !/Loading/.test(document.getElementById('secret-count').textContent)"
    )


def grid_row(page: Page, name: str) -> Locator:
    """The grid row whose Name cell is `name`, after filtering the grid down to it."""
    # With a modal open, typing would go to the modal's focused field, not the filter.
    expect(page.locator("dialog[open]")).to_have_count(0)
    page.get_by_label("Filter").fill(name)
    row = page.locator("#secrets-grid .ag-row[row-id]").filter(
        has=page.locator('[col-id="name"]', has_text=re.compile(f"^{re.escape(name)}$"))
    )
    row.wait_for()
    return row


def open_secret(page: Page, name: str) -> None:
    grid_row(page, name).locator('[col-id="name"]').click()
    page.locator("#secret-dialog[open]").wait_for()
    page.wait_for_function(
        "name => document.getElementById('secret-dialog-title').textContent === name", arg=name
    )
