"""Does preference tuning make the agent's language model cost simulated users fewer edits (issue 17, point 6)?

Run:  python benchmarks/tuning.py --scale tiny --out runs/bench/tuning-tiny [--adapter PATH]

Four arms, each run on the same evaluation users: the base model, the base model with the
user's inferred style preferences in its prompt (CIPHER note, ``AgentConfig.style_prompt``),
the tuned model (a LoRA adapter) and the tuned model with the note. Without ``--adapter`` the
script trains one first, with the commands a person would run: ``tastebud tune data`` (training
seed 170017) then ``tastebud tune llm`` (``--preset``, ``--method``, capped at ``--train-pairs``).

Evaluation users (``agent.tuning.simulate``): seeds 170101-170103 by default, which no other
evaluation uses and which training refuses; and none is drawn from a dataset user the training
users came from (``exclude_users``), so people and their plans are new to the tuned model.

Per arm and seed: cumulative edit cost per user (PRELUDE: word edit distance from reply to the
user's rewrite) and by session; the share of the model's complete sentences the grounding check
keeps; the share of replies that fall back to the template (no model word left) and of replies
with an ungrounded sentence or a fallback; plan coverage (``agent.tuning.reward.coverage``);
generated tokens, model seconds and turn seconds per reply. Then mean and std (ddof 0) over
seeds and the relative changes the acceptance asks about. Writes ``result.json``, ``report.md``
and ``tuning.png`` to ``--out``; the last line printed is the JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.llm.base import ChatBackend, ChatMessage, GenerationConfig  # noqa: E402
from agent.tuning.simulate import TUNE_SEED, TUNING_EVALUATION_SEEDS  # noqa: E402
from benchmarks.tuning_report import aggregate, compare, git_sha, versions, write_plot, write_report  # noqa: E402

log = logging.getLogger("benchmarks.tuning")

ARMS: dict[str, tuple[str, bool]] = {
    "base": ("base", False),
    "base+prefs": ("base", True),
    "tuned": ("tuned", False),
    "tuned+prefs": ("tuned", True),
}
"""Arm -> (model, inferred preferences in the prompt)."""

SCALES: dict[str, dict[str, int]] = {
    # The tests: seconds per arm on a tiny catalog.
    "test": dict(personas=1, mcr=1, sessions=2, max_turns=2, train_personas=1, train_mcr=1, samples=2, contexts=4),
    # A loaded 2-core CPU with the 135M model: about 15 minutes, training included.
    "tiny": dict(personas=2, mcr=1, sessions=2, max_turns=3, train_personas=3, train_mcr=1, samples=4, contexts=8),
    "small": dict(personas=4, mcr=2, sessions=3, max_turns=6, train_personas=6, train_mcr=6, samples=4, contexts=24),
    "full": dict(
        personas=10, mcr=10, sessions=3, max_turns=6, train_personas=40, train_mcr=40, samples=6, contexts=300
    ),
}


@dataclass(frozen=True, kw_only=True)
class TuningBenchConfig:
    """Benchmark settings.

    Attributes:
        out: Output folder (``result.json``, ``report.md``, ``tuning.png``, the training run).
        dataset: Catalog of the simulated users.
        scale: A key of ``SCALES``: users per arm and seed, and training users.
        seeds: Evaluation seeds (``check_evaluation_seed``), one run per arm each.
        backend: ``local`` (the embedded SmolLM2 or ``model_path``) or ``template`` (no model: a smoke run).
        model_path: A Hugging Face model folder instead of the embedded SmolLM2.
        adapter: A tuned adapter to evaluate; None trains one.
        train_seed: Seed of the training users (``tastebud tune data --seed``).
        train_pairs: Most reply pairs to tune on (None: all that the training users gave).
        preset: ``tastebud tune llm --preset``.
        method: ``tastebud tune llm --method``.
        max_steps: Optimizer steps (overrides the preset).
    """

    out: Path
    dataset: str = "ml-100k"
    scale: str = "tiny"
    seeds: tuple[int, ...] = TUNING_EVALUATION_SEEDS
    backend: str = "local"
    model_path: Path | None = None
    adapter: Path | None = None
    train_seed: int = TUNE_SEED
    train_pairs: int | None = None
    preset: str = "cpu"
    method: str = "dpo"
    max_steps: int | None = None

    def __post_init__(self) -> None:
        from agent.tuning.simulate import check_evaluation_seed, check_training_seed

        if self.scale not in SCALES:
            raise ValueError(f"unknown scale {self.scale!r}; choose from {list(SCALES)}")
        if len(set(self.seeds)) != len(self.seeds) or not self.seeds:
            raise ValueError("evaluation seeds must be distinct, and at least one")
        check_training_seed(self.train_seed)
        for seed in self.seeds:
            check_evaluation_seed(seed, self.train_seed)
        if self.backend not in ("local", "template"):
            raise ValueError("backend must be local or template")
        if self.train_pairs is not None and self.train_pairs < 1:
            raise ValueError("train_pairs must be at least 1")

    @property
    def sizes(self) -> dict[str, int]:
        """The scale's user counts."""
        return SCALES[self.scale]


