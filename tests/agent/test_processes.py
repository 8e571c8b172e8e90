"""Several worker processes on one data folder and one conversation (issue 18, point 1, SQLite).

A web app runs several worker processes; a tester saw 76 of 320 turns vanish from a
conversation's history when two of them served it, because the per-conversation lock lived in
one process. The workers here are real processes with real agents (``benchmarks/reliability.py``,
which runs the same at the acceptance size of 320 turns), released together so their turns
overlap: two processes on one conversation, then four on another.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.reliability import Config, run_rounds


@pytest.mark.slow
def test_two_and_four_worker_processes_on_one_conversation_lose_no_turn(tmp_path: Path) -> None:
    rounds = run_rounds(tmp_path / "data", Config(rounds=(2, 4), turns=12))
    assert [(r["workers"], r["turns_kept"]) for r in rounds] == [(2, 12), (4, 12)], rounds
