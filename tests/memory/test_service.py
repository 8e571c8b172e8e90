"""The Memory facade: remembering, superseding, selecting with reasons, constraints, bad input."""

from __future__ import annotations

import pytest

from memory.conflicts import live_contradictions
from memory.constraints import violations
from memory.instructions import Proposal
from memory.schema import Atom
from memory.service import Memory
from memory.store import USER_TABLES


def test_later_instruction_supersedes_and_history_is_kept(memory: Memory) -> None:
    first = memory.remember_utterance("u", "Nothing older than 1980.")
    second = memory.remember_utterance("u", "actually, nothing older than 1990")
    assert second.status == "stored" and [s.id for s in second.superseded] == [first.stored[0].id]
    live = memory.instructions("u")
    assert [a.key for s in live for a in s.atoms] == [("year_min", "year", "1990")]
    history = memory.instructions("u", include_history=True)
    old = next(s for s in history if s.id == first.stored[0].id)
    assert old.status == "superseded" and old.superseded_by == second.stored[0].id


def test_lift_removes_only_the_contradicted_part(memory: Memory) -> None:
    memory.remember_utterance("u", "no horror or westerns")
    result = memory.remember_utterance("u", "Horror is fine now")
    assert result.status == "stored" and len(result.superseded) == 1
    live_atoms = {a.key for s in memory.instructions("u") for a in s.atoms}
    assert ("exclude", "genre", "Western") in live_atoms
    assert ("exclude", "genre", "Horror") not in live_atoms
    assert live_contradictions(memory.instructions("u")) == []


def test_contradictory_rules_are_never_live_together(memory: Memory) -> None:
    for text in [
        "never recommend horror",
        "I love horror",
        "no horror ever",
        "I don't mind horror",
        "only comedies",
        "only dramas",
        "nothing before 1980",
        "only films before 1970",
    ]:
        memory.remember_utterance("u", text)
        assert live_contradictions(memory.instructions("u")) == [], text


def test_duplicate_is_reported(memory: Memory) -> None:
    memory.remember_utterance("u", "never recommend horror")
    assert memory.remember_utterance("u", "Never recommend horror!").status == "duplicate"
    assert len(memory.instructions("u")) == 1


def test_scoped_rules_do_not_conflict_with_global_ones(memory: Memory) -> None:
    memory.remember_utterance("u", "never recommend horror")
    memory.remember_utterance("u", "When I'm with my friends, horror is fine")
    assert len(memory.instructions("u")) == 2
    friends = memory.applicable("u", "movie night with my friends")
    assert all(("exclude", "genre", "Horror") not in {a.key for a in x.instruction.atoms} for x in friends)
    alone = memory.applicable("u", "something for me")
    assert ("exclude", "genre", "Horror") in {a.key for x in alone for a in x.instruction.atoms}


def test_selection_reports_reasons_and_respects_absent_situations(memory: Memory) -> None:
    memory.remember_utterance("u", "never recommend horror")
    memory.remember_utterance("u", "When I watch with my kids, only animation or family films")
    with_kids = memory.applicable("u", "What should I watch with my daughter tonight?")
    assert {a.instruction.scope_key for a in with_kids} == {"", "kids"}
    reason = next(a.reason for a in with_kids if a.instruction.scope_key == "kids")
    assert "daughter" in reason
    for request in ["the kids are asleep, what now?", "something for date night with my wife", "a thriller"]:
        assert {a.instruction.scope_key for a in memory.applicable("u", request)} == {""}, request
    clash = memory.applicable("u", "recommend a horror film")
    assert clash[0].conflicts_with_request


def test_constraints_filter_the_catalog(memory: Memory, ml100k) -> None:
    memory.remember_utterance("u", "never recommend horror")
    memory.remember_utterance("u", "nothing older than 1980")
    memory.remember_utterance("u", "When I watch with my kids, only animation or family films")
    filters = memory.constraints("u", "with my kids")
    mask = ml100k.mask(filters)
    assert 0 < mask.sum() < len(mask)
    atoms = [a for s in memory.instructions("u") for a in s.atoms]
    for pos in mask.nonzero()[0]:
        assert not violations(atoms, ml100k.items[pos], ml100k)
    allowed = memory.allowed("u", "with my kids", ["1", "183", "nope"])  # Toy Story, Alien, unknown
    assert allowed == ["1"]


