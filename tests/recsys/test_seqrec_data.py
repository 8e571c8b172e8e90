"""Sequences, leave-one-out split, pair files and training windows, on real ML-100K data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from recsys.datasets import load_catalog
from recsys.seqrec.data import SequenceData, from_catalog, leave_one_out, load_pairs, load_sequences, shared_data_dir
from recsys.seqrec.sampling import cloze_batches, epoch_targets, make_windows, next_item_batches


@pytest.fixture(scope="module")
def ml100k() -> SequenceData:
    return from_catalog(load_catalog("ml-100k"))


def test_ml100k_sequences(ml100k: SequenceData) -> None:
    assert ml100k.n_items == 1682 and len(ml100k.sequences) == 943
    assert sum(len(s) for s in ml100k.sequences) == 100_000
    assert min(int(s.min()) for s in ml100k.sequences) >= 1, "0 is reserved for padding"


def test_leave_one_out_on_ml100k(ml100k: SequenceData) -> None:
    split = leave_one_out(ml100k)
    assert len(split.eval_users) == 943
    for pos in (0, 100, 942):
        seq = ml100k.sequences[split.eval_users[pos]]
        assert split.test_targets[pos] == seq[-1] and split.valid_targets[pos] == seq[-2]
        np.testing.assert_array_equal(split.inputs("valid")[pos], seq[:-2])
        np.testing.assert_array_equal(split.inputs("test")[pos], seq[:-1])
    assert sum(len(t) for t in split.train) == 100_000 - 2 * 943


def test_timestamps_order_sequences(ml100k: SequenceData) -> None:
    catalog = load_catalog("ml-100k")
    inter = catalog.interactions
    user = ml100k.user_ids[0]
    code = inter.user_ids.index(user)
    rows = np.flatnonzero(inter.users == code)
    times = inter.timestamps[rows][np.argsort(inter.timestamps[rows], kind="stable")]
    seq_times = [int(t) for t in times]
    assert seq_times == sorted(seq_times)
    assert set((inter.items[rows] + 1).tolist()) == set(ml100k.sequences[0].tolist())


def test_short_users_only_train() -> None:
    data = SequenceData("t", ("a", "b", "c"), ("u", "v"), (np.array([1, 2, 3]), np.array([2, 3])))
    split = leave_one_out(data)
    assert split.eval_users.tolist() == [0]
    np.testing.assert_array_equal(split.train[1], [2, 3])
    np.testing.assert_array_equal(split.train[0], [1])


def test_load_pairs(tmp_path: Path) -> None:
    path = tmp_path / "pairs.txt"
    path.write_text("1 10\n1 30\n2 20\n1 20\n2 10\n")
    data = load_pairs(path)
    assert data.item_ids == ("10", "20", "30")
    assert [s.tolist() for s in data.sequences] == [[1, 3, 2], [2, 1]]  # file order kept per user


def test_load_pairs_rejects_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_text("1 2\n1 x\n")
    with pytest.raises(ValueError, match="line 2"):
        load_pairs(path)


def test_windows_cover_every_target_once() -> None:
    seq = np.arange(1, 12)  # 11 items -> 10 next-item targets
    windows = make_windows([seq], 4)
    targets = np.concatenate([w.items[1:] for w in windows])
    assert sorted(targets.tolist()) == list(range(2, 12))
    assert all(len(w.items) <= 4 for w in windows)


@pytest.mark.parametrize("stride", [1, 2, 3])
def test_strided_windows_supervise_every_target_once_with_more_context(stride: int) -> None:
    seq = np.arange(1, 14)  # 13 items -> 12 next-item targets
    windows = make_windows([seq], 5, stride)
    targets, contexts = [], []
    for w in windows:
        labels = w.items[1:]
        fresh = len(labels) if w.fresh is None else w.fresh
        targets += labels[-fresh:].tolist()
        contexts += [len(labels) - fresh + j + 1 for j in range(fresh)]
    assert sorted(targets) == list(range(2, 14))
    assert all(len(w.items) <= 5 for w in windows)
    # every target away from the sequence start sees at least length - 1 - stride items before it
    assert all(c >= 4 - stride for t, c in zip(targets, contexts, strict=True) if t > 5)
    gen = torch.Generator().manual_seed(0)
    batch = next(next_item_batches([seq], 13, 4, 64, gen, stride=stride))
    assert sorted(batch.labels[batch.labels != 0].tolist()) == list(range(2, 14))


def test_users_sampler_gives_each_user_one_row_of_its_newest_items(ml100k: SequenceData) -> None:
    seq = np.arange(1, 12)
    (window,) = make_windows([seq], 4, newest_only=True)
    assert window.items.tolist() == [8, 9, 10, 11] and window.fresh is None
    split = leave_one_out(ml100k)
    users = [u for u, s in enumerate(split.train) if len(s) >= 2]
    gen = torch.Generator().manual_seed(0)
    rows = []
    for batch in next_item_batches(split.train, ml100k.n_items, 20, 64, gen, per_user=True):
        for seq_row, label_row in zip(batch.seq, batch.labels, strict=True):
            rows.append(seq_row[seq_row != 0].tolist() + [int(label_row[-1])])
    newest = sorted(split.train[u][-21:].tolist() for u in users)
    assert sorted(rows) == newest, "one row per user: its newest max_len + 1 items, every target supervised"


def test_users_sampler_mixes_lengths_in_a_batch() -> None:
    rng = np.random.default_rng(0)
    seqs = [np.arange(1, n + 1) for n in rng.integers(2, 60, size=2000)]

    def mean_spread(per_user: bool) -> float:
        gen = torch.Generator().manual_seed(0)
        spreads = []
        for batch in next_item_batches(seqs, 60, 50, 32, gen, per_user=per_user):
            real = (batch.seq != 0).sum(1)
            spreads.append(int(real.max() - real.min()))
        return float(np.mean(spreads))

    assert mean_spread(per_user=False) < 3 < 30 < mean_spread(per_user=True)


@pytest.mark.parametrize(("stride", "per_user"), [(None, False), (8, False), (None, True)])
def test_epoch_targets_counts_the_labels_an_epoch_yields(
    ml100k: SequenceData, stride: int | None, per_user: bool
) -> None:
    split = leave_one_out(ml100k)
    gen = torch.Generator().manual_seed(0)
    batches = next_item_batches(split.train, ml100k.n_items, 20, 64, gen, stride=stride, per_user=per_user)
    labels = sum(int((b.labels != 0).sum()) for b in batches)
    assert labels == epoch_targets(split.train, 21, stride, per_user)


def test_next_item_batches_shift_and_negatives(ml100k: SequenceData) -> None:
    split = leave_one_out(ml100k)
    gen = torch.Generator().manual_seed(0)
    batch = next(next_item_batches(split.train, ml100k.n_items, 20, 16, gen, n_negatives=3))
    assert batch.seq.shape == batch.labels.shape and batch.negatives is not None
    real = batch.labels != 0
    assert torch.equal(batch.seq[:, 1:][real[:, :-1]], batch.labels[:, :-1][real[:, :-1]])
    assert int(batch.negatives.min()) >= 1 and int(batch.negatives.max()) <= ml100k.n_items
    assert batch.seen is None, "the seen matrix travels only when asked for"


def test_next_item_batches_carry_each_rows_seen_items(ml100k: SequenceData) -> None:
    split = leave_one_out(ml100k)
    gen = torch.Generator().manual_seed(0)
    batch = next(next_item_batches(split.train, ml100k.n_items, 20, 16, gen, with_seen=True))
    assert batch.seen is not None and batch.seen.shape == (16, ml100k.n_items + 1)
    user_sets = {frozenset(seq.tolist()) for seq in split.train}
    for row in range(16):
        window = set(batch.seq[row].tolist()) | set(batch.labels[row].tolist())
        seen = frozenset(batch.seen[row].nonzero()[:, 0].tolist())
        assert window - {0} <= seen and 0 not in seen
        assert seen in user_sets, "a row's seen items are exactly one user's training items"


def test_cloze_batches_mask_something(ml100k: SequenceData) -> None:
    split = leave_one_out(ml100k)
    gen = torch.Generator().manual_seed(0)
    batch = next(cloze_batches(split.train, ml100k.n_items, 20, 16, gen, mask_prob=0.2))
    masked = batch.seq == ml100k.n_items + 1
    assert torch.equal(masked, batch.labels != 0)
    assert bool(masked.any(1).all()), "every row has a masked position"


@pytest.mark.skipif(
    not (shared_data_dir() / "games-sasrec" / "Video.txt").is_file(),
    reason="../shared/data/games-sasrec/Video.txt absent (benchmark data lives outside the repository)",
)
def test_games_file_matches_published_counts() -> None:
    data = load_sequences("games")
    assert (len(data.sequences), data.n_items, sum(len(s) for s in data.sequences)) == (31013, 23715, 287107)
