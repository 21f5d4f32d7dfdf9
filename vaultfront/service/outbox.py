"""The second half of every write: committed changes that Vault must still apply.

The write path (docs/design.md, "Ordering"):

1. Outside any lock: permission, validation, Transit encryption (which changes nothing).
2. One short database transaction under the organization's write lock: re-check, the
   metadata change, the audit record, and an outbox row (`models.OutboxEntry`) naming what
   Vault must apply, with the new ciphertext. Its COMMIT is the write's commit point. No
   Vault call is made inside it.
3. After the commit, outside any database lock: `Outbox.apply` writes the organization's
   outbox rows, in id order (which is commit order), into each touched environment's index
   document with check-and-set, marks the document `applied = "{epoch}:{last id}"`, deletes
   the rows, and destroys the out-of-line values the change replaced.

So nothing an executor may read ever holds a value whose write did not commit: until the
commit, Vault holds no trace of the write (only the database, which no executor reaches,
holds its ciphertext). A failure before the commit leaves nothing anywhere; a failure
after it leaves the outbox row, which the next `apply` of the organization (the next
write, start-up, or the background pass) finishes. The mark tells which rows a document
already holds, so applying twice, late, or from two processes at once is harmless: a stale
applier either fails its check-and-set or finds the rows already applied.
"""

from __future__ import annotations

import enum
import json
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from vaultfront import layout
from vaultfront.db import Database
from vaultfront.errors import VaultUnavailable
from vaultfront.models import Organization, OutboxEntry, VaultGarbage
from vaultfront.store.vault import IndexChanged, IndexSnapshot, VaultStore

log = logging.getLogger("vaultfront.outbox")

#: Check-and-set attempts per document before the change is left to the next pass.
CAS_ATTEMPTS: Final = 8


class Operation(enum.StrEnum):
    """What a write did to the secret as a whole (the outbox row's `kind`)."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


class ChangeKind(enum.Enum):
    SET = "set"  # a new value (ciphertext)
    CLEAR = "clear"  # the environment's value goes (a clear, or a delete)
    KEEP = "keep"  # the value stays; the entry moves to the secret's new name


@dataclass(frozen=True)
class EnvChange:
    """What a write does to one environment's index document."""

    env: layout.Environment
    kind: ChangeKind
    ct: str | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any] | None:
        if self.kind is ChangeKind.SET:
            return {"ct": self.ct}
        if self.kind is ChangeKind.KEEP:
            return {"keep": True}
        return None

    @classmethod
    def from_json(cls, env: str, data: Any) -> EnvChange:
        checked = layout.check_environment(env)
        if data is None:
            return cls(checked, ChangeKind.CLEAR)
        if data.get("keep"):
            return cls(checked, ChangeKind.KEEP)
        return cls(checked, ChangeKind.SET, str(data["ct"]))


def encode_changes(changes: Iterable[EnvChange]) -> str:
    return json.dumps({c.env: c.to_json() for c in changes}, separators=(",", ":"))


@dataclass(frozen=True)
class Pending:
    """An outbox row as the applier reads it."""

    id: int
    secret_id: str
    name: str
    version: int
    changes: dict[layout.Environment, EnvChange] = field(repr=False)

    @classmethod
    def from_row(cls, row: OutboxEntry) -> Pending:
        assert row.id is not None
        changes = {
            change.env: change
            for change in (
                EnvChange.from_json(env, data) for env, data in json.loads(row.changes).items()
            )
        }
        return cls(row.id, row.secret_id, row.name, row.version, changes)


def applied_mark(epoch: str, row_id: int) -> str:
    return f"{epoch}:{row_id}"


def applied_id(mark: str, epoch: str) -> int:
    """The last outbox id a document holds, by its mark; 0 for a mark of another database
    (or none): such a document has taken none of our rows."""
    mark_epoch, _, number = mark.partition(":")
    if mark_epoch != epoch or not number.isdigit():
        return 0
    return int(number)


@dataclass(frozen=True)
class _Org:
    id: int
    slug: str
    epoch: str


@dataclass(frozen=True)
class Batch:
    """An organization's outbox rows, in id order, as one write listed them."""

    org: _Org
    rows: list[Pending]


