"""Typed errors that carry their HTTP status and code (SPEC section 4).

They are raised by services and turned into JSON (under /api) or HTML in one place,
`vaultfront.web.app`. Messages are written for a person to act on, and never carry a value.
"""

from __future__ import annotations


class AppError(Exception):
    status: int = 500
    code: str = "internal"
    default_message = "Something went wrong on our side; nothing was written. Try again."

    def __init__(self, message: str | None = None, *, field: str | None = None) -> None:
        self.message = message or self.default_message
        self.field = field
        super().__init__(self.message)

    def to_json(self) -> dict[str, dict[str, str | None]]:
        return {"error": {"code": self.code, "message": self.message, "field": self.field}}


class Unauthenticated(AppError):
    status = 401
    code = "unauthenticated"
    default_message = "Sign in, or send a valid API token as `Authorization: Bearer <token>`."


class Forbidden(AppError):
    status = 403
    code = "forbidden"
    default_message = "Your role in this organization does not allow this."


class NotFound(AppError):
    status = 404
    code = "not_found"
    default_message = "No such organization or secret (or you are not a member of it)."


class NameTaken(AppError):
    status = 409
    code = "name_taken"

    def __init__(self, name: str) -> None:
        super().__init__(f"A secret named {name} already exists in this organization", field="name")


class VersionConflict(AppError):
    status = 412
    code = "version_conflict"
    default_message = (
        "Someone else changed this secret since you loaded it; nothing was written. "
        "Reload it and make your change again."
    )


class TooLarge(AppError):
    status = 413
    code = "too_large"
    default_message = "The request body is over 1 MiB; send smaller values."


class Invalid(AppError):
    status = 422
    code = "invalid"
    default_message = "The request is not valid."


class HeadersTooLarge(AppError):
    status = 431
    code = "headers_too_large"
    default_message = (
        "The request's headers are over 16 KiB in all; send fewer or shorter headers "
        "(an oversized cookie goes away when you sign out and in again)."
    )


class VaultUnavailable(AppError):
    status = 503
    code = "vault_unavailable"
    default_message = (
        "Vault cannot be reached or refused the request; nothing was written and nothing "
        "half-written is left. Try again in a moment."
    )


class VaultRefused(VaultUnavailable):
    """Vault answered, and said no (403): the facade's policy or token, not an outage."""


class VaultUnreachable(VaultUnavailable):
    """Vault did not answer, or cannot serve now (sealed, standby, rate limiting, ...)."""


class DatabaseUnavailable(AppError):
    status = 503
    code = "database_unavailable"
    default_message = (
        "The metadata database cannot be reached; nothing was written. Try again in a moment."
    )
