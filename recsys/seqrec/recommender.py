"""The recommender contract, its implementations, the registry, and save/load (safetensors + JSON).

Every recommender scores histories of model item ids (1..n_items, 0 = padding) into a
``(B, n_items + 1)`` tensor whose column 0 is -inf, so evaluation, the agent tool and the
benchmarks treat SASRec, gSASRec, BERT4Rec, popularity and item-kNN alike.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from recsys.seqrec.baselines import ItemKNNConfig, item_knn_neighbors, item_knn_scores, popularity_scores
from recsys.seqrec.bert4rec import BERT4Rec, bert4rec_config
from recsys.seqrec.data import PAD, Split
from recsys.seqrec.losses import LossConfig, initial_logit
from recsys.seqrec.model import SASRec, SASRecConfig
from recsys.seqrec.names import RECOMMENDER_NAMES
from recsys.seqrec.train import FitResult, TrainConfig, Trainer, model_scores

logger = logging.getLogger(__name__)

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
FORMAT_VERSION = 1


@runtime_checkable
class Recommender(Protocol):
    """What every sequential recommender offers."""

    kind: str
    item_ids: tuple[str, ...]

    @property
    def n_items(self) -> int:
        """Real items (model ids 1..n_items)."""
        ...

    def fit(self, split: Split, cfg: TrainConfig | None = None) -> FitResult:
        """Learn from ``split.train`` (validation targets drive early stopping where relevant)."""
        ...

    def score(self, histories: Sequence[np.ndarray]) -> torch.Tensor:
        """(B, n_items + 1) scores of the next item after each history; column 0 is -inf."""
        ...

    def recommend(
        self, history: np.ndarray, k: int = 10, exclude: Iterable[int] = (), allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """Top-k (model id, score) pairs for one history."""
        ...

    def tensors(self) -> dict[str, torch.Tensor]:
        """Learned state, saved as safetensors."""
        ...

    def config(self) -> dict[str, Any]:
        """JSON-safe settings needed to rebuild the recommender before loading ``tensors``."""
        ...


def top_k(scores: torch.Tensor, k: int, blocked: torch.Tensor | None = None) -> list[list[tuple[int, float]]]:
    """Best ``k`` (model id, score) per row, never a blocked or -inf column.

    Args:
        scores: (B, n_items + 1).
        k: Items per row (fewer when fewer are eligible).
        blocked: Optional (B, n_items + 1) bool of columns that must not be returned.
    """
    if blocked is not None:
        scores = scores.masked_fill(blocked, float("-inf"))
    k = min(k, scores.shape[1])
    values, ids = scores.topk(k, dim=1)
    out = []
    for v_row, i_row in zip(values.tolist(), ids.tolist()):
        out.append([(i, v) for i, v in zip(i_row, v_row) if v != float("-inf")])
    return out


class BaseRecommender:
    """Shared plumbing: ``recommend`` on top of ``score``."""

    kind: str = ""
    item_ids: tuple[str, ...] = ()

    @property
    def n_items(self) -> int:
        """Real items (model ids 1..n_items)."""
        return len(self.item_ids)

    def score(self, histories: Sequence[np.ndarray]) -> torch.Tensor:  # pragma: no cover - abstract
        """(B, n_items + 1) scores; implemented by subclasses."""
        raise NotImplementedError

    def recommend(
        self, history: np.ndarray, k: int = 10, exclude: Iterable[int] = (), allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """Top-k (model id, score) pairs for one history.

        Args:
            history: Model item ids, oldest first.
            k: Number of items.
            exclude: Model ids never returned (e.g. the history itself).
            allowed: Optional bool mask over model ids (length n_items + 1): hard filters, applied before top-k.
        """
        scores = self.score([np.asarray(history, np.int64)])  # (1, N + 1)
        blocked = torch.zeros_like(scores, dtype=torch.bool)
        ex = list(exclude)
        if ex:
            blocked[0, torch.tensor(ex, dtype=torch.int64)] = True
        if allowed is not None:
            blocked[0] |= ~torch.as_tensor(allowed, dtype=torch.bool)
        return top_k(scores, k, blocked)[0]


# ---- neural models ---------------------------------------------------------------------------
Arch = Literal["sasrec", "bert4rec"]


class NeuralRecommender(BaseRecommender):
    """SASRec (CE or BCE), gSASRec or BERT4Rec behind the common contract."""

    def __init__(
        self, kind: str, arch: Arch, model_cfg: SASRecConfig, loss: LossConfig, item_ids: Sequence[str], seed: int = 0
    ) -> None:
        """Build a freshly initialised network (initialisation seeded by ``seed``)."""
        assert model_cfg.n_items == len(item_ids), f"config has {model_cfg.n_items} items, ids {len(item_ids)}"
        self.kind, self.arch, self.loss, self.item_ids = kind, arch, loss, tuple(item_ids)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.model: SASRec = BERT4Rec(model_cfg) if arch == "bert4rec" else SASRec(model_cfg)
        self.model.eval()

    def to(self, device: str | torch.device) -> NeuralRecommender:
        """Move the network (scores come back on that device)."""
        self.model.to(device)
        return self

    def fit(self, split: Split, cfg: TrainConfig | None = None) -> FitResult:
        """Train with early stopping on validation NDCG@10."""
        cfg = cfg or TrainConfig()
        meta = {"kind": self.kind, **self.config(), "item_ids": list(self.item_ids)}
        return Trainer(self.model, self.loss, split, cfg, meta).fit()

    def score(self, histories: Sequence[np.ndarray]) -> torch.Tensor:
        """(B, n_items + 1) next-item scores, in eval mode."""
        if self.model.training:
            self.model.eval()
        return model_scores(self.model, histories)

    def tensors(self) -> dict[str, torch.Tensor]:
        """The network's state dict (CPU, contiguous)."""
        return {k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()}

    def config(self) -> dict[str, Any]:
        """Architecture, network shape and loss."""
        return {"arch": self.arch, "model": asdict(self.model.cfg), "loss": asdict(self.loss)}

    @classmethod
    def from_config(cls, kind: str, config: dict[str, Any], item_ids: Sequence[str]) -> NeuralRecommender:
        """Rebuild (untrained) from ``config()`` output."""
        return cls(kind, config["arch"], SASRecConfig(**config["model"]), LossConfig(**config["loss"]), item_ids)

    def load_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        """Load saved weights (strict)."""
        self.model.load_state_dict(tensors, strict=True)
        self.model.eval()


