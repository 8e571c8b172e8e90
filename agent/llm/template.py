"""The deterministic template backend: no model, same output for the same input.

Used by tests and by the no-LLM mode. It renders a ``ReplyPlan`` directly; for
free chat it answers with a fixed sentence.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from agent.llm.base import ChatBackend, ChatMessage, GenerationConfig
from agent.llm.plan import ReplyPlan

FALLBACK = "I'm Tastebud. Tell me what you feel like watching and I'll find something for you."


def render_plan(plan: ReplyPlan) -> str:
    """A plan as plain, deterministic text."""
    lines: list[str] = list(plan.facts)
    if plan.kind == "recommend" and plan.items:
        lines.append("Here is what I found for you:" if len(plan.items) > 1 else "Here is my pick for you:")
    for n, item in enumerate(plan.items, start=1):
        year = f" ({item.year})" if item.year else ""
        reason = f" - {item.reason}" if item.reason else ""
        lines.append(f"{n}. {item.title}{year}{reason}" if plan.kind == "recommend" else f"{item.title}{year}{reason}")
    if plan.question:
        lines.append(plan.question)
    if plan.options:
        lines.append("Options: " + ", ".join(plan.options))
    if not lines:
        lines.append(FALLBACK)
    return "\n".join(lines)


class TemplateBackend(ChatBackend):
    """Renders plans with fixed templates."""

    name = "template"
    capable = False

    def write(self, plan: ReplyPlan, config: GenerationConfig | None = None, note: str = "") -> str:
        """The plan rendered by ``render_plan``."""
        return render_plan(plan)

    def stream_plan(self, plan: ReplyPlan, config: GenerationConfig | None = None, note: str = "") -> Iterator[str]:
        """The rendered plan, a line at a time."""
        for n, line in enumerate(render_plan(plan).split("\n")):
            yield line if n == 0 else "\n" + line

    def stream(self, messages: Sequence[ChatMessage], config: GenerationConfig | None = None) -> Iterator[str]:
        """A fixed reply: the template backend has no language model."""
        yield FALLBACK
