"""Asking whether a constraint said on its own is for every request or just this one.

"nothing before 1990" as the first thing in a conversation could be a standing rule or a
constraint of the request about to come; the reader cannot tell and a person would ask. The
agent asks once, applies the constraint to this search either way, and stores it as a rule
only when the user says it is for every request. A reply that does not answer leaves it at
this search.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from agent.remembering import store_lasting
from agent.turn import Remember

if TYPE_CHECKING:
    from memory.service import Memory

SCOPE = "scope"
ALWAYS, THIS_SEARCH = "always", "search"
OPTIONS = [[ALWAYS, "from now on"], [THIS_SEARCH, "just this search"]]

_ALWAYS = re.compile(
    r"^\W*(?:yes|yeah|yep|sure|please do|always|from now on|every ?time|for good|forever|permanently|"
    r"(?:for )?(?:all|every) (?:requests?|searches|recommendations?|time)|keep (?:it|that|to that))\b"
)
_THIS = re.compile(
    r"^\W*(?:no|nope|nah|just|only|this (?:one|time|search)|for now|today|tonight|not always|"
    r"any|anything|whatever|doesn'?t matter|don'?t care)\b"
)


def should_ask(turn_remember: list[Remember], state: dict[str, Any]) -> bool:
    """Ask about scope only before a search has started: later, a constraint refines that search."""
    return bool(turn_remember) and not state.get("query") and not state.get("shown")


def question(candidates: list[Remember]) -> dict[str, Any]:
    """The pending question, carrying what would be stored."""
    return {
        "attribute": SCOPE,
        "options": [list(o) for o in OPTIONS],
        "remember": [r.model_dump(mode="json") for r in candidates],
    }


def wording(pending: dict[str, Any]) -> str:
    """The question as asked, naming the constraint in the user's words."""
    said = "; ".join(r["text"] for r in pending.get("remember", []))
    return f'Should I keep to "{said}" from now on, or just for this search?'


def parse(folded: str) -> list[str]:
    """``[ALWAYS]``, ``[THIS_SEARCH]`` or nothing, from a casefolded reply to the scope question."""
    if _ALWAYS.search(folded):
        return [ALWAYS]
    if _THIS.search(folded):
        return [THIS_SEARCH]
    return []


def candidates(pending: dict[str, Any]) -> list[Remember]:
    """What the question would store."""
    return [Remember.model_validate(r) for r in pending.get("remember", [])]


def settle(memory: Memory, user: str, answer: list[str], pending: dict[str, Any]) -> dict[str, Any]:
    """The state update for an answer: store the rule on "from now on", else leave it at this search."""
    if answer != [ALWAYS]:
        return {"pending": None, "facts": ["OK, just for this search."]}
    facts, changes = store_lasting(memory, user, candidates(pending))
    return {"pending": None, "facts": facts, "memory_changes": changes}
