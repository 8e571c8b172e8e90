"""The README's quick start: what CI runs is exactly its commands, and each stands alone in a new shell."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def quickstart_commands() -> list[str]:
    """The lines of the first bash block after '## Quick start' in README.md."""
    lines = (REPO / "README.md").read_text().splitlines()
    start = lines.index("## Quick start")
    begin = next(i for i in range(start, len(lines)) if lines[i] == "```bash") + 1
    end = next(i for i in range(begin, len(lines)) if lines[i] == "```")
    return [line for line in lines[begin:end] if line.strip()]


def test_ci_runs_exactly_the_readme_quickstart_commands() -> None:
    printed = subprocess.run(
        ["bash", str(REPO / ".ci" / "run"), "--print"], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert printed == quickstart_commands()


def test_each_quickstart_command_needs_nothing_from_an_earlier_shell() -> None:
    install, tests = quickstart_commands()
    # The first makes and activates the environment itself; the second must not rely on that
    # activation (a newcomer pastes it into a new terminal), so it names the environment's Python.
    assert install.startswith("python3 -m venv .venv && . .venv/bin/activate && ")
    assert tests == ".venv/bin/python -m pytest -q"
    ci = (REPO / ".ci" / "run").read_text()
    assert 'bash -c "$command"' in ci and ". .venv/bin/activate" not in ci  # CI activates nothing around them
