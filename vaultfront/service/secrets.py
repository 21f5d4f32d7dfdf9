"""The secrets service: every operation on a secret, in one order.

authenticate (the route) -> check permission -> encrypt (Transit; no state changes)
-> one short transaction under the organization's write lock: re-check, database changes,
audit record, outbox row -> commit (the commit point) -> apply the outbox to Vault, outside
any database lock (`vaultfront.outbox`).

Plaintext values exist here only between the request and `VaultStore.encrypt_many`; what
is kept is ciphertext (in Vault, and in the outbox while a change is in flight) and masks
(in the database).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import Session, col, select

from vaultfront import layout
from vaultfront.config import Settings
from vaultfront.db import Database
from vaultfront.errors import Invalid, NameTaken, NotFound, VaultUnavailable, VersionConflict
from vaultfront.masks import mask_value
from vaultfront.models import (
    AuditEvent,
    Membership,
    Organization,
    Secret,
    SecretValue,
    User,
    utcnow,
)
from vaultfront.schemas import CreateSecret, UpdateSecret
from vaultfront.service.outbox import ChangeKind, EnvChange, Operation, Outbox
from vaultfront.service.permissions import (
    Actor,
    can_edit,
    can_own,
    require_admin,
    require_create,
    require_edit,
)
from vaultfront.store.vault import VaultStore

log = logging.getLogger("vaultfront.secrets")


def iso(value: Any) -> str:
    return str(value.isoformat().replace("+00:00", "Z"))


def is_secret_id(text: str) -> bool:
    """A secret id as the server assigns them: a canonical, lowercase UUID."""
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False


def owner_json(user: User | None) -> dict[str, Any]:
    if user is None:
        return {"id": None, "email": None, "name": None}
    return {"id": user.id, "email": user.email, "name": user.name}


def display_name(user: User | None) -> str:
    return user.display_name if user else "the owner"


def row_json(secret: Any, owner: dict[str, Any], environments: dict[str, bool]) -> dict[str, Any]:
    """A grid row, from a `Secret` or from a result row of the same columns, with whether
    each environment's value is set."""
    return {
        "id": secret.id,
        "name": secret.name,
        "description": secret.description,
        "owner": owner,
        "created_at": iso(secret.created_at),
        "updated_at": iso(secret.updated_at),
        "environments": environments,
    }


def detail_json(secret: Secret, owner: User | None, actor: Actor) -> dict[str, Any]:
    return {
        **row_json(
            secret,
            owner_json(owner),
            {env: secret.is_set(env) for env in layout.ENVIRONMENTS},
        ),
        "version": secret.version,
        "can_edit": can_edit(actor, secret),
        "values": {
            env: {"set": secret.is_set(env), "mask": secret.mask(env)}
            for env in layout.ENVIRONMENTS
        },
    }


#: The columns of a grid row (`row_json`), as `SecretService.rows` selects them.
ROW_COLUMNS = (
    col(Secret.id),
    col(Secret.name),
    col(Secret.description),
    col(Secret.owner_id),
    col(Secret.created_at),
    col(Secret.updated_at),
)


