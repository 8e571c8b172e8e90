"""Inferred preferences, CIPHER-style: infer a short preference from feedback, critiques and edits; retrieve by context.

Each inferred preference is stored with the context it arose in (the request
text) and that context's embedding. For a new request the k nearest past
contexts are retrieved and their preferences aggregated, weighted by
similarity and confidence. Confidence rises with reinforcement and falls with
time (half-life) and contradiction (same axis, opposite direction).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from memory.resolve import Resolver
from memory.schema import InferredPreference

Complete = Callable[[str], str]


@dataclass(frozen=True, kw_only=True)
class PreferenceConfig:
    """How preferences are learned and aged.

    Attributes:
        half_life_days: Confidence halves after this long without reinforcement.
        k: Nearest past contexts retrieved per request.
        reinforce: Fraction of the remaining gap to 1 added on reinforcement.
        contradict: Factor applied to a contradicted preference's confidence.
        same_context: Cosine above which a new inference reinforces an existing row
            instead of adding one.
        min_similarity: Contexts less similar than this to the request are ignored.
    """

    half_life_days: float = 60.0
    k: int = 8
    reinforce: float = 0.3
    contradict: float = 0.5
    same_context: float = 0.8
    min_similarity: float = 0.2

    def __post_init__(self) -> None:
        assert self.half_life_days > 0, "half_life_days must be positive"
        assert self.k > 0, "k must be positive"
        assert 0 < self.reinforce < 1 and 0 < self.contradict < 1, "reinforce/contradict must be in (0, 1)"


@dataclass(frozen=True)
class Inference:
    """One preference inferred from one signal (before storage).

    Attributes:
        key: ``axis:direction`` (``year:newer``, ``genre:Comedy:+``, ``style:concise``).
        text: Short natural-language preference.
        effect: Structured effect for boosts (``{"genre:Comedy": 1.0}``, ``{"year": 1.0}``).
        confidence: Initial confidence.
    """

    key: str
    text: str
    effect: dict[str, float]
    confidence: float


# critique pattern -> (key, text, effect)
CRITIQUES: tuple[tuple[str, str, str, dict[str, float]], ...] = (
    (r"too long|shorter|less long|not so long|runs? too long|drags?", "length:shorter", "prefers shorter films", {}),
    (r"too short|longer|more epic", "length:longer", "prefers longer films", {}),
    (
        r"too (?:violent|gory|bloody|brutal)|less (?:violen\w*|gor\w*|blood\w*)|too much (?:violence|gore|blood)",
        "violence:less",
        "prefers less violent films",
        {"genre:Horror": -0.6, "genre:War": -0.4, "genre:Crime": -0.3, "genre:Action": -0.2},
    ),
    (r"more (?:action|violence)|too tame|more exciting", "violence:more", "prefers more action", {"genre:Action": 0.5}),
    (
        r"newer|more recent|too old|something recent|less old|more modern|dated",
        "year:newer",
        "prefers newer films",
        {"year": 1.0},
    ),
    (r"older|too new|more classic|a classic|vintage", "year:older", "prefers older films", {"year": -1.0}),
    (
        r"too (?:dark|depressing|sad|heavy|bleak)|lighter|more upbeat|happier|feel[- ]good|cheerful",
        "mood:lighter",
        "prefers lighter, upbeat films",
        {"genre:Comedy": 0.4, "genre:Drama": -0.2, "genre:Film-Noir": -0.3},
    ),
    (
        r"too (?:silly|light|shallow|fluffy)|more serious|deeper|more thoughtful",
        "mood:serious",
        "prefers serious, thoughtful films",
        {"genre:Drama": 0.4, "genre:Comedy": -0.2},
    ),
    (
        r"too scary|less scary|not so scary",
        "scary:less",
        "prefers less scary films",
        {"genre:Horror": -0.8, "genre:Thriller": -0.3},
    ),
    (
        r"scarier|more scary|creepier",
        "scary:more",
        "prefers scarier films",
        {"genre:Horror": 0.6, "genre:Thriller": 0.3},
    ),
    (r"funnier|more funny|more humou?r|more laughs", "humour:more", "prefers funnier films", {"genre:Comedy": 0.6}),
    (
        r"too slow|boring|faster|more pace|too talky",
        "pace:faster",
        "prefers faster-paced films",
        {"genre:Action": 0.3, "genre:Thriller": 0.3},
    ),
    (
        r"too (?:mainstream|popular|obvious)|more obscure|hidden gems?|less known",
        "popularity:niche",
        "prefers lesser-known films",
        {"popularity": -1.0},
    ),
    (
        r"too obscure|more popular|better known|mainstream",
        "popularity:mainstream",
        "prefers well-known films",
        {"popularity": 1.0},
    ),
)
_CRITIQUES = [(re.compile(rf"\b(?:{p})\b"), k, t, e) for p, k, t, e in CRITIQUES]
_MORE_LESS = re.compile(
    r"\b(more|less|fewer|no more|not so many|too many|too much)\s+(.{2,30}?)(?:$|[,.!?]| please| and)"
)
_BULLET = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s+", re.M)
_DASH = re.compile(r"^\s*[-*\u2022]\s+", re.M)  # a numbered list rewritten with dashes is still a bullet edit
_EMOJI = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf]")
_YEAR = re.compile(r"\b(?:18|19|20)\d\d\b")
PLOT = re.compile(
    r"\b(?:plot|story (?:of|about)|tells the story|is about|it follows|follows (?:a|an|the)|ending|ends (?:with|when)"
    r"|turns out|twist|spoiler|dies|killer is|in the end)\b",
    re.IGNORECASE,
)
"""Words that give away what happens in a film (a user who never wants the plot deletes them)."""

INFER_FROM_EDIT_PROMPT = """A movie recommender wrote a message and the user edited it before accepting.
Infer the user's latent preference that explains the edit, in at most 12 words, starting with "prefers".
Reply with that one line only.

