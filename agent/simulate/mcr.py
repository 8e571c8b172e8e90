"""The multi-turn conversational recommendation (MCR) protocol of EAR / SCPR / UNICORN / MCMIPL.

One episode per held-out (user, target item). The user opens with one random attribute of the
target, answers questions truthfully and accepts a list of ``k`` iff it holds the target;
rejected items leave the candidates; at most ``max_turns`` turns (each question or list is one).
What a question offers, how an answer filters the candidates, how many targets an episode has,
which items start as candidates and whether the opening takes a turn are the rules of a protocol
preset (``agent.simulate.protocols``: ``tastebud``, the default, ``scpr``, ``mcmipl``). Under
``tastebud`` the candidates keep the items having every accepted value and lose those having a
rejected one (an offered option the user did not pick); a value is offered at most once; a
multiple-choice type the user picked from is settled, and after "none of these" it may come back
with its next values.

Two engines run the same protocol with the same user:

- ``run_fast``: the policy and the recommender directly, no natural language (every preset);
- ``agent.simulate.e2e.run_agent``: end to end through ``Agent.chat`` with ``TemplateUser`` messages
  (``tastebud`` only).

The recommender is fitted on the training part of the leave-one-out split only (each user's
sequence without its last two items), and targets are those last two items, so no held-out
interaction reaches the model. Split files and an episodes file replace that split and those
targets (``agent.simulate.episodes``). The attribute space reads only item-side data (genres, years,
the item knowledge graph), never interactions.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Literal, cast

import numpy as np

from agent.policy import (
    AlwaysRecommendPolicy,
    Ask,
    MaxEntropyConfig,
    MaxEntropyPolicy,
    Observation,
    Policy,
    RandomPolicy,
    Recommend,
    asked_keys,
)
from agent.simulate.protocols import Protocol, after_answer, get_protocol
from agent.simulate.users import Target, TruthfulUser
from recsys.attributes import ASKABLE_RELATIONS, AttributeConfig, AttributeSpace
from recsys.catalog import Catalog

log = logging.getLogger(__name__)

POLICY_NAMES = ("maxent", "random", "always-recommend")


@dataclass(frozen=True, kw_only=True)
class MCRConfig:
    """The protocol and what it runs on.

    Attributes:
        max_turns: Turns per episode (questions and lists both count).
        k: Items per recommended list.
        question: "multi" (choose among values of one attribute type) or "binary" (yes/no on one value);
            one of the protocol's kinds.
        protocol: The rules preset (``agent.simulate.protocols.PROTOCOLS``); the published ones fix
            ``max_turns`` and ``k`` to theirs.
        open_types: Attribute types the opening may use; empty = any type the target has.
        relations: KG relations whose entities are askable (with genre and decade).
        attributes: Keys of the items' typed ``attributes`` that are askable types (``recsys.attributes``).
        min_items: A genre, item-attribute value or entity is askable when it has at least this many items.
        recommender: Recommender kind scoring the candidates (a key of ``recsys.seqrec.RECOMMENDERS``).
        stages: Held-out pairs to draw episodes from: "test" (last item), "valid" (second-to-last) of
            the leave-one-out split (not used with ``split_files``: the test file is the episodes).
        split_files: Train, valid and test interaction CSVs replacing the leave-one-out split
            (``agent.simulate.episodes``).
        episodes_file: CSV of the episodes (``user,target``), run in file order.
        maxent: The max-entropy policy's thresholds for this protocol (``question`` is overridden).
    """

    max_turns: int = 15
    k: int = 10
    question: Literal["multi", "binary"] = "multi"
    protocol: str = "tastebud"
    open_types: tuple[str, ...] = ("genre", "decade")
    relations: tuple[str, ...] = ASKABLE_RELATIONS
    attributes: tuple[str, ...] = ()
    min_items: int = 5
    recommender: str = "itemknn"
    stages: tuple[str, ...] = ("test", "valid")
    split_files: tuple[str, str, str] | None = None
    episodes_file: str | None = None
    maxent: MaxEntropyConfig = field(default_factory=MaxEntropyConfig)

    def __post_init__(self) -> None:
        if self.max_turns < 1 or self.k < 1:
            raise ValueError("max_turns and k must be >= 1")
        if self.question not in ("multi", "binary"):
            raise ValueError(f"question must be multi or binary, got {self.question!r}")
        if not self.stages or set(self.stages) - {"test", "valid"}:
            raise ValueError(f"stages must be a non-empty subset of test, valid; got {self.stages!r}")
        if self.split_files is not None and len(self.split_files) != 3:
            raise ValueError(f"split_files must be (train, valid, test), got {self.split_files!r}")
        rules = get_protocol(self.protocol)
        if self.question not in rules.questions:
            raise ValueError(
                f"--protocol {rules.name} asks {' or '.join(rules.questions)} questions, not {self.question}"
            )
        if rules.name != "tastebud" and (self.max_turns, self.k) != (rules.max_turns, rules.k):
            raise ValueError(
                f"--protocol {rules.name} fixes {rules.max_turns} turns and lists of {rules.k} "
                f"(got --max-turns {self.max_turns}, -k {self.k}); other values need --protocol tastebud"
            )
        if rules.opening_turn and self.max_turns < 2:
            raise ValueError(f"--protocol {rules.name}: the opening takes a turn, so max_turns must be >= 2")

    @property
    def rules(self) -> Protocol:
        """The protocol preset's rules."""
        return get_protocol(self.protocol)

    @property
    def actions(self) -> int:
        """Agent actions (questions and lists) per episode: ``max_turns``, less one when the opening takes a turn."""
        return self.rules.actions(self.max_turns)

    def maxent_config(self) -> MaxEntropyConfig:
        """The max-entropy policy's config under this protocol (its question kind and options per question)."""
        return replace(self.maxent, question=self.question, max_options=self.rules.options)


