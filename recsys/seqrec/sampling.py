"""Training examples: windows over each user's training sequence, batching and negatives.

All randomness comes from the ``torch.Generator`` passed in, so an epoch is a pure function
of (data, generator state).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from recsys.seqrec.data import PAD


@dataclass(frozen=True)
class Window:
    """A slice of one user's training sequence.

    Attributes:
        owner: Position of the user in the training sequences (negatives avoid that user's items).
        items: Model item ids, oldest first.
        fresh: How many of the newest items are supervised as targets here (the older ones were
            targets of an older window already); None = every item after the first.
    """

    owner: int
    items: np.ndarray
    fresh: int | None = None


def make_windows(
    sequences: Sequence[np.ndarray], length: int, stride: int | None = None, newest_only: bool = False
) -> list[Window]:
    """Cut each sequence into windows of at most ``length`` items, from the newest end backwards.

    By default consecutive windows overlap by one item, so with ``length = max_len + 1`` every
    item after the first is a next-item target exactly once per epoch (long histories are not
    truncated). With a smaller ``stride`` the next window ends ``stride`` items earlier and
    supervises only its ``stride`` newest targets: each target is still seen once per epoch, but
    with at least ``length - 1 - stride`` items of context instead of as few as one (what
    RecBole's one-row-per-prefix augmentation gives, at ``length / stride`` times the rows rather
    than ``length`` times). Windows with fewer than two items are dropped (nothing to predict).

    With ``newest_only`` each user gives one window, its newest ``length`` items, every target in
    it supervised (the SASRec reference sampler; older targets of long histories are not trained).
    """
    assert length >= 2, f"window length must be at least 2, got {length}"
    step = length - 1 if stride is None else stride
    assert 1 <= step <= length - 1, f"stride must be in [1, {length - 1}], got {stride}"
    assert not (newest_only and stride is not None), "newest_only windows supervise every target: no stride"
    out = []
    for owner, seq in enumerate(sequences):
        end = len(seq)
        while end >= 2:
            start = max(0, end - length)
            oldest = start == 0 or end - step < 2
            out.append(Window(owner, seq[start:end], None if oldest or step == length - 1 else step))
            if oldest or newest_only:
                break
            end -= step
    return out


def left_pad(rows: Sequence[np.ndarray], width: int | None = None) -> torch.Tensor:
    """(B, T) int64 tensor, each row right-aligned and left-padded with 0; T = longest row unless given."""
    width = width if width is not None else max((len(r) for r in rows), default=1)
    width = max(width, 1)
    out = np.zeros((len(rows), width), np.int64)
    for i, r in enumerate(rows):
        r = r[-width:]
        if len(r):
            out[i, width - len(r) :] = r
    return torch.from_numpy(out)


def batch_order(
    lengths: np.ndarray,
    batch_size: int,
    generator: torch.Generator,
    shard: tuple[int, int] = (0, 1),
    bucket: int = 50,
) -> list[np.ndarray]:
    """Shuffled batches of row indices, grouping rows of similar length to cut padding.

    Rows are shuffled, sorted by length inside chunks of ``bucket`` batches, cut into batches,
    and the batches shuffled again. With ``shard = (rank, world)`` this process takes every
    world-th batch, and every process gets the same number of batches (data-parallel steps stay in step).
    """
    n = len(lengths)
    perm = torch.randperm(n, generator=generator).numpy()
    chunk = batch_size * bucket
    batches = []
    for start in range(0, n, chunk):
        idx = perm[start : start + chunk]
        idx = idx[np.argsort(lengths[idx], kind="stable")]
        batches.extend(idx[i : i + batch_size] for i in range(0, len(idx), batch_size))
    order = torch.randperm(len(batches), generator=generator).numpy()
    rank, world = shard
    per_rank = len(order) // world if world > 1 else len(order)
    return [batches[i] for i in order[rank::world][:per_rank]]


def sample_negatives(
    shape: tuple[int, ...],
    n_items: int,
    generator: torch.Generator,
    seen: torch.Tensor | None = None,
    rounds: int = 10,
) -> torch.Tensor:
    """Uniform negatives in 1..n_items, resampling those the row's user has seen.

    Args:
        shape: (B, ...) output shape; the first axis is the row.
        n_items: Catalog size.
        generator: Source of randomness.
        seen: Optional (B, n_items + 1) bool matrix of each row's seen items.
        rounds: Resampling rounds; a collision left after them is kept (vanishingly rare).
    """
    neg = torch.randint(1, n_items + 1, shape, generator=generator)
    if seen is None:
        return neg
    rows = torch.arange(shape[0]).view(-1, *([1] * (len(shape) - 1))).expand(shape)
    for _ in range(rounds):
        bad = seen[rows, neg]
        n_bad = int(bad.sum())
        if not n_bad:
            break
        neg[bad] = torch.randint(1, n_items + 1, (n_bad,), generator=generator)
    return neg


def seen_matrix(owners: Sequence[int], sequences: Sequence[np.ndarray], n_items: int) -> torch.Tensor:
    """(B, n_items + 1) bool: True where the row's user has the item in its training sequence."""
    seen = torch.zeros(len(owners), n_items + 1, dtype=torch.bool)
    for row, owner in enumerate(owners):
        seen[row, torch.from_numpy(sequences[owner])] = True
    return seen


@dataclass
class Batch:
    """One training batch (CPU tensors; the trainer moves them).

    Attributes:
        seq: (B, T) input ids, left-padded.
        labels: (B, T) target id per position, 0 where nothing is supervised.
        negatives: (B, T, K) sampled negatives, or None for full-softmax losses.
        seen: (B, n_items + 1) bool, each row's user's training items, when the loss asks for it.
    """

    seq: torch.Tensor
    labels: torch.Tensor
    negatives: torch.Tensor | None = None
    seen: torch.Tensor | None = None

    def to(self, device: torch.device | str) -> Batch:
        """The same batch on ``device``."""
        seq, labels, neg, seen = (
            t.to(device, non_blocking=True) if t is not None else None
            for t in (self.seq, self.labels, self.negatives, self.seen)
        )
        return Batch(seq, labels, neg, seen)


def next_item_batches(
    sequences: Sequence[np.ndarray],
    n_items: int,
    max_len: int,
    batch_size: int,
    generator: torch.Generator,
    n_negatives: int = 0,
    shard: tuple[int, int] = (0, 1),
    stride: int | None = None,
    with_seen: bool = False,
    per_user: bool = False,
) -> Iterator[Batch]:
    """Causal next-item batches for SASRec: input ``w[:-1]``, labels ``w[1:]`` (its fresh targets only).

    Args:
        sequences: Training sequences (one per user).
        n_items: Catalog size.
        max_len: Model context length.
        batch_size: Rows per batch.
        generator: Drives shuffling and negatives.
        n_negatives: Negatives per position (0: none, for CE); drawn outside the user's training items.
        shard: (rank, world size): this process takes every world-th batch.
        stride: Window stride (``make_windows``); None = windows overlapping by one item.
        with_seen: Attach each row's seen-item matrix (``Batch.seen``).
        per_user: The SASRec reference sampler: one row per user (its newest ``max_len + 1`` items)
            and batches of users in random order, not grouped by length. The loss is a mean over
            a batch's targets, so length-grouped batches give a short history's targets more weight
            than a long one's; mixed batches weigh every target alike (and pad more: slower on CPU).
    """
    windows = make_windows(sequences, max_len + 1, stride, newest_only=per_user)
    lengths = np.array([len(w.items) for w in windows])
    for idx in batch_order(lengths, batch_size, generator, shard, bucket=1 if per_user else 50):
        rows = [windows[i] for i in idx]
        seq = left_pad([w.items[:-1] for w in rows])  # (B, T)
        labels = left_pad([_fresh_labels(w) for w in rows], seq.shape[1])  # (B, T)
        neg = seen = None
        if n_negatives or with_seen:
            seen = seen_matrix([w.owner for w in rows], sequences, n_items)  # (B, N + 1)
        if n_negatives:
            neg = sample_negatives((*seq.shape, n_negatives), n_items, generator, seen)  # (B, T, K)
        yield Batch(seq, labels, neg, seen if with_seen else None)


def _fresh_labels(w: Window) -> np.ndarray:
    labels = w.items[1:]
    if w.fresh is None:
        return labels
    out = np.zeros_like(labels)
    out[-w.fresh :] = labels[-w.fresh :]
    return out


def cloze_batches(
    sequences: Sequence[np.ndarray],
    n_items: int,
    max_len: int,
    batch_size: int,
    generator: torch.Generator,
    mask_prob: float,
    shard: tuple[int, int] = (0, 1),
) -> Iterator[Batch]:
    """BERT4Rec Cloze batches: each item is replaced by [MASK] (id ``n_items + 1``) with ``mask_prob``.

    Labels hold the original item at masked positions and 0 elsewhere; every row has at least one
    masked position.
    """
    assert 0.0 < mask_prob < 1.0, f"mask_prob must be in (0, 1), got {mask_prob}"
    mask_token = n_items + 1
    windows = make_windows(sequences, max_len)
    lengths = np.array([len(w.items) for w in windows])
    for idx in batch_order(lengths, batch_size, generator, shard):
        items = left_pad([windows[i].items for i in idx])  # (B, T)
        real = items != PAD
        masked = (torch.rand(items.shape, generator=generator) < mask_prob) & real
        # Rows left without a mask get their newest item masked (the position used at inference).
        empty = ~masked.any(1)
        masked[empty, -1] = True
        seq = torch.where(masked, torch.full_like(items, mask_token), items)
        labels = torch.where(masked, items, torch.zeros_like(items))
        yield Batch(seq, labels)


def epoch_rows(
    sequences: Sequence[np.ndarray], length: int, stride: int | None = None, newest_only: bool = False
) -> int:
    """Training rows (windows) per epoch for a window length and stride."""
    return len(make_windows(sequences, length, stride, newest_only))


def epoch_targets(
    sequences: Sequence[np.ndarray], length: int, stride: int | None = None, newest_only: bool = False
) -> int:
    """Supervised next-item targets per epoch (the labels ``next_item_batches`` yields)."""
    windows = make_windows(sequences, length, stride, newest_only)
    return sum(len(w.items) - 1 if w.fresh is None else w.fresh for w in windows)
