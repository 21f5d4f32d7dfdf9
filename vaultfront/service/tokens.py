"""API tokens: random, shown once, stored as SHA-256; created, listed and revoked here.

The tokens page (`vaultfront.web`) and `vaultfront tokens create` both call this module.
Creating and revoking a token is an audit event (`token.create`, `token.revoke`). An event
about a person appears in the audit of every organization the person belongs to at that
moment (SPEC section 9), so it is one `AuditEvent` row per membership: a row needs an
organization, and a user who belongs to none leaves no event.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import datetime
from typing import Final

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from vaultfront.errors import Invalid, NotFound
from vaultfront.models import ApiToken, AuditEvent, Membership, utcnow
from vaultfront.schemas import is_text

TOKEN_PREFIX: Final = "vf_"  # makes a leaked token recognisable
MAX_NAME: Final = 100  # ApiToken.name
MAX_ID: Final = 2**31 - 1  # the api_token table's integer key
log = logging.getLogger("vaultfront.tokens")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_name(name: object) -> str:
    """A token's name as sent (JSON or the command line), trimmed; `Invalid` on `name`."""
    if not isinstance(name, str) or not name.strip():
        raise Invalid("Give the token a name, e.g. ci-deploy.", field="name")
    name = name.strip()
    if len(name) > MAX_NAME:
        raise Invalid(f"A token name has at most {MAX_NAME} characters.", field="name")
    if not is_text(name) or "\x00" in name:
        raise Invalid(
            "The token name is not valid text (it holds a lone UTF-16 surrogate, like "
            "\\ud800, or a NUL); send it as UTF-8.",
            field="name",
        )
    return name


def _audit(session: Session, user_id: int, action: str, detail: str) -> None:
    """One event in each organization the user belongs to now (see the module's note)."""
    org_ids = session.exec(select(Membership.org_id).where(Membership.user_id == user_id)).all()
    for org_id in org_ids:
        session.add(AuditEvent(org_id=org_id, actor_id=user_id, action=action, detail=detail[:400]))


def create_token(
    session: Session, user_id: int, name: object, *, via: str = "cli"
) -> tuple[ApiToken, str]:
    """A new token of the user's, with its plaintext: returned once, never stored or shown
    again. `via` says how the user asked (`session`: the page; `cli`)."""
    checked = check_name(name)
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user_id, name=checked, token_hash=hash_token(plaintext), prefix=plaintext[:10]
    )
    session.add(token)
    session.flush()
    _audit(session, user_id, "token.create", f"token {token.id} ({checked}); via {via}")
    session.commit()
    session.refresh(token)
    return token, plaintext


def list_tokens(session: Session, user_id: int) -> list[ApiToken]:
    """The user's tokens, newest first, revoked ones included."""
    query = (
        select(ApiToken)
        .where(ApiToken.user_id == user_id)
        .order_by(col(ApiToken.created_at).desc())
    )
    return list(session.exec(query))


def revoke_token(session: Session, user_id: int, token_id: int, *, via: str = "cli") -> ApiToken:
    """Revoke one of the user's active tokens; it gets 401 from its next request on.
    `NotFound` for a token that is not theirs, already revoked, or does not exist."""
    token = session.get(ApiToken, token_id) if 1 <= token_id <= MAX_ID else None
    if token is None or token.user_id != user_id or token.revoked_at is not None:
        raise NotFound("No such active token.")
    token.revoked_at = utcnow()
    session.add(token)
    _audit(session, user_id, "token.revoke", f"token {token.id} ({token.name}); via {via}")
    session.commit()
    return token


def find_active(session: Session, plaintext: str) -> ApiToken | None:
    token = session.exec(
        select(ApiToken).where(ApiToken.token_hash == hash_token(plaintext))
    ).first()
    if token is None or token.revoked_at is not None:
        return None
    return token


def record_use(session: Session, token_id: int, now: datetime) -> None:
    """Best effort: `last_used_at`, in a short transaction of its own, on its own
    connection. A read never fails, and never turns into a write transaction, because of
    it: when the database is busy the use is simply not recorded this time."""
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, sa.Connection) else bind
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.update(ApiToken).where(col(ApiToken.id) == token_id).values(last_used_at=now)
            )
    except SQLAlchemyError as exc:
        log.info("last use of token %s not recorded (%s)", token_id, type(exc).__name__)
