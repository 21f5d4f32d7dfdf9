"""Who is calling: a bearer API token, or the web session cookie (+ CSRF header).

Authentication only. Passwords are `vaultfront.service.passwords`; a user's memberships and
the actor in an organization are `vaultfront.service.members`; what the caller may do is
`vaultfront.service.permissions`.
"""

from __future__ import annotations

import hmac
from datetime import timedelta

from sqlmodel import Session
from starlette.requests import Request

from vaultfront.errors import Forbidden, Unauthenticated
from vaultfront.models import User, utcnow
from vaultfront.service import tokens

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "x-csrf-token"
LAST_USED_RESOLUTION = timedelta(minutes=1)  # don't write on every request


def authenticate(request: Request, session: Session) -> User:
    """The user behind a request: a bearer token, or the session cookie (+ CSRF header)."""
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, credential = header.partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            raise Unauthenticated("Send the API token as `Authorization: Bearer <token>`.")
        token = tokens.find_active(session, credential.strip())
        if token is None:
            raise Unauthenticated("That API token is unknown or revoked; create a new one.")
        user = session.get(User, token.user_id)
        if user is None:
            raise Unauthenticated()
        now = utcnow()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            assert token.id is not None
            tokens.record_use(session, token.id, now)
        return user
    user_id = request.session.get("user_id") if "session" in request.scope else None
    if not isinstance(user_id, int):
        raise Unauthenticated()
    user = session.get(User, user_id)
    if user is None:
        raise Unauthenticated("Your session has ended; sign in again.")
    if request.method not in SAFE_METHODS:
        expected = request.session.get("csrf")
        sent = request.headers.get(CSRF_HEADER, "")
        # Bytes, not str: compare_digest refuses non-ASCII text (a 500 for a bad header).
        if not isinstance(expected, str) or not hmac.compare_digest(
            expected.encode(), sent.encode("utf-8", "surrogateescape")
        ):
            raise Forbidden("Missing or wrong X-CSRF-Token header: reload the page and try again.")
    return user
