"""The training loop on ML-100K: early-stopping bookkeeping, checkpoint and resume, seeds."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from recsys.datasets import load_catalog
from recsys.errors import CheckpointError
from recsys.seqrec.data import Split, from_catalog, leave_one_out
from recsys.seqrec.losses import LossConfig
from recsys.seqrec.recommender import create
from recsys.seqrec.train import CHECKPOINT, TrainConfig, Trainer

TINY = {"max_len": 20, "d_model": 16, "n_heads": 2, "n_layers": 1, "dropout": 0.1}


@pytest.fixture(scope="module")
def split() -> Split:
    return leave_one_out(from_catalog(load_catalog("ml-100k")))


def _cfg(**kw: object) -> TrainConfig:
    return TrainConfig(**{"epochs": 2, "max_steps_per_epoch": 3, "progress": False, "batch_size": 64, **kw})


def test_fit_records_history_and_keeps_best(split: Split) -> None:
    rec = create("sasrec-ce", split.data.item_ids, TINY, seed=0)
    result = rec.fit(split, _cfg(epochs=3))
    assert result.epochs_trained == 3 and len(result.history) == 3
    best = max(h["valid_ndcg@10"] for h in result.history)
    assert result.best_valid_ndcg == best
    assert result.history[0]["loss"] > result.history[-1]["loss"]


def test_early_stopping_stops(split: Split) -> None:
    rec = create("sasrec-ce", split.data.item_ids, TINY, seed=0)
    result = rec.fit(split, _cfg(epochs=50, patience=1, lr=1e-9))
    assert result.epochs_trained < 50


def test_same_seed_same_weights(split: Split) -> None:
    a = create("sasrec-bce", split.data.item_ids, TINY, seed=3)
    b = create("sasrec-bce", split.data.item_ids, TINY, seed=3)
    a.fit(split, _cfg(epochs=1, seed=5))
    b.fit(split, _cfg(epochs=1, seed=5))
    for name, tensor in a.tensors().items():
        assert torch.equal(tensor, b.tensors()[name]), name


def test_resume_continues_where_it_stopped(split: Split, tmp_path: Path) -> None:
    straight = create("sasrec-ce", split.data.item_ids, TINY, seed=0)
    straight_result = straight.fit(split, _cfg(epochs=2, seed=1))

    resumed = create("sasrec-ce", split.data.item_ids, TINY, seed=0)
    first = resumed.fit(split, _cfg(epochs=1, seed=1, checkpoint_dir=tmp_path))
    assert (tmp_path / CHECKPOINT).is_file() and first.epochs_trained == 1
    again = create("sasrec-ce", split.data.item_ids, TINY, seed=0)
    result = again.fit(split, _cfg(epochs=2, seed=1, checkpoint_dir=tmp_path, resume=True))
    assert result.epochs_trained == 2 and len(result.history) == 2
    assert result.history[1]["loss"] == pytest.approx(straight_result.history[1]["loss"], rel=1e-5)
    for name, tensor in straight.tensors().items():
        torch.testing.assert_close(again.tensors()[name], tensor, msg=name)


def test_exclude_seen_leaves_only_the_users_other_items_out_of_the_softmax(split: Split) -> None:
    rec = create("sasrec-ce", split.data.item_ids, {**TINY, "loss.exclude_seen": True}, seed=0)
    assert rec.loss.exclude_seen and rec.config()["loss"]["exclude_seen"]
    trainer = Trainer(rec.model, rec.loss, split, _cfg())
    batch = next(trainer.batches(torch.Generator().manual_seed(0), (0, 1)))
    assert batch.seen is not None
    rec.model.eval()  # no dropout: both losses see the same scores
    with torch.no_grad():
        got = trainer.compute_loss(rec.model, batch)
        supervised = batch.labels != 0
        logits = rec.model.score_all(rec.model(batch.seq)[supervised])
        labels = batch.labels[supervised]
        rows = supervised.nonzero()[:, 0]
        expected, plain = [], []
        for m in range(len(labels)):
            owner_items = batch.seen[rows[m]].nonzero()[:, 0].tolist()
            keep = [i for i in range(1, logits.shape[1]) if i not in owner_items or i == int(labels[m])]
            expected.append(-torch.log_softmax(logits[m, keep], 0)[keep.index(int(labels[m]))])
            plain.append(-torch.log_softmax(logits[m, 1:], 0)[int(labels[m]) - 1])
    torch.testing.assert_close(got, torch.stack(expected).mean(), rtol=1e-5, atol=1e-6)
    assert float(got) < float(torch.stack(plain).mean()), "fewer competitors, lower loss"


def test_exclude_seen_is_for_the_ce_loss_only() -> None:
    with pytest.raises(AssertionError, match="ce loss only"):
        LossConfig(name="bce", exclude_seen=True)


def test_users_sampler_takes_one_step_per_batch_of_users(split: Split) -> None:
    rec = create("sasrec-bce", split.data.item_ids, TINY, seed=0)
    trainer = Trainer(rec.model, rec.loss, split, _cfg(sampler="users", max_steps_per_epoch=None))
    users = sum(len(s) >= 2 for s in split.train)
    assert trainer.steps_per_epoch(1) == -(-users // 64)
    assert sum(1 for _ in trainer.batches(torch.Generator().manual_seed(0), (0, 1))) == trainer.steps_per_epoch(1)
    result = rec.fit(split, _cfg(epochs=2, sampler="users", max_steps_per_epoch=None))
    assert result.history[1]["loss"] < result.history[0]["loss"]


def test_epoch_loss_norm_weighs_every_target_alike(split: Split) -> None:
    rec = create("sasrec-bce", split.data.item_ids, TINY, seed=0)
    trainer = Trainer(rec.model, rec.loss, split, _cfg(loss_norm="epoch", max_steps_per_epoch=None))
    gen = torch.Generator().manual_seed(0)
    counts = [int((b.labels != 0).sum()) for b in trainer.batches(gen, (0, 1))]
    assert trainer.targets_per_batch() == pytest.approx(sum(counts) / len(counts))
    assert max(counts) > 2 * min(counts), "length-grouped batches hold very different numbers of targets"
    result = rec.fit(
        split, _cfg(epochs=2, loss_norm="epoch", max_steps_per_epoch=None)
    )  # whole epochs: mean per target
    assert result.history[1]["loss"] < result.history[0]["loss"]
    cloze = create("bert4rec", split.data.item_ids, TINY, seed=0)
    with pytest.raises(AssertionError, match="random number of positions"):
        cloze.fit(split, _cfg(epochs=1, loss_norm="epoch"))


def test_resume_refuses_a_damaged_checkpoint_and_keeps_it(split: Split, tmp_path: Path) -> None:
    (tmp_path / CHECKPOINT).write_bytes(b"not a checkpoint")
    rec = create("sasrec-ce", split.data.item_ids, TINY, seed=0)
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        rec.fit(split, _cfg(epochs=1, checkpoint_dir=tmp_path, resume=True))
    assert (tmp_path / CHECKPOINT).read_bytes() == b"not a checkpoint"


def test_resume_refuses_a_checkpoint_of_another_model(split: Split, tmp_path: Path) -> None:
    create("sasrec-bce", split.data.item_ids, TINY, seed=0).fit(split, _cfg(epochs=1, checkpoint_dir=tmp_path))
    wider = create("sasrec-bce", split.data.item_ids, {**TINY, "d_model": 32}, seed=0)
    with pytest.raises(CheckpointError, match="d_model: 16 in the checkpoint, 32 now"):
        wider.fit(split, _cfg(epochs=2, checkpoint_dir=tmp_path, resume=True))
    # a checkpoint from before a setting existed (here: the learned logit bias) names it as absent
    ckpt = torch.load(tmp_path / CHECKPOINT, weights_only=True)
    del ckpt["model_config"]["logit_bias"]
    torch.save(ckpt, tmp_path / CHECKPOINT)
    same = create("sasrec-bce", split.data.item_ids, TINY, seed=0)
    with pytest.raises(CheckpointError, match="logit_bias: absent in the checkpoint, 0.0 now"):
        same.fit(split, _cfg(epochs=2, checkpoint_dir=tmp_path, resume=True))
