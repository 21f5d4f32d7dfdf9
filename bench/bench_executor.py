"""Resolving secrets with `Executor`, next to the ideal floor and the naive loop.

Two environments: one holding 50 secrets, one holding 2,000. For 1, 10, 50 and 200 names
(as many as the environment holds) the Executor's `resolve` is timed next to references
measured in the same run, against the same dev server, with raw hvac and a token of the
same kind (AppRole, no default policy):

- floor: one KV read of a document holding exactly those ciphertexts, and one Transit
  batch decrypt of them (nothing can need fewer round trips), with raw hvac as the issue
  defines it;
- floor (stdlib): the same two requests with `http.client` on one keep-alive connection,
  as the executor now talks to Vault (it no longer uses hvac): the floor without hvac's
  and requests' own cost per call, so that executor / floor (stdlib) is what the layout
  and the executor's own work add;
- per-secret docs: one KV read per secret, then one batch decrypt (a layout with one KV
  document per secret, the usual alternative to an index document);
- naive: one KV read and one decrypt per secret.

Usage: python bench/bench_executor.py [--repeats 30]
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import urllib.parse
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import hvac
from executor_setup import dev_vault, interleaved_medians, seed

from vaultfront import layout
from vaultfront import vault_admin as operator
from vaultfront.config import DEFAULT_KV_MOUNT, DEFAULT_TRANSIT_MOUNT
from vaultfront.executor import Executor

REFERENCE_POLICY = f"""
path "{DEFAULT_KV_MOUNT}/data/*" {{ capabilities = ["read"] }}
path "{DEFAULT_TRANSIT_MOUNT}/decrypt/*" {{ capabilities = ["update"] }}
"""


def reference_client(root: hvac.Client, addr: str) -> hvac.Client:
    """A token like the executor's (AppRole, no default policy) that may read the floor
    documents too."""
    root.sys.create_or_update_policy("bench-reference", REFERENCE_POLICY)
    root.auth.approle.create_or_update_approle(
        "bench-reference", token_policies=["bench-reference"], token_no_default_policy=True
    )
    role_id = root.auth.approle.read_role_id("bench-reference")["data"]["role_id"]
    secret_id = root.auth.approle.generate_secret_id("bench-reference")["data"]["secret_id"]
    client = hvac.Client(addr, token="")
    client.auth.approle.login(role_id, secret_id)
    return client


def batch_decrypt(client: hvac.Client, key: str, cts: list[str]) -> None:
    """POST transit/decrypt/{key} with batch_input, in chunks under the listener's cap."""
    for offset in range(0, len(cts), 400):
        client.secrets.transit.decrypt_data(
            key,
            batch_input=[{"ciphertext": ct} for ct in cts[offset : offset + 400]],
            mount_point=DEFAULT_TRANSIT_MOUNT,
        )


def read_ct(client: hvac.Client, path: str) -> str:
    """GET kv/data/{path} of a one-ciphertext document."""
    return str(
        client.secrets.kv.v2.read_secret_version(
            path, mount_point=DEFAULT_KV_MOUNT, raise_on_deleted_version=True
        )["data"]["data"]["ct"]
    )


def floor(client: hvac.Client, key: str, path: str) -> None:
    """One KV read of a document holding exactly the wanted ciphertexts, one batch decrypt."""
    data = client.secrets.kv.v2.read_secret_version(
        path, mount_point=DEFAULT_KV_MOUNT, raise_on_deleted_version=True
    )["data"]["data"]
    batch_decrypt(client, key, json.loads(data["cts"]))


class StdlibClient:
    """The reference token's requests with `http.client`, one keep-alive connection."""

    def __init__(self, addr: str, token: str) -> None:
        parts = urllib.parse.urlsplit(addr)
        self.connection = http.client.HTTPConnection(parts.hostname or "", parts.port or 80)
        self.headers = {"X-Vault-Token": token, "X-Vault-Request": "true"}

    def call(self, method: str, path: str, payload: object = None) -> dict[str, Any]:
        body = None if payload is None else json.dumps(payload).encode()
        self.connection.request(method, f"/v1/{path}", body=body, headers=self.headers)
        response = self.connection.getresponse()
        data = json.loads(response.read())
        assert response.status == 200, (response.status, data)
        return dict(data)


