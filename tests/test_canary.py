"""Canary: secret values never leave Vault Transit in clear (SPEC section 1).

One workload per database kind runs against the app served by uvicorn (the production
server) over real HTTP, on an OpenBao dev server of this module's own (so every KV entry
in it is this module's: the whole mount can be walked and judged). Every value sent is a
unique random canary: creates, updates (changed, cleared, set again), renames, deletes,
a multi-KB, a 60 KiB and a non-ASCII value, and requests refused with 403, 409, 412, 413
and 422. Afterwards no canary may appear in any response (body or header), the log output
(every logger at DEBUG, SQLAlchemy's statements with their parameters and result rows),
the database (every column of every table, and the SQLite files' bytes), any version of
any KV entry, the outbox rows (which hold ciphertext while a change is in flight), or the
OpenBao server log. Every KV value must be
Transit ciphertext that decrypts (with root) to a current value, old versions must be gone,
and the masks in the database must reveal no more than SPEC section 3 allows.

A canary is found from any 48 consecutive characters of its random hex part (so a piece of
a value counts, and a JSON-escaped non-ASCII value too), or of its base64 encoding at any
alignment (the form in which it travels to Transit).
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import hvac
import hvac.exceptions
import pytest
import sqlalchemy as sa
import uvicorn
from conftest import (
    VaultInstance,
    _postgres_database,
    outbox_rows,
    populate,
    settings_for,
    unique_slug,
)

from vaultfront import layout
from vaultfront import vault_admin as operator
from vaultfront.config import DEFAULT_KV_MOUNT, DEFAULT_TRANSIT_MOUNT
from vaultfront.devserver import DevServer, free_port, start_dev_server
from vaultfront.masks import mask_value
from vaultfront.service.outbox import Outbox, encode_changes
from vaultfront.web.app import create_app

KV = DEFAULT_KV_MOUNT
WINDOW = 32
RUN = re.compile("[A-Za-z0-9+/]{" + str(WINDOW) + ",}")  # base64 (and hex) stretches
HEX_RUN = re.compile("[0-9a-f]{" + str(WINDOW) + ",}")
LOGGERS = (
    "vaultfront",
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "uvicorn.asgi",
    "sqlalchemy.engine",
    "sqlalchemy.pool",
    "alembic",
    "hvac",
    "urllib3",
    "httpx",
    "httpcore",
    "starlette",
)


# --- canaries and the search for them ---------------------------------------------------


def token() -> str:
    return uuid.uuid4().hex


def canary(size: int = 0, prefix: str = "CANARY-") -> str:
    """`prefix` and a run of random hex digits: at least 64 of them, `size` in all."""
    digits = token() + token()
    while len(prefix) + len(digits) < size:
        digits += token()
    return prefix + digits


def sized(size: int) -> str:
    """Exactly `size` ASCII characters."""
    return canary(size)[:size]


class Canaries:
    """Every value the workload sends, and the needles that reveal any part of one."""

    def __init__(self) -> None:
        self.values: list[str] = []
        self.needles: dict[str, int] = {}  # needle -> index of its value

    def new(self, value: str) -> str:
        index = len(self.values)
        self.values.append(value)
        encoded = [base64.b64encode(b"\x00" * pad + value.encode()).decode() for pad in range(3)]
        runs = [run[4:-4] for run in encoded]  # base64 at each of the three byte alignments
        runs += HEX_RUN.findall(value)  # the random part of the value
        for run in runs:
            starts = [*range(0, len(run) - WINDOW + 1, WINDOW // 2), len(run) - WINDOW]
            for start in starts:
                if start >= 0:
                    self.needles[run[start : start + WINDOW]] = index
        return value

    def find(self, text: str) -> list[str]:
        """Canary needles inside `text` (described, for the failure message)."""
        found = []
        for run in RUN.findall(text):
            for start in range(len(run) - WINDOW + 1):
                index = self.needles.get(run[start : start + WINDOW])
                if index is not None:
                    found.append(f"canary #{index} ({self.values[index][:24]}...) as {run[:60]}")
                    break
        return found


# --- a module-private OpenBao, and the app under uvicorn -----------------------------------


@pytest.fixture(scope="module")
def private_vault(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DevServer, Any]]:
    server = start_dev_server(log_dir=tmp_path_factory.mktemp("openbao-canary"))
    try:
        creds = operator.bootstrap(hvac.Client(server.addr, token=server.root_token))
        yield server, VaultInstance(server.addr, server.root_token, creds.role_id, creds.secret_id)
    finally:
        server.stop()


class Capture(logging.Handler):
    """Every log record of every logger, formatted with its exception and stack."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.formatter_ = logging.Formatter("%(levelname)s %(name)s %(message)s")
        self.names: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        self.names.add(record.name)
        self.lines.append(self.formatter_.format(record))


