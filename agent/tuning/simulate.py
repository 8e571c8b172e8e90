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
(``check_training_seed``); the default is 170017. The tuning benchmark (``benchmarks/tuning.py``)
evaluates with its own users, seeds 170101-170103 (``TUNING_EVALUATION_SEEDS``): refused for
training, and none of their dataset users is one the training users were drawn from
(``SimulatedUsersConfig.exclude_users``, ``drawn_users``).
"""

from __future__ import annotations

import logging
import tempfile
import time
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
TUNING_EVALUATION_SEEDS = (170_101, 170_102, 170_103)
"""The tuning benchmark's users: next to the training seed, yet no other evaluation's (``check_evaluation_seed``)."""
EVALUATION_SEEDS = frozenset({0, 1, 2, 997, 998, 999, *TUNING_EVALUATION_SEEDS})
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


def check_evaluation_seed(seed: int, training_seed: int = TUNE_SEED) -> int:
    """The seed, when the tuning benchmark may evaluate with it (else ``ValueError``).

    Allowed: ``TUNING_EVALUATION_SEEDS``, or any seed no evaluation in EVALUATION.md uses, as long
    as it is not the training seed. The users' draws, styles and policies all derive from the seed,
    so a different seed gives different streams (the dataset users are kept apart separately).
    """
    if seed == training_seed:
        raise ValueError(f"seed {seed} is the training seed; evaluate with other users")
    if seed not in TUNING_EVALUATION_SEEDS:
        check_training_seed(seed)  # refuses the seeds of the other evaluations
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
        seconds: Wall time of the turn (the agent's ``chat``).
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
    seconds: float = 0.0


OnReply = Callable[[EditRecord, Any, Reply], None]
"""Called after each edited reply with its record, ``ReplyPlan`` and ``Reply`` (benchmarks measure more)."""


class EditingAgent:
    """An ``Agent`` as simulated users with styles see it: each reply is edited, and the edit sent as feedback.

    Anything else (``memory``, ``services``, ...) is the wrapped agent's.

    Args:
        agent: The agent.
        styles_of: User id -> the user's latent styles (keys of ``STYLES``).
        on_reply: Called after each record (see ``OnReply``).
    """

    def __init__(
        self, agent: Any, styles_of: Callable[[str], tuple[str, ...]], on_reply: OnReply | None = None
    ) -> None:
        self.agent = agent
        self.styles_of = styles_of
        self.on_reply = on_reply
        self.records: list[EditRecord] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.agent, name)

    def chat(self, user_id: str, message: str, thread_id: str | None = None) -> Reply:
        """One turn; the user then edits the reply toward its styles."""
        from agent.limits import DEFAULT_THREAD, conversation_key
        from agent.llm.plan import ReplyPlan

        started = time.perf_counter()
        reply = self.agent.chat(user_id, message, thread_id=thread_id)
        seconds = time.perf_counter() - started
        styles = self.styles_of(user_id)
        if reply.action == "error" or not styles:
            return reply
        thread = thread_id or DEFAULT_THREAD
        values = self.agent.graph.get_state({"configurable": {"thread_id": conversation_key(user_id, thread)}}).values
        plan = ReplyPlan.model_validate(values["plan"])
        years = {r.title: r.year for r in [*reply.recommendations, *reply.items] if r.year}
        edited = edit(reply.text, styles, years)
        prose = model_part(reply.text, plan)
        record = EditRecord(
            user_id=user_id,
            thread_id=thread,
            turn=int(values["turn"]),
            action=reply.action,
            styles=styles,
            cost=edit_cost(reply.text, edited),
            words=len(reply.text.split()),
            model_words=len(prose.split()),
            fallback=writes_prose(plan) and not prose,
            seconds=seconds,
        )
        self.records.append(record)
        if self.on_reply is not None:
            self.on_reply(record, plan, reply)
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
        style_prompt: Put the inferred style preferences into the model's prompt (``AgentConfig.style_prompt``).
        evaluation: The users are evaluation users: ``seed`` is checked by ``check_evaluation_seed``
            (against the default training seed) instead of ``check_training_seed``.
        exclude_users: Dataset users no simulated user may be drawn from (persona sources, MCR
            targets' users): the training users' (``drawn_users``), so evaluation users are new people.
        recommender_path: A trained recommender the agent serves the users with (on-policy lists for
            ``tastebud tune recommender``: the model being aligned shows them). It must not have seen the
            personas' targets (each user's last ``persona.sessions`` items: ``persona_split``). None:
            a ``mcr_protocol.recommender`` fitted on that split here.
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
    style_prompt: bool = True
    evaluation: bool = False
    exclude_users: frozenset[str] = frozenset()
    recommender_path: Path | None = None

    def __post_init__(self) -> None:
        (check_evaluation_seed if self.evaluation else check_training_seed)(self.seed)
        if self.personas < 0 or self.mcr < 0 or self.personas + self.mcr == 0:
            raise ValueError("personas and mcr must be >= 0, and at least one user is needed")
        if not 1 <= self.max_styles <= 5:
            raise ValueError("max_styles must be between 1 and 5")
        if self.mcr_protocol.k > 50:
            raise ValueError("the agent shows at most 50 items per list")


def run_users(
    config: SimulatedUsersConfig,
    data_dir: Path,
    settings: Any = None,
    backend: Any = None,
    on_reply: OnReply | None = None,
) -> list[EditRecord]:
    """Run the simulated users against an agent whose memory (and feedback log) lives in ``data_dir``.

    Args:
        config: The users.
        data_dir: The agent's data folder (memory and feedback log).
        settings: Cache settings (default: from the environment).
        backend: A ready ``ChatBackend`` (overrides ``config.backend``; a benchmark loads a model once).
        on_reply: Called after each edited reply (``OnReply``).

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
        recommender_path = config.recommender_path
        if recommender_path is None:
            # Persona targets are each user's last items: they stay out of the recommender's training.
            rec = create(protocol.recommender, env.split.data.item_ids, seed=config.seed)
            rec.fit(persona_split(env.split, config.persona.sessions))
            recommender_path = save(rec, Path(tmp) / "recommender")
        recorder = RecordingPolicy()
        agent_config = AgentConfig(
            dataset=config.dataset,
            backend=config.backend,
            recommender_path=recommender_path,
            data_dir=data_dir,
            k=protocol.k,
            retrieval=False,
            ask_relations=protocol.relations,
            style_prompt=config.style_prompt,
        )
        agent = Agent.from_config(agent_config, settings, policy=recorder, backend=backend)
        editing = EditingAgent(agent, lambda user: styles.get(user, ()), on_reply)
        persona_config = config.persona if config.persona.k == protocol.k else _with_k(config.persona, protocol.k)
        try:
            for i in _persona_indices(config, catalog, env, persona_config):
                persona = make_persona(catalog, env.space, env.split, persona_config, config.seed, i)
                styles[persona.user_id] = draw_styles(episode_rng(config.seed, _PERSONA_STYLES + i), config.max_styles)
                policy = make_policy(config.policy, protocol, config.seed * 1_000_003 + i)
                run_persona(editing, recorder, policy, env.space, persona, persona_config, config.seed, i)  # type: ignore[arg-type]
            for i, target in enumerate(_mcr_targets(config, env)):
                styles[f"sim-{config.seed}-{i}"] = draw_styles(
                    episode_rng(config.seed, _MCR_STYLES + i), config.max_styles
                )
                policy = make_policy(config.policy, protocol, config.seed * 1_000_003 + config.personas + i)
                run_agent(editing, recorder, env, target, policy, i, config.seed)  # type: ignore[arg-type]
        finally:
            agent.close()
    return editing.records


