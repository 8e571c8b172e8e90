"""Training the understanding model: a tiny configuration on a slice of the written corpus, real code paths."""

from __future__ import annotations

import numpy as np
import torch

from agent.understanding.config import TrainConfig
from agent.understanding.corpus import REPO_DATA, Fillers, written_examples
from agent.understanding.features import TokenEncoder
from agent.understanding.labels import LABEL_GENRES
from agent.understanding.linker import LinkerWeights
from agent.understanding.model import ModelConfig, UnderstandingModel
from agent.understanding.titles import TitleIndex
from agent.understanding.train import VERSIONED, fit_model, fold_of, losses, save
from agent.understanding.train_linker import fit_linker, linker_data
from agent.understanding.train_rows import collate, tag_sequence, tensorize
from recsys.versions import package_versions


def test_bio_tags_follow_character_spans() -> None:
    offsets = [(0, 0), (0, 1), (2, 7), (8, 11), (12, 17), (0, 0)]  # [CLS] I loved toy story [SEP]
    assert tag_sequence(offsets, [(8, 17, "TITLE")]) == [-100, 0, 0, 1, 2, -100]


def test_folds_keep_a_dialogue_together() -> None:
    assert fold_of("redial-valid-407-2", 2) == fold_of("redial-valid-407-8~lower", 2)


def test_a_tiny_model_trains_and_saves(catalog, encoder, tmp_path) -> None:
    titles = TitleIndex(catalog)
    fillers = Fillers.load(REPO_DATA / "fillers.json")
    every = written_examples(REPO_DATA / "written_general.jsonl", fillers, titles, seed=0, copies=1)
    examples = [e for e in every if e.spans][:48] + [e for e in every if not e.spans][:48]  # films, and none
    examples = [examples[i] for i in np.random.default_rng(0).permutation(len(examples))]
    tokens = TokenEncoder(encoder, max_tokens=48)
    rows = tensorize(examples, tokens)
    genre_vectors = tokens.names(list(LABEL_GENRES))
    config = TrainConfig(model=ModelConfig(d_model=32, n_heads=2, max_tokens=48), epochs=3, batch_size=16, out=tmp_path)
    torch.manual_seed(0)
    before = {k: v.clone() for k, v in UnderstandingModel(config.model).state_dict().items()}
    model, report = fit_model(config, rows[:80], rows[80:], genre_vectors)
    assert len(report["history"]) == 3 and report["history"][-1]["loss"] < report["history"][0]["loss"]
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
    assert set(before) - set(changed) == set(), set(before) - set(changed)
    parts = losses(model, collate(rows[:8]), genre_vectors)
    assert set(parts) >= {"intent", "lasting", "situation", "era", "genre", "tags"}
    x, y, owner = linker_data(model, examples, rows, titles, genre_vectors)
    assert x.shape[0] == y.shape[0] == len(owner) and y.sum() > 0
    weights, report_link = fit_linker(x, y, x, y, precision=0.8)
    assert 0.2 <= weights.threshold <= 0.95 and set(report_link) >= {"kind", "cross_fitted", "dev"}
    save(tmp_path, model, weights, {"model": config.model.to_dict(), "vocab": {}})
    assert {p.name for p in tmp_path.iterdir()} == {"model.safetensors", "linker.json", "config.json"}
    assert all(np.isfinite(w).all() and np.isfinite(b).all() for w, b in weights.layers)
    assert np.allclose(LinkerWeights.load(tmp_path / "linker.json").probability(x), weights.probability(x), atol=1e-6)


def test_a_training_records_the_versions_that_shape_its_numbers() -> None:
    versions = package_versions(VERSIONED)
    assert versions["torch"] == torch.__version__ and versions["numpy"] == np.__version__
    assert {"python", "transformers", "tokenizers", "sentence-transformers"} <= set(versions)
    assert package_versions(["no-such-package-here"])["no-such-package-here"] == "missing"
