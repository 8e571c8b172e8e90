"""An LLM reads the message into the same structure, through JSON-schema structured output.

``LLMUnderstander`` asks a capable backend (an OpenAI-compatible server, or a strong local
Hugging Face model) for an ``LLMReading``, validates it with pydantic, and turns it into the
``Analysis`` the learned reader's decisions consume, so both readers end in the same ``Turn``.
Any failure (unreachable server, invalid JSON, a schema violation) falls back to the learned
model for that message, and is logged.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.llm.base import ChatBackend, ChatMessage, GenerationConfig
from agent.understanding.analysis import Analysis
from agent.understanding.labels import ERAS, INTENTS, LASTING, OPINIONS, SITUATIONS
from agent.understanding.linker import Link
from agent.understanding.reader import LearnedUnderstander

log = logging.getLogger(__name__)

PROMPT = """You read one message a user sent to a film recommender and fill in what it means.
Catalog genres: {genres}.
The agent's last turn: {prev}.
Films named earlier in this conversation: {before}.

intent: request (asks for suggestions or says what to watch now), preference (describes general taste
without asking), feedback (reacts to named films), accept, reject, critique (change the last
suggestions), instruction (a rule for all future suggestions), explain (why was X suggested),
item_question (asks about a film), chitchat, out_of_domain (not about films/TV), forget, show_memory, reset.
lasting: none, preference (a lasting taste), rule (must always/never be shown; strong unhedged aversion;
"I only watch X").
genres_wanted / genres_unwanted: catalog genres asked for or liked / ruled out or disliked, also through
moods ("nothing scary" -> Horror unwanted). era: none, older, newer.
films: every film named, with the exact words used (surface), title, year if written, and the user's opinion.
people: actors or directors named.
pointed_opinion: the user's opinion of the films they point at in the last list ("the first one"), if any.

Message: {message}"""


class ReadFilm(BaseModel):
    """A film the LLM found."""

    model_config = ConfigDict(extra="forbid")

    surface: str
    title: str
    year: int | None
    opinion: Literal["liked", "disliked", "neutral"]


class ReadPerson(BaseModel):
    """A person the LLM found."""

    model_config = ConfigDict(extra="forbid")

    surface: str
    opinion: Literal["liked", "disliked", "neutral"]


class LLMReading(BaseModel):
    """What the LLM must return (its JSON schema is sent to the server)."""

    model_config = ConfigDict(extra="forbid")

    intent: Literal[INTENTS]  # type: ignore[valid-type]
    lasting: Literal[LASTING]  # type: ignore[valid-type]
    situation: Literal[SITUATIONS]  # type: ignore[valid-type]
    genres_wanted: list[str] = Field(default_factory=list)
    genres_unwanted: list[str] = Field(default_factory=list)
    era: Literal[ERAS]  # type: ignore[valid-type]
    films: list[ReadFilm] = Field(default_factory=list)
    people: list[ReadPerson] = Field(default_factory=list)
    pointed_opinion: Literal["liked", "disliked", "neutral"] = "neutral"


def _strict(schema: dict) -> dict:
    """OpenAI's strict mode: every property required, no extra properties, inline definitions."""
    defs = schema.pop("$defs", {})

    def fix(node: object) -> object:
        if isinstance(node, dict):
            if "$ref" in node:
                return fix(dict(defs[node["$ref"].split("/")[-1]]))
            node = {k: fix(v) for k, v in node.items() if k not in ("default", "title")}
            if node.get("type") == "object":
                node["required"] = list(node.get("properties", {}))
                node["additionalProperties"] = False
            return node
        if isinstance(node, list):
            return [fix(v) for v in node]
        return node

    return fix(schema)  # type: ignore[return-value]