def make_policy(name: str, config: MCRConfig, seed: int) -> Policy:
    """A fresh policy of a baseline kind for one episode (seeded when it is stochastic)."""
    if name == "maxent":
        return MaxEntropyPolicy(config.maxent_config())
    if name == "random":
        return RandomPolicy(seed=seed, question=config.question, max_options=config.rules.options)
    if name == "always-recommend":
        return AlwaysRecommendPolicy()
    raise ValueError(f"unknown policy {name!r}; choose from {POLICY_NAMES}")


@dataclass(frozen=True)
class EpisodeResult:
    """What happened in one episode.

    Attributes:
        index: Episode number within the run.
        user_id: Dataset user.
        item: Target item id.
        stage: Which held-out item it was ("test" / "valid").
        opening: The attribute the user opened with ("genre=Comedy").
        turn: 1-based turn of the accepted list, counting the agent's actions (the metrics' turn; an
            opening that takes a turn is not counted, as in UNICORN's and MCMIPL's evaluation); None
            when the episode failed.
        rank: 1-based rank of the target in the accepted list (two targets: of the first one it holds);
            None when it failed.
        questions: Questions asked.
        lists: Lists recommended (including the accepted one).
        candidates: Candidates left at the end.
        misread: End-to-end only: turns the agent answered with neither a question nor a list.
        item2: Second target item id (two-target protocols), else None.
    """

    index: int
    user_id: str
    item: str
    stage: str
    opening: str
    turn: int | None
    rank: int | None
    questions: int
    lists: int
    candidates: int
    misread: int = 0
    item2: str | None = None

    @property
    def outcome(self) -> tuple[int, int] | None:
        """(turn, rank) of a success, None for a failure (the input of ``metrics``)."""
        return None if self.turn is None or self.rank is None else (self.turn, self.rank)


