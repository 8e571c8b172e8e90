"""``tastebud tune data``: flags and the command (wired in ``tastebud/cli.py``). Imports only the standard library at load."""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_SEED = 170_017  # agent.tuning.simulate.TUNE_SEED, repeated so --help imports nothing heavy


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Flags of ``tastebud tune data``."""
    p.add_argument("--out", help="output folder (default: runs/tune/data-SEED); must not hold a previous run")
    p.add_argument("--dataset", default="ml-100k", help="catalog of the simulated users")
    p.add_argument("--personas", type=int, default=6, help="simulated persona users (3 sessions each)")
    p.add_argument("--mcr", type=int, default=6, help="simulated MCR users (one episode each)")
    p.add_argument(
        "--seed",
        type=int,
        default=DEFAULT_SEED,
        help="draws the simulated users and their styles; evaluation seeds (0-2, 997-999, 1000*k+0..2) are refused",
    )
    p.add_argument("--sessions", type=int, default=3, help="sessions per persona")
    p.add_argument("--max-turns", type=int, default=6, help="agent replies per session or episode")
    p.add_argument(
        "--backend",
        choices=["local", "template"],
        default="template",
        help="the agent's language model for the simulated users and the on-policy samples (template: no model "
        "prose, so no reply pairs from edits; local: the embedded SmolLM2 or --model-path)",
    )
    p.add_argument("--model-path", help="local: a Hugging Face model folder (default: the embedded SmolLM2)")
    p.add_argument(
        "--recommender-path",
        help="a trained recommender folder that serves the simulated users (on-policy lists for 'tune recommender'); "
        "it must be trained without each user's last --sessions items (default: one fitted here on that split)",
    )
    p.add_argument("--list-size", type=int, default=5, help="items per list the agent shows the simulated users")
    p.add_argument(
        "--log",
        action="append",
        default=[],
        metavar="DATA_DIR",
        help="also use the feedback log of real users in this data folder (repeatable)",
    )
    p.add_argument("--samples", type=int, default=0, help="on-policy samples per logged context (0: none; >= 2)")
    p.add_argument("--max-contexts", type=int, help="most logged contexts to sample (newest first)")
    p.add_argument("--temperature", type=float, default=1.0, help="on-policy sampling temperature")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line of stdout")


def _summary(records: list[Any]) -> dict[str, Any]:
    """Edit cost (PRELUDE) of the simulated users: per reply, per user, per session."""
    import numpy as np

    if not records:
        return {"replies": 0}
    by_user: dict[str, int] = {}
    by_session: dict[str, list[int]] = {}
    by_style: dict[str, list[int]] = {}
    for r in records:
        by_user[r.user_id] = by_user.get(r.user_id, 0) + r.cost
        if r.thread_id.startswith("session-"):
            by_session.setdefault(r.thread_id, []).append(r.cost)
        for s in r.styles:
            by_style.setdefault(s, []).append(r.cost)
    costs = np.array([r.cost for r in records])
    writes = [r for r in records if r.action != "error"]
    return {
        "replies": len(records),
        "users": len(by_user),
        "cost_per_reply_mean": float(costs.mean()),
        "replies_edited_share": float((costs > 0).mean()),
        "cumulative_cost_per_user_mean": float(np.mean(list(by_user.values()))),
        "cumulative_cost_per_user_std": float(np.std(list(by_user.values()))),
        "persona_cost_per_reply_by_session": {k: float(np.mean(v)) for k, v in sorted(by_session.items())},
        "cost_per_reply_of_users_with_style": {k: float(np.mean(v)) for k, v in sorted(by_style.items())},
        "words_per_reply_mean": float(np.mean([r.words for r in records])),
        "model_words_per_reply_mean": float(np.mean([r.model_words for r in records])),
        "template_fallback_share": float(np.mean([r.fallback for r in writes])) if writes else 0.0,
    }


def run(args: argparse.Namespace) -> int:
    """Simulate users, build the datasets, and report their sizes and the edit cost."""
    from dataclasses import asdict, replace

    from agent.llm import BackendConfig
    from agent.tuning.data import Datasets, from_log, write_jsonl
    from agent.tuning.simulate import SimulatedUsersConfig, check_training_seed, run_users
    from memory.feedback import FeedbackLog
    from memory.health import FILES
    from memory.store import SQLiteStore

    started = time.perf_counter()
    check_training_seed(args.seed)
    out = Path(args.out or f"runs/tune/data-{args.seed}")
    if (out / "users").exists():
        raise ValueError(f"{out} already holds a run (users/); choose another --out")
    if args.samples == 1 or args.samples < 0:
        raise ValueError("--samples must be 0 (none) or at least 2")
    if not 1 <= args.list_size <= 50:
        raise ValueError("--list-size must be between 1 and 50")
    if args.recommender_path and not (Path(args.recommender_path) / "config.json").is_file():
        raise ValueError(f"no saved recommender at {args.recommender_path} (a 'tastebud train seqrec' folder)")
    if args.samples and args.backend == "template":
        raise ValueError("on-policy samples need a language model: use --backend local")
    real_logs = [Path(d) for d in args.log if (Path(d) / FILES["memory"]).is_file()]
    if args.personas + args.mcr == 0 and not real_logs:
        raise ValueError(
            "nothing to build from: no simulated users (--personas, --mcr) and no --log with a memory file"
        )
    model_path = Path(args.model_path) if args.model_path else None
    backend = BackendConfig(kind=args.backend, model_path=model_path)
    defaults = SimulatedUsersConfig(seed=args.seed, personas=args.personas, mcr=args.mcr)
    config = replace(
        defaults,
        dataset=args.dataset,
        backend=backend,
        persona=replace(defaults.persona, sessions=args.sessions, max_turns=args.max_turns, k=args.list_size),
        mcr_protocol=replace(defaults.mcr_protocol, max_turns=args.max_turns, k=args.list_size),
        recommender_path=Path(args.recommender_path) if args.recommender_path else None,
    )
    records = run_users(config, out / "users", settings=None) if args.personas + args.mcr else []
    simulated_s = time.perf_counter() - started

    data = Datasets()
    logs = [out / "users", *real_logs]
    stores = [SQLiteStore(folder / FILES["memory"]) for folder in logs if (folder / FILES["memory"]).is_file()]
    entries = []
    try:
        for store in stores:
            feedback_log = FeedbackLog(store)
            data.extend(from_log(feedback_log))
            entries += [(u, e) for u in feedback_log.users() for e in feedback_log.entries(u)]
    finally:
        for store in stores:
            store.close()
    edit_pairs = len(data.pairs)
    samples: list[dict[str, Any]] = []
    if args.samples:
        pairs, samples = _on_policy(args, backend, entries)
        data.pairs += pairs
    paths = data.write(out)
    write_jsonl(out / "edits.jsonl", (asdict(r) for r in records))
    if samples:
        write_jsonl(out / "samples.jsonl", samples)
    payload = {
        "out": str(out),
        "files": paths,
        "sizes": {**data.sizes(), "pairs_from_edits": edit_pairs, "pairs_on_policy": len(data.pairs) - edit_pairs},
        "log_entries": len(entries),
        "edit_cost": _summary(records),
        "reward": _reward_summary(samples),
        "seed": args.seed,
        "backend": args.backend,
        "simulate_s": round(simulated_s, 1),
        "wall_s": round(time.perf_counter() - started, 1),
    }
    (out / "summary.json").write_text(json.dumps(payload, indent=2))
    cost = payload["edit_cost"]
    human = (
        f"{out}: {data.sizes()['pairs']} reply pairs ({edit_pairs} from edits), {data.sizes()['unpaired']} unpaired, "
        f"{data.sizes()['lists']} list preferences from {len(entries)} log entries\n"
        f"simulated users: {cost.get('users', 0)}, edit cost per reply {cost.get('cost_per_reply_mean', 0):.2f} words, "
        f"per user {cost.get('cumulative_cost_per_user_mean', 0):.1f} (PRELUDE cost, base model); "
        f"{payload['wall_s']} s"
    )
    if getattr(args, "json", False):
        print(json.dumps(payload))  # noqa: T201
    else:
        print(human)  # noqa: T201
    return 0


def _on_policy(args: argparse.Namespace, backend: Any, entries: list[Any]) -> tuple[list[Any], list[dict[str, Any]]]:
    from agent.grounding import genre_pattern, title_pattern
    from agent.llm import load_backend
    from agent.tuning.onpolicy import SamplingConfig, sample_pairs
    from agent.tuning.reward import Reward
    from recsys.datasets import load_catalog

    catalog = load_catalog(args.dataset)
    reward = Reward(title_pattern(catalog), genre_pattern(list(catalog.genres.values())))
    sampling = SamplingConfig(
        samples=args.samples, temperature=args.temperature, max_contexts=args.max_contexts, seed=args.seed
    )
    return sample_pairs(load_backend(backend), entries, reward, sampling)


def _reward_summary(samples: list[dict[str, Any]]) -> dict[str, Any]:
    if not samples:
        return {}
    import numpy as np

    totals = np.array([s["total"] for s in samples])
    parts = ("grounded", "coverage", "style", "refusal", "repetition", "nonsense")
    return {
        "samples": len(samples),
        "total_mean": float(totals.mean()),
        "total_std": float(totals.std()),
        "total_quantiles": [float(q) for q in np.quantile(totals, [0.0, 0.25, 0.5, 0.75, 1.0])],
        **{f"{p}_mean": float(np.mean([s[p] for s in samples])) for p in parts},
    }
