"""What protects the browser: the session cookie, CSRF tokens and the security headers.

- The session is Starlette's signed cookie (`vaultfront_session`): HttpOnly, SameSite=Lax,
  and Secure whenever the request came over HTTPS (`scope["scheme"]`, which uvicorn's
  `--proxy-headers` sets from a trusted proxy). It holds `user_id` and `csrf`, never a
  secret value or a token: the cookie is signed, not encrypted.
- CSRF: every unsafe request made with the session needs the session's `csrf` value, as the
  `X-CSRF-Token` header (JSON calls, checked by `vaultfront.web.auth` and by the web routes) or
  as the `csrf` form field (login, logout). SameSite=Lax is the second wall: a cross-site
  POST does not carry the cookie at all.
- Headers on every response, /api included: a Content-Security-Policy whose scripts come
  only from the app's own origin (no inline script, no eval), no framing, no MIME sniffing,
  no referrer.

Styles: AG Grid 33+ themes are JavaScript that injects `<style>` elements. Instead of
`style-src 'unsafe-inline'` the policy carries a fresh nonce per response, which the page
hands to the grid (`styleNonce`, read from `<meta name="csp-nonce">`); a `<style>` element or
`style=""` attribute without it is refused. The grid positions rows and cells through the
CSSOM (`element.style`), which CSP does not restrict, so it needs nothing more; the browser
tests fail on any CSP violation. The cost of the nonce over 'unsafe-inline': every HTML
response is uncacheable by shared caches (it is `no-store` anyway).
"""

from __future__ import annotations

import hmac
import secrets

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SESSION_COOKIE = "vaultfront_session"
SESSION_MAX_AGE = 12 * 60 * 60
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf"
NONCE_SCOPE_KEY = "vaultfront.csp_nonce"


def content_security_policy(nonce: str) -> str:
    directives = {
        "default-src": "'none'",
        "script-src": "'self'",
        "style-src": f"'self' 'nonce-{nonce}'",
        # The grid's icons are inline SVG data: URLs in its generated CSS.
        "img-src": "'self' data:",
        "font-src": "'self'",
        "connect-src": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
        "base-uri": "'none'",
        "object-src": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


def csp_nonce(conn: HTTPConnection) -> str:
    """The nonce of this response's Content-Security-Policy (set by `SecurityHeaders`)."""
    nonce = conn.scope.get(NONCE_SCOPE_KEY)
    if not isinstance(nonce, str):
        nonce = secrets.token_urlsafe(18)
        conn.scope[NONCE_SCOPE_KEY] = nonce
    return nonce


class SecurityHeaders:
    """Adds the CSP (with a per-response nonce) and the other security headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(18)
        scope[NONCE_SCOPE_KEY] = nonce

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = content_security_policy(nonce)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
                if scope.get("scheme") == "https":
                    headers["Strict-Transport-Security"] = "max-age=31536000"
                content_type = headers.get("content-type", "")
                if "cache-control" not in headers and content_type.startswith(
                    ("text/html", "application/json")
                ):
                    # Pages and API answers carry masks, names and CSRF tokens: keep them
                    # out of shared and back-forward caches.
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)


class SecureCookieOverHttps:
    """Marks the session cookie `Secure` on responses to HTTPS requests.

    Starlette's SessionMiddleware decides `Secure` once, at start-up; the same app may be
    reached over plain HTTP on loopback (`vaultfront dev`) and over HTTPS behind a proxy.
    """

    def __init__(self, app: ASGIApp, cookie_name: str = SESSION_COOKIE) -> None:
        self.app = app
        self.prefix = f"{cookie_name}="

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("scheme") != "https":
            await self.app(scope, receive, send)
            return

        async def send_secure(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                cookies = headers.getlist("set-cookie")
                if any(cookie.startswith(self.prefix) for cookie in cookies):
                    del headers["set-cookie"]
                    for cookie in cookies:
                        needs_flag = cookie.startswith(self.prefix) and "secure" not in {
                            part.strip().lower() for part in cookie.split(";")
                        }
                        headers.append("set-cookie", cookie + "; secure" if needs_flag else cookie)
            await send(message)

        await self.app(scope, receive, send_secure)


def csrf_token(conn: HTTPConnection) -> str:
    """The session's CSRF token, created on first use."""
    token = conn.session.get("csrf")
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        conn.session["csrf"] = token
    return token


def rotate_csrf(conn: HTTPConnection) -> str:
    token = secrets.token_urlsafe(32)
    conn.session["csrf"] = token
    return token


def csrf_matches(conn: HTTPConnection, submitted: str | None) -> bool:
    expected = conn.session.get("csrf")
    if not isinstance(expected, str) or not expected or not submitted:
        return False
    return hmac.compare_digest(expected.encode(), submitted.encode())
