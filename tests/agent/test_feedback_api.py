"""``Agent.feedback`` (issue 17, point 1): logged with its context, learned from, exported and forgotten per user."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from pydantic import ValidationError

from agent.api import Agent, AgentConfig
from agent.feedback import FeedbackError
from agent.llm import BackendConfig
from agent.llm.base import ChatBackend, ChatMessage
from agent.reply import Reply
from recsys.settings import Settings

CONFIG = AgentConfig(backend=BackendConfig(kind="template"), recommender="itemknn", policy="maxent", retrieval=False)


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory, settings: Settings) -> Iterator[Agent]:
    """One agent for the module (building one takes seconds); each test talks as its own user."""
    built = Agent.from_config(CONFIG, settings, data_dir=tmp_path_factory.mktemp("data"))
    yield built
    built.close()


def _user() -> str:
    return f"ann-{uuid.uuid4().hex[:8]}"


def _until_list(agent: Agent, user: str, thread: str = "sofa", opening: str = "a comedy from the 1990s") -> Reply:
    """Chat until the agent shows a list (answering every question with "any")."""
    reply = agent.chat(user, opening, thread_id=thread)
    for _ in range(6):
        if reply.recommendations:
            return reply
        reply = agent.chat(user, "any", thread_id=thread)
    raise AssertionError(f"no list after 7 turns: {reply.text!r}")


def test_an_edit_is_logged_with_its_context_and_teaches_a_style(agent: Agent) -> None:
    user = _user()
    reply = _until_list(agent, user)
    rewrite = "\n".join(f"- {r.title} ({r.year})" for r in reply.recommendations)
    result = agent.feedback(user, "sofa", "edit", text=rewrite)
    entry = result.entry
    turns = len(agent.history(user, "sofa")) // 2
    assert entry.turn == turns and entry.kind == "edit" and entry.text == rewrite
    assert entry.reply == reply.text and entry.action == "recommend"
    assert entry.shown == [r.item_id for r in reply.recommendations]
    assert [i["item_id"] for i in entry.plan["items"]] == entry.shown
    assert entry.request == "a comedy from the 1990s"
    assert entry.memory.style() == []  # the snapshot is memory before this feedback taught anything
    assert "prefers recommendations as a bulleted list" in result.learned
    keys = {p.key for p in agent.memory.preferences(user)}
    assert {"format:bullets", "style:concise"} <= keys
    assert agent.memory.feedback_log.entries(user) == [entry]
    # The next feedback's snapshot holds what the edit taught.
    again = agent.feedback(user, "sofa", "like", item_id=reply.recommendations[0].item_id)
    assert {p.key for p in again.entry.memory.style()} >= {"format:bullets"}


def test_feedback_on_an_earlier_turn_sees_that_turn(agent: Agent) -> None:
    user = _user()
    first = agent.chat(user, "I want to watch a movie", thread_id="t")
    _until_list(agent, user, thread="t", opening="comedy")
    result = agent.feedback(user, "t", "critique", turn=1, text="too long")
    assert result.entry.turn == 1 and result.entry.reply == first.text
    assert "prefers shorter films" in result.learned


def test_list_feedback_reaches_memory(agent: Agent) -> None:
    user = _user()
    reply = _until_list(agent, user)
    picked, other = reply.recommendations[0], reply.recommendations[1]
    agent.feedback(user, "sofa", "accept", item_id=picked.item_id)
    agent.feedback(user, "sofa", "not_for_me", item_id=other.item_id)
    whole = agent.feedback(user, "sofa", "reject")
    assert whole.entry.item_id is None and whole.entry.shown == [r.item_id for r in reply.recommendations]
    kinds = [(f["kind"], f["item_id"]) for f in agent.memory.list(user, "feedback")["feedback"]]
    assert ("accept", picked.item_id) in kinds and ("dislike", other.item_id) in kinds
    assert [e.kind for e in agent.memory.feedback_log.entries(user)] == ["accept", "not_for_me", "reject"]


def test_clear_errors_for_what_does_not_match(agent: Agent) -> None:
    user = _user()
    _until_list(agent, user, opening="I want to watch a movie")
    with pytest.raises(FeedbackError, match="no conversation 'elsewhere'"):
        agent.feedback(user, "elsewhere", "reject")
    with pytest.raises(FeedbackError, match=r"no turn 99 .* turns 1-\d"):
        agent.feedback(user, "sofa", "reject", turn=99)
    with pytest.raises(FeedbackError, match="item 'no-such' was not in the reply"):
        agent.feedback(user, "sofa", "like", item_id="no-such")
    assert "Options" in agent.history(user, "sofa")[1][1]  # turn 1 asked a question
    with pytest.raises(FeedbackError, match="turn 1 showed no list"):
        agent.feedback(user, "sofa", "reject", turn=1)
    with pytest.raises(ValidationError, match="needs item_id"):
        agent.feedback(user, "sofa", "like")
    with pytest.raises(ValidationError, match="needs text"):
        agent.feedback(user, "sofa", "edit", text="  ")
    with pytest.raises(ValidationError, match="takes no text"):
        agent.feedback(user, "sofa", "reject", text="meh")
    with pytest.raises(ValidationError, match="kind"):
        agent.feedback(user, "sofa", "love")
    with pytest.raises(ValidationError, match="turn"):
        agent.feedback(user, "sofa", "reject", turn=0)
    with pytest.raises(ValidationError, match="user_id"):
        agent.feedback("bad\x1fid", "sofa", "reject")
    with pytest.raises(ValidationError, match="too long"):
        agent.feedback(user, "sofa", "edit", text="x" * 10_000)
    assert agent.memory.feedback_log.entries(user) == []


def test_feedback_never_crosses_look_alike_users(agent: Agent) -> None:
    base = _user()
    owner, *look_alikes = [base, base.upper(), base + " ", base + "\u200b", " " + base]
    reply = _until_list(agent, owner)
    agent.feedback(owner, "sofa", "edit", text="Short list, no fuss.")
    for other in look_alikes:
        with pytest.raises(FeedbackError, match="no conversation 'sofa'"):
            agent.feedback(other, "sofa", "accept", item_id=reply.recommendations[0].item_id)
        assert agent.memory.feedback_log.entries(other) == []
        assert agent.memory.export(other)["feedback_log"] == []
    # A look-alike with its own conversation keeps its own log through the owner's forgetting.
    twin = look_alikes[1]
    _until_list(agent, twin)
    agent.feedback(twin, "sofa", "reject")
    exported = agent.memory.export(owner)["feedback_log"]
    assert [e["kind"] for e in exported] == ["edit"] and exported[0]["reply"] == reply.text
    counts = agent.memory.forget(owner)
    assert counts["feedback_log"] == 1
    assert agent.memory.feedback_log.entries(owner) == []
    assert agent.memory.store.row_counts(owner)["feedback_log"] == 0
    assert [e.kind for e in agent.memory.feedback_log.entries(twin)] == ["reject"]


def test_feedback_said_in_the_conversation_is_logged_about_the_reply_before(agent: Agent) -> None:
    user = _user()
    shown = _until_list(agent, user)
    list_turn = len(agent.history(user, "sofa")) // 2
    agent.chat(user, "not for me", thread_id="sofa")
    again = _until_list(agent, user, opening="something else, a drama")
    again_turn = len(agent.history(user, "sofa")) // 2
    agent.chat(user, "I'll watch the second one", thread_id="sofa")
    reject, accept = agent.memory.feedback_log.entries(user)
    assert (reject.kind, reject.turn, reject.item_id) == ("reject", list_turn, None)
    assert reject.reply == shown.text and reject.shown == [r.item_id for r in shown.recommendations]
    assert (accept.kind, accept.item_id, accept.reply) == ("accept", again.recommendations[1].item_id, again.text)
    assert accept.turn == again_turn > list_turn + 1


class Recorder(ChatBackend):
    """A scripted model that keeps the prompts it was sent."""

    def __init__(self) -> None:
        self.prompts: list[list[ChatMessage]] = []

    def stream(self, messages, config=None):  # type: ignore[no-untyped-def]
        self.prompts.append(list(messages))
        yield "Some films for you tonight!"


@pytest.mark.parametrize("style_prompt", [True, False])
def test_inferred_styles_reach_the_prompt_cipher_style(tmp_path: Path, settings: Settings, style_prompt: bool) -> None:
    backend = Recorder()
    config = replace(CONFIG, style_prompt=style_prompt)
    agent = Agent.from_config(config, settings, data_dir=tmp_path, backend=backend)
    try:
        reply = _until_list(agent, "rita")
        assert "Some films for you tonight!" in reply.text
        assert all(m.role == "user" for p in backend.prompts for m in p)  # nothing inferred yet
        result = agent.feedback("rita", "sofa", "edit", text=reply.text.replace("!", "."))
        assert "prefers a calm tone without emoji or exclamation marks" in result.learned
        agent.chat("rita", "something else, a drama", thread_id="sofa")
        system = [m.content for m in backend.prompts[-1] if m.role == "system"]
        expected = ["This user prefers a calm tone without emoji or exclamation marks. Write the way they prefer."]
        assert system == (expected if style_prompt else [])
    finally:
        agent.close()
