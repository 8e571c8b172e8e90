"""The demo's "rewrite this reply" box (issue 17, point 1), without a browser: edits reach the feedback log."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agent.api import Agent, AgentConfig
from agent.llm import BackendConfig
from demo.app import build_demo
from demo.rewrite import last_reply, rewrite_last
from demo.session import Session
from recsys.settings import Settings


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory, settings: Settings) -> Iterator[Agent]:
    config = AgentConfig(
        backend=BackendConfig(kind="template"), recommender="itemknn", policy="maxent", retrieval=False
    )
    built = Agent.from_config(config, settings, data_dir=tmp_path_factory.mktemp("data"))
    yield built
    built.close()


def test_a_rewrite_of_the_last_reply_is_logged_as_an_edit(agent: Agent) -> None:
    session = Session(user="rita")
    assert rewrite_last(agent, session, "Short, please.").startswith("Couldn't save that: no conversation")
    reply = agent.chat("rita", "a comedy from the 1990s", thread_id=session.thread)
    assert last_reply(agent, session) == reply.text
    assert rewrite_last(agent, session, reply.text).startswith("That is the reply as it was")
    assert rewrite_last(agent, session, "  ") == "Write your version of the reply first."
    status = rewrite_last(agent, session, "A few comedies:\n- " + reply.recommendations[0].title)
    assert status.startswith("Thanks, saved.") and "short, concise" in status
    (entry,) = agent.memory.feedback_log.entries("rita")
    assert entry.kind == "edit" and entry.reply == reply.text
    assert rewrite_last(agent, Session(), "x") == "Type your name first."
    assert last_reply(agent, Session(user="nobody")) == ""


def test_the_demo_has_the_box(agent: Agent) -> None:
    demo = build_demo(agent)
    ids = {getattr(block, "elem_id", None) for block in demo.blocks.values()}
    assert {"rewrite", "rewrite-text", "rewrite-fill", "rewrite-save", "rewrite-status"} <= ids
