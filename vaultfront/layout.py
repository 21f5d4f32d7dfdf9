"""Where vaultfront keeps things in Vault, and the format of what it keeps there.

This module is pure (no I/O): the facade (`vaultfront.vault`) writes with it, the
executor (`vaultfront.executor`) reads with it, and the operator commands
(`vaultfront.operator`) scope policies with it. See `docs/design.md` for why.

KV v2 mount (default `vaultfront`), configured with `max_versions = 1` so that a write
destroys the previous version: no earlier value stays readable to anyone.

    orgs/{org}/{env}                 the environment's index document (one per org and env)
    orgs/{org}/{env}/large/{id}      a value too large to keep in the index (rare)
    journal/{org}/{op}               the facade's write-ahead record of an operation in flight
                                     (facade only; the executor's policy cannot read it)

Transit mount (default `vaultfront-transit`): one key per organization and environment,
named `org-{org}-{env}`.

The index document's KV data is `{"format": FORMAT, "secrets": "<json>"}`: the JSON string
maps each secret NAME to `{"id": uuid, "version": int, "ct": "vault:v1:..."}` or, for a
value kept out of line, `{"id": uuid, "version": int, "ref": "orgs/{org}/{env}/large/{id}"}`.
The map is one string, not one KV field per secret, because OpenBao's listener caps a
request at 1,000 JSON strings (499 fields); one string keeps a 2,000-secret environment in
one read. Everything in it is Transit ciphertext or metadata; never a plaintext value.
"""

from __future__ import annotations

import json
import re
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


def large_path(org: str, env: str, secret_id: str) -> str:
    return f"{index_path(org, env)}/large/{secret_id}"


def journal_dir(org: str) -> str:
    return f"journal/{check_org_slug(org)}"


def journal_path(org: str, op_id: str) -> str:
    return f"{journal_dir(org)}/{op_id}"


def transit_key(org: str, env: str) -> str:
    return f"org-{check_org_slug(org)}-{check_environment(env)}"


@dataclass(frozen=True)
class Entry:
    """One secret's value in one environment, as Vault holds it."""

    id: str
    version: int
    ct: str | None = None  # inline Transit ciphertext
    ref: str | None = None  # KV path of an out-of-line ciphertext

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


def decode_index(kv_data: dict[str, Any] | None) -> dict[str, Entry]:
    """The name -> entry map of an index document's KV data (`None`: no document yet)."""
    if not kv_data:
        return {}
    if kv_data.get("format") != FORMAT:
        raise ValueError(f"unknown index format {kv_data.get('format')!r}")
    raw = json.loads(kv_data.get("secrets") or "{}")
    return {name: Entry.from_json(item) for name, item in raw.items()}


def encode_index(entries: dict[str, Entry]) -> dict[str, str]:
    body = {name: entries[name].to_json() for name in sorted(entries)}
    return {"format": FORMAT, "secrets": json.dumps(body, separators=(",", ":"))}


def index_size(entries: dict[str, Entry]) -> int:
    return len(encode_index(entries)["secrets"])


def is_ciphertext(value: object) -> bool:
    return isinstance(value, str) and re.fullmatch(r"vault:v\d+:[A-Za-z0-9+/=]+", value) is not None
