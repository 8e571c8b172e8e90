"""A constraint said on its own: the agent asks whether it is for every request or just this search."""

from __future__ import annotations

from agent.api import Agent
from agent.scope import ALWAYS, SCOPE, THIS_SEARCH, parse


def years(reply) -> list[int]:
    return [r.year for r in reply.recommendations if r.year]


def until_list(agent: Agent, user: str, thread: str, reply):
    for _ in range(4):
        if reply.action != "ask":
            break
        reply = agent.chat(user, "any", thread)
    return reply


def test_from_now_on_stores_the_rule_and_a_later_conversation_keeps_it(agent: Agent) -> None:
    asked = agent.chat("u", "nothing before 1990", "one")
    assert asked.action == "ask" and asked.question is not None and asked.question.attribute == SCOPE
    assert [o.label for o in asked.question.options] == ["from now on", "just this search"]
    assert not agent.memory.instructions("u")
    agent.chat("u", "from now on", "one")
    rules = agent.memory.instructions("u")
    assert [(a.op, a.value) for si in rules for a in si.atoms] == [("year_min", "1990")]
    later = until_list(agent, "u", "two", agent.chat("u", "recommend me a movie", "two"))
    assert later.recommendations and min(years(later)) >= 1990


def test_just_this_search_or_no_answer_stores_nothing_but_holds_for_the_search(agent: Agent) -> None:
    agent.chat("a", "nothing before 1990", "one")
    reply = until_list(agent, "a", "one", agent.chat("a", "just this search", "one"))
    assert not agent.memory.instructions("a")
    assert reply.recommendations and min(years(reply)) >= 1990
    # Not answering and asking for something instead keeps the constraint for that search only.
    agent.chat("b", "nothing before 1990", "one")
    reply = until_list(agent, "b", "one", agent.chat("b", "a comedy", "one"))
    assert not agent.memory.instructions("b")
    assert reply.recommendations and min(years(reply)) >= 1990
    assert all("Comedy" in r.genres for r in reply.recommendations)
    later = until_list(agent, "b", "two", agent.chat("b", "recommend me a movie", "two"))
    assert later.recommendations and min(years(later)) < 1990


def test_no_scope_question_for_a_request_a_rule_or_a_constraint_inside_a_search(agent: Agent) -> None:
    for message in (
        "something light for tonight, no horror",
        "never recommend war films",
        "I want a comedy, nothing before 1990",
        "I want to watch a film: the 1990s",
    ):
        reply = agent.chat(f"user-{len(message)}", message, "one")
        assert reply.question is None or reply.question.attribute != SCOPE, message
    until_list(agent, "s", "one", agent.chat("s", "I want a comedy", "one"))
    refined = agent.chat("s", "nothing before 1990", "one")
    assert refined.question is None or refined.question.attribute != SCOPE


def test_scope_answers() -> None:
    for said in ("from now on", "yes", "always", "yes please, every time"):
        assert parse(said) == [ALWAYS], said
    for said in ("just this search", "no", "only tonight", "any", "just this one"):
        assert parse(said) == [THIS_SEARCH], said
    assert parse("a comedy") == []
