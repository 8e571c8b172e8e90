"""List preferences for aligning a sequential recommender: one accepted item over several rejected ones.

Two sources, both giving ``Preferences`` in model ids:

- **logged lists** (``read_lists``): the ``lists.jsonl`` rows that ``tastebud tune data`` writes
  (``agent.tuning.data.list_preferences``): ``{"history": [...], "chosen": id, "rejected": [...]}``
  in external item ids; the accepted item is preferred to the items shown and rejected before it
  in the same conversation.
- **mined from the training interactions** (``mine_preferences``): the item a user picked next
  is preferred to items the current model ranks high for that history and the user never
  picked. The model's top items stand for the list it would have shown, and the ones the user
  passed over are rejections; items anywhere in the user's training sequence never count as
  rejected, since the user chose them at another time. The very top, though, is often what the
  user goes on to pick after the training data ends, so by default the rejections are drawn from
  a wider pool of the model's best (``pool``; on ML-100K the top 8 cost 15% validation NDCG@10,
  a pool of 50 kept it, EVALUATION.md section 9). Only ``Split.train`` is
  read, so the validation and test targets stay unseen. This is how the logged lists, which are
  few, are complemented at scale: thousands of rows in seconds, where simulated conversations
  give a handful of rejections per minute (EVALUATION.md section 9).

  With ``attributes`` (``item_attributes``) the rejections are the model's best items that share
  at least ``min_shared`` askable attribute values with the picked one (genre, decade, director,
  actors...). A conversation narrows the list by such values, so there the picked film competes
  with its look-alikes, not with the catalog's popular films.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from recsys.seqrec.data import PAD, SequenceData, Split
from recsys.seqrec.model import SASRec
from recsys.seqrec.sampling import left_pad

if TYPE_CHECKING:
    from recsys.catalog import Catalog

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Preferences:
    """Rows of (history, accepted item, rejected items), in model ids.

    Attributes:
        histories: Per row, the model item ids before the choice, oldest first.
        chosen: (R,) the accepted item per row.
        rejected: Per row, at least one rejected item id, never the chosen one.
    """

    histories: tuple[np.ndarray, ...]
    chosen: np.ndarray
    rejected: tuple[np.ndarray, ...]

    def __post_init__(self) -> None:
        assert len(self.histories) == len(self.chosen) == len(self.rejected), "one history and rejection list per row"
        for c, r in zip(self.chosen, self.rejected):
            assert len(r) > 0 and c not in r and c != PAD, f"row with chosen {c} and rejected {r} is not a preference"

    def __len__(self) -> int:
        return len(self.chosen)

    @property
    def pairs(self) -> int:
        """(chosen, rejected) pairs over all rows."""
        return int(sum(len(r) for r in self.rejected))

    def __add__(self, other: Preferences) -> Preferences:
        return Preferences(
            self.histories + other.histories,
            np.concatenate([self.chosen, other.chosen]).astype(np.int64),
            self.rejected + other.rejected,
        )

    @classmethod
    def empty(cls) -> Preferences:
        """No rows."""
        return cls((), np.zeros(0, np.int64), ())


def from_rows(rows: Iterable[dict], item_ids: Sequence[str]) -> Preferences:
    """``lists.jsonl`` rows (external ids) -> ``Preferences``; ids the model does not know are dropped.

    A row whose chosen item is unknown, or with no known rejected item left, is skipped.
    """
    index = {item: i + 1 for i, item in enumerate(item_ids)}
    histories, chosen, rejected = [], [], []
    skipped = 0
    for row in rows:
        c = index.get(str(row["chosen"]))
        rej = [index[r] for r in dict.fromkeys(map(str, row["rejected"])) if r in index and index[r] != c]
        if c is None or not rej:
            skipped += 1
            continue
        histories.append(np.array([index[h] for h in map(str, row["history"]) if h in index], np.int64))
        chosen.append(c)
        rejected.append(np.array(rej, np.int64))
    if skipped:
        logger.info("skipped %d list rows whose items the recommender does not know", skipped)
    return Preferences(tuple(histories), np.array(chosen, np.int64), tuple(rejected))


def read_lists(path: Path, item_ids: Sequence[str]) -> Preferences:
    """Read ``lists.jsonl`` (or the ``tastebud tune data`` folder holding it)."""
    path = Path(path)
    if path.is_dir():
        path = path / "lists.jsonl"
    with path.open(encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    prefs = from_rows(rows, item_ids)
    logger.info("read %d list preferences (%d pairs) from %s", len(prefs), prefs.pairs, path)
    return prefs


def item_attributes(catalog: Catalog, data: SequenceData) -> np.ndarray:
    """(n_items + 1, V) 0/1 membership of each model item in the catalog's askable attribute values (row 0: padding)."""
    from recsys.attributes import AttributeSpace

    if data.catalog_index is None:
        raise ValueError(f"{data.name}: the sequences were not built from a catalog, so items have no attributes")
    membership = AttributeSpace(catalog).membership
    out = np.zeros((len(data.item_ids) + 1, membership.shape[1]), np.float32)
    out[1:] = membership[data.catalog_index]
    return out


