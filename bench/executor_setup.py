"""Shared set-up for the benchmarks: a dev server of their own, seeded through the layout.

Not a test: run `python bench/bench_executor.py` or `python bench/bench_run.py`.
"""

from __future__ import annotations

import base64
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import hvac

from vaultfront import layout
from vaultfront import vault_admin as operator
from vaultfront.config import DEFAULT_KV_MOUNT, DEFAULT_TRANSIT_MOUNT
from vaultfront.devserver import start_dev_server


@dataclass
class BenchVault:
    addr: str
    root: hvac.Client


@contextmanager
def dev_vault() -> Iterator[BenchVault]:
    server = start_dev_server()
    try:
        root = hvac.Client(server.addr, token=server.root_token)
        operator.bootstrap(root)
        yield BenchVault(server.addr, root)
    finally:
        server.stop()


def seed(root: hvac.Client, org: str, env: str, count: int, size: int = 40) -> dict[str, str]:
    """`count` secrets in (org, env), written as the facade writes them. Each ciphertext is
    also kept in its own KV document (`.../large/{id}`) for the per-secret references."""
    key = layout.transit_key(org, env)
    root.adapter.post(f"/v1/{DEFAULT_TRANSIT_MOUNT}/keys/{key}")
    values = {f"SECRET_{i:04d}": uuid.uuid4().hex[: size // 2] * 2 for i in range(count)}
    names = list(values)
    entries: dict[str, layout.Entry] = {}
    for offset in range(0, count, 400):
        chunk = names[offset : offset + 400]
        batch = [{"plaintext": base64.b64encode(values[n].encode()).decode()} for n in chunk]
        result = root.adapter.post(
            f"/v1/{DEFAULT_TRANSIT_MOUNT}/encrypt/{key}", json={"batch_input": batch}
        )
        for name, item in zip(chunk, result["data"]["batch_results"], strict=True):
            secret_id = str(uuid.uuid4())
            entries[name] = layout.Entry(id=secret_id, version=1, ct=item["ciphertext"])
            root.secrets.kv.v2.create_or_update_secret(
                layout.large_path(org, env, secret_id, 1),
                secret={"ct": item["ciphertext"]},
                mount_point=DEFAULT_KV_MOUNT,
            )
    root.secrets.kv.v2.create_or_update_secret(
        layout.index_path(org, env),
        secret=layout.encode_index(entries),
        mount_point=DEFAULT_KV_MOUNT,
    )
    return values


def interleaved_medians(
    fns: dict[str, Callable[[], object]], repeats: int, budget_seconds: float = 5.0
) -> dict[str, float]:
    """Median ms of each function, run in turn within each round, so that a change in the
    machine's load (other processes share these cores) affects all of them alike."""
    for fn in fns.values():
        fn()  # warm-up
    times: dict[str, list[float]] = {label: [] for label in fns}
    deadline = time.monotonic() + budget_seconds
    for _ in range(repeats):
        for label, fn in fns.items():
            started = time.perf_counter()
            fn()
            times[label].append((time.perf_counter() - started) * 1000)
        if time.monotonic() > deadline and len(times[next(iter(fns))]) >= 3:
            break
    return {label: statistics.median(values) for label, values in times.items()}


def median_ms(fn: Callable[[], object], repeats: int, budget_seconds: float = 5.0) -> float:
    """Median wall time of `fn` in ms over at most `repeats` runs (and about the budget)."""
    fn()  # warm-up: connections, caches
    times = []
    deadline = time.monotonic() + budget_seconds
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
        if time.monotonic() > deadline and len(times) >= 3:
            break
    return statistics.median(times)
