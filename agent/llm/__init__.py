"""LLM backends: local transformers (default), OpenAI-compatible server, deterministic templates."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from agent.llm.base import ChatBackend, ChatMessage, GenerationConfig
from agent.llm.plan import PlannedItem, ReplyPlan
from recsys.settings import Settings

log = logging.getLogger(__name__)

__all__ = [
    "BackendConfig",
    "ChatBackend",
    "ChatMessage",
    "GenerationConfig",
    "PlannedItem",
    "ReplyPlan",
    "load_backend",
]


@dataclass(frozen=True, kw_only=True)
class BackendConfig:
    """Which LLM backend to use.

    Attributes:
        kind: ``local`` (transformers), ``openai`` (an OpenAI-compatible server) or ``template`` (no model).
        model_path: For ``local``: a Hugging Face model folder; None means the embedded SmolLM2.
        base_url: For ``openai``: the server root, e.g. ``http://localhost:8000/v1``.
        model: For ``openai``: the model name.
        api_key_env: For ``openai``: the environment variable holding the key.
        device: For ``local``: torch device.
        capable: Trust the model with understanding/extraction (default: true for ``openai`` and
            for a user-supplied local folder, false for the 135M default).
        adapter: For ``local``: "auto" (the LoRA adapter ``tastebud tune llm`` saved for this model,
            when there is one), "off", or an adapter folder.
    """

    kind: Literal["local", "openai", "template"] = "local"
    model_path: Path | None = None
    base_url: str | None = None
    model: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    device: str = "cpu"
    capable: bool | None = None
    adapter: str = "auto"

    def __post_init__(self) -> None:
        if self.kind not in ("local", "openai", "template"):
            raise ValueError(f"unknown backend kind {self.kind!r}; use local, openai or template")
        if self.kind == "openai" and not (self.base_url and self.model):
            raise ValueError("the openai backend needs base_url and model")

    @classmethod
    def from_env(cls) -> BackendConfig:
        """Read ``TASTEBUD_BACKEND``, ``TASTEBUD_MODEL_PATH``, ``TASTEBUD_ADAPTER``, ``TASTEBUD_OPENAI_BASE_URL``,
        ``TASTEBUD_OPENAI_MODEL``."""
        kind = os.environ.get("TASTEBUD_BACKEND", "local")
        path = os.environ.get("TASTEBUD_MODEL_PATH")
        return cls(
            kind=kind,  # type: ignore[arg-type]
            model_path=Path(path) if path else None,
            base_url=os.environ.get("TASTEBUD_OPENAI_BASE_URL"),
            model=os.environ.get("TASTEBUD_OPENAI_MODEL"),
            adapter=os.environ.get("TASTEBUD_ADAPTER", "auto"),
        )


def load_backend(config: BackendConfig | None = None, settings: Settings | None = None) -> ChatBackend:
    """Build the backend a config names (models load lazily, on the first reply)."""
    config = config or BackendConfig()
    if config.kind == "template":
        from agent.llm.template import TemplateBackend

        return TemplateBackend()
    if config.kind == "openai":
        from agent.llm.openai_compat import OpenAICompatibleBackend

        assert config.base_url and config.model  # checked in BackendConfig
        capable = True if config.capable is None else config.capable
        return OpenAICompatibleBackend(config.base_url, config.model, config.api_key_env, capable=capable)
    from agent.llm.local import TransformersBackend

    settings = settings or Settings.from_env()
    capable = (config.model_path is not None) if config.capable is None else config.capable
    adapter = _adapter(config, settings)
    return TransformersBackend(
        config.model_path, device=config.device, settings=settings, capable=capable, adapter=adapter
    )


def _adapter(config: BackendConfig, settings: Settings) -> Path | None:
    """The adapter a local backend uses; said at start-up, since it changes every reply."""
    from agent.llm.adapter import adapter_dir, find_adapter

    if config.adapter == "off":
        return None
    if config.adapter == "auto":
        found = find_adapter(adapter_dir(settings, config.model_path), config.model_path)
    else:
        found = Path(config.adapter).expanduser()
        if not (found / "adapter_config.json").is_file():
            raise FileNotFoundError(f"{found} is not an adapter folder (no adapter_config.json)")
    if found is not None:
        log.warning("using the tuned adapter %s (turn it off with --no-adapter or TASTEBUD_ADAPTER=off)", found)
    return found
