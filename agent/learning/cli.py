"""``tastebud train policy``: train the learned ask-vs-recommend policy on the MCR simulator.

Splits users by a seeded hash (80% train, of which 10% validate; 20% held out), trains the
Q-network (rollout policy iteration from max-entropy by default, or UNICORN's double DQN), saves
checkpoints and a learning curve, distils a decision tree, then evaluates the learned policy, the
tree and the baselines on the held-out users. With ``--split-files`` / ``--episodes-file`` the
held-out episodes are the files' (the test file's pairs, or the episodes file), and the policy
learns on the other held-out pairs (the valid file's, or the leave-one-out pairs left after the
episodes are removed). Imports only argparse at load.
"""

from __future__ import annotations

import argparse
import json
import logging
import time

from agent.simulate.cli import (
    add_attribute_arguments,
    add_episode_arguments,
    add_protocol_arguments,
    mcr_data_flags,
    resolve_protocol_flags,
)

log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Flags of ``tastebud train policy``."""
    p.add_argument("--dataset", default="ml-100k", help="ml-100k, movielens:VARIANT, or a generic catalog folder")
    p.add_argument(
        "--learner",
        choices=["rollout", "dqn"],
        default="rollout",
        help="rollout: policy iteration with Monte-Carlo rollouts from max-entropy; dqn: UNICORN's double DQN",
    )
    p.add_argument(
        "--episodes",
        type=int,
        help="training episodes in all (default: rollout 4000 per iteration; dqn 3000)",
    )
    p.add_argument(
        "--iterations",
        type=int,
        default=1,
        help="rollout: policy-iteration rounds (1 = one improvement step on max-entropy; the best round on "
        "validation is kept)",
    )
    p.add_argument(
        "--device", default="auto", choices=["auto", "cpu"], help="auto = cpu: the MLP is tiny, episodes dominate"
    )
    add_protocol_arguments(p)  # the policy learns and is evaluated under the chosen protocol's rules
    p.add_argument("--seed", type=int, default=0, help="training seed, and the seed of the held-out evaluation")
    p.add_argument("--recommender", default="itemknn", help="recommender scoring candidates in the simulator")
    p.add_argument("--tree-depth", type=int, default=4, help="depth of the decision tree distilled from the policy")
    p.add_argument("--gamma", type=float, help="discount (default: rollout 1.0, dqn 0.95)")
    p.add_argument(
        "--success-reward",
        choices=["flat", "hdcg"],
        default="flat",
        help="dqn: flat (UNICORN) or the hDCG gain of the success (rollout uses the metric reward)",
    )
    p.add_argument(
        "--out",
        help="run folder: checkpoints, curve.png, results.json (default: runs/policy/<dataset>-<question>-<learner>-"
        "<seed>, with -<protocol> after it for a --protocol other than tastebud)",
    )
    p.add_argument(
        "--save",
        help="final checkpoint folder (default: the cache path for this catalog, question and protocol; the agent "
        "reads the multi-choice tastebud one)",
    )
    p.add_argument("--no-save", action="store_true", help="keep the checkpoint in --out only")
    p.add_argument("--no-eval", action="store_true", help="skip the held-out evaluation")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    add_episode_arguments(p)  # files: the held-out episodes, and VALID's pairs to learn on
    add_attribute_arguments(p)
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line of stdout")


def run(args: argparse.Namespace) -> int:
    """Train, save, evaluate; print a summary (and with ``--json`` one JSON object last)."""
    from dataclasses import asdict
    from pathlib import Path

    import torch

    from agent.learning import checkpoint, dqn, rollout
    from agent.learning.dqn import DQNConfig, RewardConfig, evaluate, plot_curve, split_users
    from agent.learning.features import FeatureConfig
    from agent.learning.policy import LearnedPolicy, policy_dir
    from agent.learning.tree import collect, fit_tree
    from agent.policy import MaxEntropyPolicy
    from agent.simulate.mcr import Environment, MCRConfig, make_policy
    from recsys.datasets import load_catalog
    from recsys.settings import Settings

    torch.set_num_threads(1)
    settings = Settings.from_env(cache_dir=getattr(args, "cache_dir", None))
    catalog = load_catalog(args.dataset, settings)
    mcr = MCRConfig(recommender=args.recommender, **resolve_protocol_flags(args), **mcr_data_flags(args))
    features = FeatureConfig(
        question=args.question, max_turns=args.max_turns, max_options=mcr.rules.options, protocol=args.protocol
    )
    config: DQNConfig | rollout.RolloutConfig
    if args.learner == "dqn":
        episodes = args.episodes or 3000
        config = DQNConfig(
            episodes=episodes,
            seed=args.seed,
            eval_every=max(50, episodes // 4),
            gamma=0.95 if args.gamma is None else args.gamma,
            reward=RewardConfig(success_shape=args.success_reward),
        )
    else:
        episodes = args.episodes or 4000 * args.iterations
        config = rollout.RolloutConfig(
            iterations=args.iterations,
            episodes=max(1, episodes // args.iterations),
            seed=args.seed,
            gamma=1.0 if args.gamma is None else args.gamma,
        )
    suffix = "" if args.protocol == "tastebud" else f"-{args.protocol}"
    out = Path(args.out or f"runs/policy/{Path(args.dataset).name}-{args.question}-{args.learner}-{args.seed}{suffix}")
    out.mkdir(parents=True, exist_ok=True)

    t0 = time.perf_counter()
    env = Environment(catalog, mcr, seed=0)
    if env.pool is None:  # the default split: users are divided between learning and the held-out evaluation
        pool, held_out = split_users(env.targets, held_out=0.2, seed=0)
    else:  # files fix the held-out episodes; the policy learns on the other held-out pairs
        pool, held_out = env.pool, env.targets
        if not pool:
            raise ValueError(
                "no pairs to learn on: the valid split file (or the catalog outside the episodes) is empty"
            )
    train_targets, val_targets = split_users(pool, held_out=0.1, seed=1)
    env_s = time.perf_counter() - t0
    meta = {
        "dataset": catalog.name,
        "question": args.question,
        "protocol": args.protocol,
        "seed": args.seed,
        "episodes": episodes,
        "learner": args.learner,
        "mcr": {k: v for k, v in asdict(mcr).items() if k != "maxent"},
        args.learner: asdict(config),
        "users": {
            "train_targets": len(train_targets),
            "val_targets": len(val_targets),
            "held_out_targets": len(held_out),
        },
    }

    def on_eval(net: torch.nn.Module, row: dict[str, float], is_best: bool) -> None:
        checkpoint.save(out / "last", net, features, {**meta, "row": row})
        if is_best:
            checkpoint.save(out / "best", net, features, {**meta, "row": row})

    train = dqn.train if args.learner == "dqn" else rollout.train
    result = train(env, train_targets, val_targets, features, config, on_eval=on_eval, progress=not args.no_progress)
    curve_png = plot_curve(result.curve, out / "curve.png", f"{catalog.name} {args.question} seed {args.seed}")
    anchor = None
    if result.best.get("anchored"):  # a conservative step from max-entropy (rollout learner, first round)
        anchor = (mcr.maxent_config(), float(result.best["margin"]))
    learned = LearnedPolicy(result.net, features)
    if anchor is not None:
        learned.base, learned.margin = MaxEntropyPolicy(anchor[0]), anchor[1]
    t1 = time.perf_counter()
    x, _, acts = collect(env, train_targets[:600], learned, seed=2_000 + args.seed)
    tree = fit_tree(x, acts, features, max_depth=args.tree_depth, seed=args.seed)
    tree_s = time.perf_counter() - t1
    (out / "tree.txt").write_text(tree.rules() + "\n")
    meta = {**meta, "best": result.best, "train_s": round(result.wall_s, 1)}
    checkpoint.save(out / "best", result.net, features, meta, tree, anchor)
    saved = None
    if not args.no_save:
        saved = checkpoint.save(
            Path(args.save or policy_dir(settings.cache_dir, args.dataset, args.question, args.protocol)),
            result.net,
            features,
            meta,
            tree,
            anchor,
        )

    figures: dict[str, dict[str, float]] = {}
    if not args.no_eval:
        seed = args.seed
        makers = {
            "learned": lambda _i: learned,
            "tree": lambda _i: tree,
            **{
                name: (lambda i, n=name: make_policy(n, mcr, seed * 1_000_003 + i))
                for name in ("maxent", "random", "always-recommend")
            },
        }
        for name, make in makers.items():
            t2 = time.perf_counter()
            figures[name] = {**evaluate(env, held_out, make, seed), "wall_s": round(time.perf_counter() - t2, 1)}
            log.info("held-out %s %s", name, figures[name])
    payload = {
        "dataset": catalog.name,
        "question": args.question,
        "protocol": args.protocol,
        "seed": args.seed,
        "episodes": episodes,
        "learner": args.learner,
        "env_s": round(env_s, 1),
        "train_s": round(result.wall_s, 1),
        "tree_s": round(tree_s, 1),
        "best_val": {k: v for k, v in result.best.items() if k != "state"},
        "held_out_targets": len(held_out),
        "held_out": figures,
        "checkpoint": str(saved or out / "best"),
        "curve": str(curve_png),
    }
    (out / "results.json").write_text(json.dumps({**payload, "curve_rows": result.curve}, indent=2))
    for name, f in figures.items():
        print(f"{name:18s} SR@15 {f['SR@15']:.3f}  hDCG {f['hDCG']:.3f}  AT {f['AT']:.2f}")  # noqa: T201
    print(f"checkpoint: {payload['checkpoint']}  (run folder: {out})")  # noqa: T201
    if args.json:
        print(json.dumps(payload))  # noqa: T201
    return 0
