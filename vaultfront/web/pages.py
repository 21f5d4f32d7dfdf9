"""The web page (SPEC section 5): login, logout, the secrets grid and the API tokens page.

Routes here parse and render, nothing more; errors are raised (`vaultfront.errors`) and
rendered in one place, `vaultfront.web.app` (as a page with `render_error`, or as JSON for the
tokens page's endpoints, `JSON_PATHS`). The grid page reads and writes secrets through
the JSON API (`/api`, with the session cookie and `X-CSRF-Token`), so every permission rule
is decided once, in `vaultfront.service.permissions`, for the page and for scripts alike. A route
that renders an organization checks membership first: a non-member gets the same 404 as
for an organization that does not exist.

Failed sign-ins are throttled per account and per client address (`vaultfront.throttle`),
before the password is checked.

Logout is a POST carrying the CSRF field (the header's button); `GET /logout` shows a
one-button confirmation, so a link or an image elsewhere cannot sign anyone out.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.templating import Jinja2Templates

from vaultfront import layout
from vaultfront.config import Settings
from vaultfront.errors import Forbidden, Invalid, Unauthenticated
from vaultfront.models import ApiToken, User
from vaultfront.service import members, passwords, permissions, tokens
from vaultfront.service.secrets import iso
from vaultfront.web import api, auth
from vaultfront.web.security import (
    CSRF_FIELD,
    SESSION_COOKIE,
    SESSION_MAX_AGE,
    SecureCookieOverHttps,
    SecurityHeaders,
    csp_nonce,
    csrf_matches,
    csrf_token,
    rotate_csrf,
)
from vaultfront.web.throttle import LoginThrottle

ERROR_TITLES = {
    400: "Bad request",
    401: "Sign in needed",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    431: "Request headers too large",
    500: "Something went wrong",
    503: "Service unavailable",
}
JSON_PATHS = ("/account/tokens",)  # the tokens page's JSON endpoints, below


def templates_dir() -> Path:
    """`templates/` at the repository root, or its copy inside an installed wheel."""
    packaged = Path(str(resources.files("vaultfront"))) / "templates"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent.parent / "templates"


templates = Jinja2Templates(directory=templates_dir())


def middleware(settings: Settings) -> list[Middleware]:
    """Outermost first: headers on everything, then the session cookie."""
    return [
        Middleware(SecurityHeaders),
        Middleware(SecureCookieOverHttps),
        Middleware(
            SessionMiddleware,
            secret_key=settings.secret_key,
            session_cookie=SESSION_COOKIE,
            max_age=SESSION_MAX_AGE,
            same_site="lax",
            https_only=False,  # SecureCookieOverHttps adds Secure per request
        ),
    ]


@dataclass(frozen=True)
class OrgChoice:
    slug: str
    name: str
    role: str
    priority: int


@dataclass(frozen=True)
class Viewer:
    """The signed-in user and the organizations they can open."""

    user: User
    orgs: list[OrgChoice]

    def org(self, slug: str) -> OrgChoice | None:
        return next((org for org in self.orgs if org.slug == slug), None)


def _load_viewer(db: Session, user_id: int) -> Viewer | None:
    user = db.get(User, user_id)
    if user is None:
        return None
    orgs = [
        OrgChoice(org.slug, org.name, role, permissions.priority_of(user, role) or 0)
        for org, role in members.memberships(db, user)  # a superadmin's lists every organization
    ]
    return Viewer(user, orgs)


async def current_viewer(request: Request) -> Viewer | None:
    user_id = request.session.get("user_id")
    if not isinstance(user_id, int):
        return None

    def load() -> Viewer | None:
        with request.app.state.db.session() as db:
            return _load_viewer(db, user_id)

    viewer: Viewer | None = await run_in_threadpool(load)
    return viewer


def safe_next(target: str | None) -> str:
    """A local path to go to after login; anything that could leave the site becomes `/`."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(char) < 32 for char in target)
    ):
        return "/"
    return target


