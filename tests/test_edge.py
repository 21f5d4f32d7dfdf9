"""The edges of SPEC section 4: malformed requests, 405s, permission before validation, and
a metadata database that cannot be reached. On SQLite and PostgreSQL (the `world` fixture).

Every malformed request gets a 4xx with the error body `{"error": {"code", "message",
"field"}}`, never a 500, and writes nothing: each test checks the secret's version (and the
list of names) after the refusals. The unreachable database is a real fault, never a mock:
for PostgreSQL a TCP proxy between the app and the server is cut and restored; for SQLite
another connection holds the database's write lock longer than the busy timeout.
"""

from __future__ import annotations

import contextlib
import re
import socket
import sqlite3
import threading
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import sqlalchemy as sa
from conftest import World, assert_error, ok, settings_for, show
from sqlalchemy import event
from starlette.applications import Starlette
from starlette.testclient import TestClient

from vaultfront.errors import DatabaseUnavailable
from vaultfront.web.app import MAX_HEADER_BYTES, create_app

DEEP = 100_000
ONLY_OLIVE = "Only Olive Owner can modify this secret"


# --- helpers ------------------------------------------------------------------------------


def secrets_url(world: World, secret_id: str | None = None) -> str:
    base = f"/api/orgs/{world.org}/secrets"
    return base if secret_id is None else f"{base}/{secret_id}"


def raw_call(
    world: World, who: str | None, method: str, path: str, body: bytes, **headers: str | bytes
) -> httpx.Response:
    """A request with an exact body (bytes the json= argument could never produce)."""
    sent: dict[str, str | bytes] = {"Content-Type": "application/json", **headers}
    if who is not None:
        sent.update(world.headers(who))
    response: httpx.Response = world.client.request(method, path, content=body, headers=sent)
    return response


def state(world: World, secret_id: str) -> tuple[int, str, str]:
    """(version, name, description) of a secret, as its owner reads it."""
    seen = ok(world.call("owner", "GET", secrets_url(world, secret_id)))
    return seen["version"], seen["name"], seen["description"]


