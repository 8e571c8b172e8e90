"""``tastebud tune data`` end to end on a tiny catalog (issue 17, point 2): real agent, real log, real files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.tuning.data import read_jsonl
from tastebud.cli import main


def _tune_data(catalog: Path, out: Path, *extra: str) -> list[str]:
    return ["tune", "data", "--dataset", str(catalog), "--out", str(out), "--max-turns", "3", "--json", *extra]


@pytest.mark.slow
def test_tune_data_simulates_users_and_writes_the_datasets(
    tiny_catalog: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert main(_tune_data(tiny_catalog, out, "--personas", "1", "--mcr", "1")) == 0
    payload = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert payload == json.loads((out / "summary.json").read_text())
    cost = payload["edit_cost"]
    assert cost["users"] == 2 and cost["replies"] > 0 and cost["cost_per_reply_mean"] >= 0
    assert cost["template_fallback_share"] == 1.0  # the template backend writes no prose of its own
    edits = list(read_jsonl(out / "edits.jsonl"))
    assert len(edits) == cost["replies"] and {e["user_id"] for e in edits} == {"persona-170017-0", "sim-170017-0"}
    assert payload["log_entries"] > 0 and (out / "users" / "memory.sqlite").is_file()
    for name in ("pairs", "unpaired", "lists"):
        assert len(list(read_jsonl(out / f"{name}.jsonl"))) == payload["sizes"][name]
    # The run's folder is never written over.
    assert main(_tune_data(tiny_catalog, out, "--personas", "1", "--mcr", "0")) == 2
    assert "already holds a run" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--seed", "1"], "evaluation seed"),
        (["--seed", "5000"], "evaluation seed"),
        (["--samples", "1"], "--samples must be 0"),
        (["--samples", "2"], "need a language model"),
        (["--personas", "0", "--mcr", "0", "--log", "nowhere"], "nothing to build from"),
    ],
)
def test_tune_data_refuses_what_it_cannot_do(
    tmp_path: Path, extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tune", "data", "--out", str(tmp_path / "x"), *extra]) == 2
    assert message in capsys.readouterr().err
