"""Take the README's screenshots from the real page.

    .venv/bin/python scripts/screenshots.py

Starts OpenBao (dev mode), a SQLite database and the app (scripts/liveapp.py), seeds a
plausible organization through the JSON API, then drives Debian's Chromium to write
docs/screenshots/grid.png, edit.png and readonly.png. The values are made up.
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))

from liveapp import CHROMIUM, CHROMIUM_ARGS, PASSWORD, live_app

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
ADMIN = "maya.chen@example.com"
MEMBER = "jonas.weber@example.com"
DEVOPS = "priya.natarajan@example.com"
PEOPLE = [
    (ADMIN, "Maya Chen", "northwind", "admin"),
    (ADMIN, "Maya Chen", "northwind-labs", "member"),
    (MEMBER, "Jonas Weber", "northwind", "member"),
    (DEVOPS, "Priya Natarajan", "northwind", "member"),
]
ORGS = {"northwind": "Northwind", "northwind-labs": "Northwind Labs"}

FAKE = "x" * 24
SECRETS = [
    # (owner, name, description, environments with a value)
    (ADMIN, "STRIPE_API_KEY", "Payments: Stripe secret key for charges and refunds", "dsp"),
    (ADMIN, "STRIPE_WEBHOOK_SECRET", "Verifies Stripe webhook signatures", "sp"),
    (DEVOPS, "DATABASE_URL", "Primary PostgreSQL, read-write role", "dsp"),
    (DEVOPS, "REDIS_URL", "Sessions and rate-limit counters", "dsp"),
    (MEMBER, "SENDGRID_API_KEY", "Transactional email (receipts, password resets)", "sp"),
    (MEMBER, "SLACK_WEBHOOK_URL", "#deploys channel notifications", "p"),
    (DEVOPS, "AWS_ACCESS_KEY_ID", "S3 uploads bucket, least-privilege IAM user", "dsp"),
    (DEVOPS, "AWS_SECRET_ACCESS_KEY", "Pairs with AWS_ACCESS_KEY_ID", "dsp"),
    (ADMIN, "JWT_SIGNING_KEY", "Signs API access tokens (HS256)", "dsp"),
    (MEMBER, "SENTRY_DSN", "Error reporting", "sp"),
    (ADMIN, "OPENAI_API_KEY", "Support-ticket summaries", "d"),
    (DEVOPS, "GITHUB_APP_PRIVATE_KEY_ID", "Deploy bot installation", "p"),
    (MEMBER, "TWILIO_AUTH_TOKEN", "SMS two-factor codes", "sp"),
    (ADMIN, "ENCRYPTION_KEY_V2", "Envelope key for customer PII columns", "sp"),
]
SAMPLE_VALUES = {
    "STRIPE_API_KEY": "sk_live_51Hk" + "Q" * 90 + "RgA1",
    "DATABASE_URL": "postgresql://app:" + FAKE + "@db.internal:5432/northwind",
}
ENV_CODES = {"d": "development", "s": "staging", "p": "production"}


def seed(app: object) -> None:
    for owner, name, description, envs in SECRETS:
        values = {}
        for code in envs:
            env = ENV_CODES[code]
            values[env] = SAMPLE_VALUES.get(name, f"{env[:3]}_{name.lower()}_{FAKE}")
        with app.api(owner) as client:  # type: ignore[attr-defined]
            response = client.post(
                "/api/orgs/northwind/secrets",
                json={"name": name, "description": description, "values": values},
            )
            response.raise_for_status()


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with live_app(PEOPLE, ORGS) as app, sync_playwright() as playwright:
        seed(app)
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

        def signed_in(email: str) -> object:
            context = browser.new_context(
                base_url=app.url, viewport={"width": 1440, "height": 860}, device_scale_factor=1
            )
            page = context.new_page()
            page.goto("/login")
            page.get_by_label("Email").fill(email)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url("**/orgs/northwind/secrets")
            page.locator(".ag-row").first.wait_for()
            page.wait_for_timeout(300)
            return page

        page = signed_in(ADMIN)
        page.screenshot(path=str(OUT / "grid.png"))
        print(f"wrote {OUT / 'grid.png'}", file=sys.stderr)

        page.get_by_label("Filter").fill("")
        page.locator('.ag-row [col-id="name"]', has_text="STRIPE_API_KEY").first.click()
        page.locator("#secret-dialog[open]").wait_for()
        page.get_by_label("Staging", exact=True).fill("sk_test_51Hk" + "z" * 40)
        page.get_by_label("Description").fill(
            "Payments: Stripe secret key for charges, refunds and payouts"
        )
        page.wait_for_timeout(300)
        page.screenshot(path=str(OUT / "edit.png"))
        print(f"wrote {OUT / 'edit.png'}", file=sys.stderr)

        other = signed_in(MEMBER)
        other.locator('.ag-row [col-id="name"]', has_text="DATABASE_URL").first.click()
        other.locator("#owner-banner").wait_for()
        other.wait_for_timeout(300)
        other.screenshot(path=str(OUT / "readonly.png"))
        print(f"wrote {OUT / 'readonly.png'}", file=sys.stderr)
        browser.close()


if __name__ == "__main__":
    main()
