"""Damaged conversation files and the ``tastebud store`` commands (issue 18, point 2).

A damaged conversation file used to raise a ``DatabaseError`` naming no file, or be silently
ignored; a 0-byte one silently reset every user's history. Now opening refuses it with the
file and the fix, before anything slow loads, and ``tastebud store`` checks, backs up and restores.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.api import Agent, AgentConfig
from agent.conversations import Conversations
from agent.llm import BackendConfig
from memory.health import DAMAGES, StoreError, damage_file
from recsys.settings import Settings
from tastebud.cli import main

CONFIG = AgentConfig(backend=BackendConfig(kind="template"), recommender="itemknn", policy="maxent", retrieval=False)
TURNS = ["never recommend horror", "a comedy please", "the 1990s"]


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory, settings: Settings) -> Iterator[Path]:
    """A data folder with two users' memory and conversations, written by a real agent."""
    folder = tmp_path_factory.mktemp("filled")
    agent = Agent.from_config(CONFIG, settings, data_dir=folder)
    for user in ("ann", "bob"):
        for message in TURNS:
            agent.chat(user, message)
    agent.close()
    yield folder


@pytest.fixture()
def data(filled: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    shutil.copytree(filled, folder, ignore=shutil.ignore_patterns("*.lock", "locks"))
    return folder


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("how", DAMAGES)
def test_a_damaged_conversation_file_is_a_clear_error(data: Path, how: str, seed: int) -> None:
    path = data / "conversations.sqlite"
    damage_file(path, how, seed)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(StoreError) as err:
        Conversations(data)
    assert str(path) in str(err.value) and "tastebud store restore" in str(err.value)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


@pytest.mark.parametrize("name", ["conversations.sqlite", "memory.sqlite"])
def test_the_agent_refuses_a_damaged_file_before_loading_anything(data: Path, settings: Settings, name: str) -> None:
    (data / name).write_bytes(b"")
    started = time.perf_counter()
    with pytest.raises(StoreError, match=f"{name}: the file is empty"):
        Agent.from_config(CONFIG, settings, data_dir=data)
    assert time.perf_counter() - started < 2.0  # the catalog and models were not loaded first


def test_store_check_backup_restore_round_trip(
    data: Path, tmp_path: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["store", "check", "--data-dir", str(data), "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [f["ok"] for f in report["files"]] == [True, True]
    assert main(["store", "backup", str(tmp_path / "bk"), "--data-dir", str(data)]) == 0
    damage_file(data / "conversations.sqlite", "random-4k", 0)
    (data / "memory.sqlite").write_bytes(b"")
    assert main(["store", "check", "--data-dir", str(data), "--json"]) == 2
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [f["ok"] for f in report["files"]] == [False, False]
    assert main(["store", "restore", str(tmp_path / "bk"), "--data-dir", str(data)]) == 0
    agent = Agent.from_config(CONFIG, settings, data_dir=data)
    try:
        assert [text for _, text in agent.history("ann")][::2] == TURNS
        assert [r["text"] for r in agent.memory.list("bob")["instructions"]] == ["never recommend horror"]
        # not under a running agent: refused whole, with the reason
        assert main(["store", "restore", str(tmp_path / "bk"), "--data-dir", str(data)]) == 2
        assert "open in a running Tastebud process" in capsys.readouterr().err
    finally:
        agent.close()


def test_store_commands_fail_clearly(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["store", "restore", str(tmp_path / "nothing"), "--data-dir", str(data)]) == 2
    assert "to restore from" in capsys.readouterr().err
    assert main(["store", "backup", str(tmp_path / "bk"), "--data-dir", str(tmp_path / "empty")]) == 2
    assert "no memory or conversation file to back up" in capsys.readouterr().err


def test_chat_on_a_damaged_folder_exits_2_naming_the_file(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (data / "memory.sqlite").write_bytes(b"")
    argv = ["chat", "--user", "ann", "--message", "hi", "--backend", "template", "--data-dir", str(data)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "memory.sqlite: the file is empty" in err and "tastebud store restore" in err
