"""Changing Vault and the database together, so that a failure halfway leaves nothing
half-written.

An operation on a secret may touch up to three index documents (one per environment) and
then the database. Vault has no transactions across documents, so every operation runs:

1. under the organization's database write lock (`Database.write_session`), so operations
   on one organization never interleave;
2. first a *journal record* is written to Vault (`journal/{org}/{op}`, facade-only): for
   each environment touched, the value before and the value after, as ciphertext;
3. then each environment's index document is rewritten (`apply_value`, idempotent);
4. then the database transaction commits;
5. then the journal record is deleted.

If Vault fails during 3, the change is undone at once (each environment set back to its
"before"); if the database fails at 4, likewise. If the process dies between 2 and 5, the
record stays, and `recover` (run before every write to that organization, at start-up and
periodically) finishes the job: where the database shows the operation committed, it only
deletes the record; otherwise it sets every environment back. See docs/design.md.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vaultfront import layout
from vaultfront.errors import VaultUnavailable
from vaultfront.vault import IndexChanged, VaultStore

log = logging.getLogger("vaultfront.journal")


@dataclass(frozen=True)
class Value:
    """Where one secret's value in one environment is, logically: its name and ciphertext."""

    name: str
    version: int
    ct: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "ct": self.ct}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Value | None:
        if data is None:
            return None
        return cls(name=str(data["name"]), version=int(data["version"]), ct=str(data["ct"]))


Snapshot = tuple[dict[str, layout.Entry], int]


@dataclass(frozen=True)
class EnvChange:
    env: layout.Environment
    before: Value | None
    after: Value | None


