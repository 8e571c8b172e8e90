"""The transcripts of issue 16, end to end with the learned understanding: assertions on items, not wording."""

from __future__ import annotations

from agent.api import Agent
from agent.reply import Reply
from memory.resolve import normalize_title


def picks(agent: Agent, user: str, message: str, thread: str | None = None) -> Reply:
    """Send a message and answer questions with 'any' until a list (or anything but a question) arrives."""
    reply = agent.chat(user, message, thread)
    for _ in range(4):
        if reply.action != "ask":
            return reply
        reply = agent.chat(user, "any", thread)
    return reply


def genres(reply: Reply) -> list[set[str]]:
    return [set(r.genres) for r in reply.recommendations]


def test_toy_story_for_kids_but_nothing_scary(agent: Agent) -> None:
    reply = picks(agent, "parent", "I loved Toy Story, something similar for my kids but nothing scary")
    assert reply.action == "recommend" and reply.recommendations
    assert all("Horror" not in g for g in genres(reply))
    assert sum("Children's" in g or "Animation" in g for g in genres(reply)) >= len(reply.recommendations) // 2
    assert any("Toy Story" in c for c in reply.memory_changes)  # the liked film seeds this user's history


def test_an_aversion_is_remembered_in_a_new_conversation_without_duplicates(agent: Agent) -> None:
    first = agent.chat("averse", "I have a strong aversion to horror movies.", "one")
    assert first.memory_changes
    reply = picks(agent, "averse", "Recommend me a movie for tonight.", "two")
    assert reply.recommendations and all("Horror" not in g for g in genres(reply))
    films = [(normalize_title(r.title), r.year) for r in reply.recommendations]
    assert len(films) == len(set(films))


def test_liking_comedies_is_not_a_rule_against_them(agent: Agent) -> None:
    reply = picks(agent, "comic", "Hello I've never seen that one I like comedies mostly.")
    rules = agent.memory.instructions("comic")
    assert not any(a.op in ("exclude", "avoid") and a.value == "Comedy" for si in rules for a in si.atoms)
    assert reply.recommendations and sum("Comedy" in g for g in genres(reply)) >= len(reply.recommendations) - 1


def test_a_stated_liking_of_a_person_keeps_steering_and_can_be_forgotten(agent: Agent) -> None:
    # A soft standing instruction: kept as interests, the liking faded under every film liked later.
    reply = agent.chat("fan", "I really like an actor in Apocalypse Now")
    rules = agent.memory.instructions("fan")
    atoms = [a for si in rules for a in si.atoms]
    assert atoms and all(a.op == "prefer" and a.field == "entity" for a in atoms)
    assert reply.memory_changes == ["new rule: I really like an actor in Apocalypse Now"]
    assert "an actor in Apocalypse Now" in reply.text
    catalog = agent.services.tools.catalog
    cast = {catalog.items[int(i)].id for a in atoms for i in catalog.entity_items[a.value]}
    steered = picks(agent, "fan", "recommend me something", "later")
    plain = picks(agent, "plain", "recommend me something", "later")
    assert sum(r.item_id in cast for r in steered.recommendations) > sum(
        r.item_id in cast for r in plain.recommendations
    )
    unknown = agent.chat("fan", "I really like an actor in Zzyzx Road Forever")
    assert unknown.memory_changes == [] and len(agent.memory.instructions("fan")) == 1
    agent.chat("fan", "forget that I like an actor in Apocalypse Now")
    assert agent.memory.instructions("fan") == []


def test_a_film_with_its_year_is_a_reference_not_a_year_constraint(agent: Agent) -> None:
    reply = picks(agent, "fan", "I love Pitch Black (2000), anything like that?")
    assert reply.action == "recommend" and reply.recommendations
    assert "couldn't find" not in reply.text
    assert not any(a.field == "year" for si in agent.memory.instructions("fan") for a in si.atoms)


