"""The LLM extraction path with scripted completions: validated against the catalog, falls back on failure."""

from __future__ import annotations

import json

import pytest

from memory.extract import LLMExtractor
from memory.instructions import PatternExtractor
from memory.resolve import Resolver
from memory.service import Memory


@pytest.fixture(scope="module")
def patterns(small_catalog) -> PatternExtractor:
    return PatternExtractor(Resolver(small_catalog))


def scripted(reply: object):
    prompts: list[str] = []

    def complete(prompt: str) -> str:
        prompts.append(prompt)
        if isinstance(reply, BaseException):
            raise reply
        return reply if isinstance(reply, str) else json.dumps(reply)

    complete.prompts = prompts  # type: ignore[attr-defined]
    return complete


def test_llm_output_is_resolved_against_the_catalog(patterns: PatternExtractor) -> None:
    reply = {
        "instructions": [
            {
                "words": "no Cruise films with the kids",
                "scope": "with my kids",
                "rules": [
                    {"op": "exclude", "kind": "person", "value": "Cruise"},
                    {"op": "exclude", "kind": "genre", "value": "scary movies"},
                    {"op": "exclude", "kind": "person", "value": "Nobody Real"},
                    {"op": "exclude", "kind": "year_min", "value": "not a year"},
                ],
            }
        ]
    }
    ext = LLMExtractor(scripted(reply), patterns).extract("no Cruise films with the kids")
    (p,) = ext.proposals
    assert p.scope is not None and p.scope.key == "kids"
    assert {a.key for a in p.atoms} == {
        ("exclude", "entity", "person:tom_cruise"),
        ("exclude", "genre", "Horror"),
        ("exclude", "unknown", "nobody real"),
    }
    assert p.unresolved == ("Nobody Real",)


@pytest.mark.parametrize("reply", ["not json at all", {"instructions": "oops"}, RuntimeError("backend down")])
def test_llm_failure_falls_back_to_patterns(patterns: PatternExtractor, reply: object) -> None:
    ext = LLMExtractor(scripted(reply), patterns).extract("never recommend horror")
    assert [a.key for p in ext.proposals for a in p.atoms] == [("exclude", "genre", "Horror")]


def test_memory_uses_the_llm_when_given(tmp_path, small_catalog, encoder) -> None:
    from memory.store import SQLiteStore

    reply = {"instructions": [{"words": "w", "rules": [{"op": "exclude", "kind": "title", "value": "Top Gun"}]}]}
    complete = scripted(reply)
    memory = Memory(SQLiteStore(tmp_path / "m.sqlite3"), small_catalog, encoder, complete=complete)
    result = memory.remember_utterance("u", "please never show me that jet fighter film again")
    assert result.status == "stored" and result.stored[0].source == "llm"
    assert result.stored[0].atoms[0].value == "1" and complete.prompts  # type: ignore[attr-defined]
    memory.close()
