"""Decision latency of the learned policy (and its tree) against max-entropy, in the same run.

Observations come from real MCR episodes on ML-100K (item-kNN scores); each policy decides on
the same observations. Prints a table, then one JSON object last.

    python benchmarks/policy_latency.py --checkpoint runs/policy/ml-100k-multi-0/best
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

# Run as a script, this folder comes first on sys.path and benchmarks/memory.py would shadow the memory package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402


@dataclass(frozen=True, kw_only=True)
class LatencyConfig:
    """The benchmark.

    Attributes:
        checkpoint: A ``tastebud train policy`` checkpoint folder.
        dataset: Catalog.
        observations: Observations collected (from max-entropy episodes).
        repeats: Timed decisions per observation and policy.
        seed: Episodes drawn.
    """

    checkpoint: str
    dataset: str = "ml-100k"
    observations: int = 200
    repeats: int = 5
    seed: int = 0


def main() -> None:
    """Collect observations, time every policy on them, print the JSON last."""
    import torch

    from agent.learning import checkpoint
    from agent.policy import MaxEntropyPolicy, Observation
    from agent.simulate.mcr import Environment, MCRConfig, run_fast
    from recsys.datasets import load_catalog
    from recsys.settings import Settings

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--dataset", default="ml-100k")
    p.add_argument("--observations", type=int, default=200)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    cfg = LatencyConfig(**vars(p.parse_args()))
    torch.set_num_threads(1)
    learned, tree, meta = checkpoint.load(cfg.checkpoint)
    question = learned.features.question
    mcr = MCRConfig(question=question, protocol=learned.features.protocol)  # the protocol it was trained under
    env = Environment(load_catalog(cfg.dataset, Settings.from_env()), mcr, seed=0)
    maxent = MaxEntropyPolicy(mcr.maxent_config())

    seen: list[Observation] = []

    class Tap:
        def decide(self, obs: Observation):  # noqa: ANN202
            seen.append(obs)
            return maxent.decide(obs)

    for i, t in enumerate(env.sample(cfg.observations, cfg.seed)):
        run_fast(env, t, Tap(), i, cfg.seed)
        if len(seen) >= cfg.observations:
            break
    obs = seen[: cfg.observations]
    policies = {"learned": learned, "maxent": maxent, **({"tree": tree} if tree is not None else {})}
    for policy in policies.values():  # warm the caches (sparse membership, torch)
        policy.decide(obs[0])
    results = {}
    for name, policy in policies.items():
        wall, cpu = [], []
        for o in obs:
            for _ in range(cfg.repeats):
                t0, c0 = time.perf_counter(), time.thread_time()
                policy.decide(o)
                wall.append(time.perf_counter() - t0)
                cpu.append(time.thread_time() - c0)  # CPU time: what a shared, loaded machine does not inflate
        ms, cpu_ms = np.asarray(wall) * 1e3, np.asarray(cpu) * 1e3
        results[name] = {
            "p50_ms": float(np.percentile(ms, 50)),
            "p95_ms": float(np.percentile(ms, 95)),
            "cpu_p50_ms": float(np.percentile(cpu_ms, 50)),
            "cpu_p95_ms": float(np.percentile(cpu_ms, 95)),
            "n": len(ms),
        }
        r = results[name]
        print(  # noqa: T201
            f"{name:8s} wall p50 {r['p50_ms']:.3f} ms  p95 {r['p95_ms']:.3f} ms | "
            f"cpu p50 {r['cpu_p50_ms']:.3f} ms  p95 {r['cpu_p95_ms']:.3f} ms"
        )
    sha = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    payload = {
        "config": asdict(cfg),
        "load_avg_1m": os.getloadavg()[0],
        "question": question,
        "checkpoint_meta": {k: meta.get(k) for k in ("dataset", "seed", "episodes")},
        "candidates_mean": float(np.mean([len(o.candidates) for o in obs])),
        "results": results,
        "git_sha": sha,
        "versions": {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__},
    }
    print(json.dumps(payload))  # noqa: T201


if __name__ == "__main__":
    main()
