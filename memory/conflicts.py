"""Conflict resolution: a later instruction supersedes what it contradicts; two contradictory rules are never live.

Only instructions with the same scope can contradict each other (a rule for
evenings with the kids does not contradict a global one). Resolution is a plan
(``Resolution``); the store applies it in one transaction.

One exception, for what the agent hears in conversation: a soft remark does not lift a hard
rule (``held_by_rules``). "I really like an actor in Twister" names every actor of that film, and
one of them may be the actor the user asked never to see; the rule stays until the user lifts it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from memory.schema import Atom, StandingInstruction, describe_atoms


def conflicts(new: Atom, old: Atom) -> bool:
    """True when two atoms (same scope) cannot both hold; identical atoms do not conflict."""
    if new.key == old.key:
        return False
    if new.field == "year" and old.field == "year":
        ops = {new.op, old.op}
        if new.op == old.op and new.op in ("year_min", "year_max", "exclude_years"):
            return True
        if ops == {"year_min", "year_max"}:
            lo = int(new.value if new.op == "year_min" else old.value)
            hi = int(new.value if new.op == "year_max" else old.value)
            return lo > hi
        if "allow" in ops:
            other = old if new.op == "allow" else new
            lift = new if new.op == "allow" else old
            bound = {"min": ("year_min", "exclude_years"), "max": ("year_max", "exclude_years")}.get(lift.value, ())
            return other.op in bound or other.op in ("prefer", "avoid")
        return ops <= {"prefer", "avoid"}
    return new.field == old.field and new.value == old.value and new.op != old.op


HARD_OPS = frozenset({"exclude", "only", "year_min", "year_max", "exclude_years"})
SOFT_OPS = frozenset({"prefer", "avoid"})
# A soft atom that says what a hard rule already enforces ("would rather avoid X" under "never X").
_AGREES = {("avoid", "exclude"), ("prefer", "only")}


@dataclass
class Held:
    """Soft atoms of a new instruction that a live hard rule of the same scope contradicts.

    Attributes:
        rule: The live rule that stays.
        atoms: The new atoms not stored because of it.
        covered: True when the rule already says what the atoms say ("would rather avoid X" under
            "never X"); False when they oppose it ("prefers X" under "never X").
    """

    rule: StandingInstruction
    atoms: list[Atom]
    covered: bool


def held_by_rules(new_atoms: list[Atom], new_scope_key: str, live: list[StandingInstruction]) -> list[Held]:
    """The new soft atoms that live hard rules of the same scope hold back, grouped by rule."""
    out: dict[str, Held] = {}
    for n in new_atoms:
        if n.op not in SOFT_OPS:
            continue
        for old in live:
            if old.scope_key != new_scope_key:
                continue
            hard = next((a for a in old.atoms if a.op in HARD_OPS and conflicts(n, a)), None)
            if hard is None:
                continue
            held = out.setdefault(old.id, Held(rule=old, atoms=[], covered=True))
            held.atoms.append(n)
            held.covered = held.covered and (n.op, hard.op) in _AGREES
            break
    return list(out.values())


def _only_set(instruction_atoms: list[Atom] | tuple[Atom, ...], field_: str) -> frozenset[str]:
    return frozenset(a.value for a in instruction_atoms if a.op == "only" and a.field == field_)


@dataclass
class Resolution:
    """What storing a new instruction does to the live ones.

    Attributes:
        duplicate_of: A live instruction that already says everything the new one says.
        superseded: Live instructions the new one replaces (wholly or in part).
        narrowed: For a partly replaced instruction: (old, atoms that stay live).
        reasons: One line per superseded instruction.
    """

    duplicate_of: StandingInstruction | None = None
    superseded: list[StandingInstruction] = field(default_factory=list)
    narrowed: list[tuple[StandingInstruction, list[Atom]]] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


def resolve(new_atoms: list[Atom], new_scope_key: str, new_text: str, live: list[StandingInstruction]) -> Resolution:
    """Plan how a new instruction changes the live set.

    Args:
        new_atoms: Atoms of the new instruction.
        new_scope_key: Its scope key ("" for global).
        new_text: Its words (soft rules with the same words are duplicates).
        live: The user's active instructions.
    """
    out = Resolution()
    new_keys = {a.key for a in new_atoms}
    for old in live:
        if old.scope_key != new_scope_key:
            continue
        old_keys = {a.key for a in old.atoms}
        if not new_atoms:
            if not old.atoms and old.text.strip().casefold() == new_text.strip().casefold():
                out.duplicate_of = old
            continue
        if new_keys and new_keys <= old_keys and len(new_keys) == len(old_keys):
            out.duplicate_of = old
            continue
        drop: list[Atom] = []
        for a in old.atoms:
            if a.key in new_keys or any(conflicts(n, a) for n in new_atoms):
                drop.append(a)
        for field_ in ("genre", "entity", "item"):
            new_only, old_only = _only_set(new_atoms, field_), _only_set(old.atoms, field_)
            if new_only and old_only and new_only != old_only:
                drop += [a for a in old.atoms if a.op == "only" and a.field == field_ and a not in drop]
        if not drop:
            continue
        keep = [a for a in old.atoms if a not in drop]
        out.superseded.append(old)
        if keep:
            out.narrowed.append((old, keep))
        gone = describe_atoms(drop)
        out.reasons.append(f"'{old.text}' replaced ({gone})" + (" - the rest stays" if keep else ""))
    return out


def live_contradictions(live: list[StandingInstruction]) -> list[tuple[str, str]]:
    """Pairs of live instruction ids that contradict each other (should always be empty)."""
    pairs = []
    for i, a in enumerate(live):
        for b in live[i + 1 :]:
            if a.scope_key != b.scope_key:
                continue
            if any(conflicts(x, y) for x in a.atoms for y in b.atoms):
                pairs.append((a.id, b.id))
    return pairs
