"""Multi-line values (PEM keys, certificates, JSON files) in the add and edit forms: typed
or pasted as they are, hidden like a password, sent exactly, and never sent back."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from playwright.sync_api import Locator, Page, Request, Response, expect

from browser.conftest import ContextFactory, LiveServer
from browser.helpers import grid_row, open_grid, open_secret, unique_name
from browser.test_accessibility import unlabelled
from vaultfront.masks import mask_value

pytestmark = pytest.mark.browser


def pem(kind: str = "TEST PRIVATE KEY") -> tuple[str, str]:
    """A 3-line PEM-like value, and its middle line (unique: it marks a leak)."""
    body = "MIIB" + uuid.uuid4().hex + uuid.uuid4().hex.upper()
    return f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----", body


def drawer(page: Page) -> Locator:
    return page.locator("#secret-dialog")


def value_field(page: Page, label: str) -> Locator:
    """The value control the label points at (the input, or the textarea once multi-line)."""
    return drawer(page).get_by_label(label, exact=True)


def tag(locator: Locator) -> str:
    name: str = locator.evaluate("node => node.tagName.toLowerCase()")
    return name


def text_security(locator: Locator) -> str:
    value: str = locator.evaluate("node => getComputedStyle(node).webkitTextSecurity")
    return value


def is_secrets_call(method: str) -> Callable[[Request], bool]:
    return lambda request: request.method == method and "/api/orgs/acme/secrets" in request.url


def test_a_pem_key_is_added_and_replaced_exactly_as_typed(
    new_context: ContextFactory, live_server: LiveServer
) -> None:
    context = new_context("carol")
    bodies: list[tuple[str, bytes]] = []
    context.on("response", lambda response: record_body(response, bodies))
    page = context.new_page()
    open_grid(page)
    page.get_by_role("button", name="Add Secret").click()
    form = drawer(page)
    name = unique_name("PEM")
    form.get_by_label("Name").fill(name)

    production = value_field(page, "Production")
    assert tag(production) == "input"
    toggle = form.get_by_role("button", name="Multi-line Production value")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    production = value_field(page, "Production")  # the label now points at the textarea
    assert tag(production) == "textarea"
    expect(production).to_be_visible()
    expect(production).to_be_focused()
    expect(production).to_have_attribute("placeholder", "Optional")
    assert unlabelled(page) == []
    # Hidden while typing, as a password is; Show and Hide work on it too.
    assert text_security(production) == "disc"
    key, key_body = pem()
    production.fill(key)
    form.get_by_role("button", name="Show Production value").click()
    assert text_security(production) == "none"
    form.get_by_role("button", name="Hide Production value").click()
    assert text_security(production) == "disc"
    expect(production).to_have_value(key)

    with page.expect_response(lambda r: is_secrets_call("POST")(r.request)) as answer:
        form.get_by_role("button", name="Save").click()
    assert answer.value.status == 201
    assert answer.value.request.post_data_json == {
        "name": name,
        "description": "",
        "values": {"production": key},
    }
    expect(form).to_be_hidden()
    row = grid_row(page, name)
    expect(row.locator('[col-id="production"]')).to_have_text("Yes")
    expect(row.locator('[col-id="development"]')).to_have_text("No")
    created = answer.value.json()
    detail = live_server.get_secret("carol", created["id"]).json()
    assert detail["values"]["production"]["mask"] == mask_value(key)

    # Edit: each open starts single-line, with the mask as the placeholder.
    open_secret(page, name)
    production = value_field(page, "Production")
    assert tag(production) == "input"
    form.get_by_role("button", name="Multi-line Production value").click()
    production = value_field(page, "Production")
    assert tag(production) == "textarea"
    expect(production).to_have_value("")
    expect(production).to_have_attribute("placeholder", mask_value(key))
    expect(form.get_by_role("button", name="Save")).to_be_disabled()  # switching is no edit
    production_field = form.locator('.env-field[data-env="production"]')
    expect(production_field.get_by_text("Modified")).to_be_hidden()
    new_key, new_body = pem("TEST CERTIFICATE")
    production.fill(new_key)
    expect(production_field.get_by_text("Modified")).to_be_visible()
    expect(page.locator("#dirty-summary")).to_have_text("1 unsaved change")

    with page.expect_request(is_secrets_call("PATCH")) as patched:
        form.get_by_role("button", name="Save").click()
    assert patched.value.post_data_json == {"values": {"production": new_key}}
    expect(form).to_be_hidden()
    after = live_server.get_secret("carol", created["id"]).json()
    assert after["values"]["production"]["mask"] == mask_value(new_key)
    assert after["values"]["development"] == {"set": False, "mask": None}

    # Neither value came back in any answer (JSON would escape the line breaks, so look
    # for the unique middle lines).
    assert len(bodies) > 3
    leaks = [url for url, body in bodies for line in (key_body, new_body) if line.encode() in body]
    assert not leaks, leaks


def record_body(response: Response, bodies: list[tuple[str, bytes]]) -> None:
    if 300 <= response.status < 400:
        return
    try:
        bodies.append((response.url, response.body()))
    except Exception as exc:  # pragma: no cover - shown by the leak assertion's count
        bodies.append((response.url, f"body unavailable: {exc}".encode()))


def paste(page: Page, locator: Locator, text: str) -> None:
    """Copy `text` to the clipboard and paste it into `locator` with Ctrl+V."""
    page.evaluate("text => navigator.clipboard.writeText(text)", text)
    locator.focus()
    page.keyboard.press("Control+V")


def test_pasting_line_breaks_into_one_line_switches_to_multi_line(
    new_context: ContextFactory, live_server: LiveServer
) -> None:
    secret = live_server.create_secret("carol", values={"staging": "s-old-value"})
    clipboard = ["clipboard-read", "clipboard-write"]
    page = new_context("carol", permissions=clipboard).new_page()
    open_grid(page)
    open_secret(page, secret["name"])
    form = drawer(page)
    staging = value_field(page, "Staging")
    assert tag(staging) == "input"
    staging.fill("prefix:")
    key, _ = pem()
    paste(page, staging, key.replace("\n", "\r\n"))  # as copied on Windows

    staging = value_field(page, "Staging")
    assert tag(staging) == "textarea"
    expect(form.get_by_role("button", name="Multi-line Staging value")).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(staging).to_have_value("prefix:" + key)
    expect(form.locator("#value-staging-error")).to_be_hidden()
    expect(form.locator('.env-field[data-env="staging"]').get_by_text("Modified")).to_be_visible()

    # Back to one line is refused while the value has line breaks, and says why.
    form.get_by_role("button", name="Multi-line Staging value").click()
    expect(form.locator("#value-staging-error")).to_contain_text("line breaks")
    assert tag(value_field(page, "Staging")) == "textarea"
    expect(value_field(page, "Staging")).to_have_value("prefix:" + key)

    with page.expect_request(is_secrets_call("PATCH")) as patched:
        form.get_by_role("button", name="Save").click()
    assert patched.value.post_data_json == {"values": {"staging": "prefix:" + key}}
    assert "\r" not in (patched.value.post_data or "")
    expect(form).to_be_hidden()


def test_a_one_line_value_moves_between_the_two_kinds_of_field(
    new_context: ContextFactory,
) -> None:
    page = new_context("carol").new_page()
    open_grid(page)
    page.get_by_role("button", name="Add Secret").click()
    form = drawer(page)
    toggle = form.get_by_role("button", name="Multi-line Development value")
    value_field(page, "Development").fill("one-line-value")
    toggle.click()
    expect(value_field(page, "Development")).to_have_value("one-line-value")
    toggle.click()
    development = value_field(page, "Development")
    assert tag(development) == "input"
    expect(development).to_have_value("one-line-value")
    expect(development).to_have_attribute("type", "password")
    hidden_textarea = "() => document.getElementById('value-development-multiline').value"
    assert page.evaluate(hidden_textarea) == ""


def test_closing_wipes_a_multi_line_value_and_clear_still_works(
    new_context: ContextFactory, live_server: LiveServer
) -> None:
    key, _ = pem()
    secret = live_server.create_secret("carol", values={"production": key})
    page = new_context("carol").new_page()
    open_grid(page)
    open_secret(page, secret["name"])
    form = drawer(page)
    form.get_by_role("button", name="Multi-line Production value").click()
    value_field(page, "Production").fill("typed\nbut not\nsaved")
    page.keyboard.press("Escape")
    expect(form).to_be_hidden()
    typed = "() => [...document.querySelectorAll('input, textarea')].map(f => f.value).join()"
    assert "not saved" not in page.evaluate(typed)
    assert "typed" not in page.evaluate(typed)

    open_secret(page, secret["name"])
    assert tag(value_field(page, "Production")) == "input"  # back to one line
    form.get_by_role("button", name="Multi-line Production value").click()
    form.get_by_role("button", name="Clear Production value").click()
    production = value_field(page, "Production")
    expect(production).to_be_disabled()
    expect(production).to_have_attribute("placeholder", "Will be cleared when you save")
    with page.expect_request(is_secrets_call("PATCH")) as patched:
        form.get_by_role("button", name="Save").click()
    assert patched.value.post_data_json == {"values": {"production": None}}
    expect(grid_row(page, secret["name"]).locator('[col-id="production"]')).to_have_text("No")


def test_a_non_owner_cannot_switch_or_type_a_multi_line_value(
    new_context: ContextFactory, live_server: LiveServer
) -> None:
    secret = live_server.create_secret("carol", values={"production": "p-owner-value"})
    page = new_context("bob").new_page()
    open_grid(page)
    open_secret(page, secret["name"])
    form = drawer(page)
    expect(form.locator("#owner-banner")).to_be_visible()
    for label in ("Development", "Staging", "Production"):
        expect(form.get_by_role("button", name=f"Multi-line {label} value")).to_be_disabled()
    for textarea in form.locator("textarea").all():
        expect(textarea).to_be_disabled()
