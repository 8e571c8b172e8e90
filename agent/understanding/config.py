"""Configuration of the understanding model, its training and the reader that uses it, importable without torch.

``tastebud train understanding --help`` reads its defaults from here, so help stays instant.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from agent.understanding.corpus import REPO_DATA, default_redial_path

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
"""Where the shipped model lives (``tastebud train understanding`` writes here by default)."""


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """Shape of the heads.

    Attributes:
        d_in: Width of the frozen encoder's token states.
        d_model: Width of the trained layers.
        n_layers: Trained transformer layers over the token states.
        n_heads: Attention heads of those layers.
        dropout: Dropout in training.
        max_tokens: Longest message read, in word pieces (longer ones are cut).
        opinion_window: Word pieces on each side of a span that the opinion head reads as its near context.
    """

    d_in: int = 384
    d_model: int = 192
    n_layers: int = 1
    n_heads: int = 4
    dropout: float = 0.1
    max_tokens: int = 128
    opinion_window: int = 4

    def __post_init__(self) -> None:
        assert self.d_model % self.n_heads == 0, "d_model must be a multiple of n_heads"
        assert self.n_layers >= 0 and self.max_tokens >= 8

    def to_dict(self) -> dict[str, int | float]:
        """JSON-able fields (saved beside the weights)."""
        return asdict(self)


def written_files(folder: Path) -> list[Path]:
    """The written corpus files of a folder (``written_*.jsonl``), in name order."""
    return sorted(folder.glob("written_*.jsonl"))


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """One training run.

    Attributes:
        redial_path: redial-dev's utterances.jsonl (the study part is trained on).
        labels_path: Labels of redial-dev messages.
        written_paths: The team-written corpus files (default: every ``written_*.jsonl`` beside the labels).
        fillers_path: Placeholder values of the written corpus.
        out: Folder to write the model to.
        model: Shape of the heads.
        epochs: Passes over the data (the best development epoch is kept).
        batch_size: Messages per step.
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        copies: Filled copies of each written row with placeholders.
        genre_swaps: Copies of each written row that names its genres outright, with other genres'
            names swapped in (``corpus.genre_swapped``), so no genre's name is a cue of polarity.
            Off in the shipped model: tried with 2 (2026-12-07), it lowered the statements stored
            right and title-linking precision (EVALUATION.md section 6).
        context_dropout: Probability that a context-free message is seen after a random previous action.
        recommender_turns: Also train the title tags on the recommenders' turns of the study part
            (titles located by their picker names; see ``agent.understanding.recommender_turns``).
            Off in the shipped model: tried 2026-12-07, it did not lift title-linking precision and
            lowered the statements stored right (EVALUATION.md section 6).
        dev_fraction: Share of study dialogues held out to choose the epoch and the linker threshold.
        link_precision: Precision (on cross-fitted candidates) the linker threshold must reach.
        folds: Cross-fitting folds for the linker's training data.
        fold_epochs: Epochs of each fold's model.
        seed: Seed of every random choice.
    """

    redial_path: Path = field(default_factory=default_redial_path)
    labels_path: Path = REPO_DATA / "redial_labels.jsonl"
    written_paths: tuple[Path, ...] = field(default_factory=lambda: tuple(written_files(REPO_DATA)))
    fillers_path: Path = REPO_DATA / "fillers.json"
    out: Path = WEIGHTS_DIR
    model: ModelConfig = field(default_factory=ModelConfig)
    epochs: int = 30
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.01
    copies: int = 3
    genre_swaps: int = 0
    context_dropout: float = 0.5
    recommender_turns: bool = False
    dev_fraction: float = 0.2
    link_precision: float = 0.95
    folds: int = 2
    fold_epochs: int = 15
    seed: int = 0

    def __post_init__(self) -> None:
        assert self.epochs >= 1 and self.batch_size >= 1 and self.lr > 0
        assert 0.0 < self.dev_fraction < 1.0 and self.copies >= 1 and self.folds >= 2
        assert self.genre_swaps >= 0


@dataclass(frozen=True, kw_only=True)
class ReaderConfig:
    """How model probabilities become decisions.

    Attributes:
        weights: Folder of the trained model (``model.safetensors``, ``linker.json``, ``config.json``).
        genre_threshold: A genre is wanted / unwanted above this probability.
        hard_mood: A genre ruled out only by meaning ("nothing scary") is filtered above this probability;
            below it, it only lowers scores.
        soft_weight: Scale of soft genre boosts (added to log-probabilities).
        soft_floor: Below this probability a genre's stance is noise and moves nothing.
        lasting_threshold: Minimum P(preference) + P(rule) to store anything.
        situation_threshold: Minimum probability of a situation to scope by it.
        era_threshold: Minimum probability of an older/newer lean.
        clause_genres: Read each genre in its own clause when several genres are in play across the
            message's clauses ("big on action, not so much on dramas").
        unknown_title_threshold: A span the tagger reads as a title, with no catalog film linked, is
            reported as a film the catalog lacks above this mean title probability (chosen on the
            study part's development messages, EVALUATION §6).
    """

    weights: Path = WEIGHTS_DIR
    genre_threshold: float = 0.5
    hard_mood: float = 0.75
    soft_weight: float = 1.0
    soft_floor: float = 0.2
    lasting_threshold: float = 0.5
    situation_threshold: float = 0.5
    era_threshold: float = 0.5
    clause_genres: bool = True
    unknown_title_threshold: float = 0.7
