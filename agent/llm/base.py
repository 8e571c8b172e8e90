"""The LLM backend interface shared by the local, OpenAI-compatible and template backends."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict

from agent import prompts
from agent.llm.plan import ReplyPlan


class ChatMessage(BaseModel):
    """One chat message."""

    model_config = ConfigDict(frozen=True)

    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True, kw_only=True)
class GenerationConfig:
    """Decoding settings.

    Attributes:
        max_new_tokens: Upper bound on generated tokens.
        temperature: 0 means greedy (deterministic) decoding.
        seed: Sampling seed when temperature > 0.
    """

    max_new_tokens: int = 48
    temperature: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.max_new_tokens <= 0:
            raise ValueError("max_new_tokens must be positive")
        if self.temperature < 0:
            raise ValueError("temperature must be >= 0")


def style_note(preferences: Sequence[str]) -> str:
    """The user's inferred style preferences as one instruction ("" for none), CIPHER-style."""
    said = list(dict.fromkeys(p.strip() for p in preferences if p.strip()))
    return prompts.STYLE_NOTE.format(preferences="; ".join(said)) if said else ""


def plan_messages(plan: ReplyPlan, note: str = "") -> list[ChatMessage]:
    """The chat messages that ask a model to write the prose for a plan (one short writing task).

    ``note`` (``style_note``) goes first as a system message: the same tuned model then serves
    every user, each in the style memory inferred for them.
    """
    because = ""
    reasons = [i.reason for i in plan.items if i.reason]
    if reasons and "which you liked" in reasons[0]:
        because = " because of films they liked"
    elif reasons and "what you asked for" in reasons[0]:
        because = " that match what they asked for"
    question = (plan.question or "").rstrip("?").replace("do you", "they")
    question = (question[0].lower() + question[1:] + "?") if question else ""
    task = prompts.TASKS[plan.kind].format(
        n=len(plan.items), because=because, question=question, facts=" ".join(plan.facts)
    )
    system = [ChatMessage(role="system", content=note)] if note else []
    return [*system, ChatMessage(role="user", content=task)]


class ChatBackend(ABC):
    """A chat model. Subclasses implement ``stream``; everything else derives from it."""

    name: str = "backend"
    #: Whether the model is strong enough to be trusted with understanding and extraction.
    capable: bool = False

    @abstractmethod
    def stream(self, messages: Sequence[ChatMessage], config: GenerationConfig | None = None) -> Iterator[str]:
        """Yield the reply to ``messages`` in text chunks."""

    def generate(self, messages: Sequence[ChatMessage], config: GenerationConfig | None = None) -> str:
        """The whole reply to ``messages``."""
        return "".join(self.stream(messages, config)).strip()

    def write(self, plan: ReplyPlan, config: GenerationConfig | None = None, note: str = "") -> str:
        """Prose for a reply plan (``note``: the user's style preferences, see ``plan_messages``)."""
        return self.generate(plan_messages(plan, note), config)

    def stream_plan(self, plan: ReplyPlan, config: GenerationConfig | None = None, note: str = "") -> Iterator[str]:
        """Prose for a reply plan, in chunks."""
        return self.stream(plan_messages(plan, note), config)

    def generate_json(
        self, messages: Sequence[ChatMessage], schema: dict, name: str, config: GenerationConfig | None = None
    ) -> str:
        """A reply that should be one JSON object following ``schema`` (callers validate it).

        Servers that enforce schemas override this; the default states the schema in the
        prompt, which capable local models follow.
        """
        import json

        instruction = ChatMessage(
            role="system",
            content="Reply with one JSON object and nothing else. It must follow this JSON schema:\n"
            + json.dumps(schema, separators=(",", ":")),
        )
        return self.generate([instruction, *messages], config)

    def complete(self, prompt: str) -> str:
        """Single-prompt completion, for components that take a plain ``str -> str`` callable."""
        return self.generate([ChatMessage(role="user", content=prompt)])
