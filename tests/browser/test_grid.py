"""The secrets grid (SPEC section 5): columns, Yes/No flags, owner, local dates, sorting,
the quick filter, and who sees which organization."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from browser.conftest import ContextFactory, LiveServer
from browser.helpers import PEOPLE, grid_row, open_grid, unique_name

pytestmark = pytest.mark.browser

COLUMNS = ["Name", "Description", "Dev", "Staging", "Prod", "Owner", "Created"]


def test_the_grid_has_the_columns_of_the_spec(new_context: ContextFactory) -> None:
    page = new_context("alice").new_page()
    open_grid(page)
    headers = page.locator("#secrets-grid .ag-header-cell-text")
    expect(headers).to_have_text(COLUMNS)


def test_a_row_shows_yes_no_flags_owner_and_local_creation_time(
    new_context: ContextFactory, live_server: LiveServer
) -> None:
    secret = live_server.create_secret(
        "dan",
        description="Flags for dev and prod",
        values={"development": "dev-value-1", "production": "prod-value-1"},
    )
    page = new_context("alice", timezone_id="Asia/Kolkata", locale="en-GB").new_page()
    open_grid(page)
    row = grid_row(page, secret["name"])
    expect(row.locator('[col-id="description"]')).to_have_text("Flags for dev and prod")
    expect(row.locator('[col-id="development"]')).to_have_text("Yes")
    expect(row.locator('[col-id="staging"]')).to_have_text("No")
    expect(row.locator('[col-id="production"]')).to_have_text("Yes")
    # dan has no display name: the owner shows as his email.
    expect(row.locator('[col-id="owner"]')).to_have_text(PEOPLE["dan"].email)
    expected = page.evaluate(
        "iso => new Date(iso).toLocaleString(undefined, {dateStyle: 'medium', timeStyle: 'short'})",
        secret["created_at"],
    )
    expect(row.locator('[col-id="created_at"]')).to_have_text(expected)
    # The browser's time zone (UTC+05:30 here), not UTC; en-GB writes a 24-hour clock.
    local = datetime.fromisoformat(secret["created_at"]).astimezone(ZoneInfo("Asia/Kolkata"))
    assert expected.endswith(local.strftime("%H:%M")), expected


def test_the_quick_filter_and_the_count(
    new_context: ContextFactory, live_server: LiveServer
) -> None:
    tag = unique_name("FILTER")
    names = [f"{tag}_{suffix}" for suffix in ("ALPHA", "BETA", "GAMMA")]
    for name in names:
        live_server.create_secret("carol", name=name, description=f"about {name.lower()}")
    page = new_context("carol").new_page()
    open_grid(page)
    page.get_by_label("Filter").fill(tag)
    names_shown = page.locator('#secrets-grid .ag-row[row-id] [col-id="name"]')
    expect(names_shown).to_have_count(3)
    expect(page.locator("#secret-count")).to_contain_text(re.compile(r"^3 of \d+ secrets$"))
    # Descriptions and owners are searched too.
    page.get_by_label("Filter").fill(f"about {names[1].lower()}")
    expect(names_shown).to_have_text([names[1]])
    page.get_by_label("Filter").fill(f"{tag} Carol Member")
    expect(names_shown).to_have_count(3)
    page.get_by_label("Filter").fill(f"{tag}_NOPE")
    expect(names_shown).to_have_count(0)
    expect(page.locator(".ag-overlay").get_by_text("No secrets match the filter")).to_be_visible()


def test_sorting_by_a_column_header(new_context: ContextFactory, live_server: LiveServer) -> None:
    tag = unique_name("SORT")
    names = [f"{tag}_{letter}" for letter in ("B", "C", "A")]
    for name in names:
        live_server.create_secret("carol", name=name)
    page = new_context("carol").new_page()
    open_grid(page)
    page.get_by_label("Filter").fill(tag)
    names_shown = page.locator('#secrets-grid .ag-row[row-id] [col-id="name"]')
    expect(names_shown).to_have_count(3)

    def shown() -> list[str]:
        # The row model's order (the DOM order of a virtualised grid is not the visual one).
        in_row_order: list[str] = page.evaluate(
            """() => [...document.querySelectorAll('#secrets-grid .ag-row[row-id]')]
                 .sort((a, b) => a.getAttribute('row-index') - b.getAttribute('row-index'))
                 .map(row => row.querySelector('[col-id="name"]').textContent)"""
        )
        return in_row_order

    assert shown() == sorted(names)
    header = page.locator('.ag-header-cell[col-id="name"]')
    header.click()
    expect(header).to_have_attribute("aria-sort", "descending")
    assert shown() == sorted(names, reverse=True)


def test_a_viewer_sees_the_grid_but_no_add_button(
    new_context: ContextFactory, live_server: LiveServer
) -> None:
    secret = live_server.create_secret("carol")
    page = new_context("vic").new_page()
    open_grid(page)
    expect(page.get_by_role("button", name="Add Secret")).to_have_count(0)
    expect(grid_row(page, secret["name"])).to_be_visible()


def test_a_non_member_gets_not_found_for_the_organization(new_context: ContextFactory) -> None:
    page = new_context("ivan").new_page()
    response = page.goto("/orgs/acme/secrets")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    response = page.goto("/orgs/no-such-org/secrets")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()


def test_ten_thousand_rows_stay_usable(new_context: ContextFactory) -> None:
    """A smoke check of the client-side row model: the timing is bench/bench_grid.py's."""
    page = new_context("alice").new_page()
    rows = [
        {
            "id": f"00000000-0000-4000-8000-{index:012d}",
            "name": f"BULK_{index:05d}",
            "description": f"bulk row {index}",
            "owner": {"id": 1, "email": "alice@example.com", "name": "Alice Admin"},
            "created_at": "2025-01-01T00:00:00+00:00",
            "updated_at": "2025-01-01T00:00:00+00:00",
            "environments": {"development": True, "staging": index % 2 == 0, "production": False},
        }
        for index in range(10_000)
    ]
    page.route(
        re.compile(r".*/api/orgs/acme/secrets$"),
        lambda route: route.fulfill(json={"secrets": rows}),
    )
    open_grid(page)
    expect(page.locator("#secret-count")).to_have_text("10000 secrets")
    rendered = page.locator("#secrets-grid .ag-row[row-id]").count()
    assert rendered < 200, f"{rendered} rows in the DOM: the grid should virtualise"
    page.get_by_label("Filter").fill("BULK_09999")
    names_shown = page.locator('#secrets-grid .ag-row[row-id] [col-id="name"]')
    expect(names_shown).to_have_text(["BULK_09999"])