class SecretService:
    def __init__(self, db: Database, store: VaultStore) -> None:
        self.db = db
        self.store = store
        self.outbox = Outbox(db, store)

    @classmethod
    def connect(cls, settings: Settings) -> SecretService:
        """The service over the configured database and Vault (the web app's, the CLI's)."""
        return cls(Database(settings.database_url), VaultStore(settings))

    # --- reads ------------------------------------------------------------------------

    def rows(self, session: Session, actor: Actor) -> list[dict[str, Any]]:
        """The grid rows. Plain columns, not ORM objects: a 10,000-row organization costs
        a tenth of the time, and each owner's JSON is built once.

        One statement for the rows and their environments (so one snapshot, on PostgreSQL
        too): the secret's `secret_value` rows joined and folded into one 0/1 column per
        environment of `layout.ENVIRONMENTS`.
        """
        flags = [
            sa.func.max(sa.case((col(SecretValue.environment) == env, 1), else_=0)).label(
                f"set_{i}"
            )
            for i, env in enumerate(layout.ENVIRONMENTS)
        ]
        query = (
            sa.select(*ROW_COLUMNS, *flags)
            .outerjoin(SecretValue, col(SecretValue.secret_id) == col(Secret.id))
            .where(col(Secret.org_id) == actor.org.id)
            .group_by(col(Secret.id))  # the other columns depend on it (PostgreSQL agrees)
            .order_by(col(Secret.name))
        )
        result = session.connection().execute(query).all()
        owner_ids = {row.owner_id for row in result}
        owners = {
            user.id: owner_json(user)
            for user in session.exec(select(User).where(col(User.id).in_(owner_ids)))
        }
        first_flag = len(ROW_COLUMNS)
        return [
            row_json(
                row,
                owners.get(row.owner_id) or owner_json(None),
                dict(zip(layout.ENVIRONMENTS, map(bool, row[first_flag:]), strict=True)),
            )
            for row in result
        ]

    def _load(self, session: Session, actor: Actor, secret_id: str) -> tuple[Secret, User | None]:
        secret = session.get(Secret, secret_id) if is_secret_id(secret_id) else None
        if secret is None or secret.org_id != actor.org.id:
            raise NotFound("No such secret in this organization.")
        return secret, session.get(User, secret.owner_id)

    def _editable(
        self, session: Session, actor: Actor, secret_id: str, if_match: int | None
    ) -> tuple[Secret, User | None]:
        """The secret, if the actor may change it and `If-Match` (when sent) is current.

        Checked once before the work and again under the organization's lock.
        """
        secret, owner = self._load(session, actor, secret_id)
        require_edit(actor, secret, display_name(owner))
        if if_match is not None and if_match != secret.version:
            raise VersionConflict()
        return secret, owner

    def authorize_edit(self, session: Session, actor: Actor, secret_id: str) -> None:
        """404 or 403 unless the actor may change the secret: routes call it before they
        validate a body, so that permission is decided first (SPEC section 4)."""
        self._editable(session, actor, secret_id, None)

    def get(self, session: Session, actor: Actor, secret_id: str) -> dict[str, Any]:
        secret, owner = self._load(session, actor, secret_id)
        return detail_json(secret, owner, actor)

    # --- writes -----------------------------------------------------------------------

    def _name_taken(self, session: Session, org_id: int, name: str, but: str | None) -> bool:
        query = select(Secret.id).where(Secret.org_id == org_id, Secret.name == name)
        found = session.exec(query).first()
        return found is not None and found != but

    def recover_all(self) -> int:
        """Apply what crashed or interrupted writes left in the outbox, in every
        organization. Returns how many changes were applied."""
        return self.outbox.recover()

    def _encrypt(
        self, session: Session, org: str, values: dict[layout.Environment, str | None]
    ) -> dict[layout.Environment, tuple[str, str] | None]:
        """env -> (ciphertext, mask), or None to clear. Plaintext stops here.

        Ends the request's read transaction first (its objects stay loaded), so that no
        database connection or snapshot is held while Vault answers, and a request holds
        one connection at a time from here on.
        """
        session.commit()
        envs = list(values)

        def seal(env: layout.Environment) -> tuple[str, str] | None:
            value = values[env]
            if value is None:
                return None
            (ciphertext,) = self.store.encrypt_many(org, env, [value])
            return ciphertext, mask_value(value)

        return dict(zip(envs, self.store.each(seal, envs), strict=True))

    def _audit(
        self, session: Session, actor: Actor, action: str, secret: Secret, detail: str
    ) -> None:
        assert actor.org.id is not None
        session.add(
            AuditEvent(
                org_id=actor.org.id,
                actor_id=actor.user_id,
                action=action,
                secret_id=secret.id,
                secret_name=secret.name,
                detail=detail[:400],
            )
        )

    def _flush(self, session: Session, name: str) -> None:
        try:
            session.flush()
        except IntegrityError:
            session.rollback()
            raise NameTaken(name) from None

    def _commit(self, session: Session, org: Organization, changes: list[EnvChange]) -> None:
        """Commit (the write's commit point), then apply the change to Vault.

        The commit releases the organization's lock before any Vault call. If Vault cannot
        take the change now, the write still stands (it is committed, and answered as the
        success it is): the outbox row stays, executors keep reading the value from before,
        and the next write to the organization, the start-up or the background pass
        applies it.
        """
        batch = self.outbox.pending(session, org) if changes else None
        session.commit()
        if batch is None:
            return
        try:
            self.outbox.apply(batch.org.id, batch)
        except VaultUnavailable as exc:
            log.warning("change committed; Vault applies it at the next pass: %s", exc.message)
        except SQLAlchemyError as exc:
            log.warning(
                "change committed; Vault applies it at the next pass (%s)", type(exc).__name__
            )

    def create(self, session: Session, actor: Actor, request: CreateSecret) -> dict[str, Any]:
        require_create(actor)
        org_id = actor.org.id
        assert org_id is not None
        if self._name_taken(session, org_id, request.name, None):
            raise NameTaken(request.name)
        sealed = self._encrypt(session, actor.org.slug, dict(request.values))
        if not sealed:
            self.store.check()
        with self.db.write_session(org_id) as ws:
            if self._name_taken(ws, org_id, request.name, None):
                raise NameTaken(request.name)
            secret = Secret(
                org_id=org_id,
                name=request.name,
                description=request.description,
                owner_id=actor.user_id,
                # Loaded and empty from the start: the detail answered after the commit
                # reads it without going back to the database.
                values={},
            )
            changes = []
            for env, pair in sealed.items():
                assert pair is not None
                ct, mask = pair
                secret.set_mask(env, mask)
                changes.append(EnvChange(env, ChangeKind.SET, ct))
            ws.add(secret)
            self._audit(ws, actor, "secret.create", secret, f"environments: {sorted(sealed)}")
            self._flush(ws, request.name)
            Outbox.add(
                ws,
                org_id=org_id,
                secret_id=secret.id,
                kind=Operation.CREATE,
                name=secret.name,
                version=secret.version,
                changes=changes,
            )
            self._commit(ws, actor.org, changes)
        return detail_json(secret, actor.user, actor)

    def update(
        self,
        session: Session,
        actor: Actor,
        secret_id: str,
        request: UpdateSecret,
        if_match: int | None,
    ) -> dict[str, Any]:
        secret, owner = self._editable(session, actor, secret_id, if_match)
        if request.empty:
            return detail_json(secret, owner, actor)
        if request.owner_id is not None and request.owner_id != secret.owner_id:
            require_admin(actor)
            self._new_owner(session, actor, request.owner_id)
        renamed = request.name is not None and request.name != secret.name
        if renamed and self._name_taken(session, actor.org.id or 0, request.name or "", secret.id):
            raise NameTaken(request.name or "")
        sealed = self._encrypt(session, actor.org.slug, request.values)
        if not any(pair is not None for pair in sealed.values()) and (renamed or request.values):
            self.store.check()  # a rename or clear changes Vault without encrypting
        with self.db.write_session(secret.org_id) as ws:
            secret, owner = self._editable(ws, actor, secret_id, if_match)
            new_name = request.name if request.name is not None else secret.name
            if new_name != secret.name and self._name_taken(ws, secret.org_id, new_name, secret.id):
                raise NameTaken(new_name)
            version = secret.version + 1
            changes = self._plan(secret, new_name, sealed)
            changed: list[str] = []
            if new_name != secret.name:
                changed.append(f"name {secret.name} -> {new_name}")
            secret.name = new_name
            if request.owner_id is not None and request.owner_id != secret.owner_id:
                owner = self._new_owner(ws, actor, request.owner_id)
                changed.append(f"owner {secret.owner_id} -> {owner.id}")
                secret.owner_id = request.owner_id
            if request.description is not None and request.description != secret.description:
                secret.description = request.description
                changed.append("description")
            for env, pair in sealed.items():
                if pair is None:
                    secret.clear(env)
                else:
                    secret.set_mask(env, pair[1])
                changed.append(f"{env} {'set' if pair else 'cleared'}")
            secret.version = version
            secret.updated_at = utcnow()
            ws.add(secret)
            self._audit(ws, actor, "secret.update", secret, "; ".join(changed))
            self._flush(ws, new_name)
            Outbox.add(
                ws,
                org_id=secret.org_id,
                secret_id=secret.id,
                kind=Operation.UPDATE,
                name=new_name,
                version=version,
                changes=changes,
            )
            self._commit(ws, actor.org, changes)
        return detail_json(secret, owner, actor)

    @staticmethod
    def _new_owner(session: Session, actor: Actor, user_id: int) -> User:
        """A member of the organization who may create secrets (so may own one)."""
        user = session.get(User, user_id)
        membership = None
        if user is not None:
            membership = session.exec(
                select(Membership).where(
                    Membership.user_id == user_id, Membership.org_id == actor.org.id
                )
            ).first()
        # A membership is required even of a superadmin: an owner belongs to the organization.
        if user is None or membership is None or not can_own(user, membership.role):
            raise Invalid(
                "The new owner must be a member or admin of this organization.", field="owner_id"
            )
        return user

    @staticmethod
    def _plan(
        secret: Secret, new_name: str, sealed: dict[layout.Environment, tuple[str, str] | None]
    ) -> list[EnvChange]:
        """What an update does to each environment: set, clear, or keep under a new name."""
        changes = []
        for env in layout.ENVIRONMENTS:
            if env in sealed:
                pair = sealed[env]
                if pair is not None:
                    changes.append(EnvChange(env, ChangeKind.SET, pair[0]))
                elif secret.is_set(env):
                    changes.append(EnvChange(env, ChangeKind.CLEAR))
            elif new_name != secret.name and secret.is_set(env):
                changes.append(EnvChange(env, ChangeKind.KEEP))
        return changes

    def delete(self, session: Session, actor: Actor, secret_id: str, if_match: int | None) -> None:
        secret, _ = self._editable(session, actor, secret_id, if_match)
        session.commit()  # no connection held while Vault answers (see `_encrypt`)
        self.store.check()
        with self.db.write_session(secret.org_id) as ws:
            secret, _ = self._editable(ws, actor, secret_id, if_match)
            # Every environment, whatever the flags say: a delete leaves nothing behind.
            changes = [EnvChange(env, ChangeKind.CLEAR) for env in layout.ENVIRONMENTS]
            self._audit(ws, actor, "secret.delete", secret, "")
            ws.delete(secret)
            ws.flush()
            Outbox.add(
                ws,
                org_id=secret.org_id,
                secret_id=secret.id,
                kind=Operation.DELETE,
                name=secret.name,
                version=secret.version + 1,
                changes=changes,
            )
            self._commit(ws, actor.org, changes)
