"""``tastebud simulate``: flags and the command (wired in ``tastebud/cli.py``). Imports only the standard library at load."""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
import time

from agent.simulate.policies import POLICY_HELP, check_policy, policy_name
from agent.simulate.protocols import PROTOCOL_HELP, PROTOCOL_NAMES, PROTOCOLS

log = logging.getLogger(__name__)

RAY_MISSING_NOTE = (
    "note: Ray is not installed (pip install -e '.[scale]' adds it): running the episodes in this process"
)


def _policy(text: str) -> str:
    try:
        return check_policy(text)
    except ValueError as exc:  # argparse reports ArgumentTypeError as a usage error naming the flag
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Flags of ``tastebud simulate``."""
    p.add_argument("--dataset", default="ml-100k", help="ml-100k, movielens:VARIANT, or a generic catalog folder")
    p.add_argument(
        "--mode",
        choices=["mcr", "persona"],
        default="mcr",
        help="mcr: the multi-round conversational recommendation protocol; persona: users with rules and "
        "tastes across sessions (memory figures)",
    )
    p.add_argument("--policy", type=_policy, default="maxent", metavar="POLICY", help=POLICY_HELP)
    p.add_argument(
        "--episodes",
        type=int,
        help="MCR episodes, or personas (default 100; with --episodes-file or --split-files: all the files give)",
    )
    p.add_argument("--seed", type=int, default=0, help="fixes the episodes drawn and every random choice in them")
    add_protocol_arguments(p)
    p.add_argument("--engine", choices=["fast", "agent"], default="fast", help="MCR: policy directly, or agent.chat")
    p.add_argument("--recommender", default="itemknn", help="recommender scoring candidates (itemknn, sasrec-ce, ...)")
    p.add_argument(
        "--recommender-path",
        help="a saved recommender folder used as is instead of fitting --recommender (e.g. an aligned SASRec); "
        "persona: it must not have trained on each user's last --sessions items, the personas' targets; "
        "mcr: on the episodes' held-out targets",
    )
    p.add_argument(
        "--understanding",
        choices=["auto", "learned", "patterns"],
        default="auto",
        help="end to end (persona, --engine agent): how the agent reads the simulated user (auto: the learned "
        "reader; patterns: the old baseline, for comparison)",
    )
    p.add_argument("--sessions", type=int, default=3, help="persona: sessions per persona")
    add_episode_arguments(p)
    add_attribute_arguments(p)
    p.add_argument("--workers", type=int, default=2, help="Ray actors")
    p.add_argument("--ray-address", help="an existing Ray cluster (default: a local Ray)")
    p.add_argument("--no-ray", action="store_true", help="run in this process (also what happens without Ray)")
    p.add_argument(
        "--out",
        help="report folder (default: runs/simulate/<mode>-<engine>-<policy>-<question>-<seed>, with "
        "-<protocol> after it for a --protocol other than tastebud; persona mode always runs the agent engine)",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line of stdout")


def add_protocol_arguments(p: argparse.ArgumentParser) -> None:
    """``--protocol`` and the question kind, turns and list size it sets (also flags of ``tastebud train policy``)."""
    p.add_argument("--protocol", choices=PROTOCOL_NAMES, default="tastebud", help=PROTOCOL_HELP)
    p.add_argument(
        "--question",
        choices=["multi", "binary"],
        help="multi: choose among values of one attribute type; binary: yes/no on one value (default: the "
        "protocol's: tastebud and mcmipl multi, scpr binary)",
    )
    p.add_argument(
        "--max-turns",
        type=int,
        help="turns per episode, questions and lists both counting (default 15; fixed by scpr and mcmipl, "
        "where the opening takes the first)",
    )
    p.add_argument("-k", type=int, help="items per list (default 10; fixed by scpr and mcmipl)")


def resolve_protocol_flags(args: argparse.Namespace) -> dict[str, object]:
    """Fill ``--question``, ``--max-turns`` and ``-k`` left out with the protocol's; their ``MCRConfig`` fields."""
    rules = PROTOCOLS[args.protocol]
    args.question = args.question or rules.question
    args.max_turns = rules.max_turns if args.max_turns is None else args.max_turns
    args.k = rules.k if args.k is None else args.k
    return {"protocol": args.protocol, "question": args.question, "max_turns": args.max_turns, "k": args.k}


def add_episode_arguments(p: argparse.ArgumentParser) -> None:
    """``--split-files`` and ``--episodes-file`` (also flags of ``tastebud train policy``)."""
    p.add_argument(
        "--split-files",
        nargs=3,
        metavar=("TRAIN", "VALID", "TEST"),
        help="MCR: interaction CSVs (user,item[,rating,timestamp]) replacing the leave-one-out split: the "
        "recommender fits on TRAIN, the episodes are TEST's pairs in file order (history: TRAIN + VALID), "
        "a learned policy trains on VALID's pairs",
    )
    p.add_argument(
        "--episodes-file",
        help="MCR: CSV with a 'user,target' header (and 'target2' under --protocol mcmipl): the episodes, in "
        "file order (history: the user's other items; without --split-files their pairs are removed before "
        "anything is fitted)",
    )