def _login_redirect(request: Request) -> RedirectResponse:
    path = request.url.path
    if request.url.query:
        path += "?" + request.url.query
    return RedirectResponse(f"/login?next={quote(path, safe='/')}", status_code=303)


def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> Response:
    context = {
        "csrf_token": csrf_token(request) if "session" in request.scope else "",
        "csp_nonce": csp_nonce(request),
        **context,
    }
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def render_error(request: Request, status: int, message: str) -> Response:
    """The one place that turns an error into a page: `{status}.html`, then `error.html`."""
    template = templates.env.select_template([f"{status}.html", "error.html"])
    context = {
        "status": status,
        "title": ERROR_TITLES.get(status, "Error"),
        "message": message,
        "csp_nonce": csp_nonce(request),
    }
    return templates.TemplateResponse(request, template.name or "error.html", context, status)


async def home(request: Request) -> Response:
    viewer = await current_viewer(request)
    if viewer is None:
        return RedirectResponse("/login", status_code=303)
    if not viewer.orgs:
        return render_error(
            request,
            404,
            "You are not a member of any organization yet. Ask an admin to add you.",
        )
    return RedirectResponse(f"/orgs/{viewer.orgs[0].slug}/secrets", status_code=303)


async def login_form(request: Request) -> Response:
    if await current_viewer(request) is not None:
        return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    notice = "You are signed out." if request.query_params.get("signed_out") else None
    context = {"next": safe_next(request.query_params.get("next")), "notice": notice}
    return render(request, "login.html", context)


async def login_submit(request: Request) -> Response:
    form = await request.form()
    email = str(form.get("email") or "").strip()
    password = str(form.get("password") or "")
    target = safe_next(str(form.get("next") or ""))
    context: dict[str, Any] = {"email": email, "next": target}
    if not csrf_matches(request, str(form.get(CSRF_FIELD) or "")):
        context["error"] = "This sign-in form had expired. Sign in again."
        return render(request, "login.html", context, status_code=400)
    if not email or not password:
        context["error"] = "Enter your email and your password."
        return render(request, "login.html", context, status_code=400)
    throttle: LoginThrottle = request.app.state.login_throttle
    address = request.client.host if request.client else "unknown"
    refusal = throttle.start(email, address)
    if refusal is not None:  # refused before argon2 runs: a refusal costs next to nothing
        context["error"] = refusal.message
        response = render(request, "login.html", context, status_code=429)
        response.headers["Retry-After"] = str(refusal.seconds)
        return response

    def verify() -> int | None:
        with request.app.state.db.session() as db:
            user = passwords.verify_password_login(db, email, password)
            return user.id if user is not None else None

    user_id = await run_in_threadpool(verify)
    if user_id is None:
        context["error"] = "That email and password do not match an account."
        return render(request, "login.html", context, status_code=400)
    throttle.succeeded(email, address)
    request.session.clear()
    request.session["user_id"] = user_id
    rotate_csrf(request)
    return RedirectResponse(target, status_code=303)


async def logout_confirm(request: Request) -> Response:
    viewer = await current_viewer(request)
    if viewer is None:
        return RedirectResponse("/login", status_code=303)
    return render(request, "logout.html", {"viewer": viewer})


async def logout_submit(request: Request) -> Response:
    form = await request.form()
    if not csrf_matches(request, str(form.get(CSRF_FIELD) or "")):
        return RedirectResponse("/logout", status_code=303)
    request.session.clear()
    return RedirectResponse("/login?signed_out=1", status_code=303)


async def secrets_page(request: Request) -> Response:
    viewer = await current_viewer(request)
    if viewer is None:
        return _login_redirect(request)
    org = viewer.org(request.path_params["org"])
    if org is None:
        return render_error(request, 404, "No such organization (or you are not a member of it).")
    if request.session.get("last_org") != org.slug:
        request.session["last_org"] = org.slug  # where the tokens page's "Secrets" link goes
    context = {
        "viewer": viewer,
        "org": org,
        "can_create": org.priority >= permissions.CREATE_PRIORITY,
        "can_transfer": org.priority >= permissions.OVERRIDE_PRIORITY,  # the Owner field
        "environments": [(env, env.capitalize()) for env in layout.ENVIRONMENTS],
        "active": "secrets",
    }
    return render(request, "secrets.html", context)