class Outbox:
    """Applies committed changes to Vault; one per process (`SecretService.outbox`).

    Applying an organization's rows takes a per-organization lock of this process (only
    appliers wait on it, never a request's database work) and keeps the index documents it
    last wrote, so the next write of the organization does not read them again.
    """

    def __init__(self, db: Database, store: VaultStore) -> None:
        self.db = db
        self.store = store
        self._guard = threading.Lock()
        self._org_locks: dict[int, threading.Lock] = {}
        self._snapshots: dict[tuple[str, str], IndexSnapshot] = {}

    # --- inside the write's transaction --------------------------------------------------

    @staticmethod
    def add(
        session: Session,
        *,
        org_id: int,
        secret_id: str,
        kind: Operation,
        name: str,
        version: int,
        changes: list[EnvChange],
    ) -> None:
        """Record the change in the caller's transaction (which holds the organization's
        write lock): it commits, or rolls back, with the metadata."""
        if changes:
            session.add(
                OutboxEntry(
                    org_id=org_id,
                    secret_id=secret_id,
                    kind=kind.value,
                    name=name,
                    version=version,
                    changes=encode_changes(changes),
                )
            )

    # --- after the commit -----------------------------------------------------------------

    def pending(self, session: Session, org: Organization) -> Batch:
        """The organization's outbox rows, read inside the write's own transaction (which
        holds the organization's lock, so they are exactly the rows committed before it
        plus its own): the write then applies them without reading them again."""
        assert org.id is not None
        return Batch(_Org(org.id, org.slug, org.vault_epoch), self._rows(session, org.id))

    def apply(self, org_id: int, batch: Batch | None = None) -> int:
        """Write every committed change of the organization into Vault, in commit order.

        `batch`: the rows as the committing write listed them (`pending`); without it they
        are read. Returns how many outbox rows were applied. Raises `VaultUnavailable` when
        Vault cannot take them now; the rows stay and a later call finishes them.
        """
        with self._lock_for(org_id):
            if batch is None:
                batch = self._load(org_id)
                if batch is None:
                    return 0
                garbage = True  # recovery: whatever an earlier apply left to destroy
            else:
                garbage = False
            org, rows = batch.org, batch.rows
            if rows:
                last = rows[-1].id
                touched = [
                    env for env in layout.ENVIRONMENTS if any(env in r.changes for r in rows)
                ]
                # The environments' documents are independent: written side by side.
                garbage |= any(
                    self.store.each(
                        lambda env: self._apply_env(
                            org, env, [r for r in rows if env in r.changes], last
                        ),
                        touched,
                    )
                )
                self._delete_rows([row.id for row in rows])
            if garbage:
                self._collect_garbage(org)
            return len(rows)

    def recover(self) -> int:
        """Apply what every organization has left in the outbox (start-up, and the
        background pass): a database query, and Vault calls only where rows are left."""
        with self.db.session() as session:
            orgs = set(session.exec(select(OutboxEntry.org_id).distinct()))
            orgs |= set(session.exec(select(VaultGarbage.org_id).distinct()))
        return sum(self.apply(org_id) for org_id in sorted(orgs))

    def forget(self) -> None:
        """Drop the index documents this process holds, as a process that starts anew
        knows none (tests)."""
        with self._guard:
            self._snapshots.clear()

    # --- the pieces -------------------------------------------------------------------------

    def _lock_for(self, org_id: int) -> threading.Lock:
        with self._guard:
            return self._org_locks.setdefault(org_id, threading.Lock())

    @staticmethod
    def _rows(session: Session, org_id: int) -> list[Pending]:
        rows = session.exec(
            select(OutboxEntry).where(OutboxEntry.org_id == org_id).order_by(col(OutboxEntry.id))
        ).all()
        return [Pending.from_row(row) for row in rows]

    def _load(self, org_id: int) -> Batch | None:
        with self.db.session() as session:
            org = session.get(Organization, org_id)
            return None if org is None else self.pending(session, org)

    def _snapshot(self, org: str, env: str) -> IndexSnapshot:
        held = self._snapshots.get((org, env))
        return held if held is not None else self.store.read_index(org, env)

    def _apply_env(
        self, org: _Org, env: layout.Environment, rows: list[Pending], last: int
    ) -> bool:
        """Bring one environment's index document up to `last` (check-and-set, retried).
        True when it left out-of-line values to destroy."""
        key = (org.slug, env)
        for _ in range(CAS_ATTEMPTS):
            snapshot = self._snapshot(org.slug, env)
            done = applied_id(snapshot.applied, org.epoch)
            todo = [row for row in rows if row.id > done]
            if not todo:
                return False
            entries, garbage = self._changed(org, env, snapshot, todo)
            if garbage:
                self._record_garbage(org.id, garbage)
            try:
                self._snapshots[key] = self.store.write_index(
                    org.slug, env, entries, snapshot.cas, applied_mark(org.epoch, last)
                )
                return bool(garbage)
            except IndexChanged:
                # Another process wrote the document since we read it: read it again.
                self._snapshots.pop(key, None)
            except VaultUnavailable:
                self._snapshots.pop(key, None)
                raise
        raise VaultUnavailable(
            "The secrets index in Vault kept changing while vaultfront applied a saved "
            "change (another writer outside vaultfront?); it is retried in the background."
        )

    def _changed(
        self, org: _Org, env: layout.Environment, snapshot: IndexSnapshot, rows: list[Pending]
    ) -> tuple[dict[str, layout.Entry], list[str]]:
        """The document's entries with `rows` applied in order, and the out-of-line values
        that no longer belong to it."""
        entries = dict(snapshot.entries)
        names = {entry.id: name for name, entry in entries.items()}
        size = snapshot.size
        garbage: list[str] = []
        for row in rows:
            change = row.changes[env]
            old_name = names.pop(row.secret_id, None)
            old = entries.pop(old_name) if old_name is not None else None
            new: layout.Entry | None = None
            if change.kind is ChangeKind.SET:
                assert change.ct is not None
                size += len(change.ct) + len(row.name) + 80
                if len(change.ct) > layout.INLINE_CIPHERTEXT_LIMIT or (
                    size > layout.INDEX_SIZE_BUDGET
                ):
                    ref = layout.large_path(org.slug, env, row.secret_id, row.version)
                    self.store.write_large(ref, change.ct)
                    new = layout.Entry(row.secret_id, row.version, ref=ref)
                else:
                    new = layout.Entry(row.secret_id, row.version, ct=change.ct)
            elif change.kind is ChangeKind.KEEP and old is not None:
                new = layout.Entry(row.secret_id, row.version, ct=old.ct, ref=old.ref)
            if old is not None and old.ref and (new is None or new.ref != old.ref):
                garbage.append(old.ref)
            if new is not None:
                squatter = entries.get(row.name)
                if squatter is not None:
                    # The database said the name was free when this change committed, so an
                    # entry under it is an orphan written outside vaultfront: replace it.
                    log.warning("replacing an orphan index entry in %s/%s", org.slug, env)
                    names.pop(squatter.id, None)
                entries[row.name] = new
                names[row.secret_id] = row.name
        return entries, garbage

    def _record_garbage(self, org_id: int, paths: list[str]) -> None:
        rows = [{"path": path, "org_id": org_id} for path in paths]
        model = VaultGarbage.__table__  # type: ignore[attr-defined]
        insert: Any
        if self.db.is_sqlite:
            insert = sqlite.insert(model).values(rows).on_conflict_do_nothing()
        else:
            insert = postgresql.insert(model).values(rows).on_conflict_do_nothing()
        with self.db.engine.begin() as conn:
            conn.execute(insert)

    def _delete_rows(self, ids: list[int]) -> None:
        with self.db.engine.begin() as conn:
            conn.execute(sa.delete(OutboxEntry).where(col(OutboxEntry.id).in_(ids)))

    def _collect_garbage(self, org: _Org) -> None:
        """Destroy the organization's replaced out-of-line values that no index document
        names any more (DELETE {kv}/metadata/...: every version, gone for good)."""
        with self.db.session() as session:
            paths = list(
                session.exec(select(VaultGarbage.path).where(VaultGarbage.org_id == org.id))
            )
        done: list[str] = []
        for path in paths:
            parts = path.split("/")
            env = parts[2] if len(parts) > 3 and parts[1] == org.slug else None
            if env not in layout.ENVIRONMENTS:
                done.append(path)  # not ours to destroy
                continue
            snapshot = self._snapshot(org.slug, env)
            if any(entry.ref == path for entry in snapshot.entries.values()):
                continue  # still named (a change not applied yet): keep it
            self.store.destroy(path)
            done.append(path)
        if done:
            with self.db.engine.begin() as conn:
                conn.execute(sa.delete(VaultGarbage).where(col(VaultGarbage.path).in_(done)))
