"""``benchmarks/align_recommender.py``'s logged lists (issue 17, point 6): real personas served by the reference.

The preferences must come from conversations the reference served, never from an evaluation
persona's user, and the users whose held-out items were trained on leave the offline evaluation.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from agent.simulate.persona import persona_split
from benchmarks.align_recommender import BenchConfig, _evaluation_users, _logged_lists, _without_users
from recsys.datasets import load_catalog
from recsys.seqrec.data import from_catalog, leave_one_out


def test_users_whose_items_were_trained_on_leave_the_evaluation(tiny_catalog: Path) -> None:
    split = leave_one_out(from_catalog(load_catalog(str(tiny_catalog))))
    ids = split.data.user_ids
    gone = frozenset(ids[u] for u in split.eval_users[:3])
    kept = _without_users(split, gone)
    assert len(kept.eval_users) == len(split.eval_users) - 3
    assert not {ids[u] for u in kept.eval_users} & gone
    rows = [int(np.flatnonzero(split.eval_users == u)[0]) for u in kept.eval_users]
    assert kept.test_targets.tolist() == split.test_targets[rows].tolist()
    assert kept.valid_targets.tolist() == split.valid_targets[rows].tolist()


@pytest.mark.slow
def test_logged_lists_come_from_training_personas_apart_from_the_evaluation(tiny_catalog: Path, tmp_path: Path) -> None:
    from recsys.seqrec.recommender import create, save
    from recsys.seqrec.train import TrainConfig

    cfg = BenchConfig(dataset=str(tiny_catalog), personas=4, seeds=(0,), logged_personas=3)
    split = persona_split(leave_one_out(from_catalog(load_catalog(cfg.dataset))), cfg.sessions)
    rec = create("sasrec-ce", split.data.item_ids, {"max_len": 10, "d_model": 16, "n_layers": 1, "n_heads": 1})
    rec.fit(split, TrainConfig(epochs=1, device="cpu", progress=False, batch_size=64))
    reference = save(rec, tmp_path / "reference")

    prefs, users = _logged_lists(cfg, split, reference, tmp_path)
    assert len(prefs) > 0 and len(users) == 3
    assert not users & _evaluation_users(cfg, split)
    for history, chosen, rejected in zip(prefs.histories, prefs.chosen, prefs.rejected, strict=True):
        assert chosen not in rejected.tolist() and len(rejected) and len(history)
    # A rerun reads what was logged; other personas are refused rather than mixed in.
    again, same_users = _logged_lists(cfg, split, reference, tmp_path)
    assert same_users == users and again.chosen.tolist() == prefs.chosen.tolist()
    with pytest.raises(ValueError, match="other personas"):
        _logged_lists(dataclasses.replace(cfg, logged_personas=2), split, reference, tmp_path)
    (tmp_path / "logged" / "lists.json").unlink()  # as if the run had been stopped before it wrote them
    with pytest.raises(ValueError, match="unfinished"):
        _logged_lists(cfg, split, reference, tmp_path)
