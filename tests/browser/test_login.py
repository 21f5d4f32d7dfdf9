"""Signing in and out (SPEC section 5: `/login`, `/logout`, `/` goes to the first grid)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from browser.conftest import ContextFactory, LiveServer
from browser.helpers import PASSWORD, PEOPLE, log_in, open_grid

pytestmark = pytest.mark.browser


def test_root_sends_a_stranger_to_login_and_a_user_to_their_first_grid(
    new_context: ContextFactory,
) -> None:
    page = new_context().new_page()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_label("Email")).to_be_visible()
    expect(page.get_by_label("Password")).to_have_attribute("type", "password")
    log_in(page, PEOPLE["alice"].email)
    expect(page).to_have_url(re.compile(r"/orgs/acme/secrets$"))
    expect(page.get_by_role("heading", name="Secrets")).to_be_visible()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/orgs/acme/secrets$"))


def test_a_wrong_password_is_refused_in_words(new_context: ContextFactory) -> None:
    page = new_context().new_page()
    page.goto("/login")
    page.get_by_label("Email").fill(PEOPLE["alice"].email)
    page.get_by_label("Password").fill(PASSWORD + "!")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text(
        "That email and password do not match an account."
    )
    expect(page.get_by_label("Email")).to_have_value(PEOPLE["alice"].email)
    expect(page.get_by_label("Password")).to_have_value("")
    page.goto("/orgs/acme/secrets")
    expect(page).to_have_url(re.compile(r"/login\?next=/orgs/acme/secrets$"))


def test_login_returns_to_the_page_asked_for_but_never_off_site(
    new_context: ContextFactory,
) -> None:
    page = new_context().new_page()
    page.goto("/tokens")
    expect(page).to_have_url(re.compile(r"/login\?next=/tokens$"))
    page.get_by_label("Email").fill(PEOPLE["bob"].email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/tokens$"))

    page = new_context().new_page()
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        page.goto("/login?next=" + target)
        expect(page.locator('input[name="next"]')).to_have_value("/")


def test_the_session_cookie_is_httponly_and_samesite(
    new_context: ContextFactory, live_server: LiveServer
) -> None:
    context = new_context("alice")
    page = context.new_page()
    open_grid(page)
    (cookie,) = [c for c in context.cookies() if c["name"] == "vaultfront_session"]
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert cookie["secure"] is False  # plain HTTP on loopback; Secure over HTTPS
    assert "vaultfront_session" not in page.evaluate("document.cookie")


def test_a_login_form_without_its_csrf_field_is_refused(new_context: ContextFactory) -> None:
    page = new_context().new_page()
    page.goto("/login")
    page.locator('input[name="csrf"]').evaluate("input => input.value = 'forged'")
    page.get_by_label("Email").fill(PEOPLE["alice"].email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("expired")
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login$"))


def test_log_out_from_the_header(new_context: ContextFactory) -> None:
    context = new_context()
    page = context.new_page()
    log_in(page, PEOPLE["carol"].email)
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login\?signed_out=1$"))
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    page.goto("/orgs/acme/secrets")
    expect(page).to_have_url(re.compile(r"/login\?next="))


def test_get_logout_only_asks_for_confirmation(new_context: ContextFactory) -> None:
    page = new_context("carol").new_page()
    page.goto("/logout")
    expect(page.get_by_role("heading", name="Log out?")).to_be_visible()
    page.get_by_role("link", name="Stay signed in").click()
    expect(page).to_have_url(re.compile(r"/orgs/acme/secrets$"))
    page.goto("/logout")
    page.locator("main").get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login\?signed_out=1$"))


def test_the_organization_switcher_lists_every_membership(new_context: ContextFactory) -> None:
    page = new_context("alice").new_page()
    open_grid(page)
    switcher = page.locator(".org-switcher")
    switcher.locator("summary").click()
    expect(switcher.get_by_role("link")).to_have_count(2)
    page.keyboard.press("Escape")  # closes the menu
    expect(switcher.get_by_role("link").first).to_be_hidden()
    switcher.locator("summary").click()
    page.locator(".account-name").click()  # so does a click elsewhere
    expect(switcher.get_by_role("link").first).to_be_hidden()
    switcher.locator("summary").click()
    switcher.get_by_role("link", name=re.compile("Globex")).click()
    expect(page).to_have_url(re.compile(r"/orgs/globex/secrets$"))
    expect(page.locator(".org-switcher summary")).to_contain_text("Globex")
    # The tokens page keeps the organization chosen last.
    page.get_by_role("link", name="API tokens").click()
    page.get_by_role("link", name="Secrets", exact=True).click()
    expect(page).to_have_url(re.compile(r"/orgs/globex/secrets$"))

    page = new_context("bob").new_page()
    open_grid(page)
    expect(page.locator(".org-switcher")).to_have_count(0)
    expect(page.locator(".org-single")).to_contain_text("Acme Corp")
