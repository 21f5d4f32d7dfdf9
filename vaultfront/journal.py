"""Changing Vault and the database together, so that no failure leaves a half-written
secret, and nothing uncommitted is ever visible to an executor.

An operation on a secret may touch up to three index documents (one per environment) and
the database. Vault has no transactions across documents, so every operation runs:

1. under the organization's database write lock (`Database.write_session`), so operations
   on one organization never interleave;
2. a *journal record* is written to Vault (`journal/{org}/{op}`, facade-only): which
   secret, which environments, which operation; no ciphertext;
3. each touched environment's index gets the change as *pending* (`stage`): the entry keeps
   its committed name and ciphertext, which is all an executor reads, and carries the new
   one beside it (`layout.Pending`);
4. the database transaction commits;
5. each pending change is made the committed one (`settle`), then the record is deleted.

If Vault fails during 3, or the database at 4, the pending changes are dropped at once
(`unstage`). If the process dies, or Vault goes away, between 2 and 5, the record stays and
`recover` (run before every write to that organization, at start-up and every few seconds)
finishes the job: where the database shows the operation committed it settles the
environments, otherwise it drops their pending changes. Either way an executor only ever
reads values whose database write committed. See docs/design.md.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from vaultfront import layout
from vaultfront.errors import VaultUnavailable
from vaultfront.vault import IndexChanged, VaultStore

log = logging.getLogger("vaultfront.journal")

KEEP: Final = "keep"  # the environment keeps its value (a rename moves it)
Snapshot = tuple[dict[str, layout.Entry], int]


@dataclass(frozen=True)
class EnvChange:
    """What an operation does to one environment: set a ciphertext, clear, or keep."""

    env: layout.Environment
    value: str | Literal["keep"] | None = field(repr=False)


@dataclass
class Operation:
    org: str
    secret_id: str
    kind: str  # create, update, delete
    name: str  # the secret's name once the operation is done
    target_version: int
    changes: list[EnvChange] = field(default_factory=list)
    op_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    # Index documents as this process last wrote them (entries, CAS version), under the
    # lock: settling can skip reading them again. Not part of the record.
    snapshots: dict[str, Snapshot] = field(default_factory=dict, repr=False)

    def to_record(self) -> dict[str, Any]:
        return {
            "op": self.op_id,
            "org": self.org,
            "secret_id": self.secret_id,
            "kind": self.kind,
            "name": self.name,
            "target_version": self.target_version,
            "envs": [change.env for change in self.changes],
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Operation:
        return cls(
            org=str(record["org"]),
            secret_id=str(record["secret_id"]),
            kind=str(record["kind"]),
            name=str(record["name"]),
            target_version=int(record["target_version"]),
            op_id=str(record["op"]),
            changes=[EnvChange(layout.check_environment(env), KEEP) for env in record["envs"]],
        )


def _find(entries: dict[str, layout.Entry], secret_id: str) -> tuple[str, layout.Entry] | None:
    for key, entry in entries.items():
        if entry.id == secret_id:
            return key, entry
    return None


def _read(store: VaultStore, op: Operation, env: layout.Environment) -> Snapshot:
    snapshot = op.snapshots.pop(env, None)
    if snapshot is not None:
        return dict(snapshot[0]), snapshot[1]
    return store.read_index(op.org, env)


def _write(
    store: VaultStore,
    op: Operation,
    env: layout.Environment,
    entries: dict[str, layout.Entry],
    cas: int,
) -> None:
    store.write_index(op.org, env, entries, cas)
    op.snapshots[env] = (entries, cas + 1)


def stage(store: VaultStore, op: Operation, change: EnvChange) -> None:
    """Step 3 for one environment: put the change beside the committed value, as pending.

    Idempotent. A large ciphertext goes to its own `large/{id}-{version}` entry first, so
    the committed value's entry stays readable until the change settles.
    """
    env = change.env
    entries, cas = _read(store, op, env)
    found = _find(entries, op.secret_id)
    key, current = found if found else (op.name, None)
    if current is not None and current.pending is not None:
        if current.pending.op == op.op_id:
            return  # already staged
        raise VaultUnavailable(
            "Another change to this secret is still being settled in Vault; nothing was "
            "written. Try again in a moment."
        )
    committed = current is not None and current.committed
    if change.value is None or change.value == KEEP:
        if not committed or current is None:
            return  # nothing to clear or keep
        if change.value is None:
            pending = layout.Pending(op=op.op_id, name=key, version=op.target_version, gone=True)
        else:
            if key == op.name:
                return  # kept under the same name: nothing changes
            pending = layout.Pending(
                op=op.op_id, name=op.name, version=op.target_version, ct=current.ct, ref=current.ref
            )
    else:
        ct = change.value
        pending = layout.Pending(op=op.op_id, name=op.name, version=op.target_version, ct=ct)
        trial = {**entries, key: layout.Entry(op.secret_id, 0, pending=pending)}
        too_big = layout.index_size(trial) > layout.INDEX_SIZE_BUDGET
        if len(ct) > layout.INLINE_CIPHERTEXT_LIMIT or too_big:
            ref = layout.large_path(op.org, env, op.secret_id, op.target_version)
            store.write_large(ref, ct)
            pending = layout.Pending(op=op.op_id, name=op.name, version=op.target_version, ref=ref)
    squatter = entries.get(key)
    if squatter is not None and squatter.id != op.secret_id:
        # The database (under the organization's lock) says the name is free, so an entry
        # under it is an orphan (written outside vaultfront): replace it.
        log.warning("replacing an orphan index entry %s in %s/%s", key, op.org, env)
    base = current or layout.Entry(id=op.secret_id, version=0)
    entries[key] = layout.Entry(
        id=op.secret_id, version=base.version, ct=base.ct, ref=base.ref, pending=pending
    )
    _write(store, op, env, entries, cas)


def _staged(
    entries: dict[str, layout.Entry], op: Operation
) -> tuple[str, layout.Entry, layout.Pending] | None:
    """The secret's entry and the change this operation staged in it, if there is one."""
    found = _find(entries, op.secret_id)
    if found is None or found[1].pending is None or found[1].pending.op != op.op_id:
        return None
    return found[0], found[1], found[1].pending


