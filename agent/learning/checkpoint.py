"""Save and load a trained policy: ``model.safetensors`` (Q-network), ``config.json``, ``tree.json``."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.torch import load_file, save_file

from agent.learning.features import FeatureConfig
from agent.learning.network import QNet, QNetConfig
from agent.learning.policy import LearnedPolicy, TreePolicy
from agent.policy import MaxEntropyConfig, MaxEntropyPolicy

_TREE_FIELDS = ("feature", "threshold", "left", "right", "value")


def save(
    folder: Path,
    net: QNet,
    features: FeatureConfig,
    meta: dict[str, Any],
    tree: TreePolicy | None = None,
    anchor: tuple[MaxEntropyConfig, float] | None = None,
) -> Path:
    """Write a checkpoint folder; ``meta`` (dataset, seed, episodes, ...) goes into ``config.json``.

    ``anchor``: the max-entropy base and the margin of a conservative policy (``LearnedPolicy.base``).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}, folder / "model.safetensors")
    config: dict[str, Any] = {"features": asdict(features), "network": asdict(net.config), "meta": meta}
    if anchor is not None:
        base, margin = anchor
        config["anchor"] = {"maxent": asdict(base), "margin": None if math.isinf(margin) else margin}
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    if tree is not None:
        (folder / "tree.json").write_text(json.dumps({f: getattr(tree, f).tolist() for f in _TREE_FIELDS}))
    return folder


def load(folder: Path) -> tuple[LearnedPolicy, TreePolicy | None, dict[str, Any]]:
    """The greedy Q-policy, the tree policy (None when not saved) and the metadata of a checkpoint."""
    folder = Path(folder)
    config = json.loads((folder / "config.json").read_text())
    features = FeatureConfig(**config["features"])
    net = QNet(QNetConfig(**config["network"]))
    net.load_state_dict(load_file(folder / "model.safetensors"))
    net.eval()
    tree = None
    if (folder / "tree.json").is_file():
        raw = json.loads((folder / "tree.json").read_text())
        dtypes = {"threshold": np.float64, "value": np.float64}
        tree = TreePolicy(features, **{f: np.asarray(raw[f], dtypes.get(f, np.int64)) for f in _TREE_FIELDS})
    policy = LearnedPolicy(net, features)
    if config.get("anchor"):
        margin = config["anchor"]["margin"]
        policy.base = MaxEntropyPolicy(MaxEntropyConfig(**config["anchor"]["maxent"]))
        policy.margin = math.inf if margin is None else float(margin)
    return policy, tree, config["meta"]


def exists(folder: Path) -> bool:
    """Whether a folder holds a policy checkpoint."""
    return (Path(folder) / "config.json").is_file() and (Path(folder) / "model.safetensors").is_file()
