"""Per-run context: who is talking, and the handles the nodes use (never module globals)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

from agent.llm.base import ChatBackend, GenerationConfig
from agent.policy import MaxEntropyPolicy, Policy
from agent.tools import Toolbox
from agent.turn import Understander


@dataclass(frozen=True, kw_only=True, eq=False)
class Services:
    """Long-lived components shared by every conversation.

    Attributes:
        tools: Recommender, retrieval, KG and catalog tools (and the memory they use).
        understander: Reads user messages.
        backend: Writes prose from reply plans.
        policy: Decides ask vs recommend.
        k: Items per recommendation list.
        generation: Decoding settings for the backend.
        domain: What the catalog holds, in words ("films"), for replies to off-topic messages.
        style_prompt: Put the user's inferred style preferences into the model's prompt (CIPHER).
    """

    tools: Toolbox
    understander: Understander
    backend: ChatBackend
    policy: Policy = field(default_factory=MaxEntropyPolicy)
    k: int = 5
    generation: GenerationConfig = field(default_factory=lambda: GenerationConfig(max_new_tokens=32))
    domain: str = "films"
    style_prompt: bool = True

    @cached_property
    def titles(self) -> re.Pattern[str]:
        """Catalog titles as one pattern, for checking that prose names only planned items."""
        from agent.grounding import title_pattern

        return title_pattern(self.tools.catalog)

    @cached_property
    def genres(self) -> re.Pattern[str]:
        """Catalog genres as one pattern, for checking that prose names only planned genres."""
        from agent.grounding import genre_pattern

        return genre_pattern(list(self.tools.catalog.genres.values()))


@dataclass(frozen=True, kw_only=True)
class Context:
    """The run context of one turn.

    Attributes:
        user_id: The user, from the caller (authentication), never from message text.
        services: The shared components.
    """

    user_id: str
    services: Services
