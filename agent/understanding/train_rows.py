"""Messages as tensors for training: frozen token states, label indices, BIO tags and span masks."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch

from agent.understanding.corpus import Example
from agent.understanding.features import TokenEncoder
from agent.understanding.labels import ERAS, INTENTS, LABEL_GENRES, LASTING, OPINIONS, PREVIOUS, SITUATIONS
from agent.understanding.model import TAGS
from agent.understanding.recommender_turns import unlabelled_ranges

log = logging.getLogger(__name__)


@dataclass
class Row:
    """One example as tensors."""

    states: torch.Tensor  # (T, D) float16
    prev: int
    intent: int
    lasting: int
    situation: int
    era: int
    genre: torch.Tensor  # (G,) stance index per label genre
    tags: torch.Tensor  # (T,) tag index, -100 on special tokens
    spans: torch.Tensor  # (K, T) token masks
    opinions: torch.Tensor  # (K,)
    offsets: list[tuple[int, int]]


def tag_sequence(
    offsets: list[tuple[int, int]], spans: list[tuple[int, int, str]], unlabelled: list[tuple[int, int]] = ()
) -> list[int]:
    """BIO tag index per token from character spans (special tokens and ``unlabelled`` ranges get -100)."""
    tags = [-100 if e <= s or any(s < b and a < e for a, b in unlabelled) else 0 for s, e in offsets]
    for start, end, kind in spans:
        first = True
        for t, (s, e) in enumerate(offsets):
            if e > s and s < end and start < e:
                tags[t] = TAGS.index(("B-" if first else "I-") + kind)
                first = False
    return tags


def tensorize(examples: list[Example], encoder: TokenEncoder, batch: int = 64) -> list[Row]:
    """Encode every example once with the frozen encoder."""
    rows: list[Row] = []
    for i in range(0, len(examples), batch):
        chunk = examples[i : i + batch]
        enc = encoder.encode([e.text for e in chunk])
        for j, ex in enumerate(chunk):
            n = int(enc.mask[j].sum())
            offsets = enc.offsets[j][:n]
            lab = ex.label
            genre = torch.tensor(
                [2 if g in lab.genres_unwanted else 1 if g in lab.genres_wanted else 0 for g in LABEL_GENRES]
            )
            spans = [(s.start, s.end, s.kind) for s in ex.spans]
            masks = [enc.span_mask(j, s.start, s.end)[:n] for s in ex.spans]
            unknown = -100  # cross-entropy's ignore index: a tag-only row says nothing of the other heads
            rows.append(
                Row(
                    states=enc.states[j, :n].to(torch.float16),
                    prev=PREVIOUS.index(ex.prev),
                    intent=unknown if ex.tags_only else INTENTS.index(lab.intent),
                    lasting=unknown if ex.tags_only else LASTING.index(lab.lasting),
                    situation=unknown if ex.tags_only else SITUATIONS.index(lab.situation or "none"),
                    era=unknown if ex.tags_only else ERAS.index(lab.era_class),
                    genre=torch.full_like(genre, unknown) if ex.tags_only else genre,
                    tags=torch.tensor(tag_sequence(offsets, spans, unlabelled_ranges(ex) if ex.tags_only else [])),
                    spans=torch.from_numpy(np.stack(masks)) if masks else torch.zeros(0, n),
                    opinions=torch.tensor(
                        [unknown if ex.tags_only else OPINIONS.index(s.opinion) for s in ex.spans], dtype=torch.long
                    ),
                    offsets=offsets,
                )
            )
        done = min(i + batch, len(examples))
        if done == len(examples) or (done // batch) % 16 == 0:  # about every thousand messages
            log.info("encoded %d/%d messages", done, len(examples))
    return rows


def collate(rows: list[Row]) -> dict[str, torch.Tensor]:
    """Pad a batch."""
    t = max(r.states.shape[0] for r in rows)
    k = max((r.spans.shape[0] for r in rows), default=0)
    b = len(rows)
    states = torch.zeros(b, t, rows[0].states.shape[1])
    mask = torch.zeros(b, t, dtype=torch.bool)
    tags = torch.full((b, t), -100, dtype=torch.long)
    spans = torch.zeros(b, k, t)
    opinions = torch.full((b, k), -100, dtype=torch.long)
    for i, r in enumerate(rows):
        n = r.states.shape[0]
        states[i, :n] = r.states.float()
        mask[i, :n] = True
        tags[i, :n] = r.tags
        spans[i, : r.spans.shape[0], :n] = r.spans
        opinions[i, : r.opinions.shape[0]] = r.opinions
    return {
        "states": states,
        "mask": mask,
        "prev": torch.tensor([r.prev for r in rows]),
        "intent": torch.tensor([r.intent for r in rows]),
        "lasting": torch.tensor([r.lasting for r in rows]),
        "situation": torch.tensor([r.situation for r in rows]),
        "era": torch.tensor([r.era for r in rows]),
        "genre": torch.stack([r.genre for r in rows]),
        "tags": tags,
        "spans": spans,
        "opinions": opinions,
    }
