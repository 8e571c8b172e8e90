"""The multi-turn conversational recommendation (MCR) protocol of EAR / SCPR / UNICORN / MCMIPL.

One episode per held-out (user, target item). The user opens with one random attribute of the
target, answers questions truthfully and accepts a list of ``k`` iff it holds the target;
rejected items leave the candidates; the candidates keep the items having every accepted
value and lose those having a rejected one (an offered option the user did not pick); at most
``max_turns`` turns (each question or list is one). A value is offered at most once; a
multiple-choice type the user picked from is settled, and after "none of these" it may come back
with its next values.

Two engines run the same protocol with the same user:

- ``run_fast``: the policy and the recommender directly, no natural language;
- ``run_agent``: end to end through ``Agent.chat`` with ``TemplateUser`` messages.

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
from typing import TYPE_CHECKING, Any, Literal, cast

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
from agent.simulate.users import Target, TemplateUser, TruthfulUser
from recsys.attributes import ASKABLE_RELATIONS, AttributeConfig, AttributeSpace
from recsys.catalog import Catalog

if TYPE_CHECKING:
    from agent.api import Agent

log = logging.getLogger(__name__)

POLICY_NAMES = ("maxent", "random", "always-recommend")


@dataclass(frozen=True, kw_only=True)
class MCRConfig:
    """The protocol and what it runs on.

    Attributes:
        max_turns: Turns per episode (questions and lists both count).
        k: Items per recommended list.
        question: "multi" (choose among values of one attribute type) or "binary" (yes/no on one value).
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


def make_policy(name: str, config: MCRConfig, seed: int) -> Policy:
    """A fresh policy of a baseline kind for one episode (seeded when it is stochastic)."""
    if name == "maxent":
        return MaxEntropyPolicy(replace(config.maxent, question=config.question))
    if name == "random":
        return RandomPolicy(seed=seed, question=config.question)
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
        turn: 1-based turn of the accepted list; None when the episode failed.
        rank: 1-based rank of the target in the accepted list; None when it failed.
        questions: Questions asked.
        lists: Lists recommended (including the accepted one).
        candidates: Candidates left at the end.
        misread: End-to-end only: turns the agent answered with neither a question nor a list.
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
    """

    def __init__(self, catalog: Catalog, config: MCRConfig, seed: int = 0) -> None:
        from agent.simulate.episodes import episode_data
        from recsys.seqrec.recommender import create
        from recsys.seqrec.tool import RecommendTool

        self.catalog = catalog
        self.config = config
        source = episode_data(catalog, config)
        self.split = source.split
        self.fixed = source.fixed
        self.recommender = create(config.recommender, self.split.data.item_ids, seed=seed)
        self.recommender.fit(self.split)  # the training part only: held-out items never reach it
        self.tool = RecommendTool(self.recommender, catalog)
        attributes = AttributeConfig(
            relations=config.relations, attributes=config.attributes, min_items=config.min_items
        )
        self.space = AttributeSpace(catalog, attributes)
        askable = self.space.membership.any(axis=1)
        if source.fixed:  # episodes given by files run as given: one that cannot open is an error, not a skip
            bad = [t for t in source.targets if not askable[t.item]]
            if bad:
                raise ValueError(
                    f"{len(bad)} of {len(source.targets)} episodes have a target with no askable attribute "
                    f"(first: user {bad[0].user_id}, item {catalog.items[bad[0].item].id}); {self.space.missing()}"
                )
            self.targets = source.targets
        else:
            self.targets = [t for t in source.targets if askable[t.item]]
        self.pool = None if source.pool is None else [t for t in source.pool if askable[t.item]]
        if not self.targets:
            raise ValueError(f"{catalog.name}: no held-out item has an askable attribute; {self.space.missing()}")

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
        turn: 1-based turn this step took.
    """

    asked: bool
    accepted: bool
    rank: int | None
    turn: int


