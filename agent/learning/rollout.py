"""Approximate policy iteration with Monte-Carlo rollouts on the MCR simulator.

Each iteration runs the current policy on training episodes. At every decision that has a
choice, every legal action (recommend, or ask one of the shortlist's questions) is tried on a
clone of the episode, and the clone is finished by the current policy: the discounted sum of
the protocol's rewards is a sample of ``Q^pi(s, a)``. The Q-network is regressed on those
returns (squared error on the legal actions only) and the next policy is greedy in it. This is
rollout-based policy iteration (Bertsekas & Tsitsiklis, "Neuro-Dynamic Programming"; Lagoudakis
& Parr, ICML 2003): the first rollout policy is max-entropy, so the first iteration learns a
one-step improvement on it, and later ones improve on their predecessor.

Why not only DQN: bootstrapped targets over a 40-number state were too noisy to learn the
precise "recommend now" test that decides hDCG (EVALUATION.md, section 5); rollouts give each
action's return from the same state, the same user and the same history, so the comparison the
policy needs is measured rather than bootstrapped.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from agent.learning.dqn import RewardConfig, TrainResult, evaluate, step_reward
from agent.learning.features import FeatureConfig, featurize
from agent.learning.network import QNet, QNetConfig
from agent.learning.policy import LearnedPolicy, action_at
from agent.policy import MaxEntropyPolicy, Policy
from agent.simulate.mcr import Environment, Episode
from agent.simulate.users import Target

log = logging.getLogger(__name__)


# The evaluation's own objective: the hDCG gain of a success plus a flat bonus that values any
# success within the turn budget (SR@15); no per-step penalties (they only proxy for these two).
# ``RolloutConfig.success_bonuses`` overrides the bonus with each candidate value.
METRIC_REWARD = RewardConfig(
    success=1.0,
    rejected_list=0.0,
    accepted_question=0.0,
    rejected_question=0.0,
    out_of_turns=0.0,
    success_shape="hdcg",
    success_bonus=1.0,
)


@dataclass(frozen=True, kw_only=True)
class RolloutConfig:
    """Training run.

    Attributes:
        iterations: Policy-iteration rounds (each: collect rollouts, fit the network, validate).
        episodes: Training episodes per round; every decision with a choice in them is rolled out.
        explore: Probability that the episode itself continues with a random legal action instead
            of the current policy's (visits states the next policy may reach).
        gamma: Discount of the rewards within a rollout.
        epochs: Passes over a round's samples when fitting the network.
        batch: Minibatch of the fit.
        lr: Adam learning rate.
        hidden: Width of the Q-network.
        members: Ensemble size of the Q-network (values averaged).
        seed: Episodes drawn, exploration, initialisation and minibatches.
        reward: The protocol's reward shape; the default is the evaluation's objective (``METRIC_REWARD``).
        success_bonuses: Candidate values of ``reward.success_bonus`` (how much any success counts
            beside its hDCG gain). One rollout collection records the return under each; one
            network is fitted per value and the validation users pick (SR@15 + hDCG).
        val_seeds: Opening seeds of the validation runs (averaged: fewer lucky picks).
        margins: First round: candidate value advantages a network needs to overrule max-entropy's
            action (``LearnedPolicy.margin``); ``inf`` keeps max-entropy itself, so a round whose
            networks do not beat it on validation changes nothing. Later rounds are plain greedy.
    """

    iterations: int = 1
    episodes: int = 4000
    explore: float = 0.1
    gamma: float = 1.0
    epochs: int = 20
    batch: int = 256
    lr: float = 1e-3
    hidden: int = 128
    members: int = 5
    seed: int = 0
    reward: RewardConfig = field(default_factory=lambda: METRIC_REWARD)
    success_bonuses: tuple[float, ...] = (0.3, 1.0)
    val_seeds: tuple[int, ...] = (999, 998, 997)
    margins: tuple[float, ...] = (0.0, 0.02, 0.05, 0.1, math.inf)

    def __post_init__(self) -> None:
        if min(self.iterations, self.episodes, self.epochs, self.batch) < 1:
            raise ValueError("iterations, episodes, epochs and batch must be >= 1")
        if not 0 <= self.explore <= 1 or not 0 <= self.gamma <= 1:
            raise ValueError("explore and gamma must be in [0, 1]")
        if not self.success_bonuses or not self.val_seeds:
            raise ValueError("success_bonuses and val_seeds must not be empty")

    def rewards(self) -> list[RewardConfig]:
        """The reward of every candidate success bonus, in order."""
        return [replace(self.reward, success_bonus=b) for b in self.success_bonuses]


def finish(episode: Episode, policy: Policy, rewards: Sequence[RewardConfig], gamma: float) -> np.ndarray:
    """Play ``episode`` to its end with ``policy``; the discounted return from here under each reward."""
    total, discount = np.zeros(len(rewards)), 1.0
    max_turns = episode.env.config.actions
    while not episode.done:
        obs = episode.observation()
        step = episode.step(policy.decide(obs), obs.candidates)
        total += discount * np.array([step_reward(step, r, max_turns) for r in rewards])
        discount *= gamma
    return total


@dataclass(frozen=True)
class Samples:
    """Rolled-out decisions: state vectors ``x`` (N, dim), legal ``mask`` (N, A), returns ``q`` (N, A, R).

    ``q[..., r]`` is the return under the ``r``-th reward of ``RolloutConfig.rewards()``; 0 where illegal.
    """

    x: np.ndarray
    mask: np.ndarray
    q: np.ndarray

    def __len__(self) -> int:
        return len(self.x)


def collect(
    env: Environment,
    targets: Sequence[Target],
    policy: Policy,
    features: FeatureConfig,
    config: RolloutConfig,
    seed: int,
    progress: bool = False,
) -> Samples:
    """Roll out every legal action at every decision of ``policy``'s episodes over ``targets``."""
    from tqdm import tqdm

    rng = np.random.default_rng([config.seed, seed])
    max_turns = env.config.actions
    rewards = config.rewards()
    xs, masks, qs = [], [], []
    for i, target in enumerate(tqdm(targets, disable=not progress, desc="rollouts", mininterval=5)):
        episode = Episode(env, target, i, seed)
        while not episode.done:
            obs = episode.observation()
            state = featurize(obs, features)
            legal = np.flatnonzero(state.mask)
            if len(legal) > 1:
                q = np.zeros((features.actions, len(rewards)), np.float32)
                for a in legal:
                    twin = episode.clone()
                    step = twin.step(action_at(state, int(a), obs), obs.candidates)
                    r = np.array([step_reward(step, rw, max_turns) for rw in rewards])
                    q[a] = r + config.gamma * finish(twin, policy, rewards, config.gamma)
                xs.append(state.x)
                masks.append(state.mask)
                qs.append(q)
            if len(legal) > 1 and rng.random() < config.explore:
                action = action_at(state, int(rng.choice(legal)), obs)
            else:
                action = policy.decide(obs)
            episode.step(action, obs.candidates)
    return Samples(np.asarray(xs, np.float32), np.asarray(masks, bool), np.asarray(qs, np.float32))


