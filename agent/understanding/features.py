"""Frozen MiniLM token states: the features every head of the understanding model reads.

The sentence encoder the agent already loads (``recsys.encoder.TextEncoder``) is a transformer
followed by mean pooling; here the transformer's last hidden states are taken before pooling,
with each word piece's character offsets so spans of the text map to tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import torch

from recsys.encoder import TextEncoder


@dataclass(frozen=True)
class Encoded:
    """A batch of messages as token states.

    Attributes:
        states: (B, T, D) float32 token states (zeros past each message's end).
        mask: (B, T) bool, True on real tokens.
        offsets: Per message, (start, end) character offsets of each token (special tokens (0, 0)).
    """

    states: torch.Tensor
    mask: torch.Tensor
    offsets: list[list[tuple[int, int]]]

    def span_mask(self, row: int, start: int, end: int) -> np.ndarray:
        """(T,) 0/1 mask of the tokens of message ``row`` overlapping characters [start, end)."""
        out = np.zeros(self.mask.shape[1], np.float32)
        for t, (s, e) in enumerate(self.offsets[row]):
            if e > s and s < end and start < e:
                out[t] = 1.0
        return out


class TokenEncoder:
    """Contextual token states from the sentence encoder's transformer (frozen, inference only).

    Args:
        encoder: The shared sentence encoder (its model is loaded once for both uses).
        max_tokens: Messages are cut to this many word pieces.
    """

    def __init__(self, encoder: TextEncoder, max_tokens: int = 128) -> None:
        self.encoder = encoder
        self.max_tokens = max_tokens

    @cached_property
    def _parts(self) -> tuple[Any, Any]:
        transformer = self.encoder.model[0]
        model = transformer.auto_model
        model.eval()
        return transformer.tokenizer, model

    @property
    def dim(self) -> int:
        """Width of the token states."""
        return int(self._parts[1].config.hidden_size)

    def encode(self, texts: list[str]) -> Encoded:
        """Token states of a batch of texts."""
        tokenizer, model = self._parts
        batch = tokenizer(
            texts,
            padding=True,
            truncation=True,
            max_length=self.max_tokens,
            return_offsets_mapping=True,
            return_tensors="pt",
        )
        offsets = [[(int(s), int(e)) for s, e in row] for row in batch.pop("offset_mapping").tolist()]
        with torch.inference_mode():
            states = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        mask = batch["attention_mask"].bool()
        return Encoded(states=states.float() * mask[..., None], mask=mask, offsets=offsets)

    def names(self, names: list[str]) -> torch.Tensor:
        """(N, D) sentence embeddings of attribute names ("Horror films"): the genre queries."""
        return torch.from_numpy(np.asarray(self.encoder.encode([f"{n} films" for n in names]), np.float32))
