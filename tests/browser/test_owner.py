"""Transfer of ownership in the page (SPEC section 3: an admin action): admins get an
Owner select in the drawer, everyone else reads the owner. Checked by what the page sent,
what the grid shows, and what the next person to open the secret is told."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import Page, Request, Route, expect

from browser.conftest import ContextFactory, LiveServer
from browser.helpers import PEOPLE, grid_row, open_grid, open_secret

pytestmark = pytest.mark.browser


def drawer(page: Page) -> Any:
    return page.locator("#secret-dialog")


def user_id(live_server: LiveServer, who: str) -> int:
    with live_server.api(who) as client:
        return int(client.get("/api/me").json()["user"]["id"])


def is_members(request: Request) -> bool:
    return request.method == "GET" and request.url.endswith("/api/orgs/acme/members")


def test_an_admin_transfers_ownership_in_the_drawer(
    new_context: ContextFactory, live_server: LiveServer
) -> None:
    secret = live_server.create_secret("bob", values={"staging": "bob-staging-value"})
    other = live_server.create_secret("bob")
    carol = user_id(live_server, "carol")
    page = new_context("alice").new_page()
    members_requests: list[str] = []
    page.on("request", lambda r: members_requests.append(r.url) if is_members(r) else None)
    open_grid(page)
    open_secret(page, secret["name"])
    form = drawer(page)
    owner = form.get_by_label("Owner", exact=True)
    expect(owner).to_be_visible()
    expect(owner).to_be_enabled()
    expect(owner).to_have_value(str(user_id(live_server, "bob")))
    # Members and admins, never the viewer; names stay text (mallory's is HTML).
    labels = owner.locator("option").all_text_contents()
    for key in ("alice", "bob", "carol", "dan", "mallory"):
        person = PEOPLE[key]
        wanted = f"{person.name} ({person.email})" if person.name else person.email
        assert wanted in labels, (wanted, labels)
    assert not any(PEOPLE["vic"].email in label for label in labels), labels
    assert not any("ivan" in label for label in labels), labels  # another organization's
    expect(form.locator("#meta-owner-item")).to_be_hidden()  # the select says it already

    owner_field = form.locator('[data-field="owner_id"]')
    expect(owner_field.get_by_text("Modified")).to_be_hidden()
    owner.select_option(str(carol))
    expect(owner_field.get_by_text("Modified")).to_be_visible()
    expect(page.locator("#dirty-summary")).to_have_text("1 unsaved change")
    with page.expect_request(lambda r: r.method == "PATCH" and secret["id"] in r.url) as sent:
        form.get_by_role("button", name="Save").click()
    assert json.loads(sent.value.post_data or "") == {"owner_id": carol}
    assert sent.value.headers["if-match"] == f'"{secret["version"]}"'
    expect(form).to_be_hidden()
    expect(grid_row(page, secret["name"]).locator('[col-id="owner"]')).to_have_text("Carol Member")
    after = live_server.get_secret("bob", secret["id"]).json()
    assert after["owner"]["email"] == PEOPLE["carol"].email, after
    assert after["values"]["staging"] == secret["values"]["staging"], after

    # Reopening shows the new owner; another secret reuses the list (one request a page).
    open_secret(page, secret["name"])
    expect(form.get_by_label("Owner", exact=True)).to_have_value(str(carol))
    expect(form.get_by_label("Owner", exact=True)).to_be_enabled()
    form.get_by_role("button", name="Close", exact=True).click()
    open_secret(page, other["name"])
    expect(form.get_by_label("Owner", exact=True)).to_be_enabled()
    assert len(members_requests) == 1, members_requests

    # The old owner, a plain member, is told who owns it now.
    bob_page = new_context("bob").new_page()
    open_grid(bob_page)
    open_secret(bob_page, secret["name"])
    banner = drawer(bob_page).locator("#owner-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Only Carol Member can modify this secret")
    expect(drawer(bob_page).locator("#meta-owner")).to_have_text("Carol Member")
    expect(drawer(bob_page).get_by_label("Owner", exact=True)).to_be_hidden()


def test_a_plain_member_sees_the_owner_as_text_and_no_select(
    new_context: ContextFactory, live_server: LiveServer
) -> None:
    mine = live_server.create_secret("carol")
    theirs = live_server.create_secret("dan")
    page = new_context("carol").new_page()
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if is_members(r) else None)
    open_grid(page)
    for secret, owner in ((mine, "Carol Member"), (theirs, PEOPLE["dan"].email)):
        open_secret(page, secret["name"])
        form = drawer(page)
        expect(form.locator("select")).to_be_hidden()
        expect(form.get_by_label("Owner", exact=True)).to_be_hidden()
        expect(form.locator("#meta-owner")).to_have_text(owner)
        expect(form.locator("#meta-owner")).to_be_visible()
        form.get_by_role("button", name="Close", exact=True).click()
        expect(form).to_be_hidden()
    assert asked == [], "a member has no use for the members list"


def test_when_the_members_cannot_be_loaded_the_rest_still_saves(
    new_context: ContextFactory, live_server: LiveServer
) -> None:
    secret = live_server.create_secret("bob")
    page = new_context("alice").new_page()

    def unavailable(route: Route) -> None:
        route.fulfill(
            status=503,
            content_type="application/json",
            body=json.dumps(
                {"error": {"code": "unavailable", "message": "Try again.", "field": None}}
            ),
        )

    page.route("**/api/orgs/acme/members", unavailable)
    open_grid(page)
    open_secret(page, secret["name"])
    form = drawer(page)
    owner = form.get_by_label("Owner", exact=True)
    expect(form.locator("#secret-owner-error")).to_contain_text("Could not load the members")
    expect(owner).to_be_disabled()
    expect(owner.locator("option")).to_have_text(["Bob Builder"])
    form.get_by_label("Description").fill("still editable")
    with page.expect_request(lambda r: r.method == "PATCH") as sent:
        form.get_by_role("button", name="Save").click()
    assert json.loads(sent.value.post_data or "") == {"description": "still editable"}
    expect(form).to_be_hidden()
