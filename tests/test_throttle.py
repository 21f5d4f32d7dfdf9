"""Login throttling (`vaultfront.throttle`): the limits, the window, reset on success and
the memory bound, with a fake clock."""

from __future__ import annotations

import pytest
from conftest import FakeClock

from vaultfront.web.throttle import LoginThrottle, Refusal


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def fail(throttle: LoginThrottle, email: str, address: str = "10.0.0.1") -> Refusal | None:
    """One attempt that turns out wrong (`start` counts it until told it succeeded)."""
    return throttle.start(email, address)


def test_the_sixth_failure_for_an_email_is_refused_until_the_window_passes(
    clock: FakeClock,
) -> None:
    throttle = LoginThrottle(clock=clock)
    for attempt in range(5):
        assert fail(throttle, "ann@example.com") is None, f"attempt {attempt + 1} was refused"
        clock.advance(60)
    refusal = fail(throttle, "ann@example.com")
    assert refusal is not None and refusal.reason == "email"
    # The first failure (at t=0) expires at 15 minutes; it is now t=5 min.
    assert refusal.retry_after == pytest.approx(10 * 60)
    assert refusal.minutes == 10
    assert refusal.message == "Too many failed sign-ins for this account; try again in 10 minutes."

    clock.advance(10 * 60 - 1)
    refused = fail(throttle, "ann@example.com")
    assert refused is not None and refused.message.endswith("try again in 1 minute.")
    clock.advance(1)  # the oldest failure is now 15 minutes old: one more try
    assert fail(throttle, "ann@example.com") is None
    assert fail(throttle, "ann@example.com") is not None  # and the count is 5 again


def test_emails_are_counted_case_insensitively_and_apart_from_each_other(
    clock: FakeClock,
) -> None:
    throttle = LoginThrottle(clock=clock)
    for email in ("Ann@Example.com", "ann@example.com ", "ANN@EXAMPLE.COM", "ann@example.com"):
        assert fail(throttle, email) is None
    assert fail(throttle, " ann@EXAMPLE.com") is None
    assert fail(throttle, "ann@example.com") is not None
    assert fail(throttle, "bob@example.com") is None


def test_refused_attempts_do_not_extend_the_block(clock: FakeClock) -> None:
    throttle = LoginThrottle(clock=clock)
    for _ in range(5):
        assert fail(throttle, "ann@example.com") is None
    for _ in range(14):
        clock.advance(60)
        assert fail(throttle, "ann@example.com") is not None
    clock.advance(60)
    assert fail(throttle, "ann@example.com") is None


def test_a_success_resets_the_email_and_forgives_the_address_its_attempt(
    clock: FakeClock,
) -> None:
    throttle = LoginThrottle(clock=clock)
    for _ in range(4):
        assert fail(throttle, "ann@example.com") is None
    assert throttle.start("ann@example.com", "10.0.0.1") is None  # the fifth: right password
    throttle.succeeded("ANN@example.com", "10.0.0.1")
    assert "ann@example.com" not in throttle.emails
    assert throttle.addresses.count("10.0.0.1", clock()) == 4  # the 4 failures remain
    for attempt in range(5):
        assert fail(throttle, "ann@example.com") is None, f"attempt {attempt + 1} after reset"
    assert fail(throttle, "ann@example.com") is not None


def test_successes_do_not_use_up_an_address(clock: FakeClock) -> None:
    throttle = LoginThrottle(clock=clock)
    for index in range(50):  # a busy office behind one address, all signing in fine
        email = f"user{index}@example.com"
        assert throttle.start(email, "192.0.2.7") is None
        throttle.succeeded(email, "192.0.2.7")
    assert "192.0.2.7" not in throttle.addresses


def test_twenty_failures_from_one_address_block_it_for_every_email(clock: FakeClock) -> None:
    throttle = LoginThrottle(clock=clock)
    for index in range(20):
        assert fail(throttle, f"user{index}@example.com", "203.0.113.5") is None
    refusal = fail(throttle, "someone-else@example.com", "203.0.113.5")
    assert refusal is not None and refusal.reason == "address"
    assert refusal.message == "Too many failed sign-ins from your network; try again in 15 minutes."
    assert fail(throttle, "someone-else@example.com", "203.0.113.6") is None
    clock.advance(15 * 60)
    assert fail(throttle, "someone-else@example.com", "203.0.113.5") is None


def test_memory_is_bounded_by_dropping_the_least_recently_failed_key(clock: FakeClock) -> None:
    throttle = LoginThrottle(max_keys=3, clock=clock)
    for _ in range(5):
        fail(throttle, "old@example.com", "10.0.0.1")
    assert fail(throttle, "old@example.com", "10.0.0.1") is not None
    for index in range(3):
        clock.advance(1)
        fail(throttle, f"new{index}@example.com", f"10.0.1.{index}")
    assert len(throttle.emails) == 3 and len(throttle.addresses) == 3
    assert "old@example.com" not in throttle.emails
    assert "10.0.0.1" not in throttle.addresses
    assert fail(throttle, "old@example.com", "10.0.0.1") is None  # forgotten, so allowed


def test_a_huge_email_is_kept_short() -> None:
    assert len(LoginThrottle.email_key("a" * 1_000_000 + "@example.com")) == 320


def test_expired_keys_are_dropped_when_looked_at(clock: FakeClock) -> None:
    throttle = LoginThrottle(clock=clock)
    fail(throttle, "ann@example.com")
    clock.advance(15 * 60)
    assert throttle.emails.blocked_for("ann@example.com", clock()) == 0
    assert "ann@example.com" not in throttle.emails