@dataclass
class Seen:
    """One HTTP exchange, as the client received it."""

    method: str
    url: str
    status: int
    headers: str
    body: str


@dataclass
class Workload:
    database_url: str
    org: str
    vault: DevServer
    canaries: Canaries
    responses: list[Seen]
    logs: Capture
    files: dict[str, bytes]  # SQLite files' bytes, read while the app still ran
    outbox_records: list[str]  # every outbox row's changes, as the database got them
    current: dict[str, dict[str, str]]  # name -> env -> value the workload left
    ids: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict, repr=False)


def serve(app: Any) -> tuple[uvicorn.Server, threading.Thread, str]:
    """The app under uvicorn in a thread, logging through the root logger."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, log_level="debug", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-canary", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    return server, thread, f"http://127.0.0.1:{port}"


def sqlite_files(database_url: str) -> dict[str, bytes]:
    path = Path(sa.engine.make_url(database_url).database or "")
    files = {}
    for suffix in ("", "-wal", "-shm", "-journal"):
        candidate = Path(f"{path}{suffix}")
        if candidate.exists():
            files[candidate.name] = candidate.read_bytes()
    return files


NON_ASCII = "Пароль-ключ-🔑-{}-日本語-{}-ñandú-∑"


def non_ascii() -> str:
    return NON_ASCII.format(token() + token(), token() + token())


def run_workload(bao: DevServer, vault: VaultInstance, database_url: str) -> Workload:
    """Creates, updates, renames, deletes and refused requests, all with canary values."""
    org, other = unique_slug("canary"), unique_slug("other")
    tokens = populate(database_url, org, other)
    c = Canaries()
    responses: list[Seen] = []
    capture = Capture()
    outbox_records: list[str] = []

    def record(response: httpx.Response) -> None:
        response.read()
        headers = "\n".join(f"{k}: {v}" for k, v in response.headers.multi_items())
        request = response.request
        responses.append(
            Seen(request.method, str(request.url), response.status_code, headers, response.text)
        )

    real_add = Outbox.add

    def keep_outbox(session: Any, **row: Any) -> None:
        real_add(session, **row)
        outbox_records.append(encode_changes(row["changes"]))

    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in LOGGERS)]
    saved = [(logger, logger.level, logger.propagate) for logger in loggers]
    logging.getLogger().addHandler(capture)
    for logger in loggers:
        logger.setLevel(logging.DEBUG)  # sqlalchemy.engine at DEBUG: statements, params, rows
        logger.propagate = True
    patch = pytest.MonkeyPatch()
    patch.setattr(Outbox, "add", staticmethod(keep_outbox))
    try:
        app = create_app(settings_for(vault, database_url))
        server, thread, base = serve(app)
        try:
            with httpx.Client(
                base_url=base, event_hooks={"response": [record]}, timeout=30
            ) as client:

                def call(
                    who: str, method: str, path: str, status: int, body: Any = None, etag: str = ""
                ) -> Any:
                    headers = {"Authorization": f"Bearer {tokens[who]}"}
                    if etag:
                        headers["If-Match"] = f'"{etag}"'
                    response = client.request(method, path, headers=headers, json=body)
                    assert response.status_code == status, (
                        f"{method} {path} -> {response.status_code}: {response.text[:300]}"
                    )
                    return response.json() if response.content else None

                def vals(**values: str | None) -> dict[str, Any]:
                    names = {"dev": "development", "stg": "staging", "prod": "production"}
                    return {names[k]: v for k, v in values.items()}

                api = f"/api/orgs/{org}/secrets"
                a_dev, a_staging = c.new(canary()), c.new(canary(5000))
                a_prod = c.new(non_ascii())
                b_prod, c_dev = c.new(sized(60 * 1024)), c.new(token())
                alpha = call(
                    "owner",
                    "POST",
                    api,
                    201,
                    {
                        "name": "ALPHA_KEY",
                        "description": "the first",
                        "values": vals(dev=a_dev, stg=a_staging, prod=a_prod),
                    },
                )
                bravo = call(
                    "owner", "POST", api, 201, {"name": "BRAVO_KEY", "values": vals(prod=b_prod)}
                )
                charlie = call(
                    "owner", "POST", api, 201, {"name": "CHARLIE", "values": vals(dev=c_dev)}
                )
                a_url, b_url, c_url = (f"{api}/{x['id']}" for x in (alpha, bravo, charlie))

                # Values changed, one cleared, then set again (non-ASCII).
                a_dev2 = c.new(canary())
                body = {"description": "changed", "values": vals(dev=a_dev2, prod=None)}
                call("owner", "PATCH", a_url, 200, body)
                a_prod2 = c.new(non_ascii())
                call("owner", "PATCH", a_url, 200, {"values": vals(prod=a_prod2)})
                # Renames, with and without values; a 60 KiB value replaced by another.
                b_staging = c.new(canary(300))
                body = {"name": "BRAVO_RENAMED", "values": vals(stg=b_staging)}
                call("owner", "PATCH", b_url, 200, body)
                b_prod2 = c.new(sized(60 * 1024))
                call("owner", "PATCH", b_url, 200, {"values": vals(prod=b_prod2)}, etag="2")
                c_dev2, c_staging = c.new(canary()), c.new(canary(2000))
                body = {"name": "CHARLIE_RENAMED", "values": vals(dev=c_dev2, stg=c_staging)}
                call("owner", "PATCH", c_url, 200, body)
                call("owner", "PATCH", b_url, 200, {"name": "BRAVO_RENAMED"})  # changes nothing

                # Refused requests carrying canaries: none may echo them.
                body = {"values": vals(dev=c.new(canary()))}
                call("owner", "PATCH", c_url, 412, body, etag="1")
                body = {"name": "ALPHA_KEY", "values": vals(stg=c.new(canary()))}
                call("owner", "POST", api, 409, body)
                body = {"name": "TOO_BIG", "values": vals(dev=c.new(sized(64 * 1024 + 1)))}
                call("owner", "POST", api, 422, body)
                body = {"name": "HUGE", "values": vals(dev=c.new(sized(1024 * 1024 + 10)))}
                call("owner", "POST", api, 413, body)
                call("member", "PATCH", a_url, 403, {"values": vals(dev=c.new(canary()))})
                body = {"name": "VIEWER_TRY", "values": vals(prod=c.new(canary()))}
                call("viewer", "POST", api, 403, body)
                call("outsider", "PATCH", a_url, 404, {"values": vals(prod=c.new(canary()))})
                body = {"name": "bad name", "values": vals(prod=c.new(canary()))}
                call("owner", "POST", api, 422, body)

                # Deletes: one right after its creation, one after updates.
                body = {
                    "name": "DELTA",
                    "values": vals(dev=c.new(canary()), prod=c.new(canary(4500))),
                }
                delta = call("admin", "POST", api, 201, body)
                call("admin", "DELETE", f"{api}/{delta['id']}", 204)
                call("admin", "DELETE", c_url, 204)
                # A large value cleared, then set again.
                call("owner", "PATCH", a_url, 200, {"values": vals(stg=None)})
                a_staging2 = c.new(canary(6000))
                call("owner", "PATCH", a_url, 200, {"values": vals(stg=a_staging2)})

                # Reads of everything that is left, and of what is gone.
                call("owner", "GET", api, 200)
                for url in (a_url, b_url):
                    call("owner", "GET", url, 200)
                    call("viewer", "GET", url, 200)
                call("owner", "GET", c_url, 404)
                call("owner", "GET", "/api/me", 200)
                files = {f"{k} (running)": v for k, v in sqlite_files(database_url).items()}
        finally:
            server.should_exit = True
            thread.join(timeout=15)
    finally:
        patch.undo()
        logging.getLogger().removeHandler(capture)
        for logger, level, propagate in saved:
            logger.setLevel(level)
            logger.propagate = propagate
    if database_url.startswith("sqlite"):
        files.update({f"{k} (stopped)": v for k, v in sqlite_files(database_url).items()})
    current = {
        "ALPHA_KEY": {"development": a_dev2, "staging": a_staging2, "production": a_prod2},
        "BRAVO_RENAMED": {"staging": b_staging, "production": b_prod2},
    }
    return Workload(
        database_url=database_url,
        org=org,
        vault=bao,
        canaries=c,
        responses=responses,
        logs=capture,
        files=files if database_url.startswith("sqlite") else {},
        outbox_records=outbox_records,
        current=current,
        ids={"ALPHA_KEY": alpha["id"], "BRAVO_RENAMED": bravo["id"]},
        tokens=tokens,
    )


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def workload(
    request: pytest.FixtureRequest,
    private_vault: tuple[DevServer, VaultInstance],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Workload]:
    bao, vault = private_vault
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('canary-db')}/vaultfront.db"
        yield run_workload(bao, vault, url)
        return
    database = _postgres_database()
    url = next(database)
    try:
        yield run_workload(bao, vault, url)
    finally:
        next(database, None)


# --- where to look ------------------------------------------------------------------------


def database_dump(database_url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table (reflected, not from the models), every column."""
    engine = sa.create_engine(database_url)
    try:
        metadata = sa.MetaData()
        metadata.reflect(engine)
        with engine.connect() as conn:
            return {
                table.name: [dict(row) for row in conn.execute(sa.select(table)).mappings()]
                for table in metadata.sorted_tables
            }
    finally:
        engine.dispose()


