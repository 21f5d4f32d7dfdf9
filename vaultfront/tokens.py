"""API tokens: random, shown once, stored as SHA-256."""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from vaultfront.models import ApiToken, utcnow

TOKEN_PREFIX = "vf_"  # makes a leaked token recognisable
log = logging.getLogger("vaultfront.tokens")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, user_id: int, name: str) -> tuple[ApiToken, str]:
    """Create a token and return it with its plaintext, which is never stored or shown again."""
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user_id,
        name=(name or "token").strip()[:100] or "token",
        token_hash=hash_token(plaintext),
        prefix=plaintext[:10],
    )
    session.add(token)
    session.commit()
    session.refresh(token)
    return token, plaintext


def list_tokens(session: Session, user_id: int) -> list[ApiToken]:
    query = (
        select(ApiToken)
        .where(ApiToken.user_id == user_id)
        .order_by(col(ApiToken.created_at).desc())
    )
    return list(session.exec(query))


def revoke_token(session: Session, user_id: int, token_id: int) -> bool:
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user_id or token.revoked_at is not None:
        return False
    token.revoked_at = utcnow()
    session.add(token)
    session.commit()
    return True


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
