"""This conversation's search: what a request, an answer or a critique does to it, and rule conflicts.

A search is constraint groups (ANDed; atoms inside a group are ORed where they ask for values),
soft genre weights, an era lean and the request's text. Standing rules come from memory and
always win: a search that asks for what a rule forbids loses that part, and the reply says so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from agent.turn import Turn
from memory.schema import Atom, StandingInstruction

_NEWER = re.compile(r"\b(?:too old|newer|more recent|recent|modern)\b")
_OLDER = re.compile(r"\b(?:too (?:new|recent)|older|classic)\b")
_LIGHTER = re.compile(
    r"\b(?:too (?:dark|violent|scary|sad|serious|intense)|lighter|less (?:violent|violence|dark|scary|serious)|happier|funnier)\b"
)
_HEAVY_GENRES = ("Horror", "Thriller", "Crime", "War", "Film-Noir")
_LIGHT_GENRES = ("Comedy", "Romance", "Animation", "Children's", "Musical")

SESSION_RESET: dict[str, Any] = {
    "search": [],
    "wanted": [],
    "mood_genres": [],
    "genre_weights": {},
    "era": None,
    "query": "",
    "asked": [],
    "questions": 0,
    "no_questions": False,
    "pending": None,
    "shown": [],
    "rejected": [],
    "accepted": [],
    "rejected_lists": 0,
    "mentioned": [],
    "discussed": [],
}


def labels(atoms: list[Atom]) -> list[str]:
    """What the user asked for, as reasons name it: genres and entities, and a decade ("1990s")."""
    out = [a.label or a.value for a in atoms if a.op == "only"]
    lo = [int(a.value) for a in atoms if a.op == "year_min"]
    hi = [int(a.value) for a in atoms if a.op == "year_max"]
    if lo and hi and max(lo) % 10 == 0 and min(hi) == max(lo) + 9:
        out.append(f"{max(lo)}s")
    return out


def new_search(turn: Turn, keep_atoms: bool) -> dict[str, Any]:
    """Start a new search from a request: its constraints, soft genre weights, era and text."""
    atoms = [a for a in turn.atoms if a.is_hard] if keep_atoms else []
    weights = dict(turn.genre_weights) or {g: 1.0 for g in turn.mood_genres}
    # What the request already fixes is not asked again ("a comedy" or "something funny" -> no genre question).
    known = (
        ["genre"]
        if any(a.field == "genre" and a.op == "only" for a in atoms) or any(w >= 0.5 for w in weights.values())
        else []
    )
    known += ["decade"] if any(a.field == "year" for a in atoms) else []
    return {
        "search": [[a.model_dump(mode="json") for a in atoms]] if atoms else [],
        "wanted": labels(atoms),
        "mood_genres": [g for g, w in weights.items() if w > 0],
        "genre_weights": weights,
        "era": turn.era,
        "query": turn.text,
        "asked": known,
        "questions": 0,
        "no_questions": turn.just_recommend,
        "pending": None,
        "rejected_lists": 0,
    }


def search_weights(state: Mapping[str, Any]) -> dict[str, float]:
    """The search's soft genre weights (a copy; moods of an older state count 1 each)."""
    return dict(state.get("genre_weights") or {g: 1.0 for g in state.get("mood_genres", [])})


def keep_search(state: dict[str, Any], turn: Turn, rejected: list[str]) -> dict[str, Any]:
    """Go on with the search at hand after a message that adds nothing to it.

    "show me more" or "any others?" after a list asks for other films than those shown
    (``rejected`` is this turn's list of films left out). A question left unanswered was not
    turned down: its values may be offered again.
    """
    pending = state.get("pending") or {}
    unanswered = {f"{pending.get('attribute')}={value}" for value, _ in pending.get("options", [])}
    seen = [i for i in state.get("shown", []) if i not in rejected] if turn.wants_others else []
    return {
        "rejected": rejected + seen,
        "asked": [k for k in state.get("asked", []) if k not in unanswered],
        "pending": None,
        "no_questions": state.get("no_questions", False) or turn.just_recommend,
    }


def narrow_search(state: dict[str, Any], turn: Turn, atoms: list[Atom]) -> dict[str, Any]:
    """Rule something out of the search at hand ("no romance please" after a list) instead of starting anew."""
    weights = search_weights(state)
    for g, w in turn.genre_weights.items():
        weights[g] = weights.get(g, 0.0) + w
    return {
        "search": list(state.get("search", [])) + [[a.model_dump(mode="json") for a in atoms]],
        "genre_weights": weights,
        "mood_genres": [g for g, w in weights.items() if w > 0],
        "pending": None,
    }


def only_narrows(turn: Turn, added: list[Atom], liked: bool) -> bool:
    """Whether a request only rules things out: nothing asked for, no mood, era or liked film."""
    return (
        bool(added)
        and all(a.op in ("exclude", "exclude_years") for a in added)
        and not (any(w > 0 for w in turn.genre_weights.values()) or turn.mood_genres or liked or turn.era)
    )


