"""Typed item attributes (items.jsonl ``attributes``, RecBole token_seq columns) as askable attribute types."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from agent.simulate.mcr import MCRConfig
from agent.simulate.runner import SimulationConfig
from recsys.attributes import AttributeConfig, AttributeSpace
from recsys.datasets import load_catalog
from tastebud.cli import main

MOODS = ("calm", "dark", "happy", "tense")  # the values tests/conftest.py's ``tagged`` catalog is written with
TAGS = ("jazz", "rock", "folk", "live", "cover", "piano", "vocal", "remix")


def last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def test_chosen_attribute_keys_become_types_with_hand_checked_membership(tagged: Path) -> None:
    catalog = load_catalog(str(tagged))
    space = AttributeSpace(catalog, AttributeConfig(attributes=("mood", "tags", "plays"), min_items=5))
    assert set(space.types) == {"mood", "tags", "plays"}  # no genres, years or KG in this catalog
    assert {space.values[j].value for j in space.types["mood"]} == set(MOODS)
    assert {space.values[j].value for j in space.types["plays"]} == {"0", "1", "2"}  # numbers read as text
    item = catalog.items[9]  # mood MOODS[1], tags include TAGS[1]
    assert {v.key for v in space.of_item(9, "mood")} == {f"mood={item.attributes['mood']}"}
    assert {v.value for v in space.of_item(9, "tags")} == set(item.attributes["tags"]) & {
        space.values[j].value for j in space.types["tags"]
    }
    assert space.mask("mood", "dark").sum() == 20  # every fourth item
    rare = AttributeSpace(catalog, AttributeConfig(attributes=("tags",), min_items=30))
    assert all(space.mask("tags", rare.values[j].value).sum() >= 30 for j in rare.types.get("tags", []))


def test_a_catalog_whose_only_attributes_are_typed_says_what_to_pass(
    tagged: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["simulate", "--dataset", str(tagged), "--episodes", "6", "--no-ray", "--no-progress", "--json"]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert "no held-out item has an askable attribute" in err
    assert "mood (80 items)" in err and "--attributes" in err
    typed = ["--attributes", "mood", "tags", "--open-types", "mood"]
    assert main([*argv, *typed, "--out", str(tmp_path / "b")]) == 0
    rows = [json.loads(line) for line in (tmp_path / "b" / "results.jsonl").read_text().splitlines()]
    assert all(r["opening"].startswith("mood=") for r in rows)  # the chosen opening type
    assert last_json(capsys.readouterr().out)["figures"]["questions_per_episode"] >= 0


@pytest.mark.parametrize("question", ["multi", "binary"])
def test_train_policy_and_simulate_learned_on_typed_attributes(
    tagged: Path, tmp_path: Path, question: str, capsys: pytest.CaptureFixture[str]
) -> None:
    typed = ["--dataset", str(tagged), "--attributes", "mood", "tags", "--question", question, "--min-items", "3"]
    save = tmp_path / "policy"
    train = ["train", "policy", *typed, "--episodes", "20", "--no-progress", "--json", "--save", str(save)]
    assert main([*train, "--out", str(tmp_path / "run")]) == 0
    assert last_json(capsys.readouterr().out)["held_out"]["learned"]["SR@15"] >= 0
    for policy in ("maxent", "random", "always-recommend", f"learned:{save}", f"tree:{save}"):
        sim = ["simulate", *typed, "--episodes", "5", "--policy", policy, "--no-ray", "--no-progress", "--json"]
        assert main([*sim, "--out", str(tmp_path / "sim")]) == 0
        assert last_json(capsys.readouterr().out)["episodes"] == 5


def test_recbole_token_seq_columns_are_list_attributes(tmp_path: Path) -> None:
    folder = tmp_path / "songs"  # an atomic folder holds NAME.item and NAME.inter
    folder.mkdir()
    lines = ["item_id:token\ttitle:token_seq\ttags:token_seq\tmood:token"]
    lines += [f"{i}\tSong {i}\t{TAGS[i % 3]} {TAGS[3 + i % 2]}\t{MOODS[i % 2]}" for i in range(12)]
    (folder / "songs.item").write_text("\n".join(lines) + "\n")
    (folder / "songs.inter").write_text(
        "user_id:token\titem_id:token\n" + "".join(f"u{u}\t{i}\n" for u in range(3) for i in range(12))
    )
    catalog = load_catalog(str(folder))
    assert catalog.get("4").attributes == {"tags": ["rock", "live"], "mood": "calm"}  # TAGS[4 % 3], TAGS[3 + 4 % 2]
    space = AttributeSpace(catalog, AttributeConfig(attributes=("tags", "mood"), relations=(), min_items=4))
    assert space.mask("tags", "live").sum() == 6 and space.mask("mood", "dark").sum() == 6


def test_typed_attributes_are_refused_where_the_agent_would_have_to_read_them() -> None:
    with pytest.raises(ValueError, match="fast MCR engine only"):
        SimulationConfig(engine="agent", mcr=MCRConfig(attributes=("mood",)))
    with pytest.raises(ValueError, match="share a name"):
        AttributeConfig(attributes=("genre",))


def test_typed_attributes_with_own_split_and_episodes_through_train_and_every_policy(
    tagged: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The acceptance catalog: several attribute types, its own split files and episode file.
    with (tagged / "interactions.csv").open() as f:
        rows = list(csv.DictReader(f))
    parts: dict[str, list[list[str]]] = {"train": [], "valid": [], "test": []}
    for n, row in enumerate(rows):  # 12 per user in order: 10 train, 1 valid, 1 test
        part = "train" if n % 12 < 10 else "valid" if n % 12 == 10 else "test"
        parts[part].append([row["user"], row["item"]])
    paths = []
    for name, part in parts.items():
        with (tmp_path / f"{name}.csv").open("w", newline="") as f:
            csv.writer(f).writerows([["user", "item"], *part])
        paths.append(str(tmp_path / f"{name}.csv"))
    with (tmp_path / "episodes.csv").open("w", newline="") as f:
        csv.writer(f).writerows([["user", "target"], *parts["test"][:4]])
    flags = ["--dataset", str(tagged), "--attributes", "mood", "tags", "plays", "--open-types", "any"]
    flags += ["--split-files", *paths, "--episodes-file", str(tmp_path / "episodes.csv")]
    save = tmp_path / "policy"
    train = ["train", "policy", *flags, "--episodes", "20", "--no-progress", "--json", "--save", str(save)]
    assert main([*train, "--out", str(tmp_path / "run")]) == 0
    assert last_json(capsys.readouterr().out)["held_out_targets"] == 4
    for policy in ("maxent", "random", "always-recommend", f"learned:{save}", f"tree:{save}"):
        sim = ["simulate", *flags, "--policy", policy, "--no-ray", "--no-progress", "--json"]
        assert main([*sim, "--out", str(tmp_path / "sim")]) == 0
        assert last_json(capsys.readouterr().out)["episodes"] == 4
        results = (tmp_path / "sim" / "results.jsonl").read_text().splitlines()
        assert [(json.loads(r)["user_id"], json.loads(r)["item"]) for r in results] == [
            tuple(p) for p in parts["test"][:4]
        ]
