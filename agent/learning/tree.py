"""An interpretable policy: a shallow decision tree over the named state features (FacT-CRS spirit).

FacT-CRS ("Is Decision Tree All You Need?", 2023) shows a tree over question answers can drive
conversational recommendation. Here the tree is learned by imitation: fitted to the actions the
trained Q-policy takes in states it visits on training users, so it reads as a handful of rules
("recommend when topk_mass > 0.31 ..."). Deciding needs only numpy (``TreePolicy``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from agent.learning.dqn import _Recording
from agent.learning.features import FeatureConfig
from agent.learning.policy import LearnedPolicy, TreePolicy
from agent.simulate.mcr import Environment, run_fast
from agent.simulate.users import Target


def collect(env: Environment, targets: Sequence[Target], teacher: LearnedPolicy, seed: int) -> tuple[np.ndarray, ...]:
    """(states, legal masks, teacher actions) of the teacher's greedy episodes over ``targets``."""
    xs, masks, acts = [], [], []
    for i, t in enumerate(targets):
        rec = _Recording(teacher)
        run_fast(env, t, rec, i, seed)
        for state, a, _ in rec.steps:
            if state.mask.sum() > 1:  # forced recommendations teach nothing
                xs.append(state.x)
                masks.append(state.mask)
                acts.append(a)
    return np.asarray(xs, np.float32), np.asarray(masks), np.asarray(acts, np.int64)


def fit_tree(
    x: np.ndarray, actions: np.ndarray, features: FeatureConfig, max_depth: int = 4, seed: int = 0
) -> TreePolicy:
    """A ``DecisionTreeClassifier`` of the given depth, flattened into a ``TreePolicy``."""
    from sklearn.tree import DecisionTreeClassifier

    assert len(x) == len(actions) and len(x) > 0, "no states to fit the tree on"
    clf = DecisionTreeClassifier(max_depth=max_depth, min_samples_leaf=20, random_state=seed).fit(x, actions)
    t = clf.tree_
    value = np.zeros((t.node_count, features.actions))
    value[:, clf.classes_] = t.value[:, 0, :]  # classes seen in training -> their action columns
    return TreePolicy(
        features,
        feature=t.feature.astype(np.int64),
        threshold=t.threshold.astype(np.float64),
        left=t.children_left.astype(np.int64),
        right=t.children_right.astype(np.int64),
        value=value,
    )
