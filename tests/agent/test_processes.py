"""Several worker processes on one data folder or database and one conversation (issue 18, point 1).

A web app runs several worker processes; a tester saw 76 of 320 turns vanish from a
conversation's history when two of them served it, because the per-conversation lock lived in
one process. The workers here are real processes with real agents (``benchmarks/reliability.py``,
which runs the same at the acceptance size of 320 turns), released together so their turns
overlap: two processes on one conversation, then four on another; on SQLite (a file lock) and on
PostgreSQL (an advisory lock).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.reliability import Config, run_rounds


@pytest.mark.slow
@pytest.mark.parametrize("database", ["sqlite", "postgresql"], indirect=True)
def test_two_and_four_worker_processes_on_one_conversation_lose_no_turn(tmp_path: Path, database: str | None) -> None:
    rounds = run_rounds(tmp_path / "data", Config(rounds=(2, 4), turns=12), database_url=database)
    assert [(r["workers"], r["turns_kept"]) for r in rounds] == [(2, 12), (4, 12)], rounds
