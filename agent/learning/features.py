"""The state vector and the action shortlist of the learned policy.

Both are independent of how many attribute values the ``AttributeSpace`` holds, so one
checkpoint serves the MCR space (genres, decades, KG entities) and the agent's (genres, decades).

Actions: 0 = recommend the top ``k``; ``1 + i`` = ask the ``i``-th question of the shortlist,
the questions the max-entropy rule ranks best (``agent.policy.MaxEntropyPolicy``):
- multi: one attribute type, offering its ``max_options`` values of most mass not offered yet;
- binary: one value not asked yet (yes/no), ranked by the entropy of its mass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from agent.policy import Ask, Observation, binary_entropy, open_values, value_mass

GLOBAL_FEATURES = (
    "turn",
    "log_candidates",
    "entropy_norm",
    "entropy",
    "top1_prob",
    "topk_mass",
    "next_k_mass",
    "margin_1_2",
    "margin_1_k",
    "margin_k_k1",
    "questions",
    "rejected_lists",
    "log_history",
    "cold_start",
    "few_candidates",
)
SLOT_FEATURES = ("present", "entropy", "yes_mass", "coverage", "options")


@dataclass(frozen=True, kw_only=True)
class FeatureConfig:
    """Shape of the state vector and the action set.

    Attributes:
        question: "multi" (attribute type with options) or "binary" (yes/no on one value).
        slots: Questions in the shortlist (actions = 1 + slots).
        max_options: Options offered by a multiple-choice question.
        max_turns: Turn budget the ``turn`` feature is scaled by.
        protocol: The MCR protocol preset it was trained under (``agent.simulate.protocols``); its
            ``max_options`` is the preset's options per question.
    """

    question: Literal["multi", "binary"] = "multi"
    slots: int = 5
    max_options: int = 5
    max_turns: int = 15
    protocol: str = "tastebud"

    def __post_init__(self) -> None:
        if self.question not in ("multi", "binary"):
            raise ValueError(f"question must be multi or binary, got {self.question!r}")
        if self.slots < 1 or self.max_options < 2 or self.max_turns < 1:
            raise ValueError("slots >= 1, max_options >= 2 and max_turns >= 1 are required")

    @property
    def dim(self) -> int:
        """Length of the state vector."""
        return len(GLOBAL_FEATURES) + self.slots * len(SLOT_FEATURES)

    @property
    def actions(self) -> int:
        """Recommend plus one action per shortlist slot."""
        return 1 + self.slots

    def feature_names(self) -> list[str]:
        """Names of the state vector's entries (for the tree's rules)."""
        return list(GLOBAL_FEATURES) + [f"q{i}_{f}" for i in range(self.slots) for f in SLOT_FEATURES]


@dataclass(frozen=True)
class State:
    """One observation, featurised.

    Attributes:
        x: The state vector, ``(FeatureConfig.dim,)`` float32.
        mask: Legal actions, ``(FeatureConfig.actions,)`` bool (recommend is always legal).
        asks: The shortlist's questions, in slot order.
    """

    x: np.ndarray
    mask: np.ndarray
    asks: tuple[Ask, ...]


def featurize(obs: Observation, cfg: FeatureConfig) -> State:
    """The state vector, the legal actions and the shortlist of one observation."""
    space = obs.space
    n_cand = len(obs.candidates)
    probs = obs.probabilities()
    mass = value_mass(space, obs.candidates, probs)  # (V,) probability that the target has each value
    coverage = value_mass(space, obs.candidates, 1.0 / max(n_cand, 1))  # (V,) share of candidates having each value
    entropy = binary_entropy(mass)

    asks: list[Ask] = []
    slot_rows: list[list[float]] = []
    if n_cand > obs.k:
        if cfg.question == "multi":
            ranked: list[tuple[float, str, np.ndarray]] = []
            for type_ in space.types:
                top = open_values(obs, type_, mass, cfg.max_options)
                if len(top) >= 2:
                    ranked.append((float(entropy[top].sum()), type_, top))
            ranked.sort(key=lambda r: -r[0])
            for score, type_, top in ranked[: cfg.slots]:
                asks.append(Ask(type_, tuple(space.values[j] for j in top)))
                slot_rows.append(
                    [
                        1.0,
                        score / cfg.max_options,
                        float(min(mass[top].sum(), 1.0)),
                        float(min(coverage[top].sum(), 1.0)),
                        len(top) / cfg.max_options,
                    ]
                )
        else:
            ok = (entropy > 1e-6) & (mass < 1.0 - 1e-6)
            if obs.asked:
                for j in np.flatnonzero(ok):
                    if space.keys[j] in obs.asked or space.values[j].type in obs.asked:
                        ok[j] = False
            js = np.flatnonzero(ok)
            js = js[np.argsort(-entropy[js], kind="stable")[: cfg.slots]]
            for j in js:
                asks.append(Ask(space.values[j].type, (space.values[j],)))
                slot_rows.append([1.0, float(entropy[j]), float(mass[j]), float(coverage[j]), 0.0])

    slots = np.zeros((cfg.slots, len(SLOT_FEATURES)), np.float32)
    if slot_rows:
        slots[: len(slot_rows)] = np.asarray(slot_rows, np.float32)
    mask = np.zeros(cfg.actions, bool)
    mask[0] = True
    mask[1 : 1 + len(asks)] = True

    s = np.sort(np.asarray(obs.scores, np.float64))[::-1] if n_cand else np.zeros(1)
    p = np.sort(probs)[::-1] if n_cand else np.zeros(1)
    k = obs.k

    def at(a: np.ndarray, i: int) -> float:
        return float(a[min(i, len(a) - 1)])

    h = float(-(probs * np.log(np.clip(probs, 1e-12, 1.0))).sum()) if n_cand else 0.0
    log_n = math.log(max(len(space.catalog), 2))
    head = [
        obs.turn / cfg.max_turns,
        math.log1p(n_cand) / log_n,
        h / math.log(n_cand) if n_cand > 1 else 0.0,
        h / log_n,
        at(p, 0),
        float(p[:k].sum()),
        float(p[k : 2 * k].sum()),
        min(at(s, 0) - at(s, 1), 10.0) / 10.0,
        min(at(s, 0) - at(s, k - 1), 10.0) / 10.0,
        min(at(s, k - 1) - at(s, k), 10.0) / 10.0,
        obs.questions / cfg.max_turns,
        obs.rejected_lists / cfg.max_turns,
        math.log1p(obs.history_len) / math.log(1000.0),
        float(obs.history_len == 0),
        float(n_cand <= k),
    ]
    x = np.concatenate([np.asarray(head, np.float32), slots.ravel()])
    assert x.shape == (cfg.dim,), f"state vector has {x.shape}, expected ({cfg.dim},)"
    return State(x=np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=0.0), mask=mask, asks=tuple(asks))
