"""Where MCR episodes and the recommender's training data come from.

Three sources, so a published split and published test episodes can be used as they are:

- default: the leave-one-out split of the catalog's interactions; episodes are each user's last
  (``test``) and second-to-last (``valid``) items, drawn by seed;
- split files (``train``, ``valid``, ``test`` interaction CSVs, the generic format's columns
  ``user,item[,rating,timestamp]``): the recommender fits on ``train`` only (``valid`` gives the
  early-stopping targets of neural recommenders); episodes are every ``test`` pair in file order,
  with the user's ``train`` + ``valid`` items as history; a learned policy trains on the ``valid``
  pairs (history: ``train``);
- an episodes file (CSV ``user,target[,target2]``): the episodes, in file order. With split files
  the history is the user's ``train`` + ``valid`` items; without them, every (user, target) pair of
  the file is removed from the interactions before the leave-one-out split, so no episode's
  target reaches the recommender, and the history is the user's remaining items.

Under a two-target protocol (``mcmipl``, ``agent.simulate.protocols``) every episode has a second
target: the episodes file's ``target2`` column (required there, refused by the one-target
protocols); without a file, each user's last item (target) and second-to-last item (target2) of
the leave-one-out split, with the items before them as history; from split files, a user's test
(or, to learn on, valid) items taken two at a time in time order (timestamp, then file order:
1st and 2nd, 3rd and 4th, ...).
Drawn pairs whose targets share no askable value cannot open and are left out by the environment;
episodes from files must open (an error names the first that cannot).
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


def held_out_targets(split: Split, stages: tuple[str, ...] = ("test", "valid"), targets: int = 1) -> list[Target]:
    """Held-out (user, item) pairs of a leave-one-out split of catalog sequences, in a fixed order.

    With ``targets=2``: one two-target episode per user instead (last item, then second-to-last item;
    ``stages`` does not apply). Model id ``m`` of a catalog-built split is catalog index ``m - 1``.
    """
    data = split.data
    assert data.catalog_index is not None, "the split must come from a catalog (recsys.seqrec.data.from_catalog)"
    out: list[Target] = []
    for u in split.eval_users:
        seq = data.catalog_index[data.sequences[u] - 1]
        user_id = data.user_ids[u]
        if targets == 2:
            out.append(Target(user_id, int(seq[-1]), tuple(int(i) for i in seq[:-2]), "pair", item2=int(seq[-2])))
            continue
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


EpisodeRow = tuple[str, int, int | None, int]  # user, target, second target (or None), line


def read_episodes(path: Path, catalog: Catalog, targets: int = 1) -> list[EpisodeRow]:
    """(user, target, target2, line) per row of an episodes CSV (header ``user,target[,target2]``).

    ``targets`` is the protocol's: with 2 every row needs a ``target2`` (another item than
    ``target``); with 1 a non-empty ``target2`` is refused with the flag that runs it.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"episodes file {path} does not exist")
    rows: list[EpisodeRow] = []
    for line, row in csv_rows(path, ("user", "target")):
        user, item = (row["user"] or "").strip(), (row["target"] or "").strip()
        second = (row.get("target2") or "").strip()
        if not user:
            raise CatalogFormatError(path, line, "user", "empty user id")
        if item not in catalog.index:
            raise CatalogFormatError(path, line, "target", f"item id {item[:40]!r} is not in the item file")
        if targets == 1 and second:
            raise CatalogFormatError(
                path, line, "target2", "two-target episodes run under --protocol mcmipl; this protocol has one target"
            )
        if targets == 2 and not second:
            raise CatalogFormatError(path, line, "target2", "--protocol mcmipl needs a second target on every row")
        if second and second not in catalog.index:
            raise CatalogFormatError(path, line, "target2", f"item id {second[:40]!r} is not in the item file")
        if second == item:
            raise CatalogFormatError(path, line, "target2", "the second target must be another item than the first")
        rows.append((user, catalog.index[item], catalog.index[second] if second else None, line))
    if not rows:
        raise CatalogFormatError(path, None, None, "no episodes")
    return rows


def count_fixed_episodes(config: MCRConfig) -> int | None:
    """How many episodes the files fix (None when episodes are drawn from the default split)."""
    path = config.episodes_file or (config.split_files[2] if config.split_files else None)
    if path is None:
        return None
    with Path(path).open(encoding="utf-8", newline="") as fh:
        rows = [row for row in csv.DictReader(fh) if any((v or "").strip() for v in row.values())]
    if config.episodes_file or config.rules.targets == 1:
        return len(rows)
    per_user: dict[str, int] = {}  # a test file under two targets: each user's items two at a time
    for row in rows:
        user = (row.get("user") or "").strip()
        per_user[user] = per_user.get(user, 0) + 1
    return sum(n // 2 for n in per_user.values())


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


def _target(user: str, item: int, history: list[int], stage: str, item2: int | None = None) -> Target:
    # A published split may list a target in the user's own history: it stays out of it, so it is a candidate.
    return Target(user, item, tuple(i for i in history if i not in (item, item2)), stage, item2)


def _file_targets(part: dict[str, list[int]], history: dict[str, list[int]], stage: str, targets: int) -> list[Target]:
    """A split file's episodes: every pair, or under two targets each user's items two at a time."""
    if targets == 1:
        return [_target(u, i, history.get(u, []), stage) for u, items in part.items() for i in items]
    return [
        _target(u, items[n], history.get(u, []), stage, items[n + 1])
        for u, items in part.items()
        for n in range(0, len(items) - 1, 2)
    ]


def episode_data(catalog: Catalog, config: MCRConfig) -> EpisodeData:
    """The split and episodes ``config`` asks for (see the module docstring)."""
    from recsys.seqrec.data import from_catalog, leave_one_out

    n_targets = config.rules.targets
    episodes = read_episodes(Path(config.episodes_file), catalog, n_targets) if config.episodes_file else None
    if config.split_files:
        split, parts = split_from_files(catalog, *(Path(p) for p in config.split_files))
        train, valid, test = (parts[name] for name in SPLIT_NAMES)
        history = {u: train.get(u, []) + valid.get(u, []) for u in dict.fromkeys([*train, *valid, *test])}
        pool = _file_targets(valid, train, "valid", n_targets)
        if episodes is None:
            targets = _file_targets(test, history, "test", n_targets)
        else:
            targets = [_target(u, i, history.get(u, []), "episode", i2) for u, i, i2, _ in episodes]
        return EpisodeData(split, targets, pool, fixed=True)
    if episodes is None:
        split = leave_one_out(from_catalog(catalog))
        return EpisodeData(split, held_out_targets(split, config.stages, n_targets), None, fixed=False)
    # No split files: the episodes' pairs leave the interactions before anything is fitted on them.
    drop = {(u, i) for u, i, i2, _ in episodes} | {(u, i2) for u, _, i2, _ in episodes if i2 is not None}
    rest = {u: [int(i) for i in s if (u, int(i)) not in drop] for u, s in catalog.interactions.sequences().items()}
    split = leave_one_out(_sequence_data(catalog, rest))
    targets = [_target(u, i, rest.get(u, []), "episode", i2) for u, i, i2, _ in episodes]
    return EpisodeData(split, targets, held_out_targets(split, config.stages, n_targets), fixed=True)
