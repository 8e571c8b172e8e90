"""Preference datasets from the feedback log, in TRL's conversational formats.

- **pairs** (DPO, IPO, robust DPO): ``{"prompt": [...], "chosen": [...], "rejected": [...]}``;
  from edits (the user's rewrite of the model's sentences preferred to the original) and from
  on-policy samples ranked by the reward (``agent.tuning.onpolicy``).
- **unpaired** (KTO, BCO): ``{"prompt": [...], "completion": [...], "label": bool}``; an edit gives
  the original (False) and the rewrite (True); an accepted or liked reply that was not edited
  gives that reply (True).
- **lists** (S-DPO for the recommender): the accepted item preferred to the items shown in the
  same conversation and rejected, with the user's liked history at that moment.

The prompt is the agent's own (``plan_messages``), CIPHER-style: the user's inferred style
preferences (from the memory snapshot of the entry) as a system message, then the writing task
for the plan, so one tuned model serves every user. Completions are the model's sentences only (``agent.tuning.reply``): the
list, the options and the facts are rendered by the agent and never tuned.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.llm.base import ChatMessage, plan_messages, style_note
from agent.llm.plan import ReplyPlan
from agent.tuning.reply import model_part, writes_prose
from memory.feedback import MIN_STYLE_CONFIDENCE, FeedbackEntry, FeedbackLog, MemorySnapshot

Row = dict[str, Any]


def prompt_messages(plan: ReplyPlan, snapshot: MemorySnapshot) -> list[ChatMessage]:
    """The messages the agent sends for a plan to a user whose memory is ``snapshot`` (style note first)."""
    return plan_messages(plan, style_note([p.text for p in snapshot.style(MIN_STYLE_CONFIDENCE)]))


def _prompt(plan: ReplyPlan, snapshot: MemorySnapshot) -> list[dict[str, str]]:
    return [m.model_dump() for m in prompt_messages(plan, snapshot)]


def _said(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


def _plan(entry: FeedbackEntry) -> ReplyPlan | None:
    if not entry.plan:
        return None
    plan = ReplyPlan.model_validate(entry.plan)
    return plan if writes_prose(plan) else None


def _meta(user_id: str, entry: FeedbackEntry, source: str) -> Row:
    return {"user_id": user_id, "thread_id": entry.thread_id, "turn": entry.turn, "source": source}


def reply_pairs(user_id: str, entries: Sequence[FeedbackEntry]) -> list[Row]:
    """Edit pairs of one user: the rewritten model sentences preferred to the original ones.

    An edit that leaves the model's sentences as they were (it changed only the agent's own
    lines) or deletes them all gives no pair: the model cannot learn the first, and an empty
    completion would teach it to fall back to the template.
    """
    rows = []
    for entry in entries:
        plan = _plan(entry)
        if entry.kind != "edit" or plan is None:
            continue
        rejected, chosen = model_part(entry.reply, plan), model_part(entry.text, plan)
        if rejected and chosen and chosen != rejected:
            rows.append(
                {
                    "prompt": _prompt(plan, entry.memory),
                    "chosen": _said(chosen),
                    "rejected": _said(rejected),
                    **_meta(user_id, entry, "edit"),
                }
            )
    return rows


def unpaired(user_id: str, entries: Sequence[FeedbackEntry]) -> list[Row]:
    """Thumbs of one user on the model's sentences (KTO/BCO rows)."""
    rows = []
    edited = {(e.thread_id, e.turn) for e in entries if e.kind == "edit"}
    for entry in entries:
        plan = _plan(entry)
        if plan is None:
            continue
        prompt = _prompt(plan, entry.memory)
        original = model_part(entry.reply, plan)
        if entry.kind == "edit":
            rewrite = model_part(entry.text, plan)
            if original and rewrite != original:
                rows.append(
                    {"prompt": prompt, "completion": _said(original), "label": False, **_meta(user_id, entry, "edit")}
                )
            if rewrite and rewrite != original:
                rows.append(
                    {"prompt": prompt, "completion": _said(rewrite), "label": True, **_meta(user_id, entry, "edit")}
                )
        elif entry.kind in ("accept", "like") and original and (entry.thread_id, entry.turn) not in edited:
            rows.append(
                {"prompt": prompt, "completion": _said(original), "label": True, **_meta(user_id, entry, entry.kind)}
            )
    return rows


def list_preferences(user_id: str, entries: Sequence[FeedbackEntry]) -> list[Row]:
    """Accepted item vs the items passed over in the same conversation (S-DPO rows).

    Passed over: shown and rejected before it, said "not for me", or shown beside it in the list it
    was picked from (seen and not chosen, the usual implicit negative of a logged list).
    """
    rows = []
    rejected: dict[str, list[str]] = {}
    for entry in entries:
        seen = rejected.setdefault(entry.thread_id, [])
        if entry.kind == "reject":
            seen += [entry.item_id] if entry.item_id else entry.shown
        elif entry.kind == "not_for_me" and entry.item_id:
            seen.append(entry.item_id)
        elif entry.kind == "accept" and entry.item_id:
            negatives = [i for i in dict.fromkeys([*seen, *entry.shown]) if i != entry.item_id]
            if negatives:
                rows.append(
                    {
                        "history": [i for i in entry.memory.history if i != entry.item_id],
                        "request": entry.request,
                        "chosen": entry.item_id,
                        "rejected": negatives,
                        **_meta(user_id, entry, "accept"),
                    }
                )
    return rows


@dataclass
class Datasets:
    """The three datasets (rows in memory until written)."""

    pairs: list[Row] = field(default_factory=list)
    unpaired: list[Row] = field(default_factory=list)
    lists: list[Row] = field(default_factory=list)

    def extend(self, other: Datasets) -> None:
        """Add another's rows."""
        self.pairs += other.pairs
        self.unpaired += other.unpaired
        self.lists += other.lists

    def sizes(self) -> dict[str, int]:
        """Rows per dataset."""
        return {"pairs": len(self.pairs), "unpaired": len(self.unpaired), "lists": len(self.lists)}

    def write(self, folder: Path) -> dict[str, str]:
        """``pairs.jsonl``, ``unpaired.jsonl``, ``lists.jsonl`` in ``folder``; their paths."""
        folder.mkdir(parents=True, exist_ok=True)
        out = {}
        for name, rows in (("pairs", self.pairs), ("unpaired", self.unpaired), ("lists", self.lists)):
            path = folder / f"{name}.jsonl"
            write_jsonl(path, rows)
            out[name] = str(path)
        return out


def from_log(log: FeedbackLog, users: Iterable[str] | None = None) -> Datasets:
    """Every dataset from a feedback log (all of its users, or the given ones)."""
    data = Datasets()
    for user in users if users is not None else log.users():
        entries = log.entries(user)
        data.extend(Datasets(reply_pairs(user, entries), unpaired(user, entries), list_preferences(user, entries)))
    return data


def write_jsonl(path: Path, rows: Iterable[Row]) -> None:
    """One JSON object per line (UTF-8)."""
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def read_jsonl(path: Path) -> Iterator[Row]:
    """The rows of a JSONL file."""
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)
