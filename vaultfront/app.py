"""The Starlette application: where a request enters, and where errors are rendered.

`/api/...` is the JSON API (`vaultfront.api`), everything else the web page
(`vaultfront.web`). An `AppError` raised anywhere becomes JSON under /api and a page
elsewhere; an unexpected exception becomes a 500 that says nothing about the request.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vaultfront import api, web
from vaultfront.config import Settings
from vaultfront.db import Database
from vaultfront.errors import AppError, NotFound, VaultUnavailable
from vaultfront.secrets import SecretService
from vaultfront.throttle import LoginThrottle
from vaultfront.vault import VaultStore

log = logging.getLogger("vaultfront.app")
STATIC_DIR = Path(__file__).resolve().parent / "static"
RECOVERY_INTERVAL_SECONDS = 5.0

HTTP_CODES = {
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
}


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/api"


async def app_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)
    if is_api(request):
        return JSONResponse(exc.to_json(), status_code=exc.status)
    return web.render_error(request, exc.status, exc.message)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if is_api(request):
        if exc.status_code == 404:
            return JSONResponse(NotFound().to_json(), status_code=404)
        code = HTTP_CODES.get(exc.status_code, "error")
        body = {"error": {"code": code, "message": str(exc.detail), "field": None}}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)
    return web.render_error(request, exc.status_code, str(exc.detail))


async def server_error(request: Request, exc: Exception) -> Response:
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
            log.error("recovery failed: %s", type(exc).__name__)
        if stop.wait(RECOVERY_INTERVAL_SECONDS):
            return


def create_app(settings: Settings | None = None, *, background_recovery: bool = True) -> Starlette:
    settings = settings or Settings.from_env()
    db = Database(settings.database_url)
    store = VaultStore(settings)
    secrets = SecretService(db, store)

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
            db.dispose()

    app = Starlette(
        routes=[
            Mount("/api", routes=api.routes),
            Mount("/static", app=StaticFiles(directory=STATIC_DIR, check_dir=False), name="static"),
            *web.routes,
        ],
        middleware=[*web.middleware(settings), Middleware(InternalErrors)],
        exception_handlers={
            AppError: app_error,
            HTTPException: http_error,
            Exception: server_error,
        },
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.vault = store
    app.state.secrets = secrets
    app.state.login_throttle = LoginThrottle()  # per process: see docs/web.md
    return app
