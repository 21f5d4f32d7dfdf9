"""`vaultfront run` as a user runs it (a subprocess against real OpenBao), and its Redactor.

SPEC section 6: the child sees the secrets as environment variables, its stdout and stderr
show `***` in place of every value, its exit status and signals pass through, and Vault
problems stop the run before the command starts.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import VaultInstance
from executor_helpers import executor_environ, new_org, write_env
from hypothesis import given, settings
from hypothesis import strategies as st

from vaultfront.devserver import free_port
from vaultfront.executor.redaction import HOLD_SECONDS, Redactor

VALUES = {
    "API_KEY": "sk_live_51HqLyjWDarjtT1zdp7dcRgA1",
    "PASSWORD": "hunter2-correct-horse",
    "PEM": (
        "-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1\n"
        "tPf9Cnzj4p4WGeKLs\n-----END KEY-----"
    ),
    "SHORT": "s3cr",
}


@pytest.fixture(scope="module")
def staging(vault: VaultInstance) -> dict[str, str]:
    """An organization's staging environment and the environment of a host allowed to run it."""
    root = vault.root_client()
    org = new_org()
    write_env(root, org, "staging", VALUES, large={"PEM"})
    write_env(root, org, "production", {"PROD_ONLY": "prod-value-xyz"})
    environ = executor_environ(root, vault.addr, org, "staging")
    return {**environ, "ORG": org}


