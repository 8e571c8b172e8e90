"""Where MCR episodes and the recommender's training data come from.

Three sources, so a published split and published test episodes can be used as they are:

- default: the leave-one-out split of the catalog's interactions; episodes are each user's last
  (``test``) and second-to-last (``valid``) items, drawn by seed;
- split files (``train``, ``valid``, ``test`` interaction CSVs, the generic format's columns
  ``user,item[,rating,timestamp]``): the recommender fits on ``train`` only (``valid`` gives the
  early-stopping targets of neural recommenders); episodes are every ``test`` pair in file order,
  with the user's ``train`` + ``valid`` items as history; a learned policy trains on the ``valid``
  pairs (history: ``train``);
- an episodes file (CSV ``user,target``): the episodes, in file order. With split files the
  history is the user's ``train`` + ``valid`` items; without them, every (user, target) pair of
  the file is removed from the interactions before the leave-one-out split, so no episode's
  target reaches the recommender, and the history is the user's remaining items.

A two-target column (``target2``, the MCMIPL protocol) is refused with a message: that protocol is
not built yet.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from agent.simulate.users import Target
from recsys.catalog import Catalog
from recsys.errors import CatalogFormatError
from recsys.loaders.generic import csv_rows

if TYPE_CHECKING:
    from agent.simulate.mcr import MCRConfig
    from recsys.seqrec.data import SequenceData, Split

SPLIT_NAMES = ("train", "valid", "test")


@dataclass(frozen=True)
class EpisodeData:
    """What an MCR environment runs on.

    Attributes:
        split: What the recommender fits on (its ``train`` part and validation targets only).
        targets: The evaluation episodes.
        pool: Episodes a learned policy trains and validates on when files fix the evaluation
            episodes (None: the default split, where ``tastebud train policy`` splits users instead).
        fixed: The episodes come from files: run in file order, never sampled.
    """

    split: Split
    targets: list[Target]
    pool: list[Target] | None
    fixed: bool


def held_out_targets(split: Split, stages: tuple[str, ...] = ("test", "valid")) -> list[Target]:
    """Held-out (user, item) pairs of a leave-one-out split of catalog sequences, in a fixed order.

    Model id ``m`` of a catalog-built split is catalog index ``m - 1``.
    """
    data = split.data
    assert data.catalog_index is not None, "the split must come from a catalog (recsys.seqrec.data.from_catalog)"
    out: list[Target] = []
    for u in split.eval_users:
        seq = data.catalog_index[data.sequences[u] - 1]
        user_id = data.user_ids[u]
        if "test" in stages:
            out.append(Target(user_id, int(seq[-1]), tuple(int(i) for i in seq[:-1]), "test"))
        if "valid" in stages:
            out.append(Target(user_id, int(seq[-2]), tuple(int(i) for i in seq[:-2]), "valid"))
    return out


def read_interactions(path: Path, catalog: Catalog) -> dict[str, np.ndarray]:
    """Each user's catalog indices in time order (timestamp, then file order) from one interaction CSV."""
    from recsys.loaders.generic import load_interactions_csv

    if not Path(path).is_file():
        raise FileNotFoundError(f"split file {path} does not exist")
    return load_interactions_csv(Path(path), list(catalog.items)).build().sequences()