# ---- baselines -------------------------------------------------------------------------------
class PopularityRecommender(BaseRecommender):
    """Most-popular items in the training sequences, the same for everyone."""

    def __init__(self, item_ids: Sequence[str]) -> None:
        """An untrained popularity model."""
        self.kind, self.item_ids = "pop", tuple(item_ids)
        self.counts = torch.zeros(len(self.item_ids) + 1, dtype=torch.int64)

    def fit(self, split: Split, cfg: TrainConfig | None = None) -> FitResult:
        """Count training interactions."""
        self.counts = torch.from_numpy(split.train_popularity.astype(np.int64))
        return FitResult(epochs_trained=0)

    def score(self, histories: Sequence[np.ndarray]) -> torch.Tensor:
        """Counts, identical for every row."""
        return popularity_scores(self.counts, len(histories))

    def tensors(self) -> dict[str, torch.Tensor]:
        """Counts per model id."""
        return {"counts": self.counts.contiguous()}

    def config(self) -> dict[str, Any]:
        """Nothing to configure."""
        return {}

    @classmethod
    def from_config(cls, kind: str, config: dict[str, Any], item_ids: Sequence[str]) -> PopularityRecommender:
        """Rebuild (untrained)."""
        return cls(item_ids)

    def load_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        """Load saved counts."""
        self.counts = tensors["counts"]


class ItemKNNRecommender(BaseRecommender):
    """Item-kNN: sum of cosine similarities between candidate items and the history's items."""

    def __init__(self, item_ids: Sequence[str], cfg: ItemKNNConfig | None = None) -> None:
        """An untrained item-kNN model."""
        self.kind, self.item_ids = "itemknn", tuple(item_ids)
        self.cfg = cfg or ItemKNNConfig(n_items=len(self.item_ids))
        assert self.cfg.n_items == len(self.item_ids), "ItemKNNConfig.n_items must match the item ids"
        self.indices = torch.zeros(self.n_items + 1, 1, dtype=torch.int64)
        self.values = torch.zeros(self.n_items + 1, 1)

    def fit(self, split: Split, cfg: TrainConfig | None = None) -> FitResult:
        """Compute the neighbour lists from the training sequences."""
        self.indices, self.values = item_knn_neighbors(split.train, self.cfg)
        return FitResult(epochs_trained=0)

    def score(self, histories: Sequence[np.ndarray]) -> torch.Tensor:
        """Summed similarities."""
        return item_knn_scores(self.indices, self.values, histories)

    def tensors(self) -> dict[str, torch.Tensor]:
        """Neighbour ids and similarities."""
        return {"indices": self.indices.contiguous(), "values": self.values.contiguous()}

    def config(self) -> dict[str, Any]:
        """Neighbourhood settings."""
        return asdict(self.cfg)

    @classmethod
    def from_config(cls, kind: str, config: dict[str, Any], item_ids: Sequence[str]) -> ItemKNNRecommender:
        """Rebuild (untrained)."""
        return cls(item_ids, ItemKNNConfig(**config))

    def load_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        """Load saved neighbour lists."""
        self.indices, self.values = tensors["indices"], tensors["values"]


# ---- registry --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Spec:
    """How to build one registered kind.

    Attributes:
        build: ``build(item_ids, model_overrides, seed) -> Recommender``.
        rebuild: ``rebuild(kind, config, item_ids) -> Recommender`` (for ``load``).
        neural: Whether it trains by gradient descent (has epochs).
        description: One line for ``--help`` and reports.
    """

    build: Callable[[Sequence[str], dict[str, Any], int], Any]
    rebuild: Callable[[str, dict[str, Any], Sequence[str]], Any]
    neural: bool
    description: str