def names(world: World) -> list[str]:
    return [row["name"] for row in ok(world.call("owner", "GET", secrets_url(world)))["secrets"]]


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def asgi_call(
    app: Starlette, method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes = b""
) -> RawResponse:
    """One request straight through ASGI, its header bytes exactly as given: the TestClient
    re-encodes header values as UTF-8, so a Latin-1 byte like 0xB2 ("²") cannot pass it."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    incoming = [{"type": "http.request", "body": body, "more_body": False}]
    status = 0
    response_headers: dict[str, str] = {}
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            response_headers.update(
                (k.decode("latin-1"), v.decode("latin-1")) for k, v in message["headers"]
            )
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    async def run() -> None:
        await app(scope, receive, send)

    # On a thread of its own: the browser tests' Playwright (sync API) keeps an event loop
    # running in the main thread for the whole session, and anyio.run refuses to nest.
    failure: list[BaseException] = []

    def in_thread() -> None:
        try:
            anyio.run(run)
        except BaseException as exc:
            failure.append(exc)

    worker = threading.Thread(target=in_thread)
    worker.start()
    worker.join(timeout=60)
    if failure:
        raise failure[0]
    return RawResponse(status, response_headers, b"".join(chunks))


# --- 405 ----------------------------------------------------------------------------------


def test_a_405_names_every_method_the_path_accepts(world: World) -> None:
    item = secrets_url(world, "00000000-0000-0000-0000-000000000000")
    cases = [
        ("PUT", item, "DELETE, GET, HEAD, PATCH"),
        ("POST", item, "DELETE, GET, HEAD, PATCH"),
        ("PUT", secrets_url(world), "GET, HEAD, POST"),
        ("DELETE", secrets_url(world), "GET, HEAD, POST"),
        ("POST", "/api/me", "GET, HEAD"),
        ("OPTIONS", f"/api/orgs/{world.org}/members", "GET, HEAD"),
    ]
    for method, path, allow in cases:
        for who in ("owner", None):  # routing decides before anyone is authenticated
            headers = world.headers(who) if who else {}
            response = world.client.request(method, path, headers=headers)
            error = assert_error(response, 405, "method_not_allowed", field=None)
            assert response.headers["allow"] == allow, show(response)
            assert allow in error["message"], error

    # The web page's paths too (there the error is a page).
    page = world.client.request("PUT", "/login")
    assert page.status_code == 405, show(page)
    assert page.headers["allow"] == "GET, HEAD, POST", page.headers
    assert page.headers["content-type"].startswith("text/html"), page.headers


# --- permission before validation ---------------------------------------------------------

MALFORMED_BODIES = [
    b"",
    b"{",
    b"[]",
    b"\xff\xfe\x00",
    b'{"name": 5, "values": "x"}',
    b'{"unknown": 1}',
    b'{"description": "\\ud800"}',
    b'{"owner_id": 1000000000000000000000000000000}',
    b"[" * DEEP + b"]" * DEEP,
]


def test_permission_is_decided_before_the_body_is_validated(world: World) -> None:
    secret = world.create(name="GUARDED", description="kept", values={"production": "guarded-1"})
    sid = secret["id"]
    item, collection = secrets_url(world, sid), secrets_url(world)
    before = state(world, sid)
    huge_if_match = '"' + "9" * 5000 + '"'

    for body in MALFORMED_BODIES:
        for who in ("viewer", "member"):  # not the owner, not an admin
            assert_error(
                raw_call(world, who, "PATCH", item, body), 403, "forbidden", message=ONLY_OLIVE
            )
        assert_error(raw_call(world, "viewer", "POST", collection, body), 403, "forbidden")
        for method, path in (("PATCH", item), ("POST", collection)):
            assert_error(raw_call(world, "outsider", method, path, body), 404, "not_found")
            assert_error(raw_call(world, None, method, path, body), 401, "unauthenticated")

    # A malformed If-Match is input too: permission first, on PATCH and DELETE alike.
    for headers in ({"If-Match": huge_if_match}, {"If-Match": "yesterday"}):
        for method in ("PATCH", "DELETE"):
            response = raw_call(world, "viewer", method, item, b"{}", **headers)
            assert_error(response, 403, "forbidden", message=ONLY_OLIVE)
            response = raw_call(world, "outsider", method, item, b"{}", **headers)
            assert_error(response, 404, "not_found")

    # An organization that does not exist hides the body's faults the same way.
    ghost = "/api/orgs/no-such-org/secrets"
    assert_error(raw_call(world, "owner", "POST", ghost, b"{"), 404, "not_found")

    assert state(world, sid) == before
    assert names(world) == ["GUARDED"]


# --- bad JSON, deep nesting ---------------------------------------------------------------


def test_bad_json_and_deep_nesting_are_422_body(world: World) -> None:
    sid = world.create(name="TARGET", values={"staging": "target-1"})["id"]
    before = state(world, sid)
    bodies = [
        b"",
        b"   ",
        b"{",
        b"nope",
        b'{"name": "A",}',
        b"\xff\xfe\xfd",
        b"\xed\xa0\x80",  # a surrogate encoded as UTF-8 is not UTF-8
        b"[" * DEEP + b"]" * DEEP,
        b'{"a":' * DEEP + b"1" + b"}" * DEEP,
        b'{"values": {"production": ' + b"[" * DEEP + b"]" * DEEP + b"}}",
        b'{"owner_id": ' + b"9" * 5000 + b"}",  # int() refuses over 4,300 digits
        b"[1, 2]",
        b'"text"',
        b"NaN",
    ]
    for body in bodies:
        for method, path in (("POST", secrets_url(world)), ("PATCH", secrets_url(world, sid))):
            response = raw_call(world, "owner", method, path, body)
            assert_error(response, 422, "invalid", field="body")

    # Nesting that parses, where text belongs, names the field.
    nested = b"[" * 500 + b"]" * 500
    for field, body in (
        ("description", b'{"description": ' + nested + b"}"),
        ("values.production", b'{"values": {"production": ' + nested + b"}}"),
        ("name", b'{"name": ' + nested + b"}"),
    ):
        response = raw_call(world, "owner", "PATCH", secrets_url(world, sid), body)
        assert_error(response, 422, "invalid", field=field)

    assert state(world, sid) == before
    assert names(world) == ["TARGET"]


# --- lone surrogates ----------------------------------------------------------------------


def test_lone_surrogates_are_422_naming_the_field_and_never_reach_the_database(
    world: World,
) -> None:
    sid = world.create(name="PLAIN", description="plain", values={"staging": "plain-1"})["id"]
    item = secrets_url(world, sid)
    before = state(world, sid)
    lone = ["\\ud800", "\\udfff", "a\\udc00b", "\\ude00\\ud83d"]  # JSON escapes, as sent
    for escape in lone:
        text = escape.encode()
        creates = [
            ("name", b'{"name": "' + text + b'"}'),
            ("description", b'{"name": "FRESH", "description": "' + text + b'"}'),
            ("values.production", b'{"name": "FRESH", "values": {"production": "' + text + b'"}}'),
        ]
        for field, body in creates:
            response = raw_call(world, "owner", "POST", secrets_url(world), body)
            assert_error(response, 422, "invalid", field=field)
        patches = [
            ("name", b'{"name": "' + text + b'"}'),
            ("description", b'{"description": "' + text + b'"}'),
            ("values.staging", b'{"values": {"staging": "' + text + b'"}}'),
        ]
        for field, body in patches:
            assert_error(raw_call(world, "owner", "PATCH", item, body), 422, "invalid", field=field)

    # An unknown key holding one is named, escaped, in valid UTF-8.
    response = raw_call(world, "owner", "PATCH", item, b'{"\\ud800": 1}')
    assert_error(response, 422, "invalid", field="\\ud800")
    response = raw_call(world, "owner", "PATCH", item, b'{"values": {"\\udfff": "x"}}')
    assert_error(response, 422, "invalid", field="values.\\udfff")

    # In If-Match: the JSON escape as text, and the surrogate's bytes.
    for if_match in ('"\\ud800"', b'"\xed\xa0\x80"', b"\xed\xa0\x80"):
        response = raw_call(world, "owner", "PATCH", item, b"{}", **{"If-Match": if_match})
        assert_error(response, 422, "invalid", field="If-Match")
        response = raw_call(world, "owner", "DELETE", item, b"", **{"If-Match": if_match})
        assert_error(response, 422, "invalid", field="If-Match")

    assert state(world, sid) == before
    assert names(world) == ["PLAIN"]

    # A surrogate pair is an ordinary character: stored, and read back.
    response = raw_call(world, "owner", "PATCH", item, b'{"description": "key \\ud83d\\udd11"}')
    assert ok(response)["description"] == "key \N{KEY}"


# --- numbers out of range -----------------------------------------------------------------


def test_numbers_out_of_range_are_422_naming_the_field(world: World) -> None:
    sid = world.create(name="NUMBERED", values={"development": "numbered-1"})["id"]
    item = secrets_url(world, sid)
    before = state(world, sid)
    for number in (
        b"1000000000000000000000000000000",  # 10**30
        b"2147483648",  # past the user table's integer key
        b"9223372036854775808",
        b"0",
        b"-1",
        b"1.5",
        b"1.0",
        b"1e400",  # infinity
        b"true",
        b"false",
        b"null",
        b'"3"',
        b"[3]",
    ):
        for who in ("admin", "owner"):
            response = raw_call(world, who, "PATCH", item, b'{"owner_id": ' + number + b"}")
            assert_error(response, 422, "invalid", field="owner_id")
    for number in (b"1000000000000000000000000000000", b"1.5", b"true"):
        for body, field in (
            (b'{"values": {"production": ' + number + b"}}", "values.production"),
            (b'{"description": ' + number + b"}", "description"),
            (b'{"name": ' + number + b"}", "name"),
        ):
            assert_error(raw_call(world, "owner", "PATCH", item, body), 422, "invalid", field=field)
    assert state(world, sid) == before


# --- If-Match -----------------------------------------------------------------------------


def test_an_if_match_of_thousands_of_digits_is_422_if_match(world: World) -> None:
    sid = world.create(name="MATCHED", values={"production": "matched-1"})["id"]
    item = secrets_url(world, sid)
    before = state(world, sid)
    for if_match in (
        '"' + "9" * 5000 + '"',
        "9" * 5000,
        'W/"' + "1" * 19 + '"',
        '"' + "0" * 4400 + '1"',
    ):
        response = raw_call(
            world, "owner", "PATCH", item, b'{"description": "x"}', **{"If-Match": if_match}
        )
        assert_error(response, 422, "invalid", field="If-Match")
        response = raw_call(world, "owner", "DELETE", item, b"", **{"If-Match": if_match})
        assert_error(response, 422, "invalid", field="If-Match")
    assert state(world, sid) == before

    # Digits that are not ASCII ("²" is a digit to str.isdigit(), not to int()), byte-exact.
    token = world.tokens["owner"].encode()
    for value in (b'"\xb2"', b"\xb9", b'"1\xb3"'):
        raw = asgi_call(
            world.app,
            "PATCH",
            item,
            [(b"authorization", b"Bearer " + token), (b"if-match", value)],
            b'{"description": "x"}',
        )
        assert raw.status == 422, raw
        assert b'"field":"If-Match"' in raw.body, raw
    assert state(world, sid) == before

    # Nor is a Content-Length that int() cannot read: "²" is no length (the body is read,
    # and capped, as it comes), 5,000 digits are over 1 MiB.
    for length, status in ((b"\xb2", 201), (b"9" * 5000, 413)):
        raw = asgi_call(
            world.app,
            "POST",
            secrets_url(world),
            [(b"authorization", b"Bearer " + token), (b"content-length", length)],
            b'{"name": "SIZED"}',
        )
        assert raw.status == status, raw


# --- headers over 16 KiB ------------------------------------------------------------------


def test_headers_over_16_kib_in_all_are_431(world: World) -> None:
    sid = world.create(name="HEADED", values={"production": "headed-1"})["id"]
    item = secrets_url(world, sid)
    before = state(world, sid)
    one_big = {"X-Padding": "a" * MAX_HEADER_BYTES}
    many_small = {f"X-Padding-{n}": "b" * 500 for n in range(40)}
    for headers in (one_big, many_small):
        for method, path, body in (
            ("GET", "/api/me", b""),
            ("GET", secrets_url(world), b""),
            ("PATCH", item, b'{"description": "through big headers"}'),
            ("POST", secrets_url(world), b'{"name": "BIG_HEADERS"}'),
        ):
            response = raw_call(world, "owner", method, path, body, **headers)
            assert_error(response, 431, "headers_too_large", field=None)
        # The web page answers with a page, security headers included.
        page = world.client.get("/login", headers=headers)
        assert page.status_code == 431, show(page)
        assert page.headers["content-type"].startswith("text/html"), page.headers
        assert "content-security-policy" in page.headers, page.headers

    # Just under the limit is an ordinary request.
    under = {"X-Padding": "c" * (MAX_HEADER_BYTES - 1024)}
    assert ok(world.call("owner", "GET", "/api/me", headers=under))
    assert state(world, sid) == before
    assert names(world) == ["HEADED"]


# --- odd bytes in paths and query strings -------------------------------------------------


def test_odd_bytes_in_paths_and_query_strings(world: World) -> None:
    sid = world.create(name="ODD", values={"production": "odd-value-1"})["id"]
    before = state(world, sid)
    odd = [
        "%00",
        "%ff%fe",
        "%ED%A0%80",
        "%C0%AF",
        "..%2F..%2Fme",
        "%0d%0aX-Injected:%201",
        "a" * 5000,
    ]
    for segment in odd:
        for who in ("owner", "admin"):
            for method, path in (
                ("GET", f"/api/orgs/{segment}/secrets"),
                ("POST", f"/api/orgs/{segment}/secrets"),
                ("GET", f"/api/orgs/{world.org}/secrets/{segment}"),
                ("PATCH", f"/api/orgs/{world.org}/secrets/{segment}"),
                ("DELETE", f"/api/orgs/{world.org}/secrets/{segment}"),
                ("GET", f"/api/orgs/{segment}/members"),
            ):
                response = raw_call(world, who, method, path, b'{"description": "x"}')
                assert_error(response, 404, "not_found")
                assert "x-injected" not in response.headers, response.headers
        page = world.client.get(f"/orgs/{segment}/secrets", follow_redirects=False)
        assert page.status_code in (303, 404), show(page)
        if page.status_code == 303:
            assert "\r" not in page.headers["location"], page.headers

    for query in ("%ff=%00", "x=%ED%A0%80", "%00", "a=" + "%ff" * 2000, "&&==&", "x=1&x=2"):
        assert ok(world.call("owner", "GET", f"{secrets_url(world)}?{query}"))
        assert ok(world.call("owner", "GET", f"/api/me?{query}"))
        login = world.client.get(f"/login?next={query}")
        assert login.status_code == 200, show(login)

    # Credentials with odd bytes are bad credentials.
    for credential in (
        b"Bearer \xff\xfe",
        b"Bearer \xed\xa0\x80",
        b"Bearer " + b"\x7f" * 64,
        b"\xff",
    ):
        response = world.client.get("/api/me", headers={"Authorization": credential})
        assert_error(response, 401, "unauthenticated")

    assert state(world, sid) == before
    assert names(world) == ["ODD"]


# --- 503 database_unavailable -------------------------------------------------------------


class TcpProxy:
    """A TCP relay on a loopback port, which a test can cut (the listening socket and every
    relayed connection closed) and restore on the same port."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = 0
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()

    def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open |= {client, server}
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            self._close(source)
            self._close(target)

    def _close(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.discard(sock)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked in accept or recv
        sock.close()

    def cut(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            self._close(listener)
        with self._lock:
            relayed = list(self._open)
        for sock in relayed:
            self._close(sock)

    def restore(self) -> None:
        self.start()


def sign_in(client: TestClient, email: str, password: str) -> None:
    """The web session, through the sign-in form (its CSRF field included)."""
    found = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    assert found is not None, "no CSRF field on the sign-in form"
    form = {"csrf": found.group(1), "email": email, "password": password, "next": "/"}
    response = client.post("/login", data=form, follow_redirects=False)
    assert response.status_code == 303, show(response)


@dataclass
class Outage:
    """An app over a database that a test can make unreachable (`begin`) and bring back
    (`end`). `reads_refused`: whether reads fail too (SQLite's WAL readers never wait for
    the writer's lock, so only writes fail there)."""

    client: TestClient
    begin: Callable[[], None]
    end: Callable[[], None]
    reads_refused: bool


@contextlib.contextmanager
def postgresql_cut(world: World) -> Iterator[Outage]:
    url = sa.engine.make_url(world.database_url)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    proxy.start()
    through = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    app = create_app(settings_for(world.vault, through), background_recovery=False)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            yield Outage(client, proxy.cut, proxy.restore, reads_refused=True)
    finally:
        proxy.cut()


@contextlib.contextmanager
def sqlite_locked(world: World) -> Iterator[Outage]:
    """Another process's connection (an operator's `sqlite3` shell, a backup script) holds
    the write lock with `BEGIN EXCLUSIVE`, longer than the app's busy timeout.

    The app waits out its busy timeout before it gives up: 30 seconds in `vaultfront.db`,
    which is not configurable, so this app's connections get 300 ms (a PRAGMA run after the
    app's own on every new connection). The fault itself is SQLite's.
    """
    path = sa.engine.make_url(world.database_url).database
    assert path is not None
    app = create_app(settings_for(world.vault, world.database_url), background_recovery=False)

    def short_busy_timeout(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA busy_timeout=300")
        cursor.close()

    event.listen(app.state.db.engine, "connect", short_busy_timeout)
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)

    def begin() -> None:
        holder.execute("BEGIN EXCLUSIVE")

    def end() -> None:
        holder.execute("ROLLBACK")

    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            yield Outage(client, begin, end, reads_refused=False)
    finally:
        if holder.in_transaction:
            holder.execute("ROLLBACK")
        holder.close()


def test_an_unreachable_database_is_503_and_service_resumes_by_itself(world: World) -> None:
    secret = world.create(name="BEFORE", description="before", values={"production": "before-1"})
    sid = secret["id"]
    item, collection = secrets_url(world, sid), secrets_url(world)
    before = state(world, sid)
    outage = sqlite_locked if world.database_url.startswith("sqlite") else postgresql_cut
    with outage(world) as fault:

        def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
            sent = {**world.headers("owner"), **kwargs.pop("headers", {})}
            response: httpx.Response = fault.client.request(method, path, headers=sent, **kwargs)
            return response

        ok(call("GET", "/api/me"))  # a pooled connection, and the token's use recorded
        sign_in(fault.client, "owner@example.com", "pw-owner")
        fault.begin()
        writes = [
            ("POST", collection, {"name": "DURING", "values": {"staging": "during-1"}}),
            ("PATCH", item, {"description": "during", "values": {"production": "during-2"}}),
            ("DELETE", item, None),
        ]
        reads = [("GET", "/api/me"), ("GET", collection), ("GET", item)]
        for _ in range(2):  # and again: a refusal leaves nothing behind that breaks the next
            for method, path, body in writes:
                response = call(method, path, json=body)
                assert_error(
                    response,
                    503,
                    "database_unavailable",
                    field=None,
                    message=(DatabaseUnavailable.default_message),
                )
                for leak in ("psycopg", "sqlite", "OperationalError", "locked", "127.0.0.1"):
                    assert leak not in response.text, show(response)
            for method, path in reads:
                response = call(method, path)
                if fault.reads_refused:
                    assert_error(response, 503, "database_unavailable", field=None)
                else:
                    assert response.status_code == 200, show(response)
        # The web page says so with a page.
        page = fault.client.get(f"/orgs/{world.org}/secrets")
        assert page.status_code == (503 if fault.reads_refused else 200), show(page)
        assert page.headers["content-type"].startswith("text/html"), page.headers

        fault.end()
        # Back, without a restart: the same app answers.
        assert ok(call("GET", "/api/me"))["user"]["email"] == "owner@example.com"
        assert [row["name"] for row in ok(call("GET", collection))["secrets"]] == ["BEFORE"]
        assert state(world, sid) == before  # nothing was written
        made = ok(call("POST", collection, json={"name": "DURING"}), 201)  # not name_taken
        assert made["version"] == 1, made
        patched = ok(call("PATCH", item, json={"description": "after"}))
        assert patched["version"] == before[0] + 1, patched
