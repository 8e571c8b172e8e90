"""Reliability: worker processes sharing one data folder and one conversation lose no turn.

Issue 18: two worker processes serving the same conversations lost 76 of 320 turns (23.8%).
Here N real worker processes, each with its own agent on one SQLite data folder, are released
together on one conversation per round; afterwards the history must hold every turn sent.
Default: a round of 2 processes x 80 turns and a round of 4 x 40 (320 turns in all). Then copies
of the files it wrote are emptied, truncated or overwritten with 4 KB of random bytes (10 seeds),
and each must fail to open with an error naming the file, the file unchanged. Then the faults of
``reliability_faults.py``: worker processes SIGKILLed mid-turn (acknowledged changes lost, integrity
checks), bad inputs (leaks, changes to another user, refused inputs stored) and look-alike user ids
(cross-user reads). With ``--database both`` the rounds run again with conversations and memory
in PostgreSQL (a throwaway server unless ``--database-url`` names one). JSON last.

    python benchmarks/reliability.py [--rounds 2 4] [--turns 320] [--kill-trials 10] [--data-dir DIR]
                                     [--database both] [--database-url URL]

Workers are forked from a server that has imported the heavy modules once (``forkserver``):
starting each from scratch would spend most of the run importing.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import queue
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# Run as a script, this folder comes first on sys.path and benchmarks/memory.py would shadow the memory package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MESSAGES = ("a comedy please", "something newer", "not that one", "the 1990s", "any", "why the first one?")
USER = "shared"


@dataclass(frozen=True, kw_only=True)
class Config:
    """What to run.

    Attributes:
        rounds: Worker processes per round; each round is its own conversation.
        turns: Turns per round, split evenly over its workers.
        understanding: The message reader of the workers (the locking does not depend on it;
            "patterns" starts fastest).
    """

    rounds: tuple[int, ...] = (2, 4)
    turns: int = 160
    understanding: str = "patterns"

    def __post_init__(self) -> None:
        if not self.rounds or min(self.rounds) < 1:
            raise ValueError("rounds: at least one round of at least one worker")
        if any(self.turns % n for n in self.rounds):
            raise ValueError(f"turns ({self.turns}) must split evenly over {self.rounds} workers")


def _worker(data: str, index: int, config: Config, ready: Any, go: list, database_url: str | None = None) -> None:
    """One worker process: its own agent; in each round, report ready, wait for the go, send its turns."""
    from agent.api import Agent, AgentConfig
    from agent.llm import BackendConfig

    agent_config = AgentConfig(
        backend=BackendConfig(kind="template"),
        recommender="itemknn",
        policy="maxent",
        retrieval=False,
        understanding=config.understanding,
    )
    agent = Agent.from_config(agent_config, data_dir=Path(data), database_url=database_url)
    agent.chat(f"warm-{index}", "hello")  # the first turn loads what loads lazily
    for number, workers in enumerate(config.rounds):
        ready.put(number)
        go[number].wait()
        if index < workers:
            for i in range(config.turns // workers):
                agent.chat(USER, MESSAGES[(i + index) % len(MESSAGES)], thread_id=f"round{number}")
    ready.put(len(config.rounds))  # done
    agent.close()


def _await(ready: Any, procs: list, stage: int, deadline: float) -> None:
    """Wait until every worker reported ``stage``; a worker that died fails the run instead of hanging it."""
    seen = 0
    while seen < len(procs):
        try:
            got = ready.get(timeout=0.5)
        except queue.Empty:
            dead = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
            if dead:
                raise RuntimeError(f"worker processes failed with exit codes {dead}") from None
            if time.monotonic() > deadline:
                raise TimeoutError("worker processes too slow") from None
            continue
        assert got == stage, (got, stage)
        seen += 1


def run_rounds(data: Path, config: Config, timeout_s: float = 1800.0, database_url: str | None = None) -> list[dict]:
    """Run every round on one data folder (or one PostgreSQL database); per round: workers, turns sent and kept, wall seconds."""
    data.mkdir(parents=True, exist_ok=True)
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["agent.api", "agent.understand", "recsys.encoder", "sentence_transformers"])
    ready = ctx.Queue()
    go = [ctx.Event() for _ in config.rounds]
    procs = [
        ctx.Process(target=_worker, args=(str(data), n, config, ready, go, database_url))
        for n in range(max(config.rounds))
    ]
    for proc in procs:
        proc.start()
    deadline = time.monotonic() + timeout_s
    results = []
    try:
        for number, senders in enumerate(config.rounds):
            _await(ready, procs, number, deadline)
            started = time.perf_counter()
            go[number].set()
            _await(ready, procs, number + 1, deadline)  # the next round's ready (or done): this round is over
            wall = time.perf_counter() - started
            kept = count_turns(data, USER, f"round{number}", database_url)
            results.append(
                {"workers": senders, "turns_sent": config.turns, "turns_kept": kept, "wall_s": round(wall, 1)}
            )
            if number + 1 < len(config.rounds):
                # the workers already reported ready for the next round: put those reports back
                for _ in procs:
                    ready.put(number + 1)
        for proc in procs:
            proc.join(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.kill()
    failed = [proc.exitcode for proc in procs if proc.exitcode != 0]
    if failed:
        raise RuntimeError(f"worker processes failed with exit codes {failed}")
    return results


def count_turns(data: Path, user_id: str, thread_id: str, database_url: str | None = None) -> int:
    """User messages in a conversation's history, read straight from the checkpoints."""
    from agent.conversations import open_conversations
    from agent.limits import conversation_key

    conversations = open_conversations(data, database_url)
    try:
        saved = conversations.saver.get_tuple({"configurable": {"thread_id": conversation_key(user_id, thread_id)}})
    finally:
        conversations.close()
    messages = saved.checkpoint["channel_values"].get("messages", []) if saved else []
    return sum(1 for m in messages if m.type == "human")


