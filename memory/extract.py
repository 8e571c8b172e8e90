"""LLM extraction of standing instructions (used when a capable backend is configured).

The model proposes; the catalog validates (genres, titles and names are resolved
here, never trusted as ids); the store applies. ``user_id`` never comes from
model output. Any failure falls back to the pattern extractor.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from memory.instructions import Extraction, PatternExtractor, Proposal, clean
from memory.schema import Atom, Scope

log = logging.getLogger(__name__)


class Complete(Protocol):
    """A text-completion backend: prompt in, text out (the agent passes its LLM)."""

    def __call__(self, prompt: str) -> str:
        """Complete the prompt."""
        ...


EXTRACTION_PROMPT = """You read one message a user sent to a movie recommender and find STANDING instructions:
rules meant for all future recommendations (or for a stated situation), not one-off requests for tonight.

Return JSON only: {{"instructions": [{{"words": "...", "scope": null or "the condition in the user's words",
"rules": [{{"op": "exclude|only|allow|prefer|avoid", "kind": "genre|person|title|year_min|year_max|years",
"value": "..."}}]}}], "one_off": true|false}}
- exclude/only = hard rules; prefer/avoid = soft likes and dislikes; allow = lifts an earlier rule.
- genre values must be one of: {genres}.
- year_min/year_max values are years; "years" values are "lo-hi" ranges to exclude.
- person and title values are names exactly as the user wrote them.
- A message that is only a request ("something funny tonight?") has no instructions and "one_off": true.

Message: {text}
JSON:"""


class _Rule(BaseModel):
    model_config = ConfigDict(extra="ignore")
    op: Literal["exclude", "only", "allow", "prefer", "avoid"] = "exclude"
    kind: Literal["genre", "person", "title", "year_min", "year_max", "years"]
    value: str | int


class _Instruction(BaseModel):
    model_config = ConfigDict(extra="ignore")
    words: str = ""
    scope: str | None = None
    rules: list[_Rule] = []


class _Output(BaseModel):
    model_config = ConfigDict(extra="ignore")
    instructions: list[_Instruction] = []
    one_off: bool = False


class LLMExtractor:
    """Extraction through an LLM, validated against the catalog.

    Args:
        complete: The backend.
        patterns: The pattern extractor (resolver, scope keys, fallback).
    """

    def __init__(self, complete: Complete, patterns: PatternExtractor) -> None:
        self.complete = complete
        self.patterns = patterns

    def extract(self, text: object) -> Extraction:
        """Extract with the LLM; on any failure, with patterns."""
        clean_text, problem = clean(text)
        if problem:
            return Extraction(problem=problem)
        genres = ", ".join(sorted(self.patterns.resolver.catalog.genres.values()))
        try:
            raw = self.complete(EXTRACTION_PROMPT.format(genres=genres, text=clean_text))
            match = re.search(r"\{.*\}", raw, re.S)
            if match is None:
                raise ValueError("no JSON object in the reply")
            output = _Output.model_validate(json.loads(match.group()))
        except (ValueError, ValidationError, TypeError) as err:
            log.warning("LLM extraction failed (%s); using patterns", err)
            return self.patterns.extract(clean_text)
        except Exception as err:  # noqa: BLE001 - any backend error falls back
            log.warning("LLM backend error (%s); using patterns", err)
            return self.patterns.extract(clean_text)
        proposals = []
        for ins in output.instructions:
            atoms, unresolved = self._atoms(ins.rules)
            scope = None
            if ins.scope:
                key = self.patterns._scope_key(ins.scope) or "other"
                scope = Scope(key=key, text=ins.scope[:200])
            proposals.append(Proposal((ins.words or clean_text)[:500], tuple(atoms), scope, tuple(unresolved)))
        contradiction = self.patterns._self_contradiction(proposals)
        if contradiction:
            return Extraction(contradiction=contradiction)
        return Extraction(tuple(proposals))

    def _atoms(self, rules: list[_Rule]) -> tuple[list[Atom], list[str]]:
        resolver = self.patterns.resolver
        atoms: list[Atom] = []
        unresolved: list[str] = []
        for rule in rules:
            value = str(rule.value).strip()
            if rule.kind in ("year_min", "year_max"):
                if re.fullmatch(r"1[89]\d\d|20\d\d", value):
                    atoms.append(Atom(op=rule.kind, field="year", value=value))
                continue
            if rule.kind == "years":
                if re.fullmatch(r"\d{4}-\d{4}", value):
                    atoms.append(Atom(op="exclude_years", field="year", value=value))
                continue
            if rule.kind == "genre":
                genre = resolver.genre(value)
                if genre:
                    atoms.append(Atom(op=rule.op, field="genre", value=genre, label=genre))
                    continue
            elif rule.kind == "title":
                item_id = resolver.title(value)
                if item_id:
                    atoms.append(Atom(op=rule.op, field="item", value=item_id, label=resolver.catalog.titles[item_id]))
                    continue
            elif rule.kind == "person":
                people = [m for m in resolver.people(value) if m.kind == "entity"]
                if len(people) == 1:
                    atoms.append(Atom(op=rule.op, field="entity", value=people[0].value, label=people[0].label))
                    continue
            unresolved.append(value)
            atoms.append(Atom(op=rule.op, field="unknown", value=value.casefold(), label=value))
        return atoms, unresolved
