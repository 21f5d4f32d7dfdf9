"""The people of an organization: who they are, their role, and who may own a secret.

Read by the page's Owner field (transfer of ownership, an admin action); any member may
list them, as any member sees the owners in the grid. Who may own is
`vaultfront.permissions.can_own`, the same rule a transfer is checked against.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from vaultfront.models import Membership, User
from vaultfront.permissions import Actor, can_own


def members(session: Session, actor: Actor) -> list[dict[str, Any]]:
    """The organization's members, by display name (name, else email), then email."""
    rows = session.exec(
        select(User, Membership)
        .join(Membership, Membership.user_id == User.id)  # type: ignore[arg-type]
        .where(Membership.org_id == actor.org.id)
    ).all()
    ordered = sorted(rows, key=lambda pair: (pair[0].display_name.casefold(), pair[0].email))
    return [
        {
            "id": user.id,
            "email": user.email,
            "name": user.name,
            "role": membership.role,
            "can_own": can_own(user, membership.role),
        }
        for user, membership in ordered
    ]