class Episode:
    """One MCR episode as a step-by-step environment: ``observation()``, ``step(action)``, ``clone()``.

    ``run_fast`` loops it with one policy; the rollout learner (``agent.learning.rollout``) clones
    it mid-episode to try every action from the same state.
    """

    def __init__(self, env: Environment, target: Target, index: int, seed: int) -> None:
        cfg = env.config
        self.env, self.target, self.index = env, target, index
        self.user = TruthfulUser(target, env.space)
        self.base = env.scores(target.history)
        alive = np.isfinite(self.base)
        alive[list(target.history)] = False
        assert alive[target.item], f"target {target.item} is not a candidate at the start"
        self.opening = self.user.opening(episode_rng(seed, index), cfg.open_types)
        self.alive = alive & env.space.mask(self.opening.type, self.opening.value)
        self.asked: set[str] = set()
        self.questions = self.lists = self.turns = 0
        self.turn: int | None = None
        self.rank: int | None = None

    @property
    def done(self) -> bool:
        """The user accepted a list or the turns ran out."""
        return self.turn is not None or self.turns >= self.env.config.max_turns

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
        """What the policy sees now."""
        cand = self.ranked()
        return Observation(
            turn=self.turns,
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
        if answer.yes is not None:
            value = action.options[0]
            mask = space.mask(value.type, value.value)
            self.alive &= mask if answer.yes else ~mask
        else:  # the protocol's update: keep items with every accepted value, drop those with a rejected one
            for v in action.options:
                mask = space.mask(v.type, v.value)
                self.alive &= mask if v in answer.chosen else ~mask
            if answer.chosen:  # a type the user picked from is settled; after "none of these" it may be asked again
                self.asked.add(action.attribute)
        assert self.alive[self.target.item], "a truthful answer removed the target"
        return Step(asked=True, accepted=bool(answer.chosen), rank=None, turn=self.turns)

    def result(self) -> EpisodeResult:
        """The episode's record (call when done)."""
        return EpisodeResult(
            index=self.index,
            user_id=self.target.user_id,
            item=self.env.catalog.items[self.target.item].id,
            stage=self.target.stage,
            opening=f"{self.opening.type}={self.opening.value}",
            turn=self.turn,
            rank=self.rank,
            questions=self.questions,
            lists=self.lists,
            candidates=int(self.alive.sum()),
        )


def run_fast(env: Environment, target: Target, policy: Policy, index: int, seed: int) -> EpisodeResult:
    """One episode with the policy and recommender directly (no natural language)."""
    episode = Episode(env, target, index, seed)
    while not episode.done:
        obs = episode.observation()
        episode.step(policy.decide(obs), obs.candidates)
    return episode.result()


@dataclass
class RecordingPolicy:
    """Wraps the episode's policy inside the agent and keeps its last action (to answer questions)."""

    inner: Policy = field(default_factory=AlwaysRecommendPolicy)
    last: Any = None

    def decide(self, obs: Observation) -> Ask | Recommend:
        """The inner policy's action, remembered."""
        self.last = self.inner.decide(obs)
        return self.last


def seed_history(agent: Agent, user_id: str, item_ids: list[str]) -> None:
    """Put a user's past items into the agent's memory as liked (what its recommender reads)."""
    import uuid

    from memory.schema import FeedbackEvent

    for item_id in item_ids:
        agent.memory.store.add_feedback(
            user_id, FeedbackEvent(id=f"fb_{uuid.uuid4().hex[:12]}", kind="like", item_id=item_id)
        )


def run_agent(
    agent: Agent, recorder: RecordingPolicy, env: Environment, target: Target, policy: Policy, index: int, seed: int
) -> EpisodeResult:
    """One episode end to end: ``TemplateUser`` messages through ``agent.chat``.

    The agent must have been built with ``policy=recorder``, ``k=config.k`` and the same
    recommender and attribute relations as ``env``.
    """
    cfg = env.config
    rng = episode_rng(seed, index)
    user = TruthfulUser(target, env.space)
    speaker = TemplateUser(user)
    catalog = env.catalog
    user_id = f"sim-{seed}-{index}"
    seed_history(agent, user_id, [catalog.items[i].id for i in target.history])
    recorder.inner, recorder.last = policy, None
    opening = user.opening(rng, cfg.open_types)
    message = speaker.open(opening)
    questions = lists = misread = 0
    turn = rank = None
    for t in range(1, cfg.max_turns + 1):
        reply = agent.chat(user_id, message, thread_id="mcr")
        if reply.action == "recommend" and reply.recommendations:
            lists += 1
            shown = np.array([catalog.index[r.item_id] for r in reply.recommendations[: cfg.k]])
            hit = user.accepts(shown)
            if hit is not None:
                turn, rank = t, hit
                break
            message = speaker.react(None)
        elif reply.action == "ask" and isinstance(recorder.last, Ask):
            questions += 1
            message = speaker.say(recorder.last)
        else:  # the agent neither asked nor recommended: the user restates the request
            misread += 1
            message = speaker.open(opening)
    return EpisodeResult(
        index=index,
        user_id=target.user_id,
        item=catalog.items[target.item].id,
        stage=target.stage,
        opening=f"{opening.type}={opening.value}",
        turn=turn,
        rank=rank,
        questions=questions,
        lists=lists,
        candidates=-1,
        misread=misread,
    )
