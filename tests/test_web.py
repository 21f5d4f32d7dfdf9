"""The web layer's pieces that need no browser: the session cookie's flags over HTTP and
HTTPS, the security headers, error pages, where a login may send the user next, login
throttling through the app, and the tokens page's JSON endpoints (errors, audit)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from vaultfront.config import Settings
from vaultfront.web import pages as web


def _app() -> Starlette:
    async def sign_in(request: Request) -> Response:
        request.session["user_id"] = 1
        return PlainTextResponse("ok")

    async def broken(request: Request) -> Response:
        return web.render_error(request, 418, "A <teapot> & nothing else")

    settings = Settings(database_url="sqlite://", vault_addr="http://127.0.0.1:1", secret_key="k")
    return Starlette(
        routes=[Route("/sign-in", sign_in), Route("/broken", broken)],
        middleware=web.middleware(settings),
    )


def _session_cookie(response: httpx.Response) -> str:
    (header,) = [v for v in response.headers.get_list("set-cookie") if "vaultfront_session" in v]
    return header


@pytest.mark.parametrize(("base_url", "secure"), [("http://x", False), ("https://x", True)])
def test_the_session_cookie_is_httponly_lax_and_secure_over_https(
    base_url: str, secure: bool
) -> None:
    with TestClient(_app(), base_url=base_url) as client:
        header = _session_cookie(client.get("/sign-in"))
    morsel = SimpleCookie(header)["vaultfront_session"]
    assert morsel["httponly"] is True
    assert morsel["samesite"].lower() == "lax"
    assert bool(morsel["secure"]) is secure
    assert int(morsel["max-age"]) <= 12 * 60 * 60


def test_every_response_gets_the_security_headers_and_its_own_nonce() -> None:
    with TestClient(_app(), base_url="https://x") as client:
        first, second = client.get("/sign-in"), client.get("/nope")
    for response in (first, second):
        csp = response.headers["content-security-policy"]
        assert "script-src 'self';" in csp
        assert "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["strict-transport-security"].startswith("max-age=")
    nonce = first.headers["content-security-policy"].split("'nonce-")[1].split("'")[0]
    assert nonce not in second.headers["content-security-policy"]


def test_an_error_page_falls_back_to_error_html_and_escapes_its_message() -> None:
    with TestClient(_app()) as client:
        response = client.get("/broken")
    assert response.status_code == 418
    assert "A &lt;teapot&gt; &amp; nothing else" in response.text
    assert "<teapot>" not in response.text
    nonce = response.headers["content-security-policy"].split("'nonce-")[1].split("'")[0]
    assert f'<meta name="csp-nonce" content="{nonce}">' in response.text


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/orgs/acme/secrets", "/orgs/acme/secrets"),
        ("/tokens?x=1", "/tokens?x=1"),
        (None, "/"),
        ("", "/"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("/ok\r\nSet-Cookie: x=1", "/"),
        ("javascript:alert(1)", "/"),
    ],
)
def test_login_only_returns_to_local_paths(target: str | None, expected: str) -> None:
    assert web.safe_next(target) == expected


@pytest.mark.parametrize("path", ["/boom", "/api/boom"])
def test_an_unexpected_error_is_a_500_with_the_security_headers(path: str) -> None:
    from vaultfront.web.app import create_app

    settings = Settings(
        database_url="sqlite://", vault_addr="http://127.0.0.1:9", secret_key="k" * 32
    )
    app = create_app(settings, background_recovery=False)

    def boom(request: Request) -> Response:
        raise RuntimeError("internal detail that must not reach the client")

    if path.startswith("/api/"):
        api_mount = next(r for r in app.router.routes if isinstance(r, Mount) and r.path == "/api")
        api_mount.routes.append(Route(path.removeprefix("/api"), boom))
    else:
        app.router.routes.append(Route(path, boom))
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get(path)
    assert response.status_code == 500, response.text
    assert "script-src 'self'" in response.headers.get("content-security-policy", ""), (
        response.headers
    )
    assert response.headers.get("x-frame-options") == "DENY", response.headers
    assert "internal detail" not in response.text
    if path.startswith("/api/"):
        assert response.json()["error"]["code"] == "internal", response.text


def test_the_sixth_failed_sign_in_for_an_email_is_refused_without_checking_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vaultfront.db import Database
    from vaultfront.service import accounts, passwords
    from vaultfront.web.app import create_app

    database_url = f"sqlite:///{tmp_path / 'vaultfront.db'}"
    database = Database(database_url)
    database.upgrade()
    accounts.create_org(database, "acme", "Acme")
    accounts.create_user(database, "ann@example.com", "acme", "member", password="the-right-one")
    database.dispose()
    settings = Settings(
        database_url=database_url, vault_addr="http://127.0.0.1:9", secret_key="k" * 32
    )
    checked: list[str] = []
    real_verify = passwords.verify_password_login

    def counting_verify(session: Any, email: str, password: str) -> Any:
        checked.append(email)
        return real_verify(session, email, password)

    monkeypatch.setattr(passwords, "verify_password_login", counting_verify)

    with TestClient(create_app(settings, background_recovery=False)) as client:
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
        assert csrf is not None

        def sign_in(email: str, password: str) -> Any:
            form = {"csrf": csrf.group(1), "email": email, "password": password, "next": "/"}
            return client.post("/login", data=form, follow_redirects=False)

        for attempt in range(5):
            response = sign_in("Ann@Example.com" if attempt % 2 else "ann@example.com", "wrong")
            assert response.status_code == 400, (attempt, response.text)
        assert len(checked) == 5

        sixth = sign_in("ann@example.com", "wrong")
        assert sixth.status_code == 429, sixth.text
        assert "Too many failed sign-ins for this account; try again in 15 minutes." in sixth.text
        assert int(sixth.headers["retry-after"]) > 14 * 60
        right = sign_in("ANN@example.com", "the-right-one")
        assert right.status_code == 429, right.text
        assert "Too many failed sign-ins for this account" in right.text
        assert client.get("/", follow_redirects=False).headers["location"] == "/login"
        assert len(checked) == 5, "a throttled attempt ran the password check"

        # Another account from the same client is not affected (1 of 20 for the address).
        other = sign_in("bob@example.com", "wrong")
        assert other.status_code == 400, other.text
        assert len(checked) == 6


# --- the tokens page's JSON endpoints -------------------------------------------------------


@dataclass
class TokensPage:
    """A signed-in client of the tokens page, with the page's CSRF token."""

    client: TestClient
    csrf: str
    database_url: str

    def post(self, content: str | bytes, **headers: str) -> httpx.Response:
        sent = {"Content-Type": "application/json", "X-CSRF-Token": self.csrf, **headers}
        response: httpx.Response = self.client.post(
            "/account/tokens", content=content, headers=sent
        )
        return response

    def audit(self) -> list[tuple[str, str, str]]:
        """(organization slug, action, detail) of every audit event, oldest first."""
        import sqlalchemy as sa

        engine = sa.create_engine(self.database_url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(
                    sa.text(
                        "SELECT organization.slug, action, detail FROM audit_event "
                        "JOIN organization ON organization.id = audit_event.org_id "
                        "ORDER BY audit_event.id"
                    )
                )
                return [(slug, action, detail) for slug, action, detail in rows]
        finally:
            engine.dispose()


@pytest.fixture
def tokens_page(tmp_path: Path) -> Iterator[TokensPage]:
    """Ann, a member of two organizations, signed in to the page (no Vault needed here)."""
    from vaultfront.db import Database
    from vaultfront.service import accounts
    from vaultfront.web.app import create_app

    database_url = f"sqlite:///{tmp_path / 'vaultfront.db'}"
    database = Database(database_url)
    database.upgrade()
    for slug in ("acme", "beta"):
        accounts.create_org(database, slug)
        accounts.create_user(database, "ann@example.com", slug, "member", password="pw-ann-1234")
    database.dispose()
    settings = Settings(
        database_url=database_url, vault_addr="http://127.0.0.1:9", secret_key="k" * 32
    )
    app = create_app(settings, background_recovery=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
        assert csrf is not None
        form = {"csrf": csrf.group(1), "email": "ann@example.com", "password": "pw-ann-1234"}
        signed_in = client.post("/login", data={**form, "next": "/"}, follow_redirects=False)
        assert signed_in.status_code == 303, signed_in.text
        page = client.get("/tokens")
        meta = re.search(r'<meta name="csrf-token" content="([^"]+)">', page.text)
        assert meta is not None, page.text
        yield TokensPage(client, meta.group(1), database_url)


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The error body of the API's shape, with this status and code."""
    assert response.status_code == status, (status, response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json"), response.headers
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code and error["message"], response.text
    return error


def test_create_list_and_revoke_a_token_are_audited_in_each_organization(
    tokens_page: TokensPage,
) -> None:
    created = tokens_page.post(json.dumps({"name": "  ci-deploy  "}))
    assert created.status_code == 201, created.text
    token = created.json()["token"]
    assert token["name"] == "ci-deploy" and created.json()["plaintext"].startswith("vf_")
    assert token["created_at"] and token["last_used_at"] is None and token["revoked_at"] is None

    listed = tokens_page.client.get("/account/tokens")
    assert listed.status_code == 200, listed.text
    assert [row["id"] for row in listed.json()["tokens"]] == [token["id"]]
    assert "plaintext" not in listed.text and created.json()["plaintext"] not in listed.text

    headers = {"X-CSRF-Token": tokens_page.csrf}
    revoked = tokens_page.client.delete(f"/account/tokens/{token['id']}", headers=headers)
    assert revoked.status_code == 204, revoked.text
    again = tokens_page.client.delete(f"/account/tokens/{token['id']}", headers=headers)
    error_of(again, 404, "not_found")
    assert tokens_page.client.get("/account/tokens").json()["tokens"][0]["revoked_at"]

    detail = f"token {token['id']} (ci-deploy); via session"
    assert tokens_page.audit() == [
        ("acme", "token.create", detail),
        ("beta", "token.create", detail),
        ("acme", "token.revoke", detail),
        ("beta", "token.revoke", detail),
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("[" * 100_000 + "]" * 100_000, "body"),  # too deep for json
        ('{"name": "\\ud800"}', "name"),  # a lone surrogate
        ('{"name": "ci\\u0000"}', "name"),
        ("{", "body"),
        ("", "body"),
        ("[]", "body"),
        (b"\xff\xfe", "body"),
        ('{"name": "   "}', "name"),
        ('{"name": 12}', "name"),
        (json.dumps({"name": "x" * 101}), "name"),
    ],
)
def test_a_malformed_token_request_is_a_422_and_nothing_is_written(
    tokens_page: TokensPage, body: str | bytes, field: str
) -> None:
    error = error_of(tokens_page.post(body), 422, "invalid")
    assert error["field"] == field, error
    assert tokens_page.client.get("/account/tokens").json()["tokens"] == []
    assert tokens_page.audit() == []


def test_the_token_endpoints_refuse_in_the_api_error_shape(tokens_page: TokensPage) -> None:
    client = tokens_page.client
    # The CSRF header is needed on unsafe methods, and an API token cannot manage tokens.
    error_of(tokens_page.post('{"name": "x"}', **{"X-CSRF-Token": "stale"}), 403, "forbidden")
    no_csrf = client.post("/account/tokens", json={"name": "x"})
    error_of(no_csrf, 403, "forbidden")
    not_ascii = {"X-CSRF-Token": b"\xff", "Content-Type": "application/json"}
    error_of(client.post("/account/tokens", content=b"{}", headers=not_ascii), 403, "forbidden")
    bearer = {"Authorization": "Bearer vf_whatever", "X-CSRF-Token": tokens_page.csrf}
    error_of(client.get("/account/tokens", headers=bearer), 401, "unauthenticated")
    error_of(tokens_page.post('{"name": "x"}', Authorization="Bearer x"), 401, "unauthenticated")
    # No such token: never a 500, whatever the id (2^100 is no SQLite or PostgreSQL integer).
    headers = {"X-CSRF-Token": tokens_page.csrf}
    for token_id in ("0", "999", str(2**100)):
        error_of(client.delete(f"/account/tokens/{token_id}", headers=headers), 404, "not_found")
    # 405 names every method of the path; 431 over 16 KiB of headers, as JSON here.
    wrong = client.put("/account/tokens", headers=headers)
    error_of(wrong, 405, "method_not_allowed")
    assert wrong.headers["allow"] == "GET, HEAD, POST", wrong.headers
    huge = {f"X-Filler-{n}": "f" * 1000 for n in range(20)}
    error_of(client.get("/account/tokens", headers=huge), 431, "headers_too_large")
    assert tokens_page.audit() == []

    # Signed out: 401, not a login page.
    client.cookies.clear()
    error_of(client.get("/account/tokens"), 401, "unauthenticated")


def test_the_pages_have_titles_for_405_and_431(tokens_page: TokensPage) -> None:
    wrong = tokens_page.client.put("/tokens")
    assert wrong.status_code == 405 and wrong.headers["allow"] == "GET, HEAD", wrong.headers
    assert "Method not allowed" in wrong.text and "text/html" in wrong.headers["content-type"]
    huge = {f"X-Filler-{n}": "f" * 1000 for n in range(20)}
    too_large = tokens_page.client.get("/tokens", headers=huge)
    assert too_large.status_code == 431, too_large.text
    assert "Request headers too large" in too_large.text


def test_the_grid_page_lists_the_three_environments(tokens_page: TokensPage) -> None:
    page = tokens_page.client.get("/orgs/acme/secrets")
    assert page.status_code == 200, page.text
    labels = re.findall(r'<label for="value-(\w+)"><span[^>]*></span>(\w+)</label>', page.text)
    assert labels == [
        ("development", "Development"),
        ("staging", "Staging"),
        ("production", "Production"),
    ], labels
