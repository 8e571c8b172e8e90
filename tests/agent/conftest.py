"""Agent fixtures: a real agent (template backend, item-kNN recommender) over the embedded catalog."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agent.api import Agent, AgentConfig
from agent.llm import BackendConfig
from recsys.settings import Settings

# Pinned: "auto" would pick up whatever policy or model a developer trained into the real cache.
TEMPLATE = AgentConfig(backend=BackendConfig(kind="template"), recommender="itemknn", policy="maxent")


@pytest.fixture()
def make_agent(tmp_path: Path, settings: Settings, database: str | None) -> Iterator[Callable[..., Agent]]:
    """Build agents over one data folder (or one PostgreSQL database, when a test parametrizes
    ``database``); a second call after ``close()`` is a restart."""
    agents: list[Agent] = []

    def make(**overrides: object) -> Agent:
        overrides = {"database_url": database, **overrides}
        agent = Agent.from_config(TEMPLATE, settings, data_dir=tmp_path / "data", **overrides)
        agents.append(agent)
        return agent

    yield make
    for agent in agents:
        try:
            agent.close()
        except Exception:  # already closed by the test (a restart)
            pass


@pytest.fixture()
def agent(make_agent: Callable[..., Agent]) -> Agent:
    return make_agent()
