"""Extraction: atoms, scopes, negation, lifts, years, titles, people by partial name, one-off requests."""

from __future__ import annotations

import pytest

from memory.instructions import PatternExtractor
from memory.resolve import Resolver
from recsys.catalog import Catalog


@pytest.fixture(scope="module")
def ex(ml100k: Catalog) -> PatternExtractor:
    return PatternExtractor(Resolver(ml100k))


@pytest.fixture(scope="module")
def small_ex(small_catalog: Catalog) -> PatternExtractor:
    return PatternExtractor(Resolver(small_catalog))


def keys(ext) -> list[tuple[str | None, set[tuple[str, str, str]]]]:
    return [(p.scope.key if p.scope else None, {a.key for a in p.atoms}) for p in ext.proposals]


@pytest.mark.parametrize(
    ("text", "scope", "atoms"),
    [
        ("never recommend horror", None, {("exclude", "genre", "Horror")}),
        ("Please stop suggesting scary movies.", None, {("exclude", "genre", "Horror")}),
        ("Nothing older than 1980.", None, {("year_min", "year", "1980")}),
        ("nothing made before the eighties", None, {("year_min", "year", "1980")}),
        ("only films after 1985", None, {("year_min", "year", "1986")}),
        ("nothing newer than 1995", None, {("year_max", "year", "1995")}),
        ("no films from the 70s", None, {("exclude_years", "year", "1970-1979")}),
        ("I only watch 90s movies", None, {("year_min", "year", "1990"), ("year_max", "year", "1999")}),
        (
            "When I watch with my kids, only animation or family films",
            "kids",
            {("only", "genre", "Animation"), ("only", "genre", "Children's")},
        ),
        ("no scary movies when my kids are around", "kids", {("exclude", "genre", "Horror")}),
        ("When I ask for comedies, nothing before 1990", "genre:Comedy", {("year_min", "year", "1990")}),
        ("I don't mind horror", None, {("allow", "genre", "Horror")}),
        ("Horror is fine now", None, {("allow", "genre", "Horror")}),
        ("I'm not a big fan of westerns", None, {("avoid", "genre", "Western")}),
        ("I love sci-fi but I hate musicals", None, {("prefer", "genre", "Sci-Fi"), ("exclude", "genre", "Musical")}),
        ("Never recommend Star Wars again", None, {("exclude", "item", "50")}),
        ("from now on, no documentaries", None, {("exclude", "genre", "Documentary")}),
    ],
)
def test_extracts_atoms_and_scope(ex: PatternExtractor, text: str, scope: str | None, atoms: set) -> None:
    assert keys(ex.extract(text)) == [(scope, atoms)]


@pytest.mark.parametrize(
    "text",
    [
        "no horror tonight please",
        "Can you recommend a comedy?",
        "something funny for this evening",
        "hello there",
        "I love this one",
    ],
)
def test_one_off_requests_and_chitchat_are_not_instructions(ex: PatternExtractor, text: str) -> None:
    assert not ex.extract(text).is_instruction


def test_one_off_request_constraints_are_returned_for_the_request(ex: PatternExtractor) -> None:
    ext = ex.extract("no horror tonight please")
    assert [a.key for a in ext.request_atoms] == [("exclude", "genre", "Horror")]


def test_people_by_full_and_partial_name(small_ex: PatternExtractor) -> None:
    assert keys(small_ex.extract("I don't want anything with Tom Cruise")) == [
        (None, {("exclude", "entity", "person:tom_cruise")})
    ]
    assert keys(small_ex.extract("no Tarantino films")) == [(None, {("exclude", "entity", "person:quentin_tarantino")})]
    assert keys(small_ex.extract("nothing with Cruise in it")) == [(None, {("exclude", "entity", "person:tom_cruise")})]


def test_ambiguous_partial_name_is_reported_not_guessed(small_ex: PatternExtractor) -> None:
    ext = small_ex.extract("Never recommend anything with Allen")
    (proposal,) = ext.proposals
    assert [a.field for a in proposal.atoms] == ["unknown"]
    assert ext.ambiguous and "Woody Allen" in ext.ambiguous[0] and "Tim Allen" in ext.ambiguous[0]


def test_unknown_person_is_kept_with_words_but_not_compiled(ex: PatternExtractor) -> None:
    (proposal,) = ex.extract("I don't want anything with Tom Cruise").proposals
    assert proposal.unresolved == ("Tom Cruise",)
    assert all(not a.is_hard for a in proposal.atoms)


def test_role_of_title(ex: PatternExtractor, ml100k: Catalog) -> None:
    (proposal,) = ex.extract("no films by the director of Alien").proposals
    alien = next(i.id for i in ml100k.items if i.title == "Alien")
    directors = {e for _, e in ml100k.kg.entities_of(alien, "director")}
    assert {a.value for a in proposal.atoms} == directors and all(a.op == "exclude" for a in proposal.atoms)


@pytest.mark.parametrize(
    "text",
    ["Never recommend horror. Always recommend horror.", "only films before 1980 and after 1990"],
)
def test_self_contradiction_is_reported(ex: PatternExtractor, text: str) -> None:
    ext = ex.extract(text)
    assert ext.contradiction and not ext.proposals


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        ("   \n\t ", "empty"),
        ("x" * 100_000, "too long"),
        (b"\x00\x01\xff\xfe" * 50, "not look like text"),
        ("\x00\x01\x02\x03" * 30, "not look like text"),
        (12345, "expected text"),
    ],
)
def test_bad_input_is_a_clear_problem(ex: PatternExtractor, text: object, problem: str) -> None:
    ext = ex.extract(text)
    assert ext.problem is not None and problem in ext.problem and not ext.proposals


@pytest.mark.parametrize(
    "text",
    [
        "never recommend anything by an actor in Sleepless in Seattle",  # "less" inside a word is no softener
        "no films with an actor in Fearless",
        "nothing with an actor in Hook with Robin Williams",  # "ok with" inside "Hook with" is no lift
    ],
)
def test_cue_words_inside_other_words_do_not_soften_a_rule(ex: PatternExtractor, text: str) -> None:
    (proposal,) = ex.extract(text).proposals
    assert proposal.atoms and {a.op for a in proposal.atoms} == {"exclude"}, proposal


@pytest.mark.parametrize(
    ("text", "standing", "op"),
    [
        ("Recommend something like Tomorrow Never Dies", False, "prefer"),  # "never" is the title's, not a rule
        ("I always want more films like Tomorrow Never Dies", True, "prefer"),
        ("Recommend more like Rebel Without a Cause from now on", True, "prefer"),  # no "without"
        ("Always suggest films like Much Ado About Nothing", True, "prefer"),  # no "nothing"
        ("Never recommend anything by an actor in A Life Less Ordinary", True, "exclude"),  # no "less"
    ],
)
def test_words_of_a_title_are_not_cues(ex: PatternExtractor, text: str, standing: bool, op: str) -> None:
    ext = ex.extract(text)
    atoms = [a for p in ext.proposals for a in p.atoms] if standing else list(ext.request_atoms)
    assert bool(ext.proposals) is standing and atoms and {a.op for a in atoms} == {op}, ext
