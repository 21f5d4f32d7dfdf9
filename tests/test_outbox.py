"""The outbox's pure parts: the applied mark and the changes a row carries. The write path
itself is exercised against real OpenBao and both databases in test_faults.py,
test_concurrency.py and test_write_path.py."""

from __future__ import annotations

import json

from vaultfront import layout
from vaultfront.models import OutboxEntry
from vaultfront.service.outbox import (
    ChangeKind,
    EnvChange,
    Pending,
    applied_id,
    applied_mark,
    encode_changes,
)

CT = "vault:v1:Zm9vYmFy"


def test_a_mark_counts_only_for_its_own_database() -> None:
    assert applied_id(applied_mark("e1", 42), "e1") == 42
    assert applied_id(applied_mark("e1", 42), "e2") == 0  # another database's rows
    for mark in ("", "e1", "e1:", "e1:x", "e1:-3", ":5"):
        assert applied_id(mark, "e1") == 0, mark


def test_changes_round_trip_and_hold_only_ciphertext() -> None:
    changes = [
        EnvChange(layout.check_environment("development"), ChangeKind.SET, CT),
        EnvChange(layout.check_environment("staging"), ChangeKind.KEEP),
        EnvChange(layout.check_environment("production"), ChangeKind.CLEAR),
    ]
    text = encode_changes(changes)
    assert json.loads(text) == {
        "development": {"ct": CT},
        "staging": {"keep": True},
        "production": None,
    }
    row = OutboxEntry(
        id=9, org_id=1, secret_id="s", kind="update", name="N", version=2, changes=text
    )
    pending = Pending.from_row(row)
    assert list(pending.changes.values()) == changes
    assert CT not in repr(pending) and CT not in repr(changes[0])  # never in logs