@dataclass
class Operation:
    org: str
    secret_id: str
    kind: str  # create, update, delete
    target_version: int
    changes: list[EnvChange] = field(default_factory=list)
    op_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    # Index documents as read while planning (entries, CAS version), under the lock: the
    # first apply can skip reading them again. Not part of the record.
    snapshots: dict[str, Snapshot] = field(default_factory=dict, repr=False)

    def to_record(self) -> dict[str, Any]:
        return {
            "op": self.op_id,
            "org": self.org,
            "secret_id": self.secret_id,
            "kind": self.kind,
            "target_version": self.target_version,
            "changes": [
                {
                    "env": c.env,
                    "before": c.before and c.before.to_json(),
                    "after": c.after and c.after.to_json(),
                }
                for c in self.changes
            ],
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Operation:
        return cls(
            org=str(record["org"]),
            secret_id=str(record["secret_id"]),
            kind=str(record["kind"]),
            target_version=int(record["target_version"]),
            op_id=str(record["op"]),
            changes=[
                EnvChange(
                    env=layout.check_environment(c["env"]),
                    before=Value.from_json(c["before"]),
                    after=Value.from_json(c["after"]),
                )
                for c in record["changes"]
            ],
        )


def current_value(
    store: VaultStore, op: Operation, env: layout.Environment, secret_id: str
) -> Value | None:
    """The secret's value in one environment as Vault holds it now (ciphertext), if any.

    Keeps the index it read in `op.snapshots` for the apply that follows.
    """
    entries, cas = store.read_index(op.org, env)
    op.snapshots[env] = (dict(entries), cas)
    for name, entry in entries.items():
        if entry.id == secret_id:
            ct = entry.ct if entry.ct is not None else store.read_large(entry.ref or "")
            if ct is None:
                return None
            return Value(name=name, version=entry.version, ct=ct)
    return None


def _holds(
    store: VaultStore, entries: dict[str, layout.Entry], secret_id: str, value: Value | None
) -> bool:
    """Whether the index already holds exactly `value` for this secret (None: nothing)."""
    current = [(name, entry) for name, entry in entries.items() if entry.id == secret_id]
    if value is None:
        return not current
    if len(current) != 1:
        return False
    name, entry = current[0]
    if name != value.name or entry.version != value.version:
        return False
    if entry.ct is not None:
        return entry.ct == value.ct
    return store.read_large(entry.ref or "") == value.ct


def apply_value(
    store: VaultStore,
    org: str,
    env: layout.Environment,
    secret_id: str,
    value: Value | None,
    snapshot: Snapshot | None = None,
) -> None:
    """Make the environment's index hold exactly `value` for this secret (None: nothing).

    Idempotent, so it serves both doing and undoing. A large ciphertext is written before
    the index that points to it, and destroyed only after the index stops pointing to it.
    `snapshot` is the index as just read under the lock (its CAS version guards it).
    """
    entries, cas = snapshot if snapshot is not None else store.read_index(org, env)
    if _holds(store, entries, secret_id, value):
        # Nothing to change: write nothing. Undoing an operation that failed on one
        # environment (Vault refused it) must not write that environment again.
        return
    entries = dict(entries)
    stale_refs = set()
    for name in [n for n, e in entries.items() if e.id == secret_id]:
        if entries[name].ref:
            stale_refs.add(entries[name].ref)
        del entries[name]
    if value is not None:
        squatter = entries.get(value.name)
        if squatter is not None:
            # The database (under the organization's lock) says the name is free, so an
            # entry under it is an orphan; replace it.
            log.warning("replacing orphan index entry %s in %s/%s", value.name, org, env)
            if squatter.ref:
                stale_refs.add(squatter.ref)
        entry = layout.Entry(id=secret_id, version=value.version, ct=value.ct)
        inline_fits = layout.index_size({**entries, value.name: entry}) <= layout.INDEX_SIZE_BUDGET
        if len(value.ct) > layout.INLINE_CIPHERTEXT_LIMIT or not inline_fits:
            path = layout.large_path(org, env, secret_id)
            store.write_large(path, value.ct)
            entry = layout.Entry(id=secret_id, version=value.version, ref=path)
            stale_refs.discard(path)
        entries[value.name] = entry
    store.write_index(org, env, entries, cas)
    for path in sorted(ref for ref in stale_refs if ref):
        store.destroy(path)


def undo(store: VaultStore, op: Operation) -> bool:
    """Set every environment back to its "before"; True when done and the record removed."""
    try:
        for change in reversed(op.changes):
            apply_value(store, op.org, change.env, op.secret_id, change.before)
        store.delete_journal(op.org, op.op_id)
    except (VaultUnavailable, IndexChanged):
        log.error("could not undo operation %s in %s yet; it stays recorded", op.op_id, op.org)
        return False
    return True


def execute(store: VaultStore, op: Operation) -> None:
    """Steps 2 and 3: record, then apply. On failure, undo and raise VaultUnavailable."""
    if not op.changes:
        return
    store.write_journal(op.org, op.op_id, op.to_record())
    try:
        for change in op.changes:
            snapshot = op.snapshots.pop(change.env, None)
            apply_value(store, op.org, change.env, op.secret_id, change.after, snapshot)
    except (VaultUnavailable, IndexChanged) as exc:
        undo(store, op)
        if isinstance(exc, VaultUnavailable):
            raise
        raise VaultUnavailable(
            "The secrets index in Vault changed during the write (another writer outside "
            "vaultfront?); nothing was written. Try again."
        ) from None


def finish(store: VaultStore, op: Operation) -> None:
    """Step 5, after the database committed. A failure here is repaired by `recover`."""
    if not op.changes:
        return
    try:
        store.delete_journal(op.org, op.op_id)
    except VaultUnavailable:
        log.warning("operation %s committed; its record stays until recovery", op.op_id)


def recover(store: VaultStore, org: str, committed: Callable[[Operation], bool]) -> int:
    """Finish or undo operations left in flight in an organization. Returns how many.

    `committed(op)` tells whether the database holds the operation's result. Must run
    under the organization's write lock.
    """
    count = 0
    for op_id in store.list_journal(org):
        record = store.read_journal(org, op_id)
        if record is None:
            continue
        op = Operation.from_record(record)
        if committed(op):
            store.delete_journal(org, op.op_id)
        else:
            for change in reversed(op.changes):
                apply_value(store, org, change.env, op.secret_id, change.before)
            store.delete_journal(org, op.op_id)
        log.info("recovered operation %s (%s) in %s", op.op_id, op.kind, org)
        count += 1
    return count
