"""``tastebud simulate`` and ``tastebud train policy`` through the command line on a tiny catalog.

A trained policy is evaluated with ``--policy learned[:PATH]`` / ``tree[:PATH]``; without Ray the
run happens in this process with a one-line note; the default report folder is the one the help states.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from agent.learning import checkpoint
from agent.learning.features import FeatureConfig
from agent.learning.network import QNet, QNetConfig
from tastebud.cli import main

REPO = Path(__file__).resolve().parents[2]


def last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def simulate(catalog: Path, out: Path, *flags: str) -> list[str]:
    return ["simulate", "--dataset", str(catalog), "--episodes", "6", "--no-ray", "--no-progress", "--json"] + [
        "--out",
        str(out),
        *flags,
    ]


def fixed_action_checkpoint(folder: Path, action: int, question: str = "multi") -> Path:
    """A real checkpoint whose Q-network prefers one action index everywhere (0 = recommend, 1 = first question)."""
    features = FeatureConfig(question=question)
    net = QNet(QNetConfig(dim=features.dim, actions=features.actions, hidden=4, layers=1))
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
        net.members[0][-1].bias[action] = 100.0
    return checkpoint.save(folder, net, features, {"dataset": "tiny", "question": question})


def test_a_learned_checkpoint_decides_the_simulated_episodes(
    tiny_catalog: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    figures = {}
    for name, action in (("recommend", 0), ("ask", 1)):
        folder = fixed_action_checkpoint(tmp_path / name, action)
        assert main(simulate(tiny_catalog, tmp_path / f"run-{name}", "--policy", f"learned:{folder}")) == 0
        payload = last_json(capsys.readouterr().out)
        assert payload["policy_checkpoint"] == str(folder) and payload["in_process"]
        figures[name] = payload["figures"]
    assert figures["recommend"]["questions_per_episode"] == 0
    assert figures["ask"]["questions_per_episode"] > 0  # few candidates force a list after a question or two


def test_train_policy_then_simulate_the_saved_policy_and_its_tree(
    tiny_catalog: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = ["--cache-dir", str(tmp_path / "cache")]
    train = [*cache, "train", "policy", "--dataset", str(tiny_catalog), "--episodes", "30", "--no-progress"]
    assert main([*train, "--out", str(tmp_path / "train"), "--json"]) == 0
    saved = Path(last_json(capsys.readouterr().out)["checkpoint"])
    assert saved.parent == tmp_path / "cache" / "models"
    for policy in ("learned", "tree"):  # without PATH: where 'train policy' saved for this catalog
        assert main([*cache, *simulate(tiny_catalog, tmp_path / policy, "--policy", policy)]) == 0
        payload = last_json(capsys.readouterr().out)
        assert payload["policy_checkpoint"] == str(saved)
        assert 0 <= payload["figures"]["SR@15"] <= 1
        assert (tmp_path / policy / "report.md").is_file()


def test_a_missing_or_mismatched_checkpoint_is_a_clear_error(
    tiny_catalog: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(simulate(tiny_catalog, tmp_path / "a", "--policy", f"learned:{tmp_path / 'none'}")) == 2
    assert "tastebud train policy" in capsys.readouterr().err
    binary = fixed_action_checkpoint(tmp_path / "binary", 0, question="binary")
    assert main(simulate(tiny_catalog, tmp_path / "b", "--policy", f"learned:{binary}")) == 2
    assert "--question binary" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(simulate(tiny_catalog, tmp_path / "c", "--policy", "clever"))
    assert "unknown policy 'clever'" in capsys.readouterr().err


def test_without_ray_the_run_happens_in_process_with_one_note(tiny_catalog: Path, tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "sys.modules['ray'] = None  # any 'import ray' now raises ImportError, as without the scale extra\n"
        "from tastebud.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    argv = ["simulate", "--dataset", str(tiny_catalog), "--episodes", "4", "--no-progress", "--json"]
    result = subprocess.run(
        [sys.executable, "-c", script, *argv, "--out", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    notes = [line for line in result.stderr.splitlines() if "Ray is not installed" in line]
    assert len(notes) == 1 and "in this process" in notes[0]
    assert last_json(result.stdout)["in_process"] is True


def test_the_default_report_folder_is_the_one_the_help_states(
    tiny_catalog: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    argv = ["simulate", "--dataset", str(tiny_catalog), "--episodes", "3", "--no-ray", "--no-progress", "--seed", "7"]
    assert main([*argv, "--policy", "random", "--json"]) == 0
    report = Path(last_json(capsys.readouterr().out)["report"])
    assert report == Path("runs/simulate/mcr-fast-random-multi-7/report.md")
    assert (tmp_path / report).is_file()
    with pytest.raises(SystemExit):
        main(["simulate", "--help"])
    assert "runs/simulate/<mode>-<engine>-<policy>-<question>-<seed>" in "".join(capsys.readouterr().out.split())


def test_without_json_the_summary_is_for_people(
    tiny_catalog: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = simulate(tiny_catalog, tmp_path / "run")
    argv.remove("--json")
    assert main(argv) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith("report: ") and "SR@15" in lines[-2]
