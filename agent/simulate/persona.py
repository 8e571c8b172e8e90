"""Persona users for memory: latent preferences stated once, expected to hold in later sessions.

Each persona is a real dataset user: its past items are its history, and its last ``sessions``
items are one hidden target per session (held out of the recommender's training). It has hard
preferences consistent with every target (never genre X, nothing before year Y, never the films
of entity Z) and a soft one (likes entity W, linked to a target). In session 1 it states some
hard preferences and the soft one (answering "from now on" when asked whether one is for every
request); every session (a new thread) it asks for a film, answers
questions truthfully about that session's target, rejects lists without it and accepts the list
that holds it.

Figures:
- violation rate: recommended items breaking a stored, compiled hard instruction (must be 0),
  and items breaking what the persona meant (extraction errors show up here);
- recall: share of stated preferences found in memory at the start of each later session;
- acceptance rate and turns to acceptance.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from agent.policy import Ask
from agent.scope import SCOPE
from agent.simulate.e2e import RecordingPolicy, seed_history
from agent.simulate.mcr import episode_rng
from agent.simulate.users import Target, TemplateUser, TruthfulUser
from recsys.attributes import AttributeSpace, AttributeValue
from recsys.catalog import Catalog

if TYPE_CHECKING:
    from agent.api import Agent
    from agent.policy import Policy
    from recsys.seqrec.data import Split

HARD_KINDS = ("genre", "year", "entity")
ENTITY_RELATIONS = ("director", "actor")


@dataclass(frozen=True, kw_only=True)
class PersonaConfig:
    """Persona sessions.

    Attributes:
        sessions: Sessions per persona (each a new thread).
        max_turns: Agent replies per session after the request.
        k: Items per list.
        state_prob: Chance that each hard preference is stated in session 1 (at least one is).
        history_len: Most recent past items put into memory as liked.
    """

    sessions: int = 3
    max_turns: int = 10
    k: int = 10
    state_prob: float = 0.67
    history_len: int = 20

    def __post_init__(self) -> None:
        if self.sessions < 2:
            raise ValueError("sessions must be >= 2: memory is tested across sessions")
        if not 0 < self.state_prob <= 1:
            raise ValueError("state_prob must be in (0, 1]")


@dataclass(frozen=True)
class Persona:
    """A simulated person with latent preferences.

    Attributes:
        user_id: The id the agent sees.
        source_user: The dataset user it is built from.
        history: Catalog indices of past items, oldest first.
        targets: One hidden target (catalog index) per session.
        never_genre: Genre it never wants.
        min_year: Earliest year it accepts (None: no such preference).
        never_entity: KG entity whose films it never wants.
        likes_entity: KG entity it likes (soft).
        stated: Hard preferences it states in session 1 (subset of ``HARD_KINDS``).
    """

    user_id: str
    source_user: str
    history: tuple[int, ...]
    targets: tuple[int, ...]
    never_genre: str
    min_year: int | None
    never_entity: AttributeValue | None
    likes_entity: AttributeValue | None
    stated: tuple[str, ...]

    def statements(self) -> list[tuple[str, str]]:
        """(kind, message) for what it says in session 1."""
        out = []
        if "genre" in self.stated:
            out.append(("genre", f"never recommend {self.never_genre.lower()} films"))
        if "year" in self.stated and self.min_year is not None:
            out.append(("year", f"nothing before {self.min_year}"))
        if "entity" in self.stated and self.never_entity is not None:
            out.append(("entity", f"never recommend anything by {self.never_entity.label}"))
        if self.likes_entity is not None:
            out.append(("like", f"I really like {self.likes_entity.label}"))
        return out

    def breaks(self, catalog: Catalog, item: int, space: AttributeSpace) -> bool:
        """Whether an item breaks a stated hard preference (what the persona meant)."""
        it = catalog.items[item]
        if "genre" in self.stated and self.never_genre in it.genres:
            return True
        if "year" in self.stated and self.min_year is not None and (it.year is None or it.year < self.min_year):
            return True
        if "entity" in self.stated and self.never_entity is not None:
            return bool(space.mask(self.never_entity.type, self.never_entity.value)[item])
        return False


def persona_split(split: Split, sessions: int) -> Split:
    """The split a persona agent's recommender trains on: every sequence without its last ``sessions`` items."""
    from recsys.seqrec.data import Split as SplitClass

    return SplitClass(
        data=split.data,
        train=tuple(s[:-sessions] if len(s) > sessions + 1 else s[:1] for s in split.data.sequences),
        eval_users=split.eval_users,
        valid_targets=split.valid_targets,
        test_targets=split.test_targets,
    )


