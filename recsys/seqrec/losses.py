"""Training losses as pure functions of scores (never inlined in the training loop).

Shapes: M is the number of supervised positions (padding already removed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Full-softmax cross-entropy over the catalog (SASRec+CE, Klenitskiy & Vasilev 2023; BERT4Rec's Cloze).

    Args:
        logits: (M, n_items + 1) scores; column 0 is padding and may be -inf.
        targets: (M,) true next (or masked) item ids, never 0.
    """
    assert logits.shape[0] == targets.shape[0], f"{logits.shape[0]} logit rows for {targets.shape[0]} targets"
    return F.cross_entropy(logits.float(), targets)


def bce(pos_logits: torch.Tensor, neg_logits: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy with sampled negatives (the original SASRec loss).

    Args:
        pos_logits: (M,) score of the true next item.
        neg_logits: (M, K) scores of K sampled negatives (SASRec uses K = 1).

    Returns:
        Mean over positions of ``-log σ(pos) - Σ_k log(1 - σ(neg_k))``.
    """
    assert neg_logits.shape[0] == pos_logits.shape[0], "one row of negatives per positive"
    pos, neg = pos_logits.float(), neg_logits.float()
    return (-F.logsigmoid(pos) - F.logsigmoid(-neg).sum(-1)).mean()


def gbce_beta(n_negatives: int, n_items: int, t: float) -> float:
    """gSASRec's β (Petrov & Macdonald, RecSys 2023): α = K / (N - 1), β = α (t (1 - 1/α) + 1/α).

    t = 0 gives β = 1 (plain BCE); t = 1 gives β = α, which removes the overconfidence that
    negative sampling induces.
    """
    assert 0.0 <= t <= 1.0, f"gBCE t must be in [0, 1], got {t}"
    assert 0 < n_negatives < n_items, f"need 0 < negatives ({n_negatives}) < items ({n_items})"
    alpha = n_negatives / (n_items - 1)
    return alpha * (t * (1.0 - 1.0 / alpha) + 1.0 / alpha)


def gbce(pos_logits: torch.Tensor, neg_logits: torch.Tensor, n_items: int, t: float) -> torch.Tensor:
    """Generalised BCE: the positive probability is raised to the power β, ``-β log σ(pos) - Σ log(1 - σ(neg))``.

    This equals gSASRec's reference form, BCE on the transformed logit ``log(1 / (σ(s)^-β - 1))``,
    written without the clamps it needs.

    Args:
        pos_logits: (M,) score of the true next item.
        neg_logits: (M, K) scores of K sampled negatives.
        n_items: Catalog size N.
        t: Calibration parameter in [0, 1].
    """
    beta = gbce_beta(neg_logits.shape[-1], n_items, t)
    pos, neg = pos_logits.float(), neg_logits.float()
    return (-beta * F.logsigmoid(pos) - F.logsigmoid(-neg).sum(-1)).mean()


def sdpo(chosen: torch.Tensor, rejected: torch.Tensor, beta: float, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Softmax DPO (S-DPO, Chen et al. 2024): one preferred item against several rejected ones.

    ``L = -log σ(-log Σ_j exp(β (r_j - r_w)))`` with ``r = log π_θ(item | history) - log π_ref(item | history)``.
    Since ``-log σ(-x) = softplus(x)``, it is computed as ``softplus(logsumexp_j β (r_j - r_w))``,
    which stays finite for any margin. With one rejected item it is DPO; when the policy equals
    the reference every ``r`` is 0 and a row with n rejected items costs ``log(1 + n)``.

    Args:
        chosen: (M,) log-ratio ``r_w`` of the accepted item.
        rejected: (M, K) log-ratios ``r_j`` of the rejected items.
        beta: Inverse temperature: how far from the reference the policy may move.
        mask: Optional (M, K) bool, True where ``rejected`` holds a real item (rows may have fewer than K).

    Returns:
        Mean over rows.
    """
    assert rejected.shape[0] == chosen.shape[0], "one row of rejected items per chosen item"
    z = beta * (rejected.float() - chosen.float()[:, None])  # (M, K)
    if mask is not None:
        assert bool(mask.any(-1).all()), "every row needs at least one rejected item"
        z = z.masked_fill(~mask, float("-inf"))
    return F.softplus(torch.logsumexp(z, dim=-1)).mean()


def dpo(chosen: torch.Tensor, rejected: torch.Tensor, beta: float) -> torch.Tensor:
    """DPO (Rafailov et al. 2023) on log-ratios: ``-log σ(β (r_w - r_l))``, mean over rows.

    Args:
        chosen: (M,) log-ratio of the accepted item.
        rejected: (M,) log-ratio of the one rejected item.
        beta: Inverse temperature.
    """
    assert rejected.shape == chosen.shape, f"one rejected item per row, got {tuple(rejected.shape)}"
    return -F.logsigmoid(beta * (chosen.float() - rejected.float())).mean()


LossName = Literal["ce", "bce", "gbce", "cloze"]
LOSSES: tuple[LossName, ...] = ("ce", "bce", "gbce", "cloze")


@dataclass(frozen=True, kw_only=True)
class LossConfig:
    """How a model is trained; part of the model's saved config.

    Attributes:
        name: ``ce`` (full softmax over next items), ``bce`` (SASRec's sampled BCE),
            ``gbce`` (gSASRec) or ``cloze`` (BERT4Rec: full softmax over masked positions).
        n_negatives: Negatives per position for ``bce`` / ``gbce``.
        gbce_t: gBCE calibration t.
        mask_prob: Share of items masked for ``cloze``.
        exclude_seen: ``ce`` only: leave the user's other training items out of each softmax.
            Evaluation and the agent never recommend seen items, so training need not spend
            its gradient pushing them below the target (the full-softmax counterpart of
            sampling negatives outside the user's items).
    """

    name: LossName = "ce"
    n_negatives: int = 1
    gbce_t: float = 0.75
    mask_prob: float = 0.2
    exclude_seen: bool = False

    def __post_init__(self) -> None:
        assert self.name in LOSSES, f"unknown loss {self.name!r}; choose from {LOSSES}"
        assert self.n_negatives >= 1, f"n_negatives must be >= 1, got {self.n_negatives}"
        assert 0.0 <= self.gbce_t <= 1.0, f"gbce_t must be in [0, 1], got {self.gbce_t}"
        assert 0.0 < self.mask_prob < 1.0, f"mask_prob must be in (0, 1), got {self.mask_prob}"
        assert not self.exclude_seen or self.name == "ce", "exclude_seen applies to the ce loss only"

    @property
    def sampled(self) -> bool:
        """Whether the loss needs sampled negatives."""
        return self.name in ("bce", "gbce")


def initial_logit(loss: LossConfig, n_items: int) -> float | None:
    """The score that minimises a sampled loss when every item scores the same (None for softmax losses).

    BCE with K negatives: ``-(1 - σ(s)) + K σ(s) = 0`` gives ``s = -log K``; gBCE weights the
    positive by β: ``s = log(β / K)``. A model whose scores start there need not distort its
    item embeddings to reach the loss's base rate (``SASRecConfig.logit_bias``).
    """
    if loss.name == "bce":
        return math.log(1.0 / loss.n_negatives)  # 0.0, not -0.0, for one negative
    if loss.name == "gbce":
        return math.log(gbce_beta(loss.n_negatives, n_items, loss.gbce_t) / loss.n_negatives)
    return None
