"""Aligning a trained sequential recommender with list preferences: S-DPO or DPO against a frozen reference.

The policy starts as the trained model and the reference is a frozen copy of it. Both score the
full catalog; ``r(item) = log π_θ(item | history) - log π_ref(item | history)`` from their
``log_softmax``, and ``losses.sdpo`` (several rejected items per row) or ``losses.dpo`` (one,
drawn from the row's rejected items each epoch) pulls the accepted item up relative to the
rejected ones while β keeps the policy near the reference.

OneRec-style rounds: after each round the reference is re-taken from the policy and, for
preferences mined from the interactions, the rejected items are mined again from it, so every
round aligns against what the current model would show.

Dropout is off in the policy as in the reference (as TRL's ``disable_dropout``): otherwise the
two differ by noise at the start and ``r`` is not 0 when nothing has been learned.
"""

from __future__ import annotations

import copy
import logging
import math
import resource
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import torch

from recsys.seqrec import losses
from recsys.seqrec.data import PAD
from recsys.seqrec.model import SASRec
from recsys.seqrec.preferences import Preferences
from recsys.seqrec.sampling import left_pad
from recsys.seqrec.train import resolve_device

logger = logging.getLogger(__name__)

Method = Literal["sdpo", "dpo"]
METHODS: tuple[Method, ...] = ("sdpo", "dpo")


@dataclass(frozen=True, kw_only=True)
class AlignConfig:
    """How the recommender is aligned.

    Attributes:
        method: ``sdpo`` (softmax DPO over up to ``n_rejected`` rejected items per row) or
            ``dpo`` (one rejected item per row, drawn afresh each epoch).
        beta: Inverse temperature of the preference loss; larger keeps closer to the reference.
        n_rejected: S-DPO: rejected items per row (rows with more are subsampled each epoch);
            also how many the miner takes per row.
        rounds: OneRec-style rounds; the reference is re-taken from the policy after each.
        epochs: Passes over the preferences per round.
        batch_size: Rows per step.
        lr: AdamW learning rate (small: the model is already trained).
        weight_decay: AdamW weight decay.
        grad_clip: Max gradient norm; None disables clipping.
        max_steps: Cap on steps per round (tests, smoke runs); None: every epoch in full.
        sft_weight: Weight of a cross-entropy term on the accepted item (RPO-style anchor: DPO
            alone may lower the accepted item's own probability while it widens the margin); 0: pure (S-)DPO.
        seed: Seeds the row order and the subsampling of rejected items.
        device: "auto" (CUDA when available), "cpu" or "cuda".
    """

    method: Method = "sdpo"
    beta: float = 1.0
    n_rejected: int = 8
    rounds: int = 1
    epochs: int = 1
    batch_size: int = 256
    lr: float = 1e-4
    weight_decay: float = 0.0
    grad_clip: float | None = 5.0
    max_steps: int | None = None
    sft_weight: float = 0.0
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        assert self.method in METHODS, f"method must be one of {METHODS}, got {self.method!r}"
        assert self.beta > 0, f"beta must be positive, got {self.beta}"
        assert self.n_rejected >= 1, f"n_rejected must be >= 1, got {self.n_rejected}"
        assert self.rounds >= 1 and self.epochs >= 1, "need at least one round and one epoch"
        assert self.batch_size >= 1 and self.lr > 0, "batch_size and lr must be positive"
        assert self.max_steps is None or self.max_steps >= 1, "max_steps must be >= 1"
        assert self.sft_weight >= 0, f"sft_weight must be >= 0, got {self.sft_weight}"
        assert self.device in ("auto", "cpu", "cuda"), f"device must be auto, cpu or cuda, got {self.device!r}"

    @property
    def negatives_per_row(self) -> int:
        """Rejected items each row contributes to the loss."""
        return 1 if self.method == "dpo" else self.n_rejected