@torch.inference_mode()
def mine_preferences(
    model: SASRec,
    split: Split,
    n_rejected: int = 8,
    per_user: int = 20,
    batch_size: int = 512,
    pool: int | None = None,
    seed: int = 0,
    attributes: np.ndarray | None = None,
    min_shared: int = 2,
) -> Preferences:
    """Preferences from the training sequences, with the model's top-ranked unpicked items as rejections.

    Args:
        model: The current model (the reference of the coming round); read in eval mode.
        split: Only ``split.train`` is read.
        n_rejected: Rejected items per row: the model's best-ranked items outside the user's
            training sequence.
        per_user: Rows per user: the newest positions of the training sequence (the ones closest
            to what the agent is asked, the next item after everything the user has seen).
        batch_size: Histories scored at once.
        pool: Draw the ``n_rejected`` items at random from the model's best ``pool`` unpicked items
            instead of taking the very top: the top few are often what the user picks later, so a
            wider pool holds fewer false rejections. None: the top ``n_rejected``.
        seed: Seeds the draws from the pool.
        attributes: ``item_attributes`` of the split's items. When given, rejections come only from
            items sharing at least ``min_shared`` values with the chosen item.
        min_shared: Attribute values a rejected item must share with the chosen one.
    """
    assert n_rejected >= 1 and per_user >= 1, "need at least one row per user and one rejected item per row"
    assert pool is None or pool >= n_rejected, f"pool ({pool}) must hold at least n_rejected ({n_rejected}) items"
    rng = np.random.default_rng(seed)
    was_training = model.training
    model.eval()
    device = model.item_emb.weight.device
    histories, chosen, owners = [], [], []
    for u, seq in enumerate(split.train):
        for t in range(max(1, len(seq) - per_user), len(seq)):
            histories.append(seq[max(0, t - model.cfg.max_len) : t])
            chosen.append(int(seq[t]))
            owners.append(u)
    shared = None if attributes is None else torch.as_tensor(np.asarray(attributes), dtype=torch.float32)
    rejected: list[np.ndarray] = []
    for start in range(0, len(histories), batch_size):
        hist = histories[start : start + batch_size]
        scores = model.next_item_scores(left_pad(hist).to(device)).float().cpu()  # (B, N + 1)
        for row, u in enumerate(owners[start : start + batch_size]):
            scores[row, torch.from_numpy(split.train[u])] = float("-inf")  # never a rejection the user picked
        if shared is not None:
            picked = torch.as_tensor(chosen[start : start + batch_size])
            scores[(shared[picked] @ shared.T) < min_shared] = float("-inf")
        values, ids = scores.topk(min(pool or n_rejected, scores.shape[1]), dim=1)
        for v, i in zip(values, ids):
            top = i[v > float("-inf")].numpy().astype(np.int64)
            rejected.append(top if len(top) <= n_rejected else np.sort(rng.choice(top, n_rejected, replace=False)))
    model.train(was_training)
    keep = [r for r in range(len(rejected)) if len(rejected[r])]  # a tiny catalog may run out of unpicked items
    prefs = Preferences(
        tuple(histories[r] for r in keep),
        np.array([chosen[r] for r in keep], np.int64),
        tuple(rejected[r] for r in keep),
    )
    logger.info("mined %d preferences (%d pairs) from %d users", len(prefs), prefs.pairs, len(split.train))
    return prefs
