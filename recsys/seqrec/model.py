"""SASRec (Kang & McAuley, ICDM 2018): a causal transformer over a user's item sequence.

Sequences are left-padded with 0 and right-aligned: the newest item always sits at the last
position, whatever the sequence length, so positions mean "steps before now". The same network
serves SASRec with CE or BCE loss and gSASRec; only the loss (``losses.py``) differs.

Tensors in, tensors out: no numpy and no ``.to(device)`` here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from recsys.seqrec.data import PAD


@dataclass(frozen=True, kw_only=True)
class SASRecConfig:
    """Network shape.

    Attributes:
        n_items: Real items; ids 1..n_items, 0 is padding.
        max_len: Longest history the model reads (older items are dropped).
        d_model: Embedding and hidden size.
        n_layers: Transformer blocks.
        n_heads: Attention heads (must divide ``d_model``).
        d_ff: Feed-forward inner size; None means ``d_model`` (as in the SASRec paper).
        dropout: Dropout on embeddings, attention and feed-forward outputs.
        causal: True for SASRec; False turns the encoder bidirectional (used by BERT4Rec).
        post_norm: Normalise after each residual sum, and the embeddings before the first block,
            as BERT and RecBole's SASRec do; False (default) normalises before each sublayer and
            once at the end, as the SASRec reference code does.
        logit_bias: Initial value of a learned constant added to every score; None: no such
            parameter. It never changes a ranking, but sampled losses need it: with K negatives
            the loss first asks for every score near ``-log K``, and without a shared offset the
            tied item embeddings collapse onto one direction to produce it, after which gSASRec
            stalls at popularity level (``losses.initial_logit`` gives the starting value).
    """

    n_items: int
    max_len: int = 50
    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 2
    d_ff: int | None = None
    dropout: float = 0.2
    causal: bool = True
    post_norm: bool = False
    logit_bias: float | None = None

    def __post_init__(self) -> None:
        assert self.n_items > 0, f"n_items must be positive, got {self.n_items}"
        assert self.max_len > 0, f"max_len must be positive, got {self.max_len}"
        assert self.d_model % self.n_heads == 0, f"d_model {self.d_model} not divisible by n_heads {self.n_heads}"
        assert 0.0 <= self.dropout < 1.0, f"dropout must be in [0, 1), got {self.dropout}"

    @property
    def ff_size(self) -> int:
        """Feed-forward inner size."""
        return self.d_ff or self.d_model


class SelfAttention(nn.Module):
    """Multi-head self-attention with an explicit boolean mask (True = may attend)."""

    def __init__(self, cfg: SASRecConfig) -> None:
        super().__init__()
        self.n_heads = cfg.n_heads
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)
        self.dropout = cfg.dropout
        self.resid_drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        B, T, D = x.shape
        q, k, v = self.qkv(x).split(D, dim=2)  # 3 x (B, T, D)
        q = q.view(B, T, self.n_heads, D // self.n_heads).transpose(1, 2)  # (B, H, T, D/H)
        k = k.view(B, T, self.n_heads, D // self.n_heads).transpose(1, 2)
        v = v.view(B, T, self.n_heads, D // self.n_heads).transpose(1, 2)
        drop = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=drop)  # (B, H, T, D/H)
        y = y.transpose(1, 2).contiguous().view(B, T, D)
        return self.resid_drop(self.proj(y))


class FeedForward(nn.Module):
    """Position-wise two-layer MLP."""

    def __init__(self, cfg: SASRecConfig) -> None:
        super().__init__()
        self.fc = nn.Linear(cfg.d_model, cfg.ff_size)
        self.out = nn.Linear(cfg.ff_size, cfg.d_model)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.out(F.gelu(self.fc(x))))


class Block(nn.Module):
    """Transformer block, pre-norm (SASRec's reference code) or post-norm (BERT, RecBole)."""

    def __init__(self, cfg: SASRecConfig) -> None:
        super().__init__()
        self.post_norm = cfg.post_norm
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.attn = SelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.ff = FeedForward(cfg)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.post_norm:
            x = self.ln1(x + self.attn(x, mask))
            return self.ln2(x + self.ff(x))
        x = x + self.attn(self.ln1(x), mask)
        return x + self.ff(self.ln2(x))


def attention_mask(seq: torch.Tensor, causal: bool) -> torch.Tensor:
    """Boolean mask (B, 1, T, T): query t may attend key s if s is a real item (and s <= t when causal).

    Every position may attend itself, so padding rows are never fully masked (no NaN); their
    outputs are ignored downstream.
    """
    B, T = seq.shape
    real = (seq != PAD)[:, None, None, :]  # (B, 1, 1, T)
    eye = torch.eye(T, dtype=torch.bool, device=seq.device)  # (T, T)
    mask = real | eye  # (B, 1, T, T)
    if causal:
        mask = mask & torch.ones(T, T, dtype=torch.bool, device=seq.device).tril()
    return mask


class SASRec(nn.Module):
    """Self-attentive sequential recommender; item embeddings are shared with the output layer."""

    def __init__(self, cfg: SASRecConfig, vocab_extra: int = 0) -> None:
        """Build the network.

        Args:
            cfg: Network shape.
            vocab_extra: Extra token ids after the items (BERT4Rec's [MASK] = n_items + 1).
        """
        super().__init__()
        self.cfg = cfg
        self.item_emb = nn.Embedding(cfg.n_items + 1 + vocab_extra, cfg.d_model, padding_idx=PAD)
        self.pos_emb = nn.Embedding(cfg.max_len, cfg.d_model)
        self.emb_drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        # Pre-norm ends with a LayerNorm; post-norm's blocks already end normalised, and it
        # normalises the summed embeddings instead.
        self.ln_f = None if cfg.post_norm else nn.LayerNorm(cfg.d_model)
        self.ln_emb = nn.LayerNorm(cfg.d_model) if cfg.post_norm else None
        self.apply(self._init_weights)
        self.logit_bias = None if cfg.logit_bias is None else nn.Parameter(torch.tensor(float(cfg.logit_bias)))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.02)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)
            if module.padding_idx is not None:
                with torch.no_grad():
                    module.weight[module.padding_idx].zero_()

    def encode(self, seq: torch.Tensor) -> torch.Tensor:
        """Hidden state per position.

        Args:
            seq: (B, T) model item ids, left-padded with 0, T <= max_len.

        Returns:
            (B, T, D); position t summarises items up to t (all items when not causal).
        """
        B, T = seq.shape
        assert T <= self.cfg.max_len, f"sequence length {T} exceeds max_len {self.cfg.max_len}"
        pos = torch.arange(self.cfg.max_len - T, self.cfg.max_len, device=seq.device)  # (T,) right-aligned
        if self.ln_emb is None:
            x = self.item_emb(seq) * math.sqrt(self.cfg.d_model) + self.pos_emb(pos)  # (B, T, D)
        else:
            x = self.ln_emb(self.item_emb(seq) + self.pos_emb(pos))
        x = self.emb_drop(x) * (seq != PAD).unsqueeze(-1)  # zero the padding
        mask = attention_mask(seq, self.cfg.causal)
        for block in self.blocks:
            x = block(x, mask)
        return x if self.ln_f is None else self.ln_f(x)  # (B, T, D)

    def last_hidden(self, seq: torch.Tensor) -> torch.Tensor:
        """(B, D): the state after the newest item, i.e. the user representation for the next step."""
        return self.encode(seq)[:, -1, :]

    @property
    def item_weights(self) -> torch.Tensor:
        """(n_items + 1, D) output embeddings; row 0 is padding."""
        return self.item_emb.weight[: self.cfg.n_items + 1]

    def score(self, h: torch.Tensor, item_ids: torch.Tensor) -> torch.Tensor:
        """Scores of chosen items: h (..., D), item_ids (..., K) -> (..., K)."""
        scores = (self.item_emb(item_ids) * h.unsqueeze(-2)).sum(-1)
        return scores if self.logit_bias is None else scores + self.logit_bias

    def score_all(self, h: torch.Tensor) -> torch.Tensor:
        """Scores of every item: h (B, D) -> (B, n_items + 1); column 0 (padding) is -inf."""
        logits = h @ self.item_weights.T  # (B, N + 1)
        if self.logit_bias is not None:
            logits = logits + self.logit_bias
        logits[:, PAD] = float("-inf")
        return logits

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        """Same as ``encode``: (B, T) -> (B, T, D). Training calls the module, so DDP wrappers see the forward."""
        return self.encode(seq)

    def next_item_scores(self, seq: torch.Tensor) -> torch.Tensor:
        """Scores of the item after each sequence: (B, T) -> (B, n_items + 1)."""
        return self.score_all(self.last_hidden(seq))
