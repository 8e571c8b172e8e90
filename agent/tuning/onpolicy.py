"""On-policy preference pairs: sample the current model for logged contexts, rank the samples by the reward.

For each distinct (user, plan) in the feedback log whose plan the model writes for, the model
answers the CIPHER prompt (``agent.tuning.data.prompt_messages``) ``samples`` times at a
temperature; the best and the worst sample by ``Reward`` become a pair when their rewards
differ by at least ``min_margin``. Sampling, labelling and tuning again is the on-policy loop;
this module is its sampling and labelling step.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from agent.llm.base import ChatBackend, GenerationConfig
from agent.llm.plan import ReplyPlan
from agent.tuning.data import Row, prompt_messages
from agent.tuning.reply import writes_prose
from agent.tuning.reward import Reward, Score, sentences
from memory.feedback import FeedbackEntry


@dataclass(frozen=True, kw_only=True)
class SamplingConfig:
    """How on-policy samples are drawn and paired.

    Attributes:
        samples: Samples per context (at least 2).
        temperature: Sampling temperature (> 0).
        max_new_tokens: Token budget per sample (the agent's default is 32).
        min_margin: Smallest reward difference that makes a pair.
        max_contexts: Most contexts sampled (the newest first); None for all.
        seed: Sample ``j`` of a context uses seed ``seed + j``.
    """

    samples: int = 4
    temperature: float = 1.0
    max_new_tokens: int = 32
    min_margin: float = 0.25
    max_contexts: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.samples < 2:
            raise ValueError("samples must be >= 2: a pair needs two")
        if self.temperature <= 0:
            raise ValueError("temperature must be > 0 for sampling")
        if self.min_margin < 0:
            raise ValueError("min_margin must be >= 0")


def contexts(entries: Iterable[tuple[str, FeedbackEntry]], limit: int | None = None) -> list[tuple[str, FeedbackEntry]]:
    """Distinct (user, plan) contexts of logged entries the model writes for, newest first."""
    seen: set[tuple[str, str]] = set()
    out = []
    for user, entry in reversed(list(entries)):
        if not entry.plan or not writes_prose(ReplyPlan.model_validate(entry.plan)):
            continue
        key = (user, ReplyPlan.model_validate(entry.plan).model_dump_json())
        if key not in seen:
            seen.add(key)
            out.append((user, entry))
    return out[:limit] if limit is not None else out


def sample_pairs(
    backend: ChatBackend, entries: Iterable[tuple[str, FeedbackEntry]], reward: Reward, config: SamplingConfig
) -> tuple[list[Row], list[dict[str, Any]]]:
    """Pairs from ranked samples, and every sample's score (for the reward's distribution).

    Returns:
        (pair rows in TRL's conversational format, one record per sample).
    """
    rows: list[Row] = []
    scored: list[dict[str, Any]] = []
    for user, entry in contexts(entries, config.max_contexts):
        plan = ReplyPlan.model_validate(entry.plan)
        messages = prompt_messages(plan, entry.memory)
        prefs = entry.memory.style()
        drawn: list[tuple[str, Score]] = []
        for j in range(config.samples):
            generation = GenerationConfig(
                max_new_tokens=config.max_new_tokens, temperature=config.temperature, seed=config.seed + j
            )
            prose = " ".join(sentences(backend.generate(messages, generation)))
            score = reward.score(prose, plan, prefs)
            drawn.append((prose, score))
            scored.append({"user_id": user, "turn": entry.turn, "sample": j, "text": prose, **score.__dict__})
        best = max(drawn, key=lambda d: d[1].total)
        worst = min(drawn, key=lambda d: d[1].total)
        if best[0] and best[0] != worst[0] and best[1].total - worst[1].total >= config.min_margin:
            rows.append(
                {
                    "prompt": [m.model_dump() for m in messages],
                    "chosen": [{"role": "assistant", "content": best[0]}],
                    "rejected": [{"role": "assistant", "content": worst[0]}],
                    "user_id": user,
                    "thread_id": entry.thread_id,
                    "turn": entry.turn,
                    "source": "on-policy",
                    "margin": round(best[1].total - worst[1].total, 4),
                }
            )
    return rows, scored
