"""Ranking metrics and rank computation against hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from recsys.seqrec.data import SequenceData, leave_one_out
from recsys.seqrec.evaluate import evaluate, sample_eval_negatives, sampled_ranks, target_ranks
from recsys.seqrec.metrics import (
    METRICS,
    compute_metrics,
    hit_rate_at_k,
    mrr,
    ndcg_at_k,
    ndcg_gains,
    paired_ratio_ci,
)

INF = float("-inf")
RANKS = np.array([0, 1, 3, 10])


def test_hit_rate_by_hand() -> None:
    assert hit_rate_at_k(RANKS, 1) == 0.25
    assert hit_rate_at_k(RANKS, 4) == 0.75
    assert hit_rate_at_k(RANKS, 10) == 0.75  # rank 10 is the 11th item
    assert hit_rate_at_k(RANKS, 11) == 1.0


def test_ndcg_by_hand() -> None:
    expected = (1.0 + 1.0 / math.log2(3) + 1.0 / math.log2(5) + 0.0) / 4
    assert ndcg_at_k(RANKS, 10) == pytest.approx(expected)
    assert ndcg_at_k(np.array([0]), 10) == 1.0
    assert ndcg_at_k(np.array([1]), 10) == pytest.approx(1 / math.log2(3))


def test_per_user_ndcg_gains_by_hand() -> None:
    gains = ndcg_gains(RANKS, 4)
    np.testing.assert_allclose(gains, [1.0, 1.0 / math.log2(3), 1.0 / math.log2(5), 0.0])
    assert ndcg_at_k(RANKS, 4) == pytest.approx(gains.mean())


def test_paired_ratio_interval() -> None:
    rng = np.random.default_rng(0)
    b = rng.random(500)
    ratio, low, high = paired_ratio_ci(1.1 * b, b)
    # A constant per-user factor is the same in every resample: the interval collapses onto it.
    assert ratio == pytest.approx(1.1) and low == pytest.approx(1.1) and high == pytest.approx(1.1)
    ratio, low, high = paired_ratio_ci(b + rng.normal(0, 0.3, 500), b)
    assert low < ratio < high and high - low > 0.02
    with pytest.raises(AssertionError):
        paired_ratio_ci(b, b[:-1])


def test_mrr_by_hand() -> None:
    assert mrr(RANKS) == pytest.approx((1 + 1 / 2 + 1 / 4 + 1 / 11) / 4)
    assert mrr(RANKS, 10) == pytest.approx((1 + 1 / 2 + 1 / 4) / 4)


def test_empty_ranks_are_zero() -> None:
    for metric in METRICS.values():
        assert metric.fn(np.array([], np.int64), 10) == 0.0


def test_compute_metrics_keys_and_values() -> None:
    out = compute_metrics(RANKS, ks=(1, 10))
    assert set(out) == {"hr@1", "hr@10", "ndcg@1", "ndcg@10", "mrr"}
    assert out["ndcg@1"] == out["hr@1"] == 0.25
    assert all(m.higher_is_better for m in METRICS.values())


def test_ties_count_against_the_target() -> None:
    scores = torch.tensor([[INF, 1.0, 2.0, 2.0, 0.5]])
    assert target_ranks(scores, torch.tensor([2])).tolist() == [1]  # item 3 ties with the target
    assert target_ranks(scores, torch.tensor([3])).tolist() == [1]
    assert target_ranks(scores, torch.tensor([1])).tolist() == [2]
    assert target_ranks(scores, torch.tensor([4])).tolist() == [3]


def test_all_equal_scores_put_target_last() -> None:
    scores = torch.zeros(1, 6)
    scores[0, 0] = INF
    assert target_ranks(scores, torch.tensor([3])).tolist() == [4]  # 5 real items, all tied


def test_exclusion_masks_seen_items_but_never_the_target() -> None:
    scores = torch.tensor([[INF, 5.0, 4.0, 3.0, 2.0]])
    exclude = torch.tensor([[False, True, False, True, False]])
    assert target_ranks(scores, torch.tensor([3]), exclude).tolist() == [1]  # only item 2 is above it
    assert target_ranks(scores, torch.tensor([4]), exclude).tolist() == [1]


def test_sampled_ranks_by_hand() -> None:
    scores = torch.tensor([[INF, 0.9, 0.1, 0.5, 0.5, 0.7]])
    negatives = torch.tensor([[2, 4, 5]])
    # target 3 (0.5): item 5 (0.7) above, item 4 (0.5) tied, item 2 below -> rank 2
    assert sampled_ranks(scores, torch.tensor([3]), negatives).tolist() == [2]


def test_sampled_negatives_avoid_the_users_items() -> None:
    histories = [np.array([1, 2, 3]), np.array([4, 5])]
    gen = torch.Generator().manual_seed(0)
    neg = sample_eval_negatives(histories, torch.ones(11), gen, n=5)
    assert neg.shape == (2, 5)
    for row, hist in zip(neg.tolist(), histories):
        assert len(set(row)) == 5, "negatives are distinct"
        assert not set(row) & set(hist.tolist()) and 0 not in row


def _tiny_split() -> tuple:
    seqs = (np.array([1, 2, 3, 4]), np.array([2, 3, 5]), np.array([5, 1]))
    data = SequenceData("tiny", ("a", "b", "c", "d", "e"), ("u1", "u2", "u3"), seqs)
    return data, leave_one_out(data)


def test_evaluate_full_ranking_by_hand() -> None:
    _, split = _tiny_split()
    fixed = torch.tensor([INF, 5.0, 4.0, 3.0, 2.0, 1.0])  # item 1 best ... item 5 worst

    def score(histories):  # noqa: ANN001, ANN202
        return fixed.repeat(len(histories), 1)

    out = evaluate(score, split, "test", ("full", "full_unmasked"), ks=(1, 2))
    # u1: test 4, history [1, 2, 3] masked -> rank 0; u2: test 5, history [2, 3] masked -> above it: 1, 4 -> rank 2
    assert out["full"]["hr@1"] == pytest.approx(0.5)
    assert out["full"]["mrr"] == pytest.approx((1 + 1 / 3) / 2)
    # unmasked: u1 rank 3, u2 rank 4
    assert out["full_unmasked"]["mrr"] == pytest.approx((1 / 4 + 1 / 5) / 2)
    out = evaluate(score, split, "valid", ("full",), ks=(1,))
    # u1: valid 3, history [1, 2] masked -> rank 0; u2: valid 3, history [2] masked -> item 1 above -> rank 1
    assert out["full"]["hr@1"] == pytest.approx(0.5)
