"""The ``Memory`` facade the agent calls: remember, select, constrain, boost, explain, and user control."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from memory.backends import open_store
from memory.conflicts import Held, held_by_rules, resolve
from memory.constraints import compile_filter, year_range
from memory.extract import Complete, LLMExtractor
from memory.feedback import FeedbackLog
from memory.instructions import Extraction, PatternExtractor, Proposal, clean
from memory.interests import SIGNALS, InterestConfig, InterestModel, InterestPath, decay
from memory.preferences import (
    Inference,
    PreferenceConfig,
    aggregate,
    contradicts,
    infer_from_critique,
    infer_from_edit,
    infer_from_item,
)
from memory.resolve import Resolver
from memory.schema import (
    AppliedInstruction,
    Atom,
    FeedbackEvent,
    InferredPreference,
    Interest,
    RememberResult,
    Scope,
    StandingInstruction,
    describe_atoms,
    utcnow,
)
from memory.selection import SelectionConfig, select
from memory.store import SCHEMA_VERSION, SQLiteStore, check_user_id
from memory.vectors import VectorIndex
from recsys.catalog import Catalog
from recsys.filters import ItemFilter

log = logging.getLogger(__name__)

Kind = Literal["instructions", "preferences", "interests", "feedback"]
KINDS: tuple[str, ...] = ("instructions", "preferences", "interests", "feedback")


class Encoder(Protocol):
    """Text -> unit vectors (``recsys.encoder.TextEncoder`` fits)."""

    def encode(self, texts: list[str] | str, show_progress: bool = False) -> np.ndarray:
        """Encode texts to float32 unit vectors."""
        ...


@dataclass(frozen=True, kw_only=True)
class MemoryConfig:
    """Memory behaviour.

    Attributes:
        selection: Scope-matching thresholds.
        preferences: Preference learning and ageing.
        interests: Interest weights and ageing.
        interest_boost: Scale of the interest part of ``boosts`` (its max magnitude).
        preference_boost: Scale of inferred-preference effects in ``boosts``.
        soft_rule_boost: Scale of soft standing rules ("I love sci-fi") in ``boosts``.
        file_name: Database file name under ``Settings.data_dir`` when no path is given.
    """

    selection: SelectionConfig = field(default_factory=SelectionConfig)
    preferences: PreferenceConfig = field(default_factory=PreferenceConfig)
    interests: InterestConfig = field(default_factory=InterestConfig)
    interest_boost: float = 0.5
    preference_boost: float = 0.3
    soft_rule_boost: float = 0.5
    file_name: str = "memory.sqlite3"

    def __post_init__(self) -> None:
        for name in ("interest_boost", "preference_boost", "soft_rule_boost"):
            assert getattr(self, name) >= 0, f"{name} must be non-negative"


@dataclass(frozen=True)
class MemoryContext:
    """Everything memory says about one request (one call for the agent).

    Attributes:
        applied: Applicable standing instructions with reasons.
        filters: Hard filters to AND into retrieval (``catalog.mask(filters)``).
        preferences: Inferred preferences that apply now, with weights.
        interests: The user's strongest interests.
    """

    applied: list[AppliedInstruction]
    filters: list[ItemFilter]
    preferences: list[tuple[InferredPreference, float]]
    interests: list[Interest]

    def prompt_text(self) -> str:
        """A compact block for the LLM prompt."""
        lines = []
        if self.applied:
            lines.append("Standing instructions (always obey):")
            lines += [f"- {a.instruction.text} [{a.reason}]" for a in self.applied]
        if self.preferences:
            lines.append("Inferred preferences (use as hints):")
            lines += [f"- {p.text} (weight {w:.2f})" for p, w in self.preferences]
        if self.interests:
            lines.append("Interests: " + ", ".join(f"{i.name} ({i.weight:+.2f})" for i in self.interests))
        return "\n".join(lines)


@dataclass(frozen=True)
class Stated:
    """What ``Memory.remember_stated`` kept.

    Attributes:
        preferences: Inferred preferences stored or reinforced (genres, years).
        interests: People and other entities whose interest was updated, as said back to the user
            ("likes an actor in Fargo"), each once: every actor sharing a label is one phrase.
    """

    preferences: list[InferredPreference]
    interests: list[str]

    @property
    def phrases(self) -> list[str]:
        """Everything kept, as phrases completing "you ..."."""
        return [p.text for p in self.preferences] + self.interests


def _held_message(held: Sequence[Held]) -> str:
    """What the user is told about soft remarks that live hard rules held back."""
    parts = []
    for h in held:
        if h.covered:
            parts.append(f"Your rule '{h.rule.text}' already covers that.")
        else:
            # Not the held atoms' own words: unnamed actors share one label ("an actor in Twister"),
            # so the stored part of the same remark would read the same.
            parts.append(
                f"I kept your rule '{h.rule.text}': it still rules out what it did. "
                "Ask me to forget that rule if it no longer holds."
            )
    return " ".join(parts)


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


class Memory:
    """Per-user memory over one catalog.

    Args:
        store: The repository: ``SQLiteStore``, or ``PostgresStore`` (``memory.backends.open_store``).
        catalog: The catalog instructions are compiled against.
        encoder: Sentence encoder for scope and context embeddings.
        config: Behaviour.
        complete: Optional LLM completion callable; used for extraction and edit
            inference when given.
        clock: Current time (tests pass a fake clock to check decay).
    """

    def __init__(
        self,
        store: SQLiteStore,
        catalog: Catalog,
        encoder: Encoder,
        *,
        config: MemoryConfig | None = None,
        complete: Complete | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.encoder = encoder
        self.config = config or MemoryConfig()
        self.complete = complete
        self.clock = clock
        self.resolver = Resolver(catalog)
        self.patterns = PatternExtractor(self.resolver)
        self.llm = LLMExtractor(complete, self.patterns) if complete is not None else None
        self.vectors = VectorIndex(store)
        self.feedback_log = FeedbackLog(store)
        self.interest_model = InterestModel(catalog, self.config.interests)
        self._user_locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()
        self._encode_cache: dict[str, np.ndarray] = {}

    @classmethod
    def open(
        cls,
        path: str | Path | None = None,
        catalog: Catalog | None = None,
        encoder: Encoder | None = None,
        *,
        config: MemoryConfig | None = None,
        complete: Complete | None = None,
    ) -> Memory:
        """Open (or create) a memory file or PostgreSQL database; defaults: ``TASTEBUD_DATABASE_URL``
        when set, else ``Settings.data_dir``; the embedded catalog; MiniLM.

        Args:
            path: A SQLite file, or a ``postgresql://`` URL (see ``memory.backends.open_store``).
            catalog: The catalog instructions are compiled against.
            encoder: Sentence encoder for scope and context embeddings.
            config: Behaviour.
            complete: Optional LLM completion callable.
        """
        config = config or MemoryConfig()
        if path is None:
            from recsys.settings import Settings

            settings = Settings.from_env()
            path = settings.database_url or settings.data_dir / config.file_name
        if catalog is None:
            from recsys.datasets import load_catalog

            catalog = load_catalog()
        if encoder is None:
            from recsys.encoder import TextEncoder

            encoder = TextEncoder()
        return cls(open_store(path), catalog, encoder, config=config, complete=complete)

    def close(self) -> None:
        """Close the database connections."""
        self.store.close()

    def __enter__(self) -> Memory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _user_lock(self, user_id: str) -> threading.Lock:
        with self._locks_lock:
            return self._user_locks.setdefault(user_id, threading.Lock())

    def _encode(self, texts: list[str]) -> np.ndarray:
        """Encode texts; single texts are cached (one request is encoded once per turn, not per call)."""
        if len(texts) == 1:
            with self._locks_lock:
                hit = self._encode_cache.get(texts[0])
            if hit is not None:
                return hit[None, :]
        vecs = np.asarray(self.encoder.encode(texts), dtype=np.float32).reshape(len(texts), -1)
        if len(texts) == 1:
            with self._locks_lock:
                if len(self._encode_cache) >= 512:
                    self._encode_cache.pop(next(iter(self._encode_cache)))
                self._encode_cache[texts[0]] = vecs[0]
        return vecs

    # ---- standing instructions ---------------------------------------------------------
    def propose(self, text: object) -> Extraction:
        """What an utterance would change (no writes)."""
        return (self.llm or self.patterns).extract(text)

    def remember_utterance(self, user_id: str, text: object) -> RememberResult:
        """Read an utterance; store any standing instructions it states, superseding what they contradict.

        Never raises on bad text: empty, huge, binary or self-contradictory input
        comes back as a result with a message, and nothing is written.
        """
        check_user_id(user_id)
        ext = self.propose(text)
        if ext.problem:
            return RememberResult(status="rejected", message=f"I couldn't use that message: {ext.problem}.")
        if ext.contradiction:
            return RememberResult(
                status="contradictory",
                request_atoms=list(ext.request_atoms),
                message=f"That contradicts itself ({ext.contradiction}); I saved nothing. Which one do you mean?",
            )
        return self.remember_rules(
            user_id,
            ext.proposals,
            request_atoms=ext.request_atoms,
            ambiguous=ext.ambiguous,
            source="llm" if self.llm is not None else "pattern",
        )

    def remember_rules(
        self,
        user_id: str,
        proposals: Sequence[Proposal],
        request_atoms: Sequence[Atom] = (),
        ambiguous: Sequence[str] = (),
        source: str = "model",
    ) -> RememberResult:
        """Store standing instructions someone else read from the user's words (the agent's understanding).

        Args:
            user_id: The user.
            proposals: The instructions, each with its atoms and scope.
            request_atoms: Constraints of the current request (returned as they are).
            ambiguous: Messages about names that could mean several things.
            source: How they were read (``pattern``, ``llm``, ``model``).
        """
        check_user_id(user_id)
        if not proposals:
            return RememberResult(status="not_instruction", request_atoms=list(request_atoms))
        ext = Extraction(proposals=tuple(proposals), request_atoms=tuple(request_atoms), ambiguous=tuple(ambiguous))
        stored: list[StandingInstruction] = []
        superseded_ids: dict[str, str] = {}
        duplicates = 0
        held: dict[int, list[Held]] = {}  # per proposal; a retried plan overwrites its own entry
        for n, proposal in enumerate(ext.proposals):

            def plan(
                live: list[StandingInstruction], proposal: Any = proposal, n: int = n
            ) -> tuple[list[StandingInstruction], dict[str, str], dict[str, np.ndarray]]:
                nonlocal duplicates
                key = proposal.scope.key if proposal.scope else ""
                held[n] = held_by_rules(list(proposal.atoms), key, live)
                held_back = {id(a) for h in held[n] for a in h.atoms}
                atoms = [a for a in proposal.atoms if id(a) not in held_back]
                if held[n] and not atoms:
                    return [], {}, {}
                res = resolve(atoms, key, proposal.text, live)
                if res.duplicate_of is not None and not res.superseded:
                    duplicates += 1
                    return [], {}, {}
                now = self.clock()
                si = StandingInstruction(
                    id=_new_id("si"),
                    text=proposal.text,
                    atoms=atoms,
                    scope=proposal.scope,
                    unresolved=list(proposal.unresolved),
                    source=source,
                    created_at=now,
                    updated_at=now,
                )
                new = [si]
                for old, keep in res.narrowed:
                    new.append(
                        StandingInstruction(
                            id=_new_id("si"),
                            text=old.text,
                            atoms=keep,
                            scope=old.scope,
                            derived_from=old.id,
                            unresolved=old.unresolved,
                            source=old.source,
                            created_at=old.created_at,
                            updated_at=now,
                        )
                    )
                sup = {old.id: si.id for old in res.superseded}
                texts = [(x.scope.text if x.scope else x.text) for x in new]
                vecs = self._encode(texts)
                return new, sup, {x.id: v for x, v in zip(new, vecs)}

            new, sup = self.store.update_instructions(user_id, plan)
            stored += new
            superseded_ids.update(sup)
        superseded = [s for s in (self.store.instruction(user_id, i) for i in superseded_ids) if s is not None]
        unresolved = sorted({u for s in stored for u in s.unresolved})
        kept = [h for hs in held.values() for h in hs]
        if not stored and duplicates and not kept:
            return RememberResult(status="duplicate", message="I already had that rule.")
        message = " ".join(
            m for m in (self._stored_message(stored, superseded, unresolved, ext.ambiguous), _held_message(kept)) if m
        )
        return RememberResult(
            status="held" if kept and not stored else "stored",
            stored=stored,
            superseded=superseded,
            unresolved=unresolved,
            request_atoms=list(ext.request_atoms),
            message=message,
        )

    @staticmethod
    def _stored_message(
        stored: list[StandingInstruction],
        superseded: list[StandingInstruction],
        unresolved: list[str],
        ambiguous: tuple[str, ...],
    ) -> str:
        parts = []
        fresh = [s for s in stored if s.derived_from is None]
        for s in fresh:
            what = describe_atoms(s.atoms) or s.text
            where = f" ({s.scope.text})" if s.scope else ""
            parts.append(f"Noted{where}: {what}.")
        if superseded:
            parts.append("This replaces: " + "; ".join(f"'{s.text}'" for s in superseded) + ".")
        missing = [u for u in unresolved if u not in " ".join(ambiguous)]
        if missing:
            parts.append(
                f"I couldn't find {', '.join(missing)} in this catalog; I kept your words but can't enforce that part."
            )
        if ambiguous:
            parts.append("Which one do you mean: " + "; ".join(ambiguous) + "?")
        return " ".join(parts)

    def instructions(self, user_id: str, include_history: bool = False) -> list[StandingInstruction]:
        """The user's live instructions (with ``include_history``, superseded ones too)."""
        return self.store.instructions(user_id, None if include_history else "active")

    def applicable(self, user_id: str, request_text: str) -> list[AppliedInstruction]:
        """The live instructions that apply to this request, each with the reason."""
        check_user_id(user_id)
        live = self.store.instructions(user_id, "active")
        if not live:
            return []
        request, problem = clean(request_text)
        if problem:
            request = ""
        sims: dict[str, float] = {}
        if request and any(si.scope is not None for si in live):
            vs = self.vectors.get(user_id, "instruction")
            if vs.ids:
                sims = vs.similarity(self._encode([request])[0])
        return select(live, request, self.resolver, sims, self.config.selection)

    def constraints(self, user_id: str, request_text: str) -> list[ItemFilter]:
        """Hard filters of the applicable instructions; AND them with ``catalog.mask(filters)``."""
        return self._filters(self.applicable(user_id, request_text))

    def _filters(self, applied: list[AppliedInstruction]) -> list[ItemFilter]:
        filters = [compile_filter(a.instruction.atoms, self.catalog) for a in applied]
        return [f for f in filters if f is not None and not f.is_empty()]

    def allowed(self, user_id: str, request_text: str, candidates: list[str]) -> list[str]:
        """The candidates that satisfy every applicable hard instruction, in their order."""
        mask = self.catalog.mask(self.constraints(user_id, request_text))
        index = self.catalog.index
        return [c for c in candidates if c in index and mask[index[c]]]

    # ---- feedback, inferred preferences -------------------------------------------------
    def record_feedback(
        self,
        user_id: str,
        kind: str,
        item_id: str | None = None,
        context: str = "",
        text: str = "",
        original: str = "",
        turn: str | None = None,
    ) -> list[InferredPreference]:
        """Record feedback and learn from it; returns the preferences created or reinforced.

        Args:
            user_id: The user.
            kind: ``accept``, ``reject``, ``like``, ``dislike`` (need ``item_id``),
                ``critique`` (``text``: "too long", "something newer"), or ``edit``
                (``original``: the agent's text, ``text``: the user's version).
            item_id: The item concerned.
            context: The request it answered (used to retrieve the preference later).
            text: Critique or edited text.
            original: The agent's text, for edits.
            turn: Caller's id of the turn (kept as ``source_turn``).

        Raises:
            ValueError: Unknown kind, or an item kind without a known ``item_id``.
        """
        check_user_id(user_id)
        if kind not in ("accept", "reject", "like", "dislike", "critique", "edit"):
            raise ValueError(f"unknown feedback kind {kind!r}")
        if kind in SIGNALS and (item_id is None or item_id not in self.catalog):
            raise ValueError(f"feedback {kind!r} needs a catalog item id, got {item_id!r}")
        if item_id is not None and item_id not in self.catalog:
            item_id = None
        context = clean(context)[0] if context else ""
        # An edit keeps its lines: bullets and sentence breaks are what the edit says about style.
        text = (text[:20000] if isinstance(text, str) else "") if kind == "edit" else (clean(text)[0] if text else "")
        original = original[:20000] if isinstance(original, str) else ""
        now = self.clock()
        event = FeedbackEvent(
            id=_new_id("fb"), kind=kind, item_id=item_id, context=context, text=text, original=original, created_at=now
        )  # type: ignore[arg-type]
        self.store.add_feedback(user_id, event)
        inferences = []
        signal = SIGNALS.get(kind)
        if kind == "critique" and item_id is not None:
            signal = SIGNALS["reject"] / 2
        if signal is not None and item_id is not None:
            hl = self.config.interests.half_life_days
            self.store.add_interests(
                user_id,
                self.interest_model.deltas(item_id, signal),
                lambda w, t, n: decay(w, t, n, hl),
                now,
                source=event.id,
            )
        if kind in SIGNALS and item_id is not None:
            item = self.catalog.get(item_id)
            inferences = infer_from_item(kind, item.genres, item.title)
        elif kind == "critique":
            inferences = infer_from_critique(text, self.resolver)
        elif kind == "edit":
            inferences = infer_from_edit(original, text, self.complete)
        if not inferences:
            return []
        return self._learn(user_id, inferences, context or text, event.id, now)

    def _learn(
        self, user_id: str, inferences: list[Any], context: str, turn: str, now: datetime
    ) -> list[InferredPreference]:
        cfg = self.config.preferences
        ctx_vec = self._encode([context or "general"])[0]
        out = []
        with self._user_lock(user_id):
            prefs = {p.id: p for p in self.store.preferences(user_id)}
            sims = self.vectors.get(user_id, "preference").similarity(ctx_vec)
            weakened: dict[str, InferredPreference] = {}
            for inf in inferences:
                same = [p for p in prefs.values() if p.key == inf.key and sims.get(p.id, -1) >= cfg.same_context]
                if same:
                    p = max(same, key=lambda p: sims.get(p.id, -1))
                    conf = min(1.0, p.confidence + cfg.reinforce * (1 - p.confidence))
                    p = p.model_copy(update={"confidence": conf, "evidence": p.evidence + 1, "updated_at": now})
                    self.store.put_preference(user_id, p)
                else:
                    p = InferredPreference(
                        id=_new_id("ip"),
                        text=inf.text,
                        key=inf.key,
                        context=context[:500],
                        confidence=inf.confidence,
                        effect=inf.effect,
                        source_turn=turn,
                        created_at=now,
                        updated_at=now,
                    )
                    self.store.put_preference(user_id, p, ctx_vec)
                prefs[p.id] = p
                out.append(p)
                for q in prefs.values():
                    if contradicts(inf.key, q.key):
                        weakened[q.id] = q.model_copy(
                            update={"confidence": q.confidence * cfg.contradict, "updated_at": now}
                        )
                        prefs[q.id] = weakened[q.id]
            if weakened:
                self.store.put_preferences(user_id, list(weakened.values()))
        return out

    def remember_stated(self, user_id: str, atoms: Sequence[Atom], text: str) -> Stated:
        """Store soft preferences the user stated ("I love sci-fi", "not a big fan of westerns").

        Genre and year atoms (``prefer``/``avoid``) become inferred preferences with the user's
        words as their context, reinforced when said again and weakened when contradicted;
        people and other KG entities become interests (an entity memory cannot resolve updates
        nothing and is not reported). The agent keeps a stated liking of a person as a soft
        standing instruction instead (``agent.remembering.store_lasting``), so only films and
        direct callers reach the interest branch here.
        """
        check_user_id(user_id)
        inferences: list[Inference] = []
        interests: list[str] = []
        for atom in atoms:
            if atom.op not in ("prefer", "avoid"):
                continue
            sign = 1.0 if atom.op == "prefer" else -1.0
            what = atom.label or atom.value
            said = "likes" if sign > 0 else "would rather avoid"
            if atom.field == "genre":
                key, effect = f"genre:{atom.value}:{'+' if sign > 0 else '-'}", {f"genre:{atom.value}": sign}
            elif atom.field == "year" and atom.value in ("older", "newer"):
                direction = atom.value if sign > 0 else ("newer" if atom.value == "older" else "older")
                key, effect = f"year:{direction}", {"year": 1.0 if direction == "newer" else -1.0}
            elif atom.field == "year":
                key, effect = f"years:{atom.value}:{'+' if sign > 0 else '-'}", {f"years:{atom.value}": sign}
            elif atom.field in ("entity", "item"):
                if self.record_answer(user_id, atom.value, liked=sign > 0):
                    interests.append(f"{said} {what}")
                continue
            else:
                continue
            inferences.append(
                Inference(key, f"{said} {what} films" if atom.field == "genre" else f"{said} {what}", effect, 0.8)
            )
        learned = self._learn(user_id, inferences, clean(text)[0], "stated", self.clock()) if inferences else []
        return Stated(preferences=learned, interests=list(dict.fromkeys(interests)))

    def preferences(self, user_id: str) -> list[InferredPreference]:
        """All of the user's inferred preferences."""
        return self.store.preferences(user_id)

    def preferences_for(
        self, user_id: str, request_text: str, k: int | None = None
    ) -> list[tuple[InferredPreference, float]]:
        """Preferences of the k nearest past contexts, aggregated for this request (CIPHER)."""
        check_user_id(user_id)
        vs = self.vectors.get(user_id, "preference")
        if not vs.ids:
            return []
        request = clean(request_text)[0] or "general"
        nearest = vs.search(self._encode([request])[0], k or self.config.preferences.k)
        return aggregate(self.store.preferences(user_id), nearest, self.clock(), self.config.preferences)

    # ---- knowledge-graph interests ----------------------------------------------------------
    def _interest_weights(self, user_id: str) -> tuple[dict[str, tuple[str, float]], dict[str, list[str]]]:
        now = self.clock()
        hl = self.config.interests.half_life_days
        weights, vias = {}, {}
        for interest, via in self.store.interests(user_id):
            weights[interest.entity] = (interest.relation, decay(interest.weight, interest.updated_at, now, hl))
            vias[interest.entity] = via
        return weights, vias

    def top_interests(self, user_id: str, k: int = 10, negative: bool = False) -> list[Interest]:
        """Strongest interests after decay (``negative=True``: strongest dislikes), named."""
        check_user_id(user_id)
        now = self.clock()
        hl = self.config.interests.half_life_days
        rows = []
        for interest, via in self.store.interests(user_id):
            w = decay(interest.weight, interest.updated_at, now, hl)
            if (w < 0) == negative and abs(w) > 1e-6:
                rows.append((interest, via, w))
        rows.sort(key=lambda r: -abs(r[2]))
        return [
            i.model_copy(update={"weight": w, "name": self.interest_model.name(i.entity, via)})
            for i, via, w in rows[:k]
        ]

    def interest_score(self, user_id: str, item_id: str) -> float:
        """The user's interest in one item (sum over its entities; negative = likely dislike)."""
        check_user_id(user_id)
        weights, _ = self._interest_weights(user_id)
        if not weights or item_id not in self.catalog:
            return 0.0
        return float(self.interest_model.scores(weights)[self.catalog.index[item_id]])

    def explain(self, user_id: str, item_id: str, k: int = 3) -> list[InterestPath]:
        """Explanation paths user -> entity -> item, strongest first."""
        check_user_id(user_id)
        if item_id not in self.catalog:
            return []
        weights, vias = self._interest_weights(user_id)
        return self.interest_model.explain(item_id, weights, vias, k)

    def record_answer(self, user_id: str, about: str, liked: bool, strength: float = 1.0) -> list[str]:
        """Learn from an answered question ("Do you like westerns?" -> yes); returns entities updated.

        ``about`` may be a genre, a title, a person's name, or a KG entity id.
        Unknown things update nothing (an empty list).
        """
        check_user_id(user_id)
        sign = strength if liked else -strength
        about_clean = clean(about)[0]
        deltas: list[tuple[str, str, float, str | None]] = []
        genre = self.resolver.genre(about_clean) if about_clean else None
        item_id = self.resolver.title(about_clean) if about_clean else None
        people = [m for m in self.resolver.people(about_clean) if m.kind == "entity"] if about_clean else []
        if genre:
            deltas = [(f"genre:{genre}", "catalog_genre", sign, None)]
        elif item_id:
            deltas = self.interest_model.deltas(item_id, sign)
        elif len(people) == 1:
            ent = people[0].value
            deltas = [(ent, (self.catalog.kg.relation_of(ent) if self.catalog.kg else None) or "entity", sign, None)]
        elif self.catalog.kg is not None and about in self.catalog.kg.graph:
            deltas = [(about, self.catalog.kg.relation_of(about) or "entity", sign, None)]
        if deltas:
            hl = self.config.interests.half_life_days
            self.store.add_interests(user_id, deltas, lambda w, t, n: decay(w, t, n, hl), self.clock(), "answer")
        return [d[0] for d in deltas]

    # ---- scoring ------------------------------------------------------------------------
    def boosts(self, user_id: str, request_text: str, candidates: list[str] | None = None) -> dict[str, float]:
        """Additive score adjustments per item id from interests, inferred preferences and soft rules.

        Hard rules are not here (use ``constraints``); the values are small
        (about -1.5..1.5) so a recommender can add them to normalised scores.
        """
        check_user_id(user_id)
        n = len(self.catalog.items)
        total = np.zeros(n, np.float32)
        weights, _ = self._interest_weights(user_id)
        if weights:
            s = self.interest_model.scores(weights)
            peak = float(np.abs(s).max())
            if peak > 0:
                total += self.config.interest_boost * s / peak
        effects: dict[str, float] = {}
        for pref, w in self.preferences_for(user_id, request_text):
            for key, value in pref.effect.items():
                effects[key] = effects.get(key, 0.0) + self.config.preference_boost * w * value
        for a in self.applicable(user_id, request_text):
            for atom in a.instruction.atoms:
                self._soft_effect(atom, effects, total)
        years = self.catalog.years.astype(np.float32)
        known = years > 0
        for key, value in effects.items():
            if key.startswith("genre:"):
                total += value * self.catalog.genre_mask({key.split(":", 1)[1]})
            elif key.startswith("years:"):
                lo, hi = year_range(key.split(":", 1)[1])
                years_all = self.catalog.years
                total += value * ((years_all >= (lo or 0)) & (years_all <= (hi or 9999)) & (years_all > 0))
            elif key == "year" and known.any():
                z = np.zeros(n, np.float32)
                z[known] = (years[known] - years[known].mean()) / (years[known].std() + 1e-6)
                total += value * np.clip(z, -2, 2) / 2
            elif key == "popularity" and len(self.catalog.popularity):
                p = np.log1p(self.catalog.popularity.astype(np.float32))
                total += value * (p - p.mean()) / (p.std() + 1e-6) / 2
        ids = candidates if candidates is not None else [it.id for it in self.catalog.items]
        index = self.catalog.index
        return {i: float(total[index[i]]) for i in ids if i in index and abs(total[index[i]]) > 1e-6}

    def _soft_effect(self, atom: Atom, effects: dict[str, float], total: np.ndarray) -> None:
        if atom.op not in ("prefer", "avoid"):
            return
        sign = self.config.soft_rule_boost * (1.0 if atom.op == "prefer" else -1.0)
        if atom.field == "genre":
            effects[f"genre:{atom.value}"] = effects.get(f"genre:{atom.value}", 0.0) + sign
        elif atom.field == "year" and atom.value in ("older", "newer"):
            effects["year"] = effects.get("year", 0.0) + (sign if atom.value == "newer" else -sign)
        elif atom.field == "year":
            lo, hi = year_range(atom.value)
            years = self.catalog.years
            mask = (years >= (lo or 0)) & (years <= (hi or 9999)) & (years > 0)
            total += sign * mask
        elif atom.field == "entity":
            mask = self.interest_model.item_mask(atom.value)
            if mask is not None:
                total += sign * mask
        elif atom.field == "item" and atom.value in self.catalog.index:
            total[self.catalog.index[atom.value]] += sign

    def context_for(self, user_id: str, request_text: str, k_interests: int = 5) -> MemoryContext:
        """Everything memory knows that bears on this request."""
        applied = self.applicable(user_id, request_text)
        return MemoryContext(
            applied=applied,
            filters=self._filters(applied),
            preferences=self.preferences_for(user_id, request_text),
            interests=self.top_interests(user_id, k_interests),
        )

    # ---- user control -----------------------------------------------------------------------
    def list(self, user_id: str, kind: str | None = None) -> dict[str, list[dict[str, Any]]]:
        """Every memory item of the user, by kind (instructions include their history)."""
        check_user_id(user_id)
        kinds = KINDS if kind is None else (kind,)
        if any(k not in KINDS for k in kinds):
            raise ValueError(f"unknown memory kind {kind!r}; expected one of {KINDS}")
        out: dict[str, list[dict[str, Any]]] = {}
        if "instructions" in kinds:
            out["instructions"] = [s.model_dump(mode="json") for s in self.store.instructions(user_id, None)]
        if "preferences" in kinds:
            out["preferences"] = [p.model_dump(mode="json") for p in self.store.preferences(user_id)]
        if "interests" in kinds:
            out["interests"] = [
                i.model_copy(update={"name": self.interest_model.name(i.entity, via)}).model_dump(mode="json")
                for i, via in self.store.interests(user_id)
            ]
        if "feedback" in kinds:
            out["feedback"] = [f.model_dump(mode="json") for f in self.store.feedback(user_id)]
        return out

    def edit(self, user_id: str, kind: str, ref_id: str, **changes: Any) -> dict[str, Any]:
        """Change one memory item; returns the new record.

        - instructions: ``text=`` (re-read; the old version is kept as history),
          or ``atoms=`` / ``scope=`` set directly.
        - preferences: ``text=``, ``confidence=``.
        - interests: ``weight=``.

        Raises:
            KeyError: No such item for this user.
            ValueError: Unknown kind or field, or an edit that does not parse.
        """
        check_user_id(user_id)
        if kind == "instructions":
            return self._edit_instruction(user_id, ref_id, changes).model_dump(mode="json")
        if kind == "preferences":
            bad = set(changes) - {"text", "confidence"}
            if bad:
                raise ValueError(f"cannot edit preference fields {sorted(bad)}")
            pref = next((p for p in self.store.preferences(user_id) if p.id == ref_id), None)
            if pref is None:
                raise KeyError(f"no preference {ref_id!r} for this user")
            pref = InferredPreference.model_validate({**pref.model_dump(), **changes, "updated_at": self.clock()})
            self.store.put_preference(user_id, pref)
            return pref.model_dump(mode="json")
        if kind == "interests":
            if set(changes) != {"weight"}:
                raise ValueError("interests can only change their weight")
            if not self.store.set_interest(user_id, ref_id, float(changes["weight"])):
                raise KeyError(f"no interest {ref_id!r} for this user")
            return next(i.model_dump(mode="json") for i, _ in self.store.interests(user_id) if i.entity == ref_id)
        raise ValueError(f"cannot edit kind {kind!r}")

    def _edit_instruction(self, user_id: str, ref_id: str, changes: dict[str, Any]) -> StandingInstruction:
        old = self.store.instruction(user_id, ref_id)
        if old is None:
            raise KeyError(f"no instruction {ref_id!r} for this user")
        bad = set(changes) - {"text", "atoms", "scope"}
        if bad:
            raise ValueError(f"cannot edit instruction fields {sorted(bad)}")
        now = self.clock()
        update: dict[str, Any] = {}
        if "text" in changes:
            ext = self.patterns.extract(changes["text"]) if self.llm is None else self.llm.extract(changes["text"])
            if ext.problem or ext.contradiction or len(ext.proposals) != 1:
                why = ext.problem or ext.contradiction or "it does not read as one standing instruction"
                raise ValueError(f"cannot use that text: {why}")
            p = ext.proposals[0]
            update.update(text=p.text, atoms=list(p.atoms), scope=p.scope, unresolved=list(p.unresolved))
        if "atoms" in changes:
            update["atoms"] = [Atom.model_validate(a) for a in changes["atoms"]]
        if "scope" in changes:
            s = changes["scope"]
            update["scope"] = None if s is None else Scope.model_validate(s)
        new = old.model_copy(update={**update, "id": _new_id("si"), "source": "user", "updated_at": now})
        new = StandingInstruction.model_validate(new.model_dump())
        vec = self._encode([new.scope.text if new.scope else new.text])[0]

        def plan(live: list[StandingInstruction]) -> tuple[list[StandingInstruction], dict[str, str], dict]:
            others = [s for s in live if s.id != old.id]
            res = resolve(new.atoms, new.scope_key, new.text, others)
            sup = {old.id: new.id, **{s.id: new.id for s in res.superseded}}
            derived = [
                StandingInstruction(
                    id=_new_id("si"), text=o.text, atoms=keep, scope=o.scope, derived_from=o.id, created_at=o.created_at
                )
                for o, keep in res.narrowed
            ]
            return [new, *derived], sup, {new.id: vec}

        self.store.update_instructions(user_id, plan)
        return new

    def put_instruction(
        self,
        user_id: str,
        instruction_id: str,
        text: str | None = None,
        atoms: list[Any] | None = None,
        scope: Any = None,
    ) -> StandingInstruction:
        """Create or replace an instruction under a caller-chosen id (the BaseStore adapter's write).

        With ``text`` only, the meaning is extracted; ``atoms``/``scope`` set it
        directly. Live instructions it contradicts are superseded.

        Raises:
            ValueError: Neither text nor atoms, or text that is not one instruction.
        """
        check_user_id(user_id)
        if not instruction_id or not isinstance(instruction_id, str):
            raise ValueError("instruction id must be a non-empty string")
        if text is None and atoms is None:
            raise ValueError("an instruction needs text or atoms")
        fields: dict[str, Any] = {"text": text or ""}
        if atoms is None:
            ext = self.propose(text)
            if ext.problem or ext.contradiction or len(ext.proposals) != 1:
                why = ext.problem or ext.contradiction or "it does not read as one standing instruction"
                raise ValueError(f"cannot use that text: {why}")
            p = ext.proposals[0]
            fields.update(text=p.text, atoms=list(p.atoms), scope=p.scope, unresolved=list(p.unresolved))
        else:
            fields["atoms"] = [Atom.model_validate(a) for a in atoms]
        if scope is not None:
            fields["scope"] = scope if isinstance(scope, Scope) else Scope.model_validate(scope)
        now = self.clock()
        si = StandingInstruction.model_validate({**fields, "id": instruction_id, "source": "user", "updated_at": now})
        vec = self._encode([si.scope.text if si.scope else si.text or "instruction"])[0]

        def plan(live: list[StandingInstruction]) -> tuple[list[StandingInstruction], dict[str, str], dict]:
            others = [s for s in live if s.id != instruction_id]
            res = resolve(si.atoms, si.scope_key, si.text, others)
            derived = [
                StandingInstruction(
                    id=_new_id("si"), text=o.text, atoms=keep, scope=o.scope, derived_from=o.id, created_at=o.created_at
                )
                for o, keep in res.narrowed
            ]
            return [si, *derived], {s.id: si.id for s in res.superseded}, {si.id: vec}

        self.store.update_instructions(user_id, plan)
        return si

    def put_preference(self, user_id: str, pref: InferredPreference) -> InferredPreference:
        """Create or replace a preference as given (its context is embedded for retrieval)."""
        check_user_id(user_id)
        vec = self._encode([pref.context or pref.text])[0]
        self.store.put_preference(user_id, pref, vec)
        return pref

    def delete(self, user_id: str, kind: str, ref_id: str) -> bool:
        """Delete one memory item (and its vector); True if it existed."""
        check_user_id(user_id)
        if kind == "instructions":
            return self.store.delete_instruction(user_id, ref_id)
        if kind == "preferences":
            return self.store.delete_preference(user_id, ref_id)
        if kind == "interests":
            return self.store.delete_interest(user_id, ref_id)
        if kind == "feedback":
            return self.store.delete_feedback(user_id, ref_id)
        raise ValueError(f"unknown memory kind {kind!r}; expected one of {KINDS}")

    def export(self, user_id: str) -> dict[str, Any]:
        """The user's whole memory as a JSON-ready dict (vectors left out: they are derived)."""
        data: dict[str, Any] = {
            "user_id": user_id,
            "exported_at": self.clock().isoformat(),
            "schema_version": SCHEMA_VERSION,
            "catalog": self.catalog.name,
        }
        data.update(self.list(user_id))
        data["store"] = [
            {"namespace": ns, "key": k, "value": v, "created_at": c, "updated_at": t}
            for _, ns, k, v, c, t in self.store.kv_list(user_id, "")
        ]
        data["events"] = self.store.events(user_id, limit=10_000)
        data["feedback_log"] = self.feedback_log.export(user_id)
        return data

    def forget(self, user_id: str) -> dict[str, int]:
        """Erase the user completely: rows in every table, cached vectors, interest graph."""
        check_user_id(user_id)
        with self._user_lock(user_id):
            counts = self.store.forget(user_id)
            self.vectors.drop_user(user_id)
        with self._locks_lock:
            self._user_locks.pop(user_id, None)
        log.info("forgot user (%d rows)", sum(counts.values()))
        return counts
