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


@pytest.mark.slow
def test_tune_data_serves_the_users_with_a_given_recommender(tiny_catalog: Path, tmp_path: Path) -> None:
    from agent.simulate.persona import persona_split
    from memory.feedback import FeedbackLog
    from memory.store import SQLiteStore
    from recsys.datasets import load_catalog
    from recsys.seqrec.data import from_catalog, leave_one_out
    from recsys.seqrec.recommender import create, save

    data = from_catalog(load_catalog(str(tiny_catalog)))
    rec = create("pop", data.item_ids)
    rec.fit(persona_split(leave_one_out(data), 3))
    served = save(rec, tmp_path / "pop")
    out = tmp_path / "run"
    argv = _tune_data(tiny_catalog, out, "--personas", "2", "--mcr", "0", "--list-size", "3")
    assert main([*argv, "--recommender-path", str(served)]) == 0
    store = SQLiteStore(out / "users" / "memory.sqlite")
    log = FeedbackLog(store)
    shown = [e.shown for u in log.users() for e in log.entries(u) if e.shown]
    store.close()
    assert shown and all(len(s) <= 3 for s in shown)
    assert (out / "lists.jsonl").is_file()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--seed", "1"], "evaluation seed"),
        (["--seed", "5000"], "evaluation seed"),
        (["--samples", "1"], "--samples must be 0"),
        (["--samples", "2"], "need a language model"),
        (["--personas", "0", "--mcr", "0", "--log", "nowhere"], "nothing to build from"),
        (["--list-size", "0"], "--list-size must be"),
        (["--recommender-path", "nowhere"], "no saved recommender"),
    ],
)
def test_tune_data_refuses_what_it_cannot_do(
    tmp_path: Path, extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tune", "data", "--out", str(tmp_path / "x"), *extra]) == 2
    assert message in capsys.readouterr().err
