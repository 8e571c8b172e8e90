"""Policies that read a trained checkpoint: the Q-network's and the decision tree's.

Both implement ``agent.policy.Policy`` (``decide(obs) -> Ask | Recommend``) over the state
vector and shortlist of ``agent.learning.features``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from agent.learning.features import FeatureConfig, State, featurize
from agent.learning.network import QNet
from agent.policy import Action, Observation, Policy, Recommend


def action_at(state: State, a: int, obs: Observation) -> Action:
    """The action of index ``a`` in a featurised state: 0 = recommend the top k, ``1 + i`` = the shortlist's ``i``-th question."""
    return Recommend(obs.k) if a == 0 else state.asks[a - 1]


def _index_of(action: Action, state: State) -> int:
    """Action index of ``action`` in a featurised state (0 = recommend, or the shortlist slot asking it)."""
    if isinstance(action, Recommend):
        return 0
    for i, ask in enumerate(state.asks):
        if ask == action:
            return i + 1
    # the base asked what the shortlist does not hold (it ranks questions the same way, so this is
    # rare): fall back to recommending rather than inventing a slot
    return 0


@dataclass
class LearnedPolicy:
    """Greedy in the Q-network's values over the legal actions, optionally anchored to a base policy.

    With a ``base`` (the policy whose returns the network learned, max-entropy for the rollout
    learner), the base's action is kept unless another action's value exceeds its value by more
    than ``margin``: a conservative improvement step, in the spirit of safe policy improvement
    with a baseline (Laroche et al., ICML 2019). ``margin = inf`` is the base policy itself.

    Attributes:
        net: The trained Q-network (kept in eval mode, on CPU).
        features: The state vector it was trained on.
        epsilon: Exploration rate (training only): a uniformly random legal action with this probability.
        rng: Generator of the exploration.
        base: Policy to deviate from only when the network is sure; None = plain greedy.
        margin: Value advantage needed to deviate from ``base``.
    """

    net: QNet
    features: FeatureConfig
    epsilon: float = 0.0
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))
    base: Policy | None = None
    margin: float = 0.0

    def state_action(self, obs: Observation) -> tuple[State, int]:
        """The featurised state and the chosen action index (0 = recommend)."""
        state = featurize(obs, self.features)
        legal = np.flatnonzero(state.mask)
        if len(legal) == 1:
            return state, 0
        if self.epsilon > 0 and self.rng.random() < self.epsilon:
            return state, int(legal[self.rng.integers(len(legal))])
        if self.base is not None and math.isinf(self.margin):
            return state, _index_of(self.base.decide(obs), state)
        q = np.where(state.mask, self.net.values(state.x), -np.inf)
        best = int(np.argmax(q))
        if self.base is None:
            return state, best
        anchor = _index_of(self.base.decide(obs), state)
        return state, best if q[best] > q[anchor] + self.margin else anchor

    def decide(self, obs: Observation) -> Action:
        """Recommend or ask the shortlist question of highest value."""
        state, a = self.state_action(obs)
        return action_at(state, a, obs)

    def decide_from(self, state: State, a: int, obs: Observation) -> Action:
        """The action of index ``a`` in a featurised state (0 = recommend)."""
        return action_at(state, a, obs)


@dataclass(frozen=True)
class TreePolicy:
    """A depth-limited decision tree over the named state features (readable as rules).

    The tree is stored as sklearn's flat arrays (``tree_.feature`` etc.), so deciding needs only numpy.

    Attributes:
        features: The state vector it reads.
        feature: Split feature per node (-2 at leaves).
        threshold: Split threshold per node (go left when ``x[feature] <= threshold``).
        left: Left child per node (-1 at leaves).
        right: Right child per node (-1 at leaves).
        value: Per node, a score per action (class counts); the leaf's best legal action is taken.
    """

    features: FeatureConfig
    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray

    def leaf(self, x: np.ndarray) -> int:
        """Index of the leaf a state vector falls in."""
        node = 0
        while self.left[node] != -1:
            node = int(self.left[node] if x[self.feature[node]] <= self.threshold[node] else self.right[node])
        return node

    def decide(self, obs: Observation) -> Action:
        """The leaf's most frequent action among the legal ones."""
        state = featurize(obs, self.features)
        scores = np.where(state.mask, self.value[self.leaf(state.x)], -np.inf)
        return action_at(state, int(np.argmax(scores)), obs)

    def rules(self) -> str:
        """The tree as indented if/else text."""
        names = self.features.feature_names()
        lines: list[str] = []

        def walk(node: int, depth: int) -> None:
            pad = "  " * depth
            if self.left[node] == -1:
                a = int(np.argmax(self.value[node]))
                lines.append(f"{pad}-> {'recommend' if a == 0 else f'ask q{a - 1}'}")
                return
            name, t = names[self.feature[node]], self.threshold[node]
            lines.append(f"{pad}if {name} <= {t:.3f}:")
            walk(int(self.left[node]), depth + 1)
            lines.append(f"{pad}else:  # {name} > {t:.3f}")
            walk(int(self.right[node]), depth + 1)

        walk(0, 0)
        return "\n".join(lines)


def policy_dir(cache_dir: Path, dataset: str, question: str = "multi", protocol: str = "tastebud") -> Path:
    """Where a trained policy of a catalog is saved by default (the agent reads the multi-choice, tastebud one)."""
    suffix = "" if question == "multi" else f"-{question}"
    if protocol != "tastebud":
        suffix += f"-{protocol}"
    return Path(cache_dir) / "models" / f"{Path(dataset).name}-policy{suffix}"