def _neural(kind: str, arch: Arch, loss: LossConfig) -> Callable[[Sequence[str], dict[str, Any], int], Any]:
    def build(item_ids: Sequence[str], overrides: dict[str, Any], seed: int) -> NeuralRecommender:
        # "loss.<field>" keys set the loss (e.g. loss.exclude_seen); the rest set the network's shape.
        loss_overrides = {k.removeprefix("loss."): v for k, v in overrides.items() if k.startswith("loss.")}
        shape = {"n_items": len(item_ids), **{k: v for k, v in overrides.items() if not k.startswith("loss.")}}
        run_loss = replace(loss, **loss_overrides)
        assert run_loss.sampled or not {"n_negatives", "gbce_t"} & loss_overrides.keys(), (
            f"{kind}: negatives and gbce_t apply to the sampled losses (sasrec-bce, gsasrec) only"
        )
        if run_loss.sampled:
            shape.setdefault("logit_bias", initial_logit(run_loss, len(item_ids)))
        cfg = bert4rec_config(**shape) if arch == "bert4rec" else SASRecConfig(**shape)
        return NeuralRecommender(kind, arch, cfg, run_loss, item_ids, seed)

    return build


RECOMMENDERS: dict[str, Spec] = {
    "sasrec-ce": Spec(
        _neural("sasrec-ce", "sasrec", LossConfig(name="ce")),
        NeuralRecommender.from_config,
        True,
        "SASRec, full-softmax cross-entropy (Klenitskiy & Vasilev, RecSys 2023)",
    ),
    "sasrec-bce": Spec(
        _neural("sasrec-bce", "sasrec", LossConfig(name="bce", n_negatives=1)),
        NeuralRecommender.from_config,
        True,
        "SASRec, BCE with one sampled negative (Kang & McAuley, ICDM 2018)",
    ),
    "gsasrec": Spec(
        _neural("gsasrec", "sasrec", LossConfig(name="gbce", n_negatives=256, gbce_t=0.75)),
        NeuralRecommender.from_config,
        True,
        "gSASRec, gBCE with 256 sampled negatives, t=0.75 (Petrov & Macdonald, RecSys 2023)",
    ),
    "bert4rec": Spec(
        _neural("bert4rec", "bert4rec", LossConfig(name="cloze", mask_prob=0.2)),
        NeuralRecommender.from_config,
        True,
        "BERT4Rec, Cloze objective (Sun et al., CIKM 2019)",
    ),
    "pop": Spec(
        lambda ids, overrides, seed: PopularityRecommender(ids),
        PopularityRecommender.from_config,
        False,
        "Most popular items in training",
    ),
    "itemknn": Spec(
        lambda ids, overrides, seed: ItemKNNRecommender(ids, ItemKNNConfig(n_items=len(ids), **overrides)),
        ItemKNNRecommender.from_config,
        False,
        "Item-kNN, cosine over co-occurrence in training sequences",
    ),
}
assert tuple(RECOMMENDERS) == RECOMMENDER_NAMES, "recsys.seqrec.names.RECOMMENDER_NAMES must list RECOMMENDERS"


def create(kind: str, item_ids: Sequence[str], overrides: dict[str, Any] | None = None, seed: int = 0) -> Any:
    """A fresh recommender of a registered kind.

    Args:
        kind: A key of ``RECOMMENDERS``.
        item_ids: External id of each model item (position = model id - 1).
        overrides: Model settings (e.g. ``{"max_len": 200, "d_model": 64}`` or ``{"neighbors": 50}``).
        seed: Seeds the initialisation of neural models.
    """
    if kind not in RECOMMENDERS:
        raise ValueError(f"unknown recommender {kind!r}; choose from {sorted(RECOMMENDERS)}")
    return RECOMMENDERS[kind].build(item_ids, dict(overrides or {}), seed)


def save(rec: Recommender, path: str | Path) -> Path:
    """Write ``model.safetensors`` and ``config.json`` into the folder ``path``."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    save_file(rec.tensors(), str(path / WEIGHTS))
    meta = {"format": FORMAT_VERSION, "kind": rec.kind, "config": rec.config(), "item_ids": list(rec.item_ids)}
    (path / CONFIG).write_text(json.dumps(meta))
    logger.info("saved %s to %s", rec.kind, path)
    return path


def load(path: str | Path, device: str | torch.device = "cpu") -> Any:
    """Read a recommender written by ``save``."""
    path = Path(path)
    meta = json.loads((path / CONFIG).read_text())
    assert meta.get("format") == FORMAT_VERSION, f"{path / CONFIG}: unsupported format {meta.get('format')!r}"
    kind = meta["kind"]
    if kind not in RECOMMENDERS:
        raise ValueError(f"{path / CONFIG}: unknown recommender kind {kind!r}")
    rec = RECOMMENDERS[kind].rebuild(kind, meta["config"], meta["item_ids"])
    rec.load_tensors(load_file(str(path / WEIGHTS), device=str(device)))
    return rec


__all__ = [
    "PAD",
    "RECOMMENDERS",
    "ItemKNNRecommender",
    "NeuralRecommender",
    "PopularityRecommender",
    "Recommender",
    "create",
    "load",
    "save",
    "top_k",
]
