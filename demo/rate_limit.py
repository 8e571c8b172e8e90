"""How many chat turns the demo takes from one person: a sliding window per signed-in user or session.

Each turn runs the whole agent (and perhaps an LLM), so a stranger's script could keep the
machine busy for everyone. A refused turn never reaches the agent: nothing is stored, and it
does not count against the window.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class RateLimit:
    """At most ``turns`` chat turns per ``per_s`` seconds for one key (a signed-in user or a browser session).

    Attributes:
        turns: Turns allowed within the window.
        per_s: The window, in seconds.
    """

    turns: int = 20
    per_s: float = 60.0

    def __post_init__(self) -> None:
        if self.turns < 1:
            raise ValueError(f"a rate limit allows at least 1 turn, not {self.turns}")
        if not self.per_s > 0 or math.isinf(self.per_s):
            raise ValueError(f"a rate limit's window is a positive number of seconds, not {self.per_s}")

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        """``"20/60"``: 20 turns per 60 seconds.

        Raises:
            ValueError: Not ``TURNS/SECONDS`` with a positive whole number of turns and positive seconds.
        """
        turns, sep, seconds = text.partition("/")
        try:
            if not sep:
                raise ValueError
            return cls(turns=int(turns), per_s=float(seconds))
        except ValueError as exc:
            detail = f": {exc}" if str(exc) else ""
            raise ValueError(f"rate limit {text!r}: expected TURNS/SECONDS, e.g. 20/60{detail}") from None

    def describe(self) -> str:
        """The limit in words ("20 turns per 60 seconds")."""
        return f"{self.turns} turn{'s' * (self.turns != 1)} per {self.per_s:g} seconds"


class RateLimiter:
    """Counts turns per key within a ``RateLimit``'s window; safe to share between Gradio's worker threads."""

    SWEEP_EVERY = 1024
    """Calls between sweeps of keys whose window emptied, so many short visits do not pile up."""

    def __init__(self, limit: RateLimit, clock: Callable[[], float] = time.monotonic) -> None:
        """Start with no turns counted.

        Args:
            limit: The allowance.
            clock: Seconds from a monotonic source (tests pass their own).
        """
        self.limit = limit
        self._clock = clock
        self._turns: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._calls = 0

    def try_acquire(self, key: str) -> float:
        """Count a turn for ``key`` if the window has room.

        Returns:
            0.0 when the turn is allowed (and counted); otherwise the seconds until it would be.
        """
        with self._lock:
            now = self._clock()
            self._calls += 1
            if self._calls % self.SWEEP_EVERY == 0:
                self._sweep(now)
            times = self._turns.setdefault(key, deque())
            while times and times[0] <= now - self.limit.per_s:
                times.popleft()
            if len(times) >= self.limit.turns:
                return max(times[0] + self.limit.per_s - now, 0.001)
            times.append(now)
            return 0.0

    def _sweep(self, now: float) -> None:
        stale = [key for key, times in self._turns.items() if not times or times[-1] <= now - self.limit.per_s]
        for key in stale:
            del self._turns[key]


def refusal_text(limit: RateLimit, wait_s: float) -> str:
    """The chat's answer to a refused turn."""
    return (
        f"You're sending messages faster than this demo allows ({limit.describe()}). "
        f"Please wait {math.ceil(wait_s)} s and try again; that message was not used or stored."
    )
