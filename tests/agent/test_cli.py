"""The tastebud command line: --json puts one JSON object on the last line; errors exit 2 with a message."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from agent.cli import main


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


def test_console_script_and_module_entry_points() -> None:
    result = subprocess.run([sys.executable, "-m", "agent", "--help"], capture_output=True, text=True, check=True)
    assert "tastebud" in result.stdout and "search" in result.stdout
