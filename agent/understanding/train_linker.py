"""Training data and fitting of the title linker (see ``agent.understanding.linker``)."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import torch

from agent.understanding.corpus import Example
from agent.understanding.linker import FEATURES, LinkerWeights, candidate_features, following_candidates
from agent.understanding.model import UnderstandingModel
from agent.understanding.titles import TitleIndex
from agent.understanding.train_rows import Row, collate
from memory.resolve import normalize_title

_YEAR = re.compile(r"[\(\[]\s*(?:18|19|20)\d\d\s*[\)\]]")


def said_before(examples: list[Example]) -> dict[str, set[int]]:
    """Per real message, the catalog films named earlier in its dialogue (the linker's conversation context)."""
    turns: dict[str, list[tuple[int, str, set[int]]]] = {}
    for ex in examples:
        base = ex.id.split("~")[0]
        dialog, _, turn = base.rpartition("-")
        if ex.source != "redial" or not turn.isdigit():
            continue
        films = {s.item for s in ex.spans if s.kind == "TITLE" and s.item is not None}
        turns.setdefault(dialog, []).append((int(turn), base, films))
    out: dict[str, set[int]] = {}
    for seq in turns.values():
        seen: set[int] = set()
        for _, base, films in sorted(seq):
            out[base] = set(seen)
            seen |= films
    return out


def linker_data(
    model: UnderstandingModel,
    examples: list[Example],
    rows: list[Row],
    titles: TitleIndex,
    genre_vectors: torch.Tensor,
    context: dict[str, set[int]] | None = None,
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Candidate features with 0/1 gold (the candidate is a gold title span naming the same film), per example.

    In a tag-only example (a recommender's turn) only candidates overlapping its located titles count:
    the title itself, a fragment of it, or the same words naming another film of that name.

    ``context`` gives each message's films named earlier in its dialogue (``said_before``).
    """
    context = context or {}
    xs, ys, owner = [], [], []
    with torch.no_grad():
        for i in range(0, len(rows), 128):
            chunk = rows[i : i + 128]
            batch = collate(chunk)
            tag_probs = model(batch["states"], batch["mask"], batch["prev"], genre_vectors)["tags"].softmax(-1).numpy()
            for j, (ex, row) in enumerate(zip(examples[i : i + 128], chunk)):
                n = row.states.shape[0]

                def span_mask(s: int, e: int, offsets: list[tuple[int, int]] = row.offsets) -> np.ndarray:
                    return np.array([1.0 if (b > a and a < e and s < b) else 0.0 for a, b in offsets], np.float32)

                gold = [(s.start, s.end, s.item) for s in ex.spans if s.kind == "TITLE"]
                cands = titles.candidates(ex.text)
                for cand in cands:
                    if ex.tags_only and not any(cand.start < e and s < cand.end for s, e, _ in gold):
                        # Recommenders also type titles without the picker ("the original Star Wars"):
                        # outside the located titles a candidate's label is unknown, so it is left out.
                        continue
                    after = following_candidates(cand, cands, ex.text)
                    x = candidate_features(
                        ex.text,
                        cand,
                        titles,
                        tag_probs[j, :n],
                        span_mask(cand.start, cand.end),
                        context.get(ex.id.split("~")[0], set()),
                        after,
                    )
                    words = normalize_title(_YEAR.sub("", ex.text[cand.start : cand.end]))
                    hit = any(
                        item is not None
                        and item in cand.items
                        and cand.start < e
                        and s < cand.end
                        and normalize_title(_YEAR.sub("", ex.text[s:e])) == words
                        for s, e, item in gold
                    )
                    xs.append(x)
                    ys.append(float(hit))
                    owner.append(i + j)
    return (np.stack(xs) if xs else np.zeros((0, len(FEATURES)), np.float32)), np.asarray(ys), owner


def _threshold(p: np.ndarray, y: np.ndarray, precision: float) -> float:
    """The lowest threshold whose precision reaches ``precision`` (the most precise one when none does)."""
    best, best_precision = 0.5, -1.0
    for t in np.linspace(0.2, 0.99, 80):
        pred = p >= t
        if not pred.any():
            break
        got = float((pred & (y > 0)).sum()) / float(pred.sum())
        if got >= precision:
            return float(t)
        if got > best_precision:
            best, best_precision = float(t), got
    return best


def _scores(p: np.ndarray, y: np.ndarray, t: float) -> dict[str, float]:
    pred = p >= t
    tp = float((pred & (y > 0)).sum())
    return {
        "precision": tp / max(1.0, float(pred.sum())),
        "recall": tp / max(1.0, float((y > 0).sum())),
        "threshold": t,
    }


def fit_linker(
    x: np.ndarray, y: np.ndarray, x_dev: np.ndarray, y_dev: np.ndarray, precision: float, seed: int = 0
) -> tuple[LinkerWeights, dict[str, Any]]:
    """A one-hidden-layer MLP on candidates (16 units, so evidence is weighed jointly: a popular,
    capitalised word that the tagger reads as part of a name is no title).

    The threshold is the lowest whose precision on out-of-fold predictions of the training
    candidates (5-fold) reaches ``precision``; the development candidates only report. (Logistic
    regression recalled about as much, 0.914 against 0.913-0.932 over two trainings, but linked
    "Chris Rock" to *The Rock*.)
    """
    from sklearn.model_selection import cross_val_predict
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(hidden_layer_sizes=(16,), alpha=1e-3, max_iter=1000, random_state=seed)
    oof = cross_val_predict(clf, x, y, cv=5, method="predict_proba")[:, 1]
    threshold = _threshold(oof, y, precision)
    clf.fit(x, y)
    layers = tuple((w.astype(np.float32), b.astype(np.float32)) for w, b in zip(clf.coefs_, clf.intercepts_))
    weights = LinkerWeights(layers, threshold)
    return weights, {
        "kind": "mlp",
        "cross_fitted": _scores(oof, y, threshold),
        "dev": _scores(weights.probability(x_dev), y_dev, threshold),
    }
