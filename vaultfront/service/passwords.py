"""Passwords: argon2id hashes, and the check at sign-in (as slow for an unknown email).

Hashed at argon2-cffi's defaults (RFC 9106's low-memory profile: 3 passes over 64 MiB, 4
lanes). The test suite calls `use_test_argon2_parameters` once, so that the people every
test creates cost next to nothing; nothing else does.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, select

from vaultfront.models import User

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