def settle(store: VaultStore, op: Operation, env: layout.Environment) -> None:
    """Step 5 for one environment: the pending change becomes the committed value."""
    entries, cas = _read(store, op, env)
    staged = _staged(entries, op)
    if staged is None:
        return
    key, entry, pending = staged
    del entries[key]
    if not pending.gone:
        entries[pending.name] = layout.Entry(
            id=op.secret_id, version=pending.version, ct=pending.ct, ref=pending.ref
        )
    _write(store, op, env, entries, cas)
    if entry.ref and entry.ref != pending.ref:
        store.destroy(entry.ref)


def unstage(store: VaultStore, op: Operation, env: layout.Environment) -> None:
    """Drop the environment's pending change; the committed value stays as it was."""
    entries, cas = _read(store, op, env)
    staged = _staged(entries, op)
    if staged is None:
        return
    key, entry, pending = staged
    del entries[key]
    if entry.committed:
        entries[key] = layout.Entry(
            id=op.secret_id, version=entry.version, ct=entry.ct, ref=entry.ref
        )
    _write(store, op, env, entries, cas)
    if pending.ref and pending.ref != entry.ref:
        store.destroy(pending.ref)


def undo(store: VaultStore, op: Operation) -> bool:
    """Drop every pending change of the operation; True when done and the record removed."""
    try:
        for change in reversed(op.changes):
            unstage(store, op, change.env)
        store.delete_journal(op.org, op.op_id)
    except (VaultUnavailable, IndexChanged):
        log.error("could not undo operation %s in %s yet; it stays recorded", op.op_id, op.org)
        return False
    return True


def execute(store: VaultStore, op: Operation) -> None:
    """Steps 2 and 3: record, then stage. On failure, undo and raise VaultUnavailable."""
    if not op.changes:
        return
    store.write_journal(op.org, op.op_id, op.to_record())
    try:
        for change in op.changes:
            stage(store, op, change)
    except (VaultUnavailable, IndexChanged) as exc:
        op.snapshots.clear()
        undo(store, op)
        if isinstance(exc, VaultUnavailable):
            raise
        raise VaultUnavailable(
            "The secrets index in Vault changed during the write (another writer outside "
            "vaultfront?); nothing was written. Try again."
        ) from None


def finish(store: VaultStore, op: Operation) -> None:
    """Step 5, after the database committed. A failure here is repaired by `recover`;
    until then executors keep reading the value from before the operation."""
    if not op.changes:
        return
    try:
        for change in op.changes:
            try:
                settle(store, op, change.env)
            except IndexChanged:
                # Another writer recovered (settled) this operation between our commit and
                # now, so the index we wrote is not the latest: look again.
                op.snapshots.pop(change.env, None)
                settle(store, op, change.env)
        store.delete_journal(op.org, op.op_id)
    except (VaultUnavailable, IndexChanged):
        log.warning("operation %s committed; it settles in Vault at the next recovery", op.op_id)


def recover(store: VaultStore, org: str, committed: Callable[[Operation], bool]) -> int:
    """Settle or drop operations left in flight in an organization. Returns how many.

    `committed(op)` tells whether the database holds the operation's result. Must run
    under the organization's write lock.
    """
    count = 0
    for op_id in store.list_journal(org):
        record = store.read_journal(org, op_id)
        if record is None:
            continue
        op = Operation.from_record(record)
        done = committed(op)
        for change in op.changes:
            if done:
                settle(store, op, change.env)
            else:
                unstage(store, op, change.env)
        store.delete_journal(org, op.op_id)
        log.info(
            "recovered operation %s (%s) in %s: %s",
            op.op_id,
            op.kind,
            org,
            "settled" if done else "dropped",
        )
        count += 1
    return count
