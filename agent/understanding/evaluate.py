"""How well messages are understood, scored against labels and expected outcomes.

Pure functions over ``Turn`` s, labels and memory contents, used by ``benchmarks/understanding.py``
and tested on hand-made cases. Nothing here reads data files.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from agent.turn import Turn
from memory.constraints import year_range
from memory.schema import InferredPreference, StandingInstruction

POSITIVE_OPS = frozenset({"only", "prefer"})
NEGATIVE_OPS = frozenset({"exclude", "avoid"})
PATTERN_INTENTS = {"like": "feedback", "dislike": "feedback"}
"""The pattern baseline's intents in the learned vocabulary (it reads film opinions as like/dislike)."""


def stances(turn: Turn) -> dict[str, int]:
    """Genre -> +1 (wanted) / -1 (ruled out) as a turn reads them: request atoms, soft weights and what lasts."""
    out: dict[str, int] = {}
    atoms = list(turn.atoms) + [a for r in turn.remember for a in r.atoms]
    for a in atoms:
        if a.field == "genre" and (a.op in POSITIVE_OPS or a.op in NEGATIVE_OPS):
            out[a.value] = 1 if a.op in POSITIVE_OPS else -1
    for genre, w in turn.genre_weights.items():
        out.setdefault(genre, 1 if w > 0 else -1)
    for genre in turn.mood_genres:
        out.setdefault(genre, 1)
    return out


def lasting(turn: Turn) -> bool:
    """Whether the turn would store something lasting (a rule or a preference)."""
    return bool(turn.remember) or turn.intent == "instruction" or turn.standing


def unknown_title_matches(
    text: str, names: Iterable[str], gold: Iterable[tuple[int, int]]
) -> tuple[set[object], set[object]]:
    """Predicted and gold keys for ``Counts.add``: a reported name counts as found when, located in the
    text, it overlaps a gold span of a title outside the catalog; each gold span is found once."""
    spans = list(gold)
    predicted: set[object] = set()
    for name in names:
        start = text.find(name)
        hit = next((k for k, (s, e) in enumerate(spans) if start >= 0 and start < e and s < start + len(name)), None)
        predicted.add(hit if hit is not None else ("false", name))
    return predicted, set(range(len(spans)))


@dataclass
class Counts:
    """True/false positives and negatives, with precision, recall and F1."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, predicted: Iterable[object], gold: Iterable[object]) -> None:
        """Count one message's predicted and gold sets."""
        p, g = set(predicted), set(gold)
        self.tp += len(p & g)
        self.fp += len(p - g)
        self.fn += len(g - p)

    @property
    def precision(self) -> float:
        """TP / (TP + FP); 1.0 with no predictions."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        """TP / (TP + FN); 1.0 with nothing to find."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, float]:
        """JSON-ready figures."""
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
        }


# ---- the frozen statement set -----------------------------------------------------------------
@dataclass(frozen=True)
class Stored:
    """A user's memory after a statement: live instructions, inferred preferences, feedback."""

    instructions: list[StandingInstruction]
    preferences: list[InferredPreference]
    liked: set[str] = field(default_factory=set)
    disliked: set[str] = field(default_factory=set)

    @property
    def empty(self) -> bool:
        """Nothing at all was stored."""
        return not (self.instructions or self.preferences or self.liked or self.disliked)


def _year_hits(value: str, ops: set[str], stored: Stored, positive: bool, scope: str | None) -> bool:
    """A decade or year bound stored with this polarity and scope."""
    lo, hi = year_range(value)
    for si in stored.instructions:
        if si.scope_key != (scope or ""):
            continue
        mins = [int(a.value) for a in si.atoms if a.op == "year_min"]
        maxs = [int(a.value) for a in si.atoms if a.op == "year_max"]
        for a in si.atoms:
            if a.field != "year":
                continue
            if positive and a.op == "prefer" and a.value not in ("older", "newer"):
                a_lo, a_hi = year_range(a.value)
                if (lo is None or (a_lo is not None and abs(a_lo - lo) <= 1)) and (
                    hi is None or (a_hi is not None and abs(a_hi - hi) <= 1)
                ):
                    return True
            if not positive and a.op in ("exclude_years", "avoid") and a.value not in ("older", "newer"):
                a_lo, a_hi = year_range(a.value)
                if a_lo == lo and a_hi == hi:
                    return True
        if positive and "bounds" in ops:
            ok_lo = lo is None or any(abs(m - lo) <= 1 for m in mins)
            ok_hi = hi is None or any(abs(m - hi) <= 1 for m in maxs)
            if ok_lo and ok_hi and (mins or maxs):
                return True
    if scope is None:
        sign = "+" if positive else "-"
        for p in stored.preferences:
            if p.key.startswith("years:") and p.key.endswith(sign):
                p_lo, p_hi = year_range(p.key.split(":")[1])
                if (lo is None or p_lo == lo) and (hi is None or p_hi == hi):
                    return True
    return False


def target_stored(
    target: dict, positive: bool, scope: str | None, stored: Stored, catalog_titles: dict[str, str]
) -> bool:
    """Whether one expected target is in memory with the expected polarity and scope."""
    kind, value = target["type"], str(target["value"])
    ops = POSITIVE_OPS if positive else NEGATIVE_OPS
    if kind == "genre":
        if any(
            si.scope_key == (scope or "")
            and any(a.field == "genre" and a.value == value and a.op in ops for a in si.atoms)
            for si in stored.instructions
        ):
            return True
        return scope is None and any(p.key == f"genre:{value}:{'+' if positive else '-'}" for p in stored.preferences)
    if kind == "era" and value in ("older", "newer"):
        direction = value if positive else ("newer" if value == "older" else "older")
        for si in stored.instructions:
            if si.scope_key != (scope or ""):
                continue
            for a in si.atoms:
                if a.field == "year" and a.op == "prefer" and a.value == direction:
                    return True
                if a.field == "year" and a.op == "avoid" and a.value != direction and a.value in ("older", "newer"):
                    return True
                if a.op == ("year_max" if direction == "older" else "year_min"):
                    return True
        return scope is None and any(p.key == f"year:{direction}" for p in stored.preferences)
    if kind == "era":  # a decade, "1980s"
        start = int(value[:4])
        return _year_hits(f"{start}-{start + 9}", {"bounds"}, stored, positive, scope)
    if kind in ("year_min", "year_max"):
        span = f"{value}-" if kind == "year_min" else f"-{value}"
        return _year_hits(span, {"bounds"}, stored, positive, scope)
    if kind == "title":
        wanted = {i for i, t in catalog_titles.items() if t.casefold() == value.casefold()}
        if positive and wanted & stored.liked:
            return True
        if not positive and wanted & stored.disliked:
            return True
        return any(
            si.scope_key == (scope or "")
            and any(a.field == "item" and a.value in wanted and a.op in ops for a in si.atoms)
            for si in stored.instructions
        )
    return False


def statement_stored(expect: dict, stored: Stored, catalog_titles: dict[str, str]) -> bool:
    """Every target of an expected lasting preference stored with its polarity (per target if given) and scope."""
    targets = expect["targets"]
    if not targets:
        return False
    return all(
        target_stored(
            t,
            (t.get("polarity") or expect["polarity"]) == "positive",
            expect.get("scope"),
            stored,
            catalog_titles,
        )
        for t in targets
    )