def _entity_value(
    space: AttributeSpace, catalog: Catalog, j: int, unseen: Collection[str] = ()
) -> AttributeValue | None:
    """An attribute value named through one film ("the director of Alien"), as a person would say it.

    The film is never one of ``unseen`` (the persona's targets: naming one would hand the
    recommender the answer); None when the entity has no other film to be named through.
    """
    v = space.values[j]
    assert catalog.kg is not None
    label = catalog.kg.name(v.value, catalog.titles, max_items=1, relation=v.type, exclude=unseen)
    return None if label == v.value else AttributeValue(v.type, v.value, label)


def make_persona(
    catalog: Catalog, space: AttributeSpace, split: Split, config: PersonaConfig, seed: int, index: int
) -> Persona:
    """A persona from a dataset user chosen by (seed, index), with preferences consistent with its targets."""
    rng = episode_rng(seed, index)
    data = split.data
    assert data.catalog_index is not None, "the split must come from a catalog"
    lengths = np.array([len(s) for s in data.sequences])
    eligible = np.flatnonzero(lengths >= config.sessions + 5)
    u = int(eligible[rng.integers(len(eligible))])
    seq = data.catalog_index[data.sequences[u] - 1]
    targets = tuple(int(i) for i in seq[-config.sessions :])
    history = tuple(int(i) for i in seq[: -config.sessions][-config.history_len :])
    target_genres = {g for t in targets for g in catalog.items[t].genres}
    genres = [g for g in sorted(catalog.genres.values()) if g not in target_genres and g.casefold() != "unknown"]
    never_genre = genres[int(rng.integers(len(genres)))] if genres else ""
    years = [catalog.items[t].year for t in targets]
    min_year = min(years) // 10 * 10 if all(y is not None and y > 0 for y in years) else None  # type: ignore[operator]
    members = space.membership
    kg_js = np.array([j for t in ENTITY_RELATIONS for j in space.types.get(t, [])], np.int64)
    never_entity = likes_entity = None
    if len(kg_js):
        in_targets = members[list(targets)][:, kg_js].any(axis=0)
        in_history = members[list(history)][:, kg_js].any(axis=0) if history else np.zeros(len(kg_js), bool)
        pool = kg_js[in_history & ~in_targets]
        pool = pool if len(pool) else kg_js[~in_targets]
        if len(pool):
            never_entity = _entity_value(space, catalog, int(pool[rng.integers(len(pool))]))
        unseen = {catalog.items[t].id for t in targets}
        nameable = [v for j in kg_js[in_targets] if (v := _entity_value(space, catalog, int(j), unseen)) is not None]
        if nameable:
            likes_entity = nameable[int(rng.integers(len(nameable)))]
    kinds = [k for k in HARD_KINDS if (k != "genre" or never_genre) and (k != "year" or min_year is not None)]
    kinds = [k for k in kinds if k != "entity" or never_entity is not None]
    stated = [k for k in kinds if rng.random() < config.state_prob] or [kinds[int(rng.integers(len(kinds)))]]
    return Persona(
        user_id=f"persona-{seed}-{index}",
        source_user=data.user_ids[u],
        history=history,
        targets=targets,
        never_genre=never_genre,
        min_year=min_year,
        never_entity=never_entity,
        likes_entity=likes_entity,
        stated=tuple(stated),
    )


@dataclass
class SessionResult:
    """One session of a persona.

    Attributes:
        session: 1-based session number.
        accepted_turn: Turn of the accepted list (None: not accepted).
        lists: Lists shown.
        questions: Questions asked.
        items: Items recommended.
        compiled_violations: Recommended items failing the stored instructions' compiled filters.
        meant_violations: Recommended items breaking what the persona stated.
        recalled_hard: Stated hard preferences found in memory at the session start (sessions >= 2).
        stated_hard: Stated hard preferences (the denominator of ``recalled_hard``).
        recalled_soft: Whether the liked entity is among the top interests at the session start (None: n/a).
        kept_soft: Whether memory keeps the liked entity at the session start, among the top interests
            or in a standing ``prefer`` instruction (None: n/a).
        misread: Replies that were neither a question nor a list.
        violating: Examples "item: rule" of violations (for the report).
    """

    session: int
    accepted_turn: int | None = None
    lists: int = 0
    questions: int = 0
    items: int = 0
    compiled_violations: int = 0
    meant_violations: int = 0
    recalled_hard: int = 0
    stated_hard: int = 0
    recalled_soft: bool | None = None
    kept_soft: bool | None = None
    misread: int = 0
    violating: list[str] = field(default_factory=list)