def as_text(value: Any) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("latin-1")
    return str(value)


@dataclass
class KvEntry:
    path: str
    current_version: int
    versions: dict[str, dict[str, Any] | None]  # every version in the metadata -> its data
    older_readable: list[int]  # versions below the current one that still answer


def walk_kv(root: hvac.Client) -> list[KvEntry]:
    """LIST the whole mount recursively; read every version of every key."""
    entries = []
    pending = [""]
    while pending:
        prefix = pending.pop()
        try:
            keys = root.secrets.kv.v2.list_secrets(prefix, mount_point=KV)["data"]["keys"]
        except hvac.exceptions.InvalidPath:
            continue
        for key in keys:
            if key.endswith("/"):
                pending.append(prefix + key)
                continue
            path = prefix + key
            meta = root.secrets.kv.v2.read_secret_metadata(path, mount_point=KV)["data"]
            current = int(meta["current_version"])
            versions: dict[str, dict[str, Any] | None] = {}
            for number in meta["versions"]:
                versions[number] = read_version(root, path, int(number))
            older = [n for n in range(1, current) if read_version(root, path, n) is not None]
            entries.append(KvEntry(path, current, versions, older))
    return entries


def read_version(root: hvac.Client, path: str, version: int) -> dict[str, Any] | None:
    try:
        result = root.secrets.kv.v2.read_secret_version(
            path, version=version, mount_point=KV, raise_on_deleted_version=True
        )
    except hvac.exceptions.InvalidPath:
        return None
    data = result["data"]["data"]
    return None if data is None else dict(data)