async def tokens_page(request: Request) -> Response:
    viewer = await current_viewer(request)
    if viewer is None:
        return _login_redirect(request)
    last = request.session.get("last_org")
    org = viewer.org(last) if isinstance(last, str) else None
    org = org or (viewer.orgs[0] if viewer.orgs else None)
    return render(request, "tokens.html", {"viewer": viewer, "org": org, "active": "tokens"})


# JSON endpoints of the tokens page (`JSON_PATHS`): the session only (a token cannot mint
# tokens), the CSRF header on the unsafe ones (`auth.authenticate`), bodies parsed like the
# API's; errors are raised and rendered as JSON in `vaultfront.web.app`, like the API's.


def answers_json(path: str) -> bool:
    """Whether a path outside /api answers JSON, errors included (`vaultfront.web.app`)."""
    return any(path == prefix or path.startswith(prefix + "/") for prefix in JSON_PATHS)


def token_json(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "name": token.name,
        "prefix": token.prefix,
        "created_at": iso(token.created_at),
        "last_used_at": iso(token.last_used_at) if token.last_used_at else None,
        "revoked_at": iso(token.revoked_at) if token.revoked_at else None,
    }


def page_user_id(request: Request, session: Session) -> int:
    """The signed-in user of the page (`auth.authenticate`, session and CSRF). An API
    token is refused: it cannot list, create or revoke tokens."""
    if "authorization" in request.headers or not isinstance(request.session.get("user_id"), int):
        raise Unauthenticated("Sign in to manage your API tokens; an API token cannot.")
    if not request.headers.get(auth.CSRF_HEADER, "").isascii():
        # `auth.authenticate` compares str with `hmac.compare_digest`, which raises
        # TypeError (a 500) for non-ASCII text; no CSRF token we issue is anything but ASCII.
        raise Forbidden("Missing or wrong X-CSRF-Token header: reload the page and try again.")
    user = auth.authenticate(request, session)
    assert user.id is not None
    return user.id


async def tokens_list(request: Request) -> Response:
    def run() -> Response:
        with request.app.state.db.session() as db:
            user_id = page_user_id(request, db)
            return JSONResponse(
                {"tokens": [token_json(token) for token in tokens.list_tokens(db, user_id)]}
            )

    return await run_in_threadpool(run)


async def tokens_create(request: Request) -> Response:
    raw = await api.read_body(request)

    def run() -> Response:
        with request.app.state.db.session() as db:
            user_id = page_user_id(request, db)
            body = api.parse_json(raw)
            if not isinstance(body, dict):
                raise Invalid('Send a JSON object: {"name": "ci-deploy"}.', field="body")
            token, plaintext = tokens.create_token(db, user_id, body.get("name"), via="session")
            return JSONResponse({"token": token_json(token), "plaintext": plaintext}, 201)

    return await run_in_threadpool(run)


async def tokens_revoke(request: Request) -> Response:
    token_id: int = request.path_params["token_id"]

    def run() -> Response:
        with request.app.state.db.session() as db:
            user_id = page_user_id(request, db)
            tokens.revoke_token(db, user_id, token_id, via="session")
            return Response(status_code=204)

    return await run_in_threadpool(run)


routes: list[BaseRoute] = [
    Route("/", home, methods=["GET"]),
    Route("/login", login_form, methods=["GET"]),
    Route("/login", login_submit, methods=["POST"]),
    Route("/logout", logout_confirm, methods=["GET"]),
    Route("/logout", logout_submit, methods=["POST"]),
    Route("/orgs/{org}/secrets", secrets_page, methods=["GET"]),
    Route("/tokens", tokens_page, methods=["GET"]),
    Route("/account/tokens", tokens_list, methods=["GET"]),
    Route("/account/tokens", tokens_create, methods=["POST"]),
    Route("/account/tokens/{token_id:int}", tokens_revoke, methods=["DELETE"]),
]