Agent's message:
{original}

User's edit:
{edited}
"""


def axis(key: str) -> str:
    """The axis of a key: ``year:newer`` -> ``year``; ``genre:Comedy:+`` -> ``genre:Comedy``."""
    return key.rsplit(":", 1)[0]


# Axes whose keys are separate wishes, not directions: "mention each film's year" and "never reveal
# the plot" (``content:year``, ``content:no-plot``) hold together.
_SEPARATE_WISHES = frozenset({"content"})


def contradicts(a: str, b: str) -> bool:
    """Two keys on the same axis with different directions (``year:newer`` and ``year:older``)."""
    return a != b and axis(a) == axis(b) and ":" in a and ":" in b and axis(a) not in _SEPARATE_WISHES


def infer_from_critique(text: str, resolver: Resolver) -> list[Inference]:
    """Preferences in a critique ("too long", "less violent", "something newer", "more comedy")."""
    folded = text.casefold()
    found = [Inference(k, t, dict(e), 0.5) for pattern, k, t, e in _CRITIQUES if pattern.search(folded)]
    keys = {f.key for f in found}
    for m in _MORE_LESS.finditer(folded):
        genre = resolver.genre(m.group(2))
        if genre is None:
            continue
        sign = "+" if m.group(1) == "more" else "-"
        key = f"genre:{genre}:{sign}"
        if key not in keys:
            verb = "wants more" if sign == "+" else "wants less"
            found.append(Inference(key, f"{verb} {genre}", {f"genre:{genre}": 1.0 if sign == "+" else -1.0}, 0.5))
    return found


def infer_from_item(kind: str, genres: tuple[str, ...], title: str) -> list[Inference]:
    """Preferences behind accepting/liking or rejecting/disliking an item (one per genre)."""
    positive = kind in ("accept", "like")
    strength = 0.35 if kind in ("like", "dislike") else 0.25
    out = []
    for g in genres:
        key = f"genre:{g}:{'+' if positive else '-'}"
        text = f"enjoys {g} films" if positive else f"is not keen on {g} films"
        out.append(Inference(key, text, {f"genre:{g}": 1.0 if positive else -1.0}, strength))
    return out


def infer_from_edit(original: str, edited: str, complete: Complete | None = None) -> list[Inference]:
    """Preferences behind a user's edit of the agent's text (CIPHER).

    With ``complete`` the LLM states the preference; otherwise rules compare
    length, bullets, emoji and exclamation marks, years named and plot words (``PLOT``).
    """
    if complete is not None:
        try:
            line = complete(INFER_FROM_EDIT_PROMPT.format(original=original[:2000], edited=edited[:2000]))
            line = line.strip().splitlines()[0].strip(" .\"'")[:120] if line.strip() else ""
        except Exception:  # noqa: BLE001 - a failing backend falls back to rules
            line = ""
        if line.casefold().startswith("prefers"):
            key = "llm:" + re.sub(r"[^a-z0-9]+", "-", line.casefold())[:60]
            return [Inference(key, line, {}, 0.5)]
    out: list[Inference] = []
    lo, le = len(original.strip()), len(edited.strip())
    if lo and le < 0.7 * lo:
        out.append(Inference("style:concise", "prefers short, concise answers", {}, 0.5))
    elif lo and le > 1.3 * lo:
        out.append(Inference("style:detailed", "prefers detailed answers", {}, 0.5))
    bo, be = len(_BULLET.findall(original)), len(_BULLET.findall(edited))
    if be > bo or len(_DASH.findall(edited)) > len(_DASH.findall(original)):
        out.append(Inference("format:bullets", "prefers recommendations as a bulleted list", {}, 0.5))
    elif bo > be == 0:
        out.append(Inference("format:prose", "prefers recommendations as prose, not lists", {}, 0.5))
    if (_EMOJI.search(original) and not _EMOJI.search(edited)) or original.count("!") > edited.count("!"):
        out.append(Inference("tone:plain", "prefers a calm tone without emoji or exclamation marks", {}, 0.5))
    if len(_YEAR.findall(edited)) > len(_YEAR.findall(original)):
        out.append(Inference("content:year", "prefers the year of each film mentioned", {}, 0.5))
    if len(PLOT.findall(edited)) < len(PLOT.findall(original)):
        out.append(Inference("content:no-plot", "prefers no plot details", {}, 0.5))
    return out


def effective_confidence(pref: InferredPreference, now: datetime, config: PreferenceConfig) -> float:
    """Confidence after time decay since the last reinforcement."""
    age_days = max(0.0, (now - pref.updated_at).total_seconds() / 86400.0)
    return pref.confidence * 0.5 ** (age_days / config.half_life_days)


def aggregate(
    prefs: list[InferredPreference],
    nearest: list[tuple[str, float]],
    now: datetime,
    config: PreferenceConfig,
) -> list[tuple[InferredPreference, float]]:
    """What applies now: preferences of the nearest contexts, merged by key.

    Args:
        prefs: All of the user's preferences.
        nearest: (preference id, cosine of its context to the request), best first.
        now: Current time (for decay).
        config: Settings.

    Returns:
        (representative preference, weight) per key, strongest first; of two
        contradicting keys only the stronger is kept.
    """
    by_id = {p.id: p for p in prefs}
    totals: dict[str, float] = {}
    best: dict[str, tuple[InferredPreference, float]] = {}
    for pid, sim in nearest:
        pref = by_id.get(pid)
        if pref is None or sim < config.min_similarity:
            continue
        w = sim * effective_confidence(pref, now, config)
        totals[pref.key] = totals.get(pref.key, 0.0) + w
        if pref.key not in best or w > best[pref.key][1]:
            best[pref.key] = (pref, w)
    out: list[tuple[InferredPreference, float]] = []
    for key, total in sorted(totals.items(), key=lambda kv: -kv[1]):
        if any(contradicts(key, k) and totals[k] > total for k in totals):
            continue
        out.append((best[key][0], total))
    return out
