"""The reward that ranks a model's sampled sentences for a plan (on-policy preference pairs).

It scores the reply the sentences would make (``agent.tuning.reply.assemble``), in [-3, 3]:

    total = grounded + coverage + style - refusal - repetition - nonsense   (each part in [0, 1])

What it catches:
- **grounded**: share of the model's sentences that ``agent.grounding.is_grounded`` keeps (no
  catalog title, genre, quotation or year outside the plan; no refusal or apology; three words
  at least). A sentence the agent would drop costs as much as the whole reply falling back.
- **coverage**: share of the plan's items whose title and reason, facts, question and options
  are in the reply. The agent renders those itself, so this is 1 for every sample today; it
  scores free-form replies and user rewrites (a rewrite that drops reasons covers less).
- **style**: the user's inferred style preferences in memory (``style:``, ``format:``, ``tone:``,
  ``content:`` keys at or above ``min_confidence``), each checked by the edit a user with that
  style would make (``agent.tuning.styles``): 1 when the reply needs none, less by the share of
  words that edit changes; weighted by confidence; 1 when memory holds no style preference.
  It knows only what memory inferred, never a simulated user's latent styles.
- **refusal**: the sentences refuse, apologise, or talk about being an AI.
- **repetition**: share of repeated word 3-grams, or a sentence said twice.
- **nonsense** (``agent.grounding.nonsense``, whose sentences the agent drops too; share of
  sentences failing one): a count of films that is not the plan's ("I found 3 films" for 5), the
  user cast as the finder ("you found 5 films for your movie"), the same word three times in a
  row, a token over 25 characters, mostly non-letters.

What it cannot catch: a false statement about a planned film (a wrong plot or cast), whether a
sentence is helpful, tone beyond the five styles, sarcasm or subtle nonsense, and preferences
memory has not inferred. A sentence cut by the token limit is ignored, as the agent drops it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from agent.grounding import is_grounded, nonsense
from agent.llm.plan import ReplyPlan
from agent.tuning.reply import assemble
from agent.tuning.styles import STYLES, Years, edit_cost
from memory.feedback import SnapshotPreference

_SENTENCE_END = re.compile(r"[.!?](?:\s|$)")
_REFUSAL = re.compile(
    r"\b(?:sorry|apolog\w*|as an ai|an ai\b|language model|i cannot|i can'?t|i'?m (?:not able|unable)|unable to"
    r"|i am not able|i don'?t have (?:access|the ability))\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, kw_only=True)
class RewardConfig:
    """Weights and thresholds of the reward.

    Attributes:
        grounded: Weight of the grounded share.
        coverage: Weight of plan coverage.
        style: Weight of the inferred style preferences.
        refusal: Weight of a refusal.
        repetition: Weight of repetition.
        nonsense: Weight of the cheap nonsense checks.
        min_confidence: Inferred style preferences below this confidence are not scored.
    """

    grounded: float = 1.0
    coverage: float = 1.0
    style: float = 1.0
    refusal: float = 1.0
    repetition: float = 1.0
    nonsense: float = 1.0
    min_confidence: float = 0.3

    def __post_init__(self) -> None:
        for name in ("grounded", "coverage", "style", "refusal", "repetition", "nonsense"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if not 0 <= self.min_confidence <= 1:
            raise ValueError("min_confidence must be in [0, 1]")


@dataclass(frozen=True)
class Score:
    """One reply's reward and its parts (each part in [0, 1])."""

    total: float
    grounded: float
    coverage: float
    style: float
    refusal: float
    repetition: float
    nonsense: float


def sentences(prose: str) -> list[str]:
    """The complete sentences of a model's text (a trailing fragment without an end mark is dropped)."""
    out, rest = [], prose
    while end := _SENTENCE_END.search(rest):
        sentence, rest = rest[: end.end()].strip(), rest[end.end() :]
        if sentence:
            out.append(sentence)
    return out


def coverage(text: str, plan: ReplyPlan) -> float:
    """Share of what the plan must say (items with reasons, facts, question, options) found in the text."""
    folded = text.casefold()
    needs = [i.title for i in plan.items] + [i.reason for i in plan.items if i.reason] + list(plan.facts)
    needs += [plan.question] if plan.question else []
    needs += list(plan.options)
    if not needs:
        return 1.0
    return sum(n.casefold() in folded for n in needs) / len(needs)


def style_score(text: str, prefs: Sequence[SnapshotPreference], years: Years, min_confidence: float) -> float:
    """How well a reply follows the inferred style preferences (1 when none are known)."""
    known = [p for p in prefs if p.key in STYLES and p.confidence >= min_confidence]
    if not known:
        return 1.0
    words = max(1, len(text.split()))
    parts = [max(0.0, 1 - edit_cost(text, STYLES[p.key].edit(text, years)) / words) for p in known]
    weights = [p.confidence for p in known]
    return sum(w * s for w, s in zip(weights, parts, strict=True)) / sum(weights)


def repetition(said: Sequence[str]) -> float:
    """Share of repeated word 3-grams; 1 when a sentence is said twice."""
    if len({s.casefold() for s in said}) < len(said):
        return 1.0
    words = " ".join(said).casefold().split()
    grams = [tuple(words[i : i + 3]) for i in range(len(words) - 2)]
    return 1 - len(set(grams)) / len(grams) if grams else 0.0


class Reward:
    """Scores a model's text for a plan and a user's inferred style preferences.

    Args:
        titles: Catalog titles (``agent.grounding.title_pattern``).
        genres: Catalog genres (``agent.grounding.genre_pattern``), or None.
        config: Weights.
    """

    def __init__(self, titles: re.Pattern[str], genres: re.Pattern[str] | None, config: RewardConfig | None = None):
        self.titles = titles
        self.genres = genres
        self.config = config or RewardConfig()

    def score(self, prose: str, plan: ReplyPlan, prefs: Sequence[SnapshotPreference] = ()) -> Score:
        """The reward of the reply that ``prose`` (the model's text) makes for ``plan``."""
        cfg = self.config
        said = sentences(prose)
        text = assemble(" ".join(said), plan)
        years = {i.title: i.year for i in plan.items if i.year}
        parts = {
            "grounded": sum(is_grounded(s, plan, self.titles, self.genres) for s in said) / len(said) if said else 0.0,
            "coverage": coverage(text, plan),
            "style": style_score(text, prefs, years, cfg.min_confidence),
            "refusal": float(any(_REFUSAL.search(s) for s in said)),
            "repetition": repetition(said),
            "nonsense": sum(nonsense(s, plan) for s in said) / len(said) if said else 0.0,
        }
        total = (
            cfg.grounded * parts["grounded"]
            + cfg.coverage * parts["coverage"]
            + cfg.style * parts["style"]
            - cfg.refusal * parts["refusal"]
            - cfg.repetition * parts["repetition"]
            - cfg.nonsense * parts["nonsense"]
        )
        return Score(total=total, **parts)