def test_unknown_person_is_stored_but_reported(memory: Memory) -> None:
    result = memory.remember_utterance("u", "I don't want anything with Tom Cruise")
    assert result.status == "stored" and result.unresolved == ["Tom Cruise"]
    assert "couldn't find Tom Cruise" in result.message
    assert memory.constraints("u", "anything") == []


def test_named_people_compile(small_memory: Memory, small_catalog) -> None:
    small_memory.remember_utterance("u", "nothing with Cruise in it")
    ids = small_catalog.matching_ids(small_memory.constraints("u", "an action film"))
    titles = {small_catalog.titles[i] for i in ids}
    assert "Top Gun" not in titles and "Mission: Impossible" not in titles and "Toy Story" in titles


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("", "rejected"),
        ("x" * 100_000, "rejected"),
        (b"\xff\xfe\x00\x01" * 100, "rejected"),
        ("never recommend horror. always recommend horror", "contradictory"),
        ("only films before 1980 and after 1990", "contradictory"),
        ("what's good tonight?", "not_instruction"),
    ],
)
def test_bad_input_gives_a_clear_result_and_writes_nothing(memory: Memory, text: object, status: str) -> None:
    result = memory.remember_utterance("u", text)  # type: ignore[arg-type]
    assert result.status == status
    assert status == "not_instruction" or result.message
    assert memory.store.row_counts("u") == dict.fromkeys(USER_TABLES, 0)


def test_bad_requests_do_not_crash(memory: Memory) -> None:
    memory.remember_utterance("u", "When I watch with my kids, only animation")
    for request in ["", "x" * 100_000, "\x00\x01" * 50, "🎬" * 1000]:
        assert all(a.instruction.scope is None for a in memory.applicable("u", request))
        memory.boosts("u", request)


def test_a_rule_over_every_actor_of_a_film_is_confirmed_once(memory: Memory) -> None:
    # Unnamed actors share the label "an actor in Kingpin"; the reply must not repeat it per actor.
    result = memory.remember_utterance("u", "nothing with an actor in Kingpin ever again")
    (rule,) = result.stored
    assert len(rule.atoms) > 1 and result.message.count("an actor in Kingpin") == 1, result.message


def test_a_soft_liking_does_not_lift_a_hard_rule(small_memory: Memory) -> None:
    # "I really like an actor in Top Gun" names every actor of that film, the one ruled out too.
    rule = small_memory.remember_utterance("u", "never anything with Tom Cruise").stored[0]
    (cruise,) = [m.value for m in small_memory.resolver.people("Tom Cruise")]
    (hanks,) = [m.value for m in small_memory.resolver.people("Tom Hanks")]
    liking = tuple(Atom(op="prefer", field="entity", value=v, label="an actor in Top Gun") for v in (cruise, hanks))
    result = small_memory.remember_rules(
        "u", [Proposal(text="I really like an actor in Top Gun", atoms=liking, scope=None)]
    )
    assert result.status == "stored" and not result.superseded
    assert [a.value for s in result.stored for a in s.atoms] == [hanks]
    assert rule.text in result.message
    assert rule.id in {s.id for s in small_memory.instructions("u")}
    assert small_memory.allowed("u", "anything", ["1", "2", "3", "4", "5"]) == ["4", "5"]
    assert live_contradictions(small_memory.instructions("u")) == []

    # A softer remark the rule already enforces stores nothing.
    avoid = (Atom(op="avoid", field="entity", value=cruise, label="Tom Cruise"),)
    covered = small_memory.remember_rules("u", [Proposal(text="I'd rather skip Tom Cruise", atoms=avoid, scope=None)])
    assert covered.status == "held" and not covered.stored and rule.text in covered.message

    # Saying so outright still lifts the rule.
    lifted = small_memory.remember_utterance("u", "Tom Cruise is fine again")
    assert [s.id for s in lifted.superseded] == [rule.id]
    assert "1" in small_memory.allowed("u", "anything", ["1", "2", "3"])
