"""Turn latency of the agent, template backend vs the default local LLM, in one warm process each.

Process start-up (imports, catalog, models, indexes) is reported separately from turn latency.
Each backend runs the same scripted conversations; JSON object last.

    python benchmarks/agent_latency.py [--conversations 20] [--backends template local]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from pathlib import Path as _Path

# Run as a script, this folder comes first on sys.path and benchmarks/memory.py would shadow the memory package.
sys.path.insert(0, str(_Path(__file__).resolve().parents[1]))

import numpy as np

SCRIPTS = [
    ["hi", "I want to watch a movie", "comedy", "the 1990s", "not for me", "why the first one?"],
    ["never recommend horror", "something light for tonight", "any", "any", "too old", "I'll watch the first one"],
    [
        "I loved Star Wars and The Empire Strikes Back",
        "something like that please",
        "none of these",
        "tell me about Alien",
    ],
    ["a crime thriller from the 70s", "not for me", "what do you know about me", "forget that I said no horror"],
]


@dataclass(frozen=True)
class Config:
    conversations: int = 20
    backends: tuple[str, ...] = ("template", "local")
    recommender: str = "auto"


def run_backend(kind: str, config: Config) -> dict:
    from agent.api import Agent, AgentConfig
    from agent.llm import BackendConfig

    data_dir = Path(tempfile.mkdtemp(prefix="tastebud-bench-"))
    t = time.perf_counter()
    agent = Agent.from_config(
        AgentConfig(backend=BackendConfig(kind=kind), recommender=config.recommender, data_dir=data_dir)
    )
    build_s = time.perf_counter() - t
    t = time.perf_counter()
    agent.chat("warmup", "I want a comedy")  # loads lazily initialised models (encoder, LLM)
    warmup_s = time.perf_counter() - t
    times = []
    for n in range(config.conversations):
        script = SCRIPTS[n % len(SCRIPTS)]
        for message in script:
            t = time.perf_counter()
            agent.chat(f"user{n}", message, thread_id=f"c{n}")
            times.append(time.perf_counter() - t)
    agent.close()
    ms = np.array(times) * 1000
    return {
        "backend": kind,
        "turns": len(times),
        "agent_build_s": round(build_s, 2),
        "first_turn_s": round(warmup_s, 2),
        "p50_ms": round(float(np.percentile(ms, 50)), 1),
        "p95_ms": round(float(np.percentile(ms, 95)), 1),
        "mean_ms": round(float(ms.mean()), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conversations", type=int, default=Config.conversations)
    parser.add_argument("--backends", nargs="+", default=list(Config.backends))
    parser.add_argument("--recommender", default=Config.recommender)
    args = parser.parse_args()
    config = Config(conversations=args.conversations, backends=tuple(args.backends), recommender=args.recommender)
    results = [run_backend(kind, config) for kind in config.backends]
    print(f"{'backend':<10} {'turns':>6} {'p50 ms':>8} {'p95 ms':>8} {'build s':>8} {'1st turn s':>10}")
    for r in results:
        print(
            f"{r['backend']:<10} {r['turns']:>6} {r['p50_ms']:>8} {r['p95_ms']:>8} {r['agent_build_s']:>8} {r['first_turn_s']:>10}"
        )
    base = next((r for r in results if r["backend"] == "template"), None)
    for r in results:
        if base and r is not base:
            print(f"{r['backend']} / template p50 ratio: {r['p50_ms'] / base['p50_ms']:.1f}")
    print(
        json.dumps(
            {"config": asdict(config), "machine": f"{platform.machine()}, {os.cpu_count()} cores", "results": results}
        )
    )


if __name__ == "__main__":
    main()
