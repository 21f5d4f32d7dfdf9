"""The page's side of the security model: no value ever reaches the browser, stored HTML
stays text, nothing is loaded from elsewhere, the headers forbid inline script and framing,
and another site cannot make a signed-in browser change anything."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator
from functools import partial
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, Response, expect

from browser.conftest import WATCHES, ContextFactory, LiveServer
from browser.helpers import (
    MALLORY_NAME,
    PASSWORD,
    PEOPLE,
    grid_row,
    log_in,
    open_grid,
    open_secret,
    unique_name,
)

pytestmark = pytest.mark.browser

XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'


def drawer(page: Page) -> Any:
    return page.locator("#secret-dialog")


class AttackerSite:
    """Another web server on loopback, serving the pages of `pages` (path -> HTML).

    A real server, not a routed fake: Chromium's Local Network Access checks treat a page
    fulfilled by Playwright as public and would stop its requests to 127.0.0.1 before the
    app's own defences are reached.
    """

    def __init__(self) -> None:
        pages: dict[str, str] = {}
        self.pages = pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = pages.get(self.path, "not found").encode()
                self.send_response(200 if self.path in pages else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def attacker() -> Iterator[AttackerSite]:
    site = AttackerSite()
    yield site
    site.close()


def allow(page: Page, origin: str) -> None:
    """Let this page reach `origin` (the context's watch aborts anything foreign)."""
    page.route(f"{origin}/**", lambda route: route.continue_())


def test_no_plaintext_value_ever_reaches_the_browser(
    new_context: ContextFactory, live_server: LiveServer
) -> None:
    canaries = {
        env: f"CANARY-{env}-{uuid.uuid4().hex}{uuid.uuid4().hex}"
        for env in ("development", "staging", "production", "replacement")
    }
    context = new_context()
    bodies: list[tuple[str, bytes]] = []
    sent: list[str] = []

    def record(response: Response) -> None:
        if 300 <= response.status < 400:
            return  # a redirect has no body
        try:
            bodies.append((response.url, response.body()))
        except Exception as exc:  # pragma: no cover - reported by the assertion below
            bodies.append((response.url, f"body unavailable: {exc}".encode()))

    context.on("response", record)
    context.on("request", lambda request: sent.append(request.post_data or ""))
    page = context.new_page()
    log_in(page, PEOPLE["carol"].email)

    # Create with three canary values through the form.
    name = unique_name("CANARY")
    page.get_by_role("button", name="Add Secret").click()
    drawer(page).get_by_label("Name").fill(name)
    for env, label in (("development", "Development"), ("staging", "Staging")):
        drawer(page).get_by_label(label, exact=True).fill(canaries[env])
    drawer(page).get_by_role("button", name="Show Production value").click()
    drawer(page).get_by_label("Production", exact=True).fill(canaries["production"])
    drawer(page).get_by_role("button", name="Save").click()
    expect(drawer(page)).to_be_hidden()

    # Open it, replace one value, clear another, reopen after a reload.
    open_secret(page, name)
    drawer(page).get_by_label("Staging", exact=True).fill(canaries["replacement"])
    drawer(page).get_by_role("button", name="Clear Development value").click()
    drawer(page).get_by_role("button", name="Save").click()
    expect(drawer(page)).to_be_hidden()
    page.reload()
    open_grid(page)
    open_secret(page, name)
    expect(drawer(page).get_by_label("Production", exact=True)).to_have_attribute(
        "placeholder", re.compile(r"^CANARY-p\*\*\*")
    )
    page.goto("/tokens")
    expect(page.locator("#tokens-body tr").first).to_be_visible()

    # The test means something only if the values did go up, and answers came back.
    for value in canaries.values():
        assert any(value in body for body in sent), "the page never sent a canary"
    assert len(bodies) > 10
    leaks = [
        f"{url} carries the {env} value"
        for url, body in bodies
        for env, value in canaries.items()
        if value.encode() in body
    ]
    assert not leaks, "\n".join(leaks)
    dom = page.evaluate("() => document.documentElement.outerHTML")
    assert not any(value in dom for value in canaries.values())


def test_stored_html_in_a_description_and_a_name_stays_text(
    new_context: ContextFactory, live_server: LiveServer
) -> None:
    secret = live_server.create_secret("mallory", description=XSS, values={"staging": "x-value-1"})
    page = new_context("bob").new_page()
    open_grid(page)
    row = grid_row(page, secret["name"])
    expect(row.locator('[col-id="description"]')).to_have_text(XSS)
    expect(row.locator('[col-id="owner"]')).to_have_text(MALLORY_NAME)

    open_secret(page, secret["name"])
    expect(drawer(page).get_by_label("Description")).to_have_value(XSS)
    expect(drawer(page).locator("#owner-banner-text")).to_have_text(
        f"Only {MALLORY_NAME} can modify this secret"
    )
    expect(drawer(page).locator("#meta-owner")).to_have_text(MALLORY_NAME)
    drawer(page).get_by_role("button", name="Close", exact=True).click()

    # A name-like input carrying markup: refused in words, and the words are text.
    page.get_by_role("button", name="Add Secret").click()
    drawer(page).get_by_label("Name").fill('<script>window.__xss=3</script>"><img src=x>')
    drawer(page).get_by_role("button", name="Save").click()
    expect(drawer(page).locator("#secret-name-error")).to_contain_text("uppercase letter")

    page.wait_for_timeout(200)
    assert page.evaluate("() => window.__xss") is None
    assert page.locator('img[src="x"]').count() == 0
    assert page.locator("script:not([src])").count() == 0


def test_a_display_name_with_html_stays_text_in_the_header(new_context: ContextFactory) -> None:
    page = new_context("mallory").new_page()
    open_grid(page)
    expect(page.locator(".account-name")).to_have_text(MALLORY_NAME)
    assert page.evaluate("() => window.__xss") is None
    assert page.locator('img[src="x"]').count() == 0


def test_the_page_makes_no_request_outside_its_origin(
    new_context: ContextFactory, live_server: LiveServer
) -> None:
    context = new_context()
    watch = WATCHES[context]
    seen: list[str] = []
    context.on("request", lambda request: seen.append(request.url))
    page = context.new_page()
    log_in(page, PEOPLE["alice"].email)
    secret = live_server.create_secret("alice", values={"production": "origin-check-1"})
    open_grid(page)
    open_secret(page, secret["name"])
    drawer(page).get_by_role("button", name="Close", exact=True).click()
    page.goto("/tokens")
    expect(page.locator("#tokens-body tr").first).to_be_visible()
    page.goto("/orgs/nope/secrets")
    page.goto("/logout")
    assert watch.foreign_requests == []
    assert all(url.startswith(live_server.url + "/") for url in seen), seen
    # Fonts, grid and scripts were all served by the app itself.
    assert any("/static/vendor/ag-grid/" in url for url in seen)
    assert any(url.endswith(".woff2") for url in seen)


class ScriptAudit(HTMLParser):
    """Collects inline scripts and inline event handlers in a page's HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.inline_scripts = 0
        self.handlers: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}
        if tag == "script" and "src" not in names:
            kind = dict(attrs).get("type") or ""
            if kind != "application/json":
                self.inline_scripts += 1
        self.handlers += [f"{tag} {name}" for name in names if name.startswith("on")]


def test_security_headers_on_pages_api_and_assets(live_server: LiveServer) -> None:
    with live_server.api("alice") as api:
        cookies = httpx.Client(base_url=live_server.url, timeout=30)
        answers = {
            "/login": cookies.get("/login"),
            "/ (redirect)": cookies.get("/"),
            "/api/me": api.get("/api/me"),
            "/api/me (401)": cookies.get("/api/me"),
            "/static/app.css": cookies.get("/static/app.css"),
            "/static/js/secrets/main.js": cookies.get("/static/js/secrets/main.js"),
            "/no-such-page": cookies.get("/no-such-page"),
        }
        cookies.close()
    for what, response in answers.items():
        headers = response.headers
        csp = headers.get("content-security-policy", "")
        directives = {
            part.strip().split(" ", 1)[0]: part.strip() for part in csp.split(";") if part.strip()
        }
        assert directives.get("script-src") == "script-src 'self'", (what, csp)
        assert directives.get("frame-ancestors") == "frame-ancestors 'none'", (what, csp)
        assert directives.get("default-src") == "default-src 'none'", (what, csp)
        assert "unsafe-eval" not in csp and "unsafe-inline" not in csp, (what, csp)
        assert re.fullmatch(r"style-src 'self' 'nonce-[\w-]{20,}'", directives["style-src"])
        assert headers.get("x-frame-options") == "DENY", what
        assert headers.get("x-content-type-options") == "nosniff", what
        assert headers.get("referrer-policy") == "no-referrer", what
    nonces = {
        re.search(r"'nonce-([^']+)'", r.headers["content-security-policy"]).group(1)  # type: ignore[union-attr]
        for r in answers.values()
    }
    assert len(nonces) == len(answers), "a CSP nonce must be new for every response"
    assert answers["/no-such-page"].status_code == 404
    assert "text/html" in answers["/no-such-page"].headers["content-type"]
    assert answers["/login"].headers["cache-control"] == "no-store"


def test_pages_carry_no_inline_script_or_handlers(
    new_context: ContextFactory, live_server: LiveServer
) -> None:
    page = new_context("alice").new_page()
    for path in ("/orgs/acme/secrets", "/tokens", "/logout", "/orgs/nope/secrets"):
        page.goto(path)
        audit = ScriptAudit()
        audit.feed(page.content())
        assert audit.inline_scripts == 0, path
        assert audit.handlers == [], (path, audit.handlers)
    login = new_context().new_page()
    login.goto("/login")
    audit = ScriptAudit()
    audit.feed(login.content())
    assert (audit.inline_scripts, audit.handlers) == (0, [])


def test_another_site_cannot_frame_the_page(
    new_context: ContextFactory, live_server: LiveServer, attacker: AttackerSite
) -> None:
    context = new_context("alice")
    WATCHES[context].expect("frame-ancestors 'none'")
    page = context.new_page()
    framer = f"http://localhost:{attacker.port}"
    attacker.pages["/frame"] = (
        f'<iframe id="app" src="{live_server.url}/orgs/acme/secrets"></iframe>'
    )
    allow(page, framer)
    with page.expect_response(re.compile(r".*/orgs/acme/secrets$")):
        page.goto(f"{framer}/frame")
    page.wait_for_timeout(300)
    framed = [frame for frame in page.frames if frame != page.main_frame]
    assert framed
    for frame in framed:
        assert frame.locator("#secrets-grid").count() == 0


ATTACK_FORMS = {  # form id -> the path it posts to
    "create": "/api/orgs/acme/secrets",
    "form-create": "/api/orgs/acme/secrets",
    "token": "/account/tokens",
    "logout": "/logout",
    "login": "/login",
}


def _attack_page(app: str, marker: str) -> str:
    """Forms that try to create a secret and a token, log the victim out, and log them in
    as someone else (login CSRF); each answers into its own iframe."""
    payload = '{"name": "' + marker + '", "values": {}, "x": "'
    sinks = "".join(f'<iframe name="sink-{form}"></iframe>' for form in ATTACK_FORMS)
    return f"""<!doctype html><html><body>{sinks}
<form id="create" method="post" action="{app}{ATTACK_FORMS["create"]}"
      enctype="text/plain" target="sink-create">
  <input name='{payload}' value='"}}'>
</form>
<form id="form-create" method="post" action="{app}{ATTACK_FORMS["form-create"]}"
      target="sink-form-create">
  <input name="name" value="{marker}_FORM">
</form>
<form id="token" method="post" action="{app}{ATTACK_FORMS["token"]}" enctype="text/plain"
      target="sink-token"><input name='{{"name": "stolen", "x": "' value='"}}'></form>
<form id="logout" method="post" action="{app}{ATTACK_FORMS["logout"]}" target="sink-logout">
</form>
<form id="login" method="post" action="{app}{ATTACK_FORMS["login"]}" target="sink-login">
  <input name="email" value="{PEOPLE["ivan"].email}">
  <input name="password" value="{PASSWORD}">
</form>
</body></html>"""


def is_post_to(url: str, response: Response) -> bool:
    return response.request.method == "POST" and response.url == url


@pytest.mark.parametrize("kind", ["cross-site", "same-site-other-port"])
def test_a_cross_site_form_or_fetch_cannot_change_anything(
    kind: str, new_context: ContextFactory, live_server: LiveServer, attacker: AttackerSite
) -> None:
    """Cross-site: SameSite=Lax keeps the cookie home. Same site on another port (the cookie
    goes along): the missing CSRF token stops it."""
    # localhost and 127.0.0.1 are different sites; the app is on 127.0.0.1.
    host = "localhost" if kind == "cross-site" else "127.0.0.1"
    evil = f"http://{host}:{attacker.port}"
    marker = unique_name("CSRF")
    attacker.pages[f"/{marker}"] = _attack_page(live_server.url, marker)
    context = new_context("alice")
    WATCHES[context].expect("frame-ancestors 'none'")  # the forms answer into an iframe
    page = context.new_page()
    allow(page, evil)
    with live_server.api("alice") as api:
        tokens_before = len(api_tokens(live_server))
        secrets_before = len(api.get("/api/orgs/acme/secrets").json()["secrets"])

    statuses: dict[str, int] = {}
    page.on(
        "response",
        lambda r: (
            statuses.__setitem__(f"{r.request.method} {r.url}", r.status)
            if r.url.startswith(live_server.url)
            else None
        ),
    )
    page.goto(f"{evil}/{marker}")
    for form, path in ATTACK_FORMS.items():
        url = live_server.url + path
        with page.expect_response(partial(is_post_to, url)):
            page.evaluate("id => document.getElementById(id).submit()", form)
    fetches = page.evaluate(
        """async ([app, marker]) => {
            const results = [];
            const attempts = [
                [app + "/api/orgs/acme/secrets", {method: "POST", mode: "no-cors",
                  credentials: "include", headers: {"Content-Type": "text/plain"},
                  body: JSON.stringify({name: marker + "_FETCH", values: {}})}],
                [app + "/api/orgs/acme/secrets", {method: "POST", credentials: "include",
                  headers: {"Content-Type": "application/json", "X-CSRF-Token": "guess"},
                  body: JSON.stringify({name: marker + "_CORS", values: {}})}],
            ];
            for (const [url, init] of attempts) {
                try { const r = await fetch(url, init); results.push(r.type + " " + r.status); }
                catch (e) { results.push("blocked"); }
            }
            return results;
        }""",
        [live_server.url, marker],
    )
    assert fetches[1] == "blocked"  # no CORS: the preflight fails, the POST never goes

    # Nothing changed: no secret, no token, alice still signed in as alice.
    with live_server.api("alice") as api:
        names = [s["name"] for s in api.get("/api/orgs/acme/secrets").json()["secrets"]]
    assert not [name for name in names if name.startswith(marker)], statuses
    assert len(names) >= secrets_before
    assert len(api_tokens(live_server)) == tokens_before
    own = context.new_page()
    open_grid(own)
    expect(own.locator(".account-name")).to_have_text("Alice Admin")
    unsafe = {what: status for what, status in statuses.items() if what.startswith("POST")}
    assert all(status in (303, 400, 401, 403, 415, 422) for status in unsafe.values()), unsafe


def api_tokens(live_server: LiveServer) -> list[Any]:
    from sqlmodel import select

    from vaultfront.db import Database
    from vaultfront.models import ApiToken

    database = Database(live_server.settings.database_url)
    try:
        with database.session() as session:
            return list(session.exec(select(ApiToken)))
    finally:
        database.dispose()