@dataclass
class AlignResult:
    """What alignment did.

    Attributes:
        rows: Preference rows per round (the last round's when mined again).
        steps: Optimizer steps over all rounds.
        pairs: (chosen, rejected) pairs that entered the loss, over all rounds.
        train_s: Wall time of the optimisation (mining excluded).
        pairs_per_s: ``pairs / train_s``.
        peak_memory_mb: Peak GPU memory allocated, or the process's peak resident memory on a CPU.
        device: Where it ran.
        history: One dict per round: loss at its first step (``loss_first``), and over the round's
            last epoch (or its steps, when capped) as row-weighted means of the batches before each
            update: loss (``loss_last``), reward accuracy (share of rows whose accepted item's
            log-ratio beats every rejected one) and margin (accepted log-ratio minus the best rejected one).
    """

    rows: int = 0
    steps: int = 0
    pairs: int = 0
    train_s: float = 0.0
    pairs_per_s: float = 0.0
    peak_memory_mb: float = 0.0
    device: str = "cpu"
    history: list[dict[str, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return asdict(self)


def log_probs(model: SASRec, seq: torch.Tensor) -> torch.Tensor:
    """(B, n_items + 1) full-catalog log-probabilities of the next item; column 0 (padding) is -inf."""
    return torch.log_softmax(model.next_item_scores(seq).float(), dim=-1)


def preference_loss(
    policy: SASRec,
    reference: SASRec,
    seq: torch.Tensor,
    chosen: torch.Tensor,
    rejected: torch.Tensor,
    method: Method,
    beta: float,
    sft_weight: float = 0.0,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The S-DPO or DPO loss of one batch, and its reward accuracy and margin.

    Args:
        policy: The model being aligned.
        reference: The frozen reference.
        seq: (B, T) left-padded histories.
        chosen: (B,) accepted item ids.
        rejected: (B, K) rejected item ids, padded with 0 (``dpo``: K = 1, no padding).
        method: "sdpo" or "dpo".
        beta: Inverse temperature.
        sft_weight: Weight of ``-log π_θ(chosen | history)`` added to the loss.
    """
    mask = rejected != PAD  # (B, K)
    # Padding slots point at the chosen item so the gather never reads the -inf padding column.
    ids = torch.where(mask, rejected, chosen[:, None])
    with torch.no_grad():
        ref = log_probs(reference, seq)  # (B, N + 1)
    logp = log_probs(policy, seq)
    r_w = logp.gather(1, chosen[:, None]).squeeze(1) - ref.gather(1, chosen[:, None]).squeeze(1)  # (B,)
    r_l = logp.gather(1, ids) - ref.gather(1, ids)  # (B, K)
    if method == "dpo":
        assert rejected.shape[1] == 1, "dpo takes one rejected item per row"
        loss = losses.dpo(r_w, r_l[:, 0], beta)
    else:
        loss = losses.sdpo(r_w, r_l, beta, mask)
    if sft_weight:
        loss = loss + sft_weight * losses.cross_entropy(logp, chosen)
    with torch.no_grad():
        best_rejected = r_l.masked_fill(~mask, float("-inf")).max(1).values
        stats = {
            "accuracy": float((r_w > best_rejected).float().mean()),
            "margin": float((r_w - best_rejected).mean()),
        }
    return loss, stats


def _batch_rejected(prefs: Preferences, rows: np.ndarray, k: int, rng: np.random.Generator) -> torch.Tensor:
    """(B, k) rejected ids of the rows, subsampled to k where a row has more, 0-padded where fewer."""
    out = np.zeros((len(rows), k), np.int64)
    for b, r in enumerate(rows):
        rej = prefs.rejected[r]
        pick = rej if len(rej) <= k else rng.choice(rej, k, replace=False)
        out[b, : len(pick)] = pick
    return torch.from_numpy(out)


def _peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def align(
    model: SASRec,
    preferences: Callable[[SASRec], Preferences],
    cfg: AlignConfig,
) -> AlignResult:
    """Align ``model`` in place.

    Args:
        model: The trained model; it becomes the policy, and a frozen copy of it the first reference.
        preferences: ``preferences(reference) -> Preferences`` for a round: fixed logged lists
            ignore the argument, mined preferences are drawn from the reference's ranking.
        cfg: Settings.
    """
    device = resolve_device(cfg.device)
    model.to(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    rng = np.random.default_rng(cfg.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.98))
    result = AlignResult(device=str(device))
    for round_no in range(1, cfg.rounds + 1):
        reference = copy.deepcopy(model).eval().requires_grad_(False)
        prefs = preferences(reference)
        assert len(prefs) > 0, "no preference rows to align with"
        result.rows = len(prefs)
        model.eval()  # no dropout: policy and reference agree until the policy learns (module docstring)
        steps_per_epoch = math.ceil(len(prefs) / cfg.batch_size)
        total = (
            steps_per_epoch * cfg.epochs if cfg.max_steps is None else min(cfg.max_steps, steps_per_epoch * cfg.epochs)
        )
        k = cfg.negatives_per_row
        first: float | None = None
        seen: list[tuple[int, float, float, float]] = []  # (rows, loss, accuracy, margin) per step
        step = 0
        t0 = time.perf_counter()
        while step < total:
            for start in range(0, len(prefs), cfg.batch_size):
                if step == total:
                    break
                if start == 0:
                    order = rng.permutation(len(prefs))
                rows = order[start : start + cfg.batch_size]
                seq = left_pad([prefs.histories[r][-model.cfg.max_len :] for r in rows]).to(device)
                chosen = torch.from_numpy(prefs.chosen[rows]).to(device)
                rejected = _batch_rejected(prefs, rows, k, rng).to(device)
                loss, stats = preference_loss(
                    model, reference, seq, chosen, rejected, cfg.method, cfg.beta, cfg.sft_weight
                )
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.grad_clip is not None:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                opt.step()
                result.pairs += int((rejected != PAD).sum())
                seen.append((len(rows), float(loss.detach()), stats["accuracy"], stats["margin"]))
                first = seen[0][1] if first is None else first
                step += 1
        result.train_s += time.perf_counter() - t0
        result.steps += step
        tail = np.array(seen[-min(steps_per_epoch, step) :])  # the last epoch's steps
        w = tail[:, 0] / tail[:, 0].sum()
        entry = {"round": round_no, "rows": len(prefs), "steps": step, "loss_first": first or 0.0}
        entry |= {
            name: float((w * tail[:, col]).sum()) for col, name in ((1, "loss_last"), (2, "accuracy"), (3, "margin"))
        }
        result.history.append(entry)
        logger.info(
            "round %d: %d rows, %d steps, loss %.4f -> %.4f, reward accuracy %.3f",
            round_no,
            len(prefs),
            step,
            entry["loss_first"],
            entry["loss_last"],
            entry["accuracy"],
        )
    model.eval()
    result.pairs_per_s = result.pairs / result.train_s if result.train_s > 0 else 0.0
    result.peak_memory_mb = round(_peak_memory_mb(device), 1)
    return result
