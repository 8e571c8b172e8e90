"""The versioned evaluation set is present, well-formed and contains the hard cases."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

EVAL = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "memory_eval_v1.jsonl"


def test_eval_set_is_well_formed_with_hard_cases() -> None:
    lines = [json.loads(line) for line in EVAL.read_text().splitlines() if line.strip()]
    meta, records = lines[0], lines[1:]
    assert meta["task"] == "meta" and meta["version"] == "v1" and meta["utterances"] >= 500
    assert Counter(r["task"] for r in records) == Counter(meta["records"])
    assert {r["split"] for r in records} == {"dev", "test"}
    tags = Counter(t for r in records for t in r["tags"])
    for hard in (
        "negation",
        "scope",
        "paraphrase",
        "partial_name",
        "ambiguous_name",
        "unknown_entity",
        "one_off",
        "lift",
    ):
        assert tags[hard] >= 5, hard
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids))


def test_dev_request_reading_records_match_the_extractor(ml100k) -> None:  # type: ignore[no-untyped-def]
    """The dev records that carry gold request atoms (ordinary requests and feedback) are read as labelled."""
    from memory.instructions import PatternExtractor
    from memory.resolve import Resolver

    ex = PatternExtractor(Resolver(ml100k))
    records = [json.loads(line) for line in EVAL.read_text().splitlines()[1:] if line.strip()]
    reading = [r for r in records if "request_atoms" in r.get("gold", {})]
    assert len(reading) >= 10 and {r["split"] for r in reading} == {"dev"}
    for r in reading:
        ext = ex.extract(r["text"])
        got = [(p.scope.key if p.scope else None, {a.key for a in p.atoms}) for p in ext.proposals]
        want = [(i["scope"], {tuple(a) for a in i["atoms"]}) for i in r["gold"]["instructions"]]
        assert got == want, r["text"]
        assert {a.key for a in ext.request_atoms} == {tuple(a) for a in r["gold"]["request_atoms"]}, r["text"]