@dataclass
class Call:
    """One generation: the raw text, its tokens and seconds."""

    text: str
    tokens: int
    seconds: float


class MeteredBackend(ChatBackend):
    """A backend that records every generation (raw text before the grounding check, tokens, seconds)."""

    def __init__(self, inner: ChatBackend) -> None:
        self.inner = inner
        self.name = inner.name
        self.capable = inner.capable
        self.calls: list[Call] = []

    def load(self) -> MeteredBackend:
        """Load the wrapped model now."""
        getattr(self.inner, "load", lambda: None)()
        return self

    def stream(self, messages: Sequence[ChatMessage], config: GenerationConfig | None = None) -> Iterator[str]:
        """The wrapped stream, recorded."""
        started, chunks = time.perf_counter(), []
        for chunk in self.inner.stream(messages, config):
            chunks.append(chunk)
            yield chunk
        text = "".join(chunks)
        self.calls.append(Call(text, self._tokens(text), time.perf_counter() - started))

    def _tokens(self, text: str) -> int:
        # The text re-encoded: the streamer drops special tokens, so this may miss an end-of-turn token.
        loaded = getattr(self.inner, "_loaded", None)
        return len(loaded[0](text, add_special_tokens=False)["input_ids"]) if loaded else len(text.split())

    def take(self) -> list[Call]:
        """The calls since the last ``take``."""
        calls, self.calls = self.calls, []
        return calls


def train_adapter(config: TuningBenchConfig, folder: Path) -> tuple[Path, dict[str, Any]]:
    """``tastebud tune data`` then ``tastebud tune llm`` (the real commands); the adapter and their summaries."""
    from agent.tuning.data import read_jsonl, write_jsonl
    from tastebud.cli import main

    s = config.sizes
    model = ["--model-path", str(config.model_path)] if config.model_path else []
    data = folder / "data"
    started = time.perf_counter()
    command = ["tune", "data", "--out", str(data), "--dataset", config.dataset, "--seed", str(config.train_seed)]
    command += ["--personas", str(s["train_personas"]), "--mcr", str(s["train_mcr"]), "--sessions", str(s["sessions"])]
    command += ["--max-turns", str(s["max_turns"]), "--backend", config.backend, *model]
    if config.backend == "local":
        command += ["--samples", str(s["samples"]), "--max-contexts", str(s["contexts"])]
    log.info("training data: tastebud %s", " ".join(command))
    if main(command) != 0:
        raise RuntimeError("tastebud tune data failed")
    data_summary = json.loads((data / "summary.json").read_text())
    pairs = list(read_jsonl(data / "pairs.jsonl"))
    if config.train_pairs is not None and len(pairs) > config.train_pairs:
        write_jsonl(data / "pairs.jsonl", pairs[: config.train_pairs])  # the first ones: edits, then on-policy
    used = min(len(pairs), config.train_pairs or len(pairs))
    if not used and config.method != "kto":
        raise RuntimeError(f"the training users gave no reply pairs ({data}); use a larger --scale or --adapter")
    command = ["tune", "llm", "--method", config.method, "--data", str(data), "--out", str(folder / "llm")]
    command += ["--preset", config.preset, "--no-save", *model]
    command += ["--max-steps", str(config.max_steps)] if config.max_steps else []
    log.info("tuning on %d pairs: tastebud %s", used, " ".join(command))
    if main(command) != 0:
        raise RuntimeError("tastebud tune llm failed")
    tuned = json.loads((folder / "llm" / "result.json").read_text())
    summary = {"data": data_summary, "pairs_used": used, "llm": tuned, "wall_s": time.perf_counter() - started}
    return Path(tuned["saved_to"]), summary


