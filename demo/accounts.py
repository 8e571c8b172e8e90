"""Who is signed in to the demo: the accounts, how passwords are checked, and the trusted header.

Three modes, one per ``Accounts``:

- ``local``: no sign-in. Everyone who reaches the page is trusted and may type any name; meant
  for one person on their own machine (the demo serves only 127.0.0.1 then, unless told otherwise).
- ``password``: Gradio's own login form (``launch(auth=...)``) against a users file or the
  ``TASTEBUD_DEMO_USERS`` variable. The signed-in name is the user id.
- ``header``: a reverse proxy that has already signed the person in puts their name in a header
  (``X-Forwarded-User``, say); Gradio's ``auth_dependency`` reads it on every request. Only safe
  when nothing but the proxy can reach the demo: anyone who can talk to the demo directly can
  send the header with any name.

Users file, one account a line (blank lines and ``#`` comments skipped)::

    alice:correct horse battery staple
    bob:scrypt$16384$8$1$<salt hex>$<key hex>

The name is everything before the first ``:``, the password everything after it (it may hold
``:``). A password starting with ``scrypt$`` is a hash made by ``hash_password`` (``tastebud
demo-password NAME`` prints such a line). ``TASTEBUD_DEMO_USERS`` holds the same entries separated
by commas or line breaks, so there a plain password cannot contain a comma.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from memory.ids import check_user_id

Mode = Literal["local", "password", "header"]

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
"""scrypt cost (about 60 ms a check on one core): the parameters travel in each hash."""

_HASH = re.compile(r"scrypt\$(\d+)\$(\d+)\$(\d+)\$([0-9a-f]{16,})\$([0-9a-f]{32,})")
_HEADER_NAME = re.compile(r"[A-Za-z0-9-]+")


def hash_password(password: str, salt: bytes | None = None) -> str:
    """A users-file hash of ``password``: ``scrypt$N$r$p$salt$key`` (hex), with a random salt by default."""
    salt = os.urandom(16) if salt is None else salt
    key = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${key.hex()}"


def password_matches(password: str, stored: str) -> bool:
    """Whether ``password`` is the one ``stored`` (a plain password or a ``scrypt$`` hash), in constant time."""
    try:
        given = password.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate is nobody's password
        return False
    match = _HASH.fullmatch(stored)
    if match is None:
        return hmac.compare_digest(given, stored.encode("utf-8"))
    n, r, p = (int(match.group(i)) for i in (1, 2, 3))
    key = bytes.fromhex(match.group(5))
    derived = hashlib.scrypt(given, salt=bytes.fromhex(match.group(4)), n=n, r=r, p=p, dklen=len(key))
    return hmac.compare_digest(derived, key)


@functools.cache
def _decoy() -> str:
    return hash_password("decoy", salt=bytes(16))


def parse_users(lines: list[str], source: str) -> dict[str, str]:
    """Accounts from ``name:password`` lines; ``source`` names where they came from in errors.

    Raises:
        ValueError: A line without ``:``, an invalid or repeated name, an empty password, or no
            account at all; the message names the source and line.
    """
    users: dict[str, str] = {}
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, password = line.partition(":")
        where = f"{source}, entry {number}"
        if not sep or not password:
            raise ValueError(f"{where}: expected name:password")
        if name != name.strip():
            raise ValueError(f"{where}: a name cannot start or end with a space")
        try:
            check_user_id(name)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        if name in users:
            raise ValueError(f"{where}: {name!r} appears twice")
        users[name] = password
    if not users:
        raise ValueError(f"{source}: no accounts (lines of name:password)")
    return users


@dataclass(frozen=True, kw_only=True)
class Accounts:
    """How the demo decides who is chatting.

    Attributes:
        mode: ``local`` (no sign-in), ``password`` (Gradio's login form) or ``header`` (a trusted
            header from a reverse proxy).
        users: Name -> password or ``scrypt$`` hash (``password`` mode only).
        header: The header a proxy sets to the signed-in name (``header`` mode only).
    """

    mode: Mode = "local"
    users: Mapping[str, str] = field(default_factory=dict)
    header: str | None = None

    def __post_init__(self) -> None:
        if self.mode == "password" and not self.users:
            raise ValueError("password sign-in needs at least one account")
        if self.mode != "password" and self.users:
            raise ValueError(f"accounts were given but the mode is {self.mode!r}")
        if (self.mode == "header") != (self.header is not None):
            raise ValueError("a trusted header goes with header mode, and header mode needs one")
        if self.header is not None and not _HEADER_NAME.fullmatch(self.header):
            raise ValueError(f"invalid header name {self.header!r}")
        object.__setattr__(self, "users", MappingProxyType(dict(self.users)))  # frozen all the way down

    @classmethod
    def from_sources(
        cls,
        users_file: Path | None = None,
        users_env: str | None = None,
        trusted_header: str | None = None,
    ) -> Accounts:
        """The accounts named by at most one source: a users file, ``TASTEBUD_DEMO_USERS`` text, or a header.

        Raises:
            ValueError: More than one source, or a source that does not parse.
        """
        given = [name for name, value in (("users file", users_file), ("TASTEBUD_DEMO_USERS", users_env),
                                          ("trusted header", trusted_header)) if value]  # fmt: skip
        if len(given) > 1:
            raise ValueError(f"choose one way to sign in, not {' and '.join(given)}")
        if users_file is not None:
            return cls(mode="password", users=parse_users(users_file.read_text("utf-8").splitlines(), str(users_file)))
        if users_env:
            return cls(mode="password", users=parse_users(re.split(r"[,\n]", users_env), "TASTEBUD_DEMO_USERS"))
        if trusted_header:
            return cls(mode="header", header=trusted_header)
        return cls()

    @property
    def signed_in(self) -> bool:
        """Whether the sign-in, not the page, decides the user."""
        return self.mode != "local"

    def check_password(self, name: str, password: str) -> bool:
        """Gradio's ``auth`` callable: the exact name (case and all) and its password."""
        stored = self.users.get(name)
        if stored is None:
            password_matches(password, _decoy())  # as slow as a known name: timing does not tell names apart
            return False
        return password_matches(password, stored)

    def user_from_header(self, request: Any) -> str | None:
        """Gradio's ``auth_dependency``: the name in the trusted header, or None (the request gets a 401)."""
        assert self.header is not None, "header mode only"
        value = request.headers.get(self.header)
        if value is None:
            return None
        try:
            # HTTP headers arrive decoded as Latin-1; a proxy sends a UTF-8 name as its bytes.
            return check_user_id(value.encode("latin-1").decode("utf-8").strip())
        except (UnicodeError, ValueError):
            return None

    def launch_options(self) -> dict[str, Any]:
        """The keyword arguments of ``gr.Blocks.launch`` that turn this sign-in on."""
        if self.mode == "password":
            return {"auth": self.check_password, "auth_message": "Sign in to Tastebud: your memory is yours alone."}
        if self.mode == "header":
            return {"auth_dependency": self.user_from_header}
        return {}
