"""Organizations and user accounts: creating them, and finding a user by email.

The operator's side of people (`vaultfront orgs create`, `vaultfront users create`,
`vaultfront dev`); what members see of each other is `vaultfront.members`. Input is checked
here, not in the CLI, and refused with the typed errors of `vaultfront.errors`, whose
messages say what to do.
"""

from __future__ import annotations

from typing import Final

from sqlmodel import Session, select

from vaultfront import layout
from vaultfront.db import Database
from vaultfront.errors import Invalid, NotFound
from vaultfront.models import Membership, Organization, User
from vaultfront.schemas import is_text
from vaultfront.service.passwords import hash_password
from vaultfront.service.permissions import ROLE_PRIORITIES

ROLES: Final = tuple(ROLE_PRIORITIES)  # viewer, member, admin
MAX_NAME: Final = 200  # Organization.name and User.name
MAX_EMAIL: Final = 320


def normalize_email(email: str) -> str:
    """Emails are compared and stored trimmed and lowercase."""
    return email.strip().lower()


def _check_name(name: str | None, what: str) -> str | None:
    if name is None:
        return None
    if not is_text(name) or "\x00" in name:
        raise Invalid(f"The {what} name is not valid text; use UTF-8.", field="name")
    if len(name) > MAX_NAME:
        raise Invalid(f"The {what} name has at most {MAX_NAME} characters.", field="name")
    return name


def _check_email(email: str) -> str:
    email = normalize_email(email)
    if "@" not in email or not is_text(email) or "\x00" in email or len(email) > MAX_EMAIL:
        raise Invalid(f"{email!r} is not an email address.", field="email")
    return email


def find_org(session: Session, slug: str) -> Organization | None:
    return session.exec(select(Organization).where(Organization.slug == slug)).first()


def user_by_email(session: Session, email: str) -> User:
    """The user with this email; `NotFound` saying how to create them."""
    user = session.exec(select(User).where(User.email == normalize_email(email))).first()
    if user is None:
        raise NotFound(f"No user {email}: create them with `vaultfront users create`.")
    return user


def create_org(database: Database, slug: str, name: str | None = None) -> Organization:
    """A new organization; its slug is permanent (it names the organization's Vault paths)."""
    try:
        layout.check_org_slug(slug)
    except ValueError as exc:
        raise Invalid(str(exc), field="slug") from None
    display = _check_name(name, "organization") or slug
    with database.session() as session:
        if find_org(session, slug) is not None:
            raise Invalid(f"An organization with the slug {slug} already exists.", field="slug")
        org = Organization(slug=slug, name=display)
        session.add(org)
        session.commit()
        return org


def create_user(
    database: Database,
    email: str,
    org_slug: str,
    role: str,
    name: str | None = None,
    superadmin: bool = False,
    password: str | None = None,
) -> tuple[User, bool]:
    """Create the user (or find them) and give them `role` in the organization.

    Returns the user and whether they were created. For an existing user, a name, the
    superadmin flag or a password given here replace what they had; an existing membership
    of the organization gets the new role.
    """
    email = _check_email(email)
    if role not in ROLE_PRIORITIES:
        raise Invalid(f"{role!r} is not a role: use one of {', '.join(ROLES)}.", field="role")
    name = _check_name(name, "user's")
    with database.session() as session:
        org = find_org(session, org_slug)
        if org is None:
            raise NotFound(
                f"No organization {org_slug}: create it with `vaultfront orgs create {org_slug}`."
            )
        user = session.exec(select(User).where(User.email == email)).first()
        created = user is None
        if user is None:
            user = User(email=email, name=name)
        if name:
            user.name = name
        if superadmin:
            user.superadmin = True
        if password:
            user.password_hash = hash_password(password)
        session.add(user)
        session.flush()
        membership = session.exec(
            select(Membership).where(Membership.user_id == user.id, Membership.org_id == org.id)
        ).first()
        if membership is None:
            assert user.id is not None and org.id is not None
            membership = Membership(user_id=user.id, org_id=org.id, role=role)
        membership.role = role
        session.add(membership)
        session.commit()
        return user, created
