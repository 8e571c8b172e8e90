"""Memory records: standing instructions, inferred preferences, interests, and what selection returns.

A standing instruction keeps the user's words and, where possible, a list of
``Atom`` s: the smallest units of meaning ("exclude genre Horror", "year_min 1980").
Atoms are what gets compiled into an ``ItemFilter``, compared for conflicts and
scored in the evaluation.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Op = Literal["exclude", "only", "allow", "prefer", "avoid", "year_min", "year_max", "exclude_years"]
Field_ = Literal["genre", "entity", "item", "year", "unknown"]
Status = Literal["active", "superseded"]
FeedbackKind = Literal["accept", "reject", "like", "dislike", "critique", "edit"]

HARD_OPS: frozenset[str] = frozenset({"exclude", "only", "year_min", "year_max", "exclude_years"})
"""Ops that compile into a hard filter (an item violating them is never shown)."""


def utcnow() -> datetime:
    """Timezone-aware now (all stored times are UTC)."""
    return datetime.now(UTC)


class Atom(BaseModel):
    """One unit of a standing instruction.

    Attributes:
        op: What the rule does: ``exclude``/``only`` (hard genre/entity/item rules),
            ``allow`` (lifts an earlier rule), ``prefer``/``avoid`` (soft, boosts only),
            ``year_min``/``year_max`` (hard year bounds), ``exclude_years`` (a hard
            excluded range "lo-hi").
        field: What the value refers to. ``unknown`` marks a name that could not be
            resolved in the catalog (kept, never compiled).
        value: Genre as the catalog spells it, entity id, item id, a year, a
            ``"lo-hi"`` range, ``"min"``/``"max"`` for year lifts, or the unresolved words.
        label: How to show the value to the user ("Tom Cruise", "the director of Alien").
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    op: Op
    field: Field_
    value: str
    label: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        """(op, field, value): identity used for comparison and evaluation."""
        return (self.op, self.field, self.value)

    @property
    def is_hard(self) -> bool:
        """True when the atom compiles into a filter."""
        return self.op in HARD_OPS and self.field != "unknown"

    def describe(self) -> str:
        """A short human reading of the atom."""
        what = self.label or self.value
        return {
            "exclude": f"never {what}",
            "only": f"only {what}",
            "allow": f"{what} allowed again" if self.field != "year" else f"no {self.value} year limit",
            "prefer": f"prefers {what}",
            "avoid": f"would rather avoid {what}",
            "year_min": f"nothing before {self.value}",
            "year_max": f"nothing after {self.value}",
            "exclude_years": f"nothing from {self.value}",
        }[self.op]


def describe_atoms(atoms: Iterable[Atom], sep: str = "; ") -> str:
    """The atoms' readings joined, each said once: every actor of a film shares one label ("an actor in Heat")."""
    return sep.join(dict.fromkeys(a.describe() for a in atoms))


