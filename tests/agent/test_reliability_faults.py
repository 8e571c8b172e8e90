"""The fault runs of ``benchmarks/reliability.py`` at a small size: nothing lost, leaked or crossed.

Issue 18's held results must keep holding: SIGKILLs mid-turn lose no acknowledged memory
change; injection messages and malformed input leak and change nothing of another user; users
with look-alike ids never read each other's data. The benchmark runs the same at full size.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.reliability_faults import bad_input_cases, cross_user_reads, sigkill_trials


@pytest.mark.slow
def test_bad_inputs_and_lookalike_ids(tmp_path: Path) -> None:
    bad = bad_input_cases(tmp_path / "bad")
    assert bad["cases"] >= 25 and bad["must_refuse"] >= 10, bad
    assert bad["refused"] == bad["must_refuse"], bad
    assert (bad["raised"], bad["leaks"], bad["alice_changed"], bad["refused_but_stored"]) == (0, 0, 0, 0), bad
    assert bad["bytes_added_by_10mb_message_and_a_turn"] < 1_000_000, bad
    cross = cross_user_reads(tmp_path / "cross", rounds=1)
    assert cross["reads"] == 3 * cross["users"] == 30, cross
    assert (cross["cross_user_reads"], cross["own_rule_missing"]) == (0, 0), cross


@pytest.mark.slow
def test_sigkill_mid_turn_loses_no_acknowledged_change(tmp_path: Path) -> None:
    out = sigkill_trials(tmp_path / "data", trials=1, workers=2, seed=1)
    assert out["kills"] == 2 and out["acknowledged_changes"] > 0, out
    assert (out["changes_lost"], out["turns_lost"], out["integrity_failures"]) == (0, 0, 0), out
