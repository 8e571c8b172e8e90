"""Published splits and episodes: ``--split-files TRAIN VALID TEST`` and ``--episodes-file`` are used as given.

The recommender never sees a test or episode pair; episodes run in file order with the stated
histories; ``train policy`` learns on the valid pairs and is evaluated on the files' episodes.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from agent.simulate.mcr import Environment, MCRConfig
from recsys.datasets import load_catalog
from tastebud.cli import main


def last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture(scope="module")
def files(tiny_catalog: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A split of the tiny catalog's interactions unlike leave-one-out: per user, the first item is
    test, the second valid, the rest train; users u0-u3 have a second test item; and an episodes file."""
    folder = tmp_path_factory.mktemp("split")
    with (tiny_catalog / "interactions.csv").open() as f:
        rows = list(csv.DictReader(f))
    by_user: dict[str, list[str]] = {}
    for row in rows:
        by_user.setdefault(row["user"], []).append(row["item"])
    train, valid, test = [], [], []
    for user, items in by_user.items():
        n_test = 2 if user in ("u0", "u1", "u2", "u3") else 1
        test += [[user, i] for i in items[:n_test]]
        valid.append([user, items[n_test]])
        train += [[user, i] for i in items[n_test + 1 :]]
    episodes = [["u5", by_user["u5"][0]], ["u2", by_user["u2"][1]], ["u9", by_user["u9"][0]]]
    return {
        "train": write_csv(folder / "train.csv", ["user", "item"], train),
        "valid": write_csv(folder / "valid.csv", ["user", "item"], valid),
        "test": write_csv(folder / "test.csv", ["user", "item"], test),
        "episodes": write_csv(folder / "episodes.csv", ["user", "target"], episodes),
        "_by_user": by_user,  # each user's item ids in the catalog's interaction order
    }


def split_flags(files: dict) -> tuple[str, str, str]:
    return (str(files["train"]), str(files["valid"]), str(files["test"]))


def test_split_files_train_the_recommender_on_train_only_and_run_every_test_pair_in_order(
    tiny_catalog: Path, files: dict
) -> None:
    catalog = load_catalog(str(tiny_catalog))
    env = Environment(catalog, MCRConfig(split_files=split_flags(files)))
    by_user = files["_by_user"]
    index = catalog.index
    # every test pair, in file order; history = train + valid items of the user
    expected = [
        (u, index[i]) for u, items in by_user.items() for i in items[: 2 if u in ("u0", "u1", "u2", "u3") else 1]
    ]
    assert [(t.user_id, t.item) for t in env.targets] == expected
    first = env.targets[0]  # u0's first test item; its history is the rest of u0's items after the test pair
    assert set(first.history) == {index[i] for i in by_user["u0"][2:]}
    # the recommender's training data holds no test or valid item of any user
    train = {env.split.data.user_ids[n]: set((seq - 1).tolist()) for n, seq in enumerate(env.split.train)}
    assert all(t.item not in train.get(t.user_id, set()) for t in env.targets)
    assert all(t.item not in train.get(t.user_id, set()) for t in env.pool or [])
    assert [t.user_id for t in env.pool or []] == list(by_user)  # one valid pair each: what a policy learns on
    assert env.sample(3, seed=99) == env.targets[:3]  # fixed episodes are taken in order, never drawn


def test_an_episodes_file_without_split_files_keeps_its_pairs_out_of_everything_fitted(
    tiny_catalog: Path, files: dict
) -> None:
    catalog = load_catalog(str(tiny_catalog))
    env = Environment(catalog, MCRConfig(episodes_file=str(files["episodes"])))
    by_user, index = files["_by_user"], catalog.index
    assert [(t.user_id, t.item) for t in env.targets] == [
        ("u5", index[by_user["u5"][0]]),
        ("u2", index[by_user["u2"][1]]),
        ("u9", index[by_user["u9"][0]]),
    ]
    sequences = {u: set((s - 1).tolist()) for u, s in zip(env.split.data.user_ids, env.split.data.sequences)}
    for t in env.targets:
        assert t.item not in sequences[t.user_id] and t.item not in t.history
        assert len(t.history) == len(by_user[t.user_id]) - 1


def test_simulate_runs_the_episodes_file_as_given(
    tiny_catalog: Path, files: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["simulate", "--dataset", str(tiny_catalog), "--no-ray", "--no-progress", "--json", "--out", str(tmp_path)]
    assert main([*argv, "--split-files", *split_flags(files), "--episodes-file", str(files["episodes"])]) == 0
    payload = last_json(capsys.readouterr().out)
    assert payload["episodes"] == 3  # all the file gives, by default
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    by_user = files["_by_user"]
    assert [(r["user_id"], r["item"]) for r in rows] == [
        ("u5", by_user["u5"][0]),
        ("u2", by_user["u2"][1]),
        ("u9", by_user["u9"][0]),
    ]
    assert main([*argv, "--split-files", *split_flags(files), "--episodes", "2"]) == 0
    assert last_json(capsys.readouterr().out)["episodes"] == 2


def test_train_policy_learns_on_valid_pairs_and_is_evaluated_on_the_files_episodes(
    tiny_catalog: Path, files: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flags = ["--dataset", str(tiny_catalog), "--split-files", *split_flags(files)]
    flags += ["--episodes-file", str(files["episodes"])]
    save = tmp_path / "policy"
    argv = ["train", "policy", *flags, "--episodes", "20", "--no-progress", "--json"]
    assert main([*argv, "--out", str(tmp_path / "run"), "--save", str(save)]) == 0
    payload = last_json(capsys.readouterr().out)
    assert payload["held_out_targets"] == 3 and set(payload["held_out"]) >= {"learned", "tree", "maxent"}
    sim = ["simulate", *flags, "--policy", f"learned:{save}", "--no-ray", "--no-progress", "--json"]
    assert main([*sim, "--out", str(tmp_path / "sim")]) == 0
    assert last_json(capsys.readouterr().out)["episodes"] == 3


def test_bad_files_are_refused_with_file_line_and_field(
    tiny_catalog: Path, files: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["simulate", "--dataset", str(tiny_catalog), "--no-ray", "--no-progress", "--out", str(tmp_path)]
    two = write_csv(tmp_path / "two.csv", ["user", "target", "target2"], [["u1", "i1", "i2"]])
    assert main([*argv, "--episodes-file", str(two)]) == 2
    assert "two.csv, line 2, field 'target2'" in capsys.readouterr().err
    unknown = write_csv(tmp_path / "unknown.csv", ["user", "target"], [["u1", "i1"], ["u2", "nope"]])
    assert main([*argv, "--episodes-file", str(unknown)]) == 2
    assert "unknown.csv, line 3, field 'target'" in capsys.readouterr().err
    assert main([*argv, "--mode", "persona", "--episodes-file", str(files["episodes"])]) == 2
    assert "apply to --mode mcr" in capsys.readouterr().err
