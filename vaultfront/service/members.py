"""The people of an organization: who they are, their role, and who may own a secret; and
a user's memberships (the one place they are looked up).

Read by the page's Owner field (transfer of ownership, an admin action); any member may
list them, as any member sees the owners in the grid. Who may own is
`vaultfront.service.permissions.can_own`, the same rule a transfer is checked against.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from vaultfront import layout
from vaultfront.errors import NotFound
from vaultfront.models import Membership, Organization, User
from vaultfront.service.permissions import Actor, can_own, priority_of


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
