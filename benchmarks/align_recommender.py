"""Aligned vs trained SASRec for persona users (issue 17, points 5-6): acceptance and offline NDCG@10.

The personas' targets are each user's last ``--sessions`` items, so every model here trains and is
aligned on ``persona_split`` (sequences without them): the reference SASRec-CE is trained on it
(the README's settings: window stride 16, history items out of the softmax), S-DPO and DPO align
copies of it with preferences mined from the same sequences (``recsys.seqrec.preferences``), and
``tastebud simulate --mode persona`` runs with each (``--recommender-path``). Offline figures are
the full-ranking metrics of the leave-one-out targets on the persona split (its validation and
test targets are among the held-out items, so they are unseen by every model here).

    python benchmarks/align_recommender.py --personas 100 --seeds 0 --out runs/align-persona

JSON last.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.simulate.persona import PersonaConfig, persona_split  # noqa: E402
from agent.simulate.report import summarize  # noqa: E402
from agent.simulate.runner import SimulationConfig, run_local  # noqa: E402
from recsys.datasets import load_catalog  # noqa: E402
from recsys.seqrec.align import AlignConfig, align  # noqa: E402
from recsys.seqrec.align_cli import add_alignment_arguments, alignment_config  # noqa: E402
from recsys.seqrec.data import from_catalog, leave_one_out  # noqa: E402
from recsys.seqrec.evaluate import evaluate  # noqa: E402
from recsys.seqrec.preferences import mine_preferences  # noqa: E402
from recsys.seqrec.recommender import create, load, save  # noqa: E402
from recsys.seqrec.train import TrainConfig  # noqa: E402

log = logging.getLogger("benchmarks.align_recommender")


@dataclass(frozen=True, kw_only=True)
class BenchConfig:
    """One benchmark run.

    Attributes:
        dataset: Catalog.
        sessions: Sessions per persona (= items held out of training per user).
        personas: Personas per seed.
        seeds: Persona seeds (evaluation seeds: 0, 1, 2).
        methods: Alignment methods compared with the reference.
        align: Alignment settings shared by the methods (``method`` is set per method).
        mine_per_user: Mined rows per user.
        pool: Rejected items are drawn from the model's best ``pool`` unpicked items (None: the very top).
        reference: A reference already trained on the persona split (skips training).
        train_seed: Seed of the reference's training.
        train_epochs: Upper bound on the reference's epochs.
        patience: Epochs without a better validation NDCG@10 before the reference stops.
    """

    dataset: str = "ml-100k"
    sessions: int = 3
    personas: int = 100
    seeds: tuple[int, ...] = (0,)
    methods: tuple[str, ...] = ("sdpo", "dpo")
    align: AlignConfig = AlignConfig()
    mine_per_user: int = 20
    pool: int | None = 50
    reference: str | None = None
    train_seed: int = 42
    train_epochs: int = 200
    patience: int = 10


def _offline(rec: Any, split: Any) -> dict[str, dict[str, float]]:
    return {stage: evaluate(rec.score, split, stage, ("full",))["full"] for stage in ("valid", "test")}


def main(cfg: BenchConfig, out: Path) -> dict[str, Any]:
    """Train (or load) the reference, align it per method, run the personas with each; the report."""
    out.mkdir(parents=True, exist_ok=True)
    data = from_catalog(load_catalog(cfg.dataset))
    split = persona_split(leave_one_out(data), cfg.sessions)
    models: dict[str, Path] = {}
    if cfg.reference:
        models["reference"] = Path(cfg.reference)
    else:
        rec = create("sasrec-ce", data.item_ids, {"loss.exclude_seen": True}, seed=cfg.train_seed)
        t0 = time.perf_counter()
        rec.fit(
            split,
            TrainConfig(
                epochs=cfg.train_epochs,
                patience=cfg.patience,
                window_stride=16,
                seed=cfg.train_seed,
                progress=False,
                device="cpu",
            ),
        )
        log.info("reference trained in %.0f s", time.perf_counter() - t0)
        models["reference"] = save(rec, out / "reference")
    report: dict[str, Any] = {"config": asdict(cfg), "offline": {}, "alignment": {}, "persona": {}}
    reference = load(models["reference"])
    report["offline"]["reference"] = _offline(reference, split)
    for method in cfg.methods:
        rec = copy.deepcopy(reference)
        run_cfg = AlignConfig(**{**asdict(cfg.align), "method": method})
        result = align(
            rec.model,
            lambda cur: mine_preferences(cur, split, run_cfg.n_rejected, cfg.mine_per_user, pool=cfg.pool),
            run_cfg,
        )
        rec.model.cpu()
        models[method] = save(rec, out / method)
        report["alignment"][method] = result.to_dict()
        report["offline"][method] = _offline(rec, split)
        log.info("%s: %s", method, report["offline"][method])
    for name, path in models.items():
        for seed in cfg.seeds:
            sim = SimulationConfig(
                dataset=cfg.dataset,
                mode="persona",
                episodes=cfg.personas,
                seed=seed,
                persona=PersonaConfig(sessions=cfg.sessions),
                recommender_path=str(path),
            )
            t0 = time.perf_counter()
            figures = summarize(sim, run_local(sim, progress=False))
            figures["wall_s"] = round(time.perf_counter() - t0, 1)
            report["persona"].setdefault(name, {})[str(seed)] = figures
            log.info("persona %s seed %d: acceptance %s", name, seed, figures.get("acceptance_rate"))
            (out / "report.json").write_text(
                json.dumps(report, indent=2, default=str)
            )  # a killed run keeps its figures
    report["git"] = subprocess.run(
        ["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    (out / "report.json").write_text(json.dumps(report, indent=2, default=str))
    return report


def cli() -> None:
    """Flags -> ``BenchConfig``; prints one JSON object last."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--personas", type=int, default=100, help="personas per seed")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="persona seeds (evaluation seeds 0 1 2)")
    p.add_argument("--reference", help="a SASRec already trained on the persona split (skips training)")
    p.add_argument("--train-epochs", type=int, default=200, help="upper bound on the reference's epochs")
    p.add_argument("--patience", type=int, default=10, help="reference: epochs without a better validation NDCG@10")
    add_alignment_arguments(p)  # the flags of 'tastebud tune recommender'
    p.add_argument("--out", default="runs/align-persona", help="report folder")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cfg = BenchConfig(
        personas=args.personas,
        seeds=tuple(args.seeds),
        reference=args.reference,
        train_epochs=args.train_epochs,
        patience=args.patience,
        pool=args.pool or None,  # 0: the reference's top --n-rejected, as in the CLI
        align=alignment_config(args),
    )
    report = main(cfg, Path(args.out))
    print(json.dumps(report, default=str))  # noqa: T201


if __name__ == "__main__":
    cli()
