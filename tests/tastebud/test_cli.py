"""The tastebud command line: --json puts one JSON object on the last line; errors exit 2 with a message;
help is fast and complete; dependencies point one way (the command line above the packages it wires)."""

from __future__ import annotations

import argparse
import ast
import importlib
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tastebud.cli import _command_words, build_parser, main

REPO = Path(__file__).resolve().parents[2]


def last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def test_data_info_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "info", "--json"]) == 0
    info = last_json(capsys.readouterr().out)
    assert (info["users"], info["items"], info["interactions"]) == (943, 1682, 100_000)
    assert info["kg_triples"] == 91_631 and info["kg_relation_types"] == 24
    assert "film.film.directed_by" in info["kg_relations"]


def test_search_prints_titles_with_scores(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "space adventure with robots", "-k", "5"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 5
    for line in lines:
        score, title = line.split(maxsplit=1)
        assert 0 < float(score) <= 1 and title
    assert main(["search", "a ghost story", "-k", "3", "--exclude-genre", "Horror", "--json"]) == 0
    hits = last_json(capsys.readouterr().out)["hits"]
    assert len(hits) == 3 and all("Horror" not in h["genres"] for h in hits)


def test_assets_info_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["assets", "info", "--json"]) == 0
    info = last_json(capsys.readouterr().out)
    assert {a["name"] for a in info["assets"]} == {"ml-100k", "smollm2", "minilm"}


def test_assets_fetch_builds_the_search_index_the_first_chat_needs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["assets", "fetch", "ml-100k", "minilm", "--json"]) == 0
    index = Path(last_json(capsys.readouterr().out)["index"])
    assert index.name.startswith("ml-100k-") and (index / "index.faiss").is_file()
    assert main(["assets", "fetch", "ml-100k", "--no-index", "--json"]) == 0
    assert last_json(capsys.readouterr().out)["index"] is None


def test_llm_template(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["llm", "hello", "--backend", "template", "--json"]) == 0
    assert last_json(capsys.readouterr().out)["backend"] == "template"


def test_errors_exit_2_with_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "items.jsonl").write_text('{"id": "1", "title": "A"}\n{"id": "2"}\n')
    assert main(["data", "info", "--dataset", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "items.jsonl, line 2, field 'title'" in err
    assert main(["search", " ", "-k", "2"]) == 2
    assert "empty query" in capsys.readouterr().err


def test_module_entry_point_and_console_script_target() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tastebud", "--help"], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert "tastebud" in result.stdout and "search" in result.stdout
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, function = scripts["tastebud"].partition(":")
    assert getattr(importlib.import_module(module), function) is main


def _options_without_help(parser: argparse.ArgumentParser, path: str) -> list[str]:
    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                missing += _options_without_help(sub, f"{path} {name}")
        elif not isinstance(action, argparse._HelpAction) and not action.help:
            missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    return missing


def test_every_option_of_every_command_has_help() -> None:
    assert _options_without_help(build_parser(), "tastebud") == []


def _leaf_commands(parser: argparse.ArgumentParser, path: str) -> dict[str, argparse.ArgumentParser]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return {path: parser}
    return {k: v for name, sub in subs[0].choices.items() for k, v in _leaf_commands(sub, f"{path} {name}").items()}


def test_every_command_but_demo_takes_json() -> None:
    # The README's promise: every command accepts --json and then prints one JSON object last.
    leaves = _leaf_commands(build_parser(), "tastebud")
    without = [path for path, p in leaves.items() if "--json" not in p._option_string_actions]
    assert without == ["tastebud demo"]


HELP_SCRIPT = """
import sys
from tastebud.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = sorted(m for m in ("torch", "transformers", "gradio", "faiss", "ray") if m in sys.modules)
print("heavy:", ",".join(heavy))
"""


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["simulate", "--help"],
        ["train", "policy", "--help"],
        ["train", "seqrec", "--help"],
        ["train", "understanding", "--help"],
        ["tune", "data", "--help"],
        ["tune", "llm", "--help"],
        ["chat", "--help"],
        ["demo", "--help"],
    ],
)
def test_help_imports_no_heavy_module(argv: list[str]) -> None:
    # The timing (under 1 s warm) follows from this: torch alone takes seconds to import.
    result = subprocess.run(
        [sys.executable, "-c", HELP_SCRIPT, *argv], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert "usage: tastebud" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "heavy:"


def test_only_the_chosen_command_reads_its_module() -> None:
    assert _command_words(["--cache-dir", "train", "train", "seqrec", "--json"]) == ("train", "seqrec")
    assert _command_words(["-v", "simulate", "--dataset", "x"]) == ("simulate", "x")
    parser = build_parser(["simulate", "--help"])
    (sub,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert "--policy" in sub.choices["simulate"].format_help()
    (train,) = (a for a in sub.choices["train"]._actions if isinstance(a, argparse._SubParsersAction))
    assert "--epochs" not in train.choices["seqrec"].format_help()


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("agent", {"demo", "tastebud"}),
        ("recsys", {"agent", "demo", "tastebud"}),
        ("memory", {"agent", "demo", "tastebud"}),
        ("demo", {"tastebud"}),
    ],
)
def test_dependencies_point_one_way(package: str, forbidden: set[str]) -> None:
    # Every import statement counts, also those inside functions: that is how agent/cli.py reached demo/.
    offenders = {
        str(path.relative_to(REPO)): sorted(_imports(path) & forbidden) for path in (REPO / package).rglob("*.py")
    }
    assert {path: names for path, names in offenders.items() if names} == {}
