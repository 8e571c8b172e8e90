"""Train the understanding model and its title linker: ``tastebud train understanding``.

Data: the study part of redial-dev with its labels (and its catalog titles rewritten year-less
and in lower case), plus the written corpus. A fifth of the study dialogues is held out as the
development set that picks the epoch and the linker threshold. The measure part of redial-dev
and the frozen statement set are never read here.

The sentence encoder stays frozen, so its token states are computed once; the heads then train
in seconds per epoch on a CPU.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from dataclasses import asdict, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from agent.understanding.config import TrainConfig
from agent.understanding.corpus import (
    Example,
    Fillers,
    load_labels,
    load_redial,
    redial_examples,
    title_variants,
    written_examples,
)
from agent.understanding.features import TokenEncoder
from agent.understanding.labels import (
    ERAS,
    GENRE_STANCES,
    INTENTS,
    LABEL_GENRES,
    LASTING,
    OPINIONS,
    PREVIOUS,
    SITUATIONS,
)
from agent.understanding.linker import LinkerWeights
from agent.understanding.model import TAGS, UnderstandingModel
from agent.understanding.recommender_turns import recommender_examples, recommender_variants
from agent.understanding.titles import TitleIndex
from agent.understanding.train_linker import fit_linker, linker_data, said_before
from agent.understanding.train_rows import Row, collate, tensorize
from recsys.versions import package_versions

log = logging.getLogger(__name__)
_YEAR = re.compile(r"[\(\[]\s*(?:18|19|20)\d\d\s*[\)\]]")


def is_dev(example_id: str, fraction: float) -> bool:
    """Whether a study message's dialogue is in the development set (by a fixed hash of the dialogue)."""
    dialog = example_id.split("~")[0].rsplit("-", 1)[0]
    digest = hashlib.sha256(f"tastebud-dev:{dialog}".encode()).hexdigest()
    return int(digest, 16) % 1000 < fraction * 1000


