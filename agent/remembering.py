"""What a turn does to long-term memory: films liked or disliked, lasting rules and preferences, forgetting.

The understanding proposes (``Turn.films``, ``Turn.remember``); memory stores. Nothing here reads
the user's words again except the pattern baseline's instruction path, which memory reads itself.
"""

from __future__ import annotations

import re
from typing import Any

from agent.turn import Remember, Turn
from memory.instructions import Proposal
from memory.preferences import contradicts
from memory.schema import describe_atoms
from memory.service import Memory
from recsys.catalog import Catalog

_EVERYTHING = re.compile(r"\b(?:everything|all (?:my|of my) (?:data|memory)|me completely|all about me)\b")
_FORGET_STOP = frozenset(
    {"forget", "that", "said", "delete", "remove", "the", "rule", "about", "what", "never", "please"}
)


def record_films(memory: Memory, user: str, turn: Turn, catalog: Catalog) -> tuple[list[str], list[str], list[str]]:
    """Store the user's opinion of each film named: (memory changes, liked ids, disliked ids)."""
    changes, liked, disliked = [], [], []
    for film in turn.films:
        if film.opinion == "liked":
            memory.record_feedback(user, "like", film.item_id, context=turn.text)
            changes.append(f"liked {catalog.titles[film.item_id]}")
            liked.append(film.item_id)
        elif film.opinion == "disliked":
            memory.record_feedback(user, "dislike", film.item_id, context=turn.text)
            changes.append(f"didn't like {catalog.titles[film.item_id]}")
            disliked.append(film.item_id)
    return changes, liked, disliked


def store_lasting(memory: Memory, user: str, remember: list[Remember]) -> tuple[list[str], list[str]]:
    """Store what a message says lastingly: (sentences for the reply, memory changes).

    A rule, or a preference limited to a situation, becomes a standing instruction (the user sees
    and edits it); an unscoped preference becomes an inferred preference (soft, CIPHER-style),
    except its liking or dislike of a person or other entity, which becomes a soft standing
    instruction: an inferred preference applies by the similarity of its context to the request
    and an interest is diluted by every film liked later, so "I really like an actor in Fargo"
    faded by the third session (persona runs); a soft instruction keeps steering, is listed with
    the user's rules and is forgotten on request.
    """
    facts: list[str] = []
    changes: list[str] = []

    def keep_rule(proposal: Proposal) -> None:
        result = memory.remember_rules(user, [proposal])
        changes.extend([f"new rule: {s.text}" for s in result.stored])
        changes.extend([f"replaced rule: {s.text}" for s in result.superseded])
        if result.message:
            facts.append(result.message)

    for r in remember:
        soft = r.kind != "rule" and r.scope is None
        people = [a for a in r.atoms if a.field == "entity"] if soft else []
        if people:
            keep_rule(Proposal(text=r.text, atoms=tuple(people), scope=None))
            r = r.model_copy(update={"atoms": [a for a in r.atoms if a.field != "entity"]})
            if not r.atoms and not r.unresolved:
                continue
        if not soft:
            keep_rule(Proposal(text=r.text, atoms=tuple(r.atoms), scope=r.scope, unresolved=tuple(r.unresolved)))
        else:
            stated = memory.remember_stated(user, r.atoms, r.text)
            changes += [f"learned: {p.text}" for p in stated.preferences]
            changes += [f"interest: {t}" for t in stated.interests]
            if stated.phrases:  # memory's own phrasing ("likes Western films"), as its panel shows them
                facts.append("Noted: " + "; ".join(stated.phrases) + ".")
            if r.unresolved:
                facts.append(f"I couldn't find {', '.join(r.unresolved)} in this catalog, so I can't use that part.")
    return facts, changes


def remember_instruction_text(memory: Memory, user: str, turn: Turn) -> tuple[list[str], list[str], list[Any]]:
    """The pattern baseline's path: memory reads the instruction from the words itself."""
    result = memory.remember_utterance(user, turn.text)
    changes = [f"new rule: {s.text}" for s in result.stored] + [f"replaced rule: {s.text}" for s in result.superseded]
    facts = [result.message] if result.message else [f"Got it: {describe_atoms(turn.atoms)}."]
    return facts, changes, list(result.request_atoms)


def forget(memory: Memory, user: str, turn: Turn, reset: dict[str, Any]) -> dict[str, Any]:
    """Delete the standing instructions the message points at ("forget that I said no horror"), or everything."""
    if _EVERYTHING.search(turn.text.casefold()):
        memory.forget(user)
        return {
            "facts": ["Done: I have forgotten everything I knew about you."],
            "memory_changes": ["forgot everything"],
            **reset,
        }
    live = memory.instructions(user)
    wanted = {(a.field, a.value.casefold()) for a in turn.atoms}
    wanted |= {(a.field, a.value.casefold()) for r in turn.remember for a in r.atoms}
    words = set(re.findall(r"[a-z']{3,}", turn.text.casefold())) - _FORGET_STOP
    hits = []
    for si in live:
        keys = {(a.field, a.value.casefold()) for a in si.atoms}
        if (wanted and keys & wanted) or (
            not wanted and words and words <= set(re.findall(r"[a-z']{3,}", si.text.casefold()))
        ):
            hits.append(si)
    if not hits:
        rules = "; ".join(f'"{si.text}"' for si in live) or "none"
        return {"facts": [f"I couldn't tell which rule to forget. Your rules: {rules}."]}
    for si in hits:
        memory.delete(user, "instructions", si.id)
    return {
        "facts": [f'Done: I forgot "{si.text}".' for si in hits],
        "memory_changes": [f"removed rule: {si.text}" for si in hits],
    }


def summary(memory: Memory, user: str) -> list[str]:
    """What memory holds about the user, in a few sentences."""
    rules = [si.text for si in memory.instructions(user)]
    # Unnamed KG entities read alike ("the writer of Heat" for each of its writers): each said once.
    interests = list(dict.fromkeys(i.name or i.entity for i in memory.top_interests(user, k=5)))
    # Of two contradicting preferences ("enjoys Thriller films", "is not keen on Thriller films") the
    # stronger is what memory acts on (``memory.preferences.aggregate``), so only it is said.
    held = memory.preferences(user)
    prefs = list(
        dict.fromkeys(
            p.text
            for p in held
            if not any(
                contradicts(p.key, q.key) and (q.confidence, q.evidence) > (p.confidence, p.evidence) for q in held
            )
        )
    )[:5]
    facts = [f"Your rules: {'; '.join(rules)}." if rules else "You have no standing rules."]
    if interests:
        facts.append(f"You seem to like: {', '.join(interests)}.")
    if prefs:
        facts.append(f"I've learned: {'; '.join(prefs)}.")
    return facts
