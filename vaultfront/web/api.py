"""The JSON API (SPEC section 4). Routes parse and respond; `SecretService` decides.

Each handler: read the body (size-capped) -> in a worker thread: authenticate, resolve the
organization membership, check the permission, and only then parse and validate the body,
then call the service -> JSON. So a viewer's malformed PATCH gets 403, an outsider's 404,
a caller without credentials 401, never 422 (SPEC section 4). Errors are raised, and
rendered in one place (`vaultfront.web.app`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from vaultfront import schemas
from vaultfront.errors import Invalid, TooLarge
from vaultfront.service import members, permissions
from vaultfront.service.permissions import Actor, priority_of
from vaultfront.service.secrets import SecretService
from vaultfront.web import auth
from vaultfront.web.openapi import openapi_document

MAX_BODY_BYTES = 1024 * 1024
MAX_BODY_DIGITS = len(str(MAX_BODY_BYTES))


async def read_body(request: Request) -> bytes:
    """The request's raw body; 413 past 1 MiB (declared or actual).

    Read before authentication (the size cap protects the server); parsed with
    `parse_json` only after it, so a caller without credentials always gets 401.
    """
    declared = request.headers.get("content-length", "")
    # ASCII digits only (`"²".isdigit()` is true), and never int() of thousands of digits.
    if (
        declared.isascii()
        and declared.isdigit()
        and (len(declared) > MAX_BODY_DIGITS or int(declared) > MAX_BODY_BYTES)
    ):
        raise TooLarge()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise TooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(raw: bytes) -> Any:
    """The body as JSON; 422 when it is empty, not JSON, or nested too deep to parse."""
    if not raw.strip():
        raise Invalid("The request body must be a JSON object.", field="body")
    try:
        return json.loads(raw)
    except RecursionError:
        raise Invalid(
            "The request body is nested too deeply; send a flat JSON object.", field="body"
        ) from None
    except ValueError:  # UnicodeDecodeError too, and integers of over 4,300 digits
        raise Invalid("The request body is not valid JSON.", field="body") from None


def service(request: Request) -> SecretService:
    return request.app.state.secrets  # type: ignore[no-any-return]


async def in_org(request: Request, work: Callable[[Session, Actor], Response]) -> Response:
    """Authenticate, resolve the caller's membership of `{org}`, then do the work."""

    def run() -> Response:
        with request.app.state.db.session() as session:
            user = auth.authenticate(request, session)
            actor = members.actor_for(session, user, request.path_params["org"])
            return work(session, actor)

    return await run_in_threadpool(run)


def detail_response(detail: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(detail, status_code=status, headers={"ETag": f'"{detail["version"]}"'})


async def me(request: Request) -> Response:
    def run() -> Response:
        with request.app.state.db.session() as session:
            user = auth.authenticate(request, session)
            orgs = [
                {
                    "slug": org.slug,
                    "name": org.name,
                    "role": role,
                    # a superadmin's pseudo-role "superadmin" never reaches the role table
                    "priority": priority_of(user, role),
                }
                for org, role in members.memberships(session, user)
            ]
            return JSONResponse(
                {
                    "user": {
                        "id": user.id,
                        "email": user.email,
                        "name": user.name,
                        "superadmin": user.superadmin,
                    },
                    "organizations": orgs,
                }
            )

    return await run_in_threadpool(run)


async def list_secrets(request: Request) -> Response:
    return await in_org(
        request,
        lambda session, actor: JSONResponse({"secrets": service(request).rows(session, actor)}),
    )


async def list_members(request: Request) -> Response:
    return await in_org(
        request,
        lambda session, actor: JSONResponse({"members": members.members(session, actor)}),
    )


async def create_secret(request: Request) -> Response:
    raw = await read_body(request)

    def work(session: Session, actor: Actor) -> Response:
        permissions.require_create(actor)
        body = schemas.parse_create(parse_json(raw))
        return detail_response(service(request).create(session, actor, body), status=201)

    return await in_org(request, work)


async def get_secret(request: Request) -> Response:
    secret_id = request.path_params["id"]
    return await in_org(
        request,
        lambda session, actor: detail_response(service(request).get(session, actor, secret_id)),
    )


async def update_secret(request: Request) -> Response:
    secret_id = request.path_params["id"]
    raw = await read_body(request)
    if_match = request.headers.get("if-match")

    def work(session: Session, actor: Actor) -> Response:
        service(request).authorize_edit(session, actor, secret_id)
        body = schemas.parse_update(parse_json(raw))
        version = schemas.parse_if_match(if_match)
        return detail_response(service(request).update(session, actor, secret_id, body, version))

    return await in_org(request, work)


async def delete_secret(request: Request) -> Response:
    secret_id = request.path_params["id"]
    if_match = request.headers.get("if-match")

    def work(session: Session, actor: Actor) -> Response:
        service(request).authorize_edit(session, actor, secret_id)
        version = schemas.parse_if_match(if_match)
        service(request).delete(session, actor, secret_id, version)
        return Response(status_code=204)

    return await in_org(request, work)


async def openapi(request: Request) -> Response:
    return JSONResponse(openapi_document())


routes: list[BaseRoute] = [
    Route("/me", me, methods=["GET"]),
    Route("/orgs/{org}/secrets", list_secrets, methods=["GET"]),
    Route("/orgs/{org}/secrets", create_secret, methods=["POST"]),
    Route("/orgs/{org}/secrets/{id}", get_secret, methods=["GET"]),
    Route("/orgs/{org}/secrets/{id}", update_secret, methods=["PATCH"]),
    Route("/orgs/{org}/secrets/{id}", delete_secret, methods=["DELETE"]),
    Route("/orgs/{org}/members", list_members, methods=["GET"]),
    Route("/openapi.json", openapi, methods=["GET"]),
]
