"""The metadata store's tables (SQLModel). No column ever holds a secret value.

A secret keeps one `SecretValue` row per environment whose value is set, holding its mask;
the ciphertext lives in Vault (`vaultfront.layout`). Unique names per organization are a
database constraint.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import Column, Text, UniqueConstraint
from sqlalchemy.orm import attribute_keyed_dict, relationship
from sqlmodel import Field, Relationship, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_uuid() -> str:
    return str(uuid.uuid4())


def new_epoch() -> str:
    return uuid.uuid4().hex


class Organization(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=63, unique=True, index=True)
    name: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    # Tags the `applied` marks this database writes into the organization's Vault index
    # documents (`vaultfront.outbox`): a mark of another database (a restore, a recreated
    # organization) is not mistaken for one of ours.
    vault_epoch: str = Field(default_factory=new_epoch, max_length=32)


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True, index=True)
    name: str | None = Field(default=None, max_length=200)
    password_hash: str | None = Field(default=None, max_length=200)
    superadmin: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow)

    @property
    def display_name(self) -> str:
        return self.name or self.email


class Membership(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("user_id", "org_id", name="uq_membership_user_org"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    org_id: int = Field(foreign_key="organization.id", index=True)
    role: str = Field(max_length=20)
    created_at: datetime = Field(default_factory=utcnow)


class ApiToken(SQLModel, table=True):
    """A bearer token, stored as its SHA-256 (tokens are 256-bit random: no need for argon2)."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    name: str = Field(max_length=100)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    prefix: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class Secret(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_secret_org_name"),)

    id: str = Field(default_factory=new_uuid, primary_key=True, max_length=36)
    org_id: int = Field(foreign_key="organization.id", index=True)
    name: str = Field(max_length=128)
    description: str = Field(default="", max_length=1000)
    owner_id: int = Field(foreign_key="user.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    version: int = Field(default=1)
    # environment -> its row, for the environments whose value is set. Loaded with the
    # secret (one more SELECT for any number of secrets), so a secret read in a session
    # that has ended still answers `is_set` and `mask`.
    values: dict[str, SecretValue] = Relationship(
        sa_relationship=relationship(
            "SecretValue",
            collection_class=attribute_keyed_dict("environment"),
            cascade="all, delete-orphan",
            passive_deletes=True,
            lazy="selectin",
        )
    )

    def is_set(self, env: str) -> bool:
        return env in self.values

    def mask(self, env: str) -> str | None:
        value = self.values.get(env)
        return value.mask if value is not None else None

    def set_mask(self, env: str, mask: str) -> None:
        """The environment's value is set (or replaced), and this is its mask."""
        value = self.values.get(env)
        if value is None:
            self.values[env] = SecretValue(secret_id=self.id, environment=env, mask=mask)
        else:
            value.mask = mask

    def clear(self, env: str) -> None:
        """The environment's value is gone: its row is deleted at the next flush."""
        self.values.pop(env, None)


class SecretValue(SQLModel, table=True):
    """One environment's value of a secret, as the database knows it: set, with this mask.

    A row exists exactly when the value is set; the value itself is in Vault. Keyed by
    (secret, environment), so an environment is a value of this table (one of
    `layout.ENVIRONMENTS`), not columns of `secret`.
    """

    __tablename__ = "secret_value"

    secret_id: str = Field(
        foreign_key="secret.id", ondelete="CASCADE", primary_key=True, max_length=36
    )
    environment: str = Field(primary_key=True, max_length=40)
    mask: str = Field(max_length=40)


class AuditEvent(SQLModel, table=True):
    """Who did what to which secret, and when. Never a value."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organization.id", index=True)
    actor_id: int = Field(foreign_key="user.id")
    action: str = Field(max_length=40)
    secret_id: str | None = Field(default=None, max_length=36)
    secret_name: str | None = Field(default=None, max_length=128)
    detail: str = Field(default="", max_length=400)
    at: datetime = Field(default_factory=utcnow)


class OutboxEntry(SQLModel, table=True):
    """A committed change that Vault must still apply (`vaultfront.outbox`).

    Written in the same transaction as the secret's row, so the database is the commit
    point; deleted once every environment's index document holds the change. While in
    flight it holds the change's Transit ciphertext (never a plaintext value): no executor
    policy reaches the database, so an uncommitted or rolled-back write is never
    decryptable. Ids only grow (AUTOINCREMENT on SQLite), and rows of one organization are
    inserted under its write lock, so their ids are in commit order.
    """

    __tablename__ = "outbox"
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organization.id", index=True)
    secret_id: str = Field(max_length=36)
    kind: str = Field(max_length=10)  # create, update, delete
    name: str = Field(max_length=128)  # the secret's name once the change is applied
    version: int
    # env -> {"ct": ciphertext} (set), {"keep": true} (rename), or null (clear)
    changes: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class VaultGarbage(SQLModel, table=True):
    """An out-of-line value (`large/{id}-{v}`) that a change replaced or removed, to be
    destroyed in Vault once no index document names it. Recorded before the index write
    that drops it, so a crash between that write and the destroy loses nothing."""

    __tablename__ = "vault_garbage"

    path: str = Field(primary_key=True, max_length=300)
    org_id: int = Field(foreign_key="organization.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)
