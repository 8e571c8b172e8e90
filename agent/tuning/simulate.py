"""Simulated users with latent styles: persona and MCR users that edit every reply (training data only).

The persona and MCR simulations (``agent.simulate``) run unchanged through an ``EditingAgent``:
after each reply the user rewrites it toward its styles (``agent.tuning.styles``), sends the
rewrite through ``Agent.feedback`` when it differs, and the edit cost is recorded. Their list
reactions ("not for me", "I'll watch ...") are said in the conversation, which the graph logs.
So the feedback log ends up holding what real users would leave, and the datasets are built
from it the same way (``agent.tuning.data``).

Seeds: every evaluation in EVALUATION.md uses seeds 0, 1 and 2 (MCR, persona and held-out runs),
997-999 (validation openings of the learned policy) and ``1000 * k + s`` with ``s`` in 0-2
(its training rollouts). Training users here must use a seed outside all of them
(``check_training_seed``); the default is 170017.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.llm import BackendConfig
from agent.reply import Reply
from agent.simulate.e2e import RecordingPolicy, run_agent
from agent.simulate.mcr import MCRConfig, episode_rng, make_policy
from agent.simulate.persona import PersonaConfig, make_persona, persona_split, run_persona
from agent.tuning.reply import model_part, writes_prose
from agent.tuning.styles import draw_styles, edit, edit_cost

log = logging.getLogger(__name__)

TUNE_SEED = 170_017
EVALUATION_SEEDS = frozenset({0, 1, 2, 997, 998, 999})
"""Seeds of every evaluation run in EVALUATION.md (besides the rollout seeds ``1000 * k + s``, s < 3)."""
# Offsets of the style draws in (seed, index) streams: apart from the episodes' own (index, index + 1_000_003).
_PERSONA_STYLES, _MCR_STYLES = 2_000_003, 3_000_003


def check_training_seed(seed: int) -> int:
    """The seed, unless an evaluation uses it (then ``ValueError``)."""
    if seed in EVALUATION_SEEDS or seed % 1000 in (0, 1, 2):
        raise ValueError(
            f"seed {seed} is (or may be) an evaluation seed: EVALUATION.md evaluates with 0-2, 997-999 and "
            "1000*k + 0-2; pick a training seed outside them (default 170017)"
        )
    return seed


@dataclass(frozen=True)
class EditRecord:
    """One reply seen by a simulated user.

    Attributes:
        user_id: The simulated user.
        thread_id: The conversation (a session).
        turn: The conversation's turn.
        action: What the reply did (ask, recommend, ...).
        styles: The user's latent styles.
        cost: Word edit distance from the reply to the user's rewrite (0: left as it was).
        words: Words in the reply.
        model_words: Words the language model wrote in it.
        fallback: The model was asked to write but nothing of it is in the reply.
    """

    user_id: str
    thread_id: str
    turn: int
    action: str
    styles: tuple[str, ...]
    cost: int
    words: int
    model_words: int
    fallback: bool


class EditingAgent:
    """An ``Agent`` as simulated users with styles see it: each reply is edited, and the edit sent as feedback.

    Anything else (``memory``, ``services``, ...) is the wrapped agent's.

    Args:
        agent: The agent.
        styles_of: User id -> the user's latent styles (keys of ``STYLES``).
    """

    def __init__(self, agent: Any, styles_of: Callable[[str], tuple[str, ...]]) -> None:
        self.agent = agent
        self.styles_of = styles_of
        self.records: list[EditRecord] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.agent, name)

    def chat(self, user_id: str, message: str, thread_id: str | None = None) -> Reply:
        """One turn; the user then edits the reply toward its styles."""
        from agent.limits import DEFAULT_THREAD, conversation_key
        from agent.llm.plan import ReplyPlan

        reply = self.agent.chat(user_id, message, thread_id=thread_id)
        styles = self.styles_of(user_id)
        if reply.action == "error" or not styles:
            return reply
        thread = thread_id or DEFAULT_THREAD
        values = self.agent.graph.get_state({"configurable": {"thread_id": conversation_key(user_id, thread)}}).values
        plan = ReplyPlan.model_validate(values["plan"])
        years = {r.title: r.year for r in [*reply.recommendations, *reply.items] if r.year}
        edited = edit(reply.text, styles, years)
        prose = model_part(reply.text, plan)
        self.records.append(
            EditRecord(
                user_id=user_id,
                thread_id=thread,
                turn=int(values["turn"]),
                action=reply.action,
                styles=styles,
                cost=edit_cost(reply.text, edited),
                words=len(reply.text.split()),
                model_words=len(prose.split()),
                fallback=writes_prose(plan) and not prose,
            )
        )
        if edited.strip() and edited != reply.text:
            self.agent.feedback(user_id, thread, "edit", text=edited)
        return reply


@dataclass(frozen=True, kw_only=True)
class SimulatedUsersConfig:
    """Simulated users for preference data.

    Attributes:
        dataset: Catalog (``recsys.datasets.load_catalog``).
        personas: Persona users (each ``persona.sessions`` sessions).
        mcr: MCR users (one episode each).
        seed: Draws users, targets, openings and styles; never an evaluation seed.
        backend: The agent's language model (the template backend writes no prose of its own).
        persona: Persona sessions.
        mcr_protocol: MCR episodes (its ``k`` is the agent's list size for both kinds of users).
        max_styles: Most styles per user (at least one).
        policy: Ask-or-recommend policy of the episodes.
    """

    dataset: str = "ml-100k"
    personas: int = 6
    mcr: int = 6
    seed: int = TUNE_SEED
    backend: BackendConfig = field(default_factory=lambda: BackendConfig(kind="template"))
    persona: PersonaConfig = field(default_factory=lambda: PersonaConfig(sessions=3, max_turns=6, k=5))
    mcr_protocol: MCRConfig = field(default_factory=lambda: MCRConfig(max_turns=8, k=5))
    max_styles: int = 3
    policy: str = "maxent"

    def __post_init__(self) -> None:
        check_training_seed(self.seed)
        if self.personas < 0 or self.mcr < 0 or self.personas + self.mcr == 0:
            raise ValueError("personas and mcr must be >= 0, and at least one user is needed")
        if not 1 <= self.max_styles <= 5:
            raise ValueError("max_styles must be between 1 and 5")
        if self.mcr_protocol.k > 50:
            raise ValueError("the agent shows at most 50 items per list")


def run_users(config: SimulatedUsersConfig, data_dir: Path, settings: Any = None) -> list[EditRecord]:
    """Run the simulated users against an agent whose memory (and feedback log) lives in ``data_dir``.

    Returns:
        One record per reply the users saw, in order.
    """
    from agent.api import Agent, AgentConfig
    from agent.simulate.mcr import Environment
    from recsys.datasets import load_catalog
    from recsys.seqrec.recommender import create, save
    from recsys.settings import Settings

    settings = settings or Settings.from_env()
    catalog = load_catalog(config.dataset, settings)
    protocol = config.mcr_protocol
    env = Environment(catalog, protocol, seed=config.seed)
    styles: dict[str, tuple[str, ...]] = {}
    with tempfile.TemporaryDirectory(prefix="tastebud-tune-") as tmp:
        # Persona targets are each user's last items: they stay out of the recommender's training.
        rec = create(protocol.recommender, env.split.data.item_ids, seed=config.seed)
        rec.fit(persona_split(env.split, config.persona.sessions))
        save(rec, Path(tmp) / "recommender")
        recorder = RecordingPolicy()
        agent_config = AgentConfig(
            dataset=config.dataset,
            backend=config.backend,
            recommender_path=Path(tmp) / "recommender",
            data_dir=data_dir,
            k=protocol.k,
            retrieval=False,
            ask_relations=protocol.relations,
        )
        agent = Agent.from_config(agent_config, settings, policy=recorder)
        editing = EditingAgent(agent, lambda user: styles.get(user, ()))
        persona_config = config.persona if config.persona.k == protocol.k else _with_k(config.persona, protocol.k)
        try:
            for i in range(config.personas):
                persona = make_persona(catalog, env.space, env.split, persona_config, config.seed, i)
                styles[persona.user_id] = draw_styles(episode_rng(config.seed, _PERSONA_STYLES + i), config.max_styles)
                policy = make_policy(config.policy, protocol, config.seed * 1_000_003 + i)
                run_persona(editing, recorder, policy, env.space, persona, persona_config, config.seed, i)  # type: ignore[arg-type]
            for i, target in enumerate(env.sample(config.mcr, config.seed) if config.mcr else []):
                styles[f"sim-{config.seed}-{i}"] = draw_styles(
                    episode_rng(config.seed, _MCR_STYLES + i), config.max_styles
                )
                policy = make_policy(config.policy, protocol, config.seed * 1_000_003 + config.personas + i)
                run_agent(editing, recorder, env, target, policy, i, config.seed)  # type: ignore[arg-type]
        finally:
            agent.close()
    return editing.records


def _with_k(persona: PersonaConfig, k: int) -> PersonaConfig:
    from dataclasses import replace

    return replace(persona, k=k)
