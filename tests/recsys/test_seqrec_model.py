"""Networks and losses: causal mask, hand-computed losses, one-batch training on ML-100K, save/load."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from recsys.datasets import load_catalog
from recsys.seqrec import losses
from recsys.seqrec.data import Split, from_catalog, leave_one_out
from recsys.seqrec.model import SASRec, SASRecConfig
from recsys.seqrec.recommender import RECOMMENDERS, create, load, save
from recsys.seqrec.train import TrainConfig, Trainer

TINY = {"max_len": 20, "d_model": 16, "n_heads": 2, "n_layers": 1, "dropout": 0.0}
NEURAL = [k for k, spec in RECOMMENDERS.items() if spec.neural]


@pytest.fixture(scope="module")
def split() -> Split:
    return leave_one_out(from_catalog(load_catalog("ml-100k")))


@pytest.mark.parametrize("post_norm", [False, True])
def test_causal_mask_future_items_never_change_the_past(post_norm: bool) -> None:
    torch.manual_seed(0)
    cfg = SASRecConfig(n_items=50, max_len=10, d_model=16, n_heads=2, dropout=0.0, post_norm=post_norm)
    model = SASRec(cfg).eval()
    seq = torch.tensor([[0, 0, 3, 7, 9, 11, 4, 5, 6, 8]])
    changed = seq.clone()
    changed[0, 6:] = torch.tensor([20, 21, 22, 23])
    a, b = model.encode(seq), model.encode(changed)
    torch.testing.assert_close(a[:, :6], b[:, :6])
    assert not torch.allclose(a[:, 6:], b[:, 6:])


@pytest.mark.parametrize("post_norm", [False, True])
def test_padding_is_ignored(post_norm: bool) -> None:
    torch.manual_seed(0)
    cfg = SASRecConfig(n_items=50, max_len=10, d_model=16, n_heads=2, dropout=0.0, post_norm=post_norm)
    model = SASRec(cfg).eval()
    short = torch.tensor([[3, 7, 9]])
    padded = torch.tensor([[0, 0, 0, 3, 7, 9]])
    torch.testing.assert_close(model.next_item_scores(short), model.next_item_scores(padded))


def test_bce_by_hand() -> None:
    pos, neg = torch.tensor([0.0]), torch.tensor([[0.0, 0.0]])
    assert float(losses.bce(pos, neg)) == pytest.approx(3 * math.log(2))


def test_gbce_reduces_to_bce_at_t0_and_scales_the_positive() -> None:
    pos, neg = torch.randn(5), torch.randn(5, 4)
    assert losses.gbce_beta(4, 100, 0.0) == pytest.approx(1.0)
    torch.testing.assert_close(losses.gbce(pos, neg, 100, 0.0), losses.bce(pos, neg))
    beta = losses.gbce_beta(4, 100, 1.0)
    assert beta == pytest.approx(4 / 99)
    expected = (-beta * torch.nn.functional.logsigmoid(pos) - torch.nn.functional.logsigmoid(-neg).sum(-1)).mean()
    torch.testing.assert_close(losses.gbce(pos, neg, 100, 1.0), expected)


def test_gbce_matches_the_reference_transformed_logit() -> None:
    pos, neg = torch.randn(6).double(), torch.randn(6, 3).double()
    beta = losses.gbce_beta(3, 50, 0.75)
    transformed = torch.log(1.0 / (torch.sigmoid(pos).pow(-beta) - 1.0))
    reference = (-torch.nn.functional.logsigmoid(transformed) - torch.nn.functional.logsigmoid(-neg).sum(-1)).mean()
    torch.testing.assert_close(losses.gbce(pos, neg, 50, 0.75).double(), reference, rtol=1e-5, atol=1e-6)


def test_cross_entropy_by_hand() -> None:
    logits = torch.tensor([[float("-inf"), 0.0, 0.0, 0.0]])
    assert float(losses.cross_entropy(logits, torch.tensor([2]))) == pytest.approx(math.log(3))


@pytest.mark.parametrize("kind", NEURAL)
def test_one_batch_loss_decreases_and_all_params_change(kind: str, split: Split) -> None:
    rec = create(kind, split.data.item_ids, TINY, seed=0)
    trainer = Trainer(rec.model, rec.loss, split, TrainConfig(batch_size=32))
    batch = next(trainer.batches(torch.Generator().manual_seed(0), (0, 1)))
    before = {n: p.detach().clone() for n, p in rec.model.named_parameters()}
    opt = torch.optim.Adam(rec.model.parameters(), lr=1e-2)
    rec.model.train()
    first = last = None
    for _ in range(15):
        loss = trainer.compute_loss(rec.model, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        last = float(loss.detach())
        first = last if first is None else first
    assert last < first, f"{kind}: loss went from {first} to {last}"
    unchanged = [n for n, p in rec.model.named_parameters() if p.requires_grad and torch.equal(p, before[n])]
    # positional rows never seen by a short batch and item rows never sampled may stay; whole tensors must move
    assert not unchanged, f"{kind}: parameters never updated: {unchanged}"


@pytest.mark.parametrize("kind", [*sorted(RECOMMENDERS), "sasrec-ce/post-norm"])
def test_save_load_round_trips_exactly(kind: str, split: Split, tmp_path: Path) -> None:
    kind, _, variant = kind.partition("/")
    shape = {**TINY, "post_norm": True} if variant else TINY
    rec = create(kind, split.data.item_ids, shape if RECOMMENDERS[kind].neural else {}, seed=0)
    if RECOMMENDERS[kind].neural:
        rec.fit(split, TrainConfig(epochs=1, max_steps_per_epoch=2, progress=False))
    else:
        rec.fit(split)
    histories = split.inputs("test")[:8]
    before = rec.score(histories)
    loaded = load(save(rec, tmp_path / kind))
    assert loaded.kind == kind and loaded.item_ids == rec.item_ids
    assert torch.equal(loaded.score(histories), before)
    for name, tensor in rec.tensors().items():
        assert torch.equal(loaded.tensors()[name], tensor), name


def test_recommend_excludes_and_respects_allowed(split: Split) -> None:
    rec = create("pop", split.data.item_ids)
    rec.fit(split)
    top = [i for i, _ in rec.recommend(np.array([1, 2]), k=5)]
    assert top == sorted(top, key=lambda i: -int(rec.counts[i]))[:5]
    excluded = rec.recommend(np.array([1]), k=5, exclude=top[:2])
    assert not {i for i, _ in excluded} & set(top[:2])
    allowed = np.zeros(rec.n_items + 1, bool)
    allowed[[10, 20, 30]] = True
    assert {i for i, _ in rec.recommend(np.array([1]), k=10, allowed=allowed)} == {10, 20, 30}


@pytest.mark.parametrize(("name", "k"), [("bce", 1), ("bce", 16), ("gbce", 256)])
def test_initial_logit_minimises_the_loss_when_all_scores_are_equal(name: str, k: int) -> None:
    start = losses.initial_logit(losses.LossConfig(name=name, n_negatives=k, gbce_t=0.75), 1000)
    assert start is not None

    def slope(at: float) -> float:
        s = torch.tensor(at, requires_grad=True)
        pos, neg = s.expand(3), s.expand(3, k)
        loss = losses.bce(pos, neg) if name == "bce" else losses.gbce(pos, neg, 1000, 0.75)
        return float(torch.autograd.grad(loss, s)[0])

    assert abs(slope(start)) < 1e-5  # float32 losses
    assert slope(start - 0.5) < 0 < slope(start + 0.5)
    assert losses.initial_logit(losses.LossConfig(name="ce"), 1000) is None


def test_logit_bias_shifts_scores_but_never_a_ranking() -> None:
    torch.manual_seed(0)
    plain = SASRec(SASRecConfig(n_items=30, max_len=8, d_model=16, n_heads=2, dropout=0.0)).eval()
    biased = SASRec(SASRecConfig(n_items=30, max_len=8, d_model=16, n_heads=2, dropout=0.0, logit_bias=-3.0)).eval()
    biased.load_state_dict({**plain.state_dict(), "logit_bias": torch.tensor(-3.0)})
    seq = torch.tensor([[0, 4, 9, 2, 7]])
    a, b = plain.next_item_scores(seq), biased.next_item_scores(seq)
    torch.testing.assert_close(b[:, 1:], a[:, 1:] - 3.0)
    assert torch.equal(a.argsort(descending=True), b.argsort(descending=True))
    h = plain.last_hidden(seq)
    torch.testing.assert_close(biased.score(h, torch.tensor([[4, 5]])), plain.score(h, torch.tensor([[4, 5]])) - 3.0)


def test_sampled_kinds_start_at_their_losses_base_rate(split: Split) -> None:
    gs = create("gsasrec", split.data.item_ids, TINY, seed=0)
    beta = losses.gbce_beta(256, split.n_items, 0.75)
    assert float(gs.model.logit_bias.detach()) == pytest.approx(math.log(beta / 256), rel=1e-6)
    assert float(create("sasrec-bce", split.data.item_ids, TINY, seed=0).model.logit_bias.detach()) == 0.0
    assert create("sasrec-ce", split.data.item_ids, TINY, seed=0).model.logit_bias is None
    # a config without the bias (as saved before it existed) rebuilds a model without the parameter
    old = create("sasrec-bce", split.data.item_ids, {**TINY, "logit_bias": None}, seed=0)
    assert old.model.logit_bias is None and "logit_bias" not in old.tensors()
