"""Protocol presets (``--protocol tastebud|scpr|mcmipl``): each rule pinned on hand-computed episodes.

The hand catalog has 14 items with a colour and a list of shapes, no genres or years:

    item  colour  shapes          training count (popularity: the ranking)
    h0    red     round           14
    h1    red     square          13   <- u0's history (valid file)
    h2    red     round, star     12
    h3    blue    round           11
    h4    blue    square          10
    h5    blue    star             9
    h6    green   round            8
    h7    green   square, star     7
    h8    red     star             6
    h9    blue    round, square    5
    h10   green   star             4
    h11   red     square           3
    h12   blue    round, star      2
    h13   green   round            1

The recommender is popularity (``pop``) fitted on the train file, so candidates rank h0 > h1 > ...
A scripted policy plays fixed actions; every candidate set, success turn, rank and hDCG below is
computed by hand from the table. The last tests run the synthetic typed-attribute catalog with its
own split files and episode file through ``simulate`` (every policy) and ``train policy`` per preset.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from agent.policy import Ask, Observation, Recommend
from agent.simulate.episodes import read_episodes
from agent.simulate.mcr import Environment, Episode, MCRConfig, run_fast
from agent.simulate.metrics import hdcg, mcr_metrics
from agent.simulate.protocols import MCMIPL, PROTOCOLS, SCPR, TASTEBUD, after_answer
from agent.simulate.runner import SimulationConfig
from recsys.datasets import load_catalog
from recsys.errors import CatalogFormatError
from tastebud.cli import main

COLOURS = (
    "red",
    "red",
    "red",
    "blue",
    "blue",
    "blue",
    "green",
    "green",
    "red",
    "blue",
    "green",
    "red",
    "blue",
    "green",
)
SHAPES = (
    ["round"],
    ["square"],
    ["round", "star"],
    ["round"],
    ["square"],
    ["star"],
    ["round"],
    ["square", "star"],
    ["star"],
    ["round", "square"],
    ["star"],
    ["square"],
    ["round", "star"],
    ["round"],
)


def write_csv(path: Path, header: list[str], rows: Sequence[Sequence[str]]) -> str:
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    return str(path)


@pytest.fixture(scope="module")
def hand(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("hand")
    with (folder / "items.jsonl").open("w") as f:
        for i in range(14):
            attributes = {"colour": COLOURS[i], "shape": SHAPES[i]}
            f.write(json.dumps({"id": f"h{i}", "title": f"Hand {i}", "attributes": attributes}) + "\n")
    # item h<j> is in the training sequences of 14 - j filler users: popularity ranks h0 first
    train = [[f"f{u}", f"h{j}"] for j in range(14) for u in range(14 - j)]
    write_csv(folder / "interactions.csv", ["user", "item"], [*train, ["u0", "h1"], ["u0", "h12"]])
    return {
        "catalog": str(folder),
        "train": write_csv(folder / "train.csv", ["user", "item"], train),
        "valid": write_csv(folder / "valid.csv", ["user", "item"], [["u0", "h1"]]),
        "test": write_csv(folder / "test.csv", ["user", "item"], [["u0", "h12"]]),
        "one": write_csv(folder / "one.csv", ["user", "target"], [["u0", "h12"], ["u0", "h11"]]),
        "two": write_csv(folder / "two.csv", ["user", "target", "target2"], [["u0", "h12", "h5"]]),
    }


def environment(hand: dict[str, str], protocol: str, episodes: str, question: str = "multi") -> Environment:
    config = MCRConfig(
        protocol=protocol,
        question=question,
        recommender="pop",
        attributes=("colour", "shape"),
        min_items=2,
        open_types=("colour",),  # every item has one colour: the opening is the target's (shared) colour
        split_files=(hand["train"], hand["valid"], hand["test"]),
        episodes_file=hand[episodes],
    )
    return Environment(load_catalog(hand["catalog"]), config)


@dataclass
class Scripted:
    """Plays a fixed list of actions ("colour=red" asks yes/no; "shape=round|star" offers options; "rec" lists)."""

    env: Environment
    script: list[str]
    seen: list[Observation] = field(default_factory=list)

    def decide(self, obs: Observation) -> Ask | Recommend:
        self.seen.append(obs)
        step = self.script[min(len(self.seen), len(self.script)) - 1]
        if step == "rec":
            return Recommend(obs.k)
        type_, values = step.split("=")
        space = self.env.space
        return Ask(type_, tuple(space.values[space.position[(type_, v)]] for v in values.split("|")))


def play(env: Environment, target: int, script: list[str]) -> tuple[list[set[int]], Episode, Scripted]:
    """Run the script; the candidate set (item numbers) at the start and after every action."""
    episode = Episode(env, env.targets[target], target, seed=0)
    policy = Scripted(env, script)
    sets = [set(np.flatnonzero(episode.alive).tolist())]
    while not episode.done:
        obs = episode.observation()
        episode.step(policy.decide(obs), obs.candidates)
        sets.append(set(np.flatnonzero(episode.alive).tolist()))
    return sets, episode, policy


def gain(turn: int, rank: int) -> float:
    return 1 / math.log2(turn + 2) + (1 / math.log2(turn + 1) - 1 / math.log2(turn + 2)) / math.log2(rank + 1)


def test_after_answer_rules_on_hand_masks() -> None:
    alive = np.array([1, 1, 1, 1, 1, 0], bool)
    a = np.array([1, 1, 0, 0, 1, 1], bool)
    b = np.array([0, 1, 1, 0, 0, 0], bool)
    c = np.array([0, 0, 0, 1, 1, 0], bool)
    # picked a and b, rejected c: tastebud keeps a AND b, drops c; mcmipl keeps a OR b, drops c
    assert after_answer(TASTEBUD, alive, [a, b], [c]).tolist() == [0, 1, 0, 0, 0, 0]
    assert after_answer(MCMIPL, alive, [a, b], [c]).tolist() == [1, 1, 1, 0, 0, 0]
    # a "no" drops its items under tastebud, nothing under scpr; a "yes" keeps its items in both
    assert after_answer(TASTEBUD, alive, [], [c]).tolist() == [1, 1, 1, 0, 0, 0]
    assert after_answer(SCPR, alive, [], [c]).tolist() == alive.tolist()
    assert after_answer(SCPR, alive, [c], []).tolist() == [0, 0, 0, 1, 1, 0]
    # nothing picked: mcmipl only drops the rejected; an update leaving nothing is not applied (MCMIPL's env)
    assert after_answer(MCMIPL, alive, [], [a]).tolist() == [0, 0, 1, 1, 0, 0]
    assert after_answer(MCMIPL, alive, [b], [b]).tolist() == alive.tolist()


def test_preset_table() -> None:
    rows = {
        n: (p.questions, p.options, p.update, p.targets, p.pool, p.opening_turn, p.max_turns, p.k)
        for n, p in PROTOCOLS.items()
    }
    assert rows == {
        "tastebud": (("multi", "binary"), 5, "all", 1, "unseen", False, 15, 10),
        "scpr": (("binary",), 2, "all", 1, "all", True, 15, 10),
        "mcmipl": (("multi",), 2, "any", 2, "all", True, 15, 10),
    }


def test_tastebud_keeps_every_picked_value_drops_the_rest_and_starts_from_unseen_items(hand: dict[str, str]) -> None:
    env = environment(hand, "tastebud", "one")
    # target h12 (blue; round, star); opening colour=blue; h1 (history) is not a candidate
    sets, episode, policy = play(env, 0, ["shape=square|star", "rec"])
    assert sets[0] == {3, 4, 5, 9, 12}  # blue items
    assert sets[1] == {5, 12}  # star picked, square rejected: blue AND star AND NOT square
    assert "shape" in episode.asked  # a type picked from is settled
    assert policy.seen[0].turn == 0  # the opening is not a turn
    assert (episode.turn, episode.rank) == (2, 2)  # list [h5, h12]: h5 is more popular
    assert hdcg([episode.result().outcome], 15, 10) == pytest.approx(gain(2, 2)) == pytest.approx(0.58261, abs=1e-5)
    # target h11 (red; square): the history item h1 (red, square) never enters the candidates
    sets, episode, _ = play(env, 1, ["shape=square", "rec"])
    assert sets[0] == {0, 2, 8, 11} and sets[1] == {11}
    assert (episode.turn, episode.rank) == (2, 1)


def test_scpr_yes_no_a_no_drops_nothing_all_items_and_the_opening_takes_a_turn(hand: dict[str, str]) -> None:
    env = environment(hand, "scpr", "one", question="binary")
    sets, episode, policy = play(env, 0, ["shape=square", "shape=star", "rec"])
    assert sets[0] == {3, 4, 5, 9, 12}
    assert sets[1] == {3, 4, 5, 9, 12}  # "no" to square: only the value leaves the askable ones
    assert sets[2] == {5, 12}  # "yes" to star
    assert [o.turn for o in policy.seen] == [1, 2, 3]  # the opening took turn 1
    assert (episode.turn, episode.rank) == (3, 2)  # the metrics count the agent's actions (UNICORN's t + 1)
    assert hdcg([episode.result().outcome], 15, 10) == pytest.approx(gain(3, 2)) == pytest.approx(0.47442, abs=1e-5)
    # all items are candidates: the history item h1 (red, square) is ranked above the target h11
    sets, episode, _ = play(env, 1, ["shape=square", "rec"])
    assert sets[0] == {0, 1, 2, 8, 11} and sets[1] == {1, 11}
    assert (episode.turn, episode.rank) == (2, 2)


def test_mcmipl_two_targets_any_picked_value_first_target_rank(hand: dict[str, str]) -> None:
    env = environment(hand, "mcmipl", "two")
    target = env.targets[0]
    assert (target.item, target.item2, target.history) == (12, 5, (1,))
    # targets h12 (blue; round, star) and h5 (blue; star): the opening is a shared value (blue)
    sets, episode, policy = play(env, 0, ["shape=round|star", "rec"])
    assert sets[0] == {3, 4, 5, 9, 12}
    assert sets[1] == {3, 5, 9, 12}  # round OR star (tastebud would keep round AND star: {h12})
    assert "shape" not in episode.asked  # the type is not settled
    assert policy.seen[0].turn == 1
    # list [h3, h5, h9, h12]: h5 is at rank 2, but MCMIPL reports the first target (h12) found: rank 4
    assert (episode.turn, episode.rank) == (2, 4)
    assert hdcg([episode.result().outcome], 15, 10) == pytest.approx(gain(2, 4)) == pytest.approx(0.55639, abs=1e-5)
    assert episode.result().item2 == "h5"
    # a value is accepted if either target has it: square is rejected, round accepted (h12), h5 (no round) leaves
    sets, episode, _ = play(env, 0, ["shape=round|square", "rec"])
    assert sets[1] == {3, 12}
    assert (episode.turn, episode.rank) == (2, 2)


@pytest.mark.parametrize(
    ("protocol", "question", "actions"), [("tastebud", "multi", 15), ("scpr", "binary", 14), ("mcmipl", "multi", 14)]
)
def test_turn_budget_and_a_failure_counts_fifteen_turns(
    hand: dict[str, str], protocol: str, question: str, actions: int
) -> None:
    env = environment(hand, protocol, "two" if protocol == "mcmipl" else "one", question=question)
    asks = "colour=green" if question == "binary" else "colour=green|red"  # never the targets' colour
    sets, episode, _ = play(env, 0, [asks])
    assert episode.questions == actions and episode.turn is None
    assert mcr_metrics([episode.result().outcome], env.config.max_turns, env.config.k)["AT"] == 15


def test_two_target_episodes_files_and_flags(hand: dict[str, str], tmp_path: Path) -> None:
    catalog = load_catalog(hand["catalog"])
    assert read_episodes(Path(hand["two"]), catalog, targets=2) == [("u0", 12, 5, 2)]
    with pytest.raises(CatalogFormatError, match="field 'target2'.*--protocol mcmipl"):
        read_episodes(Path(hand["two"]), catalog, targets=1)
    with pytest.raises(CatalogFormatError, match="field 'target2'.*second target on every row"):
        read_episodes(Path(hand["one"]), catalog, targets=2)
    no_shared = write_csv(tmp_path / "apart.csv", ["user", "target", "target2"], [["u0", "h12", "h11"]])
    with pytest.raises(ValueError, match="no askable attribute both targets share.*item h12, h11"):
        environment({**hand, "apart": no_shared}, "mcmipl", "apart")
    with pytest.raises(ValueError, match="--protocol scpr asks binary questions"):
        MCRConfig(protocol="scpr")
    with pytest.raises(ValueError, match="--protocol mcmipl fixes 15 turns and lists of 10"):
        MCRConfig(protocol="mcmipl", k=5)
    with pytest.raises(ValueError, match="fast MCR engine only"):
        SimulationConfig(engine="agent", mcr=MCRConfig(protocol="mcmipl"))
    with pytest.raises(ValueError, match="fast MCR engine only"):
        SimulationConfig(mode="persona", mcr=MCRConfig(protocol="scpr", question="binary"))


def test_two_target_episodes_from_data_are_each_users_last_two_items_sharing_a_value(tiny_catalog: Path) -> None:
    catalog = load_catalog(str(tiny_catalog))
    env = Environment(catalog, MCRConfig(protocol="mcmipl"))
    sequences = catalog.interactions.sequences()
    assert 0 < len(env.targets) <= len(sequences)
    for t in env.targets:
        seq = [int(i) for i in sequences[t.user_id]]
        assert (t.item, t.item2, t.history, t.stage) == (seq[-1], seq[-2], tuple(seq[:-2]), "pair")
        assert (env.space.membership[t.item] & env.space.membership[t.item2]).any()
    for i, t in enumerate(env.targets[:10]):  # the opening is a value both targets have
        result = run_fast(env, t, Scripted(env, ["rec"]), i, seed=3)
        type_, value = result.opening.split("=")
        assert env.space.mask(type_, value)[[t.item, t.item2]].all()


def last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def tagged_files(tagged: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The typed catalog's own split (per user: 8 train, 2 valid, 2 test items) and episode files."""
    from recsys.attributes import AttributeConfig, AttributeSpace

    folder = tmp_path_factory.mktemp("tagged-split")
    with (tagged / "interactions.csv").open() as f:
        rows = list(csv.DictReader(f))
    parts: dict[str, list[list[str]]] = {"train": [], "valid": [], "test": []}
    for n, row in enumerate(rows):  # 12 rows per user, in order
        parts["train" if n % 12 < 8 else "valid" if n % 12 < 10 else "test"].append([row["user"], row["item"]])
    out = {name: write_csv(folder / f"{name}.csv", ["user", "item"], part) for name, part in parts.items()}
    catalog = load_catalog(str(tagged))
    space = AttributeSpace(catalog, AttributeConfig(attributes=("mood", "tags", "plays"), min_items=5))
    pairs = [(a[0], a[1], b[1]) for a, b in zip(parts["test"][::2], parts["test"][1::2], strict=True)]
    shared = [p for p in pairs if (space.membership[catalog.index[p[1]]] & space.membership[catalog.index[p[2]]]).any()]
    out["one"] = write_csv(folder / "one.csv", ["user", "target"], [p[:2] for p in pairs[:4]])
    out["two"] = write_csv(folder / "two.csv", ["user", "target", "target2"], shared[:4])
    return out


