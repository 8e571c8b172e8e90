"""Double DQN on the MCR simulator (UNICORN's learner, over our state vector and shortlist).

Episodes are ``agent.simulate.mcr.run_fast`` itself, with the learning policy recording its
states and actions, so training and evaluation run exactly one protocol. Rewards follow the
protocol's shape (UNICORN, Deng et al. 2021): a small reward for a question the user accepts,
penalties for a rejected question, a rejected list and running out of turns, a large one for success.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from agent.learning.features import FeatureConfig, State
from agent.learning.network import QNet, QNetConfig, masked_argmax
from agent.learning.policy import LearnedPolicy
from agent.policy import Ask, Observation, Policy
from agent.simulate.mcr import Environment, EpisodeResult, Step, run_fast
from agent.simulate.metrics import hdcg_gain, mcr_metrics
from agent.simulate.users import Target, TruthfulUser

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class RewardConfig:
    """Per-step rewards (UNICORN's values).

    Attributes:
        success: The user accepts a list.
        rejected_list: The user rejects a list.
        accepted_question: The user picks an option / answers yes.
        rejected_question: The user picks none / answers no.
        out_of_turns: Added at the last turn of a failed episode.
        success_shape: "flat" (UNICORN: ``success`` whatever the turn and rank) or "hdcg" (``success``
            times the hDCG gain of the accepted turn and rank: the metric as the reward).
    """

    success: float = 1.0
    rejected_list: float = -0.1
    accepted_question: float = 0.01
    rejected_question: float = -0.1
    out_of_turns: float = -0.3
    success_shape: Literal["flat", "hdcg"] = "flat"
    success_bonus: float = 0.0

    def __post_init__(self) -> None:
        if self.success_shape not in ("flat", "hdcg"):
            raise ValueError(f"success_shape must be flat or hdcg, got {self.success_shape!r}")


@dataclass(frozen=True, kw_only=True)
class DQNConfig:
    """Training run.

    Attributes:
        episodes: Training episodes.
        seed: Network initialisation, exploration, replay sampling and the episodes drawn.
        gamma: Discount (earlier success is worth more, as in hDCG).
        lr: Adam learning rate.
        batch: Replay minibatch.
        buffer: Replay capacity (transitions).
        warmup: Transitions before the first update.
        target_sync: Updates between target-network copies.
        eps_start: Initial exploration rate.
        eps_end: Final exploration rate.
        eps_decay: Share of the episodes over which exploration decays linearly.
        eval_every: Episodes between greedy validation runs (and checkpoints).
        hidden: Width of the Q-network.
        reward: The reward shape.
    """

    episodes: int = 2000
    seed: int = 0
    gamma: float = 0.95
    lr: float = 1e-3
    batch: int = 64
    buffer: int = 50_000
    warmup: int = 500
    target_sync: int = 250
    eps_start: float = 1.0
    eps_end: float = 0.05
    eps_decay: float = 0.6
    eval_every: int = 250
    hidden: int = 128
    reward: RewardConfig = field(default_factory=RewardConfig)

    def __post_init__(self) -> None:
        if self.episodes < 1 or self.batch < 1 or self.eval_every < 1:
            raise ValueError("episodes, batch and eval_every must be >= 1")
        if not 0 <= self.gamma <= 1 or not 0 < self.eps_decay <= 1:
            raise ValueError("gamma must be in [0, 1] and eps_decay in (0, 1]")


def split_users(targets: Sequence[Target], held_out: float = 0.2, seed: int = 0) -> tuple[list[Target], list[Target]]:
    """(training, held-out) targets, split by a seeded hash of the user id: no user is on both sides."""

    def share(user_id: str) -> float:
        digest = hashlib.sha256(f"{seed}:{user_id}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    train = [t for t in targets if share(t.user_id) >= held_out]
    test = [t for t in targets if share(t.user_id) < held_out]
    return train, test


@dataclass
class _Recording:
    """Wraps a ``LearnedPolicy`` and keeps (state, action, ask) of every decision of one episode."""

    policy: LearnedPolicy
    steps: list[tuple[State, int, Ask | None]] = field(default_factory=list)

    def decide(self, obs: Observation) -> Any:
        state, a = self.policy.state_action(obs)
        self.steps.append((state, a, state.asks[a - 1] if a else None))
        return self.policy.decide_from(state, a, obs)


def step_reward(step: Step, reward: RewardConfig, max_turns: int) -> float:
    """The protocol's reward for one step (UNICORN's shape; ``success_shape`` scales success).

    ``max_turns`` is the episode's action budget (``MCRConfig.actions``): a step at it that is not a
    success runs out of turns.
    """
    if step.asked:
        r = reward.accepted_question if step.accepted else reward.rejected_question
    elif step.accepted:
        assert step.rank is not None
        gain = hdcg_gain(step.turn, step.rank) if reward.success_shape == "hdcg" else 1.0
        r = reward.success * gain + reward.success_bonus
    else:
        r = reward.rejected_list
    if not (step.accepted and not step.asked) and step.turn >= max_turns:
        r += reward.out_of_turns
    return r


def step_rewards(
    env: Environment,
    target: Target,
    steps: Sequence[tuple[State, int, Ask | None]],
    result: EpisodeResult,
    reward: RewardConfig,
) -> np.ndarray:
    """The reward of every recorded decision of an episode (the truthful user's answers, recomputed)."""
    user = TruthfulUser(target, env.space)  # two targets: a value either has is accepted
    out = np.zeros(len(steps), np.float32)
    for n, (_, _, ask) in enumerate(steps):
        if ask is None:
            success = result.turn is not None and n == len(steps) - 1
            step = Step(asked=False, accepted=success, rank=result.rank if success else None, turn=n + 1)
        else:
            step = Step(asked=True, accepted=bool(user.answer(ask).chosen), rank=None, turn=n + 1)
        out[n] = step_reward(step, reward, env.config.actions)
    return out


class Replay:
    """Fixed-size ring buffer of transitions (numpy arrays)."""

    def __init__(self, capacity: int, dim: int, actions: int) -> None:
        self.x = np.zeros((capacity, dim), np.float32)
        self.a = np.zeros(capacity, np.int64)
        self.r = np.zeros(capacity, np.float32)
        self.x2 = np.zeros((capacity, dim), np.float32)
        self.mask2 = np.zeros((capacity, actions), bool)
        self.done = np.zeros(capacity, np.float32)
        self.capacity, self.size, self.pos = capacity, 0, 0

    def add(self, x: np.ndarray, a: int, r: float, x2: np.ndarray, mask2: np.ndarray, done: bool) -> None:
        """Append one transition, overwriting the oldest when full."""
        i = self.pos
        self.x[i], self.a[i], self.r[i], self.x2[i], self.mask2[i], self.done[i] = x, a, r, x2, mask2, done
        self.pos = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, n: int, rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
        """A uniform minibatch as tensors."""
        idx = rng.integers(0, self.size, n)
        return tuple(torch.from_numpy(arr[idx]) for arr in (self.x, self.a, self.r, self.x2, self.mask2, self.done))


def dqn_loss(net: QNet, target: QNet, batch: tuple[torch.Tensor, ...], gamma: float) -> torch.Tensor:
    """Double-DQN Huber loss: the online net picks the next action, the target net values it."""
    x, a, r, x2, mask2, done = batch
    q = net(x).gather(1, a[:, None])[:, 0]  # (B,)
    with torch.no_grad():
        a2 = masked_argmax(net(x2), mask2)
        q2 = target(x2).gather(1, a2[:, None])[:, 0]
        y = r + gamma * (1.0 - done) * q2
    return nn.functional.smooth_l1_loss(q, y)


def evaluate(env: Environment, targets: Sequence[Target], make: Callable[[int], Policy], seed: int) -> dict[str, float]:
    """MCR metrics of a policy over fixed targets; episode ``i`` draws from ``(seed, i)`` for every policy."""
    outcomes = [run_fast(env, t, make(i), i, seed).outcome for i, t in enumerate(targets)]
    return mcr_metrics(outcomes, env.config.max_turns, env.config.k)


@dataclass
class TrainResult:
    """What a training run returns.

    Attributes:
        net: The Q-network with the best validation score.
        curve: One row per validation point (episode, epsilon, train return, loss, SR@15, hDCG...).
        best: The best row.
        wall_s: Training time.
    """

    net: QNet
    curve: list[dict[str, float]]
    best: dict[str, float]
    wall_s: float


def train(
    env: Environment,
    train_targets: Sequence[Target],
    val_targets: Sequence[Target],
    features: FeatureConfig,
    config: DQNConfig,
    on_eval: Callable[[QNet, dict[str, float], bool], None] | None = None,
    progress: bool = False,
) -> TrainResult:
    """Train a Q-network on episodes drawn from ``train_targets``; keep the best on ``val_targets``.

    Args:
        env: The MCR environment (its ``config.question`` must match ``features.question``).
        train_targets: Targets the training episodes are drawn from.
        val_targets: Targets of the greedy validation runs (choose the checkpoint; never the held-out set).
        features: State vector and shortlist.
        config: The run.
        on_eval: Called at every validation point with (net, row, is_best) (checkpoints, logs).
        progress: Show a progress bar.
    """
    from tqdm import tqdm

    assert env.config.question == features.question, "the environment and the features ask different questions"
    assert train_targets, "no training targets"
    start = time.perf_counter()
    rng = np.random.default_rng(config.seed)
    with torch.random.fork_rng():
        torch.manual_seed(config.seed)
        net = QNet(QNetConfig(dim=features.dim, actions=features.actions, hidden=config.hidden))
    target_net = copy.deepcopy(net)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    replay = Replay(config.buffer, features.dim, features.actions)
    policy = LearnedPolicy(net, features, rng=np.random.default_rng([config.seed, 1]))
    order = rng.integers(0, len(train_targets), config.episodes)
    ep_seed = 1_000 + config.seed  # training episodes' openings; evaluation uses its own seeds
    curve: list[dict[str, float]] = []
    best: dict[str, float] = {}
    returns: list[float] = []
    losses: list[float] = []
    updates = 0
    for ep in tqdm(range(config.episodes), disable=not progress, desc="train policy", mininterval=5):
        decay = min(1.0, ep / max(1.0, config.eps_decay * config.episodes))
        policy.epsilon = config.eps_start + (config.eps_end - config.eps_start) * decay
        net.eval()
        target = train_targets[int(order[ep])]
        rec = _Recording(policy)
        result = run_fast(env, target, rec, ep, ep_seed)
        rewards = step_rewards(env, target, rec.steps, result, config.reward)
        returns.append(float(rewards.sum()))
        for n, (state, a, _) in enumerate(rec.steps):
            last = n == len(rec.steps) - 1
            nxt = rec.steps[n if last else n + 1][0]
            replay.add(state.x, a, float(rewards[n]), nxt.x, nxt.mask, last)
        net.train()
        for _ in range(len(rec.steps)):
            if replay.size < max(config.warmup, config.batch):
                break
            loss = dqn_loss(net, target_net, replay.sample(config.batch, rng), config.gamma)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), 10.0)
            opt.step()
            losses.append(float(loss.detach()))
            updates += 1
            if updates % config.target_sync == 0:
                target_net.load_state_dict(net.state_dict())
        if (ep + 1) % config.eval_every == 0 or ep + 1 == config.episodes:
            net.eval()
            greedy = LearnedPolicy(net, features)
            metrics = evaluate(env, val_targets, lambda _i: greedy, seed=999) if val_targets else {}
            row = {
                "episode": ep + 1,
                "epsilon": round(policy.epsilon, 3),
                "train_return": float(np.mean(returns[-config.eval_every :])),
                "loss": float(np.mean(losses[-500:])) if losses else float("nan"),
                "updates": updates,
                "elapsed_s": round(time.perf_counter() - start, 1),
                **{f"val_{k}": v for k, v in metrics.items()},
            }
            score = row.get("val_SR@15", 0.0) + row.get("val_hDCG", 0.0)
            is_best = not best or score > best["score"]
            if is_best:
                best = {**row, "score": score, "state": copy.deepcopy(net.state_dict())}  # type: ignore[dict-item]
            curve.append(row)
            log.info("policy %s", {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()})
            if on_eval is not None:
                on_eval(net, row, is_best)
    net.load_state_dict(best.pop("state"))  # type: ignore[arg-type]
    net.eval()
    return TrainResult(net=net, curve=curve, best=best, wall_s=time.perf_counter() - start)


def plot_curve(curve: Sequence[dict[str, float]], path: Path, title: str = "") -> Path:
    """Learning curve PNG: training return and validation SR@15 / hDCG against episodes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    eps = [r["episode"] for r in curve]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    ax1.plot(eps, [r["train_return"] for r in curve], marker="o")
    ax1.set_xlabel("episode")
    ax1.set_ylabel("mean training return (with exploration)")
    for key in ("val_SR@15", "val_hDCG"):
        if key in curve[0]:
            ax2.plot(eps, [r[key] for r in curve], marker="o", label=key[4:])
    ax2.set_xlabel("episode")
    ax2.set_ylabel("greedy, validation users")
    ax2.legend()
    fig.suptitle(title)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
