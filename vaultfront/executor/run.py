"""`vaultfront run`: run a command with one environment's secrets, its output redacted.

    vaultfront run --org ORG --env ENV [--secret NAME ...] -- COMMAND [ARGS...]

The secrets are resolved (through `Executor`) before the command starts; a Vault problem
exits with status 2 and a one-line reason, and the command never runs. The child gets the
secrets as environment variables (and not the executor's own credentials), inherits
stdin, and its stdout and stderr pass through a `Redactor`
(`vaultfront.executor.redaction`) that replaces every occurrence of every value with
`***`. Signals sent to `vaultfront run` reach the child; the
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

from vaultfront import layout
from vaultfront.executor.errors import ExecutorError
from vaultfront.executor.executor import Executor
from vaultfront.executor.redaction import Redactor

EXIT_VAULT: Final = 2
EXIT_NOT_EXECUTABLE: Final = 126
EXIT_NOT_FOUND: Final = 127
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


@dataclass
class _Stream:
    """One of the child's output pipes and where its redacted bytes go."""

    target_fd: int
    redactor: Redactor
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
    """Run `command`, stream its redacted output, and return its exit status."""
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
        child.stdout.fileno(): _Stream(sys.stdout.fileno(), Redactor(values)),
        child.stderr.fileno(): _Stream(sys.stderr.fileno(), Redactor(values)),
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
                release = stream.redactor.release_at
                if release is not None:
                    timeout = min(timeout, release - now)
            for key, _ in selector.select(max(0.0, timeout)):
                fd = int(key.fd)
                stream = streams[fd]
                data = os.read(fd, READ_SIZE)
                if data:
                    stream.write(stream.redactor.feed(data))
                else:
                    stream.write(stream.redactor.flush())
                    selector.unregister(fd)
            now = time.monotonic()
            for stream in streams.values():
                if stream.redactor.due(now):
                    stream.write(stream.redactor.flush())
            if exited_at is None and child.poll() is not None:
                exited_at = now
            if exited_at is not None and now >= exited_at + DRAIN_SECONDS:
                break  # something the command started still holds its pipes open
    finally:
        for stream in streams.values():
            stream.write(stream.redactor.flush())
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
        with Executor.from_env(org=args.org, environment=args.env) as source:
            secrets = source.resolve(args.secret) if args.secret else source.resolve_all()
    except ExecutorError as exc:
        _say(str(exc))
        return EXIT_VAULT
    except KeyboardInterrupt:
        return 128 + signal.SIGINT
    env = {name: value for name, value in os.environ.items() if name not in WITHHELD_VARIABLES}
    env.update(secrets)
    return supervise(command, env, secrets.values())