def test_title_fragments_are_not_films_and_lower_case_titles_are(agent: Agent) -> None:
    reader = agent.services.understander
    catalog = agent.services.tools.catalog
    for message in (
        "I just saw Black Panther (2018) and loved it",
        "Avengers: Infinity War was great",
        "something to watch with my family tonight",
        "Chris Rock is hilarious, anything with him?",
    ):
        named = [catalog.titles[f.item_id] for f in reader.read(message).films]
        assert named == [], (message, named)
    assert [catalog.titles[f.item_id] for f in reader.read("i loved casablanca").films] == ["Casablanca"]
    seven = [catalog.titles[f.item_id] for f in reader.read("have you seen seven? loved it").films]
    assert seven and seven[0].startswith("Seven")


def test_just_recommend_something_keeps_the_search(agent: Agent) -> None:
    agent.chat("keeper", "I'd like a western")
    reply = picks(agent, "keeper", "just recommend something")
    assert reply.action == "recommend" and reply.recommendations
    assert all("Western" in g for g in genres(reply))
    first = reply.recommendations[0].item_id
    again = agent.chat("keeper", "The first one is not for me")  # no questions in a search that asked for none
    assert again.action == "recommend" and first not in [r.item_id for r in again.recommendations]
    assert all("Western" in g for g in genres(again))


def test_a_request_against_a_rule_gets_the_best_list_that_honours_it(agent: Agent) -> None:
    agent.chat("careful", "Please never recommend horror")
    reply = picks(agent, "careful", "Recommend me something scary and thrilling for tonight")
    assert reply.action == "recommend" and reply.recommendations
    assert all("Horror" not in g for g in genres(reply))
    assert sum("Thriller" in g for g in genres(reply)) >= len(reply.recommendations) // 2
    assert "horror" in reply.text.lower()  # says what the rule left out


def test_something_light_without_horror_is_not_asked_about_thrillers(agent: Agent) -> None:
    reply = agent.chat("light", "something light for tonight, no horror")
    if reply.action == "ask":
        assert reply.question is not None and reply.question.attribute != "genre"
    reply = picks(agent, "light", "any") if reply.action == "ask" else reply
    assert reply.recommendations and all("Horror" not in g for g in genres(reply))
    light = {"Comedy", "Romance", "Animation", "Children's", "Musical"}
    assert sum(bool(g & light) for g in genres(reply)) >= len(reply.recommendations) - 1


def test_a_topic_outside_the_catalog_gets_a_short_answer_and_nothing_stored(agent: Agent) -> None:
    for message in (
        "Which hiking boots should I buy for the winter?",
        "I only drink decaf after noon, never espresso.",
    ):
        reply = agent.chat("traveller", message)
        assert reply.intent == "out_of_domain" and not reply.recommendations and not reply.memory_changes
    export = agent.memory.export("traveller")
    assert not (export["instructions"] or export["preferences"] or export["interests"] or export["feedback"])


def test_films_outside_the_catalog_are_said_to_be_missing(agent: Agent) -> None:
    reader = agent.services.understander
    assert reader.read("I loved Inception and Interstellar, anything like those?").unknown_titles == [
        "Inception",
        "Interstellar",
    ]
    # The year tells it from the catalog's film of that name.
    assert reader.read("we watched Jumanji (2017) and loved it").unknown_titles == ["Jumanji (2017)"]
    for message in (
        "I love Alien, anything like it?",
        "something with Will Ferrell",
        "a comedy from the 1990's",
        "like Star Wars but not Star Trek",  # the catalog has Star Trek films, none titled just that
    ):
        assert reader.read(message).unknown_titles == [], message
    reply = agent.chat("cal", "I love Pitch Black (2000) and Alien, anything like that?")
    assert "don't have Pitch Black (2000) among my films (they go up to 1998)" in reply.text
    stored = [r.text for r in agent.memory.instructions("cal")] + [p.text for p in agent.memory.preferences("cal")]
    assert not any("Pitch Black" in t for t in stored) and any("Alien" in c for c in reply.memory_changes)
    asked = agent.chat("cal", "tell me more about Superbad")
    assert asked.action == "inform" and "don't have Superbad" in asked.text
