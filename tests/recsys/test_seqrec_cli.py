"""``tastebud train seqrec`` contract: flags parse, the last stdout line is one JSON object, --save loads back."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from recsys.seqrec import cli
from recsys.seqrec.losses import initial_logit
from recsys.seqrec.recommender import create, load


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(argv)


def test_json_is_the_last_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    args = _parse(["--model", "pop", "--json", "--save", str(tmp_path / "pop"), "--protocols", "full"])
    assert cli.run(args) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    result = json.loads(last)
    assert result["model"] == "pop" and set(result["test"]) == {"full"}
    assert 0.0 < result["test"]["full"]["ndcg@10"] < 1.0
    assert load(tmp_path / "pop").kind == "pop"


def test_neural_flags_reach_the_model(capsys: pytest.CaptureFixture[str]) -> None:
    args = _parse(
        ["--model", "sasrec-ce", "--epochs", "1", "--max-len", "10", "--d-model", "8", "--n-heads", "1"]
        + [
            "--n-layers",
            "1",
            "--post-norm",
            "--exclude-seen",
            "--max-steps-per-epoch",
            "2",
            "--device",
            "cpu",
            "--no-progress",
            "--no-save",  # the default target is the agent's model folder in the user cache
            "--json",
            "--protocols",
            "full",
        ]
    )
    assert cli.run(args) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["config"]["model"]["max_len"] == 10 and result["config"]["model"]["d_model"] == 8
    assert result["config"]["model"]["post_norm"] is True
    assert result["config"]["loss"]["exclude_seen"] is True
    assert "post_norm" not in cli.model_overrides(_parse(["--model", "sasrec-ce"]))  # absent flag keeps the default
    assert result["epochs_trained"] == 1


def test_negative_sampling_flags_reach_the_loss() -> None:
    overrides = cli.model_overrides(_parse(["--model", "gsasrec", "--negatives", "16", "--gbce-t", "0.5"]))
    assert overrides["loss.n_negatives"] == 16 and overrides["loss.gbce_t"] == 0.5
    rec = create("gsasrec", [str(i) for i in range(100)], overrides, seed=0)
    assert (rec.loss.n_negatives, rec.loss.gbce_t) == (16, 0.5)
    assert rec.config()["model"]["logit_bias"] == pytest.approx(initial_logit(rec.loss, 100))
    assert "loss.n_negatives" not in cli.model_overrides(_parse(["--model", "gsasrec"]))
    with pytest.raises(AssertionError, match="sampled losses"):
        create(
            "sasrec-ce", ["a", "b", "c"], cli.model_overrides(_parse(["--model", "sasrec-ce", "--negatives", "4"])), 0
        )


def test_eval_every_reaches_the_train_config() -> None:
    assert cli.train_config(_parse(["--eval-every", "5"])).eval_every == 5
    assert cli.train_config(_parse([])).eval_every == 1


def test_sampler_reaches_the_train_config() -> None:
    assert cli.train_config(_parse(["--sampler", "users"])).sampler == "users"
    assert cli.train_config(_parse([])).sampler == "windows"
    assert cli.train_config(_parse(["--loss-norm", "epoch"])).loss_norm == "epoch"
    assert cli.train_config(_parse([])).loss_norm == "batch"
    with pytest.raises(AssertionError, match="no window_stride"):
        cli.train_config(_parse(["--sampler", "users", "--window-stride", "8"]))


def test_data_parallel_run_reports_once(tmp_path: Path) -> None:
    """Two CPU processes under torchrun (gloo): both train, only the main one tests, saves and prints."""
    repo = Path(__file__).resolve().parents[2]
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "recsys.seqrec.cli",
    ]
    command += ["--model", "sasrec-bce", "--epochs", "1", "--max-steps-per-epoch", "3", "--max-len", "10"]
    command += ["--d-model", "8", "--n-heads", "1", "--n-layers", "1", "--device", "cpu", "--no-progress"]
    command += ["--protocols", "full", "--save", str(tmp_path / "model"), "--json"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(repo)}
    done = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1, done.stdout
    assert json.loads(lines[0])["epochs_trained"] == 1
    assert load(tmp_path / "model").kind == "sasrec-bce"
    assert done.stderr.count("epoch 1 loss") == 2  # each process trained on its own shard
