"""``benchmarks/understanding.py``'s report when sections were skipped (the documented development run).

``--skip messages replay`` runs the statements alone; the report must still be written, with a
dash for the figures that were not measured and no latency plot.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.understanding import report


def test_report_with_statements_only_writes_markdown_without_a_plot(tmp_path: Path) -> None:
    statements = {
        "in_catalog_lasting_stored_right": 0.842,
        "compiled_rule_violations": 0,
        "stated_rule_violations": 3,
        "out_of_domain_answered_and_nothing_stored": 0.933,
        "none_with_lasting_stored": 0.143,
    }
    result = {
        "git_sha": "0123456789abcdef",
        "machine": "x86_64, 3.11",
        "config": {"part": "measure", "statements": "data/understanding/statements_dev.jsonl"},
        "argv": ["--skip", "messages", "replay"],
        "readers": {"learned": {"statements": statements}},
    }
    report(result, tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert "| statements: in-catalog lasting stored right | 0.842 |" in md
    assert "| intent accuracy | - |" in md
    assert "statements_dev.jsonl" in md
    assert not (tmp_path / "latency.png").exists()
