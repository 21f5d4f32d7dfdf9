"""Login throttling: too many failed sign-ins for an account, or from one address, and
further attempts are refused for a while, before any password is checked.

Why this shape:

- Two keys, each with its own limit: the account (the email, case-insensitive) protects
  one user's password from a focused guesser; the client address bounds one machine that
  spreads its guesses over many accounts.
- An attempt counts as a failure *when it starts* and is forgiven if it succeeds. Counting
  only after argon2 answers would let a burst of parallel requests all pass the check
  before the first failure is recorded.
- A refused attempt does not count: it costs the server nothing (no argon2), and counting
  it would let a guesser keep an account locked for ever by knocking once a minute.
- In process memory, bounded: each key keeps at most `limit` timestamps, and each table
  at most `max_keys` keys, the least recently failed dropped first. Several workers each
  count on their own (docs/web.md says why that is acceptable).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

WINDOW_SECONDS = 15 * 60
MAX_FAILURES_PER_EMAIL = 5
MAX_FAILURES_PER_ADDRESS = 20
MAX_TRACKED_KEYS = 10_000
MAX_KEY_LENGTH = 320  # longer than any email address: a megabyte "email" is kept as this much

Clock = Callable[[], float]


class FailureLog:
    """Recent failure times per key, within a sliding window, for at most `max_keys` keys."""

    def __init__(self, limit: int, window: float, max_keys: int) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._times: OrderedDict[str, deque[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._times)

    def __contains__(self, key: str) -> bool:
        return key in self._times

    def _recent(self, key: str, now: float) -> deque[float] | None:
        times = self._times.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._times[key]
            return None
        return times

    def count(self, key: str, now: float) -> int:
        times = self._recent(key, now)
        return len(times) if times is not None else 0

    def blocked_for(self, key: str, now: float) -> float:
        """Seconds until `key` may try again; 0 when it may now."""
        times = self._recent(key, now)
        if times is None or len(times) < self.limit:
            return 0.0
        return times[0] + self.window - now  # when the oldest counted failure expires

    def add(self, key: str, now: float) -> None:
        times = self._recent(key, now)
        if times is None:
            times = self._times[key] = deque(maxlen=self.limit)
        times.append(now)
        self._times.move_to_end(key)
        while len(self._times) > self.max_keys:
            self._times.popitem(last=False)

    def forgive_one(self, key: str) -> None:
        times = self._times.get(key)
        if times:
            times.pop()
            if not times:
                del self._times[key]

    def reset(self, key: str) -> None:
        self._times.pop(key, None)


@dataclass(frozen=True)
class Refusal:
    """Why an attempt was refused, and for how long (whole minutes, at least one)."""

    reason: str  # "email" or "address"
    retry_after: float

    @property
    def seconds(self) -> int:
        return max(1, math.ceil(self.retry_after))

    @property
    def minutes(self) -> int:
        return max(1, math.ceil(self.retry_after / 60))

    @property
    def message(self) -> str:
        wait = "1 minute" if self.minutes == 1 else f"{self.minutes} minutes"
        if self.reason == "email":
            return f"Too many failed sign-ins for this account; try again in {wait}."
        return f"Too many failed sign-ins from your network; try again in {wait}."


class LoginThrottle:
    """`start` before checking a password, then `succeeded` if it was right.

    `start` refuses (returning a `Refusal`) or counts the attempt as a failure until told
    otherwise; `succeeded` clears the account's failures and forgives the address its one.
    """

    def __init__(
        self,
        *,
        max_per_email: int = MAX_FAILURES_PER_EMAIL,
        max_per_address: int = MAX_FAILURES_PER_ADDRESS,
        window: float = WINDOW_SECONDS,
        max_keys: int = MAX_TRACKED_KEYS,
        clock: Clock = time.monotonic,
    ) -> None:
        self.clock = clock
        self.emails = FailureLog(max_per_email, window, max_keys)
        self.addresses = FailureLog(max_per_address, window, max_keys)
        self._lock = threading.Lock()

    @staticmethod
    def email_key(email: str) -> str:
        # Lowered as `passwords.verify_password_login` looks users up.
        return email.strip().lower()[:MAX_KEY_LENGTH]

    def start(self, email: str, address: str) -> Refusal | None:
        email = self.email_key(email)
        with self._lock:
            now = self.clock()
            wait = self.emails.blocked_for(email, now)
            if wait > 0:
                return Refusal("email", wait)
            wait = self.addresses.blocked_for(address, now)
            if wait > 0:
                return Refusal("address", wait)
            self.emails.add(email, now)
            self.addresses.add(address, now)
            return None

    def succeeded(self, email: str, address: str) -> None:
        with self._lock:
            self.emails.reset(self.email_key(email))
            self.addresses.forgive_one(address)