def damaged_file_cases(data: Path, seeds: int = 10) -> dict[str, int]:
    """Damage copies of the run's files (0 bytes, truncated, 4 KB of random bytes) and open each.

    A case passes when opening raises ``StoreError`` naming the file and leaves the file as it was.
    """
    import hashlib
    import shutil

    from agent.conversations import Conversations
    from memory.health import DAMAGES, FILES, StoreError, damage_file
    from memory.store import SQLiteStore

    cases = passed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for kind, name in FILES.items():
            for how in DAMAGES:
                for seed in range(seeds if how != "empty" else 1):
                    folder = Path(tmp) / f"{kind}-{how}-{seed}"
                    shutil.copytree(data, folder, ignore=shutil.ignore_patterns("*.lock", "locks"))
                    path = folder / name
                    before = hashlib.sha256(damage_file(path, how, seed)).hexdigest()
                    cases += 1
                    try:
                        opened = Conversations(folder) if kind == "conversations" else SQLiteStore(path)
                        opened.close()
                    except StoreError as err:
                        same = hashlib.sha256(path.read_bytes()).hexdigest() == before
                        passed += int(str(path) in str(err) and same)
    return {"cases": cases, "clear_error_file_unchanged": passed}


def run_faults(data: Path, kill_trials: int) -> dict[str, dict[str, Any]]:
    """SIGKILL trials, bad inputs and look-alike ids, each in its own folder under ``data``, with wall seconds."""
    from benchmarks.reliability_faults import bad_input_cases, cross_user_reads, sigkill_trials

    out = {}
    for name, run in (
        ("sigkill", lambda: sigkill_trials(data / "sigkill", trials=kill_trials)),
        ("bad_inputs", lambda: bad_input_cases(data / "bad-inputs")),
        ("cross_user", lambda: cross_user_reads(data / "cross-user")),
    ):
        started = time.perf_counter()
        out[name] = {**run(), "wall_s": round(time.perf_counter() - started, 1)}
    return out


