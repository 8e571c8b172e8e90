"""Input limits are enforced before anything is stored (issue 18, point 3).

Each failure the tester found is reproduced against a real agent: a 10 MB message saved whole
in the history, a lone surrogate breaking a turn half-way, a lone surrogate in a user id raising
``UnicodeEncodeError``, and two (user, thread) pairs sharing one conversation.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.api import Agent, AgentConfig
from agent.conversations import Conversations
from agent.limits import MAX_MESSAGE_CHARS, conversation_key, split_key
from agent.llm import BackendConfig
from memory.ids import check_thread_id, check_user_id
from recsys.settings import Settings

CONFIG = AgentConfig(backend=BackendConfig(kind="template"), recommender="itemknn", policy="maxent", retrieval=False)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def agent(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, settings: Settings
) -> Iterator[Agent]:
    """One agent per backend for the module (building one takes seconds); each test talks as its own user."""
    database = None
    if request.param == "postgresql":
        from memory.pg_testing import create_database, drop_database

        server = request.getfixturevalue("postgres_server")
        database = create_database(server)
    built = Agent.from_config(CONFIG, settings, data_dir=tmp_path_factory.mktemp("data"), database_url=database)
    yield built
    built.close()
    if database is not None:
        drop_database(database, server)


@pytest.fixture()
def ann() -> str:
    return f"ann-{uuid.uuid4().hex[:8]}"


def _disk(agent: Agent) -> int:
    """Bytes the conversations take: the SQLite file and its WAL, or the PostgreSQL database."""
    if not isinstance(agent.conversations, Conversations):  # PostgreSQL: the checkpointer holds a pool
        with agent.checkpointer.conn.connection() as conn:
            return int(conn.execute("SELECT pg_database_size(current_database()) AS n").fetchone()["n"])
    path = agent.checkpointer.conn.execute("PRAGMA database_list").fetchone()[2]
    return sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))


def test_an_over_long_message_is_refused_and_leaves_no_trace(agent: Agent, ann: str) -> None:
    agent.chat(ann, "a comedy please")
    before, size = agent.history(ann), _disk(agent)
    reply = agent.chat(ann, "x" * 10_000_000)
    assert reply.action == "error" and "too long" in reply.text and str(MAX_MESSAGE_CHARS) in reply.text
    assert agent.history(ann) == before
    assert _disk(agent) - size < 1_000_000  # the tester saw +80 MB here
    agent.chat(ann, "x" * MAX_MESSAGE_CHARS)  # at the limit: taken
    assert len(agent.history(ann)) == len(before) + 2


@pytest.mark.parametrize("message", ["hi \ud800 there", "\udfff", b"caf\xe9 please"])
def test_invalid_unicode_is_refused_and_leaves_no_trace(agent: Agent, ann: str, message: object) -> None:
    agent.chat(ann, "a comedy please")
    before = agent.history(ann)
    reply = agent.chat(ann, message)  # type: ignore[arg-type]
    assert reply.action == "error" and reply.intent == "invalid"
    assert "Unicode" in reply.text or "UTF-8" in reply.text
    assert agent.history(ann) == before
    assert agent.chat(ann, "something newer").action in ("ask", "recommend")  # the conversation goes on


@pytest.mark.parametrize("user", ["\ud800", "al\udcffice", "a\x1fb", "a\nb", "", " ", "x" * 300, 7])
def test_bad_user_ids_get_the_invalid_user_reply(agent: Agent, user: object) -> None:
    reply = agent.chat(user, "hello")  # type: ignore[arg-type]
    assert reply.action == "error" and reply.intent == "invalid" and "valid user" in reply.text
    with pytest.raises(ValueError):
        agent.memory.list(user)  # type: ignore[arg-type]


@pytest.mark.parametrize("thread", ["\ud800", "b\x1fdefault", " ", "x" * 300])
def test_bad_thread_ids_are_refused(agent: Agent, ann: str, thread: str) -> None:
    reply = agent.chat(ann, "hello", thread_id=thread)
    assert reply.action == "error" and reply.intent == "invalid" and "conversation" in reply.text
    with pytest.raises(ValueError):
        agent.history(ann, thread)


def test_look_alike_pairs_reach_different_conversations(agent: Agent) -> None:
    # The tester's collision: user "a" with thread "b\x1fdefault" continued the conversation of user "a\x1fb".
    # Both ids are refused now; the pairs that remain valid keep apart.
    agent.chat("a b", "never recommend horror")
    assert agent.chat("a", "hello", thread_id="b default").action != "error"
    assert agent.history("a", "b default")[0] == ("user", "hello")
    assert agent.history("a b")[0] == ("user", "never recommend horror")
    assert agent.chat("a\x1fb", "hi").action == "error"
    assert agent.chat("a", "hi", thread_id="b\x1fdefault").action == "error"


_ID = st.text(min_size=1, max_size=12).filter(lambda s: _valid(check_user_id, s))


def _valid(check: object, value: str) -> bool:
    try:
        check(value)  # type: ignore[operator]
    except ValueError:
        return False
    return True


@given(_ID, _ID, _ID, _ID)
def test_conversation_keys_are_injective(u1: str, t1: str, u2: str, t2: str) -> None:
    assert split_key(conversation_key(u1, t1)) == (u1, t1)
    if (u1, t1) != (u2, t2):
        assert conversation_key(u1, t1) != conversation_key(u2, t2)


def test_ids_are_checked_the_same_way() -> None:
    for bad in ["\ud800", "a\x1fb", "a\x00b", "", "  ", "x" * 257]:
        with pytest.raises(ValueError):
            check_user_id(bad)
        with pytest.raises(ValueError):
            check_thread_id(bad)
    for good in ["john_doe", "john-doe", "john%doe", "jo\u200bhn", "\u0458ohn", "x" * 256]:
        assert check_user_id(good) == good and check_thread_id(good) == good