def drawn_users(config: SimulatedUsersConfig, settings: Any = None) -> frozenset[str]:
    """The dataset users that ``run_users(config)`` draws its simulated users from, without running them."""
    from agent.simulate.mcr import Environment
    from recsys.datasets import load_catalog
    from recsys.settings import Settings

    catalog = load_catalog(config.dataset, settings or Settings.from_env())
    env = Environment(catalog, config.mcr_protocol, seed=config.seed)
    persona_config = _with_k(config.persona, config.mcr_protocol.k)
    sources = {
        make_persona(catalog, env.space, env.split, persona_config, config.seed, i).source_user
        for i in _persona_indices(config, catalog, env, persona_config)
    }
    return frozenset(sources | {t.user_id for t in _mcr_targets(config, env)})


def _persona_indices(config: SimulatedUsersConfig, catalog: Any, env: Any, persona: PersonaConfig) -> list[int]:
    """Indices of the personas to run: the first ``config.personas`` not drawn from an excluded user."""
    out: list[int] = []
    i = 0
    while len(out) < config.personas:
        if i > 100 * (config.personas + 10):
            raise ValueError("too few dataset users left outside exclude_users for the personas asked for")
        if make_persona(catalog, env.space, env.split, persona, config.seed, i).source_user not in config.exclude_users:
            out.append(i)
        i += 1
    return out


def _mcr_targets(config: SimulatedUsersConfig, env: Any) -> list[Any]:
    """The MCR episodes' targets: the first ``config.mcr`` drawn whose user is not excluded."""
    if not config.mcr:
        return []
    if not config.exclude_users:
        return env.sample(config.mcr, config.seed)  # as before: the training data stays reproducible
    pool = [t for t in env.sample(len(env.targets), config.seed) if t.user_id not in config.exclude_users]
    if len(pool) < config.mcr:
        raise ValueError("too few MCR targets left outside exclude_users")
    return pool[: config.mcr]


def _with_k(persona: PersonaConfig, k: int) -> PersonaConfig:
    from dataclasses import replace

    return replace(persona, k=k)