def decrypt(root: hvac.Client, org: str, env: str, ct: str) -> str:
    result = root.secrets.transit.decrypt_data(
        layout.transit_key(org, env), ct, mount_point=DEFAULT_TRANSIT_MOUNT
    )
    return base64.b64decode(result["data"]["plaintext"]).decode()


def report(found: dict[str, list[str]]) -> str:
    return "\n".join(f"{where}: {hits[:3]}" for where, hits in found.items() if hits)


# --- the checks ---------------------------------------------------------------------------


def test_search_finds_every_form_of_a_canary() -> None:
    """The search itself: raw, partial, JSON-escaped and base64 forms are all found."""
    c = Canaries()
    value = c.new(non_ascii())
    big = c.new(canary(3000))
    assert c.find(f"log: {value}")
    assert c.find(f"truncated: {big[1000:1060]}")
    assert c.find(json.dumps({"v": value}))  # \\uXXXX escapes; the tokens stay
    for pad in ("", "x", "xy"):
        encoded = base64.b64encode((pad + big).encode()).decode()
        assert c.find(f"body={encoded[700:760]}")
    assert not c.find(mask_value(big)) and not c.find(f"{uuid.uuid4().hex} vault:v1:abc")


def test_no_canary_in_api_responses(workload: Workload) -> None:
    seen = {
        f"{r.method} {r.url} -> {r.status}": workload.canaries.find(r.headers + "\n" + r.body)
        for r in workload.responses
    }
    statuses = {r.status for r in workload.responses}
    assert statuses == {200, 201, 204, 403, 404, 409, 412, 413, 422}, statuses
    assert not any(seen.values()), report(seen)