class Environment:
    """Catalog, attribute space, training-only recommender and held-out targets of one dataset.

    Args:
        catalog: The catalog (any loader's, including the generic format).
        config: The protocol.
        seed: Seeds the recommender's initialisation (neural kinds).
        recommender: A trained recommender used as is instead of fitting ``config.recommender``
            (a saved or aligned model); it must not have trained on the episodes' targets.

    The recommender is fitted when first used: persona runs bring their own and never need it.
    """

    def __init__(self, catalog: Catalog, config: MCRConfig, seed: int = 0, recommender: Any = None) -> None:
        from agent.simulate.episodes import episode_data

        self.catalog = catalog
        self.config = config
        self.seed = seed
        source = episode_data(catalog, config)
        self.split = source.split
        self.fixed = source.fixed
        if recommender is not None:
            if tuple(recommender.item_ids) != tuple(self.split.data.item_ids):
                raise ValueError(f"the recommender was trained on other items than {catalog.name}'s")
            self.recommender = recommender  # fills the cached property: nothing is fitted
        attributes = AttributeConfig(
            relations=config.relations, attributes=config.attributes, min_items=config.min_items
        )
        self.space = AttributeSpace(catalog, attributes)
        if source.fixed:  # episodes given by files run as given: one that cannot open is an error, not a skip
            bad = [t for t in source.targets if not self.can_open(t)]
            if bad:
                shared = " both targets share" if bad[0].item2 is not None else ""
                items = ", ".join(catalog.items[i].id for i in bad[0].items)
                raise ValueError(
                    f"{len(bad)} of {len(source.targets)} episodes have no askable attribute{shared} "
                    f"(first: user {bad[0].user_id}, item {items}); {self.space.missing()}"
                )
            self.targets = source.targets
        else:
            self.targets = [t for t in source.targets if self.can_open(t)]
        self.pool = None if source.pool is None else [t for t in source.pool if self.can_open(t)]
        if not self.targets:
            what = "held-out pair of items shares" if config.rules.targets == 2 else "held-out item has"
            raise ValueError(f"{catalog.name}: no {what} an askable attribute; {self.space.missing()}")

    @cached_property
    def recommender(self) -> Any:
        """The recommender given, else ``config.recommender`` fitted on the training part of the split."""
        from recsys.seqrec.recommender import create

        fitted = create(self.config.recommender, self.split.data.item_ids, seed=self.seed)
        fitted.fit(self.split)  # the training part only: held-out items never reach it
        return fitted

    @cached_property
    def tool(self) -> Any:
        """The recommender as the agent's tool."""
        from recsys.seqrec.tool import RecommendTool

        return RecommendTool(self.recommender, self.catalog)

    def can_open(self, target: Target) -> bool:
        """Whether the user can open an episode: its target has an askable value (two targets: a shared one)."""
        row = self.space.membership[target.item]
        if target.item2 is not None:
            row = row & self.space.membership[target.item2]
        return bool(np.any(row))

    def scores(self, history: tuple[int, ...]) -> np.ndarray:
        """The agent's model scores (log-probabilities over catalog indices) for a history."""
        from agent.tools import Toolbox
        from memory.service import Memory

        # Toolbox.model_scores reads only the recommender and the catalog; no memory is needed.
        box = Toolbox(self.catalog, self.tool, cast(Memory, None), space=self.space)
        return box.model_scores([self.catalog.items[i].id for i in history])

    def sample(self, episodes: int, seed: int) -> list[Target]:
        """``episodes`` targets drawn without replacement (with replacement beyond the pool), fixed by seed.

        Episodes fixed by files are the first ``episodes`` of them in file order instead.
        """
        if self.fixed:
            if episodes > len(self.targets):
                raise ValueError(f"{episodes} episodes asked for, but the files give {len(self.targets)}")
            return self.targets[:episodes]
        rng = np.random.default_rng(seed)
        pool = len(self.targets)
        order = rng.permutation(pool)
        if episodes > pool:
            order = np.concatenate([order, rng.integers(0, pool, episodes - pool)])
        return [self.targets[i] for i in order[:episodes]]


