"""Where vaultfront keeps things in Vault, and the format of what it keeps there.

This module is pure (no I/O): the facade (`vaultfront.store.vault`) writes with it, the
executor (`vaultfront.executor`) reads with it, and the operator commands
(`vaultfront.vault_admin`) scope policies with it. See `docs/design.md` for why.

KV v2 mount (default `vaultfront`), configured with `max_versions = 1` so that a write
destroys the previous version: no earlier value stays readable to anyone.

    orgs/{org}/{env}                 the environment's index document (one per org and env)
    orgs/{org}/{env}/large/{id}-{v}  a value too large to keep in the index (rare)

Transit mount (default `vaultfront-transit`): one key per organization and environment,
named `org-{org}-{env}`.

The index document's KV data is `{"format": FORMAT, "secrets": "<json>"}`: the JSON string
maps each secret NAME to `{"id": uuid, "version": int, "ct": "vault:v1:..."}` or, for a
value kept out of line, `{"id": uuid, "version": int, "ref": "orgs/{org}/{env}/large/{id}-{v}"}`.
An index document holds only committed values: the facade writes it after the database
committed the change (`vaultfront.outbox`), so no value an executor can read was ever
rolled back. Its `applied` field marks the last committed change written into it. The map
is written compact (no spaces) with its names sorted, which lets
`find_committed` decode only the entries asked for.
The map is one string, not one KV field per secret, because OpenBao's listener caps a
request at 1,000 JSON strings (499 fields); one string keeps a 2,000-secret environment in
one read. Everything in it is Transit ciphertext or metadata; never a plaintext value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final, NewType

#: An environment's name, once checked against `ENVIRONMENTS` (`check_environment`). A plain
#: string to the database and to Vault's paths, so another environment is a change to the
#: list below (and a migration of the data), not a new type or new columns.
Environment = NewType("Environment", str)
ENVIRONMENTS: Final[tuple[Environment, ...]] = tuple(
    Environment(name) for name in ("development", "staging", "production")
)

FORMAT: Final = "vaultfront/1"
ORG_SLUG_PATTERN: Final = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
SECRET_NAME_PATTERN: Final = re.compile(r"^[A-Z][A-Z0-9_]{0,127}$")

#: A ciphertext longer than this is kept out of line, in its own KV entry.
INLINE_CIPHERTEXT_LIMIT: Final = 4096
#: The index document stays below this many bytes (raft caps one entry at 1 MiB).
INDEX_SIZE_BUDGET: Final = 768 * 1024


def check_org_slug(org: str) -> str:
    if not ORG_SLUG_PATTERN.fullmatch(org):
        raise ValueError(
            f"{org!r} is not an organization slug: use 1 to 63 lowercase letters, digits "
            "and hyphens, starting and ending with a letter or digit"
        )
    return org


def check_environment(env: str) -> Environment:
    if env not in ENVIRONMENTS:
        raise ValueError(f"{env!r} is not an environment: use one of {', '.join(ENVIRONMENTS)}")
    return Environment(env)


def index_path(org: str, env: str) -> str:
    return f"orgs/{check_org_slug(org)}/{check_environment(env)}"


def large_path(org: str, env: str, secret_id: str, version: int) -> str:
    """Versioned and written once: a writer that lost a race (check-and-set) can only
    rewrite the same ciphertext to the same path, never an older value over a newer one."""
    return f"{index_path(org, env)}/large/{secret_id}-{version}"


def transit_key(org: str, env: str) -> str:
    return f"org-{check_org_slug(org)}-{check_environment(env)}"


@dataclass(frozen=True)
class Entry:
    """One secret's value in one environment, as Vault holds it: inline Transit ciphertext
    (`ct`) or the KV path of an out-of-line one (`ref`). Every entry is committed: the
    facade writes the index only after the database committed the change."""

    id: str
    version: int
    ct: str | None = None  # inline Transit ciphertext
    ref: str | None = None  # KV path of an out-of-line ciphertext

    @property
    def committed(self) -> bool:
        return self.ct is not None or self.ref is not None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "version": self.version}
        if self.ct is not None:
            data["ct"] = self.ct
        if self.ref is not None:
            data["ref"] = self.ref
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Entry:
        return cls(
            id=str(data["id"]),
            version=int(data["version"]),
            ct=data.get("ct"),
            ref=data.get("ref"),
        )


def _secrets_text(kv_data: dict[str, Any]) -> str:
    """The JSON text of an index document's secrets map, after checking its format."""
    if kv_data.get("format") != FORMAT:
        raise ValueError(f"unknown index format {kv_data.get('format')!r}")
    text = kv_data.get("secrets") or "{}"
    if not isinstance(text, str):
        raise ValueError("the secrets map is not a string")
    return text


def _parse_map(text: str) -> dict[str, Any]:
    raw = json.loads(text)
    if not isinstance(raw, dict):
        raise ValueError("the secrets map is not an object")
    return raw


def _raw_map(kv_data: dict[str, Any] | None) -> dict[str, Any]:
    return _parse_map(_secrets_text(kv_data)) if kv_data else {}


