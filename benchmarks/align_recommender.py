"""Aligned vs trained SASRec for persona users (issue 17, points 5-6): acceptance and offline NDCG@10.

The personas' targets are each user's last ``--sessions`` items, so every model here trains and is
aligned on ``persona_split`` (sequences without them): the reference SASRec-CE is trained on it
(the README's settings: window stride 16, history items out of the softmax), S-DPO and DPO align
copies of it with preferences mined from the same sequences (``recsys.seqrec.preferences``), and
``tastebud simulate --mode persona`` runs with each (``--recommender-path``). Offline figures are
the full-ranking metrics of the leave-one-out targets on the persona split (its validation and
test targets are among the held-out items, so they are unseen by every model here).

With ``--logged-personas N`` the preferences also come from conversations: N training personas
(seed 170017, drawn only from dataset users no evaluation persona comes from) are served by the
reference, and the lists they turned down and the film they took are logged as any user's would be
(``tastebud tune data --recommender-path``); ``--mine-per-user 0`` aligns with these alone. Their
accepted films are their own held-out items, among them the leave-one-out targets of those users,
so the offline figures are then computed on the other users only (``offline_users``).

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

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.simulate.mcr import MCRConfig  # noqa: E402
from agent.simulate.persona import PersonaConfig, make_persona, persona_split  # noqa: E402
from agent.simulate.report import summarize  # noqa: E402
from agent.simulate.runner import SimulationConfig, run_local  # noqa: E402
from recsys.datasets import load_catalog  # noqa: E402
from recsys.seqrec.align import AlignConfig, align  # noqa: E402
from recsys.seqrec.align_cli import add_alignment_arguments, alignment_config  # noqa: E402
from recsys.seqrec.data import Split, from_catalog, leave_one_out  # noqa: E402
from recsys.seqrec.evaluate import evaluate  # noqa: E402
from recsys.seqrec.preferences import Preferences, from_rows, item_attributes, mine_preferences  # noqa: E402
from recsys.seqrec.recommender import create, load, save  # noqa: E402
from recsys.seqrec.train import TrainConfig  # noqa: E402

log = logging.getLogger("benchmarks.align_recommender")
LOGGED_LISTS = "lists.json"  # the logged personas' list preferences and dataset users, reused by a rerun


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
        shared_attributes: Mined rejected items share at least this many askable attribute values
            with the accepted item (0: any item; ``recsys.seqrec.preferences.item_attributes``).
        reference: A reference already trained on the persona split (skips training).
        train_seed: Seed of the reference's training.
        train_epochs: Upper bound on the reference's epochs.
        patience: Epochs without a better validation NDCG@10 before the reference stops.
        logged_personas: Training personas whose logged lists join the preferences (0: none).
    """

    dataset: str = "ml-100k"
    sessions: int = 3
    personas: int = 100
    seeds: tuple[int, ...] = (0,)
    methods: tuple[str, ...] = ("sdpo", "dpo")
    align: AlignConfig = AlignConfig()
    mine_per_user: int = 20
    pool: int | None = 50
    shared_attributes: int = 0
    reference: str | None = None
    train_seed: int = 42
    train_epochs: int = 200
    patience: int = 10
    logged_personas: int = 0


def _offline(rec: Any, split: Any) -> dict[str, dict[str, float]]:
    return {stage: evaluate(rec.score, split, stage, ("full",))["full"] for stage in ("valid", "test")}


def _evaluation_users(cfg: BenchConfig, split: Split) -> frozenset[str]:
    """The dataset users the evaluation personas (every seed of ``cfg.seeds``) are built from."""
    from agent.simulate.mcr import Environment

    env = Environment(load_catalog(cfg.dataset), MCRConfig(), seed=0)
    persona = PersonaConfig(sessions=cfg.sessions)
    return frozenset(
        make_persona(env.catalog, env.space, split, persona, seed, i).source_user
        for seed in cfg.seeds
        for i in range(cfg.personas)
    )


def _describe(config: Any) -> Any:
    """A dataclass as plain JSON values (sets sorted), to tell whether a saved run had the same one."""
    return json.loads(json.dumps(asdict(config), default=lambda o: sorted(o) if isinstance(o, frozenset) else str(o)))