def episode_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of one episode: results do not depend on how episodes are spread over workers."""
    return np.random.default_rng([seed, index])


@dataclass(frozen=True)
class Step:
    """What one turn did.

    Attributes:
        asked: True for a question, False for a list.
        accepted: The user picked an option / said yes (question) or accepted the list.
        rank: 1-based rank of the target in an accepted list; None otherwise.
        turn: 1-based number of this action (the metrics' turn, ``EpisodeResult.turn``).
    """

    asked: bool
    accepted: bool
    rank: int | None
    turn: int


class Episode:
    """One MCR episode as a step-by-step environment: ``observation()``, ``step(action)``, ``clone()``.

    ``run_fast`` loops it with one policy; the rollout learner (``agent.learning.rollout``) clones
    it mid-episode to try every action from the same state. The protocol preset
    (``env.config.rules``) decides the candidate pool, the answers' update and the action budget.
    """

    def __init__(self, env: Environment, target: Target, index: int, seed: int) -> None:
        cfg = env.config
        self.env, self.target, self.index = env, target, index
        self.rules = cfg.rules
        self.user = TruthfulUser(target, env.space)
        self.base = env.scores(target.history)
        alive = np.isfinite(self.base)
        if self.rules.pool == "unseen":  # the published protocols start from every item instead
            alive[list(target.history)] = False
        assert alive[list(target.items)].all(), f"target {target.items} is not a candidate at the start"
        self.opening = self.user.opening(episode_rng(seed, index), cfg.open_types)
        self.alive = alive & env.space.mask(self.opening.type, self.opening.value)
        self.asked: set[str] = set()
        self.questions = self.lists = self.turns = 0
        self.budget = cfg.actions
        self.offset = int(self.rules.opening_turn)  # turns the opening took
        self.turn: int | None = None
        self.rank: int | None = None

    @property
    def done(self) -> bool:
        """The user accepted a list or the turns ran out."""
        return self.turn is not None or self.turns >= self.budget

    def clone(self) -> Episode:
        """An independent copy at the same point (the target, scores and user are shared, read-only)."""
        twin = copy.copy(self)
        twin.alive = self.alive.copy()
        twin.asked = set(self.asked)
        return twin

    def ranked(self) -> np.ndarray:
        """Candidates, best score first."""
        idx = np.flatnonzero(self.alive)
        return idx[np.argsort(-self.base[idx], kind="stable")]

    def observation(self) -> Observation:
        """What the policy sees now (``turn``: the conversation's turns so far, the opening's included when it took one)."""
        cand = self.ranked()
        return Observation(
            turn=self.turns + self.offset,
            candidates=cand,
            scores=self.base[cand],
            asked=frozenset(self.asked),
            space=self.env.space,
            k=self.env.config.k,
            rejected_lists=self.lists,
            history_len=len(self.target.history),
            questions=self.questions,
        )

    def step(self, action: Ask | Recommend, candidates: np.ndarray | None = None) -> Step:
        """Apply one action (``candidates``: the ranked candidates if already at hand)."""
        assert not self.done, "the episode is over"
        space = self.env.space
        self.turns += 1
        if isinstance(action, Recommend):
            self.lists += 1
            shown = (self.ranked() if candidates is None else candidates)[: self.env.config.k]
            hit = self.user.accepts(shown)
            if hit is not None:
                self.turn, self.rank = self.turns, hit
                return Step(asked=False, accepted=True, rank=hit, turn=self.turns)
            self.alive[shown] = False
            return Step(asked=False, accepted=False, rank=None, turn=self.turns)
        self.questions += 1
        self.asked.update(asked_keys(action))
        answer = self.user.answer(action)
        picked = [space.mask(v.type, v.value) for v in action.options if v in answer.chosen]
        rejected = [space.mask(v.type, v.value) for v in action.options if v not in answer.chosen]
        self.alive = after_answer(self.rules, self.alive, picked, rejected)
        if answer.yes is None and answer.chosen and self.rules.settle_type:
            self.asked.add(
                action.attribute
            )  # a type the user picked from is settled; after "none of these" it may come back
        # one target: a truthful answer never removes it; two under "any", a later pick may drop both
        assert self.rules.targets == 2 or self.alive[self.target.item], "a truthful answer removed the target"
        return Step(asked=True, accepted=bool(answer.chosen), rank=None, turn=self.turns)

    def result(self) -> EpisodeResult:
        """The episode's record (call when done)."""
        items = self.env.catalog.items
        return EpisodeResult(
            index=self.index,
            user_id=self.target.user_id,
            item=items[self.target.item].id,
            stage=self.target.stage,
            opening=f"{self.opening.type}={self.opening.value}",
            turn=self.turn,
            rank=self.rank,
            questions=self.questions,
            lists=self.lists,
            candidates=int(self.alive.sum()),
            item2=None if self.target.item2 is None else items[self.target.item2].id,
        )


def run_fast(env: Environment, target: Target, policy: Policy, index: int, seed: int) -> EpisodeResult:
    """One episode with the policy and recommender directly (no natural language)."""
    episode = Episode(env, target, index, seed)
    while not episode.done:
        obs = episode.observation()
        episode.step(policy.decide(obs), obs.candidates)
    return episode.result()