def stdlib_floor(client: StdlibClient, key: str, path: str) -> None:
    """`floor` with `http.client`: GET kv/data/{path}, POST transit/decrypt/{key}."""
    data = client.call("GET", f"{DEFAULT_KV_MOUNT}/data/{path}")["data"]["data"]
    cts = json.loads(data["cts"])
    for offset in range(0, len(cts), 400):
        batch = [{"ciphertext": ct} for ct in cts[offset : offset + 400]]
        client.call("POST", f"{DEFAULT_TRANSIT_MOUNT}/decrypt/{key}", {"batch_input": batch})


def per_secret(client: hvac.Client, key: str, paths: list[str]) -> None:
    """One KV read per secret, then one batch decrypt."""
    batch_decrypt(client, key, [read_ct(client, path) for path in paths])


def naive(client: hvac.Client, key: str, paths: list[str]) -> None:
    """One KV read and one decrypt per secret."""
    for path in paths:
        client.secrets.transit.decrypt_data(
            key, read_ct(client, path), mount_point=DEFAULT_TRANSIT_MOUNT
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    with dev_vault() as vault:
        root = vault.root
        client = reference_client(root, vault.addr)
        stdlib = StdlibClient(vault.addr, client.token)
        rows = []
        for org, size in (("bench50", 50), ("bench2000", 2000)):
            values = seed(root, org, "staging", size)
            creds = operator.executor_role(root, org, "staging")
            executor = Executor(
                org=org,
                environment="staging",
                vault_addr=vault.addr,
                role_id=creds.role_id,
                secret_id=creds.secret_id,
            )
            index = {
                name: entry
                for name, entry in layout.decode_index(
                    root.secrets.kv.v2.read_secret_version(
                        layout.index_path(org, "staging"),
                        mount_point=DEFAULT_KV_MOUNT,
                        raise_on_deleted_version=True,
                    )["data"]["data"]
                ).items()
            }
            large = {
                name: layout.large_path(org, "staging", entry.id, entry.version)
                for name, entry in index.items()
            }
            key = layout.transit_key(org, "staging")
            names = list(values)
            for count in sorted({c for c in (1, 10, 50, 200, size) if c <= size}):
                wanted = names[:count]
                assert executor.resolve(wanted) == {n: values[n] for n in wanted}
                floor_path = f"bench/floor/{org}/{count}"
                root.secrets.kv.v2.create_or_update_secret(
                    floor_path,
                    secret={"cts": json.dumps([index[n].ct for n in wanted])},
                    mount_point=DEFAULT_KV_MOUNT,
                )
                paths = [large[n] for n in wanted]
                slow_repeats = max(3, min(args.repeats, 600 // max(count, 1)))
                label = "resolve_all" if count == size and size > 200 else f"resolve({count})"
                fast = interleaved_medians(
                    {
                        "executor": partial(executor.resolve, wanted),
                        "floor": partial(floor, client, key, floor_path),
                        "stdlib": partial(stdlib_floor, stdlib, key, floor_path),
                    },
                    args.repeats,
                )
                slow = interleaved_medians(
                    {
                        "per-doc": partial(per_secret, client, key, paths),
                        "naive": partial(naive, client, key, paths),
                    },
                    slow_repeats,
                )
                rows.append(
                    (
                        size,
                        label,
                        fast["executor"],
                        fast["floor"],
                        fast["stdlib"],
                        slow["per-doc"],
                        slow["naive"],
                    )
                )
            executor.close()

    print("Executor.resolve vs references (median ms; same run, same dev server)\n")
    header = f"{'env holds':>9}  {'call':<13} {'executor':>9} {'floor':>8} {'stdlib':>8}"
    header += f" {'per-doc':>9} {'naive':>9}   {'exec/floor':>10} {'exec/stdlib':>11}"
    header += f" {'naive/exec':>10}"
    print(header)
    for size, label, executor_ms, floor_ms, stdlib_ms, per_doc_ms, naive_ms in rows:
        print(
            f"{size:>9}  {label:<13} {executor_ms:9.2f} {floor_ms:8.2f} {stdlib_ms:8.2f}"
            f" {per_doc_ms:9.2f} {naive_ms:9.2f}   {executor_ms / floor_ms:9.2f}x"
            f" {executor_ms / stdlib_ms:10.2f}x {naive_ms / executor_ms:9.1f}x"
        )
    fifty = [r for r in rows if r[1] == "resolve(50)"]
    worst = max(r[2] / r[3] for r in fifty)
    print(f"\ntarget: resolve(50) within 3x of the floor -> worst {worst:.2f}x")
    worst_stdlib = max(r[2] / r[4] for r in fifty)
    print(f"(and within {worst_stdlib:.2f}x of the same floor without hvac)")


if __name__ == "__main__":
    main()