def _logged_lists(cfg: BenchConfig, split: Split, reference: Path, out: Path) -> tuple[Preferences, frozenset[str]]:
    """List preferences of ``cfg.logged_personas`` training personas served by the reference; their users."""
    from agent.tuning.data import from_log
    from agent.tuning.simulate import SimulatedUsersConfig, drawn_users, run_users
    from memory.feedback import FeedbackLog
    from memory.health import FILES
    from memory.store import SQLiteStore

    users = SimulatedUsersConfig(
        dataset=cfg.dataset,
        personas=cfg.logged_personas,
        mcr=0,
        persona=PersonaConfig(sessions=cfg.sessions),  # as the evaluation personas: 10 turns, lists of 10
        mcr_protocol=MCRConfig(k=PersonaConfig().k),
        exclude_users=_evaluation_users(cfg, split),
        recommender_path=reference,
    )
    saved = out / "logged" / LOGGED_LISTS
    if saved.is_file():  # an earlier run of the same configuration: its lists and users
        record = json.loads(saved.read_text())
        if record["config"] != _describe(users):
            raise ValueError(f"{saved} was logged with other personas; use another --out")
        log.info("logged list preferences of %d users read from %s", len(record["users"]), saved)
        return from_rows(record["rows"], split.data.item_ids), frozenset(record["users"])
    if (out / "logged").exists():
        raise ValueError(f"{out / 'logged'} holds an unfinished logging run; use another --out")
    t0 = time.perf_counter()
    run_users(users, out / "logged")
    store = SQLiteStore(out / "logged" / FILES["memory"])
    try:
        rows = from_log(FeedbackLog(store)).lists
    finally:
        store.close()
    trained = drawn_users(users)
    saved.write_text(json.dumps({"config": _describe(users), "rows": rows, "users": sorted(trained)}, default=str))
    prefs = from_rows(rows, split.data.item_ids)
    log.info("%d logged list preferences (%d pairs) in %.0f s", len(prefs), prefs.pairs, time.perf_counter() - t0)
    return prefs, trained


def _without_users(split: Split, users: frozenset[str]) -> Split:
    """The split with the given users left out of evaluation (their held-out items were trained on)."""
    keep = np.array([split.data.user_ids[u] not in users for u in split.eval_users], bool)
    return Split(split.data, split.train, split.eval_users[keep], split.valid_targets[keep], split.test_targets[keep])


def main(cfg: BenchConfig, out: Path) -> dict[str, Any]:
    """Train (or load) the reference, align it per method, run the personas with each; the report."""
    out.mkdir(parents=True, exist_ok=True)
    catalog = load_catalog(cfg.dataset)
    data = from_catalog(catalog)
    split = persona_split(leave_one_out(data), cfg.sessions)
    attributes = item_attributes(catalog, data) if cfg.shared_attributes else None
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
    logged, offline_split = Preferences.empty(), split
    if cfg.logged_personas:
        logged, trained_users = _logged_lists(cfg, split, models["reference"], out)
        offline_split = _without_users(split, trained_users)
        report["logged"] = {"rows": len(logged), "pairs": logged.pairs, "users": len(trained_users)}
    report["offline_users"] = len(offline_split.eval_users)
    report["offline"]["reference"] = _offline(reference, offline_split)
    for method in cfg.methods:
        rec = copy.deepcopy(reference)
        run_cfg = AlignConfig(**{**asdict(cfg.align), "method": method})

        def preferences(cur: Any, run_cfg: AlignConfig = run_cfg) -> Preferences:
            if not cfg.mine_per_user:
                return logged
            mined = mine_preferences(
                cur,
                split,
                run_cfg.n_rejected,
                cfg.mine_per_user,
                pool=cfg.pool,
                attributes=attributes,
                min_shared=cfg.shared_attributes,
            )
            return logged + mined

        result = align(rec.model, preferences, run_cfg)
        rec.model.cpu()
        models[method] = save(rec, out / method)
        report["alignment"][method] = result.to_dict()
        report["offline"][method] = _offline(rec, offline_split)
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
    p.add_argument(
        "--logged-personas",
        type=int,
        default=0,
        help="training personas served by the reference whose logged lists join the preferences (0: none)",
    )
    p.add_argument(
        "--mine-per-user", type=int, default=20, help="rows mined per user from the sequences (0: logged lists only)"
    )
    p.add_argument("--methods", nargs="+", default=["sdpo", "dpo"], choices=["sdpo", "dpo"], help="methods compared")
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
        shared_attributes=args.shared_attributes,
        align=alignment_config(args),
        logged_personas=args.logged_personas,
        mine_per_user=args.mine_per_user,
        methods=tuple(args.methods),
    )
    if cfg.mine_per_user == 0 and not cfg.logged_personas:
        p.error("nothing to align with: --mine-per-user 0 needs --logged-personas")
    report = main(cfg, Path(args.out))
    print(json.dumps(report, default=str))  # noqa: T201


if __name__ == "__main__":
    cli()