def fit(net: QNet, samples: Samples, config: RolloutConfig, seed: int, reward: int = 0) -> float:
    """Regress the network's legal-action values on the returns under reward ``reward``; the last epoch's mean loss."""
    gen = torch.Generator().manual_seed(seed)
    x, mask, q = (torch.from_numpy(a) for a in (samples.x, samples.mask, samples.q[..., reward]))
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    net.train()
    loss_sum = 0.0
    for _ in range(config.epochs):
        order = torch.randperm(len(x), generator=gen)
        loss_sum, batches = 0.0, 0
        for start in range(0, len(x), config.batch):
            b = order[start : start + config.batch]
            m = mask[b].float()
            # each member regresses on the returns alone (not their mean), so members stay independent
            loss = (((net.member_values(x[b]) - q[b]) ** 2) * m).sum() / m.sum()
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), 10.0)
            opt.step()
            loss_sum, batches = loss_sum + float(loss.detach()), batches + 1
        loss_sum /= max(batches, 1)
    net.eval()
    return loss_sum


def validate(env: Environment, targets: Sequence[Target], policy: Policy, seeds: Sequence[int]) -> dict[str, float]:
    """MCR metrics over ``targets``, averaged over opening seeds."""
    runs = [evaluate(env, targets, lambda _i: policy, seed=s) for s in seeds]
    return {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}


