"""MCR metrics as pure functions over episode outcomes.

An outcome is ``(turn, rank)`` for a success (1-based turn of the accepted list, 1-based rank of
the target in it) or ``None`` for a failure. Formulas follow EAR / SCPR / UNICORN / MCMIPL:

- ``SR@t``: share of episodes that succeed within ``t`` turns.
- ``AT``: mean turns per episode; a failure counts as ``max_turns``.
- ``hDCG@(T, K)`` (UNICORN, Deng et al. SIGIR 2021): a success at turn ``t`` and rank ``k``
  earns ``1/log2(t+2) + (1/log2(t+1) - 1/log2(t+2)) / log2(k+1)``: the turn discount, plus the
  rank's share of the gap to the previous turn's discount. Success at turn 1, rank 1 earns 1.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

Outcome = tuple[int, int] | None


def success_rate(outcomes: Sequence[Outcome], t: int) -> float:
    """SR@t: share of episodes accepted within ``t`` turns."""
    assert t >= 1, f"t must be >= 1, got {t}"
    if not outcomes:
        return 0.0
    return sum(1 for o in outcomes if o is not None and o[0] <= t) / len(outcomes)


def average_turns(outcomes: Sequence[Outcome], max_turns: int = 15) -> float:
    """AT: mean turns, a failure counting as ``max_turns``."""
    if not outcomes:
        return 0.0
    return sum(o[0] if o is not None else max_turns for o in outcomes) / len(outcomes)


def hdcg_gain(turn: int, rank: int) -> float:
    """hDCG gain of a success at 1-based ``turn`` with the target at 1-based ``rank`` in the list."""
    assert turn >= 1 and rank >= 1, f"turn and rank are 1-based, got {turn}, {rank}"
    here, before = 1.0 / math.log2(turn + 2), 1.0 / math.log2(turn + 1)
    return here + (before - here) / math.log2(rank + 1)


def hdcg(outcomes: Sequence[Outcome], max_turns: int = 15, k: int = 10) -> float:
    """hDCG@(max_turns, k): mean gain; failures, later turns and ranks beyond ``k`` earn 0."""
    if not outcomes:
        return 0.0
    total = sum(hdcg_gain(*o) for o in outcomes if o is not None and o[0] <= max_turns and o[1] <= k)
    return total / len(outcomes)


def success_curve(outcomes: Sequence[Outcome], max_turns: int = 15) -> list[float]:
    """SR@1 .. SR@max_turns (the "success by turn" plot)."""
    return [success_rate(outcomes, t) for t in range(1, max_turns + 1)]


# name -> (function of outcomes, max_turns, k; higher is better)
METRICS: dict[str, tuple[Callable[[Sequence[Outcome], int, int], float], bool]] = {
    "SR@5": (lambda o, T, k: success_rate(o, 5), True),
    "SR@10": (lambda o, T, k: success_rate(o, 10), True),
    "SR@15": (lambda o, T, k: success_rate(o, 15), True),
    "AT": (lambda o, T, k: average_turns(o, T), False),
    "hDCG": (lambda o, T, k: hdcg(o, T, k), True),
}


def mcr_metrics(outcomes: Sequence[Outcome], max_turns: int = 15, k: int = 10) -> dict[str, float]:
    """Every metric of ``METRICS`` over one run's outcomes."""
    return {name: fn(outcomes, max_turns, k) for name, (fn, _) in METRICS.items()}
