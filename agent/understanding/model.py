"""The understanding model: small trained heads over frozen MiniLM token states.

One pass of the sentence encoder gives contextual token states (B, T, 384). A projection and a
thin transformer layer, trained on labelled messages, read them into:

- ``intent`` (B, I), ``lasting`` (B, 3), ``situation`` (B, S), ``era`` (B, 3) from the pooled message;
- ``genre`` (B, G, 3): none / wanted / unwanted for each genre. A genre is a query built from the
  embedding of its name that attends over the message, so moods ("nothing scary") reach genres by
  meaning, and a catalog with other genre names gets queries of its own without retraining;
- ``tags`` (B, T, 5): BIO tags of film titles and people, a feature of the entity linker;
- ``opinion`` (B, K, 3): neutral / liked / disliked for K spans (films, people) of each message,
  read from the span, the few words on each side of it and the whole message, so that in "I loved
  Fargo but hated Titanic" each film gets the verb next to it rather than the message's mood.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from agent.understanding.config import ModelConfig
from agent.understanding.labels import ERAS, GENRE_STANCES, INTENTS, LASTING, OPINIONS, PREVIOUS, SITUATIONS

TAGS: tuple[str, ...] = ("O", "B-TITLE", "I-TITLE", "B-PERSON", "I-PERSON")


def _masked_mean(weights: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """(B, K, T) 0/1 weights over (B, T, d) states -> (B, K, d) means (zeros where a mask is empty)."""
    return torch.einsum("bkt,btd->bkd", weights, x) / weights.sum(-1, keepdim=True).clamp(min=1.0)


def _neighbours(spans: torch.Tensor, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``width`` positions before and after each (B, K, T) span mask, outside the span."""
    left, right = torch.zeros_like(spans), torch.zeros_like(spans)
    for s in range(1, min(width, spans.shape[-1] - 1) + 1):
        left[..., :-s] = torch.maximum(left[..., :-s], spans[..., s:])
        right[..., s:] = torch.maximum(right[..., s:], spans[..., :-s])
    return left * (1 - spans), right * (1 - spans)


def _head(d_in: int, n_out: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, d_in), nn.GELU(), nn.Dropout(dropout), nn.Linear(d_in, n_out))


class UnderstandingModel(nn.Module):
    """Multi-task heads over frozen token states. Tensors in, logits out."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        d = config.d_model
        self.proj = nn.Linear(config.d_in, d)
        self.prev = nn.Embedding(len(PREVIOUS), d)
        self.norm = nn.LayerNorm(d)
        layer = nn.TransformerEncoderLayer(
            d, config.n_heads, 4 * d, config.dropout, activation="gelu", batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, config.n_layers, enable_nested_tensor=False)
        self.drop = nn.Dropout(config.dropout)
        self.intent = _head(2 * d, len(INTENTS), config.dropout)
        self.lasting = _head(2 * d, len(LASTING), config.dropout)
        self.situation = _head(2 * d, len(SITUATIONS), config.dropout)
        self.era = _head(2 * d, len(ERAS), config.dropout)
        self.genre_query = nn.Linear(config.d_in, d)
        self.genre = _head(3 * d, len(GENRE_STANCES), config.dropout)
        self.genre_word = nn.Linear(d, len(GENRE_STANCES))
        self.tags = nn.Linear(d, len(TAGS))
        self.opinion = _head(5 * d, len(OPINIONS), config.dropout)

    def encode(self, states: torch.Tensor, mask: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
        """(B, T, d_in) token states, (B, T) bool mask, (B,) context -> (B, T, d) contextual states."""
        x = self.proj(states) + self.prev(prev)[:, None, :]  # (B, T, d)
        x = self.encoder(self.norm(x), src_key_padding_mask=~mask)
        return self.drop(x)

    @staticmethod
    def pool(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Masked mean and the first token's state: (B, T, d) -> (B, 2d)."""
        m = mask.unsqueeze(-1).to(x.dtype)
        mean = (x * m).sum(1) / m.sum(1).clamp(min=1.0)
        return torch.cat([mean, x[:, 0]], dim=-1)

    def genres(self, x: torch.Tensor, mask: torch.Tensor, genre_vectors: torch.Tensor) -> torch.Tensor:
        """Stance logits (B, G, 3) of G genres, each given by the (G, d_in) embedding of its name.

        Two readings add up: the genre's attention-weighted summary of the message, and the same
        attention over per-word stances. The second keeps negation with the word it belongs to: in
        "lots of suspense, nothing scary" the summary for Horror mixes both moods, while the word
        "scary" (after "nothing") alone says unwanted.
        """
        q = self.genre_query(genre_vectors)  # (G, d)
        att = torch.einsum("gd,btd->bgt", q, x) / math.sqrt(x.shape[-1])  # (B, G, T)
        att = att.masked_fill(~mask[:, None, :], float("-inf")).softmax(-1)
        read = torch.einsum("bgt,btd->bgd", att, x)  # (B, G, d)
        words = torch.einsum("btd,gd,kd->bgtk", x, q, self.genre_word.weight) + self.genre_word.bias  # (B, G, T, 3)
        q = q.unsqueeze(0).expand_as(read)
        return self.genre(torch.cat([read, q, read * q], dim=-1)) + torch.einsum("bgt,bgtk->bgk", att, words)

    def opinions(self, x: torch.Tensor, mask: torch.Tensor, pooled: torch.Tensor, spans: torch.Tensor) -> torch.Tensor:
        """Opinion logits (B, K, 3) of K spans given as (B, K, T) 0/1 token masks ((B, T) ``mask``: real tokens)."""
        w = spans.to(x.dtype)
        left, right = (n * mask[:, None, :].to(x.dtype) for n in _neighbours(w, self.config.opinion_window))
        context = pooled[:, None, :].expand(-1, spans.shape[1], -1)  # (B, K, 2d)
        parts = [_masked_mean(m, x) for m in (w, left, right)]  # 3 x (B, K, d)
        return self.opinion(torch.cat([*parts, context], dim=-1))

    def forward(
        self,
        states: torch.Tensor,
        mask: torch.Tensor,
        prev: torch.Tensor,
        genre_vectors: torch.Tensor,
        spans: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Every head's logits for a batch (``opinion`` only when spans are given)."""
        x = self.encode(states, mask, prev)
        pooled = self.pool(x, mask)
        out = {
            "intent": self.intent(pooled),
            "lasting": self.lasting(pooled),
            "situation": self.situation(pooled),
            "era": self.era(pooled),
            "genre": self.genres(x, mask, genre_vectors),
            "tags": self.tags(x),
        }
        if spans is not None and spans.shape[1]:
            out["opinion"] = self.opinions(x, mask, pooled, spans)
        return out
