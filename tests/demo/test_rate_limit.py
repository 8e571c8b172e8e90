"""The demo's rate limit: a sliding window per key, refused turns not counted."""

from __future__ import annotations

import pytest

from demo.rate_limit import RateLimit, RateLimiter, refusal_text


class Clock:
    """Seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_window_per_key() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimit(turns=3, per_s=10), clock=clock)
    for _ in range(3):  # turns at 1000, 1001, 1002
        assert limiter.try_acquire("a") == 0.0
        clock.now += 1
    clock.now += 1  # 1004
    assert limiter.try_acquire("a") == pytest.approx(6.0)  # the first turn leaves the window at 1010
    assert limiter.try_acquire("b") == 0.0  # another user is not held back
    clock.now += 5  # 1009: refusals were not counted, but the window has not moved yet
    assert limiter.try_acquire("a") == pytest.approx(1.0)
    clock.now += 1  # 1010
    assert limiter.try_acquire("a") == 0.0
    assert limiter.try_acquire("a") == pytest.approx(1.0)  # the second turn leaves at 1011


def test_idle_keys_are_swept() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimit(turns=1, per_s=1), clock=clock)
    for i in range(RateLimiter.SWEEP_EVERY - 1):
        limiter.try_acquire(f"visitor-{i}")
    clock.now += 2
    limiter.try_acquire("last")
    assert list(limiter._turns) == ["last"]


def test_parse_and_describe() -> None:
    assert RateLimit.parse("20/60") == RateLimit(turns=20, per_s=60)
    assert RateLimit(turns=1, per_s=2.5).describe() == "1 turn per 2.5 seconds"
    for bad in ("20", "x/60", "0/60", "5/0", "5/-1", "5/inf", "/"):
        with pytest.raises(ValueError, match="TURNS/SECONDS"):
            RateLimit.parse(bad)
    text = refusal_text(RateLimit(turns=20, per_s=60), 3.2)
    assert "20 turns per 60 seconds" in text and "wait 4 s" in text and "not used or stored" in text
