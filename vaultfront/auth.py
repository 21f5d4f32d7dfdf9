"""Who is calling: bearer API tokens, the web session, passwords, memberships.

Authentication only; what the caller may do is `vaultfront.permissions`.

Passwords are hashed with argon2id at argon2-cffi's defaults (RFC 9106's low-memory
profile: 3 passes over 64 MiB, 4 lanes). The test suite calls `use_test_argon2_parameters`
once, so that the people every test creates cost next to nothing; nothing else does.
"""

from __future__ import annotations

import hmac
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, select
from starlette.requests import Request

from vaultfront import layout, tokens
from vaultfront.errors import Forbidden, NotFound, Unauthenticated
from vaultfront.models import Membership, Organization, User, utcnow
from vaultfront.permissions import Actor, priority_of

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "x-csrf-token"
LAST_USED_RESOLUTION = timedelta(minutes=1)  # don't write on every request

_hasher = PasswordHasher()
# Verified against when the email is unknown, so both paths cost the same.
_DUMMY_HASH = _hasher.hash("vaultfront-timing-equaliser")


def use_test_argon2_parameters() -> None:
    """Hash with argon2's cheapest parameters (1 pass over 8 KiB, 1 lane) from now on.

    For tests only: at the defaults each hash takes a noticeable part of a second of CPU.
    A function rather than a setting, so that no deployment can turn it on. Hashes made
    either way still verify (argon2 keeps its parameters in the hash).
    """
    global _hasher, _DUMMY_HASH
    _hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    _DUMMY_HASH = _hasher.hash("vaultfront-timing-equaliser")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password_login(session: Session, email: str, password: str) -> User | None:
    user = session.exec(select(User).where(User.email == email.strip().lower())).first()
    try:
        _hasher.verify(user.password_hash if user and user.password_hash else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    return user if user and user.password_hash else None


def memberships(session: Session, user: User) -> list[tuple[Organization, str]]:
    """The user's organizations and roles (a superadmin sees every organization)."""
    rows = session.exec(
        select(Organization, Membership)
        .join(Membership, Membership.org_id == Organization.id)  # type: ignore[arg-type]
        .where(Membership.user_id == user.id)
        .order_by(Organization.slug)
    ).all()
    result = [(org, m.role) for org, m in rows]
    if user.superadmin:
        member_of = {org.id for org, _ in result}
        for org in session.exec(select(Organization).order_by(Organization.slug)):
            if org.id not in member_of:
                result.append((org, "superadmin"))
        result.sort(key=lambda pair: pair[0].slug)
    return result


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


def actor_for(session: Session, user: User, org_slug: str) -> Actor:
    """The user acting in an organization; 404 when it does not exist or they are no member."""
    if not layout.ORG_SLUG_PATTERN.fullmatch(org_slug):
        raise NotFound()  # no such slug can exist (and PostgreSQL cannot compare NUL)
    org = session.exec(select(Organization).where(Organization.slug == org_slug)).first()
    if org is None:
        raise NotFound()
    membership = session.exec(
        select(Membership).where(Membership.user_id == user.id, Membership.org_id == org.id)
    ).first()
    role = membership.role if membership else None
    priority = priority_of(user, role)
    if priority is None:
        raise NotFound()
    return Actor(user=user, org=org, role=role or "superadmin", priority=priority)
