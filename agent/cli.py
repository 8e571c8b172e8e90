"""The ``tastebud`` command line.

Imports stay inside the command functions so ``tastebud --help`` and light
commands start fast. Every command that computes figures accepts ``--json`` and
then prints one JSON object as the last line of stdout.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

log = logging.getLogger("tastebud")


def _emit(args: argparse.Namespace, payload: Any, human: str) -> None:
    """Print a human summary, or with --json one JSON object as the last line."""
    if getattr(args, "json", False):
        print(json.dumps(payload, default=str))  # noqa: T201
    else:
        print(human)  # noqa: T201


def _settings(args: argparse.Namespace):  # -> Settings
    from recsys.settings import Settings

    return Settings.from_env(cache_dir=getattr(args, "cache_dir", None))


# ---- assets ----------------------------------------------------------------------
def cmd_assets_fetch(args: argparse.Namespace) -> int:
    from recsys.assets import AssetManager

    manager = AssetManager(_settings(args))
    names = args.names or manager.names
    statuses = []
    for name in names:
        manager.fetch(name, force=args.force)
        statuses.append(manager.status(name))
    lines = [f"{s.name:8} {'ok' if s.verified else 'BAD'}  {s.size_bytes / 1e6:8.1f} MB  {s.path}" for s in statuses]
    _emit(args, {"assets": [s.model_dump() for s in statuses]}, "\n".join(lines))
    return 0 if all(s.verified for s in statuses) else 1


def cmd_assets_info(args: argparse.Namespace) -> int:
    from recsys.assets import AssetManager

    manager = AssetManager(_settings(args))
    statuses = [manager.status(name) for name in manager.names]
    lines = []
    for s in statuses:
        state = "ok" if s.verified else f"missing/bad: {s.problem}"
        lines.append(f"{s.name:8} {state}\n         {s.description}\n         {s.path} ({s.size_bytes / 1e6:.1f} MB)")
    _emit(
        args,
        {"cache_dir": str(manager.settings.cache_dir), "assets": [s.model_dump() for s in statuses]},
        "\n".join(lines),
    )
    return 0


def cmd_assets_movielens(args: argparse.Namespace) -> int:
    from recsys.loaders.movielens import fetch_movielens

    path = fetch_movielens(args.variant, _settings(args), source=args.source, sha256=args.sha256)
    _emit(
        args,
        {"variant": args.variant, "path": str(path)},
        f"{args.variant}: {path}\nUse it with --dataset movielens:{args.variant}",
    )
    return 0


# ---- data ------------------------------------------------------------------------
def cmd_data_info(args: argparse.Namespace) -> int:
    from recsys.datasets import load_catalog

    stats = load_catalog(args.dataset, _settings(args)).stats()
    human = (
        f"{stats.name}: {stats.users} users, {stats.items} items, {stats.interactions} interactions"
        f" (ratings {stats.rating_min}-{stats.rating_max}), years {stats.year_min}-{stats.year_max}\n"
        f"genres: {', '.join(f'{g} ({n})' for g, n in stats.genres.items())}\n"
        f"knowledge graph: {stats.kg_triples} triples, {stats.kg_relation_types} relation types, "
        f"{stats.kg_entities} entities, {stats.items_linked_to_kg} items linked"
    )
    _emit(args, stats.model_dump(), human)
    return 0


# ---- search ----------------------------------------------------------------------
def cmd_search(args: argparse.Namespace) -> int:
    import time

    from recsys.datasets import load_catalog
    from recsys.filters import ItemFilter
    from recsys.retrieval import ItemIndex

    settings = _settings(args)
    catalog = load_catalog(args.dataset, settings)
    index = ItemIndex.build_or_load(catalog, settings=settings)
    filters = ItemFilter(
        genres_any=frozenset(args.genre or ()),
        genres_none=frozenset(args.exclude_genre or ()),
        year_min=args.year_min,
        year_max=args.year_max,
    )
    index.encoder.model  # load the encoder first: search_ms measures the search, not start-up
    start = time.perf_counter()
    hits = index.search(args.query, args.k, None if filters.is_empty() else filters)
    elapsed_ms = (time.perf_counter() - start) * 1000
    human = "\n".join(f"{h.score:6.3f}  {h.title}" + (f" ({h.year})" if h.year else "") for h in hits) or "no results"
    _emit(args, {"query": args.query, "hits": [h.model_dump() for h in hits], "search_ms": elapsed_ms}, human)
    return 0


# ---- llm -------------------------------------------------------------------------
def _backend_config(args: argparse.Namespace):  # -> BackendConfig
    from pathlib import Path

    from agent.llm import BackendConfig

    env = BackendConfig.from_env()
    return BackendConfig(
        kind=args.backend or env.kind,
        model_path=Path(args.model_path) if args.model_path else env.model_path,
        base_url=args.base_url or env.base_url,
        model=args.model or env.model,
    )


def cmd_llm(args: argparse.Namespace) -> int:
    from agent.llm import ChatMessage, GenerationConfig, load_backend

    backend = load_backend(_backend_config(args), _settings(args))
    messages = [ChatMessage(role="user", content=args.message)]
    config = GenerationConfig(max_new_tokens=args.max_new_tokens)
    if args.json:
        _emit(args, {"backend": backend.name, "reply": backend.generate(messages, config)}, "")
        return 0
    for chunk in backend.stream(messages, config):
        print(chunk, end="", flush=True)  # noqa: T201
    print()  # noqa: T201
    return 0


# ---- chat ------------------------------------------------------------------------
def _agent(args: argparse.Namespace):  # -> Agent
    from pathlib import Path

    from agent.api import Agent, AgentConfig

    config = AgentConfig(
        dataset=args.dataset,
        backend=_backend_config(args),
        recommender=args.recommender,
        data_dir=Path(args.data_dir) if args.data_dir else None,
        policy=args.policy,
        k=args.k,
        understanding=args.understanding,
    )
    return Agent.from_config(config, _settings(args))


def _print_reply(reply) -> None:  # reply: Reply
    for rec in reply.recommendations:
        log.debug("recommended %s", rec.item_id)
    if reply.applied_instructions:
        rules = "; ".join(f'"{a.text}"' for a in reply.applied_instructions)
        print(f"  (applied your rules: {rules})")  # noqa: T201
    if reply.memory_changes:
        print(f"  (memory: {'; '.join(reply.memory_changes)})")  # noqa: T201


def cmd_chat(args: argparse.Namespace) -> int:
    agent = _agent(args)
    try:
        if args.message is not None:
            if args.json:
                reply = agent.chat(args.user, args.message, args.thread)
                print(reply.text)  # noqa: T201
                print(reply.model_dump_json())  # noqa: T201
            else:
                for chunk in agent.stream(args.user, args.message, args.thread):
                    if isinstance(chunk, str):
                        print(chunk, end="", flush=True)  # noqa: T201
                    else:
                        print()  # noqa: T201
                        _print_reply(chunk)
            return 0
        print(f"Tastebud: chatting as {args.user!r}. Type 'quit' to leave, 'start over' for a new search.")  # noqa: T201
        while True:
            try:
                message = input("you> ")
            except (EOFError, KeyboardInterrupt):
                print()  # noqa: T201
                return 0
            if message.strip().lower() in ("quit", "exit", ":q"):
                return 0
            print("tastebud> ", end="", flush=True)  # noqa: T201
            for chunk in agent.stream(args.user, message, args.thread):
                if isinstance(chunk, str):
                    print(chunk, end="", flush=True)  # noqa: T201
                else:
                    print()  # noqa: T201
                    _print_reply(chunk)
    finally:
        agent.close()


# ---- demo ------------------------------------------------------------------------
def cmd_demo(args: argparse.Namespace) -> int:
    from demo.app import launch

    agent = _agent(args)
    try:
        launch(agent, host=args.host, port=args.port)
    finally:
        agent.close()
    return 0


# ---- train -----------------------------------------------------------------------
def cmd_train_policy(args: argparse.Namespace) -> int:
    """Train the learned ask-vs-recommend policy on the MCR simulator (one JSON object last)."""
    from agent.learning.cli import run

    return run(args)


def _add_train(sub: argparse._SubParsersAction) -> None:
    train = sub.add_parser("train", help="train a model").add_subparsers(dest="what", required=True)
    from agent.learning.cli import add_arguments as add_policy_arguments  # argparse only at load

    p = train.add_parser("policy", help="train the learned ask-vs-recommend policy on simulated users")
    add_policy_arguments(p)
    p.set_defaults(func=cmd_train_policy)
    from agent.understanding import cli as understanding_cli

    p = train.add_parser("understanding", help="train the message-understanding model and title linker")
    understanding_cli.add_arguments(p)
    p.set_defaults(func=understanding_cli.run)
    try:
        from recsys.seqrec import cli as seqrec_cli
    except ImportError:  # the sequential recommender is not part of this build
        return
    p = train.add_parser("seqrec", help="train a sequential recommender")
    seqrec_cli.add_arguments(p)
    p.set_defaults(func=seqrec_cli.run)


# ---- simulate --------------------------------------------------------------------
def cmd_simulate(args: argparse.Namespace) -> int:
    """Simulated-user evaluation: report + plots under --out, one JSON object last."""
    from agent.simulate.cli import run

    return run(args)


def _add_simulate(sub: argparse._SubParsersAction) -> None:
    from agent.simulate.cli import add_arguments

    p = sub.add_parser("simulate", help="simulated-user evaluation (MCR protocol or persona memory)")
    add_arguments(p)
    p.set_defaults(func=cmd_simulate)


def _add_agent_arguments(p: argparse.ArgumentParser) -> None:
    """The options that configure an agent (``chat`` and ``demo``)."""
    p.add_argument("--dataset", default="ml-100k")
    p.add_argument("--backend", choices=["local", "openai", "template"], help="LLM backend (default: local)")
    p.add_argument("--model-path", help="local: a Hugging Face model folder (default: embedded SmolLM2)")
    p.add_argument("--base-url", help="openai: server root")
    p.add_argument("--model", help="openai: model name")
    p.add_argument("--recommender", default="auto", help="auto, sasrec-ce, itemknn, pop, ...")
    p.add_argument(
        "--policy",
        default="auto",
        choices=["auto", "maxent", "random", "always-recommend"],
        help="auto: the learned policy when one is saved for the catalog, else maxent",
    )
    p.add_argument("-k", type=int, default=5, help="items per recommendation list")
    p.add_argument(
        "--understanding",
        default="auto",
        choices=["auto", "learned", "llm", "patterns"],
        help="how messages are read: auto (an LLM backend that can, else the learned model), learned, llm, "
        "or patterns (the old baseline)",
    )
    p.add_argument("--data-dir", help="where memory and conversations are stored (default: the cache's data folder)")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser."""
    parser = argparse.ArgumentParser(prog="tastebud", description="Tastebud: a personal conversational recommender.")
    parser.add_argument("--cache-dir", help="cache folder (default: $TASTEBUD_CACHE or ~/.cache/tastebud)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", required=True)

    assets = sub.add_parser("assets", help="embedded data and models").add_subparsers(dest="action", required=True)
    p = assets.add_parser("fetch", help="obtain and verify the embedded assets")
    p.add_argument("names", nargs="*", help="assets to fetch (default: all): ml-100k, smollm2, minilm")
    p.add_argument("--force", action="store_true", help="fetch again even if the cache is intact")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_assets_fetch)
    p = assets.add_parser("info", help="where the assets are and whether they verify")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_assets_info)
    p = assets.add_parser("movielens", help="add an official MovieLens zip from a file or URL")
    p.add_argument("variant", help="ml-100k, ml-1m, ml-20m or ml-latest-small")
    p.add_argument("--source", help="local zip or URL (default: the official URL)")
    p.add_argument("--sha256", help="expected checksum of the zip")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_assets_movielens)

    data = sub.add_parser("data", help="catalogs").add_subparsers(dest="action", required=True)
    p = data.add_parser("info", help="catalog statistics")
    p.add_argument("--dataset", default="ml-100k", help="ml-100k, movielens:VARIANT, a zip, or a catalog folder")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_data_info)

    p = sub.add_parser("search", help="text search over the catalog")
    p.add_argument("query")
    p.add_argument("-k", type=int, default=10, help="number of results")
    p.add_argument("--dataset", default="ml-100k")
    p.add_argument("--genre", action="append", help="keep items with this genre (repeatable: any of)")
    p.add_argument("--exclude-genre", action="append", help="drop items with this genre (repeatable)")
    p.add_argument("--year-min", type=int)
    p.add_argument("--year-max", type=int)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("llm", help="one message to an LLM backend (checks a backend works)")
    p.add_argument("message")
    p.add_argument("--backend", choices=["local", "openai", "template"])
    p.add_argument("--model-path", help="local: a Hugging Face model folder (default: embedded SmolLM2)")
    p.add_argument("--base-url", help="openai: server root, e.g. http://localhost:8000/v1")
    p.add_argument("--model", help="openai: model name")
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_llm)

    p = sub.add_parser("chat", help="chat with Tastebud (interactive, or one turn with --message)")
    p.add_argument("--user", required=True, help="who is chatting: memory is kept per user")
    p.add_argument("--thread", help="conversation id (default: the user's default conversation)")
    p.add_argument("--message", help="send one message and exit")
    _add_agent_arguments(p)
    p.add_argument("--json", action="store_true", help="with --message: print the reply as JSON on the last line")
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("demo", help="the Gradio demo in a browser: chat, cards, editable memory")
    p.add_argument("--host", default="127.0.0.1", help="interface to serve on (0.0.0.0 to share on a network)")
    p.add_argument("--port", type=int, default=7860, help="port to serve on")
    _add_agent_arguments(p)
    p.set_defaults(func=cmd_demo)

    _add_train(sub)
    _add_simulate(sub)
    from agent.store_cli import add_store

    add_store(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tastebud`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    from memory.health import StoreError
    from recsys.errors import AssetError, CatalogFormatError

    try:
        return int(args.func(args) or 0)
    except (AssetError, CatalogFormatError, FileNotFoundError, ValueError, StoreError) as exc:
        print(f"tastebud: error: {exc}", file=sys.stderr)  # noqa: T201
        return 2


if __name__ == "__main__":
    sys.exit(main())
