"""Redaction of `vaultfront run`'s output: every secret value in it becomes `***`.

This is not the stored mask of a value (`vaultfront.masks`, what the facade shows in place
of a value): a `Redactor` scans a byte stream for the full values given to a command, as CI
systems hide secrets in their logs.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Final

REDACTED: Final = b"***"
#: How long output that could be the start of a secret is held back before it is written
#: anyway (the rest of the secret did not follow).
HOLD_SECONDS: Final = 1.0


class Redactor:
    """Replaces every occurrence of any of `values` in a byte stream with `***`.

    Every byte that belongs to an occurrence of some value is redacted (overlapping
    occurrences become one `***`), so the order of the values does not matter. A value
    that arrives split across reads is still redacted: output whose end could be the start
    of a value is held back (at most the longest value's length minus one byte) until
    the next read decides it, `flush()` is called, or `HOLD_SECONDS` pass (`due`). Output
    that is not the start of a value, such as an ordinary line, is written at once.
    """

    def __init__(self, values: Iterable[str]) -> None:
        encoded = {value.encode() for value in values if value}
        self._patterns = sorted(encoded, key=len, reverse=True)
        self._pending = b""
        #: When the oldest byte held back arrived (`time.monotonic()` unless `feed` was
        #: given `now`); None when nothing is held.
        self.held_since: float | None = None

    def feed(self, data: bytes, now: float | None = None) -> bytes:
        """The output that is safe to write after `data` arrives (at `now`), redacted."""
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
        out = _redact(buffer[:cut], [span for span in spans if span[1] <= cut])
        if not buffer[cut:]:
            self.held_since = None
        elif self.held_since is None or cut >= len(self._pending):
            self.held_since = time.monotonic() if now is None else now
        self._pending = buffer[cut:]
        return out

    @property
    def release_at(self) -> float | None:
        """When what is held back is to be written anyway; None when nothing is held."""
        return None if self.held_since is None else self.held_since + HOLD_SECONDS

    def due(self, now: float) -> bool:
        """Whether output has been held back for `HOLD_SECONDS` at `now` (then `flush`)."""
        release = self.release_at
        return release is not None and now >= release

    def flush(self) -> bytes:
        """Everything held back, complete values redacted (end of stream or timeout)."""
        buffer, self._pending, self.held_since = self._pending, b"", None
        return _redact(buffer, self._occurrences(buffer))

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


def _redact(data: bytes, spans: list[tuple[int, int]]) -> bytes:
    if not spans:
        return data
    pieces = []
    position = 0
    for start, end in spans:  # sorted by start
        if end <= position:
            continue
        if start >= position:
            pieces.append(data[position:start])
            pieces.append(REDACTED)
        position = end
    pieces.append(data[position:])
    return b"".join(pieces)
