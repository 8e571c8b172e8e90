"""BERT4Rec (Sun et al., CIKM 2019): a bidirectional transformer trained to fill in masked items.

It reuses SASRec's blocks with the causal mask off, adds a [MASK] token (id ``n_items + 1``)
and BERT's output head (dense + GELU + LayerNorm, then dot product with the shared item
embeddings plus a per-item bias). At inference the history gets a [MASK] appended and the
model scores that position.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from recsys.seqrec.data import PAD
from recsys.seqrec.model import SASRec, SASRecConfig


def bert4rec_config(**kwargs: object) -> SASRecConfig:
    """A ``SASRecConfig`` with the bidirectional encoder and BERT4Rec's defaults (d_ff = 4 d_model)."""
    kwargs.setdefault("d_ff", 4 * int(kwargs.get("d_model", 64)))  # type: ignore[call-overload]
    kwargs.setdefault("dropout", 0.1)
    return SASRecConfig(**{**kwargs, "causal": False})  # type: ignore[arg-type]


class BERT4Rec(SASRec):
    """Bidirectional encoder with a masked-item head."""

    def __init__(self, cfg: SASRecConfig) -> None:
        """Build the network; ``cfg.causal`` is forced to False."""
        if cfg.causal:
            cfg = dataclasses.replace(cfg, causal=False)
        super().__init__(cfg, vocab_extra=1)
        self.head = nn.Linear(cfg.d_model, cfg.d_model)
        self.head_ln = nn.LayerNorm(cfg.d_model)
        self.out_bias = nn.Parameter(torch.zeros(cfg.n_items + 1))
        self.head.apply(self._init_weights)

    @property
    def mask_token(self) -> int:
        """Id of the [MASK] token."""
        return self.cfg.n_items + 1

    def transform(self, h: torch.Tensor) -> torch.Tensor:
        """BERT's prediction-head transform: (..., D) -> (..., D)."""
        return self.head_ln(F.gelu(self.head(h)))

    def last_hidden(self, seq: torch.Tensor) -> torch.Tensor:
        """(B, D) state of a [MASK] appended after the history (the oldest item drops out at max_len)."""
        mask = torch.full_like(seq[:, :1], self.mask_token)
        seq = torch.cat([seq, mask], dim=1)[:, -self.cfg.max_len :]  # (B, T') with T' <= max_len
        return self.encode(seq)[:, -1, :]

    def score(self, h: torch.Tensor, item_ids: torch.Tensor) -> torch.Tensor:
        """Scores of chosen items: h (..., D), item_ids (..., K) -> (..., K)."""
        return (self.item_emb(item_ids) * self.transform(h).unsqueeze(-2)).sum(-1) + self.out_bias[item_ids]

    def score_all(self, h: torch.Tensor) -> torch.Tensor:
        """Scores of every real item: h (B, D) -> (B, n_items + 1); column 0 is -inf, [MASK] is excluded."""
        logits = self.transform(h) @ self.item_weights.T + self.out_bias  # (B, N + 1)
        logits[:, PAD] = float("-inf")
        return logits