def add_attribute_arguments(p: argparse.ArgumentParser) -> None:
    """What can be asked about (also flags of ``tastebud train policy``)."""
    p.add_argument(
        "--attributes",
        nargs="+",
        metavar="KEY",
        default=(),
        help="keys of the items' typed 'attributes' (items.jsonl, or RecBole .item columns) to ask about, one "
        "attribute type each (fast MCR engine)",
    )
    p.add_argument(
        "--relations",
        nargs="*",
        metavar="RELATION",
        help="knowledge-graph relations whose entities are askable (default: director actor writer "
        "production_company subject; the flag alone: no KG questions)",
    )
    p.add_argument(
        "--min-items",
        type=int,
        default=5,
        help="a genre, attribute value or KG entity is askable when at least this many items have it",
    )
    p.add_argument(
        "--open-types",
        nargs="+",
        metavar="TYPE",
        default=("genre", "decade"),
        help="attribute types the simulated user may open with, when the target has one ('any': every type)",
    )


def mcr_data_flags(args: argparse.Namespace) -> dict[str, object]:
    """The ``MCRConfig`` fields of the episode and attribute flags."""
    fields: dict[str, object] = {
        "split_files": tuple(args.split_files) if args.split_files else None,
        "episodes_file": args.episodes_file,
        "attributes": tuple(args.attributes),
        "min_items": args.min_items,
        "open_types": () if "any" in args.open_types else tuple(args.open_types),
    }
    if args.relations is not None:
        fields["relations"] = tuple(args.relations)
    return fields


def default_out(args: argparse.Namespace) -> str:
    """The report folder when ``--out`` is not given (the ``--out`` help states the same pattern)."""
    engine = "agent" if args.mode == "persona" else args.engine
    suffix = "" if args.protocol == "tastebud" else f"-{args.protocol}"
    return f"runs/simulate/{args.mode}-{engine}-{policy_name(args.policy)}-{args.question}-{args.seed}{suffix}"


def _ray_importable() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def run(args: argparse.Namespace) -> int:
    """Run, write the report, print a summary (and with ``--json`` one JSON object last)."""
    from pathlib import Path

    from agent.simulate.episodes import count_fixed_episodes
    from agent.simulate.mcr import MCRConfig
    from agent.simulate.persona import PersonaConfig
    from agent.simulate.policies import PolicyMaker
    from agent.simulate.report import summarize, write_report
    from agent.simulate.runner import SimulationConfig, run_local, run_ray
    from recsys.settings import Settings

    mcr = MCRConfig(recommender=args.recommender, **resolve_protocol_flags(args), **mcr_data_flags(args))
    fixed = count_fixed_episodes(mcr)
    if fixed is not None and args.mode != "mcr":
        raise ValueError("--split-files and --episodes-file apply to --mode mcr")
    config = SimulationConfig(
        dataset=args.dataset,
        mode=args.mode,
        engine=args.engine,
        policy=args.policy,
        episodes=args.episodes or fixed or 100,
        seed=args.seed,
        mcr=mcr,
        persona=PersonaConfig(sessions=args.sessions, k=args.k),
        workers=args.workers,
        cache_dir=getattr(args, "cache_dir", None),
        recommender_path=args.recommender_path,
        understanding=args.understanding,
    )
    settings = Settings.from_env(cache_dir=config.cache_dir)
    # Load a trained policy here first: a missing or mismatched checkpoint fails with its message
    # before any worker starts (inside a Ray actor it would arrive wrapped in a traceback).
    checkpoint = PolicyMaker(config.policy, config.mcr, settings.cache_dir, config.dataset).folder
    out = Path(args.out or default_out(args))
    in_process = args.no_ray
    if not in_process and not _ray_importable():
        if args.ray_address:
            raise ValueError("--ray-address needs Ray: pip install -e '.[scale]'")
        print(RAY_MISSING_NOTE, file=sys.stderr)  # noqa: T201
        in_process = True
    start = time.perf_counter()
    if in_process:
        results = run_local(config, progress=not args.no_progress)
    else:
        results = run_ray(config, args.ray_address, progress=not args.no_progress)
    wall = time.perf_counter() - start
    figures = summarize(config, results)
    figures["wall_s"] = round(wall, 1)
    command = "tastebud simulate " + " ".join(shlex.quote(a) for a in sys.argv[2:])
    report = write_report(config, results, figures, out, command)
    payload = {
        "mode": args.mode,
        "engine": "agent" if args.mode == "persona" else args.engine,
        "policy": args.policy,
        "policy_checkpoint": None if checkpoint is None else str(checkpoint),
        "question": args.question,
        "protocol": args.protocol,
        "dataset": args.dataset,
        "episodes": config.episodes,
        "split_files": args.split_files,
        "episodes_file": args.episodes_file,
        "seed": args.seed,
        "in_process": in_process,
        "figures": figures,
        "report": str(report),
    }
    scalars = ", ".join(f"{k} {v}" for k, v in figures.items() if isinstance(v, int | float))
    print(f"{args.mode} / {args.protocol} / {args.policy} / seed {args.seed}: {scalars}")  # noqa: T201
    print(f"report: {report}")  # noqa: T201
    if args.json:
        print(json.dumps(payload))  # noqa: T201
    return 0
