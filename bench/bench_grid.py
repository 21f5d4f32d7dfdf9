"""How long the 10,000-row grid takes to show its first rows in headless Chromium.

    .venv/bin/python bench/bench_grid.py [--rows 10000] [--runs 5]

Starts OpenBao, SQLite and the app (scripts/liveapp.py), then seeds the rows straight into
the metadata tables (`secret`, `secret_value`): the grid reads only metadata (names, which
environments are set), so the bench skips Vault for the seeding; nothing it measures
touches Vault. Each run opens the page in a
fresh browser context (cold cache) and reports, from the navigation's start:

- first rows: the first animation frame in which the grid shows a row;
- list API: the duration of `GET /api/orgs/{org}/secrets`, as the browser timed it;
- then, on the loaded grid, how long a quick-filter keystroke and a sort take.

Printed, never asserted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.sync_api import sync_playwright
from sqlalchemy import insert
from sqlmodel import select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

from liveapp import CHROMIUM, CHROMIUM_ARGS, PASSWORD, live_app

from vaultfront.models import Organization, Secret, SecretValue, User

EMAIL = "bench@example.com"


#: env -> (every how many rows it is set, its mask): every row has development, every
#: second row staging, every third production.
SEEDED_VALUES = {
    "development": (1, "dev_***abcd"),
    "staging": (2, "stg_***abcd"),
    "production": (3, "prd_***abcd"),
}


def seed_rows(app: object, count: int) -> None:
    database = app.database  # type: ignore[attr-defined]
    with database.session() as session:
        org = session.exec(select(Organization).where(Organization.slug == "bench")).one()
        user = session.exec(select(User).where(User.email == EMAIL)).one()
        start = datetime(2025, 1, 1, tzinfo=UTC)
        rows = [
            {
                "id": f"00000000-0000-4000-8000-{index:012d}",
                "org_id": org.id,
                "name": f"SERVICE_{index:05d}_API_KEY",
                "description": f"Bench secret number {index}, for service {index % 97}",
                "owner_id": user.id,
                "created_at": start + timedelta(minutes=index),
                "updated_at": start + timedelta(minutes=index),
                "version": 1,
            }
            for index in range(count)
        ]
        values = [
            {"secret_id": row["id"], "environment": env, "mask": mask}
            for index, row in enumerate(rows)
            for env, (every, mask) in SEEDED_VALUES.items()
            if index % every == 0
        ]
        session.execute(insert(Secret), rows)
        session.execute(insert(SecretValue), values)
        session.commit()


FIRST_ROWS = (
    """() => document.querySelector('#secrets-grid .ag-row[row-id]') && performance.now()"""
)
LIST_API = """() => {
    const entry = performance.getEntriesByType('resource')
        .find(e => /\\/api\\/orgs\\/bench\\/secrets$/.test(e.name));
    return entry ? [entry.startTime, entry.responseEnd, entry.transferSize] : null;
}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    with live_app([(EMAIL, "Bench User", "bench", "admin")], {"bench": "Bench"}) as app:
        seed_rows(app, args.rows)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            login = browser.new_context(base_url=app.url)
            page = login.new_page()
            page.goto("/login")
            page.get_by_label("Email").fill(EMAIL)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url("**/orgs/bench/secrets")
            state = login.storage_state()
            login.close()

            first_rows: list[float] = []
            api_ms: list[float] = []
            filter_ms: list[float] = []
            sort_ms: list[float] = []
            for _ in range(args.runs):
                context = browser.new_context(
                    base_url=app.url, storage_state=state, viewport={"width": 1440, "height": 900}
                )
                page = context.new_page()
                page.goto("/orgs/bench/secrets", wait_until="commit")
                first_rows.append(page.wait_for_function(FIRST_ROWS, polling="raf").json_value())
                timing = page.evaluate(LIST_API)
                if timing:
                    api_ms.append(timing[1] - timing[0])
                count = page.locator("#secret-count").text_content()
                assert count == f"{args.rows} secrets", count

                search = page.get_by_label("Filter")
                search.fill("SERVICE_0999")
                filter_ms.append(
                    page.evaluate(
                        """() => new Promise(resolve => {
                            const input = document.getElementById('quick-filter');
                            const t0 = performance.now();
                            input.value = 'SERVICE_0424';
                            input.dispatchEvent(new Event('input'));
                            requestAnimationFrame(() => resolve(performance.now() - t0));
                        })"""
                    )
                )
                search.fill("")
                sort_ms.append(
                    page.evaluate(
                        """() => new Promise(resolve => {
                            const header = document.querySelector(
                                '.ag-header-cell[col-id="created_at"] .ag-header-cell-label');
                            const t0 = performance.now();
                            header.click();
                            requestAnimationFrame(() => resolve(performance.now() - t0));
                        })"""
                    )
                )
                context.close()
            browser.close()

    def summary(values: list[float]) -> str:
        return (
            f"median {statistics.median(values):7.0f} ms   "
            f"min {min(values):7.0f} ms   max {max(values):7.0f} ms"
        )

    print(f"grid with {args.rows:,} rows, {args.runs} runs, headless Chromium, cold cache each")
    print(f"  first rows shown (from navigation start)  {summary(first_rows)}")
    if api_ms:
        print(f"  GET /api/orgs/bench/secrets             {summary(api_ms)}")
    print(f"  quick filter, one keystroke to painted    {summary(filter_ms)}")
    print(f"  sort by Created, click to painted         {summary(sort_ms)}")


if __name__ == "__main__":
    main()
