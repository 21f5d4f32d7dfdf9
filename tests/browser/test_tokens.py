"""The API tokens page: create (shown once, with a copy button), last use, revoke."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from browser.conftest import ContextFactory, LiveServer
from browser.helpers import unique_name

pytestmark = pytest.mark.browser


def test_create_use_and_revoke_a_token(
    new_context: ContextFactory, live_server: LiveServer
) -> None:
    context = new_context("dan")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = context.new_page()
    page.goto("/tokens")
    name = unique_name("ci").lower()
    page.get_by_label("Token name").fill(name)
    page.get_by_role("button", name="Create token").click()

    shown = page.get_by_label(re.compile("^New token"))
    expect(shown).to_have_value(re.compile(r"^vf_\S{20,}$"))
    token = shown.input_value()
    expect(page.get_by_text("It will not be shown again.")).to_be_visible()
    page.get_by_role("button", name="Copy", exact=True).click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("() => navigator.clipboard.readText()") == token

    row = page.locator("#tokens-body tr", has_text=name)
    expect(row).to_contain_text(token[:10] + "…")
    expect(row).to_contain_text("Never")
    expect(row).to_contain_text("Active")

    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        me = client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["user"]["email"] == "dan@example.com"

    page.reload()
    row = page.locator("#tokens-body tr", has_text=name)
    expect(row).not_to_contain_text("Never")
    # Shown once: after a reload the page has only its prefix.
    assert token not in page.evaluate("() => document.documentElement.outerHTML")
    expect(page.get_by_label(re.compile("^New token"))).to_be_hidden()

    row.get_by_role("button", name=f"Revoke {name}").click()
    dialog = page.locator("#revoke-dialog")
    expect(dialog).to_contain_text(f"Revoke {name}?")
    dialog.get_by_role("button", name="Revoke token").click()
    expect(dialog).to_be_hidden()
    expect(row).to_contain_text("Revoked")
    expect(row.get_by_role("button")).to_have_count(0)
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        me = client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 401


def test_a_token_needs_a_name_and_its_name_stays_text(new_context: ContextFactory) -> None:
    page = new_context("dan").new_page()
    page.goto("/tokens")
    page.get_by_role("button", name="Create token").click()
    expect(page.locator("#token-name-error")).to_contain_text("Give the token a name")
    markup = '<img src=x onerror="window.__xss=1">'
    page.get_by_label("Token name").fill(markup)
    page.get_by_role("button", name="Create token").click()
    expect(page.locator("#tokens-body tr", has_text=markup)).to_have_count(1)
    assert page.evaluate("() => window.__xss") is None


def test_the_token_endpoints_need_the_csrf_header(
    new_context: ContextFactory, live_server: LiveServer
) -> None:
    page = new_context("dan").new_page()
    page.goto("/tokens")
    status = page.evaluate(
        """async () => {
            const r = await fetch("/account/tokens", {method: "POST",
                headers: {"Content-Type": "application/json"}, body: '{"name": "no-csrf"}'});
            return r.status;
        }"""
    )
    assert status == 403
    # Bearer tokens cannot mint tokens: the endpoints are for the signed-in page only.
    with live_server.api("dan") as client:
        assert client.post("/account/tokens", json={"name": "x"}).status_code == 401
