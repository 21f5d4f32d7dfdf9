"""Where vaultfront keeps things in Vault, and the format of what it keeps there.

This module is pure (no I/O): the facade (`vaultfront.vault`) writes with it, the
executor (`vaultfront.executor`) reads with it, and the operator commands
(`vaultfront.operator`) scope policies with it. See `docs/design.md` for why.

KV v2 mount (default `vaultfront`), configured with `max_versions = 1` so that a write
destroys the previous version: no earlier value stays readable to anyone.

    orgs/{org}/{env}                 the environment's index document (one per org and env)
    orgs/{org}/{env}/large/{id}-{v}  a value too large to keep in the index (rare)
    journal/{org}/{op}               the facade's write-ahead record of an operation in flight
                                     (facade only; the executor's policy cannot read it)

Transit mount (default `vaultfront-transit`): one key per organization and environment,
named `org-{org}-{env}`.

The index document's KV data is `{"format": FORMAT, "secrets": "<json>"}`: the JSON string
maps each secret NAME to `{"id": uuid, "version": int, "ct": "vault:v1:..."}` or, for a
value kept out of line, `{"id": uuid, "version": int, "ref": "orgs/{org}/{env}/large/{id}-{v}"}`.
While the facade is changing a secret, its entry also carries `"pending": {...}` (the new
name and value, see `Pending`); executors read only the committed `ct`/`ref`
(`committed_items`, `find_committed`), so they never see a change the database has not
committed. The map is written compact (no spaces) with its names sorted, which lets
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
from typing import Any, Final, Literal

Environment = Literal["development", "staging", "production"]
ENVIRONMENTS: Final[tuple[Environment, ...]] = ("development", "staging", "production")

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
    return env


def index_path(org: str, env: str) -> str:
    return f"orgs/{check_org_slug(org)}/{check_environment(env)}"


def large_path(org: str, env: str, secret_id: str, version: int) -> str:
    """Versioned, so that a new large value never overwrites the committed one."""
    return f"{index_path(org, env)}/large/{secret_id}-{version}"


def journal_dir(org: str) -> str:
    return f"journal/{check_org_slug(org)}"


def journal_path(org: str, op_id: str) -> str:
    return f"{journal_dir(org)}/{op_id}"


def transit_key(org: str, env: str) -> str:
    return f"org-{check_org_slug(org)}-{check_environment(env)}"


@dataclass(frozen=True)
class Pending:
    """A change to an entry that the database has not committed yet (facade only).

    It rides beside the committed value until the operation settles or is dropped;
    executors never read it (see `vaultfront.journal`).
    """

    op: str
    name: str
    version: int
    ct: str | None = None
    ref: str | None = None
    gone: bool = False  # the change clears or deletes the value

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"op": self.op, "name": self.name, "version": self.version}
        if self.ct is not None:
            data["ct"] = self.ct
        if self.ref is not None:
            data["ref"] = self.ref
        if self.gone:
            data["gone"] = True
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Pending:
        return cls(
            op=str(data["op"]),
            name=str(data["name"]),
            version=int(data["version"]),
            ct=data.get("ct"),
            ref=data.get("ref"),
            gone=bool(data.get("gone", False)),
        )


@dataclass(frozen=True)
class Entry:
    """One secret's value in one environment, as Vault holds it.

    `ct` or `ref` is the committed value (what an executor reads); an entry with neither
    is a create that has not committed yet, and holds only `pending`.
    """

    id: str
    version: int
    ct: str | None = None  # inline Transit ciphertext
    ref: str | None = None  # KV path of an out-of-line ciphertext
    pending: Pending | None = None

    @property
    def committed(self) -> bool:
        return self.ct is not None or self.ref is not None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "version": self.version}
        if self.ct is not None:
            data["ct"] = self.ct
        if self.ref is not None:
            data["ref"] = self.ref
        if self.pending is not None:
            data["pending"] = self.pending.to_json()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Entry:
        pending = data.get("pending")
        return cls(
            id=str(data["id"]),
            version=int(data["version"]),
            ct=data.get("ct"),
            ref=data.get("ref"),
            pending=Pending.from_json(pending) if pending else None,
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
    """Every entry of an index document's KV data, pending ones included (the facade's view;
    `None`: no document yet)."""
    return {name: Entry.from_json(item) for name, item in _raw_map(kv_data).items()}


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

    Pending changes are left out: an entry keeps its committed name and value until its
    change settles. For `wanted` names the map is not parsed whole (`find_committed`).
    Raises `ValueError` for a document that is not an index.
    """
    if kv_data is None:
        return {}
    text = _secrets_text(kv_data)
    if wanted is not None:
        return find_committed(text, wanted)
    return committed_items(_parse_map(text))


def encode_index(entries: dict[str, Entry]) -> dict[str, str]:
    # Compact and sorted by name: `find_committed` searches it without a full parse.
    body = {name: entries[name].to_json() for name in sorted(entries)}
    return {"format": FORMAT, "secrets": json.dumps(body, separators=(",", ":"))}


def index_size(entries: dict[str, Entry]) -> int:
    return len(encode_index(entries)["secrets"])


def is_ciphertext(value: object) -> bool:
    return isinstance(value, str) and re.fullmatch(r"vault:v\d+:[A-Za-z0-9+/=]+", value) is not None