def answer_update(state: dict[str, Any], turn: Turn, record: Any) -> dict[str, Any]:
    """Turn an answer into a constraint on this search (``record(value, liked)`` learns interests)."""
    pending = state.get("pending") or {}
    attribute = pending.get("attribute", "")
    options = {v: lab for v, lab in pending.get("options", [])}
    chosen = [v for v in turn.answer if v in options]
    atoms: list[Atom] = []
    if turn.answer == ["yes"] and len(options) == 1:
        chosen = list(options)
    if chosen:
        for value in chosen:
            record(value if attribute != "genre" else options[value], True)
        if attribute == "genre":
            atoms = [Atom(op="only", field="genre", value=v, label=options[v]) for v in chosen]
        elif attribute == "decade":
            starts = sorted(int(v[:4]) for v in chosen)
            atoms = [
                Atom(op="year_min", field="year", value=str(starts[0])),
                Atom(op="year_max", field="year", value=str(starts[-1] + 9)),
            ]
        else:
            atoms = [Atom(op="only", field="entity", value=v, label=options[v]) for v in chosen]
    elif turn.answer == ["no"] and len(options) == 1:
        (value,) = options
        if attribute == "genre":
            atoms = [Atom(op="exclude", field="genre", value=value, label=options[value])]
        elif attribute == "decade":
            atoms = [Atom(op="exclude_years", field="year", value=f"{value[:4]}-{int(value[:4]) + 9}")]
        else:
            atoms = [Atom(op="exclude", field="entity", value=value, label=options[value])]
    search = list(state.get("search", []))
    if atoms:
        search.append([a.model_dump(mode="json") for a in atoms])
    wanted = state.get("wanted", []) + [options[v] if attribute != "decade" else v for v in chosen]
    # A multiple-choice type is settled once the user picks from it or says any; after "no" it may
    # come back with other values.
    settled = [attribute] if len(options) > 1 and (chosen or turn.answer == ["any"]) else []
    return {"search": search, "wanted": wanted, "pending": None, "asked": state.get("asked", []) + settled}


def _replaces(new: Atom, old: Atom) -> bool:
    """Whether a critique's constraint takes the place of an earlier one ("from the 80s" after "the 1990s")."""
    if new.field == "year":
        return old.field == "year"
    return new.op == "only" and old.op == "only" and old.field == new.field


def critique_update(state: dict[str, Any], turn: Turn, years_of_shown: list[int]) -> dict[str, Any]:
    """A critique of the last list: drop the list and shift the search (newer, older, lighter).

    What the critique names outright ("from the 80s", "make it a comedy") replaces the search's
    constraint on the same thing; an exclusion ("no romance") is added to it.
    """
    folded = turn.text.casefold()
    named = [a for a in turn.atoms if a.is_hard]
    search, replaced = [], []
    for group in state.get("search", []):
        kept = []
        for atom in map(Atom.model_validate, group):
            (replaced if any(_replaces(n, atom) for n in named) else kept).append(atom)
        if kept:
            search.append([a.model_dump(mode="json") for a in kept])
    if named:
        search.append([a.model_dump(mode="json") for a in named])
    years = sorted(years_of_shown)
    relative = years and not any(a.field == "year" for a in named)  # named years need no shift from the list's
    if relative and _NEWER.search(folded):
        search.append(
            [Atom(op="year_min", field="year", value=str(years[len(years) // 2] + 1)).model_dump(mode="json")]
        )
    elif relative and _OLDER.search(folded):
        search.append(
            [Atom(op="year_max", field="year", value=str(years[len(years) // 2] - 1)).model_dump(mode="json")]
        )
    weights = search_weights(state)
    if _LIGHTER.search(folded):
        for g in _HEAVY_GENRES:
            weights[g] = min(weights.get(g, 0.0), 0.0) - 1.0
        for g in _LIGHT_GENRES:
            weights[g] = max(weights.get(g, 0.0), 0.0) + 1.0
    for g, w in turn.genre_weights.items():
        weights[g] = weights.get(g, 0.0) + w
    gone = set(labels(replaced))
    wanted = [w for w in state.get("wanted", []) if w not in gone] + labels(named)
    return {
        "search": search,
        "wanted": list(dict.fromkeys(wanted)),
        "genre_weights": weights,
        "mood_genres": [g for g, w in weights.items() if w > 0],
        "rejected": state.get("rejected", []) + state.get("shown", []),
        "pending": None,
    }


def honour_rules(
    groups: list[list[Atom]], rules: list[StandingInstruction], weights: dict[str, float] | None = None
) -> tuple[list[list[Atom]], list[str]]:
    """Drop the parts of a search that standing rules forbid; say what was dropped.

    An ``only`` value a rule excludes ("a horror film" under "never horror") leaves its group; a
    group left with nothing to ask for is dropped. A genre the search leans to by meaning
    ("something scary") that a rule excludes is named too. Returns the groups kept and one
    sentence per value left out.
    """
    excluded = {
        (a.field, a.value.casefold()): si.text for si in rules for a in si.atoms if a.op == "exclude" and a.is_hard
    }
    kept, notes = [], []
    for group in groups:
        clash = [a for a in group if a.op == "only" and (a.field, a.value.casefold()) in excluded]
        for a in clash:
            notes.append(
                f'Your rule "{excluded[(a.field, a.value.casefold())]}" rules out {a.label or a.value}, so I left it out.'
            )
        rest = [a for a in group if a not in clash]
        if clash and not any(a.op == "only" for a in rest):
            rest = [a for a in rest if a.op != "only"]
        if rest:
            kept.append(rest)
    for genre, w in (weights or {}).items():
        text = excluded.get(("genre", genre.casefold()))
        if w >= 0.5 and text is not None and not any(genre in n for n in notes):
            notes.append(f'Your rule "{text}" rules out {genre}, so I left it out.')
    return kept, notes
