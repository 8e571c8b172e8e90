"""The learned ask-vs-recommend policy: features, DQN training, tree, checkpoints, agent default."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from agent.api import AgentConfig, _policy, learned_policy_dir
from agent.learning import checkpoint
from agent.learning.dqn import DQNConfig, Replay, dqn_loss, split_users, train
from agent.learning.features import FeatureConfig, featurize
from agent.learning.network import QNet, QNetConfig
from agent.learning.policy import LearnedPolicy, policy_dir
from agent.learning.tree import collect, fit_tree
from agent.policy import Ask, MaxEntropyPolicy, Observation, Recommend
from agent.simulate.mcr import Environment, MCRConfig, run_fast
from recsys.attributes import AttributeConfig, AttributeSpace
from recsys.catalog import Catalog
from recsys.settings import Settings


@pytest.fixture(scope="module")
def env(catalog: Catalog) -> Environment:
    return Environment(catalog, MCRConfig(question="multi"), seed=0)


def _obs(env: Environment, space: AttributeSpace | None = None) -> Observation:
    t = env.targets[0]
    base = env.scores(t.history)
    idx = np.flatnonzero(np.isfinite(base))
    cand = idx[np.argsort(-base[idx], kind="stable")]
    return Observation(turn=1, candidates=cand, scores=base[cand], asked=frozenset(), space=space or env.space, k=10)


@pytest.mark.parametrize("question", ["multi", "binary"])
def test_features_do_not_depend_on_the_attribute_space(env: Environment, catalog: Catalog, question: str) -> None:
    cfg = FeatureConfig(question=question)
    small = AttributeSpace(catalog, AttributeConfig(relations=()))  # the agent's genre + decade space
    for space in (env.space, small):
        state = featurize(_obs(env, space), cfg)
        assert state.x.shape == (cfg.dim,) and np.isfinite(state.x).all()
        assert state.mask.shape == (cfg.actions,) and state.mask[0]
        assert state.mask[1:].sum() == len(state.asks) >= 1
        if question == "binary":
            assert all(len(a.options) == 1 for a in state.asks)
        else:
            assert all(len(a.options) >= 2 for a in state.asks)
            assert len({a.attribute for a in state.asks}) == len(state.asks)


def test_few_candidates_force_a_recommendation(env: Environment) -> None:
    obs = _obs(env)
    few = replace(obs, candidates=obs.candidates[:5], scores=obs.scores[:5])
    state = featurize(few, FeatureConfig())
    assert state.mask.tolist() == [True] + [False] * 5
    net = QNet(QNetConfig(dim=FeatureConfig().dim, actions=FeatureConfig().actions))
    assert isinstance(LearnedPolicy(net, FeatureConfig()).decide(few), Recommend)


def test_split_users_is_disjoint_and_seeded(env: Environment) -> None:
    train_t, test_t = split_users(env.targets, held_out=0.2, seed=0)
    assert {t.user_id for t in train_t}.isdisjoint({t.user_id for t in test_t})
    assert len(train_t) + len(test_t) == len(env.targets)
    assert 0.1 < len(test_t) / len(env.targets) < 0.3
    assert split_users(env.targets, 0.2, 0)[1] == test_t


def test_dqn_loss_decreases_on_one_batch() -> None:
    rng = np.random.default_rng(0)
    cfg = FeatureConfig()
    replay = Replay(64, cfg.dim, cfg.actions)
    for _ in range(64):
        replay.add(
            rng.random(cfg.dim).astype(np.float32), int(rng.integers(6)), 1.0, np.zeros(cfg.dim), np.ones(6, bool), True
        )
    batch = replay.sample(64, rng)
    torch.manual_seed(0)
    net = QNet(QNetConfig(dim=cfg.dim, actions=cfg.actions))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    first = float(dqn_loss(net, net, batch, 0.9).detach())
    for _ in range(100):
        loss = dqn_loss(net, net, batch, 0.9)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < 0.1 * first


def test_tiny_training_run_learns_and_round_trips(env: Environment, tmp_path: Path) -> None:
    cfg = FeatureConfig()
    train_t, held = split_users(env.targets, 0.2, 0)
    config = DQNConfig(episodes=80, warmup=64, batch=32, eval_every=40, seed=0, target_sync=50)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        init = QNet(QNetConfig(dim=cfg.dim, actions=cfg.actions, hidden=config.hidden))
    result = train(env, train_t[:200], train_t[200:240], cfg, config)
    assert [r["episode"] for r in result.curve] == [40, 80]
    assert result.curve[-1]["updates"] > 0 and np.isfinite(result.curve[-1]["loss"])
    for (name, p0), p1 in zip(init.state_dict().items(), result.net.state_dict().values(), strict=True):
        assert not torch.equal(p0, p1), f"{name} did not change"

    learned = LearnedPolicy(result.net, cfg)
    x, _, acts = collect(env, train_t[:30], learned, seed=5)
    tree = fit_tree(x, acts, cfg, max_depth=3)
    assert "recommend" in tree.rules() or "ask" in tree.rules()
    folder = checkpoint.save(tmp_path / "ckpt", result.net, cfg, {"dataset": "ml-100k"}, tree)
    assert checkpoint.exists(folder)
    loaded, loaded_tree, meta = checkpoint.load(folder)
    assert meta["dataset"] == "ml-100k" and loaded_tree is not None
    for i, t in enumerate(held[:15]):
        assert run_fast(env, t, loaded, i, 3) == run_fast(env, t, learned, i, 3)
        assert run_fast(env, t, loaded_tree, i, 3) == run_fast(env, t, tree, i, 3)
    action = loaded.decide(_obs(env))
    assert isinstance(action, Ask | Recommend)


def test_agent_uses_the_learned_policy_when_a_checkpoint_exists(tmp_path: Path) -> None:
    settings = Settings(cache_dir=tmp_path)
    config = AgentConfig()
    assert config.policy == "auto"
    assert isinstance(_policy(config, settings), MaxEntropyPolicy)
    folder = learned_policy_dir(settings, config.dataset)
    assert folder == policy_dir(tmp_path, config.dataset, "multi")
    cfg = FeatureConfig()
    checkpoint.save(folder, QNet(QNetConfig(dim=cfg.dim, actions=cfg.actions)), cfg, {"dataset": "ml-100k"})
    assert isinstance(_policy(config, settings), LearnedPolicy)
    assert isinstance(_policy(replace(config, policy="maxent"), settings), MaxEntropyPolicy)
    assert not isinstance(_policy(replace(config, dataset="other"), settings), LearnedPolicy)
