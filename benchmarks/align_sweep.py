"""Validation-only sweep of recommender alignment settings (issue 17, point 5).

Aligns copies of a persona-split SASRec reference (the one ``benchmarks/align_recommender.py``
trains, ``<out>/reference``) with each setting in the grid and prints validation NDCG@10/HR@10;
test targets are never read, so the setting chosen here can be reported on test afterwards.

    python benchmarks/align_sweep.py --reference runs/align-persona/reference

One JSON line per setting; the last line holds them all.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.simulate.persona import persona_split  # noqa: E402
from recsys.datasets import load_catalog  # noqa: E402
from recsys.seqrec.align import AlignConfig, align  # noqa: E402
from recsys.seqrec.data import from_catalog, leave_one_out  # noqa: E402
from recsys.seqrec.evaluate import evaluate  # noqa: E402
from recsys.seqrec.preferences import mine_preferences  # noqa: E402
from recsys.seqrec.recommender import load  # noqa: E402

# (method, AlignConfig overrides, rejection pool: None = the reference's top 8)
GRID: list[tuple[str, dict[str, float], int | None]] = [
    ("sdpo", {"beta": 1.0, "lr": 1e-4}, None),
    ("sdpo", {"beta": 1.0, "lr": 1e-4, "sft_weight": 1.0}, None),
    ("sdpo", {"beta": 1.0, "lr": 1e-4}, 50),
    ("sdpo", {"beta": 1.0, "lr": 1e-4, "sft_weight": 1.0}, 50),
    ("sdpo", {"beta": 5.0, "lr": 1e-5, "sft_weight": 1.0}, 50),
    ("dpo", {"beta": 1.0, "lr": 1e-4, "sft_weight": 1.0}, 50),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", required=True, help="persona-split SASRec reference folder")
    parser.add_argument("--dataset", default="ml-100k", help="catalog name or folder")
    parser.add_argument("--sessions", type=int, default=3, help="items held out per persona")
    parser.add_argument("--rejected", type=int, default=8, help="rejected items per row")
    parser.add_argument("--positions", type=int, default=20, help="newest positions mined per user")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    split = persona_split(leave_one_out(from_catalog(load_catalog(args.dataset))), args.sessions)
    reference = load(args.reference)

    def valid(rec: Any) -> dict[str, float]:
        return evaluate(rec.score, split, "valid")["full"]

    rows: list[dict[str, Any]] = [{"name": "reference", **valid(reference)}]
    print(json.dumps(rows[0]), flush=True)
    for method, overrides, pool in GRID:
        rec = copy.deepcopy(reference)
        config = AlignConfig(method=method, device="cpu", **overrides)
        start = time.perf_counter()
        result = align(
            rec.model,
            lambda cur, pool=pool: mine_preferences(cur, split, args.rejected, args.positions, pool=pool),
            config,
        )
        row = {
            "method": method,
            **overrides,
            "pool": pool,
            **valid(rec),
            "accuracy": result.history[-1]["accuracy"],
            "seconds": round(time.perf_counter() - start),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(json.dumps({"sweep": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