@pytest.mark.parametrize(("protocol", "question"), [("tastebud", "multi"), ("scpr", "binary"), ("mcmipl", "multi")])
def test_each_preset_runs_simulate_and_train_policy_on_a_typed_catalog_with_its_own_files(
    tagged: Path,
    tagged_files: dict[str, str],
    tmp_path: Path,
    protocol: str,
    question: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    episodes = tagged_files["two" if protocol == "mcmipl" else "one"]
    flags = ["--dataset", str(tagged), "--attributes", "mood", "tags", "plays", "--open-types", "any"]
    flags += [
        "--protocol",
        protocol,
        "--split-files",
        tagged_files["train"],
        tagged_files["valid"],
        tagged_files["test"],
    ]
    flags += ["--episodes-file", episodes]
    save = tmp_path / "policy"
    train = ["train", "policy", *flags, "--episodes", "20", "--no-progress", "--json", "--save", str(save)]
    assert main([*train, "--out", str(tmp_path / "run")]) == 0
    payload = last_json(capsys.readouterr().out)
    assert payload["held_out_targets"] == 4 and payload["protocol"] == protocol and payload["question"] == question
    assert json.loads((save / "config.json").read_text())["features"]["protocol"] == protocol
    for policy in ("maxent", "random", "always-recommend", f"learned:{save}", f"tree:{save}"):
        sim = ["simulate", *flags, "--policy", policy, "--no-ray", "--no-progress", "--json"]
        assert main([*sim, "--out", str(tmp_path / "sim")]) == 0
        out = last_json(capsys.readouterr().out)
        assert (out["episodes"], out["protocol"], out["question"]) == (4, protocol, question)
        rows = [json.loads(line) for line in (tmp_path / "sim" / "results.jsonl").read_text().splitlines()]
        assert all(r["turn"] is None or r["turn"] <= (15 if protocol == "tastebud" else 14) for r in rows)
        assert all((r["item2"] is not None) == (protocol == "mcmipl") for r in rows)
    other = "tastebud" if protocol != "tastebud" else "mcmipl"
    sim = ["simulate", "--dataset", str(tagged), "--attributes", "mood", "tags", "--policy", f"learned:{save}"]
    sim += ["--protocol", other, "--episodes", "3", "--no-ray", "--no-progress", "--out", str(tmp_path / "x")]
    if other == "tastebud":
        sim += ["--question", question]
    assert main(sim) == 2
    assert f"trained under --protocol {protocol}" in capsys.readouterr().err
