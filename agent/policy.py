"""Ask-vs-recommend policies behind one interface: ``decide(observation) -> Ask | Recommend``.

Pure functions of the observation (candidate set, recommender scores, what was asked):
testable without an LLM, shared by the agent and the simulator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

from recsys.attributes import AttributeSpace, AttributeValue


@dataclass(frozen=True)
class Ask:
    """Ask the user about one attribute type.

    Attributes:
        attribute: Attribute type ("genre", "decade", "director"...).
        options: Values offered; one option means a yes/no question about it.
    """

    attribute: str
    options: tuple[AttributeValue, ...]


@dataclass(frozen=True)
class Recommend:
    """Recommend the top ``k`` candidates."""

    k: int


Action = Ask | Recommend


@dataclass(frozen=True)
class Observation:
    """What a policy sees at one turn.

    Attributes:
        turn: Turns taken so far in this conversation (0 at the first).
        candidates: Catalog indices of the candidate items (hard filters and rejections applied).
        scores: Recommender scores of the candidates (log-probabilities or any monotone score).
        asked: Attribute types already asked (multi-choice) or "type=value" keys (yes/no).
        space: The askable attributes.
        k: List size of a recommendation.
        rejected_lists: How many recommendation lists the user rejected so far.
        history_len: Length of the user's known history (0 = cold start).
    """

    turn: int
    candidates: np.ndarray
    scores: np.ndarray
    asked: frozenset[str]
    space: AttributeSpace
    k: int = 10
    rejected_lists: int = 0
    history_len: int = 0

    def __post_init__(self) -> None:
        assert len(self.candidates) == len(self.scores), "candidates and scores must align"

    def probabilities(self) -> np.ndarray:
        """Softmax of the candidate scores: the recommender's belief about the target."""
        if not len(self.scores):
            return np.zeros(0)
        z = np.asarray(self.scores, np.float64) - float(np.max(self.scores))
        p = np.exp(z)
        return p / p.sum()


class Policy(Protocol):
    """Anything that picks the next action."""

    def decide(self, obs: Observation) -> Action:
        """The action to take."""
        ...


def binary_entropy(p: np.ndarray) -> np.ndarray:
    """H(p) in bits, 0 at p in {0, 1}."""
    p = np.clip(np.asarray(p, np.float64), 1e-12, 1 - 1e-12)
    return -(p * np.log2(p) + (1 - p) * np.log2(1 - p))


@dataclass(frozen=True, kw_only=True)
class MaxEntropyConfig:
    """Thresholds of the max-entropy baseline (EAR/CPR family).

    Attributes:
        question: "multi" asks an attribute type with options; "binary" asks yes/no about one value.
        max_options: Options offered in a multiple-choice question.
        confidence: Recommend once the top-k candidates hold this much probability mass.
        max_questions: Recommend after this many questions, whatever the entropy.
        min_entropy: Recommend when no question would split the candidates more than this (bits).
    """

    question: Literal["multi", "binary"] = "multi"
    max_options: int = 5
    confidence: float = 0.5
    max_questions: int = 3
    min_entropy: float = 0.2

    def __post_init__(self) -> None:
        if self.question not in ("multi", "binary"):
            raise ValueError(f"question must be multi or binary, got {self.question!r}")
        if not 0 < self.confidence <= 1:
            raise ValueError("confidence must be in (0, 1]")
        if self.max_options < 2:
            raise ValueError("max_options must be >= 2")


@dataclass(frozen=True)
class MaxEntropyPolicy:
    """Ask what best splits the candidates (weighted by the recommender); recommend when confident."""

    config: MaxEntropyConfig = field(default_factory=MaxEntropyConfig)

    def decide(self, obs: Observation) -> Action:
        """Recommend when few candidates remain, the recommender is confident or questions ran out."""
        cfg = self.config
        if len(obs.candidates) <= obs.k or len(obs.asked) >= cfg.max_questions:
            return Recommend(obs.k)
        probs = obs.probabilities()
        if np.sort(probs)[::-1][: obs.k].sum() >= cfg.confidence:
            return Recommend(obs.k)
        members = obs.space.membership[obs.candidates]  # (C, V)
        mass = probs @ members  # probability that the target has each value
        entropy = binary_entropy(mass)
        best: Ask | None = None
        best_score = cfg.min_entropy
        for type_, js in obs.space.types.items():
            if cfg.question == "multi":
                if type_ in obs.asked:
                    continue
                top = js[np.argsort(-mass[js], kind="stable")[: cfg.max_options]]
                top = top[mass[top] > 0]
                score = float(entropy[top].sum())
                if len(top) >= 2 and score > best_score:
                    best_score, best = score, Ask(type_, tuple(obs.space.values[j] for j in top))
            else:
                for j in js:
                    value = obs.space.values[j]
                    if f"{type_}={value.value}" in obs.asked:
                        continue
                    if entropy[j] > best_score:
                        best_score, best = float(entropy[j]), Ask(type_, (value,))
        return best if best is not None else Recommend(obs.k)


@dataclass(frozen=True)
class AlwaysRecommendPolicy:
    """Never asks."""

    def decide(self, obs: Observation) -> Action:
        """Always recommend."""
        return Recommend(obs.k)


@dataclass
class RandomPolicy:
    """Asks a random unasked attribute or recommends, with equal odds (a seeded baseline)."""

    seed: int = 0
    question: Literal["multi", "binary"] = "multi"
    max_options: int = 5
    _rng: np.random.Generator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = np.random.default_rng(self.seed)

    def decide(self, obs: Observation) -> Action:
        """A coin flip between asking and recommending."""
        if len(obs.candidates) <= obs.k or self._rng.random() < 0.5:
            return Recommend(obs.k)
        members = obs.space.membership[obs.candidates]
        present = members.any(axis=0)
        if self.question == "multi":
            types = [t for t, js in obs.space.types.items() if t not in obs.asked and present[js].sum() >= 2]
            if not types:
                return Recommend(obs.k)
            type_ = types[self._rng.integers(len(types))]
            js = obs.space.types[type_][present[obs.space.types[type_]]]
            chosen = self._rng.choice(js, size=min(self.max_options, len(js)), replace=False)
            return Ask(type_, tuple(obs.space.values[j] for j in chosen))
        js = [
            j
            for j in np.flatnonzero(present)
            if f"{obs.space.values[j].type}={obs.space.values[j].value}" not in obs.asked
        ]
        if not js:
            return Recommend(obs.k)
        value = obs.space.values[js[self._rng.integers(len(js))]]
        return Ask(value.type, (value,))


POLICIES = {"maxent": MaxEntropyPolicy, "always-recommend": AlwaysRecommendPolicy, "random": RandomPolicy}
