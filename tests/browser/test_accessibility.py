"""Every field has a visible label, and the grid works from the keyboard."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from browser.conftest import ContextFactory, LiveServer
from browser.helpers import grid_row, open_grid, open_secret

pytestmark = pytest.mark.browser

UNLABELLED = """() => [...document.querySelectorAll('input, textarea, select')]
    .filter(field => field.type !== 'hidden' && field.offsetParent !== null)
    .filter(field => ![...field.labels].some(label => label.offsetParent !== null
                                                      && label.textContent.trim()))
    .map(field => field.id || field.name || field.outerHTML)"""


def unlabelled(page: Page) -> list[str]:
    result: list[str] = page.evaluate(UNLABELLED)
    return result


def test_every_visible_field_has_a_visible_label(
    new_context: ContextFactory, live_server: LiveServer
) -> None:
    login = new_context().new_page()
    login.goto("/login")
    assert unlabelled(login) == []

    secret = live_server.create_secret("carol", values={"staging": "label-check"})
    page = new_context("carol").new_page()
    open_grid(page)
    assert unlabelled(page) == []
    page.get_by_role("button", name="Add Secret").click()
    assert unlabelled(page) == []
    page.keyboard.press("Escape")
    open_secret(page, secret["name"])
    assert unlabelled(page) == []
    page.locator("#secret-dialog").get_by_role("button", name="Delete").click()
    assert unlabelled(page) == []
    page.keyboard.press("Escape")
    page.goto("/tokens")
    page.get_by_label("Token name").fill("labels")
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_role("button", name="Copy", exact=True)).to_be_visible()
    assert unlabelled(page) == []


def test_enter_on_a_row_opens_it(new_context: ContextFactory, live_server: LiveServer) -> None:
    secret = live_server.create_secret("carol")
    page = new_context("carol").new_page()
    open_grid(page)
    row = grid_row(page, secret["name"])
    row.locator('[col-id="description"]').focus()
    page.keyboard.press("Enter")
    expect(page.locator("#secret-dialog")).to_be_visible()
    expect(page.locator("#secret-dialog").get_by_label("ID")).to_have_value(secret["id"])
