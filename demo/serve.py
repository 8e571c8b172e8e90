"""Serving the demo: the sign-in, the queue and the server's life (start, Ctrl-C or SIGTERM, close).

``tastebud demo`` calls ``launch``; ``python -m demo.serve`` does the same with the agent
configured by the environment. This module stays below the command line (``demo -> agent``),
so nothing here imports ``tastebud.cli``.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from typing import Any

from demo.app import CSS, THEME, build_demo
from demo.config import DemoConfig, is_loopback

log = logging.getLogger(__name__)


def _warm_up(agent: Any) -> None:
    """Load the lazily loaded models now, so the first visitor's first message is not the slow one."""
    try:
        agent.warm_up()
    except Exception:  # only an optimisation
        log.warning("warm-up failed", exc_info=True)


def start(agent: Any, config: DemoConfig) -> Any:
    """Build the demo and start serving it in the background; returns the ``gr.Blocks`` (``close()`` stops it)."""
    accounts = config.accounts
    if accounts.mode == "header" and not is_loopback(config.host):
        log.warning(
            "trusting the %s header on %s: anyone who reaches this port without the proxy can claim any name",
            accounts.header,
            config.host,
        )
    demo = build_demo(agent, accounts=accounts, rate_limit=config.rate_limit)
    demo.queue(default_concurrency_limit=4)
    demo.launch(
        server_name=config.host,
        server_port=config.port,
        prevent_thread_lock=True,
        share=False,
        ssr_mode=False,
        theme=THEME,
        css=CSS,
        footer_links=[],
        run_history=False,  # the browser would keep copies of every chat turn in local storage
        quiet=True,
        **accounts.launch_options(),
    )
    return demo


def launch(agent: Any, config: DemoConfig | None = None) -> None:
    """Serve the demo until interrupted (Ctrl-C or SIGTERM), then close the server.

    Args:
        agent: The agent to serve; the caller closes it afterwards.
        config: Where to listen, the sign-in and the rate limit (``DemoConfig()``: local mode on 127.0.0.1:7860).
    """
    config = config or DemoConfig()
    threading.Thread(target=_warm_up, args=(agent,), daemon=True, name="warm-up").start()
    stop = threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    demo = None
    try:
        demo = start(agent, config)
        mode = {"local": "local mode, no sign-in", "password": "password sign-in", "header": "trusted header"}
        log.info("Tastebud demo on http://%s:%d (%s)", config.host, config.port, mode[config.accounts.mode])
        stop.wait()
    finally:
        if demo is not None:
            demo.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: list[str] | None = None) -> int:
    """``python -m demo.serve [--host H] [--port P]``: the demo with the environment's agent and demo settings.

    The agent comes from ``AgentConfig.from_env()`` (``TASTEBUD_DATASET``, the backend variables...),
    the sign-in and rate limit from ``DemoConfig.from_env()`` (``TASTEBUD_DEMO_USERS``...);
    ``tastebud demo`` takes the same settings as flags.
    """
    import argparse

    from agent.api import Agent, AgentConfig

    parser = argparse.ArgumentParser(prog="python -m demo.serve", description=main.__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="interface to serve on")
    parser.add_argument("--port", type=int, default=7860, help="port to serve on")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    config = DemoConfig.from_env(host=args.host, port=args.port)
    agent = Agent.from_config(AgentConfig.from_env())
    try:
        launch(agent, config)
    finally:
        agent.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
