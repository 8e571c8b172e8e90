"""Demo sign-in: the users file, password hashes, the trusted header, and where local mode may listen."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from demo.accounts import Accounts, hash_password, parse_users, password_matches
from demo.config import DemoConfig, is_loopback


def test_users_file_plain_and_hashed(tmp_path: Path) -> None:
    path = tmp_path / "users.txt"
    path.write_text(f"# demo accounts\n\nalice:open sesame\nbob:{hash_password('b:ob')}\ncarl:a:b:c\n", "utf-8")
    accounts = Accounts.from_sources(users_file=path)
    assert accounts.mode == "password" and list(accounts.users) == ["alice", "bob", "carl"]
    assert accounts.check_password("alice", "open sesame")
    assert accounts.check_password("bob", "b:ob") and not accounts.check_password("bob", "b:o")
    assert accounts.check_password("carl", "a:b:c")  # a password may hold colons
    assert not accounts.check_password("Alice", "open sesame")  # exact names: "ALICE " is nobody
    assert not accounts.check_password("nobody", "open sesame")
    assert not accounts.check_password("alice", "\ud800")


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["alice"], "entry 1: expected name:password"),
        (["alice:"], "expected name:password"),
        (["ok:1", "bob :x"], "entry 2: a name cannot start or end"),
        (["a\x1fb:x"], "invalid user_id"),
        (["alice:1", "alice:2"], "appears twice"),
        (["# only a comment", ""], "no accounts"),
    ],
)
def test_bad_users_files_name_the_entry(lines: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message) as err:
        parse_users(lines, "users.txt")
    assert str(err.value).startswith("users.txt")


def test_hashes_are_salted_and_checked() -> None:
    one, two = hash_password("pw"), hash_password("pw")
    assert one != two and one.startswith("scrypt$")
    assert password_matches("pw", one) and password_matches("pw", two) and not password_matches("pw2", one)
    assert password_matches(one, one) is False  # a hash is not its own password


def test_env_entries_and_one_source_only(tmp_path: Path) -> None:
    accounts = Accounts.from_sources(users_env="alice:1, bob:2\ncarol:3")
    assert dict(accounts.users) == {"alice": "1", "bob": "2", "carol": "3"}
    users = tmp_path / "u.txt"
    users.write_text("x:y\n")
    with pytest.raises(ValueError, match="choose one way to sign in"):
        Accounts.from_sources(users_file=users, trusted_header="X-Forwarded-User")
    assert Accounts.from_sources().mode == "local" and not Accounts().signed_in
    with pytest.raises(TypeError):
        accounts.users["eve"] = "x"  # type: ignore[index]


def test_trusted_header() -> None:
    accounts = Accounts.from_sources(trusted_header="X-Forwarded-User")
    assert accounts.mode == "header" and "auth_dependency" in accounts.launch_options()

    def asking(headers: dict[str, str]) -> str | None:
        return accounts.user_from_header(SimpleNamespace(headers=headers))

    assert asking({"X-Forwarded-User": " alice "}) == "alice"
    assert asking({"X-Forwarded-User": "j\u00f6rg".encode().decode("latin-1")}) == "j\u00f6rg"  # UTF-8 bytes
    assert asking({}) is None and asking({"X-Forwarded-User": ""}) is None
    assert asking({"X-Forwarded-User": "a\x1fb"}) is None
    with pytest.raises(ValueError, match="invalid header name"):
        Accounts(mode="header", header="X User")


def test_local_mode_listens_on_this_machine_only() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.org")
    with pytest.raises(ValueError, match="--allow-anyone"):
        DemoConfig(host="0.0.0.0")
    assert DemoConfig(host="0.0.0.0", allow_anyone=True).host == "0.0.0.0"
    signed = Accounts(mode="password", users={"a": "b"})
    assert DemoConfig(host="0.0.0.0", accounts=signed).accounts is signed


def test_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASTEBUD_DEMO_USERS", "alice:1")
    monkeypatch.setenv("TASTEBUD_DEMO_RATE_LIMIT", "5/30")
    config = DemoConfig.from_env(port=8000)
    assert config.accounts.mode == "password" and config.rate_limit.turns == 5 and config.port == 8000
    assert DemoConfig.from_env(rate_limit="7/10").rate_limit.per_s == 10  # the argument wins
    monkeypatch.delenv("TASTEBUD_DEMO_USERS")
    monkeypatch.setenv("TASTEBUD_DEMO_TRUSTED_HEADER", "X-Auth-User")
    assert DemoConfig.from_env().accounts.header == "X-Auth-User"


def test_demo_password_command_prints_a_users_file_line(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from tastebud.cli import main

    monkeypatch.setattr("getpass.getpass", lambda prompt="": "s3cret: with colon")  # typed twice, the same
    assert main(["demo-password", "alice", "--json"]) == 0
    line = json.loads(capsys.readouterr().out.splitlines()[-1])["line"]
    accounts = Accounts(mode="password", users=parse_users([line], "printed"))
    assert accounts.check_password("alice", "s3cret: with colon") and "s3cret" not in line