class LLMUnderstander(LearnedUnderstander):
    """The learned reader's decisions over an LLM's reading (the learned model reads when the LLM fails).

    Args:
        backend: A capable chat backend.
        *args: ``LearnedUnderstander``'s arguments (its model is the fallback).
        max_new_tokens: Token budget of the JSON reply.
        **kwargs: ``LearnedUnderstander``'s keyword arguments.
    """

    def __init__(self, backend: ChatBackend, *args: object, max_new_tokens: int = 400, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.backend = backend
        self.generation = GenerationConfig(max_new_tokens=max_new_tokens)
        self.fallbacks = 0

    @cached_property
    def schema(self) -> dict:
        """The JSON schema sent with each request, genres limited to the catalog's."""
        schema = _strict(LLMReading.model_json_schema())
        genre_list = {"type": "array", "items": {"type": "string", "enum": self.genre_names}}
        schema["properties"]["genres_wanted"] = genre_list
        schema["properties"]["genres_unwanted"] = genre_list
        return schema

    def reading(self, text: str, prev: str, said_before: Sequence[str]) -> LLMReading:
        """Ask the backend; raises on any failure (unreachable, not JSON, schema violation)."""
        before = ", ".join(self.catalog.titles[i] for i in said_before if i in self.catalog.titles) or "none"
        prompt = PROMPT.format(genres=", ".join(self.genre_names), prev=prev, before=before, message=text[:2000])
        raw = self.backend.generate_json(
            [ChatMessage(role="user", content=prompt)], self.schema, "turn", self.generation
        )
        start, end = raw.find("{"), raw.rfind("}")
        reading = LLMReading.model_validate_json(raw[start : end + 1] if start >= 0 else raw)
        unknown = [g for g in reading.genres_wanted + reading.genres_unwanted if g not in self.genre_names]
        if unknown:
            raise ValueError(f"genres not in the catalog: {unknown}")
        return reading

    def analyse(
        self,
        text: str,
        prev: str = "none",
        said_before: Sequence[str] = (),
        extra: Sequence[tuple[int, int]] = (),
    ) -> Analysis:
        """The LLM's reading as an ``Analysis``; the learned model's when the LLM fails."""
        try:
            reading = self.reading(text, prev, said_before)
        except (ValidationError, ValueError, RuntimeError, json.JSONDecodeError) as exc:
            self.fallbacks += 1
            log.warning(
                "LLM understanding failed (%s: %s); the learned model reads this message", type(exc).__name__, exc
            )
            return super().analyse(text, prev, said_before, extra)
        return self._as_analysis(text, reading, extra)

    @staticmethod
    def _span_opinion(
        start: int, end: int, persons: list[tuple[int, int, dict[str, float]]], reading: LLMReading
    ) -> dict[str, float]:
        """A person the LLM named over the span gives its opinion; otherwise the opinion of what was pointed at."""
        for s, e, opinion in persons:
            if s < end and start < e:
                return opinion
        return {v: float(v == reading.pointed_opinion) for v in OPINIONS}

    def _as_analysis(self, text: str, reading: LLMReading, extra: Sequence[tuple[int, int]] = ()) -> Analysis:
        def one_hot(values: tuple[str, ...], chosen: str) -> dict[str, float]:
            return {v: float(v == chosen) for v in values}

        links: list[Link] = []
        opinions: list[dict[str, float]] = []
        taken: list[tuple[int, int]] = []
        outside: list[tuple[int, int, float]] = []  # films the catalog does not hold (``Turn.unknown_titles``)
        for film in reading.films:
            start = text.find(film.surface) if film.surface else -1
            if start < 0:
                start = text.casefold().find(film.title.casefold())
            if start < 0:
                continue
            end = start + len(film.surface if text.find(film.surface) >= 0 else film.title)
            item = self.titles.match(film.title, film.year)
            if item is None:
                outside.append((start, end, 1.0))
            if item is None or any(start < e and s < end for s, e in taken):
                continue
            taken.append((start, end))
            links.append(Link(start, end, (item,), 1.0))
            opinions.append(one_hot(OPINIONS, film.opinion))
        persons = []
        for person in reading.people:
            start = text.find(person.surface)
            if start >= 0:
                persons.append((start, start + len(person.surface), one_hot(OPINIONS, person.opinion)))
        return Analysis(
            intent=one_hot(INTENTS, reading.intent),
            lasting=one_hot(LASTING, reading.lasting),
            situation=one_hot(SITUATIONS, reading.situation),
            era=one_hot(ERAS, reading.era),
            genres={
                g: (float(g in reading.genres_wanted), float(g in reading.genres_unwanted)) for g in self.genre_names
            },
            links=links,
            opinions=opinions,
            person_spans=persons,
            span_opinions=[self._span_opinion(s, e, persons, reading) for s, e in extra],
            title_spans=outside,
        )
