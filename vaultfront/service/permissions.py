"""Who may do what (SPEC section 2), decided here and nowhere else.

Every service operation asks this module before it touches the database or Vault.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from vaultfront.errors import Forbidden
from vaultfront.models import Organization, Secret, User

ROLE_PRIORITIES: Final[dict[str, int]] = {"viewer": 0, "member": 10, "admin": 100}
SUPERADMIN_PRIORITY: Final = 1000
CREATE_PRIORITY: Final = 10
OVERRIDE_PRIORITY: Final = 100


@dataclass(frozen=True)
class Actor:
    """A user acting inside one organization, with their effective priority there."""

    user: User
    org: Organization
    role: str
    priority: int

    @property
    def user_id(self) -> int:
        assert self.user.id is not None
        return self.user.id


def priority_of(user: User, role: str | None) -> int | None:
    """The user's priority in an organization; None when they are not a member of it."""
    if user.superadmin:
        return SUPERADMIN_PRIORITY
    if role is None:
        return None
    return ROLE_PRIORITIES[role]


def can_own(user: User, role: str | None) -> bool:
    """Whether the user may own a secret of an organization where they have `role`: owning
    means editing, so a member or admin (a superadmin counts), never a viewer."""
    priority = priority_of(user, role)
    return priority is not None and priority >= CREATE_PRIORITY


def can_edit(actor: Actor, secret: Secret) -> bool:
    return secret.owner_id == actor.user_id or actor.priority >= OVERRIDE_PRIORITY


def require_create(actor: Actor) -> None:
    if actor.priority < CREATE_PRIORITY:
        raise Forbidden(
            f"Your role in {actor.org.slug} is {actor.role}: creating secrets needs member "
            "or admin. Ask an admin of the organization."
        )


def require_edit(actor: Actor, secret: Secret, owner_display: str) -> None:
    if not can_edit(actor, secret):
        raise Forbidden(f"Only {owner_display} can modify this secret")


def require_admin(actor: Actor) -> None:
    if actor.priority < OVERRIDE_PRIORITY:
        raise Forbidden("Only an admin of this organization can do this.")
