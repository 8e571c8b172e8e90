"""Per-user item sequences, the id remap (pad 0) and the leave-one-out split.

Model item ids run from 1 to ``n_items``; 0 is padding. ``item_ids[i - 1]`` is the
external id of model item ``i``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from recsys.catalog import Catalog
from recsys.errors import CatalogFormatError

logger = logging.getLogger(__name__)

PAD = 0
MIN_EVAL_LENGTH = 3  # users with fewer events only train (as in SASRec); they need a train, valid and test item


@dataclass(frozen=True)
class SequenceData:
    """Time-ordered item sequences of every user, in model ids.

    Attributes:
        name: Dataset name.
        item_ids: External item id of model item ``i`` at position ``i - 1``.
        user_ids: External user id per sequence.
        sequences: One int64 array of model item ids (1..n_items) per user, oldest first.
        catalog_index: Catalog item index of model item ``i`` at position ``i - 1`` when built
            from a ``Catalog`` (so hard filters apply); None for bare pair files.
    """

    name: str
    item_ids: tuple[str, ...]
    user_ids: tuple[str, ...]
    sequences: tuple[np.ndarray, ...]
    catalog_index: np.ndarray | None = None

    def __post_init__(self) -> None:
        assert len(self.user_ids) == len(self.sequences), "one sequence per user"
        for seq in self.sequences[:1]:
            assert seq.dtype == np.int64, f"sequences must be int64, got {seq.dtype}"

    @property
    def n_items(self) -> int:
        """Number of real items (model ids 1..n_items)."""
        return len(self.item_ids)

    @cached_property
    def item_index(self) -> dict[str, int]:
        """External item id -> model id."""
        return {item: i + 1 for i, item in enumerate(self.item_ids)}

    def encode(self, history: Sequence[str]) -> np.ndarray:
        """External item ids -> model ids; unknown ids are dropped."""
        index = self.item_index
        return np.array([index[i] for i in history if i in index], np.int64)

    def stats(self) -> dict[str, float | int | str]:
        """Counts for benchmark reports."""
        lengths = np.array([len(s) for s in self.sequences])
        return {
            "name": self.name,
            "users": len(self.sequences),
            "items": self.n_items,
            "interactions": int(lengths.sum()),
            "mean_length": round(float(lengths.mean()), 2),
            "max_length": int(lengths.max()),
            "eval_users": int((lengths >= MIN_EVAL_LENGTH).sum()),
        }


def from_catalog(catalog: Catalog) -> SequenceData:
    """Sequences from a catalog's interactions; model id = catalog index + 1.

    Ties in timestamps keep file order (``Interactions.sequences``), as RecBole does.
    """
    seqs = catalog.interactions.sequences()
    return SequenceData(
        name=catalog.name,
        item_ids=tuple(item.id for item in catalog.items),
        user_ids=tuple(seqs),
        sequences=tuple(s.astype(np.int64) + 1 for s in seqs.values()),
        catalog_index=np.arange(len(catalog.items), dtype=np.int64),
    )


def load_pairs(path: str | Path, name: str | None = None) -> SequenceData:
    """Read a ``user item`` pair file (SASRec/BERT4Rec preprocessed data: each user's lines in time order).

    Item ids are remapped to 1..n in order of their integer value, so files that already
    number items 1..n keep their ids.

    Raises:
        CatalogFormatError: A line does not hold two integers.
    """
    path = Path(path)
    users: list[int] = []
    items: list[int] = []
    with path.open() as f:
        for line_no, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 2 or not (parts[0].isdigit() and parts[1].isdigit()):
                raise CatalogFormatError(path, line_no, None, f"expected 'user item' integers, got {line[:40]!r}")
            users.append(int(parts[0]))
            items.append(int(parts[1]))
    u = np.array(users, np.int64)
    raw_items, model_items = np.unique(np.array(items, np.int64), return_inverse=True)
    model_items = model_items.astype(np.int64) + 1
    # Stable sort by user keeps each user's lines in file (= time) order.
    order = np.argsort(u, kind="stable")
    u, model_items = u[order], model_items[order]
    cuts = np.flatnonzero(np.diff(u)) + 1
    seqs = tuple(np.split(model_items, cuts))
    user_ids = tuple(str(int(x[0])) for x in np.split(u, cuts))
    logger.info("read %d events, %d users, %d items from %s", len(u), len(seqs), len(raw_items), path)
    return SequenceData(
        name=name or path.stem,
        item_ids=tuple(str(int(i)) for i in raw_items),
        user_ids=user_ids,
        sequences=seqs,
    )


@dataclass(frozen=True)
class Split:
    """Leave-one-out split: last item is test, second-to-last is validation.

    Users with fewer than ``MIN_EVAL_LENGTH`` events keep all of them in ``train`` and are not
    evaluated.

    Attributes:
        data: The sequences this split came from.
        train: Per user, the sequence without its last two items (all items for short users).
        eval_users: Positions (into ``data.sequences``) of evaluated users.
        valid_targets: Second-to-last item of each evaluated user.
        test_targets: Last item of each evaluated user.
    """

    data: SequenceData
    train: tuple[np.ndarray, ...]
    eval_users: np.ndarray
    valid_targets: np.ndarray
    test_targets: np.ndarray

    @property
    def n_items(self) -> int:
        """Number of real items."""
        return self.data.n_items

    def inputs(self, stage: str) -> list[np.ndarray]:
        """Histories fed to the model for ``stage`` ("valid": train part; "test": train + valid item)."""
        seqs = self.data.sequences
        if stage == "valid":
            return [seqs[u][:-2] for u in self.eval_users]
        if stage == "test":
            return [seqs[u][:-1] for u in self.eval_users]
        raise ValueError(f"stage must be 'valid' or 'test', got {stage!r}")

    def targets(self, stage: str) -> np.ndarray:
        """Target item per evaluated user for ``stage``."""
        if stage == "valid":
            return self.valid_targets
        if stage == "test":
            return self.test_targets
        raise ValueError(f"stage must be 'valid' or 'test', got {stage!r}")

    def full_histories(self) -> list[np.ndarray]:
        """Every item of each evaluated user (sampled protocols draw negatives outside it)."""
        return [self.data.sequences[u] for u in self.eval_users]

    @cached_property
    def train_popularity(self) -> np.ndarray:
        """Training interactions per model id (length n_items + 1, pad count 0)."""
        counts = np.bincount(np.concatenate(self.train), minlength=self.n_items + 1)
        counts[PAD] = 0
        return counts


def leave_one_out(data: SequenceData) -> Split:
    """Split each user's sequence: last = test, second-to-last = validation, the rest = train."""
    train, eval_users, valid, test = [], [], [], []
    for u, seq in enumerate(data.sequences):
        if len(seq) < MIN_EVAL_LENGTH:
            train.append(seq)
            continue
        train.append(seq[:-2])
        eval_users.append(u)
        valid.append(seq[-2])
        test.append(seq[-1])
    return Split(
        data=data,
        train=tuple(train),
        eval_users=np.array(eval_users, np.int64),
        valid_targets=np.array(valid, np.int64),
        test_targets=np.array(test, np.int64),
    )


SHARED_FILES = {
    "games": "games-sasrec/Video.txt",
    "beauty": "beauty-bert4rec/beauty.txt",
}


def shared_data_dir() -> Path:
    """``../shared/data`` relative to the repository root (present on developer machines and CI only)."""
    return Path(__file__).resolve().parents[2].parent / "shared" / "data"


def load_sequences(name: str) -> SequenceData:
    """Sequences by dataset name: ``ml-100k`` (embedded), ``games``, ``beauty`` (shared files) or a pair file path.

    Raises:
        FileNotFoundError: A shared dataset is requested but ``../shared/data`` is absent.
    """
    if name == "ml-100k":
        from recsys.datasets import load_catalog

        return from_catalog(load_catalog("ml-100k"))
    if name in SHARED_FILES:
        path = shared_data_dir() / SHARED_FILES[name]
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: the {name!r} benchmark file lives in ../shared/data")
        return load_pairs(path, name)
    path = Path(name)
    if path.is_file():
        return load_pairs(path)
    raise ValueError(f"unknown dataset {name!r}: use ml-100k, games, beauty or a 'user item' pair file")