def test_no_canary_in_log_output(workload: Workload) -> None:
    logs = workload.logs
    text = "\n".join(logs.lines)
    # The capture works: SQL with its parameters and rows, uvicorn, the facade's Vault calls.
    for name in ("sqlalchemy.engine.Engine", "uvicorn.error", "uvicorn.access", "urllib3"):
        assert any(n.startswith(name) for n in logs.names), (name, sorted(logs.names))
    assert "INSERT INTO secret" in text and "UPDATE secret" in text
    alpha_mask = mask_value(workload.current["ALPHA_KEY"]["development"])
    assert alpha_mask in text, "SQL parameters were expected in the log (the mask is one)"
    found = {f"log line {i}": workload.canaries.find(line) for i, line in enumerate(logs.lines)}
    assert not any(found.values()), report(found)


def test_no_canary_in_the_database(workload: Workload) -> None:
    dump = database_dump(workload.database_url)
    assert {"secret", "audit_event", "user", "api_token", "organization"} <= set(dump), dump.keys()
    assert sorted(row["name"] for row in dump["secret"]) == ["ALPHA_KEY", "BRAVO_RENAMED"]
    found: dict[str, list[str]] = {}
    for table, rows in dump.items():
        for number, row in enumerate(rows):
            for column, value in row.items():
                found[f"{table}[{number}].{column}"] = workload.canaries.find(as_text(value))
    for name, content in workload.files.items():
        found[f"file {name}"] = workload.canaries.find(content.decode("latin-1"))
    # The search sees what is there: the masks (the only derived data) are found.
    mask = mask_value(workload.current["ALPHA_KEY"]["development"])
    assert mask in json.dumps(dump, default=str, ensure_ascii=False)
    if workload.database_url.startswith("sqlite"):
        assert any("(running)" in name for name in workload.files), workload.files.keys()
        assert any(mask.encode() in content for content in workload.files.values())
    assert not any(found.values()), report(found)


def test_no_canary_in_any_kv_version_or_vault_log(workload: Workload) -> None:
    root = hvac.Client(workload.vault.addr, token=workload.vault.root_token)
    entries = walk_kv(root)
    org_paths = [e.path for e in entries if e.path.startswith(f"orgs/{workload.org}/")]
    assert len(org_paths) >= 4, org_paths  # three index documents and a large value at least
    found = {
        f"{e.path} v{number}": workload.canaries.find(json.dumps(data, ensure_ascii=False))
        for e in entries
        for number, data in e.versions.items()
    }
    assert workload.outbox_records, "the workload wrote no outbox row?"
    for i, record in enumerate(workload.outbox_records):
        found[f"outbox row {i}"] = workload.canaries.find(record)
    found["openbao log"] = workload.canaries.find(Path(workload.vault.log_path).read_text())
    assert not any(found.values()), report(found)