def _remembered(agent: Agent, persona: Persona) -> tuple[int, bool | None, bool | None]:
    """(stated hard preferences present in stored instructions, liked entity among top interests,
    liked entity among top interests or in a prefer instruction)."""
    atoms = {(a.op, a.field, a.value.casefold()) for si in agent.memory.instructions(persona.user_id) for a in si.atoms}
    hits = 0
    if "genre" in persona.stated and ("exclude", "genre", persona.never_genre.casefold()) in atoms:
        hits += 1
    if "year" in persona.stated and ("year_min", "year", str(persona.min_year)) in atoms:
        hits += 1
    if "entity" in persona.stated and persona.never_entity is not None:
        hits += int(("exclude", "entity", persona.never_entity.value.casefold()) in atoms)
    soft = kept = None
    if persona.likes_entity is not None:
        top = {i.entity for i in agent.memory.top_interests(persona.user_id, k=10)}
        soft = persona.likes_entity.value in top
        kept = soft or ("prefer", "entity", persona.likes_entity.value.casefold()) in atoms
    return hits, soft, kept


def run_persona(
    agent: Agent,
    recorder: RecordingPolicy,
    policy: Policy,
    space: AttributeSpace,
    persona: Persona,
    config: PersonaConfig,
    seed: int,
    index: int,
) -> dict[str, Any]:
    """All sessions of one persona through ``agent.chat``; returns the persona and its session results."""
    catalog = agent.services.tools.catalog
    rng = episode_rng(seed, index + 1_000_003)
    seed_history(agent, persona.user_id, [catalog.items[i].id for i in persona.history])
    recorder.inner, recorder.last = policy, None
    results: list[SessionResult] = []
    for s, target in enumerate(persona.targets, start=1):
        thread = f"session-{s}"
        res = SessionResult(session=s)
        if s == 1:
            for _, message in persona.statements():
                said = agent.chat(persona.user_id, message, thread_id=thread)
                if said.question is not None and said.question.attribute == SCOPE:
                    # Its preferences are latent and lasting, so it says so when asked.
                    agent.chat(persona.user_id, "from now on", thread_id=thread)
        else:
            res.stated_hard = len(persona.stated)
            res.recalled_hard, res.recalled_soft, res.kept_soft = _remembered(agent, persona)
        user = TruthfulUser(Target(persona.user_id, target, persona.history), space)
        speaker = TemplateUser(user)
        opening = user.opening(rng, ("genre", "decade"))
        message = speaker.open(opening)
        for t in range(1, config.max_turns + 1):
            reply = agent.chat(persona.user_id, message, thread_id=thread)
            if reply.action == "recommend" and reply.recommendations:
                res.lists += 1
                shown = [catalog.index[r.item_id] for r in reply.recommendations]
                filters = agent.memory.constraints(persona.user_id, "")
                allowed = catalog.mask(filters) if filters else np.ones(len(catalog), bool)
                for i in shown:
                    res.items += 1
                    if not allowed[i]:
                        res.compiled_violations += 1
                        res.violating.append(f"{catalog.items[i].id} breaks a stored rule")
                    if persona.breaks(catalog, i, space):
                        res.meant_violations += 1
                        res.violating.append(f"{catalog.items[i].id} breaks a stated preference")
                rank = user.accepts(np.array(shown[: config.k]))
                if rank is not None:
                    res.accepted_turn = t
                    agent.chat(persona.user_id, f"I'll watch {catalog.items[target].title}", thread_id=thread)
                    break
                message = speaker.react(None)
            elif reply.action == "ask" and isinstance(recorder.last, Ask):
                res.questions += 1
                message = speaker.say(recorder.last)
            else:
                res.misread += 1
                message = speaker.open(opening)
        results.append(res)
    return {
        "index": index,
        "user_id": persona.user_id,
        "source_user": persona.source_user,
        "stated": list(persona.stated),
        "never_genre": persona.never_genre,
        "min_year": persona.min_year,
        "never_entity": persona.never_entity.label if persona.never_entity else None,
        "likes_entity": persona.likes_entity.label if persona.likes_entity else None,
        "sessions": [r.__dict__ for r in results],
    }
