"""Aligning SASRec with list preferences (issue 17, point 5): the S-DPO/DPO losses, the loop, the saved model."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from recsys.seqrec import losses
from recsys.seqrec.align import AlignConfig, align, log_probs, preference_loss
from recsys.seqrec.data import from_catalog, leave_one_out
from recsys.seqrec.model import SASRec, SASRecConfig
from recsys.seqrec.preferences import Preferences, from_rows, mine_preferences
from recsys.seqrec.sampling import left_pad


def test_sdpo_matches_a_hand_computed_value() -> None:
    # r_w = 0.5, r = (0.2, 1.0), beta = 2: L = log(1 + e^{2(0.2-0.5)} + e^{2(1.0-0.5)}) = log(1 + e^-0.6 + e)
    loss = losses.sdpo(torch.tensor([0.5]), torch.tensor([[0.2, 1.0]]), beta=2.0)
    assert loss.item() == pytest.approx(math.log(1 + math.exp(-0.6) + math.e), abs=1e-6)
    # The same as -log sigmoid(-log sum exp(...)), the paper's form.
    x = math.log(math.exp(-0.6) + math.e)
    assert loss.item() == pytest.approx(-math.log(1 / (1 + math.exp(x))), abs=1e-6)


def test_sdpo_with_one_rejected_item_is_dpo_and_padding_is_ignored() -> None:
    g = torch.Generator().manual_seed(0)
    chosen, rejected = torch.randn(16, generator=g), torch.randn(16, 3, generator=g)
    for beta in (0.1, 1.0, 5.0):
        assert losses.sdpo(chosen, rejected[:, :1], beta).item() == pytest.approx(
            losses.dpo(chosen, rejected[:, 0], beta).item(), abs=1e-6
        )
    mask = torch.tensor([[True, True, False]] * 16)
    garbage = rejected.clone()
    garbage[:, 2] = 1e6  # a padded slot, whatever it holds, changes nothing
    assert losses.sdpo(chosen, garbage, 1.0, mask).item() == pytest.approx(
        losses.sdpo(chosen, rejected[:, :2], 1.0).item(), abs=1e-6
    )


def _tiny_model(n_items: int = 30, seed: int = 0) -> SASRec:
    torch.manual_seed(seed)
    return SASRec(SASRecConfig(n_items=n_items, max_len=8, d_model=16, n_layers=1, n_heads=1)).eval()


def test_loss_at_the_reference_is_log_one_plus_the_number_of_rejected_items() -> None:
    model = _tiny_model()
    seq = left_pad([np.array([1, 2, 3]), np.array([4]), np.array([5, 6])])
    chosen = torch.tensor([7, 8, 9])
    rejected = torch.tensor([[10, 11, 12], [13, 0, 0], [14, 15, 0]])  # 3, 1 and 2 rejected items
    loss, stats = preference_loss(model, copy.deepcopy(model), seq, chosen, rejected, "sdpo", beta=1.0)
    assert loss.item() == pytest.approx(np.mean([math.log(4), math.log(2), math.log(3)]), abs=1e-5)
    assert stats["margin"] == pytest.approx(0.0, abs=1e-6)
    dpo_loss, _ = preference_loss(model, copy.deepcopy(model), seq, chosen, rejected[:, :1], "dpo", beta=1.0)
    assert dpo_loss.item() == pytest.approx(math.log(2), abs=1e-5)
    # The anchor adds the accepted items' cross-entropy under the policy.
    anchored, _ = preference_loss(model, copy.deepcopy(model), seq, chosen, rejected, "sdpo", 1.0, sft_weight=0.5)
    ce = torch.nn.functional.cross_entropy(log_probs(model, seq), chosen).item()
    assert anchored.item() == pytest.approx(loss.item() + 0.5 * ce, abs=1e-5)


def _margins(policy: SASRec, reference: SASRec, prefs: Preferences) -> np.ndarray:
    """Per row: (policy - reference) log-ratio of the chosen item minus the mean one of its rejected items."""
    seq = left_pad(list(prefs.histories))
    with torch.no_grad():
        r = log_probs(policy, seq) - log_probs(reference, seq)  # (R, N + 1)
    return np.array(
        [r[i, c].item() - r[i, rej].mean().item() for i, (c, rej) in enumerate(zip(prefs.chosen, prefs.rejected))]
    )


@pytest.mark.parametrize("method", ["sdpo", "dpo"])
def test_a_tiny_run_raises_the_accepted_item_over_the_rejected_ones(method: str) -> None:
    model = _tiny_model()
    reference = copy.deepcopy(model)
    rng = np.random.default_rng(1)
    histories = tuple(rng.integers(1, 31, size=int(rng.integers(1, 8))).astype(np.int64) for _ in range(32))
    chosen = rng.integers(1, 31, size=32).astype(np.int64)
    rejected = tuple(np.array([i for i in rng.permutation(np.arange(1, 31))[:5] if i != c], np.int64) for c in chosen)
    prefs = Preferences(histories, chosen, rejected)
    cfg = AlignConfig(method=method, n_rejected=4, batch_size=8, epochs=5, lr=1e-2, device="cpu", seed=0)
    before = [p.detach().clone() for p in model.parameters()]
    result = align(model, lambda current: prefs, cfg)
    assert result.steps == 20 and result.pairs == 20 * 8 * cfg.negatives_per_row
    assert result.history[0]["loss_last"] < result.history[0]["loss_first"]
    assert np.mean(_margins(model, reference, prefs) > 0) > 0.8
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert result.pairs_per_s > 0 and result.peak_memory_mb > 0


def test_rounds_retake_the_reference_and_mine_from_it(tiny_catalog: Path) -> None:
    from recsys.datasets import load_catalog

    split = leave_one_out(from_catalog(load_catalog(tiny_catalog)))
    model = _tiny_model(n_items=split.n_items)
    seen: list[SASRec] = []

    def mined(current: SASRec) -> Preferences:
        seen.append(current)
        return mine_preferences(current, split, n_rejected=4, per_user=3)

    result = align(model, mined, AlignConfig(rounds=2, max_steps=2, batch_size=16, device="cpu"))
    assert len(seen) == 2 and result.steps == 4 and [h["round"] for h in result.history] == [1, 2]
    # Round 2's reference is the policy after round 1, not the starting model.
    assert not torch.equal(seen[0].item_emb.weight, seen[1].item_emb.weight)
    assert not any(p.requires_grad for p in seen[1].parameters())
    prefs = mined(model)
    for c, rej in zip(prefs.chosen, prefs.rejected):
        assert c not in rej and len(rej) == 4


def test_mined_rejections_are_never_items_the_user_picked(tiny_catalog: Path) -> None:
    from recsys.datasets import load_catalog

    split = leave_one_out(from_catalog(load_catalog(tiny_catalog)))
    prefs = mine_preferences(_tiny_model(n_items=split.n_items), split, n_rejected=5, per_user=4)
    assert len(prefs) == sum(min(4, len(s) - 1) for s in split.train)
    row = 0
    for seq in split.train:
        for _ in range(min(4, len(seq) - 1)):
            assert not set(prefs.rejected[row]) & set(seq.tolist())
            row += 1


def test_mining_from_a_pool_draws_among_the_models_best_unpicked_items(tiny_catalog: Path) -> None:
    from recsys.datasets import load_catalog

    split = leave_one_out(from_catalog(load_catalog(tiny_catalog)))
    model = _tiny_model(n_items=split.n_items)
    top = mine_preferences(model, split, n_rejected=12, per_user=2)
    drawn = mine_preferences(model, split, n_rejected=3, per_user=2, pool=12, seed=1)
    assert drawn.chosen.tolist() == top.chosen.tolist()
    assert all(len(d) == 3 and set(d) <= set(t) for d, t in zip(drawn.rejected, top.rejected))
    assert any(set(d) != set(t[:3]) for d, t in zip(drawn.rejected, top.rejected))


def test_logged_rows_map_to_model_ids_and_skip_unknown_items() -> None:
    rows = [
        {"history": ["a", "zz", "b"], "chosen": "c", "rejected": ["d", "c", "zz", "d"]},
        {"history": [], "chosen": "zz", "rejected": ["a"]},  # unknown chosen item
        {"history": ["a"], "chosen": "b", "rejected": ["zz"]},  # nothing known rejected
    ]
    prefs = from_rows(rows, ["a", "b", "c", "d"])
    assert len(prefs) == 1 and prefs.histories[0].tolist() == [1, 2]
    assert prefs.chosen.tolist() == [3] and prefs.rejected[0].tolist() == [4]


def _trained_reference(catalog: Path, folder: Path) -> Path:
    from recsys.datasets import load_catalog
    from recsys.seqrec.recommender import create, save
    from recsys.seqrec.train import TrainConfig

    data = from_catalog(load_catalog(catalog))
    rec = create("sasrec-ce", data.item_ids, {"max_len": 10, "d_model": 16, "n_layers": 1, "n_heads": 1})
    rec.fit(leave_one_out(data), TrainConfig(epochs=1, device="cpu", progress=False, batch_size=64))
    return save(rec, folder)


def test_tune_recommender_end_to_end_installs_a_model_the_agent_loads(
    tiny_catalog: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from agent.api import AgentConfig, _saved
    from recsys.seqrec.recommender import NeuralRecommender, load
    from recsys.settings import Settings
    from tastebud.cli import main

    cache = tmp_path / "cache"
    settings = Settings(cache_dir=cache)
    reference = _trained_reference(tiny_catalog, settings.model_dir(str(tiny_catalog), "sasrec-ce"))
    lists = tmp_path / "data" / "lists.jsonl"
    lists.parent.mkdir()
    lists.write_text(json.dumps({"history": ["i1", "i2"], "chosen": "i3", "rejected": ["i4", "i5"]}) + "\n")
    argv = [
        "--cache-dir",
        str(cache),
        "tune",
        "recommender",
        "--dataset",
        str(tiny_catalog),
        "--lists",
        str(lists.parent),
    ]
    argv += ["--mine-per-user", "2", "--max-steps", "3", "--batch-size", "16", "--device", "cpu"]
    argv += ["--shared-attributes", "1"]
    assert main([*argv, "--out", str(tmp_path / "run"), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert payload["logged_rows"] == 1 and payload["rows"] == 1 + 40 * 2 and payload["steps"] == 3
    assert payload["shared_attributes"] == 1
    assert set(payload["offline"]["aligned"]) == {"valid", "test"}
    installed = Path(payload["installed"])
    assert installed == settings.aligned_model_dir(str(tiny_catalog), "sasrec-ce")
    aligned = load(installed)
    assert isinstance(aligned, NeuralRecommender) and aligned.kind == "sasrec-ce"
    assert not torch.equal(aligned.model.item_emb.weight, load(reference).model.item_emb.weight)
    assert json.loads((installed / "alignment.json").read_text())["method"] == "sdpo"
    # The agent takes the aligned model unless told not to.
    assert _saved(AgentConfig(dataset=str(tiny_catalog)), settings, "sasrec-ce") == installed
    off = AgentConfig(dataset=str(tiny_catalog), aligned_recommender=False)
    assert _saved(off, settings, "sasrec-ce") == reference


def test_tune_recommender_refuses_without_a_reference_or_data(tmp_path: Path, tiny_catalog: Path) -> None:
    from tastebud.cli import main

    base = ["--cache-dir", str(tmp_path), "tune", "recommender", "--dataset", str(tiny_catalog)]
    assert main(base) == 2
    reference = _trained_reference(tiny_catalog, tmp_path / "ref")
    assert main([*base, "--reference", str(reference), "--mine-per-user", "0"]) == 2


def test_mining_with_shared_attributes_rejects_only_look_alikes_of_the_chosen_item(tiny_catalog: Path) -> None:
    from recsys.datasets import load_catalog
    from recsys.seqrec.preferences import item_attributes

    catalog = load_catalog(tiny_catalog)
    data = from_catalog(catalog)
    split = leave_one_out(data)
    attributes = item_attributes(catalog, data)
    assert attributes.shape[0] == split.n_items + 1 and not attributes[0].any()
    model = _tiny_model(n_items=split.n_items)
    anything = mine_preferences(model, split, n_rejected=3, per_user=2)
    alike = mine_preferences(model, split, n_rejected=3, per_user=2, attributes=attributes, min_shared=2)
    assert len(alike) > 0
    shared = [int(attributes[c] @ attributes[r]) for c, rej in zip(alike.chosen, alike.rejected) for r in rej]
    assert min(shared) >= 2
    # Without the condition the model's top items are rejected whatever they share.
    assert (
        min(int(attributes[c] @ attributes[r]) for c, rej in zip(anything.chosen, anything.rejected) for r in rej) < 2
    )


def test_shared_attributes_on_a_pair_file_is_refused_with_a_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from recsys.seqrec.data import load_pairs
    from recsys.seqrec.recommender import create, save
    from recsys.seqrec.train import TrainConfig
    from tastebud.cli import main

    pairs = tmp_path / "pairs.txt"
    rng = np.random.default_rng(0)
    pairs.write_text(
        "".join(f"{u} {i}\n" for u in range(1, 21) for i in rng.choice(np.arange(1, 16), 6, replace=False))
    )
    data = load_pairs(pairs)
    rec = create("sasrec-ce", data.item_ids, {"max_len": 10, "d_model": 16, "n_layers": 1, "n_heads": 1})
    rec.fit(leave_one_out(data), TrainConfig(epochs=1, device="cpu", progress=False, batch_size=64))
    reference = save(rec, tmp_path / "ref")
    argv = ["--cache-dir", str(tmp_path / "cache"), "tune", "recommender", "--dataset", str(pairs)]
    argv += ["--reference", str(reference), "--mine-per-user", "2", "--device", "cpu", "--no-save"]
    # Without the flag the same run aligns; with it there are no attributes to share.
    assert main([*argv, "--max-steps", "1", "--out", str(tmp_path / "run")]) == 0
    assert main([*argv, "--shared-attributes", "2", "--out", str(tmp_path / "run2")]) == 2
    assert "pair file" in caplog.text and "--shared-attributes" in caplog.text