def postgres_rounds(config: Config, server_url: str | None = None) -> dict[str, Any]:
    """The same rounds with conversations and memory in PostgreSQL (issue 18, point 1).

    Args:
        config: What to run.
        server_url: A server whose user may ``CREATE DATABASE``; None starts a throwaway one
            (``memory.pg_testing``, as the tests do). Either way the rounds get a fresh database.
    """
    from contextlib import nullcontext

    from memory.pg_testing import TempServer, create_database, drop_database

    with TempServer() if server_url is None else nullcontext() as server:
        admin = server_url or server.url  # type: ignore[union-attr]
        url = create_database(admin, prefix="tastebud_reliability")
        started = time.perf_counter()
        try:
            with tempfile.TemporaryDirectory() as data:  # the workers' data folder holds nothing here
                rounds = run_rounds(Path(data), config, database_url=url)
        finally:
            drop_database(url, admin)
    return {
        "rounds": rounds,
        "turns_sent": sum(r["turns_sent"] for r in rounds),
        "turns_lost": sum(r["turns_sent"] - r["turns_kept"] for r in rounds),
        "total_s": round(time.perf_counter() - started, 1),
    }


def _print_rounds(title: str, rounds: list[dict]) -> None:
    print(title)  # noqa: T201
    print(f"{'workers':>7} {'sent':>6} {'kept':>6} {'lost':>6} {'wall s':>7}")  # noqa: T201
    for r in rounds:
        lost = r["turns_sent"] - r["turns_kept"]
        print(f"{r['workers']:>7} {r['turns_sent']:>6} {r['turns_kept']:>6} {lost:>6} {r['wall_s']:>7}")  # noqa: T201


def _git_sha() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    """Run the rounds, print a table and one JSON object last."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, nargs="+", default=list(Config.rounds))
    parser.add_argument("--turns", type=int, default=Config.turns, help="turns per round")
    parser.add_argument("--understanding", default=Config.understanding)
    parser.add_argument("--data-dir", type=Path, help="default: a new temporary folder")
    parser.add_argument("--kill-trials", type=int, default=10, help="SIGKILL trials (2 workers killed in each)")
    parser.add_argument("--database", choices=["sqlite", "both"], default="sqlite", help="both: PostgreSQL too")
    parser.add_argument("--database-url", help="PostgreSQL server to use (default: a throwaway one)")
    args = parser.parse_args()
    config = Config(rounds=tuple(args.rounds), turns=args.turns, understanding=args.understanding)
    data = args.data_dir or Path(tempfile.mkdtemp(prefix="tastebud-reliability-"))
    started = time.perf_counter()
    rounds = run_rounds(data, config)
    total = time.perf_counter() - started
    damage = damaged_file_cases(data)
    faults = run_faults(data, args.kill_trials)
    _print_rounds("SQLite:", rounds)
    print(f"damaged files: {damage['clear_error_file_unchanged']} of {damage['cases']} cases a clear error")  # noqa: T201
    for name, counts in faults.items():
        print(f"{name}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))  # noqa: T201
    sent = sum(r["turns_sent"] for r in rounds)
    lost = sum(r["turns_sent"] - r["turns_kept"] for r in rounds)
    summary = {
        "config": asdict(config),
        "git": _git_sha(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "python": platform.python_version(),
        "rounds": rounds,
        "turns_sent": sent,
        "turns_lost": lost,
        "total_s": round(total, 1),
        "damaged_files": damage,
        **faults,
    }
    if args.database == "both":
        summary["postgresql"] = postgres_rounds(config, args.database_url)
        _print_rounds("PostgreSQL:", summary["postgresql"]["rounds"])
    print(json.dumps(summary))  # noqa: T201


if __name__ == "__main__":
    main()