class Scope(BaseModel):
    """When an instruction applies.

    Attributes:
        key: Canonical condition (``kids``, ``partner``, ``genre:Comedy``...) or
            ``other`` for a condition known only by its words.
        text: The user's words for the condition ("when I watch with my kids").
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    text: str


class StandingInstruction(BaseModel):
    """A rule the user stated once; it always wins over inferences.

    Attributes:
        id: Stable id (``si_<hex>``).
        text: The user's words, unchanged.
        atoms: Structured meaning; empty for a soft, free-text rule.
        scope: Condition under which it applies; None means always.
        status: ``active`` or ``superseded`` (history is kept).
        superseded_by: Id of the instruction that replaced it.
        derived_from: Id of the instruction this one narrows (after a partial conflict).
        unresolved: Names the catalog does not know, quoted for the user.
        source: ``pattern`` or ``llm`` (how it was extracted) or ``user`` (edited by hand).
        created_at: When it was stated.
        updated_at: Last change.
    """

    model_config = ConfigDict(extra="forbid")

    id: str
    text: str
    atoms: list[Atom] = Field(default_factory=list)
    scope: Scope | None = None
    status: Status = "active"
    superseded_by: str | None = None
    derived_from: str | None = None
    unresolved: list[str] = Field(default_factory=list)
    source: str = "pattern"
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    @property
    def compiled(self) -> bool:
        """True when at least one atom compiles into a hard filter."""
        return any(a.is_hard for a in self.atoms)

    @property
    def scope_key(self) -> str:
        """The scope key, or ``""`` for a global rule."""
        return self.scope.key if self.scope else ""


class InferredPreference(BaseModel):
    """A preference learned from feedback, critiques or edits (CIPHER-style).

    Attributes:
        id: Stable id (``ip_<hex>``).
        text: Short natural-language preference ("prefers newer films").
        key: Canonical key used for reinforcement/contradiction (``year:newer``).
        context: The request or situation it arose in.
        confidence: In [0, 1]; raised by reinforcement, lowered by time and contradiction.
        effect: Optional structured effect used for boosts (``{"genre:Comedy": 1.0}``).
        source_turn: Which feedback produced it (free text id from the caller).
        evidence: How many times it has been inferred.
        created_at: First inferred.
        updated_at: Last reinforced or weakened.
    """

    model_config = ConfigDict(extra="forbid")

    id: str
    text: str
    key: str
    context: str = ""
    confidence: float = Field(default=0.5, ge=0.0, le=1.0)
    effect: dict[str, float] = Field(default_factory=dict)
    source_turn: str | None = None
    evidence: int = 1
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Interest(BaseModel):
    """A weighted knowledge-graph edge user -> relation -> entity.

    Attributes:
        entity: KG entity id, or a pseudo-entity ``genre:<name>`` / ``decade:<1990>``.
        relation: How items reach it (``director``, ``genre``, ``decade``...).
        weight: Signed interest (negative = dislike), before time decay.
        name: Readable name (the source's own, or through its items).
        evidence: Number of updates.
        updated_at: Last update; decay is measured from here.
    """

    model_config = ConfigDict(extra="forbid")

    entity: str
    relation: str
    weight: float
    name: str = ""
    evidence: int = 1
    updated_at: datetime = Field(default_factory=utcnow)


class FeedbackEvent(BaseModel):
    """One feedback signal as received (kept so memory can be explained and exported).

    Attributes:
        id: Stable id (``fb_<hex>``).
        kind: accept, reject, like, dislike, critique or edit.
        item_id: The item concerned, if any.
        context: The request it answered.
        text: Critique text, or the user's edited version for ``edit``.
        original: The agent's text for ``edit``.
        created_at: When received.
    """

    model_config = ConfigDict(extra="forbid")

    id: str
    kind: FeedbackKind
    item_id: str | None = None
    context: str = ""
    text: str = ""
    original: str = ""
    created_at: datetime = Field(default_factory=utcnow)


class AppliedInstruction(BaseModel):
    """An instruction selected for a request, with the reason it applies.

    Attributes:
        instruction: The instruction.
        reason: Why it applies ("applies to every request", "request mentions kids").
        conflicts_with_request: True when the request asks for something the rule
            forbids (the rule still wins; the agent should say so).
    """

    model_config = ConfigDict(extra="forbid")

    instruction: StandingInstruction
    reason: str
    conflicts_with_request: bool = False


class RememberResult(BaseModel):
    """What ``Memory.remember_utterance`` did with one utterance. Nothing is hidden.

    Attributes:
        status: ``stored`` (new rule(s) live), ``duplicate`` (already known),
            ``not_instruction`` (a one-off request or chit-chat; nothing stored),
            ``contradictory`` (the message contradicts itself; nothing stored),
            ``held`` (soft remarks a live hard rule contradicts, such as a liking of an actor the user
            ruled out; the rule stays and nothing is stored),
            ``rejected`` (unusable input: empty, too long, binary).
        stored: Instructions now live.
        superseded: Instructions this utterance replaced (kept as history).
        unresolved: Names not found in the catalog.
        request_atoms: Constraints that apply to this request only (one-off).
        message: One sentence for the user.
    """

    model_config = ConfigDict(extra="forbid")

    status: Literal["stored", "duplicate", "not_instruction", "contradictory", "held", "rejected"]
    stored: list[StandingInstruction] = Field(default_factory=list)
    superseded: list[StandingInstruction] = Field(default_factory=list)
    unresolved: list[str] = Field(default_factory=list)
    request_atoms: list[Atom] = Field(default_factory=list)
    message: str = ""