def run(
    staging: dict[str, str],
    code: str,
    *extra: str,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """`python -m vaultfront run --org ORG --env staging [extra] -- python -c CODE`."""
    environ = {**os.environ, **{k: v for k, v in staging.items() if k != "ORG"}, **(env or {})}
    command = [sys.executable, "-m", "vaultfront", "run", "--org", staging["ORG"]]
    command += ["--env", "staging", *extra, "--", sys.executable, "-c", textwrap.dedent(code)]
    return subprocess.run(command, env=environ, capture_output=True, text=True, timeout=timeout)


def shown(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"


def assert_no_value(text: str) -> None:
    for name, value in VALUES.items():
        for part in [value, *(line for line in value.splitlines() if len(line) > 8)]:
            at = text.find(part)
            assert at == -1, f"{name} leaked at {at}:\n{text[max(0, at - 300) : at + 300]}"


def test_child_sees_the_values_and_its_output_is_masked(staging: dict[str, str]) -> None:
    result = run(
        staging,
        """
        import hashlib, os, sys
        for name in sorted(os.environ):
            if name in ("API_KEY", "PASSWORD", "PEM", "SHORT", "PROD_ONLY"):
                value = os.environ[name]
                print(name, hashlib.sha256(value.encode()).hexdigest())
                print(f"{name} is [{value}]")
                print(f"err {name}=[{value}]", file=sys.stderr)
        for name in ("VAULTFRONT_EXECUTOR_ROLE_ID", "VAULTFRONT_EXECUTOR_SECRET_ID",
                     "VAULT_TOKEN"):
            print(name, "present" if name in os.environ else "absent")
        """,
    )
    assert result.returncode == 0, shown(result)
    for name, value in VALUES.items():
        assert f"{name} {hashlib.sha256(value.encode()).hexdigest()}" in result.stdout, shown(
            result
        )
        assert f"{name} is [***]" in result.stdout, shown(result)
        assert f"err {name}=[***]" in result.stderr, shown(result)
    assert "PROD_ONLY" not in result.stdout, shown(result)
    assert "VAULTFRONT_EXECUTOR_SECRET_ID absent" in result.stdout, shown(result)
    assert "VAULTFRONT_EXECUTOR_ROLE_ID absent" in result.stdout, shown(result)
    assert_no_value(result.stdout + result.stderr)


def test_a_value_split_across_two_flushed_writes_is_masked(staging: dict[str, str]) -> None:
    result = run(
        staging,
        """
        import os, sys, time
        value = os.environ["API_KEY"]
        for stream in (sys.stdout, sys.stderr):
            stream.write("token: " + value[:12])
            stream.flush()
            time.sleep(0.3)
            stream.write(value[12:] + " done\\n")
            stream.flush()
        """,
    )
    assert result.returncode == 0, shown(result)
    assert result.stdout == "token: *** done\n", shown(result)
    assert result.stderr == "token: *** done\n", shown(result)


def test_a_multi_line_value_is_masked_whole(staging: dict[str, str]) -> None:
    result = run(
        staging,
        """
        import os, sys, time
        value = os.environ["PEM"]
        print("key follows")
        print(value)
        for line in value.splitlines(keepends=True):  # one flushed write per line
            sys.stdout.write(line)
            sys.stdout.flush()
            time.sleep(0.05)
        print()
        print("end")
        """,
    )
    assert result.returncode == 0, shown(result)
    assert result.stdout == "key follows\n***\n***\nend\n", shown(result)
    assert_no_value(result.stdout)


def test_only_the_named_secrets_with_secret(staging: dict[str, str]) -> None:
    result = run(
        staging,
        """
        import os
        print(sorted(n for n in ("API_KEY", "PASSWORD", "PEM", "SHORT") if n in os.environ))
        """,
        "--secret",
        "SHORT",
        "--secret",
        "PASSWORD",
    )
    assert result.returncode == 0, shown(result)
    assert result.stdout == "['PASSWORD', 'SHORT']\n", shown(result)


def test_exit_status_passes_through(staging: dict[str, str]) -> None:
    result = run(staging, "import sys; print('bye'); sys.exit(7)")
    assert result.returncode == 7, shown(result)
    assert result.stdout == "bye\n", shown(result)


def _start(staging: dict[str, str], code: str) -> subprocess.Popen[str]:
    environ = {**os.environ, **{k: v for k, v in staging.items() if k != "ORG"}}
    command = [sys.executable, "-m", "vaultfront", "run", "--org", staging["ORG"]]
    command += ["--env", "staging", "--", sys.executable, "-c", textwrap.dedent(code)]
    return subprocess.Popen(
        command, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.mark.parametrize("handled", [True, False], ids=["child-handles", "child-default"])
def test_sigterm_reaches_the_child(staging: dict[str, str], handled: bool) -> None:
    process = _start(
        staging,
        f"""
        import os, signal, sys, time
        if {handled}:
            def stop(signum, frame):
                print("child got", signum, os.environ["PASSWORD"], flush=True)
                sys.exit(42)
            signal.signal(signal.SIGTERM, stop)
        print("ready", flush=True)
        time.sleep(30)
        print("not interrupted", flush=True)
        """,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first == "ready\n", first + (process.stderr.read() if process.stderr else "")
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    elapsed = time.monotonic() - started
    seen = f"exit {process.returncode}\nstdout:\n{first}{out}\nstderr:\n{err}"
    assert elapsed < 10, seen
    if handled:
        assert process.returncode == 42, seen
        assert out == f"child got {int(signal.SIGTERM)} ***\n", seen
    else:
        assert process.returncode == 128 + signal.SIGTERM, seen
        assert out == "", seen


def test_unknown_secret_stops_before_the_command(staging: dict[str, str], tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    result = run(
        staging,
        f"open({str(marker)!r}, 'w').write('ran')",
        "--secret",
        "API_KEY",
        "--secret",
        "PROD_ONLY",
    )
    assert result.returncode == 2, shown(result)
    assert not marker.exists(), "the command ran"
    assert result.stdout == "", shown(result)
    assert result.stderr.count("\n") == 1, shown(result)
    assert result.stderr.startswith("vaultfront run: PROD_ONLY is not set in staging"), shown(
        result
    )


def test_vault_down_stops_before_the_command(staging: dict[str, str], tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    result = run(
        staging,
        f"open({str(marker)!r}, 'w').write('ran')",
        env={"VAULT_ADDR": f"http://127.0.0.1:{free_port()}"},
    )
    assert result.returncode == 2, shown(result)
    assert not marker.exists(), "the command ran"
    assert result.stderr.count("\n") == 1 and "cannot be reached" in result.stderr, shown(result)


def test_refused_credentials_stop_before_the_command(
    staging: dict[str, str], tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    result = run(
        staging,
        f"open({str(marker)!r}, 'w').write('ran')",
        env={"VAULTFRONT_EXECUTOR_SECRET_ID": "00000000-0000-0000-0000-000000000000"},
    )
    assert result.returncode == 2, shown(result)
    assert not marker.exists(), "the command ran"
    assert "refused" in result.stderr and result.stderr.count("\n") == 1, shown(result)


def test_missing_command_and_unknown_program(staging: dict[str, str]) -> None:
    environ = {**os.environ, **{k: v for k, v in staging.items() if k != "ORG"}}
    base = [sys.executable, "-m", "vaultfront", "run", "--org", staging["ORG"], "--env", "staging"]
    missing = subprocess.run(base, env=environ, capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "missing the command" in missing.stderr, shown(missing)
    unknown = subprocess.run(
        [*base, "--", "no-such-program-vf"], env=environ, capture_output=True, text=True, timeout=60
    )
    assert unknown.returncode == 127, shown(unknown)
    assert "command not found: no-such-program-vf" in unknown.stderr, shown(unknown)


def test_large_output_with_values_at_every_read_boundary(staging: dict[str, str]) -> None:
    result = run(
        staging,
        """
        import os, random, sys, time
        values = [os.environ[n] for n in ("API_KEY", "PASSWORD", "PEM", "SHORT")]
        rng = random.Random(7)
        blob = b"".join(
            b"x" * rng.randrange(0, 700) + rng.choice(values).encode() for _ in range(3000)
        ) + b"\\n"
        count = 3000
        position = 0
        while position < len(blob):  # raw writes of any size: values split anywhere
            size = rng.choice([1, 7, 100, 4096, 65536, 200000])
            position += os.write(1, blob[position : position + size])
            if rng.random() < 0.01:
                time.sleep(0.002)
        print("count", count, file=sys.stderr)
        """,
    )
    assert result.returncode == 0, shown(result)[:2000]
    assert result.stderr == "count 3000\n", result.stderr
    assert_no_value(result.stdout)
    assert result.stdout.count("***") == 3000, result.stdout.count("***")


# --- the Redactor on its own: its clock is the `now` each test gives it -------------------


def redacted_in_chunks(values: list[str], data: bytes, cuts: list[int]) -> bytes:
    redactor = Redactor(values)
    out = []
    position = 0
    for cut in sorted(set(cuts)):
        out.append(redactor.feed(data[position:cut], now=0.0))
        position = cut
    out.append(redactor.feed(data[position:], now=0.0))
    out.append(redactor.flush())
    return b"".join(out)


def reference_redaction(values: list[str], data: bytes) -> bytes:
    """Every byte covered by some occurrence of some value, each covered run as `***`."""
    covered = [False] * len(data)
    for value in {v.encode() for v in values if v}:
        start = data.find(value)
        while start != -1:
            for i in range(start, start + len(value)):
                covered[i] = True
            start = data.find(value, start + 1)
    out = bytearray()
    i = 0
    while i < len(data):
        if covered[i]:
            # Occurrences that merely touch stay separate `***`.
            j = i
            while j < len(data) and covered[j]:
                j += 1
            out += b"***" * _runs(values, data, i, j)
            i = j
        else:
            out.append(data[i])
            i += 1
    return bytes(out)


def _runs(values: list[str], data: bytes, start: int, end: int) -> int:
    """How many `***` a covered run [start, end) becomes: chains of overlapping spans."""
    spans = []
    for value in {v.encode() for v in values if v}:
        s = data.find(value, start)
        while s != -1 and s + len(value) <= end:
            spans.append((s, s + len(value)))
            s = data.find(value, s + 1)
    spans.sort()
    runs, reach = 0, -1
    for s, e in spans:
        if s >= reach:
            runs += 1
        reach = max(reach, e)
    return runs


alphabet = st.sampled_from(list("ab\n"))


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(st.text(alphabet, min_size=1, max_size=6), min_size=1, max_size=4),
    data=st.text(alphabet, max_size=80).map(str.encode),
    cuts=st.lists(st.integers(0, 80), max_size=12),
)
def test_redactor_output_does_not_depend_on_how_reads_split(
    values: list[str], data: bytes, cuts: list[int]
) -> None:
    expected = reference_redaction(values, data)
    assert redacted_in_chunks(values, data, cuts) == expected
    for value in values:
        assert value.encode() not in expected


def test_redactor_writes_ordinary_lines_at_once_and_holds_only_a_possible_start() -> None:
    redactor = Redactor(["hunter2"])
    assert redactor.feed(b"a line\n", now=0.0) == b"a line\n"
    assert redactor.held_since is None
    assert redactor.feed(b"pass: hun", now=1.0) == b"pass: "
    assert redactor.held_since == 1.0
    assert redactor.feed(b"te", now=2.0) == b""
    assert redactor.held_since == 1.0, "the hold started with the oldest byte"
    assert redactor.feed(b"r2!\n", now=3.0) == b"***!\n"
    assert redactor.feed(b"hunt", now=4.0) == b""
    assert redactor.flush() == b"hunt", "a timeout or EOF writes what was held"
    assert Redactor([]).feed(b"anything", now=5.0) == b"anything"


def test_held_output_is_due_after_the_hold_time() -> None:
    """SPEC 6: held output is written after 1 second without more data. `vaultfront run`
    flushes a stream when `due(now)`; the clock here is the `now` given, not a sleep."""
    redactor = Redactor(["hunter2"])
    assert HOLD_SECONDS == 1.0
    assert redactor.release_at is None and not redactor.due(0.0)
    assert redactor.feed(b"pass: hun", now=10.0) == b"pass: "
    assert redactor.release_at == 10.0 + HOLD_SECONDS
    assert not redactor.due(10.0 + HOLD_SECONDS - 0.001)
    assert redactor.feed(b"t", now=10.5) == b"", "still a possible start: still held"
    assert redactor.release_at == 10.0 + HOLD_SECONDS, "the hold counts from the oldest byte"
    assert redactor.due(10.0 + HOLD_SECONDS)
    assert redactor.flush() == b"hunt", "the first part of the secret shows"
    assert redactor.release_at is None and not redactor.due(1e9)
    # What follows starts a new hold, from its own arrival.
    assert redactor.feed(b"er2 hu", now=20.0) == b"er2 "
    assert redactor.release_at == 20.0 + HOLD_SECONDS


def test_redactor_redacts_overlapping_and_longest_values() -> None:
    redactor = Redactor(["abc", "bcdef", "abcdefgh"])
    data = b"[abcdefgh] [abcdef] [bcd] [abc][abc]\n"
    assert redactor.feed(data, now=0.0) == b"[***] [***] [bcd] [***][***]\n"
    redactor = Redactor(["é✓"])
    data = "x é✓ y".encode()
    assert (
        redactor.feed(data[:3], now=0.0) + redactor.feed(data[3:], now=0.0) + redactor.flush()
        == b"x *** y"
    )
