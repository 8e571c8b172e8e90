"""The Markdown report and the plot of ``benchmarks/tuning.py`` (kept apart so the runner stays short)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from recsys.versions import package_versions

ROOT = Path(__file__).resolve().parents[1]

METRICS = (
    "cumulative_cost_per_user",
    "cost_per_reply",
    "kept_sentence_share",
    "fallback_share",
    "ungrounded_or_fallback_share",
    "coverage",
    "tokens_per_reply",
    "model_s_per_reply",
    "turn_s_per_reply",
)


def aggregate(runs: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Mean and std (ddof 0) over seeds of each arm's figures (a figure missing in a seed is left out)."""
    import numpy as np

    out: dict[str, dict[str, Any]] = {}
    for arm, seeds in runs.items():
        out[arm] = {}
        for m in METRICS:
            values = [s[m] for s in seeds if s[m] is not None]
            out[arm][m] = {"mean": float(np.mean(values)), "std": float(np.std(values))} if values else None
    return out


def compare(summary: dict[str, dict[str, Any]], runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Relative changes of the acceptance: tuned vs base at the same prompt, and the note's own effect."""

    def rel(new: str, old: str, metric: str) -> float | None:
        a, b = summary[new][metric], summary[old][metric]
        return (a["mean"] - b["mean"]) / b["mean"] if a and b and b["mean"] else None

    out: dict[str, Any] = {}
    for new, old in (("tuned", "base"), ("tuned+prefs", "base+prefs"), ("base+prefs", "base")):
        cost, ugf = rel(new, old, "cumulative_cost_per_user"), rel(new, old, "ungrounded_or_fallback_share")
        cov_new, cov_old = summary[new]["coverage"], summary[old]["coverage"]
        coverage_ok = bool(cov_new and cov_old and cov_new["mean"] >= cov_old["mean"])
        out[f"{new} vs {old}"] = {
            "edit_cost_rel": cost,
            "ungrounded_or_fallback_rel": ugf,
            "coverage_not_lower": coverage_ok,
            "meets_acceptance": bool(cost is not None and cost <= -0.30 and ugf is not None and ugf <= -0.50)
            and coverage_ok,
        }
    return out


def versions() -> dict[str, str]:
    """Versions of the packages that matter for these figures."""
    return package_versions(("torch", "transformers", "trl", "peft", "numpy"))


def git_sha() -> str:
    """The current commit (or 'unknown')."""
    try:
        return subprocess.check_output(["git", "rev-parse", "HEAD"], cwd=ROOT, text=True).strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


ROWS = (
    ("cumulative_cost_per_user", "cumulative edit cost per user (words)", "{:.1f}"),
    ("cost_per_reply", "edit cost per reply (words)", "{:.2f}"),
    ("kept_sentence_share", "model sentences kept by the grounding check", "{:.2f}"),
    ("fallback_share", "replies falling back to the template", "{:.2f}"),
    ("ungrounded_or_fallback_share", "replies with an ungrounded sentence or a fallback", "{:.2f}"),
    ("coverage", "plan coverage", "{:.3f}"),
    ("tokens_per_reply", "generated tokens per reply", "{:.1f}"),
    ("model_s_per_reply", "model seconds per reply", "{:.2f}"),
    ("turn_s_per_reply", "turn seconds per reply", "{:.2f}"),
)


def _cell(value: dict[str, float] | None, fmt: str) -> str:
    return "n/a" if value is None else f"{fmt.format(value['mean'])} ± {fmt.format(value['std'])}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:+.0f}%"


def write_report(result: dict[str, Any], path: Path) -> None:
    """``report.md``: the settings, one table (mean ± std over seeds) and the acceptance comparisons."""
    config, summary = result["config"], result["summary"]
    arms = list(summary)
    lines = [
        "# Preference tuning of the language model: simulated users' edits (benchmarks/tuning.py)",
        "",
        f"Scale `{config['scale']}` ({config['sizes']}), dataset `{config['dataset']}`, backend `{config['backend']}`, "
        f"evaluation seeds {list(config['seeds'])}, training seed {config['train_seed']}; adapter `{result['adapter']}`; "
        f"{result['excluded_dataset_users']} dataset users of the training users excluded; "
        f"commit {result['git_sha'][:10]}; {result['wall_s']} s.",
        "",
        "| figure | " + " | ".join(arms) + " |",
        "|---|" + "---|" * len(arms),
    ]
    for key, label, fmt in ROWS:
        lines.append(f"| {label} | " + " | ".join(_cell(summary[a][key], fmt) for a in arms) + " |")
    lines += [
        "",
        "| comparison | edit cost | ungrounded or fallback | coverage not lower | acceptance met |",
        "|---|---|---|---|---|",
    ]
    for name, c in result["comparisons"].items():
        lines.append(
            f"| {name} | {_pct(c['edit_cost_rel'])} | {_pct(c['ungrounded_or_fallback_rel'])} | "
            f"{'yes' if c['coverage_not_lower'] else 'no'} | {'yes' if c['meets_acceptance'] else 'no'} |"
        )
    lines += [
        "",
        "Acceptance (issue 17): edit cost -30% or better and ungrounded-or-fallback -50% or better, at equal or",
        "better coverage, relative to the base model with the same prompt. Std is over seeds (ddof 0).",
        "",
    ]
    path.write_text("\n".join(lines))


def write_plot(result: dict[str, Any], path: Path) -> None:
    """``tuning.png``: persona users' cumulative edit cost by session, and the ungrounded-or-fallback share."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    runs, summary = result["runs"], result["summary"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for arm, seeds in runs.items():
        curves = [s["persona_cumulative_cost_by_session"] for s in seeds if s["persona_cumulative_cost_by_session"]]
        if not curves:
            continue
        n = min(len(c) for c in curves)
        values = np.array([c[:n] for c in curves])
        left.errorbar(np.arange(1, n + 1), values.mean(0), yerr=values.std(0), marker="o", capsize=3, label=arm)
    left.set_xlabel("session")
    left.set_ylabel("cumulative edit cost per persona user (words)")
    left.legend()
    arms = list(summary)
    shares = [summary[a]["ungrounded_or_fallback_share"] or {"mean": 0.0, "std": 0.0} for a in arms]
    right.bar(arms, [s["mean"] for s in shares], yerr=[s["std"] for s in shares], capsize=3)
    right.set_ylabel("replies with an ungrounded sentence or a fallback")
    right.set_ylim(0, 1)
    fig.suptitle(f"benchmarks/tuning.py, scale {result['config']['scale']}, seeds {list(result['config']['seeds'])}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
