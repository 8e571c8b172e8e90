"""The end-to-end MCR engine: the simulated user's messages through ``Agent.chat``.

``run_agent`` runs one episode of ``agent.simulate.mcr`` (same user, target and opening draw as the
fast engine) through the LangGraph agent, with ``TemplateUser`` sentences. It runs the ``tastebud``
protocol only: the agent's own answer handling is that protocol's (``SimulationConfig`` refuses the
others).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from agent.policy import AlwaysRecommendPolicy, Ask, Observation, Policy, Recommend
from agent.simulate.mcr import Environment, EpisodeResult, episode_rng
from agent.simulate.users import Target, TemplateUser, TruthfulUser

if TYPE_CHECKING:
    from agent.api import Agent


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
