"""`vaultfront run`: run a command with one environment's secrets, its output masked.

    vaultfront run --org ORG --env ENV [--secret NAME ...] -- COMMAND [ARGS...]

The secrets are resolved (through `vaultfront.executor`) before the command starts; a
Vault problem exits with status 2 and a one-line reason, and the command never runs. The
child gets the secrets as environment variables (and not the executor's own credentials),
inherits stdin, and its stdout and stderr pass through a `Masker` that replaces every
occurrence of every value with `***`. Signals sent to `vaultfront run` reach the child; the
exit status is the child's (128 + N when a signal N ended it, as a shell reports it).

This module is on the `vaultfront run` start-up path: argparse and the standard library
only, never click or the web stack.
"""

from __future__ import annotations

import argparse
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Final

from vaultfront import executor, layout

EXIT_VAULT: Final = 2
EXIT_NOT_EXECUTABLE: Final = 126
EXIT_NOT_FOUND: Final = 127
MASK: Final = b"***"
#: How long output that could be the start of a secret is held back before it is written
#: anyway (the rest of the secret did not follow).
HOLD_SECONDS: Final = 1.0
#: After the command exits, how long its output pipes are drained (a background process it
#: started may keep them open).
DRAIN_SECONDS: Final = 2.0
#: Polling interval for the command's exit while its pipes stay open.
POLL_SECONDS: Final = 0.2
READ_SIZE: Final = 65536
FORWARDED_SIGNALS: Final = (
    signal.SIGINT,
    signal.SIGTERM,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
)
#: Signals a terminal sends to its whole foreground process group (the child included).
TERMINAL_SIGNALS: Final = (signal.SIGINT, signal.SIGQUIT)
#: The executor's own credentials are not passed on to the command.
WITHHELD_VARIABLES: Final = (
    "VAULTFRONT_EXECUTOR_ROLE_ID",
    "VAULTFRONT_EXECUTOR_SECRET_ID",
    "VAULT_TOKEN",
)


class Masker:
    """Replaces every occurrence of any of `values` in a byte stream with `***`.

    Every byte that belongs to an occurrence of some value is masked (overlapping
    occurrences become one `***`), so the order of the values does not matter. A value
    that arrives split across reads is still masked: output whose end could be the start
    of a value is held back (at most the longest value's length minus one byte) until
    the next read decides it, `flush()` is called, or `HOLD_SECONDS` pass. Output that is
    not the start of a value, such as an ordinary line, is written at once.
    """

    def __init__(self, values: Iterable[str]) -> None:
        encoded = {value.encode() for value in values if value}
        self._patterns = sorted(encoded, key=len, reverse=True)
        self._pending = b""
        self.held_since: float | None = None

    def feed(self, data: bytes, now: float | None = None) -> bytes:
        """The output that is safe to write after `data` arrives, masked."""
        buffer = self._pending + data
        if not self._patterns:
            self._pending = b""
            return buffer
        spans = self._occurrences(buffer)
        cut = self._partial_start(buffer)
        # A complete occurrence that straddles the cut stays whole in the held part.
        moved = True
        while moved:
            moved = False
            for start, end in spans:
                if start < cut < end:
                    cut, moved = start, True
        out = _mask(buffer[:cut], [span for span in spans if span[1] <= cut])
        if not buffer[cut:]:
            self.held_since = None
        elif self.held_since is None or cut >= len(self._pending):
            self.held_since = time.monotonic() if now is None else now
        self._pending = buffer[cut:]
        return out

    def flush(self) -> bytes:
        """Everything held back, complete values masked (end of stream or timeout)."""
        buffer, self._pending, self.held_since = self._pending, b"", None
        return _mask(buffer, self._occurrences(buffer))

    def _occurrences(self, buffer: bytes) -> list[tuple[int, int]]:
        spans = []
        for pattern in self._patterns:
            start = buffer.find(pattern)
            while start != -1:
                spans.append((start, start + len(pattern)))
                start = buffer.find(pattern, start + 1)
        spans.sort()
        return spans

    def _partial_start(self, buffer: bytes) -> int:
        """The smallest p such that buffer[p:] is a proper prefix of some value."""
        cut = len(buffer)
        for pattern in self._patterns:
            first = pattern[:1]
            position = buffer.find(first, max(0, len(buffer) - len(pattern) + 1))
            while position != -1 and position < cut:
                if pattern.startswith(buffer[position:]):
                    cut = position
                    break
                position = buffer.find(first, position + 1)
        return cut


def _mask(data: bytes, spans: list[tuple[int, int]]) -> bytes:
    if not spans:
        return data
    pieces = []
    position = 0
    for start, end in spans:  # sorted by start
        if end <= position:
            continue
        if start >= position:
            pieces.append(data[position:start])
            pieces.append(MASK)
        position = end
    pieces.append(data[position:])
    return b"".join(pieces)


@dataclass
class _Stream:
    """One of the child's output pipes and where its masked bytes go."""

    target_fd: int
    masker: Masker
    broken: bool = field(default=False)

    def write(self, data: bytes) -> None:
        while data and not self.broken:
            try:
                written = os.write(self.target_fd, data)
            except BrokenPipeError:
                self.broken = True  # our reader left; keep draining the child
                return
            data = data[written:]