def read_episodes(path: Path, catalog: Catalog) -> list[tuple[str, int, int]]:
    """(user, catalog index of the target, line) per row of an episodes CSV (header ``user,target``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"episodes file {path} does not exist")
    rows = []
    for line, row in csv_rows(path, ("user", "target")):
        if (row.get("target2") or "").strip():
            raise CatalogFormatError(
                path, line, "target2", "two-target episodes (the MCMIPL protocol) are not supported yet"
            )
        user, item = (row["user"] or "").strip(), (row["target"] or "").strip()
        if not user:
            raise CatalogFormatError(path, line, "user", "empty user id")
        if item not in catalog.index:
            raise CatalogFormatError(path, line, "target", f"item id {item[:40]!r} is not in the item file")
        rows.append((user, catalog.index[item], line))
    if not rows:
        raise CatalogFormatError(path, None, None, "no episodes")
    return rows


def count_fixed_episodes(config: MCRConfig) -> int | None:
    """How many episodes the files fix (None when episodes are drawn from the default split)."""
    path = config.episodes_file or (config.split_files[2] if config.split_files else None)
    if path is None:
        return None
    with Path(path).open(encoding="utf-8", newline="") as fh:
        return sum(1 for row in csv.DictReader(fh) if any((v or "").strip() for v in row.values()))


def _sequence_data(catalog: Catalog, sequences: dict[str, list[int]]) -> SequenceData:
    """Catalog-indexed sequences as model data (model id = catalog index + 1, as ``from_catalog``)."""
    from recsys.seqrec.data import SequenceData

    return SequenceData(
        name=catalog.name,
        item_ids=tuple(item.id for item in catalog.items),
        user_ids=tuple(sequences),
        sequences=tuple(np.asarray(s, np.int64) + 1 for s in sequences.values()),
        catalog_index=np.arange(len(catalog.items), dtype=np.int64),
    )


def split_from_files(
    catalog: Catalog, train: Path, valid: Path, test: Path
) -> tuple[Split, dict[str, dict[str, list[int]]]]:
    """The recommender's split from split files, and each split's sequences by user (catalog indices).

    The split's ``train`` is the train file alone. Its validation and test targets (read only by
    neural recommenders, for early stopping) are each user's first valid and test items.
    """
    from recsys.seqrec.data import Split

    parts = {name: read_interactions(path, catalog) for name, path in zip(SPLIT_NAMES, (train, valid, test))}
    users = list(dict.fromkeys([*parts["train"], *parts["valid"], *parts["test"]]))
    empty = np.zeros(0, np.int64)
    seqs: dict[str, list[int]] = {}
    train_seqs, eval_users, valid_targets, test_targets = [], [], [], []
    for n, user in enumerate(users):
        tr = [int(i) for i in parts["train"].get(user, empty)]
        va, te = parts["valid"].get(user, empty), parts["test"].get(user, empty)
        train_seqs.append(np.asarray(tr, np.int64) + 1)
        seqs[user] = tr
        if len(va) and len(te):  # laid out as leave-one-out expects: train, then one valid and one test item
            seqs[user] = [*tr, int(va[0]), int(te[0])]
            eval_users.append(n)
            valid_targets.append(int(va[0]) + 1)
            test_targets.append(int(te[0]) + 1)
    split = Split(
        data=_sequence_data(catalog, seqs),
        train=tuple(train_seqs),
        eval_users=np.asarray(eval_users, np.int64),
        valid_targets=np.asarray(valid_targets, np.int64),
        test_targets=np.asarray(test_targets, np.int64),
    )
    by_split = {name: {u: [int(i) for i in s] for u, s in part.items()} for name, part in parts.items()}
    return split, by_split


def _target(user: str, item: int, history: list[int], stage: str) -> Target:
    # A published split may list the target in the user's own history: it stays out of it, so it is a candidate.
    return Target(user, item, tuple(i for i in history if i != item), stage)


def episode_data(catalog: Catalog, config: MCRConfig) -> EpisodeData:
    """The split and episodes ``config`` asks for (see the module docstring)."""
    from recsys.seqrec.data import from_catalog, leave_one_out

    episodes = read_episodes(Path(config.episodes_file), catalog) if config.episodes_file else None
    if config.split_files:
        split, parts = split_from_files(catalog, *(Path(p) for p in config.split_files))
        train, valid, test = (parts[name] for name in SPLIT_NAMES)

        def history(user: str) -> list[int]:
            return train.get(user, []) + valid.get(user, [])

        pool = [_target(u, i, train.get(u, []), "valid") for u, items in valid.items() for i in items]
        if episodes is None:
            targets = [_target(u, i, history(u), "test") for u, items in test.items() for i in items]
        else:
            targets = [_target(u, i, history(u), "episode") for u, i, _ in episodes]
        return EpisodeData(split, targets, pool, fixed=True)
    if episodes is None:
        split = leave_one_out(from_catalog(catalog))
        return EpisodeData(split, held_out_targets(split, config.stages), None, fixed=False)
    # No split files: the episodes' pairs leave the interactions before anything is fitted on them.
    drop = {(u, i) for u, i, _ in episodes}
    rest = {u: [int(i) for i in s if (u, int(i)) not in drop] for u, s in catalog.interactions.sequences().items()}
    split = leave_one_out(_sequence_data(catalog, rest))
    targets = [_target(u, i, rest.get(u, []), "episode") for u, i, _ in episodes]
    return EpisodeData(split, targets, held_out_targets(split, config.stages), fixed=True)
