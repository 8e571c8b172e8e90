"""Mean ± std over seeds of ``tastebud train policy`` held-out results (a markdown table, JSON last).

python benchmarks/policy_summary.py runs/policy/ml-100k-*/results.json
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

METRICS = ("SR@5", "SR@10", "SR@15", "AT", "hDCG")


def main() -> None:
    """Group results by (question, policy); print mean ± std (population std over seeds)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("results", nargs="+")
    runs = [json.loads(Path(f).read_text()) for f in p.parse_args().results]
    groups: dict[tuple[str, str], list[dict[str, float]]] = defaultdict(list)
    for run in runs:
        for policy, figures in run["held_out"].items():
            groups[(run["question"], policy)].append(figures)
    rows = {}
    print("| question | policy | seeds | " + " | ".join(METRICS) + " |")  # noqa: T201
    print("|---" * (3 + len(METRICS)) + "|")  # noqa: T201
    for (question, policy), figs in sorted(groups.items()):
        stats = {m: (float(np.mean([f[m] for f in figs])), float(np.std([f[m] for f in figs]))) for m in METRICS}
        rows[f"{question}/{policy}"] = {"seeds": len(figs), **{m: list(v) for m, v in stats.items()}}
        cells = " | ".join(f"{mu:.3f} ± {sd:.3f}" for mu, sd in stats.values())
        print(f"| {question} | {policy} | {len(figs)} | {cells} |")  # noqa: T201
    train_s = {f"{r['question']}-{r['seed']}": r["train_s"] for r in runs}
    print(json.dumps({"rows": rows, "train_s": train_s}))  # noqa: T201


if __name__ == "__main__":
    main()