def losses(
    model: UnderstandingModel, batch: dict[str, torch.Tensor], genre_vectors: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Cross-entropy of every head on one batch."""
    out = model(batch["states"], batch["mask"], batch["prev"], genre_vectors, batch["spans"])
    # Label smoothing keeps probabilities usable as confidences (thresholds are applied to them).
    ce = partial(nn.functional.cross_entropy, label_smoothing=0.1)
    parts = {
        "intent": ce(out["intent"], batch["intent"]),
        "lasting": ce(out["lasting"], batch["lasting"]),
        "situation": ce(out["situation"], batch["situation"]),
        "era": ce(out["era"], batch["era"]),
        # Most genres are unmentioned in most messages; weigh the rare stances up.
        "genre": ce(
            out["genre"].reshape(-1, len(GENRE_STANCES)),
            batch["genre"].reshape(-1),
            weight=torch.tensor([0.2, 1.0, 1.0]),
        ),
        "tags": ce(out["tags"].reshape(-1, len(TAGS)), batch["tags"].reshape(-1)),
    }
    if "opinion" in out:
        parts["opinion"] = ce(out["opinion"].reshape(-1, len(OPINIONS)), batch["opinions"].reshape(-1))
    # Tag-only rows (recommenders' turns) carry -100 for every other head; a batch of them alone
    # would make those heads' mean loss 0/0.
    targets = {k: batch["opinions" if k == "opinion" else k] for k in parts}
    return {k: v for k, v in parts.items() if (targets[k] >= 0).any()}


@torch.no_grad()
def dev_scores(model: UnderstandingModel, rows: list[Row], genre_vectors: torch.Tensor) -> dict[str, float]:
    """Development accuracy of each head (genres: F1 of wanted/unwanted decisions)."""
    model.eval()
    hits: dict[str, list[float]] = {k: [] for k in ("intent", "lasting", "situation", "era", "opinion")}
    tp = fp = fn = 0
    tag_tp = tag_fp = tag_fn = 0
    for i in range(0, len(rows), 128):
        batch = collate(rows[i : i + 128])
        out = model(batch["states"], batch["mask"], batch["prev"], genre_vectors, batch["spans"])
        for key in ("intent", "lasting", "situation", "era"):
            hits[key] += (out[key].argmax(-1) == batch[key]).float().tolist()
        pred = out["genre"].argmax(-1)
        gold = batch["genre"]
        tp += int(((pred == gold) & (gold > 0)).sum())
        fp += int(((pred > 0) & (pred != gold)).sum())
        fn += int(((gold > 0) & (pred != gold)).sum())
        tags, gold_tags = out["tags"].argmax(-1), batch["tags"]
        real = gold_tags >= 0
        tag_tp += int(((tags == gold_tags) & (gold_tags > 0) & real).sum())
        tag_fp += int(((tags > 0) & (tags != gold_tags) & real).sum())
        tag_fn += int(((gold_tags > 0) & (tags != gold_tags) & real).sum())
        if "opinion" in out:
            known = batch["opinions"] >= 0
            hits["opinion"] += (out["opinion"].argmax(-1)[known] == batch["opinions"][known]).float().tolist()
    model.train()
    scores = {k: float(np.mean(v)) if v else 0.0 for k, v in hits.items()}
    scores["genre_f1"] = 2 * tp / max(1, 2 * tp + fp + fn)
    scores["tag_f1"] = 2 * tag_tp / max(1, 2 * tag_tp + tag_fp + tag_fn)
    scores["mean"] = float(
        np.mean([scores[k] for k in ("intent", "lasting", "situation", "genre_f1", "opinion", "tag_f1")])
    )
    return scores


CONTEXT_FREE = frozenset(
    INTENTS.index(i)
    for i in ("request", "preference", "instruction", "forget", "show_memory", "reset", "out_of_domain", "chitchat")
)
"""Intents that mean the same whatever the agent did last ("never recommend horror" is a rule after a list too)."""


def shuffle_context(batch: dict[str, torch.Tensor], p: float, gen: torch.Generator) -> None:
    """Give context-free messages a random previous action with probability ``p`` (in place).

    Most written rules and memory commands start a conversation; without this the model learns
    that "start over" after a list is a critique.
    """
    free = torch.tensor([int(i) in CONTEXT_FREE for i in batch["intent"]])
    flip = free & (torch.rand(len(free), generator=gen) < p)
    random_prev = torch.randint(len(PREVIOUS), (len(free),), generator=gen)
    batch["prev"] = torch.where(flip, random_prev, batch["prev"])


def fit_model(
    config: TrainConfig, train: list[Row], dev: list[Row], genre_vectors: torch.Tensor
) -> tuple[UnderstandingModel, dict[str, Any]]:
    """Train the heads; keep the epoch with the best mean development score."""
    torch.manual_seed(config.seed)
    model = UnderstandingModel(config.model)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps = config.epochs * ((len(train) + config.batch_size - 1) // config.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=steps, pct_start=0.1)
    gen = torch.Generator().manual_seed(config.seed)
    best: tuple[float, dict[str, torch.Tensor], dict[str, float], int] = (-1.0, {}, {}, 0)
    history = []
    for epoch in range(1, config.epochs + 1):
        order = torch.randperm(len(train), generator=gen).tolist()
        total = 0.0
        for i in range(0, len(order), config.batch_size):
            batch = collate([train[j] for j in order[i : i + config.batch_size]])
            shuffle_context(batch, config.context_dropout, gen)
            parts = losses(model, batch, genre_vectors)
            loss = sum(parts.values())
            opt.zero_grad()
            loss.backward()  # type: ignore[union-attr]
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            total += float(loss.detach())  # type: ignore[union-attr]
        scores = dev_scores(model, dev, genre_vectors)
        history.append({"epoch": epoch, "loss": total, **scores})
        log.info("epoch %d: loss %.2f, dev %s", epoch, total, {k: round(v, 3) for k, v in scores.items()})
        if scores["mean"] > best[0]:
            best = (scores["mean"], {k: v.detach().clone() for k, v in model.state_dict().items()}, scores, epoch)
    model.load_state_dict(best[1])
    model.eval()
    return model, {"best_epoch": best[3], "dev": best[2], "history": history}


# ---- the whole run ---------------------------------------------------------------------------
def sha256(path: Path) -> str:
    """Hex digest of a file (recorded with the model, so a model says what it was trained on)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fold_of(example_id: str, folds: int) -> int:
    """The cross-fitting fold of a message: by dialogue for real messages, by corpus line for written ones."""
    group = example_id.split("~")[0].rsplit("-", 1)[0]
    return int(hashlib.sha256(f"tastebud-fold:{group}".encode()).hexdigest(), 16) % folds


def cross_fitted_candidates(
    config: TrainConfig,
    examples: list[Example],
    rows: list[Row],
    dev: list[Row],
    titles: TitleIndex,
    genre_vectors: torch.Tensor,
) -> tuple[np.ndarray, np.ndarray]:
    """Linker training data whose tag probabilities come from models that never saw the message.

    Each fold's messages are tagged by a model trained on the other folds, so the linker learns how
    far to trust the tagger on unseen text, not on text it memorised.
    """
    xs, ys = [], []
    for k in range(config.folds):
        inside = [i for i, e in enumerate(examples) if fold_of(e.id, config.folds) != k]
        held = [i for i, e in enumerate(examples) if fold_of(e.id, config.folds) == k]
        log.info(
            "linker fold %d/%d: tagging %d messages with a model trained on %d",
            k + 1,
            config.folds,
            len(held),
            len(inside),
        )
        fold_config = replace(config, epochs=config.fold_epochs)
        model, _ = fit_model(fold_config, [rows[i] for i in inside], dev, genre_vectors)
        x, y, _ = linker_data(
            model, [examples[i] for i in held], [rows[i] for i in held], titles, genre_vectors, said_before(examples)
        )
        xs.append(x)
        ys.append(y)
    return np.concatenate(xs), np.concatenate(ys)


# What shapes the trained numbers: the encoder's token states and the arithmetic. The data's hashes
# alone do not make a run repeatable: a retrain of the shipped recipe with the same data and seed gave
# other weights, and the versions it was trained with were unknown (EVALUATION.md section 6).
VERSIONED = ("torch", "numpy", "transformers", "tokenizers", "sentence-transformers")


def run(config: TrainConfig, encoder: TokenEncoder, titles: TitleIndex) -> dict[str, Any]:
    """Build the data, train the heads and the linker, and save both to ``config.out``."""
    started = time.time()
    labels = load_labels(config.labels_path)
    messages = load_redial(config.redial_path)
    study = redial_examples(messages, labels, titles, "study")
    fillers = Fillers.load(config.fillers_path)
    written = [
        e
        for n, path in enumerate(config.written_paths)
        for e in written_examples(path, fillers, titles, config.seed + n, config.copies, config.genre_swaps)
    ]
    dev = [e for e in study if is_dev(e.id, config.dev_fraction)]
    train_real = [e for e in study if not is_dev(e.id, config.dev_fraction)]
    variants = [v for e in train_real for v in title_variants(e)]
    dev_variants = [v for e in dev for v in title_variants(e)]
    turns = []
    if config.recommender_turns:
        turns = [e for e in recommender_examples(messages, titles, "study") if not is_dev(e.id, config.dev_fraction)]
        turns += [v for e in turns for v in recommender_variants(e, titles)]
    train = train_real + variants + turns + written
    log.info(
        "training on %d study messages (+%d title variants), %d recommender turns (titles only) and %d written; "
        "%d development messages",
        len(train_real),
        len(variants),
        len(turns),
        len(written),
        len(dev),
    )
    genre_vectors = encoder.names(list(LABEL_GENRES))
    train_rows = tensorize(train, encoder)
    dev_rows = tensorize(dev, encoder)
    x, y = cross_fitted_candidates(config, train, train_rows, dev_rows, titles, genre_vectors)
    model, report = fit_model(config, train_rows, dev_rows, genre_vectors)
    dev_link = dev + dev_variants
    x_dev, y_dev, _ = linker_data(
        model, dev_link, tensorize(dev_link, encoder), titles, genre_vectors, said_before(dev_link)
    )
    weights, link_report = fit_linker(x, y, x_dev, y_dev, config.link_precision)
    meta = {
        "model": config.model.to_dict(),
        "vocab": {
            "intents": INTENTS,
            "lasting": LASTING,
            "situations": SITUATIONS,
            "eras": ERAS,
            "opinions": OPINIONS,
            "previous": PREVIOUS,
            "tags": TAGS,
        },
        "training": {
            "seed": config.seed,
            "epochs": config.epochs,
            "best_epoch": report["best_epoch"],
            "dev": report["dev"],
            "linker": link_report,
            "messages": {
                "study": len(train_real),
                "title_variants": len(variants),
                "recommender_turns": len(turns),
                "written": len(written),
                "dev": len(dev),
            },
            "data_sha256": {
                "redial_labels": sha256(config.labels_path),
                "fillers": sha256(config.fillers_path),
                **{path.name: sha256(path) for path in config.written_paths},
            },
            "versions": package_versions(VERSIONED),
            "seconds": round(time.time() - started, 1),
            "config": {k: v for k, v in asdict(config).items() if k != "model"},
        },
    }
    save(config.out, model, weights, meta)
    meta["history"] = report["history"]
    return meta


def save(folder: Path, model: UnderstandingModel, weights: LinkerWeights, meta: dict[str, Any]) -> None:
    """Write ``model.safetensors``, ``linker.json`` and ``config.json``."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / "model.safetensors"))
    weights.save(folder / "linker.json")
    (folder / "config.json").write_text(
        json.dumps(meta, indent=1, default=lambda o: str(o) if isinstance(o, Path) else list(o))
    )