@dataclass
class ReplyStats:
    """What one reply measured."""

    user_id: str
    thread_id: str
    cost: int
    writes: bool
    sentences: int = 0
    kept: int = 0
    ungrounded: bool = False
    fallback: bool = False
    coverage: float = 1.0
    tokens: int = 0
    model_s: float = 0.0
    turn_s: float = 0.0


def run_arm(
    config: TuningBenchConfig, seed: int, prefs: bool, backend: Any, exclude: frozenset[str], folder: Path
) -> list[ReplyStats]:
    """One arm on one seed's evaluation users; one ``ReplyStats`` per reply they saw."""
    from agent.grounding import genre_pattern, keeps, title_pattern
    from agent.tuning.reply import writes_prose
    from agent.tuning.reward import coverage, sentences
    from agent.tuning.simulate import SimulatedUsersConfig, run_users
    from recsys.datasets import load_catalog

    catalog = load_catalog(config.dataset)
    titles, genres = title_pattern(catalog), genre_pattern(list(catalog.genres.values()))
    s = config.sizes
    base = SimulatedUsersConfig(evaluation=True, seed=seed)
    users = replace(
        base,
        dataset=config.dataset,
        personas=s["personas"],
        mcr=s["mcr"],
        persona=replace(base.persona, sessions=s["sessions"], max_turns=s["max_turns"]),
        mcr_protocol=replace(base.mcr_protocol, max_turns=s["max_turns"]),
        style_prompt=prefs,
        exclude_users=exclude,
    )
    meter = backend if isinstance(backend, MeteredBackend) else None
    rows: list[ReplyStats] = []

    def on_reply(record: Any, plan: Any, reply: Any) -> None:
        row = ReplyStats(record.user_id, record.thread_id, record.cost, writes_prose(plan), turn_s=record.seconds)
        row.fallback, row.coverage = record.fallback, coverage(reply.text, plan)
        for call in meter.take() if meter else []:
            # As grounded_text: complete sentences in order, the first ungrounded one ends the model's part.
            said = sentences(call.text)
            row.sentences += len(said)
            kept = next((n for n, x in enumerate(said) if not keeps(x, plan, titles, genres)), len(said))
            row.kept += kept
            row.ungrounded |= kept < len(said)
            row.tokens += call.tokens
            row.model_s += call.seconds
        rows.append(row)

    if meter:
        meter.take()
    run_users(users, folder, backend=backend, on_reply=on_reply)
    return rows


def summarize(rows: list[ReplyStats]) -> dict[str, Any]:
    """The figures of one run (arm and seed), computed from its replies."""
    import numpy as np

    per_user: dict[str, int] = {}
    by_session: dict[str, dict[str, int]] = {}
    for r in rows:
        per_user[r.user_id] = per_user.get(r.user_id, 0) + r.cost
        if r.thread_id.startswith("session-"):
            sessions = by_session.setdefault(r.user_id, {})
            sessions[r.thread_id] = sessions.get(r.thread_id, 0) + r.cost
    names = sorted({t for v in by_session.values() for t in v}, key=lambda t: int(t.split("-")[-1]))
    cumulative = [
        float(np.mean([sum(v.get(t, 0) for t in names[: k + 1]) for v in by_session.values()]))
        for k in range(len(names))
    ]
    writes = [r for r in rows if r.writes]
    sentences = sum(r.sentences for r in writes)

    def share(flags: list[bool]) -> float | None:
        return float(np.mean(flags)) if flags else None

    return {
        "replies": len(rows),
        "users": len(per_user),
        "cumulative_cost_per_user": float(np.mean(list(per_user.values()))) if per_user else 0.0,
        "persona_cumulative_cost_by_session": cumulative,
        "cost_per_reply": float(np.mean([r.cost for r in rows])) if rows else 0.0,
        "model_sentences": sentences,
        "kept_sentence_share": sum(r.kept for r in writes) / sentences if sentences else None,
        "fallback_share": share([r.fallback for r in writes]),
        "ungrounded_or_fallback_share": share([r.ungrounded or r.fallback for r in writes]),
        "coverage": float(np.mean([r.coverage for r in rows])) if rows else None,
        "tokens_per_reply": float(np.mean([r.tokens for r in writes])) if writes else 0.0,
        "model_s_per_reply": float(np.mean([r.model_s for r in writes])) if writes else 0.0,
        "turn_s_per_reply": float(np.mean([r.turn_s for r in rows])) if rows else 0.0,
    }


