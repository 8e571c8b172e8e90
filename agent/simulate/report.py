"""Figures of a run, a Markdown report and its PNG plots."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from agent.simulate.metrics import mcr_metrics, success_curve
from agent.simulate.runner import SimulationConfig


def _outcomes(results: Sequence[dict[str, Any]]) -> list[tuple[int, int] | None]:
    return [(r["turn"], r["rank"]) if r["turn"] is not None else None for r in results]


def summarize(config: SimulationConfig, results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The run's figures (JSON-able)."""
    if config.mode == "mcr":
        T, k = config.mcr.max_turns, config.mcr.k
        out: dict[str, Any] = {k_: round(v, 4) for k_, v in mcr_metrics(_outcomes(results), T, k).items()}
        out["questions_per_episode"] = round(float(np.mean([r["questions"] for r in results])), 3)
        out["lists_per_episode"] = round(float(np.mean([r["lists"] for r in results])), 3)
        if config.engine == "agent":
            out["misread_per_episode"] = round(float(np.mean([r["misread"] for r in results])), 3)
        return out
    sessions = [s for r in results for s in r["sessions"]]
    later = [s for s in sessions if s["session"] >= 2]
    items = sum(s["items"] for s in sessions)
    accepted = [s["accepted_turn"] for s in sessions if s["accepted_turn"] is not None]
    soft = [s["recalled_soft"] for s in later if s["recalled_soft"] is not None]
    kept = [s["kept_soft"] for s in later if s.get("kept_soft") is not None]
    stated = sum(s["stated_hard"] for s in later)
    by_session = {}
    for n in range(1, config.persona.sessions + 1):
        these = [s for s in sessions if s["session"] == n]
        by_session[str(n)] = round(sum(s["accepted_turn"] is not None for s in these) / max(1, len(these)), 4)
    return {
        "personas": len(results),
        "sessions": len(sessions),
        "items_recommended": items,
        "compiled_violation_rate": round(sum(s["compiled_violations"] for s in sessions) / max(1, items), 5),
        "stated_violation_rate": round(sum(s["meant_violations"] for s in sessions) / max(1, items), 5),
        "hard_recall": round(sum(s["recalled_hard"] for s in later) / max(1, stated), 4),
        "soft_recall": round(sum(soft) / len(soft), 4) if soft else None,
        "soft_kept": round(sum(kept) / len(kept), 4) if kept else None,
        "acceptance_rate": round(len(accepted) / max(1, len(sessions)), 4),
        "acceptance_by_session": by_session,
        "turns_to_acceptance": round(float(np.mean(accepted)), 3) if accepted else None,
        "misread_per_session": round(float(np.mean([s["misread"] for s in sessions])), 3),
    }


def plot(config: SimulationConfig, results: Sequence[dict[str, Any]], out: Path) -> list[Path]:
    """success_by_turn.png and turns_histogram.png (MCR), or acceptance plots (persona)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    paths = []
    if config.mode == "mcr":
        T = config.mcr.max_turns
        outcomes = _outcomes(results)
        turns = [o[0] for o in outcomes if o is not None]
        failures = sum(o is None for o in outcomes)
    else:
        T = config.persona.max_turns
        sessions = [s for r in results for s in r["sessions"]]
        outcomes = [(s["accepted_turn"], 1) if s["accepted_turn"] is not None else None for s in sessions]
        turns = [o[0] for o in outcomes if o is not None]
        failures = sum(o is None for o in outcomes)
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(range(1, T + 1), success_curve(outcomes, T), marker="o", ms=3)
    ax.set(xlabel="turn", ylabel="success rate (cumulative)", ylim=(0, 1), title=f"{config.mode}: {config.policy}")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    paths.append(out / "success_by_turn.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.hist(turns, bins=np.arange(0.5, T + 1.5), color="tab:blue", label="accepted at turn")
    ax.bar([T + 1], [failures], color="tab:red", label="failed")
    ax.set(xlabel="turns", ylabel="episodes", title="turns to success")
    ax.legend()
    fig.tight_layout()
    paths.append(out / "turns_histogram.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)
    return paths


def write_report(
    config: SimulationConfig, results: Sequence[dict[str, Any]], figures: dict[str, Any], out: Path, command: str
) -> Path:
    """report.md (figures, config, plots), results.jsonl (one line per episode) and the plots."""
    import json

    out.mkdir(parents=True, exist_ok=True)
    plots = plot(config, results, out)
    with (out / "results.jsonl").open("w") as f:
        for r in results:
            f.write(json.dumps(r, default=str) + "\n")
    lines = [
        f"# Simulation: {config.mode} / {config.policy} / seed {config.seed}",
        "",
        f"Command: `{command}`",
        "",
        "| figure | value |",
        "|---|---|",
    ]
    lines += [f"| {k} | {v} |" for k, v in figures.items() if k not in ("config",)]
    if config.mode == "mcr":
        lines += [
            "",
            "SR@t: share of episodes accepted within t turns. AT: mean turns, failures count as "
            f"{config.mcr.max_turns}. hDCG@({config.mcr.max_turns},{config.mcr.k}): UNICORN's hierarchical "
            "discount (see agent/simulate/metrics.py).",
        ]
    else:
        examples = [v for r in results for s in r["sessions"] for v in s["violating"]][:20]
        if examples:
            lines += ["", "## Violations (first 20)", ""] + [f"- {v}" for v in examples]
    lines += ["", "## Plots", ""] + [f"![{p.stem}]({p.name})" for p in plots]
    lines += ["", "## Config", "", "```json", json.dumps(asdict(config), indent=2, default=str), "```", ""]
    path = out / "report.md"
    path.write_text("\n".join(lines))
    return path
