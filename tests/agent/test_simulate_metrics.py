"""MCR metric formulas against hand-computed episodes."""

from __future__ import annotations

import math

import pytest

from agent.simulate.metrics import average_turns, hdcg, hdcg_gain, mcr_metrics, success_curve, success_rate


def test_success_rate_counts_successes_within_t_turns() -> None:
    outcomes = [(1, 1), (5, 3), (6, 1), (15, 10), None]
    assert success_rate(outcomes, 5) == pytest.approx(2 / 5)
    assert success_rate(outcomes, 10) == pytest.approx(3 / 5)
    assert success_rate(outcomes, 15) == pytest.approx(4 / 5)
    assert success_curve(outcomes, 15)[4] == success_rate(outcomes, 5)


def test_average_turns_counts_failures_as_max_turns() -> None:
    assert average_turns([(3, 1), None], max_turns=15) == pytest.approx((3 + 15) / 2)
    assert average_turns([(2, 4), (4, 1), None, None], max_turns=10) == pytest.approx((2 + 4 + 10 + 10) / 4)


def test_hdcg_gain_by_hand() -> None:
    # turn 1, rank 1: 1/log2(3) + (1/log2(2) - 1/log2(3)) / log2(2) = 1
    assert hdcg_gain(1, 1) == pytest.approx(1.0)
    # turn 1, rank 2: 1/log2(3) + (1 - 1/log2(3)) / log2(3)
    a = 1 / math.log2(3)
    assert hdcg_gain(1, 2) == pytest.approx(a + (1 - a) * a)
    # turn 3, rank 1: 1/log2(5) + (1/log2(4) - 1/log2(5)) = 1/log2(4) = 0.5
    assert hdcg_gain(3, 1) == pytest.approx(0.5)
    # turn 2, rank 4: 1/log2(4) + (1/log2(3) - 1/log2(4)) / log2(5)
    assert hdcg_gain(2, 4) == pytest.approx(0.5 + (a - 0.5) / math.log2(5))
    # a later turn never earns more than an earlier one, whatever the rank
    assert hdcg_gain(2, 1) == pytest.approx(a) and hdcg_gain(1, 10) > hdcg_gain(2, 1)


def test_hdcg_averages_over_all_episodes_and_ignores_out_of_range() -> None:
    outcomes = [(1, 1), (3, 1), None, (16, 1)]  # the last is beyond 15 turns
    assert hdcg(outcomes, max_turns=15, k=10) == pytest.approx((1.0 + 0.5) / 4)
    assert hdcg([(1, 11)], max_turns=15, k=10) == 0.0
    m = mcr_metrics([(1, 1), None], 15, 10)
    assert m["SR@15"] == 0.5 and m["AT"] == 8.0 and m["hDCG"] == pytest.approx(0.5)