def train(
    env: Environment,
    train_targets: Sequence[Target],
    val_targets: Sequence[Target],
    features: FeatureConfig,
    config: RolloutConfig,
    on_eval: Callable[[QNet, dict[str, float], bool], None] | None = None,
    progress: bool = False,
) -> TrainResult:
    """Policy iteration from max-entropy; keeps the (round, success bonus) whose greedy policy scores
    best on ``val_targets`` (SR@15 + hDCG).

    Args:
        env: The MCR environment (its ``config.question`` must match ``features.question``).
        train_targets: Targets the training episodes are drawn from.
        val_targets: Targets of the greedy validation runs (choose the round and bonus; never the held-out set).
        features: State vector and shortlist.
        config: The run.
        on_eval: Called after every fitted network with (net, row, is_best) (checkpoints, logs).
        progress: Show progress bars.
    """
    assert env.config.question == features.question, "the environment and the features ask different questions"
    assert train_targets, "no training targets"
    start = time.perf_counter()
    rng = np.random.default_rng(config.seed)
    maxent = MaxEntropyPolicy(env.config.maxent_config())
    policy: Policy = maxent
    reference = validate(env, val_targets, maxent, config.val_seeds) if val_targets else {}
    log.info("policy iteration: max-entropy on validation %s", reference)
    curve: list[dict[str, float]] = []
    best: dict[str, Any] = {}
    for it in range(config.iterations):
        targets = [train_targets[int(j)] for j in rng.integers(0, len(train_targets), config.episodes)]
        t0 = time.perf_counter()
        samples = collect(
            env, targets, policy, features, config, seed=1_000 * (it + 1) + config.seed, progress=progress
        )
        collect_s = time.perf_counter() - t0
        round_best: tuple[float, LearnedPolicy] | None = None
        for r, bonus in enumerate(config.success_bonuses):
            with torch.random.fork_rng():
                torch.manual_seed(config.seed * 7919 + it * 31 + r)
                net = QNet(
                    QNetConfig(dim=features.dim, actions=features.actions, hidden=config.hidden, members=config.members)
                )
            loss = fit(net, samples, config, seed=config.seed * 7919 + it * 31 + r, reward=r)
            # the first round learned max-entropy's returns, so it may anchor to max-entropy
            margins: tuple[float | None, ...] = config.margins if it == 0 else (None,)
            for margin in margins:
                candidate = (
                    LearnedPolicy(net, features)
                    if margin is None
                    else LearnedPolicy(net, features, base=maxent, margin=margin)
                )
                if margin is not None and math.isinf(margin):
                    metrics = reference  # the base itself
                else:
                    metrics = validate(env, val_targets, candidate, config.val_seeds) if val_targets else {}
                row = {
                    "episode": (it + 1) * config.episodes,
                    "iteration": it + 1,
                    "success_bonus": bonus,
                    "anchored": float(margin is not None),
                    "margin": 0.0 if margin is None else margin,
                    "samples": len(samples),
                    "train_return": float(samples.q[..., r][samples.mask].mean()) if len(samples) else 0.0,
                    "loss": loss,
                    "collect_s": round(collect_s, 1),
                    "elapsed_s": round(time.perf_counter() - start, 1),
                    **{f"val_{k}": v for k, v in metrics.items()},
                    **{f"ref_{k}": v for k, v in reference.items()},
                }
                score = row.get("val_SR@15", 0.0) + row.get("val_hDCG", 0.0)
                is_best = not best or score > best["score"]
                if is_best:
                    best = {**row, "score": score, "net": net}
                if round_best is None or score > round_best[0]:
                    round_best = (score, candidate)
                curve.append(row)
                log.info("policy %s", {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()})
                if on_eval is not None:
                    on_eval(net, row, is_best)
        assert round_best is not None
        policy = round_best[1]  # the next round improves on this round's best
    net = best.pop("net")
    net.eval()
    return TrainResult(net=net, curve=curve, best=best, wall_s=time.perf_counter() - start)
