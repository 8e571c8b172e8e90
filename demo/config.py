"""The demo's settings in one place: where it listens, who may sign in, and how fast one may chat."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from demo.accounts import Accounts
from demo.rate_limit import RateLimit


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only (127.0.0.1, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


@dataclass(frozen=True, kw_only=True)
class DemoConfig:
    """How the demo is served.

    Attributes:
        host: Interface to listen on.
        port: Port to listen on.
        accounts: Who is chatting: local mode (no sign-in), a password sign-in, or a trusted header.
        rate_limit: Chat turns allowed per signed-in user (per browser session in local mode).
        allow_anyone: Serve local mode on a network interface anyway. Without sign-in everyone who
            reaches the page can open and change the memory of any name, so by default local mode
            listens on a loopback interface only.
    """

    host: str = "127.0.0.1"
    port: int = 7860
    accounts: Accounts = field(default_factory=Accounts)
    rate_limit: RateLimit = field(default_factory=RateLimit)
    allow_anyone: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port {self.port} out of range")
        if not self.accounts.signed_in and not is_loopback(self.host) and not self.allow_anyone:
            raise ValueError(
                f"without sign-in the demo serves this machine only, not {self.host}: anyone reaching it could "
                "read and change every name's memory. Add accounts (--users-file, TASTEBUD_DEMO_USERS, or "
                "--trusted-header behind a proxy), or pass --allow-anyone to share it regardless"
            )

    @classmethod
    def from_env(
        cls,
        users_file: Path | None = None,
        trusted_header: str | None = None,
        rate_limit: str | None = None,
        **fields: Any,
    ) -> DemoConfig:
        """The config from the arguments given, the rest from the environment.

        ``TASTEBUD_DEMO_USERS`` (accounts as ``name:password`` entries), ``TASTEBUD_DEMO_TRUSTED_HEADER``
        and ``TASTEBUD_DEMO_RATE_LIMIT`` (``TURNS/SECONDS``) apply where the matching argument is None.

        Raises:
            ValueError: Two ways to sign in, or a value that does not parse.
        """
        accounts = Accounts.from_sources(
            users_file=users_file,
            users_env=os.environ.get("TASTEBUD_DEMO_USERS") or None,
            trusted_header=trusted_header or os.environ.get("TASTEBUD_DEMO_TRUSTED_HEADER") or None,
        )
        limit_text = rate_limit or os.environ.get("TASTEBUD_DEMO_RATE_LIMIT")
        limit = RateLimit.parse(limit_text) if limit_text else RateLimit()
        return cls(accounts=accounts, rate_limit=limit, **fields)
