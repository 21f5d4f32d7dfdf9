"""The Starlette application: where a request enters, and where errors are rendered.

`/api/...` is the JSON API (`vaultfront.web.api`), everything else the web page
(`vaultfront.web`). An `AppError` raised anywhere becomes JSON under /api and a page
elsewhere; so does a database that cannot be reached (translated here, once, into
`DatabaseUnavailable`); any other unexpected exception becomes a 500 that says nothing
about the request.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import psycopg
from sqlalchemy import exc as sa_exc
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vaultfront.config import Settings
from vaultfront.errors import (
    AppError,
    DatabaseUnavailable,
    HeadersTooLarge,
    NotFound,
    VaultUnavailable,
)
from vaultfront.service.secrets import SecretService
from vaultfront.web import api
from vaultfront.web import pages as web
from vaultfront.web.throttle import LoginThrottle

log = logging.getLogger("vaultfront.app")
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
RECOVERY_INTERVAL_SECONDS = 5.0
MAX_HEADER_BYTES = 16 * 1024
# SQLite's words for "another process holds the database" or "the file is gone": the
# other OperationalErrors (no such table, a syntax error) are our bugs, and stay 500s.
SQLITE_UNREACHABLE = (
    "database is locked",
    "database table is locked",
    "unable to open database file",
    "disk i/o error",
)

HTTP_CODES = {
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
}


def is_api(request: Request) -> bool:
    """Errors as JSON: the API's, and those of the page's JSON endpoints (`web.JSON_PATHS`)."""
    path = request.url.path
    return path.startswith("/api/") or path == "/api" or web.answers_json(path)


async def app_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)
    if is_api(request):
        return JSONResponse(exc.to_json(), status_code=exc.status)
    return web.render_error(request, exc.status, exc.message)


def allowed_methods(routes: Sequence[BaseRoute], scope: Scope) -> set[str]:
    """Every method some route accepts for the scope's path, descending into Mounts.

    Routes are registered one per method, and Starlette's 405 names only the methods of
    the first route whose path matched; the `Allow` header must name them all.
    """
    allowed: set[str] = set()
    for route in routes:
        match, child_scope = route.matches(scope)
        if match is Match.NONE:
            continue
        if isinstance(route, Mount):
            allowed |= allowed_methods(route.routes, {**scope, **child_scope})
        elif isinstance(route, Route) and route.methods:
            allowed |= route.methods
    return allowed


def method_not_allowed(request: Request, exc: HTTPException) -> tuple[str, dict[str, str]]:
    """The 405's message and headers, with `Allow` computed over every route of the path."""
    scope = request.scope
    # The router has already rewritten root_path for the Mount it entered: start again
    # from the application's own root.
    top = {
        "type": "http",
        "method": scope["method"],
        "path": scope["path"],
        "root_path": scope.get("app_root_path", scope.get("root_path", "")),
    }
    methods = allowed_methods(request.app.router.routes, top)
    headers = dict(exc.headers or {})
    if methods:
        headers["Allow"] = ", ".join(sorted(methods))
    allow = headers.get("Allow", "")
    message = f"{request.method} is not allowed here" + (f"; use {allow}." if allow else ".")
    return message, headers


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message, headers = str(exc.detail), dict(exc.headers or {})
    if exc.status_code == 405:
        message, headers = method_not_allowed(request, exc)
    if is_api(request):
        if exc.status_code == 404:
            return JSONResponse(NotFound().to_json(), status_code=404)
        code = HTTP_CODES.get(exc.status_code, "error")
        body = {"error": {"code": code, "message": message, "field": None}}
        return JSONResponse(body, status_code=exc.status_code, headers=headers)
    response = web.render_error(request, exc.status_code, message)
    response.headers.update(headers)
    return response


def _unreachable(exc: BaseException) -> bool:
    if isinstance(exc, (sa_exc.DisconnectionError, sa_exc.TimeoutError)):
        return True  # a dropped connection, or no pooled connection free in time
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, psycopg.OperationalError):
        return True  # refused, reset, server shut down, too many clients, timed out
    if isinstance(exc, sqlite3.OperationalError):
        return str(exc).lower().startswith(SQLITE_UNREACHABLE)
    return False


