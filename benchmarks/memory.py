"""How well does memory extract, select and reconcile standing instructions, and how fast does it answer?

Run:  python benchmarks/memory.py [--split all|dev|test] [--show-errors dev] [--eval-set PATH]

Measures, on the versioned evaluation set (benchmarks/data/memory_eval_v1.jsonl):
- instruction extraction: micro precision/recall/F1 over (scope, op, field, value) atoms
  (a standing rule with no compilable atom counts as one ``soft`` atom), plus
  utterance-level instruction detection and per-tag F1;
- applicable-instruction selection: exact match of the applicable set and micro F1;
- conflict resolution: accuracy of the live rule set after a sequence of utterances,
  and the number of times two contradictory rules were live together;
- latency of ``applicable`` (cold: includes encoding the request), then, in the same turn,
  ``constraints`` + ``catalog.mask`` and ``boosts``; and of ``remember_utterance`` (cold).

Only the pattern + embedding path (no LLM) is measured. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from memory.conflicts import live_contradictions  # noqa: E402
from memory.overlay import with_people  # noqa: E402
from memory.service import Memory  # noqa: E402
from memory.store import SQLiteStore  # noqa: E402
from recsys.catalog import Catalog  # noqa: E402
from recsys.datasets import load_catalog  # noqa: E402
from recsys.encoder import TextEncoder  # noqa: E402
from recsys.versions import package_versions  # noqa: E402


@dataclass(frozen=True, kw_only=True)
class MemoryBenchConfig:
    """Benchmark settings.

    Attributes:
        eval_set: The JSONL evaluation set.
        split: ``all``, ``dev`` or ``test``.
        torch_threads: Torch intra-op threads for the encoder (1 is fastest for single sentences).
        show_errors: Print the errors of this split to stderr (``dev`` only, to keep test held out).
    """

    eval_set: Path = ROOT / "benchmarks" / "data" / "memory_eval_v1.jsonl"
    split: str = "all"
    torch_threads: int = 1
    show_errors: str = ""

    def __post_init__(self) -> None:
        assert self.split in ("all", "dev", "test"), f"split must be all, dev or test, not {self.split!r}"
        assert self.torch_threads >= 1, "torch_threads must be >= 1"


def prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    """Precision, recall and F1 from counts."""
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "tp": tp, "fp": fp, "fn": fn}


def latency(values: list[float]) -> dict[str, float]:
    """p50/p95/mean in milliseconds."""
    if not values:
        return {}
    a = np.array(values) * 1000
    return {"p50_ms": round(float(np.percentile(a, 50)), 2), "p95_ms": round(float(np.percentile(a, 95)), 2),
            "mean_ms": round(float(a.mean()), 2), "n": len(values)}  # fmt: skip


def load_eval(path: Path) -> tuple[dict, list[dict]]:
    """(meta header, records)."""
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    assert lines and lines[0]["task"] == "meta", f"{path}: first line must be the meta header"
    return lines[0], lines[1:]


def eval_catalog(meta: dict, eval_path: Path) -> Catalog:
    """ML-100K with the evaluation set's named people attached (as the generator built it)."""
    people_raw = json.loads((eval_path.parent / meta["people_file"]).read_text())["people"]
    base = load_catalog(meta["catalog"])
    titles = {it.title for it in base.items}
    people = {n: (r, [t for t in ts if t in titles]) for n, (r, ts) in people_raw.items()}
    return with_people(base, {n: v for n, v in people.items() if v[1]})


def atoms_of(instructions: list[dict]) -> set[tuple]:
    """Gold atoms of an extract record."""
    out = set()
    for ins in instructions:
        if not ins["atoms"]:
            out.add((ins["scope"], "soft", "", ""))
        out |= {(ins["scope"], *a) for a in ins["atoms"]}
    return out