def decode_index(kv_data: dict[str, Any] | None) -> dict[str, Entry]:
    """Every entry of an index document's KV data (`None`: no document yet). Entries
    without a value (left by versions before 0.2, which staged creates in the index) are
    skipped: they were never committed."""
    entries = {name: Entry.from_json(item) for name, item in _raw_map(kv_data).items()}
    return {name: entry for name, entry in entries.items() if entry.committed}


def decode_applied(kv_data: dict[str, Any] | None) -> str:
    """The document's `applied` mark: `{epoch}:{outbox id}` of the last change the facade
    wrote into it (see `vaultfront.outbox`); "" for a document without one."""
    mark = (kv_data or {}).get("applied", "")
    return mark if isinstance(mark, str) else ""


def committed_items(raw: dict[str, Any]) -> dict[str, Any]:
    """The raw JSON items of an index map that hold a committed value (`ct` or `ref`)."""
    return {
        name: item
        for name, item in raw.items()
        if isinstance(item, dict) and ("ct" in item or "ref" in item)
    }


_DECODER: Final = json.JSONDecoder()


def find_committed(secrets_json: str, names: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The committed raw items (`ct` or `ref`) of `names` in an index map's JSON text,
    without parsing the whole map: `committed_items(json.loads(secrets_json))` restricted
    to `names`, at the cost of the entries asked for (a 2,000-secret map is ~386 KB).

    Each name is located as the text `"NAME":{` and its entry decoded alone with
    `JSONDecoder.raw_decode`. A hit is always the map's own key NAME, whatever the map
    holds, because:

    - NAME matches `SECRET_NAME_PATTERN`, so it holds no quote, backslash or anything JSON
      escapes, and the second quote of `"NAME"` follows a letter, digit or underscore: it is
      not escaped, so it delimits a string. A closing quote is followed by `:`, `,`, `}` or
      `]`, and the first quote is followed by NAME's first letter (A-Z): the first quote
      opens a string and the second closes it. No quote of a JSON string's content (a
      ciphertext, a UUID, a pending change's name, any text at all) can begin the match,
      since inside a string every quote is escaped.
    - A string followed by `:` is a key, and `{` starts its value: the match is a key NAME
      whose value is an object. In the index format (`Entry.to_json`) the only keys with
      object values are the map's own (secret names) and `pending`, which is lowercase;
      a pending object holds strings, numbers and booleans only. `"A":{` is not a part of
      `"AB":{` (the quote after A is missing there).

    A miss is only trusted with one full parse: names that are not found (or are not
    secret names at all) are looked up in `json.loads(secrets_json)`, so a map written in
    another formatting (spaces after `:`) or order still gives the same answer. Misses are
    the rare case (an unknown name is an error for the executor). The facade writes the
    map compact and sorted (`encode_index`), so the names are searched in sorted order,
    each from where the previous entry ended: one pass over the text at most.

    An entry that holds only `pending` (a create not committed yet) is not set. Raises
    `ValueError` for text that is not a JSON object or an entry that is not valid JSON.
    """
    if not secrets_json.lstrip().startswith("{"):
        raise ValueError("the secrets map is not an object")
    found: dict[str, dict[str, Any]] = {}
    unseen: list[str] = []
    position = 0
    for name in sorted(set(names)):
        at = -1
        if SECRET_NAME_PATTERN.fullmatch(name):
            key = f'"{name}":{{'
            at = secrets_json.find(key, position)
        if at < 0:
            unseen.append(name)
            continue
        item, position = _DECODER.raw_decode(secrets_json, at + len(key) - 1)
        if "ct" in item or "ref" in item:
            found[name] = item
    if unseen:
        committed = committed_items(_parse_map(secrets_json))
        found.update((name, committed[name]) for name in unseen if name in committed)
    return found


def read_committed(
    kv_data: dict[str, Any] | None, wanted: Iterable[str] | None = None
) -> dict[str, dict[str, Any]]:
    """What an executor may read of an index document's KV data: the raw JSON items of the
    committed entries, by name (`wanted` names only, if given; `None`: no document yet).

    Entries without a value (a staged create of a version before 0.2) are left out. For
    `wanted` names the map is not parsed whole (`find_committed`).
    Raises `ValueError` for a document that is not an index.
    """
    if kv_data is None:
        return {}
    text = _secrets_text(kv_data)
    if wanted is not None:
        return find_committed(text, wanted)
    return committed_items(_parse_map(text))


def encode_index(entries: dict[str, Entry], applied: str = "") -> dict[str, str]:
    # Compact and sorted by name: `find_committed` searches it without a full parse.
    body = {name: entries[name].to_json() for name in sorted(entries)}
    data = {"format": FORMAT, "secrets": json.dumps(body, separators=(",", ":"))}
    if applied:
        data["applied"] = applied
    return data


def index_size(entries: dict[str, Entry]) -> int:
    return len(encode_index(entries)["secrets"])


def is_ciphertext(value: object) -> bool:
    return isinstance(value, str) and re.fullmatch(r"vault:v\d+:[A-Za-z0-9+/=]+", value) is not None
