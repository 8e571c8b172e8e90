"""Which standing instructions apply to a request, and why.

Global rules always apply. A scoped rule applies when the request is in its
situation: by the situation lexicon ("with my daughter" is ``kids``), or, for
situations the lexicon does not know, by embedding similarity between the
scope's words and the request. A scoped rule never applies when the request
says its situation is absent ("the kids are asleep").
"""

from __future__ import annotations

from dataclasses import dataclass

from memory.instructions import COMPANION_SITUATIONS, scope_keys, situation_absent
from memory.resolve import Resolver
from memory.schema import AppliedInstruction, Atom, StandingInstruction


@dataclass(frozen=True, kw_only=True)
class SelectionConfig:
    """Selection thresholds.

    Attributes:
        scope_similarity: Cosine similarity between a scope's words and the request
            above which a scope the lexicon cannot match still applies.
    """

    scope_similarity: float = 0.62

    def __post_init__(self) -> None:
        assert -1.0 <= self.scope_similarity <= 1.0, f"scope_similarity {self.scope_similarity} is not a cosine"


def select(
    instructions: list[StandingInstruction],
    request: str,
    resolver: Resolver,
    scope_similarity: dict[str, float] | None = None,
    config: SelectionConfig | None = None,
) -> list[AppliedInstruction]:
    """The applicable subset of live instructions, each with its reason.

    Args:
        instructions: The user's live instructions.
        request: The request text.
        resolver: Catalog lookups (genre scopes).
        scope_similarity: Instruction id -> cosine(scope words, request), for scopes
            the lexicon cannot decide; missing ids are treated as dissimilar.
        config: Thresholds.
    """
    config = config or SelectionConfig()
    keys = scope_keys(request, resolver)
    request_genres = {k.split(":", 1)[1] for k in keys if k.startswith("genre:")}
    sims = scope_similarity or {}
    out: list[AppliedInstruction] = []
    for si in instructions:
        if si.status != "active":
            continue
        reason: str | None = None
        if si.scope is None:
            reason = "applies to every request"
        elif si.scope.key in keys:
            reason = f"request mentions '{keys[si.scope.key]}' (situation: {si.scope.text})"
        elif situation_absent(si.scope.key, request):
            reason = None
        elif si.scope.key in COMPANION_SITUATIONS and any(k in keys for k in COMPANION_SITUATIONS):
            reason = None  # the request names a different companion situation
        elif sims.get(si.id, -1.0) >= config.scope_similarity:
            reason = f"request resembles '{si.scope.text}' (similarity {sims[si.id]:.2f})"
        if reason is None:
            continue
        clash = any(a.op == "exclude" and a.field == "genre" and a.value in request_genres for a in si.atoms)
        out.append(AppliedInstruction(instruction=si, reason=reason, conflicts_with_request=clash))
    return _specific_overrides(out)


def _specific_overrides(applied: list[AppliedInstruction]) -> list[AppliedInstruction]:
    """A scoped rule that allows something overrides a global rule that forbids it, for this request."""
    allowed: dict[tuple[str, str], str] = {}
    for a in applied:
        if a.instruction.scope is not None:
            for atom in a.instruction.atoms:
                if atom.op in ("allow", "only", "prefer") and atom.field != "year":
                    allowed[(atom.field, atom.value)] = a.instruction.scope.text
    if not allowed:
        return applied
    out = []
    for a in applied:
        si = a.instruction
        if si.scope is None:
            overridden = [x for x in si.atoms if x.op == "exclude" and (x.field, x.value) in allowed]
            if overridden:
                keep = [x for x in si.atoms if x not in overridden]
                note = "; ".join(f"{x.label or x.value} allowed {allowed[(x.field, x.value)]}" for x in overridden)
                if not keep:
                    continue
                si = si.model_copy(update={"atoms": keep})
                a = AppliedInstruction(instruction=si, reason=f"{a.reason} (except: {note})")
        out.append(a)
    return out


def effective_atoms(applied: list[AppliedInstruction]) -> list[Atom]:
    """All atoms of the applied instructions (after overrides)."""
    return [atom for a in applied for atom in a.instruction.atoms]
