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
        asked: "type=value" keys of the values already offered (``AttributeValue.key``), and
            attribute types that are settled and not asked at all (e.g. "genre" when the request named one).
        space: The askable attributes.
        k: List size of a recommendation.
        rejected_lists: How many recommendation lists the user rejected so far.
        history_len: Length of the user's known history (0 = cold start).
        questions: Questions asked so far.
    """

    turn: int
    candidates: np.ndarray
    scores: np.ndarray
    asked: frozenset[str]
    space: AttributeSpace
    k: int = 10
    rejected_lists: int = 0
    history_len: int = 0
    questions: int = 0

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


def asked_keys(ask: Ask) -> list[str]:
    """What asking ``ask`` marks as asked: every value it offered (its type stays askable with other values)."""
    return [v.key for v in ask.options]


def open_values(obs: Observation, type_: str, mass: np.ndarray, limit: int) -> np.ndarray:
    """Up to ``limit`` values of one type worth offering, most ``mass`` first.

    A value is worth offering when it was not offered before and splits the candidates:
    ``0 < mass < 1``, where ``mass`` is, per value, the probability (or the share of candidates)
    that the target has it. A multiple-choice question on a type asked before offers its next values
    ("none of these" still leaves the others).
    """
    if type_ in obs.asked:
        return np.zeros(0, np.int64)
    js = obs.space.types[type_]
    keys = obs.space.keys
    out: list[int] = []
    # rounded, so masses that differ only by floating-point noise tie and keep the values' order
    # (whoever computes them, the same question offers the same options in the same order)
    for j in js[np.argsort(-np.round(mass[js], 9), kind="stable")]:
        if mass[j] <= 0.0:
            break  # sorted: the rest no candidate has
        if mass[j] >= 1.0 - 1e-6 or (obs.asked and keys[j] in obs.asked):
            continue
        out.append(int(j))
        if len(out) == limit:
            break
    return np.asarray(out, np.int64)


def value_mass(space: AttributeSpace, candidates: np.ndarray, weights: np.ndarray | float) -> np.ndarray:
    """Per attribute value, the summed weight of the candidates having it, clipped to [0, 1].

    With the recommender's probabilities as weights: the chance that the target has each value.
    Max-entropy and the learned policy's features both compute it here, so they rank questions alike.
    """
    full = np.zeros(space.membership.shape[0], np.float64)
    full[candidates] = weights
    return np.clip(space.membership_t @ full, 0.0, 1.0)


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
        if len(obs.candidates) <= obs.k or obs.questions >= cfg.max_questions:
            return Recommend(obs.k)
        probs = obs.probabilities()
        if np.sort(probs)[::-1][: obs.k].sum() >= cfg.confidence:
            return Recommend(obs.k)
        mass = value_mass(obs.space, obs.candidates, probs)  # probability that the target has each value
        entropy = binary_entropy(mass)
        best: Ask | None = None
        best_score = cfg.min_entropy
        for type_, js in obs.space.types.items():
            if cfg.question == "multi":
                top = open_values(obs, type_, mass, cfg.max_options)
                score = float(entropy[top].sum())
                if len(top) >= 2 and score > best_score:
                    best_score, best = score, Ask(type_, tuple(obs.space.values[j] for j in top))
            elif type_ not in obs.asked:
                for j in js:
                    if entropy[j] > best_score and obs.space.keys[j] not in obs.asked:
                        best_score, best = float(entropy[j]), Ask(type_, (obs.space.values[j],))
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
        share = obs.space.membership[obs.candidates].mean(axis=0)  # candidates having each value
        if self.question == "multi":
            open_by_type = {t: open_values(obs, t, share, len(js)) for t, js in obs.space.types.items()}
            types = [t for t, js in open_by_type.items() if len(js) >= 2]
            if not types:
                return Recommend(obs.k)
            type_ = types[self._rng.integers(len(types))]
            js = open_by_type[type_]
            chosen = self._rng.choice(js, size=min(self.max_options, len(js)), replace=False)
            return Ask(type_, tuple(obs.space.values[j] for j in chosen))
        keys = obs.space.keys
        js = [j for j in np.flatnonzero(share > 0) if keys[j] not in obs.asked]
        if not js:
            return Recommend(obs.k)
        value = obs.space.values[js[self._rng.integers(len(js))]]
        return Ask(value.type, (value,))


POLICIES = {"maxent": MaxEntropyPolicy, "always-recommend": AlwaysRecommendPolicy, "random": RandomPolicy}
