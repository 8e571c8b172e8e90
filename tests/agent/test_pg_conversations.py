"""Conversations in PostgreSQL (issue 18, point 1): the advisory turn lock and the configuration.

The worker-process test (``test_processes.py``) shows no turn is lost end to end; these show
the lock itself: a second "worker" (its own connection pool, as another process or host has)
waits for the first one's turn, and gets the conversation at once when the first one dies.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from agent.api import AgentConfig
from agent.limits import conversation_key
from memory.health import StoreError
from recsys.settings import Settings


def _second_waits(first: object, second: object, held: str, wanted: str, hold_s: float) -> tuple[bool, float]:
    """Hold ``held`` in ``first`` up to ``hold_s``; whether ``second`` got ``wanted`` meanwhile, and its wait."""
    got = threading.Event()
    waited: list[float] = []

    def take() -> None:
        started = time.perf_counter()
        with second.locks.hold(wanted):  # type: ignore[attr-defined]
            waited.append(time.perf_counter() - started)
            got.set()

    with first.locks.hold(held):  # type: ignore[attr-defined]
        worker = threading.Thread(target=take)
        worker.start()
        during = got.wait(hold_s)
    worker.join(10)
    return during, waited[0]


def test_a_turn_of_one_conversation_waits_for_another_workers_turn(postgres_url: str) -> None:
    from agent.pg_conversations import PostgresConversations

    first, second = PostgresConversations(postgres_url), PostgresConversations(postgres_url)
    try:
        sofa, kitchen = conversation_key("ann", "sofa"), conversation_key("ann", "kitchen")
        during, waited = _second_waits(first, second, sofa, sofa, hold_s=0.5)
        assert not during and waited >= 0.5  # excluded while the first turn ran, then admitted
        other, _ = _second_waits(first, second, sofa, kitchen, hold_s=10)
        assert other  # another conversation never waits
    finally:
        first.close()
        second.close()


def test_a_dead_workers_lock_is_released_by_the_server(postgres_url: str) -> None:
    from agent.pg_conversations import PostgresConversations
    from memory.postgres import lock_key

    first, second = PostgresConversations(postgres_url), PostgresConversations(postgres_url)
    key = conversation_key("ann", "sofa")
    try:
        with first.pool.connection() as conn:
            conn.execute("SELECT pg_advisory_lock(%s, %s)", lock_key("turn", key))
            pid = conn.execute("SELECT pg_backend_pid() AS pid").fetchone()["pid"]
            with second.pool.connection() as admin:  # the worker's connection dies, as with a SIGKILL
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        started = time.perf_counter()
        with second.locks.hold(key):
            assert time.perf_counter() - started < 5
    finally:
        first.close()
        second.close()


def test_an_unreachable_database_fails_at_once_naming_it(tmp_path: Path) -> None:
    pytest.importorskip("langgraph.checkpoint.postgres")
    from agent.pg_conversations import PostgresConversations

    started = time.perf_counter()
    with pytest.raises(StoreError, match="cannot be used") as caught:
        PostgresConversations(f"postgresql://me:hunter2@/x?host={tmp_path}")
    assert time.perf_counter() - started < 10 and "hunter2" not in str(caught.value)


def test_the_database_url_is_configured_in_one_place(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASTEBUD_DATABASE_URL", "postgresql://u@db/tastebud")
    assert Settings.from_env().database_url == "postgresql://u@db/tastebud"
    monkeypatch.setenv("TASTEBUD_DATABASE_URL", "mysql://u@db/tastebud")
    with pytest.raises(ValueError, match="postgresql://"):
        Settings.from_env()
    with pytest.raises(ValueError, match="postgresql://"):
        AgentConfig(database_url="sqlite:///x.db")


def test_no_free_connection_for_a_turn_is_a_store_error_and_loses_nothing(
    postgres_url: str, tmp_path: Path, settings: Settings
) -> None:
    """Every pooled connection busy past the pool's wait: the turn fails naming the database, then works."""
    from agent.api import Agent
    from agent.llm import BackendConfig
    from agent.pg_conversations import POOL_SIZE

    config = AgentConfig(
        backend=BackendConfig(kind="template"), recommender="itemknn", policy="maxent", retrieval=False
    )
    agent = Agent.from_config(config, settings, data_dir=tmp_path, database_url=postgres_url)
    try:
        agent.chat("ann", "I love comedies", "sofa")
        pool = agent.conversations.pool  # type: ignore[union-attr]
        pool.timeout = 0.5  # the pool's wait for a free connection (30 s by default)
        held = [pool.getconn() for _ in range(POOL_SIZE)]
        try:
            with pytest.raises(StoreError, match="cannot be used") as caught:
                agent.chat("ann", "something for tonight", "sofa")
            assert "connection" in str(caught.value)
        finally:
            for conn in held:
                pool.putconn(conn)
        reply = agent.chat("ann", "something for tonight", "sofa")
        assert reply.text
        said = [text for role, text in agent.history("ann", "sofa") if role == "user"]
        assert said == ["I love comedies", "something for tonight"]  # the failed turn left nothing half-done
    finally:
        agent.close()
