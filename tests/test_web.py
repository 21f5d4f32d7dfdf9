"""The web layer's pieces that need no browser: the session cookie's flags over HTTP and
HTTPS, the security headers, error pages, where a login may send the user next, and login
throttling through the app."""

from __future__ import annotations

import re
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from vaultfront import web
from vaultfront.config import Settings


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


def _session_cookie(response: Response) -> str:
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
    from vaultfront.app import create_app

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
    from vaultfront import auth, cli
    from vaultfront.app import create_app
    from vaultfront.db import Database

    database_url = f"sqlite:///{tmp_path / 'vaultfront.db'}"
    database = Database(database_url)
    database.upgrade()
    cli.create_org(database, "acme", "Acme")
    cli.create_user(database, "ann@example.com", "acme", "member", password="the-right-one")
    database.dispose()
    settings = Settings(
        database_url=database_url, vault_addr="http://127.0.0.1:9", secret_key="k" * 32
    )
    checked: list[str] = []
    real_verify = auth.verify_password_login

    def counting_verify(session: Any, email: str, password: str) -> Any:
        checked.append(email)
        return real_verify(session, email, password)

    monkeypatch.setattr(auth, "verify_password_login", counting_verify)

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