class _SignalForwarder:
    def __init__(self) -> None:
        self.child: subprocess.Popen[bytes] | None = None
        self.pending: list[int] = []
        self.previous: dict[int, object] = {}

    def install(self) -> None:
        for signum in FORWARDED_SIGNALS:
            self.previous[signum] = signal.signal(signum, self._handle)

    def restore(self) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]

    def attach(self, child: subprocess.Popen[bytes]) -> None:
        self.child = child
        for signum in self.pending:
            self._send(signum)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if signum in TERMINAL_SIGNALS and _terminal_reaches_child():
            return  # the terminal already sent it to the child: do not deliver it twice
        if self.child is None:
            self.pending.append(signum)
        else:
            self._send(signum)

    def _send(self, signum: int) -> None:
        if self.child is not None and self.child.poll() is None:
            self.child.send_signal(signum)


def _terminal_reaches_child() -> bool:
    """Whether we run in the foreground of a terminal (so a Ctrl-C reached the child too)."""
    try:
        return os.tcgetpgrp(sys.stdin.fileno()) == os.getpgrp()
    except (OSError, ValueError, AttributeError):
        return False


def supervise(command: Sequence[str], env: dict[str, str], values: Iterable[str]) -> int:
    """Run `command`, stream its masked output, and return its exit status."""
    values = list(values)
    forwarder = _SignalForwarder()
    forwarder.install()
    try:
        try:
            child = subprocess.Popen(
                list(command), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
        except FileNotFoundError:
            _say(f"command not found: {command[0]}")
            return EXIT_NOT_FOUND
        except PermissionError:
            _say(f"command not executable: {command[0]}")
            return EXIT_NOT_EXECUTABLE
        forwarder.attach(child)
        _pump(child, values)
        status = child.wait()
    finally:
        forwarder.restore()
    return 128 - status if status < 0 else status


def _pump(child: subprocess.Popen[bytes], values: list[str]) -> None:
    assert child.stdout is not None and child.stderr is not None
    streams = {
        child.stdout.fileno(): _Stream(sys.stdout.fileno(), Masker(values)),
        child.stderr.fileno(): _Stream(sys.stderr.fileno(), Masker(values)),
    }
    selector = selectors.DefaultSelector()
    for fd in streams:
        selector.register(fd, selectors.EVENT_READ)
    exited_at: float | None = None
    try:
        while selector.get_map():
            now = time.monotonic()
            timeout = POLL_SECONDS if exited_at is None else exited_at + DRAIN_SECONDS - now
            for stream in streams.values():
                if stream.masker.held_since is not None:
                    timeout = min(timeout, stream.masker.held_since + HOLD_SECONDS - now)
            for key, _ in selector.select(max(0.0, timeout)):
                fd = int(key.fd)
                stream = streams[fd]
                data = os.read(fd, READ_SIZE)
                if data:
                    stream.write(stream.masker.feed(data))
                else:
                    stream.write(stream.masker.flush())
                    selector.unregister(fd)
            now = time.monotonic()
            for stream in streams.values():
                held = stream.masker.held_since
                if held is not None and now >= held + HOLD_SECONDS:
                    stream.write(stream.masker.flush())
            if exited_at is None and child.poll() is not None:
                exited_at = now
            if exited_at is not None and now >= exited_at + DRAIN_SECONDS:
                break  # something the command started still holds its pipes open
    finally:
        for stream in streams.values():
            stream.write(stream.masker.flush())
        selector.close()
        child.stdout.close()
        child.stderr.close()


def _say(message: str) -> None:
    # One line for people; never a value (executor errors carry none).
    sys.stderr.write(f"vaultfront run: {' '.join(message.split())}\n")
    sys.stderr.flush()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vaultfront run",
        usage="vaultfront run --org ORG --env ENV [--secret NAME ...] -- COMMAND [ARGS...]",
        description="Run COMMAND with the secrets of one organization's environment as "
        "environment variables; every secret value in its output is replaced by ***.",
        epilog="Reads VAULT_ADDR and VAULTFRONT_EXECUTOR_ROLE_ID / "
        "VAULTFRONT_EXECUTOR_SECRET_ID (or VAULT_TOKEN). Exits with COMMAND's status, or 2 "
        "when Vault cannot give the secrets (COMMAND does not run then).",
    )
    parser.add_argument("--org", required=True, help="organization slug")
    parser.add_argument("--env", required=True, choices=layout.ENVIRONMENTS)
    parser.add_argument(
        "--secret",
        action="append",
        metavar="NAME",
        default=[],
        help="pass only this secret (repeatable); default: every secret of the environment",
    )
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")
    return parser


def main(argv: list[str]) -> int:
    parser = _parser()
    if "--" in argv:
        split = argv.index("--")
        args = parser.parse_args(argv[:split])
        if args.command:
            parser.error(f"unexpected arguments before --: {' '.join(args.command)}")
        command = argv[split + 1 :]
    else:
        args = parser.parse_args(argv)
        command = args.command
    if not command:
        parser.error("missing the command: vaultfront run --org ORG --env ENV -- COMMAND")
    try:
        with executor.Executor.from_env(org=args.org, environment=args.env) as source:
            secrets = source.resolve(args.secret) if args.secret else source.resolve_all()
    except executor.ExecutorError as exc:
        _say(str(exc))
        return EXIT_VAULT
    except KeyboardInterrupt:
        return 128 + signal.SIGINT
    env = {name: value for name, value in os.environ.items() if name not in WITHHELD_VARIABLES}
    env.update(secrets)
    return supervise(command, env, secrets.values())