def database_unavailable(exc: BaseException) -> DatabaseUnavailable | None:
    """`DatabaseUnavailable` when the exception, or the driver error it wraps, says the
    metadata database cannot be reached (SPEC section 4: 503 `database_unavailable`).

    SQLAlchemy wraps the driver's error (`.orig`, also `__cause__`); the chain is walked a
    few links deep. Nothing of the exception's text reaches the response.
    """
    current: BaseException | None = exc
    for _ in range(8):
        if current is None:
            return None
        if _unreachable(current):
            return DatabaseUnavailable()
        orig = current.orig if isinstance(current, sa_exc.DBAPIError) else None
        if orig is not None and _unreachable(orig):
            return DatabaseUnavailable()
        current = current.__cause__
    return None


async def server_error(request: Request, exc: Exception) -> Response:
    unavailable = database_unavailable(exc)
    if unavailable is not None:
        # Nothing to reset: PostgreSQL's pool pre-pings every checkout and replaces dead
        # connections, so service resumes by itself once the database is back.
        log.warning(
            "database unavailable (%s) on %s %s",
            type(exc).__name__,
            request.method,
            request.url.path,
        )
        return await app_error(request, unavailable)
    # Log the type only: exception text from deep layers is not ours to vouch for.
    log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path)
    message = "Something went wrong on our side; nothing was written. Try again."
    if is_api(request):
        body = {"error": {"code": "internal", "message": message, "field": None}}
        return JSONResponse(body, status_code=500)
    return web.render_error(request, 500, message)


class InternalErrors:
    """The innermost middleware: an unexpected exception becomes the 500 of `server_error`
    here, inside the security-headers and session middleware, so the error page carries
    the same headers as every other page. (Starlette's own handler for `Exception` runs
    outside all middleware.)"""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:
                raise
            response = await server_error(Request(scope, receive), exc)
            await response(scope, receive, send)


def header_bytes(scope: Scope) -> int:
    """The size of the request's headers as sent: `name: value` and CRLF for each."""
    return sum(len(name) + len(value) + 4 for name, value in scope.get("headers", ()))


class HeaderLimit:
    """431 for a request whose headers are over 16 KiB in all (SPEC section 4).

    uvicorn's h11 parser refuses a request head over its own limit (16 KiB by default) with
    a bare 400 before the app sees it; this is the limit behind any server, answered with
    the error body of every other refusal.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and header_bytes(scope) > MAX_HEADER_BYTES:
            response = await app_error(Request(scope, receive), HeadersTooLarge())
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _recover_forever(secrets: SecretService, stop: threading.Event) -> None:
    """Repair what crashed writes left in Vault: at start-up, then every 5 seconds."""
    while True:
        try:
            recovered = secrets.recover_all()
            if recovered:
                log.info("recovered %d operation(s) left in flight", recovered)
        except VaultUnavailable:
            log.warning("recovery postponed: Vault unavailable")
        except Exception as exc:  # keep the loop alive whatever happens
            if database_unavailable(exc) is not None:
                log.warning("recovery postponed: database unavailable")
            else:
                log.error("recovery failed: %s", type(exc).__name__)
        if stop.wait(RECOVERY_INTERVAL_SECONDS):
            return


def create_app(settings: Settings | None = None, *, background_recovery: bool = True) -> Starlette:
    settings = settings or Settings.from_env()
    secrets = SecretService.connect(settings)
    db = secrets.db

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        stop = threading.Event()
        worker = None
        if background_recovery:
            worker = threading.Thread(
                target=_recover_forever,
                args=(secrets, stop),
                name="vaultfront-recovery",
                daemon=True,
            )
            worker.start()
        try:
            yield
        finally:
            stop.set()
            if worker is not None:
                worker.join(timeout=5)
            secrets.store.close()
            db.dispose()

    app = Starlette(
        routes=[
            Mount("/api", routes=api.routes),
            Mount("/static", app=StaticFiles(directory=STATIC_DIR, check_dir=False), name="static"),
            *web.routes,
        ],
        middleware=[*web.middleware(settings), Middleware(HeaderLimit), Middleware(InternalErrors)],
        exception_handlers={
            AppError: app_error,
            HTTPException: http_error,
            Exception: server_error,
        },
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.vault = secrets.store
    app.state.secrets = secrets
    app.state.login_throttle = LoginThrottle()  # per process: see docs/web.md
    return app
