"""Reading ordinary requests: negation scope ends at a clause, standing needs a cue, requested genres, feedback."""

from __future__ import annotations

import pytest

from memory.instructions import PatternExtractor
from memory.resolve import Resolver
from recsys.catalog import Catalog


@pytest.fixture(scope="module")
def ex(ml100k: Catalog) -> PatternExtractor:
    return PatternExtractor(Resolver(ml100k))


def keys(ext) -> list[tuple[str | None, set[tuple[str, str, str]]]]:
    return [(p.scope.key if p.scope else None, {a.key for a in p.atoms}) for p in ext.proposals]


def request(ext) -> set[tuple[str, str, str]]:
    return {a.key for a in ext.request_atoms}


NINETIES = {("year_min", "year", "1990"), ("year_max", "year", "1999")}


def test_negation_stops_at_a_comma_that_starts_a_new_clause(ex: PatternExtractor) -> None:
    ext = ex.extract("no comedies tonight, something from the 80s")
    assert not ext.is_instruction
    assert request(ext) == {("exclude", "genre", "Comedy"), ("year_min", "year", "1980"), ("year_max", "year", "1989")}


def test_negation_after_but_does_not_reach_back(ex: PatternExtractor) -> None:
    ext = ex.extract("action but not horror")
    assert not ext.is_instruction  # no standing cue: a one-off request
    assert request(ext) == {("only", "genre", "Action"), ("exclude", "genre", "Horror")}


def test_and_then_ends_a_negation(ex: PatternExtractor) -> None:
    ext = ex.extract("nothing scary tonight and then maybe a comedy")
    assert request(ext) == {("exclude", "genre", "Horror"), ("only", "genre", "Comedy")}


@pytest.mark.parametrize(
    ("text", "atoms"),
    [
        ("no horror, westerns or musicals", {("exclude", "genre", g) for g in ("Horror", "Western", "Musical")}),
        ("westerns, never", {("exclude", "genre", "Western")}),  # a trailing cue-only clause reaches back
        ("Boot, Das is fine again", {("allow", "item", "515")}),  # a title with a comma is one unit
    ],
)
def test_cue_still_covers_list_items_and_whole_titles(ex: PatternExtractor, text: str, atoms: set) -> None:
    assert keys(ex.extract(text)) == [(None, atoms)]


@pytest.mark.parametrize(
    ("text", "atoms"),
    [
        ("the 1990s", NINETIES),
        ("The 1990s.", NINETIES),  # digits count as text, not as junk
        ("comedy please", {("only", "genre", "Comedy")}),
        ("a comedy or a romance", {("only", "genre", "Comedy"), ("only", "genre", "Romance")}),
        ("something funny from the 90s", {("only", "genre", "Comedy")} | NINETIES),
    ],
)
def test_bare_attributes_are_one_off_request_atoms(ex: PatternExtractor, text: str, atoms: set) -> None:
    ext = ex.extract(text)
    assert not ext.is_instruction
    assert request(ext) == atoms


@pytest.mark.parametrize("text", ["I loved Star Wars", "i loved star wars", "something like Star Wars please"])
def test_genre_words_inside_titles_do_not_count(ex: PatternExtractor, text: str) -> None:
    ext = ex.extract(text)
    assert not ext.is_instruction
    assert all(a.field != "genre" for a in ext.request_atoms)


@pytest.mark.parametrize(
    ("text", "scope", "atoms"),
    [
        ("never recommend horror", None, {("exclude", "genre", "Horror")}),
        ("I hate musicals", None, {("exclude", "genre", "Musical")}),
        ("from now on nothing before 1980", None, {("year_min", "year", "1980")}),
        (
            "when I watch with my kids, only animation or family films",
            "kids",
            {("only", "genre", "Animation"), ("only", "genre", "Children's")},
        ),
        ("forget that I said no horror", None, {("allow", "genre", "Horror")}),
        ("never show me Heat again", None, {("exclude", "item", "273")}),
        ("No westerns.", None, {("exclude", "genre", "Western")}),  # a prohibition states a rule by its form
        ("Westerns are my favorite.", None, {("prefer", "genre", "Western")}),  # a statement of taste
    ],
)
def test_standing_instructions_still_need_and_have_a_cue(
    ex: PatternExtractor, text: str, scope: str | None, atoms: set
) -> None:
    ext = ex.extract(text)
    assert keys(ext) == [(scope, atoms)] and not ext.request_atoms


@pytest.mark.parametrize("text", ["I hated Heat", "I really enjoyed Heat"])
def test_feedback_on_a_film_is_neither_a_rule_nor_a_request(ex: PatternExtractor, text: str) -> None:
    ext = ex.extract(text)
    assert not ext.is_instruction and not ext.request_atoms


def test_people_named_the_way_the_kg_names_them(catalog) -> None:
    """'an actor in Kingpin and Angus' is how unnamed actors are described: it must compile to that actor."""
    from memory.instructions import PatternExtractor
    from memory.resolve import Resolver

    kg = catalog.kg
    kingpin = next(i.id for i in catalog.items if i.title == "Kingpin")
    actor = next(e for _, e in kg.entities_of(kingpin, "actor") if len(kg.items_of(e, "actor")) >= 2)
    name = kg.name(actor, catalog.titles, relation="actor")
    extraction = PatternExtractor(Resolver(catalog)).extract(f"never recommend anything with {name}")
    (proposal,) = extraction.proposals
    assert [(a.op, a.field, a.value) for a in proposal.atoms] == [("exclude", "entity", actor)]
    everyone = PatternExtractor(Resolver(catalog)).extract("nothing with an actor in Kingpin ever again")
    assert len(everyone.proposals[0].atoms) == len(kg.entities_of(kingpin, "actor"))