def run(config: TuningBenchConfig) -> dict[str, Any]:
    """Train (unless given an adapter), run every arm on every seed, and write the result files."""
    from agent.llm import BackendConfig, load_backend
    from agent.tuning.simulate import SimulatedUsersConfig, drawn_users

    started = time.perf_counter()
    config.out.mkdir(parents=True, exist_ok=True)
    training: dict[str, Any] = {"adapter_given": config.adapter is not None}
    adapter = config.adapter
    if adapter is None and config.backend == "local":
        adapter, training = train_adapter(config, config.out / "train")
    s = config.sizes
    trained_on = SimulatedUsersConfig(
        dataset=config.dataset, personas=s["train_personas"], mcr=s["train_mcr"], seed=config.train_seed
    )
    # The training users' people, drawn as tune data drew them: evaluation users are other people.
    exclude = drawn_users(replace(trained_on, persona=replace(trained_on.persona, sessions=s["sessions"])))
    backends: dict[str, Any] = {}
    for model, path in (("base", "off"), ("tuned", str(adapter) if adapter else "off")):
        kind = config.backend
        inner = load_backend(BackendConfig(kind=kind, model_path=config.model_path, adapter=path))  # type: ignore[arg-type]
        # The template backend is recognised by its type in grounded_text: it stays unwrapped.
        backends[model] = MeteredBackend(inner).load() if kind == "local" else inner
    runs: dict[str, list[dict[str, Any]]] = {arm: [] for arm in ARMS}
    replies: dict[str, list[list[dict[str, Any]]]] = {arm: [] for arm in ARMS}
    for seed in config.seeds:
        for arm, (model, prefs) in ARMS.items():
            t0 = time.perf_counter()
            with tempfile.TemporaryDirectory(prefix="tastebud-bench-tuning-") as tmp:
                rows = run_arm(config, seed, prefs, backends[model], exclude, Path(tmp))
            runs[arm].append({"seed": seed, **summarize(rows)})
            replies[arm].append([asdict(r) for r in rows])
            log.info(
                "seed %d %-11s: %d replies, cost/user %.1f, ungrounded-or-fallback %s (%.0f s)",
                seed, arm, len(rows), runs[arm][-1]["cumulative_cost_per_user"],
                runs[arm][-1]["ungrounded_or_fallback_share"], time.perf_counter() - t0,
            )  # fmt: skip
    summary = aggregate(runs)
    result = {
        "config": {**asdict(config), "sizes": s},
        "adapter": str(adapter),
        "training": training,
        "excluded_dataset_users": len(exclude),
        "summary": summary,
        "comparisons": compare(summary, runs),
        "runs": runs,
        "git_sha": git_sha(),
        "versions": versions(),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "wall_s": round(time.perf_counter() - started, 1),
    }
    (config.out / "result.json").write_text(json.dumps(result, indent=2, default=str))
    (config.out / "replies.json").write_text(json.dumps(replies))
    write_report(result, config.out / "report.md")
    write_plot(result, config.out / "tuning.png")
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Parse flags, run, print the JSON last."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="runs/bench/tuning", help="output folder")
    p.add_argument("--dataset", default="ml-100k")
    p.add_argument("--scale", choices=list(SCALES), default="tiny", help="users per arm and seed (SCALES)")
    p.add_argument("--seeds", type=int, nargs="+", default=list(TUNING_EVALUATION_SEEDS))
    p.add_argument("--backend", choices=["local", "template"], default="local")
    p.add_argument("--model-path", help="a Hugging Face model folder (default: the embedded SmolLM2)")
    p.add_argument("--adapter", help="evaluate this tuned adapter instead of training one")
    p.add_argument("--train-seed", type=int, default=TUNE_SEED)
    p.add_argument("--train-pairs", type=int, help="most reply pairs to tune on (default: all)")
    p.add_argument("--preset", choices=["tiny", "cpu", "gpu"], default="cpu")
    p.add_argument("--method", choices=["dpo", "ipo", "robust", "kto"], default="dpo")
    p.add_argument("--max-steps", type=int, help="optimizer steps (overrides the preset)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    config = TuningBenchConfig(
        out=Path(args.out),
        dataset=args.dataset,
        scale=args.scale,
        seeds=tuple(args.seeds),
        backend=args.backend,
        model_path=Path(args.model_path) if args.model_path else None,
        adapter=Path(args.adapter) if args.adapter else None,
        train_seed=args.train_seed,
        train_pairs=args.train_pairs,
        preset=args.preset,
        method=args.method,
        max_steps=args.max_steps,
    )
    result = run(config)
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, default=str))  # noqa: T201
    return result


if __name__ == "__main__":
    main()
