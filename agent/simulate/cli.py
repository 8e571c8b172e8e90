"""``tastebud simulate``: flags and the command (wired in ``agent/cli.py``). Imports only argparse at load."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time

POLICY_NAMES = ("maxent", "random", "always-recommend")  # agent.simulate.mcr.POLICY_NAMES, without its imports


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Flags of ``tastebud simulate``."""
    p.add_argument("--dataset", default="ml-100k", help="ml-100k, movielens:VARIANT, or a generic catalog folder")
    p.add_argument("--mode", choices=["mcr", "persona"], default="mcr")
    p.add_argument("--policy", choices=POLICY_NAMES, default="maxent")
    p.add_argument("--episodes", type=int, default=100, help="MCR episodes, or personas")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--question", choices=["multi", "binary"], default="multi")
    p.add_argument("--engine", choices=["fast", "agent"], default="fast", help="MCR: policy directly, or agent.chat")
    p.add_argument("--recommender", default="itemknn", help="recommender scoring candidates (itemknn, sasrec-ce, ...)")
    p.add_argument("--max-turns", type=int, default=15)
    p.add_argument("-k", type=int, default=10, help="items per list")
    p.add_argument("--sessions", type=int, default=3, help="persona: sessions per persona")
    p.add_argument("--workers", type=int, default=2, help="Ray actors")
    p.add_argument("--ray-address", help="an existing Ray cluster (default: a local Ray)")
    p.add_argument("--no-ray", action="store_true", help="run in this process (debugging)")
    p.add_argument("--out", help="report folder (default: runs/simulate/<mode>-<policy>-<question>-<seed>)")
    p.add_argument("--no-progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    """Run, write the report, print a summary and the JSON object last."""
    from pathlib import Path

    from agent.simulate.mcr import MCRConfig
    from agent.simulate.persona import PersonaConfig
    from agent.simulate.report import summarize, write_report
    from agent.simulate.runner import SimulationConfig, run_local, run_ray

    config = SimulationConfig(
        dataset=args.dataset,
        mode=args.mode,
        engine=args.engine,
        policy=args.policy,
        episodes=args.episodes,
        seed=args.seed,
        mcr=MCRConfig(max_turns=args.max_turns, k=args.k, question=args.question, recommender=args.recommender),
        persona=PersonaConfig(sessions=args.sessions, k=args.k),
        workers=args.workers,
        cache_dir=getattr(args, "cache_dir", None),
    )
    engine = "agent" if args.mode == "persona" else args.engine
    out = Path(args.out or f"runs/simulate/{args.mode}-{engine}-{args.policy}-{args.question}-{args.seed}")
    start = time.perf_counter()
    if args.no_ray:
        results = run_local(config, progress=not args.no_progress)
    else:
        results = run_ray(config, args.ray_address, progress=not args.no_progress)
    wall = time.perf_counter() - start
    figures = summarize(config, results)
    figures["wall_s"] = round(wall, 1)
    command = "tastebud simulate " + " ".join(shlex.quote(a) for a in sys.argv[2:])
    report = write_report(config, results, figures, out, command)
    payload = {
        "mode": args.mode,
        "engine": engine,
        "policy": args.policy,
        "question": args.question,
        "dataset": args.dataset,
        "episodes": args.episodes,
        "seed": args.seed,
        "figures": figures,
        "report": str(report),
    }
    print(f"report: {report}")  # noqa: T201
    print(json.dumps(payload))  # noqa: T201
    return 0
