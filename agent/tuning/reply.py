"""The anatomy of a reply: the agent's own lines (facts, the list, the question) and the model's sentences.

``grounded_text`` writes a reply as: the plan's facts, word for word; the sentences the language
model wrote (each checked); the question when the model did not ask it; the list or the options,
rendered from the plan. Only the model's sentences can be tuned, so preference data holds those
(``model_part``), and a sampled completion is judged as the reply it would make (``assemble``).
"""

from __future__ import annotations

import re

from agent.grounding import structured_part
from agent.llm.plan import ReplyPlan

_LISTED = re.compile(r"^\s*(?:\d+[.)]|[-*\u2022])\s+")
_NOISE = re.compile(r"\((?:18|19|20)\d\d\)|[^\w\s]")


def _norm(line: str) -> str:
    """A line without punctuation, years in brackets, list markers and case: edits of agent lines still match."""
    return " ".join(_NOISE.sub(" ", _LISTED.sub("", line).casefold()).split())


def agent_lines(plan: ReplyPlan) -> set[str]:
    """The normalised lines the agent itself writes for a plan (never the model's)."""
    lines = [*plan.facts, plan.question or "", *structured_part(plan).splitlines()]
    lines += ["Here is what I found for you:", "Here is my pick for you:"]
    return {_norm(line) for line in lines if line.strip()}


def model_part(text: str, plan: ReplyPlan) -> str:
    """The sentences of a reply the language model wrote (``""`` when the agent's lines are all there is).

    Lines are matched against the agent's own lines after dropping punctuation, bracketed years,
    list markers and case, so a user's edit of an agent line ("!" to ".", a year added, dashes for
    numbers, a sentence cut short or dropped) still counts as the agent's line. List lines and "Options:" lines are the agent's in
    any form. A model sentence that happens to equal an agent line is counted as the agent's.
    """
    fixed = agent_lines(plan)
    keep = []
    for line in text.splitlines():
        stripped, norm = line.strip(), _norm(line)
        if not stripped or _LISTED.match(stripped) or stripped.startswith("Options:") or norm in fixed:
            continue
        if len(norm.split()) >= 3 and any(norm in agent for agent in fixed):
            continue  # part of an agent line: a user cut it short
        keep.append(stripped)
    return "\n".join(keep)


def assemble(prose: str, plan: ReplyPlan) -> str:
    """The reply a model's prose would make, put together as ``grounded_text`` does but with nothing dropped."""
    parts = []
    if plan.facts and plan.kind in ("confirm", "explain", "ask", "recommend"):
        parts.append("\n".join(plan.facts))
    if prose.strip():
        parts.append(prose.strip())
    if plan.kind == "ask" and plan.question and "?" not in prose:
        parts.append(plan.question)
    tail = structured_part(plan)
    if tail:
        parts.append(tail)
    return "\n".join(parts).strip()


def writes_prose(plan: ReplyPlan) -> bool:
    """Whether the model is asked to write for this plan (explanations and errors are rendered only)."""
    return plan.kind not in ("explain", "error")
