"""Adding, editing, clearing and deleting a secret in the page, as a user does it
(SPEC section 5), checked by what the page sent and what the API then says."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, Request, expect

from browser.conftest import ContextFactory, LiveServer
from browser.helpers import PEOPLE, grid_row, open_grid, open_secret, unique_name
from vaultfront.masks import mask_value

pytestmark = pytest.mark.browser

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def drawer(page: Page) -> Any:
    return page.locator("#secret-dialog")


def env_input(page: Page, label: str) -> Any:
    return drawer(page).get_by_label(label, exact=True)


def is_patch(request: Request) -> bool:
    return request.method == "PATCH" and "/api/orgs/acme/secrets/" in request.url


def test_add_a_secret_with_the_form(new_context: ContextFactory, live_server: LiveServer) -> None:
    page = new_context("carol").new_page()
    open_grid(page)
    page.get_by_role("button", name="Add Secret").click()
    form = drawer(page)
    expect(form).to_be_visible()
    name = form.get_by_label("Name")
    expect(name).to_have_attribute("placeholder", "STRIPE_API_KEY")
    for label in ("Development", "Staging", "Production"):
        expect(env_input(page, label)).to_have_attribute("type", "password")
    expect(form.get_by_label("ID")).to_be_hidden()

    secret_name = unique_name("ADDED")
    name.fill(secret_name)
    form.get_by_label("Description").fill("Made in the browser")
    env_input(page, "Development").fill("dev-secret-value")
    # The show toggle reveals what is being typed, and hides it again.
    form.get_by_role("button", name="Show Development value").click()
    expect(env_input(page, "Development")).to_have_attribute("type", "text")
    form.get_by_role("button", name="Hide Development value").click()
    expect(env_input(page, "Development")).to_have_attribute("type", "password")
    env_input(page, "Production").fill("prod-secret-value")

    with page.expect_request(lambda r: r.method == "POST" and "/api/" in r.url) as sent:
        form.get_by_role("button", name="Save").click()
    assert sent.value.post_data_json == {
        "name": secret_name,
        "description": "Made in the browser",
        "values": {"development": "dev-secret-value", "production": "prod-secret-value"},
    }
    assert sent.value.headers["x-csrf-token"]
    expect(form).to_be_hidden()
    row = grid_row(page, secret_name)
    expect(row.locator('[col-id="development"]')).to_have_text("Yes")
    expect(row.locator('[col-id="staging"]')).to_have_text("No")
    expect(row.locator('[col-id="production"]')).to_have_text("Yes")
    expect(row.locator('[col-id="owner"]')).to_have_text("Carol Member")


def test_open_a_secret_shows_its_uuid_read_only_and_masks_not_values(
    new_context: ContextFactory, live_server: LiveServer
) -> None:
    secret = live_server.create_secret(
        "carol",
        description="masks only",
        values={"development": "sk_live_" + "Q" * 95 + "RgA1", "production": "short"},
    )
    page = new_context("carol").new_page()
    open_grid(page)
    open_secret(page, secret["name"])
    form = drawer(page)
    expect(form.get_by_label("ID")).to_have_value(secret["id"])
    expect(form.get_by_label("ID")).to_have_attribute("readonly", "")
    assert UUID.match(form.get_by_label("ID").input_value())
    expect(form.get_by_label("Name")).to_have_value(secret["name"])
    expect(form.get_by_label("Description")).to_have_value("masks only")
    expect(env_input(page, "Development")).to_have_attribute("placeholder", "sk_live_***RgA1")
    expect(env_input(page, "Production")).to_have_attribute("placeholder", "***")
    expect(env_input(page, "Staging")).to_have_attribute("placeholder", "Not set")
    for label in ("Development", "Staging", "Production"):
        expect(env_input(page, label)).to_have_value("")
    expect(form.get_by_role("button", name="Save")).to_be_disabled()  # nothing changed yet
    form.get_by_role("button", name="Close", exact=True).click()
    expect(form).to_be_hidden()


def test_changing_one_environment_sends_only_that_field_with_if_match(
    new_context: ContextFactory, live_server: LiveServer
) -> None:
    secret = live_server.create_secret(
        "carol", description="keep me", values={"development": "d-1-value", "staging": "s-1-value"}
    )
    page = new_context("carol").new_page()
    open_grid(page)
    open_secret(page, secret["name"])
    staging_field = drawer(page).locator('.env-field[data-env="staging"]')
    expect(staging_field.get_by_text("Modified")).to_be_hidden()
    env_input(page, "Staging").fill("s-2-new-value")
    expect(staging_field.get_by_text("Modified")).to_be_visible()
    expect(page.locator("#dirty-summary")).to_have_text("1 unsaved change")

    with page.expect_request(is_patch) as sent:
        drawer(page).get_by_role("button", name="Save").click()
    assert sent.value.post_data_json == {"values": {"staging": "s-2-new-value"}}
    assert sent.value.headers["if-match"] == f'"{secret["version"]}"'
    expect(drawer(page)).to_be_hidden()
    expect(page.locator("#toast")).to_have_text(f"Saved {secret['name']}")

    after = live_server.get_secret("carol", secret["id"]).json()
    assert after["version"] > secret["version"]
    assert after["description"] == "keep me"
    assert after["values"]["staging"]["mask"] == mask_value("s-2-new-value")
    assert after["values"]["development"] == secret["values"]["development"]


def test_renaming_sends_only_the_name(new_context: ContextFactory, live_server: LiveServer) -> None:
    secret = live_server.create_secret("carol", values={"production": "p-value-123"})
    new_name = unique_name("RENAMED")
    page = new_context("carol").new_page()
    open_grid(page)
    open_secret(page, secret["name"])
    drawer(page).get_by_label("Name").fill(new_name)
    with page.expect_request(is_patch) as sent:
        drawer(page).get_by_role("button", name="Save").click()
    assert sent.value.post_data_json == {"name": new_name}
    expect(grid_row(page, new_name)).to_be_visible()


def test_clearing_a_value(new_context: ContextFactory, live_server: LiveServer) -> None:
    secret = live_server.create_secret(
        "carol", values={"development": "d-value-1", "production": "p-value-1"}
    )
    page = new_context("carol").new_page()
    open_grid(page)
    open_secret(page, secret["name"])
    form = drawer(page)
    expect(form.get_by_role("button", name="Clear Staging value")).to_be_hidden()  # not set
    form.get_by_role("button", name="Clear Production value").click()
    expect(env_input(page, "Production")).to_be_disabled()
    expect(form.locator("#value-production-state")).to_have_text("Will be cleared")
    # Undo restores it; clearing again is what gets saved.
    form.get_by_role("button", name="Undo clearing Production value").click()
    expect(env_input(page, "Production")).to_be_enabled()
    expect(form.get_by_role("button", name="Save")).to_be_disabled()
    form.get_by_role("button", name="Clear Production value").click()
    with page.expect_request(is_patch) as sent:
        form.get_by_role("button", name="Save").click()
    assert sent.value.post_data_json == {"values": {"production": None}}
    row = grid_row(page, secret["name"])
    expect(row.locator('[col-id="production"]')).to_have_text("No")
    expect(row.locator('[col-id="development"]')).to_have_text("Yes")
    after = live_server.get_secret("carol", secret["id"]).json()
    assert after["values"]["production"] == {"set": False, "mask": None}


def test_a_duplicate_name_is_explained_next_to_the_name(
    new_context: ContextFactory, live_server: LiveServer
) -> None:
    existing = live_server.create_secret("carol")
    page = new_context("carol").new_page()
    open_grid(page)
    page.get_by_role("button", name="Add Secret").click()
    form = drawer(page)
    form.get_by_label("Name").fill(existing["name"])
    form.get_by_role("button", name="Save").click()
    error = form.locator("#secret-name-error")
    expect(error).to_have_text(
        f"A secret named {existing['name']} already exists in this organization"
    )
    expect(form).to_be_visible()

    form.get_by_label("Name").fill("lower_case")
    form.get_by_role("button", name="Save").click()
    expect(error).to_contain_text("uppercase letter")


def test_a_value_error_shows_next_to_its_environment(new_context: ContextFactory) -> None:
    page = new_context("carol").new_page()
    open_grid(page)
    page.get_by_role("button", name="Add Secret").click()
    form = drawer(page)
    form.get_by_label("Name").fill(unique_name("BIG"))
    env_input(page, "Staging").fill("x" * 70_000)
    form.get_by_role("button", name="Save").click()
    expect(form.locator("#value-staging-error")).to_contain_text("64 KiB")
    expect(form.locator("#value-staging-error")).to_be_visible()


def test_vault_unavailable_is_shown_in_words(new_context: ContextFactory) -> None:
    page = new_context("carol").new_page()
    open_grid(page)
    message = "Vault cannot be reached or refused the request; nothing was written."
    page.route(
        re.compile(r".*/api/orgs/acme/secrets$"),
        lambda route: (
            route.fulfill(
                status=503,
                json={"error": {"code": "vault_unavailable", "message": message, "field": None}},
            )
            if route.request.method == "POST"
            else route.continue_()
        ),
    )
    page.get_by_role("button", name="Add Secret").click()
    drawer(page).get_by_label("Name").fill(unique_name("DOWN"))
    drawer(page).get_by_role("button", name="Save").click()
    expect(drawer(page).locator("#form-error-text")).to_have_text(message)
    expect(drawer(page).get_by_role("button", name="Reload")).to_be_hidden()


def test_a_conflict_tells_the_user_and_offers_to_reload(
    new_context: ContextFactory, live_server: LiveServer
) -> None:
    secret = live_server.create_secret("carol", description="first", values={"staging": "s-v-1"})
    page = new_context("carol").new_page()
    open_grid(page)
    open_secret(page, secret["name"])
    # Someone else changes it meanwhile.
    with live_server.api("alice") as client:
        changed = client.patch(
            f"/api/orgs/acme/secrets/{secret['id']}", json={"description": "changed by alice"}
        )
        assert changed.status_code == 200, changed.text
    drawer(page).get_by_label("Description").fill("mine")
    drawer(page).get_by_role("button", name="Save").click()
    error = drawer(page).locator("#form-error")
    expect(error).to_contain_text("Someone else changed this secret")
    expect(error).to_contain_text("nothing was saved")
    assert live_server.get_secret("carol", secret["id"]).json()["description"] == "changed by alice"

    error.get_by_role("button", name="Reload").click()
    expect(drawer(page).get_by_label("Description")).to_have_value("changed by alice")
    expect(error).to_be_hidden()
    drawer(page).get_by_label("Description").fill("mine, after reloading")
    with page.expect_request(is_patch) as sent:
        drawer(page).get_by_role("button", name="Save").click()
    assert sent.value.headers["if-match"] == f'"{changed.json()["version"]}"'
    expect(drawer(page)).to_be_hidden()
    after = live_server.get_secret("carol", secret["id"]).json()
    assert after["description"] == "mine, after reloading"


def test_a_non_owner_below_admin_sees_the_banner_and_cannot_edit(
    new_context: ContextFactory, live_server: LiveServer
) -> None:
    secret = live_server.create_secret("carol", values={"production": "p-owner-value"})
    page = new_context("bob").new_page()
    open_grid(page)
    open_secret(page, secret["name"])
    form = drawer(page)
    banner = form.locator("#owner-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Only Carol Member can modify this secret")
    for field in form.locator("input:not([readonly]), textarea").all():
        expect(field).to_be_disabled()
    for label in ("Save", "Delete", "Show Production value", "Clear Production value"):
        expect(form.get_by_role("button", name=label)).to_be_disabled()
    # Closing still works.
    form.get_by_role("button", name="Close", exact=True).click()
    expect(form).to_be_hidden()

    # The server refuses too, when the page is bypassed with the session's own credentials.
    status = page.evaluate(
        """async ([url, version]) => {
            const csrf = document.querySelector('meta[name="csrf-token"]').content;
            const response = await fetch(url, {
                method: "PATCH",
                headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf,
                          "If-Match": `"${version}"`},
                body: JSON.stringify({description: "forced"}),
            });
            return [response.status, (await response.json()).error.message];
        }""",
        [f"/api/orgs/acme/secrets/{secret['id']}", secret["version"]],
    )
    assert status == [403, "Only Carol Member can modify this secret"]


def test_a_viewer_sees_the_banner_too(new_context: ContextFactory, live_server: LiveServer) -> None:
    secret = live_server.create_secret("dan")
    page = new_context("vic").new_page()
    open_grid(page)
    open_secret(page, secret["name"])
    # dan has no display name: the banner names him by email.
    expect(drawer(page).locator("#owner-banner")).to_contain_text(
        f"Only {PEOPLE['dan'].email} can modify this secret"
    )
    expect(drawer(page).get_by_role("button", name="Save")).to_be_disabled()


def test_an_admin_may_edit_someone_elses_secret(
    new_context: ContextFactory, live_server: LiveServer
) -> None:
    secret = live_server.create_secret("bob", values={"development": "bob-dev-value"})
    page = new_context("alice").new_page()
    open_grid(page)
    open_secret(page, secret["name"])
    form = drawer(page)
    expect(form.locator("#owner-banner")).to_be_hidden()
    expect(form.get_by_label("Description")).to_be_enabled()
    form.get_by_label("Description").fill("edited by an admin")
    with page.expect_response(lambda r: r.request.method == "PATCH") as answer:
        form.get_by_role("button", name="Save").click()
    assert answer.value.status == 200
    after = live_server.get_secret("bob", secret["id"]).json()
    assert after["description"] == "edited by an admin"
    assert after["owner"]["email"] == PEOPLE["bob"].email


def test_delete_needs_exactly_delete_typed(
    new_context: ContextFactory, live_server: LiveServer
) -> None:
    secret = live_server.create_secret("carol", values={"production": "to-be-deleted"})
    page = new_context("carol").new_page()
    open_grid(page)
    open_secret(page, secret["name"])
    drawer(page).get_by_role("button", name="Delete").click()
    confirm = page.locator("#delete-dialog")
    expect(confirm).to_be_visible()
    expect(confirm.get_by_role("heading")).to_contain_text(secret["name"])
    field = confirm.get_by_label("Type delete to confirm")
    destroy = confirm.get_by_role("button", name="Delete secret")
    expect(destroy).to_be_disabled()
    for wrong in ("Delete", " delete", "delete ", "DELETE", "delet", "deletee"):
        field.fill(wrong)
        expect(destroy).to_be_disabled()
    field.press("Enter")  # submitting the form does not bypass the rule
    expect(confirm).to_be_visible()
    # Cancel keeps the secret and the edit form.
    confirm.get_by_role("button", name="Cancel").click()
    expect(confirm).to_be_hidden()
    expect(drawer(page)).to_be_visible()
    assert live_server.get_secret("carol", secret["id"]).status_code == 200

    drawer(page).get_by_role("button", name="Delete").click()
    expect(field).to_have_value("")
    field.fill("delete")
    expect(destroy).to_be_enabled()
    destroy.click()
    expect(confirm).to_be_hidden()
    expect(drawer(page)).to_be_hidden()
    expect(page.locator("#toast")).to_have_text(f"Deleted {secret['name']}")
    page.get_by_label("Filter").fill(secret["name"])
    expect(page.locator('#secrets-grid .ag-row[row-id] [col-id="name"]')).to_have_count(0)
    assert live_server.get_secret("carol", secret["id"]).status_code == 404


def test_closing_the_drawer_wipes_typed_values(
    new_context: ContextFactory, live_server: LiveServer
) -> None:
    secret = live_server.create_secret("carol")
    page = new_context("carol").new_page()
    open_grid(page)
    open_secret(page, secret["name"])
    env_input(page, "Production").fill("typed-but-not-saved")
    page.keyboard.press("Escape")
    expect(drawer(page)).to_be_hidden()
    typed_values = "() => [...document.querySelectorAll('input')].map(i => i.value).join()"
    assert "typed-but-not-saved" not in page.evaluate(typed_values)