def test_kv_holds_only_transit_ciphertext_of_current_values(workload: Workload) -> None:
    """Every KV value is ciphertext; this org's decrypt (root) to exactly its current values."""
    root = hvac.Client(workload.vault.addr, token=workload.vault.root_token)
    entries = {e.path: e for e in walk_kv(root)}
    problems: list[str] = []
    held: dict[str, dict[str, str]] = {}
    referenced: set[str] = set()
    for path, entry in entries.items():
        data = entry.versions.get(str(entry.current_version))
        parts = path.split("/")
        if data is None:
            problems.append(f"{path}: current version unreadable")
        elif parts[0] == "orgs" and len(parts) == 3:
            assert set(data) == {"format", "secrets", "applied"}, (path, set(data))
            for name, item in layout.decode_index(data).items():
                ct = item.ct
                if item.ref is not None:
                    referenced.add(item.ref)
                    large = entries.get(item.ref)
                    large_data = large and large.versions.get(str(large.current_version))
                    ct = large_data.get("ct") if large_data else None
                if ct is None or not layout.is_ciphertext(ct):
                    problems.append(f"{path}/{name}: {str(ct)[:40]!r} is not Transit ciphertext")
                elif parts[1] == workload.org:
                    held.setdefault(name, {})[parts[2]] = decrypt(root, parts[1], parts[2], ct)
        elif parts[0] == "orgs" and len(parts) == 5 and parts[3] == "large":
            if set(data) != {"ct"} or not layout.is_ciphertext(data["ct"]):
                problems.append(f"{path}: not a Transit ciphertext document: {sorted(data)}")
        else:
            problems.append(f"{path}: not a vaultfront path")
    orphans = {p for p in entries if "/large/" in p and p not in referenced}
    if orphans:
        problems.append(f"large values no index points to: {sorted(orphans)}")
    for i, record in enumerate(workload.outbox_records):
        for env, change in json.loads(record).items():
            if change not in (None, {"keep": True}) and (
                set(change) != {"ct"} or not layout.is_ciphertext(change["ct"])
            ):
                problems.append(f"outbox row {i} ({env}) holds more than ciphertext")
    left = outbox_rows(workload.database_url, workload.org)
    if left:
        problems.append(f"outbox rows left after the workload: {left}")
    assert not problems, "\n".join(problems)
    current = {n: v for n, v in workload.current.items()}
    if held != current:
        # Print names and lengths only: the values are canaries.
        def shape(d: dict[str, dict[str, str]]) -> dict[str, dict[str, int]]:
            return {n: {e: len(v) for e, v in envs.items()} for n, envs in d.items()}

        same = {
            n: {e: held.get(n, {}).get(e) == v for e, v in envs.items()}
            for n, envs in current.items()
        }
        pytest.fail(f"Vault holds {shape(held)}, expected {shape(current)}; equal: {same}")


def test_old_kv_versions_are_destroyed(workload: Workload) -> None:
    """`max_versions = 1`: after an update, an earlier version of a document is gone (404)."""
    root = hvac.Client(workload.vault.addr, token=workload.vault.root_token)
    entries = walk_kv(root)
    readable = {e.path: e.older_readable for e in entries if e.older_readable}
    kept = {e.path: sorted(e.versions) for e in entries if len(e.versions) > 1}
    assert not readable and not kept, f"older versions readable: {readable}; kept: {kept}"
    dev_index = layout.index_path(workload.org, "development")
    updated = next(e for e in entries if e.path == dev_index)
    assert updated.current_version >= 3, updated.current_version
    assert read_version(root, dev_index, 1) is None
    assert read_version(root, dev_index, updated.current_version) is not None


def test_masks_reveal_only_what_the_spec_allows(workload: Workload) -> None:
    dump = database_dump(workload.database_url)
    masks = {(v["secret_id"], v["environment"]): v["mask"] for v in dump["secret_value"]}
    problems = []
    for row in dump["secret"]:
        values = workload.current[row["name"]]
        for env in layout.ENVIRONMENTS:
            mask = masks.get((row["id"], env))
            value = values.get(env)
            expected = None if value is None else mask_value(value)
            if mask != expected or ((row["id"], env) in masks) != (value is not None):
                problems.append(f"{row['name']}.{env}: mask {mask!r}, expected {expected!r}")
            if value is not None and mask is not None:
                head, _, tail = mask.partition("***")
                revealed = len(head) + len(tail)
                limit = 0 if len(value) < 8 else min(12, len(value) // 4)
                if revealed > limit or not value.startswith(head) or not value.endswith(tail):
                    problems.append(f"{row['name']}.{env}: {mask!r} reveals too much")
    details = [r for r in workload.responses if r.method == "GET" and r.status == 200]
    for r in details:
        body = json.loads(r.body)
        if "values" in body:
            for env, shown in body["values"].items():
                value = workload.current[body["name"]].get(env)
                if shown["mask"] != (None if value is None else mask_value(value)):
                    problems.append(f"{r.url}: {env} shows {shown['mask']!r}")
    assert not problems, "\n".join(problems)


def test_api_tokens_stay_out_of_logs_database_and_vault(workload: Workload) -> None:
    """Not a value, but a credential: the bearer tokens appear in no log and no table."""
    text = "\n".join(workload.logs.lines)
    dump = json.dumps(database_dump(workload.database_url), default=str)
    files = "".join(v.decode("latin-1") for v in workload.files.values())
    leaks = [
        (who, where)
        for who, plaintext in workload.tokens.items()
        for where, haystack in (("log", text), ("database", dump), ("sqlite file", files))
        if plaintext in haystack
    ]
    assert not leaks, leaks
