"""A local transformers chat model: the embedded SmolLM2-135M-Instruct by default, or any HF model folder."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from agent.llm.base import ChatBackend, ChatMessage, GenerationConfig
from recsys.assets import AssetManager, offline_mode
from recsys.settings import Settings


class TransformersBackend(ChatBackend):
    """Runs a causal LM from a local folder with transformers; never reaches a hub.

    Args:
        model_path: A Hugging Face model folder; None means the embedded SmolLM2 asset.
        device: Torch device ("cpu", "cuda", or "auto").
        settings: Cache settings used to find the embedded asset.
        capable: Whether the model may be trusted with understanding and extraction
            (false for the 135M default, true for a strong model you plug in).
        threads: Torch intra-op threads; None leaves torch's default.
        adapter: A LoRA adapter folder (``tastebud tune llm``) merged into the model at load.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        device: str = "cpu",
        settings: Settings | None = None,
        capable: bool = False,
        threads: int | None = None,
        adapter: str | Path | None = None,
    ) -> None:
        self._model_path = Path(model_path).expanduser() if model_path else None
        self._device = device
        self._settings = settings or Settings.from_env()
        self._threads = threads
        self.capable = capable
        self._lock = threading.Lock()  # one generation at a time: the model is not re-entrant
        self.adapter = Path(adapter) if adapter else None
        self.name = f"local:{self._model_path or 'smollm2'}" + (f"+{self.adapter.name}" if self.adapter else "")

    @cached_property
    def model_path(self) -> Path:
        """The model folder (the embedded asset is converted on first use)."""
        if self._model_path is not None:
            if not (self._model_path / "config.json").is_file():
                raise FileNotFoundError(f"{self._model_path} is not a Hugging Face model folder (no config.json)")
            return self._model_path
        return AssetManager(self._settings).path("smollm2")

    @cached_property
    def _loaded(self) -> tuple[Any, Any]:
        offline_mode()
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if self._threads:
            torch.set_num_threads(self._threads)
        device = self._device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        tokenizer = AutoTokenizer.from_pretrained(self.model_path, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(self.model_path, local_files_only=True)
        if self.adapter is not None:
            try:
                from peft import PeftModel
            except ImportError as err:  # an adapter exists only where tuning ran, which needs peft
                raise ImportError(f"the adapter {self.adapter} needs peft: pip install -e '.[train]'") from err
            # Merged once: generation then costs what the base model costs.
            model = PeftModel.from_pretrained(model, self.adapter).merge_and_unload()
        return tokenizer, model.to(device).eval()

    def load(self) -> TransformersBackend:
        """Load the model now rather than on the first reply."""
        _ = self._loaded
        return self

    def stream(self, messages: Sequence[ChatMessage], config: GenerationConfig | None = None) -> Iterator[str]:
        """Generate a reply, yielding text as it is decoded."""
        import torch
        from transformers import TextIteratorStreamer

        config = config or GenerationConfig()
        tokenizer, model = self._loaded
        chat = [m.model_dump() for m in messages]
        encoded = tokenizer.apply_chat_template(chat, add_generation_prompt=True, return_tensors="pt", return_dict=True)
        inputs = {k: v.to(model.device) for k, v in encoded.items()}
        streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
        kwargs: dict[str, Any] = dict(
            **inputs,
            max_new_tokens=config.max_new_tokens,
            streamer=streamer,
            pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
        )
        if config.temperature > 0:
            kwargs.update(do_sample=True, temperature=config.temperature)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        errors: list[BaseException] = []

        def run() -> None:
            try:
                if config.temperature > 0:
                    torch.manual_seed(config.seed)
                with torch.inference_mode():
                    model.generate(**kwargs)
            except BaseException as exc:  # re-raised in the caller's thread below
                errors.append(exc)
                streamer.end()

        with self._lock:
            worker = threading.Thread(target=run, daemon=True)
            worker.start()
            yield from streamer
            worker.join()
        if errors:
            raise errors[0]