def run_extraction(memory: Memory, records: list[dict], show: bool) -> dict:
    """Extraction metrics by split and tag."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    detect: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    scope_ok = scope_n = 0
    for r in records:
        ext = memory.patterns.extract(r["text"])
        pred = set()
        for p in ext.proposals:
            key = p.scope.key if p.scope else None
            pred |= {(key, *a.key) for a in p.atoms} or {(key, "soft", "", "")}
        gold = atoms_of(r["gold"]["instructions"])
        tp, fp, fn = len(pred & gold), len(pred - gold), len(gold - pred)
        for group in ("all", r["split"], *(f"tag:{t}" for t in r["tags"])):
            c = counts[group]
            c[0], c[1], c[2] = c[0] + tp, c[1] + fp, c[2] + fn
        is_gold, is_pred = bool(r["gold"]["instructions"]), ext.is_instruction
        for group in ("all", r["split"]):
            d = detect[group]
            d[0] += is_gold and is_pred
            d[1] += is_pred and not is_gold
            d[2] += is_gold and not is_pred
        if is_gold and is_pred:
            scope_n += 1
            gold_scopes = {i["scope"] for i in r["gold"]["instructions"]}
            scope_ok += {p.scope.key if p.scope else None for p in ext.proposals} == gold_scopes
        if show and (fp or fn):
            print(f"[extract {r['id']}] {r['text']!r}\n   gold {sorted(gold, key=str)}\n   pred {sorted(pred, key=str)}",
                  file=sys.stderr)  # fmt: skip
    return {
        "atoms": {g: prf(*c) for g, c in sorted(counts.items()) if not g.startswith("tag:")},
        "detection": {g: prf(*c) for g, c in sorted(detect.items())},
        "scope_accuracy": round(scope_ok / scope_n, 4) if scope_n else None,
        "by_tag_f1": {g[4:]: prf(*c)["f1"] for g, c in sorted(counts.items()) if g.startswith("tag:")},
    }


def remember_all(memory: Memory, user: str, texts: list[str], timings: list[float]) -> list[str | None]:
    """Remember utterances in order; the id of the instruction each one stored (None if none)."""
    ids: list[str | None] = []
    for text in texts:
        memory._encode_cache.clear()  # cold: no embedding reused from an earlier record
        t0 = time.perf_counter()
        result = memory.remember_utterance(user, text)
        timings.append(time.perf_counter() - t0)
        fresh = [s.id for s in result.stored if s.derived_from is None]
        ids.append(fresh[0] if fresh else None)
    return ids


def run_selection(memory: Memory, records: list[dict], show: bool, timings: dict[str, list[float]]) -> dict:
    """Selection exact match and micro F1 by split."""
    em: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for r in records:
        user = f"sel-{r['id']}"
        ids = remember_all(memory, user, r["profile"], timings["remember_utterance"])
        memory._encode_cache.clear()  # cold request: applicable() pays for the one encode of this turn
        t0 = time.perf_counter()
        applied = memory.applicable(user, r["request"])
        timings["applicable_cold"].append(time.perf_counter() - t0)
        # same turn: constraints and boosts reuse the request's embedding
        t0 = time.perf_counter()
        memory.catalog.mask(memory.constraints(user, r["request"]))
        timings["constraints_and_mask"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        memory.boosts(user, r["request"])
        timings["boosts"].append(time.perf_counter() - t0)
        index = {i: j for j, i in enumerate(ids) if i is not None}
        pred = {index[a.instruction.id] for a in applied if a.instruction.id in index}
        gold = set(r["gold_applicable"])
        for group in ("all", r["split"]):
            em[group][0] += pred == gold
            em[group][1] += 1
            c = counts[group]
            c[0], c[1], c[2] = c[0] + len(pred & gold), c[1] + len(pred - gold), c[2] + len(gold - pred)
        if show and r["split"] == "dev" and pred != gold:
            print(f"[select {r['id']}] {r['request']!r} gold {sorted(gold)} pred {sorted(pred)}\n   "
                  + "\n   ".join(f"{j}: {t}" for j, t in enumerate(r["profile"])), file=sys.stderr)  # fmt: skip
        memory.forget(user)
    return {
        "exact_match": {g: round(a / n, 4) for g, (a, n) in sorted(em.items())},
        "micro": {g: prf(*c) for g, c in sorted(counts.items())},
        "records": {g: n for g, (_, n) in sorted(em.items())},
    }


def run_conflicts(memory: Memory, records: list[dict], show: bool, timings: dict[str, list[float]]) -> dict:
    """Accuracy of the final live rule set; contradictory live pairs."""
    ok: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    contradictions = 0
    for r in records:
        user = f"conf-{r['id']}"
        remember_all(memory, user, r["sequence"], timings["remember_utterance"])
        live = memory.instructions(user)
        pred = {(s.scope.key if s.scope else None, *a.key) for s in live for a in s.atoms}
        gold = {tuple(x) for x in r["gold_live"]}
        contradictions += len(live_contradictions(live))
        for group in ("all", r["split"]):
            ok[group][0] += pred == gold
            ok[group][1] += 1
        by_kind[r["tags"][0]][0] += pred == gold
        by_kind[r["tags"][0]][1] += 1
        if show and r["split"] == "dev" and pred != gold:
            print(f"[conflict {r['id']}] {r['sequence']}\n   gold {sorted(gold, key=str)}\n   pred {sorted(pred, key=str)}",
                  file=sys.stderr)  # fmt: skip
        memory.forget(user)
    return {
        "accuracy": {g: round(a / n, 4) for g, (a, n) in sorted(ok.items())},
        "by_kind": {k: round(a / n, 4) for k, (a, n) in sorted(by_kind.items())},
        "live_contradictions": contradictions,
    }


def versions() -> dict[str, str]:
    """Versions of the packages that matter for these figures."""
    return package_versions(("numpy", "torch", "sentence-transformers", "faiss-cpu", "pydantic", "langgraph"))


def git_sha() -> str:
    """The current commit (or 'unknown')."""
    try:
        return subprocess.check_output(["git", "rev-parse", "HEAD"], cwd=ROOT, text=True).strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark and print a JSON object last."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-set", type=Path, default=MemoryBenchConfig.eval_set)
    parser.add_argument("--split", default="all", choices=["all", "dev", "test"])
    parser.add_argument("--torch-threads", type=int, default=1)
    parser.add_argument("--show-errors", default="", choices=["", "dev"])
    args = parser.parse_args(argv)
    config = MemoryBenchConfig(
        eval_set=args.eval_set, split=args.split, torch_threads=args.torch_threads, show_errors=args.show_errors
    )
    import torch

    torch.set_num_threads(config.torch_threads)
    meta, records = load_eval(config.eval_set)
    if config.split != "all":
        records = [r for r in records if r["split"] == config.split]
    catalog = eval_catalog(meta, config.eval_set)
    encoder = TextEncoder()
    encoder.encode(["warm up"])
    show = config.show_errors == "dev"
    by_task: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        by_task[r["task"]].append(r)
    show_records = {t: [r for r in rs if r["split"] == "dev"] for t, rs in by_task.items()}
    timings: dict[str, list[float]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as tmp:
        memory = Memory(SQLiteStore(Path(tmp) / "memory.sqlite3"), catalog, encoder)
        extraction = run_extraction(memory, by_task["extract"], False)
        if show:
            run_extraction(memory, show_records.get("extract", []), True)
        selection = run_selection(memory, by_task["select"], show, timings)
        conflicts = run_conflicts(memory, by_task["conflict"], show, timings)
        memory.close()
    result = {
        "benchmark": "memory",
        "config": {k: str(v) for k, v in asdict(config).items()},
        "seed": meta["seed"],
        "git_sha": git_sha(),
        "versions": versions(),
        "dataset": {
            "eval_set": config.eval_set.name,
            "version": meta["version"],
            "records": {t: len(rs) for t, rs in sorted(by_task.items())},
            "utterances": meta["utterances"],
            "catalog": catalog.name,
            "items": len(catalog),
        },
        "extraction": extraction,
        "selection": selection,
        "conflicts": conflicts,
        "latency": {k: latency(v) for k, v in sorted(timings.items())},
        "llm_path": "not measured",
    }
    a, s, c = extraction["atoms"], selection, conflicts
    print(
        f"{'split':<6} {'extract P':>9} {'R':>6} {'F1':>6} {'detect F1':>9} {'select EM':>9} {'sel F1':>6} {'conflict':>8}"
    )
    for g in [x for x in ("all", "dev", "test") if x in a]:
        print(f"{g:<6} {a[g]['precision']:>9.3f} {a[g]['recall']:>6.3f} {a[g]['f1']:>6.3f} "
              f"{extraction['detection'][g]['f1']:>9.3f} {s['exact_match'].get(g, float('nan')):>9.3f} "
              f"{s['micro'].get(g, {}).get('f1', float('nan')):>6.3f} {c['accuracy'].get(g, float('nan')):>8.3f}")  # fmt: skip
    for k, v in result["latency"].items():
        print(f"latency {k:<22} p50 {v['p50_ms']:>7.2f} ms  p95 {v['p95_ms']:>7.2f} ms  (n={v['n']})")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
