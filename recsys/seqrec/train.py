"""Training loop for the neural sequential models: plain PyTorch, early stopping on validation NDCG@10.

Runs on CPU or one GPU as is, and on several GPUs under ``accelerate launch`` (data parallel:
each process takes every world-th batch). Mixed precision (bf16, or fp16 where bf16 is not
supported) is used on CUDA only.

Override ``Trainer.compute_loss`` to try another objective without copying the loop.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from tqdm.auto import tqdm

from recsys.errors import CheckpointError
from recsys.seqrec import losses
from recsys.seqrec.data import Split
from recsys.seqrec.evaluate import evaluate
from recsys.seqrec.losses import LossConfig
from recsys.seqrec.model import SASRec
from recsys.seqrec.names import LOSS_NORMS, SAMPLERS  # defined there, so the CLI lists them without torch
from recsys.seqrec.sampling import Batch, cloze_batches, epoch_rows, epoch_targets, left_pad, next_item_batches

logger = logging.getLogger(__name__)

CHECKPOINT = "last.pt"


CHECKPOINT_KEYS = frozenset(
    "model optimizer model_config loss_config epoch best_epoch best_valid best_model history generator torch_rng".split()
)


def read_checkpoint(path: Path, model_config: dict[str, Any], loss_config: dict[str, Any]) -> dict[str, Any]:
    """Load ``last.pt`` for resuming, checking it belongs to the model about to be trained.

    Raises:
        CheckpointError: The file is unreadable or incomplete, or was written for a model or loss
            whose settings differ (resuming it would fail half-way or silently train another model).
    """
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises pickle, zip and runtime errors alike for damaged files
        raise CheckpointError(
            f"{path} is not a readable checkpoint ({type(exc).__name__}: {exc}); delete it to start afresh"
        ) from exc
    missing = CHECKPOINT_KEYS - set(ckpt) if isinstance(ckpt, dict) else CHECKPOINT_KEYS
    if missing:
        raise CheckpointError(f"{path} is incomplete (no {sorted(missing)}); delete it to start afresh")
    for what, saved, now in (("model", ckpt["model_config"], model_config), ("loss", ckpt["loss_config"], loss_config)):
        differ = sorted(k for k in saved.keys() | now.keys() if k not in saved or k not in now or saved[k] != now[k])
        if differ:
            shown = ", ".join(f"{k}: {_shown(saved, k)} in the checkpoint, {_shown(now, k)} now" for k in differ)
            raise CheckpointError(
                f"{path} was written for another {what} ({shown}); resume with that run's settings, "
                "or delete the checkpoint to start afresh"
            )
    return ckpt


def _shown(config: dict[str, Any], key: str) -> str:
    return repr(config[key]) if key in config else "absent"


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """Optimisation settings (the model's shape and loss live in the model's own config).

    Attributes:
        epochs: Upper bound on epochs.
        batch_size: Training rows per step (per process under accelerate).
        lr: Adam learning rate.
        weight_decay: AdamW weight decay.
        grad_clip: Max gradient norm; None disables clipping.
        patience: Stop after this many epochs without a better validation NDCG@10.
        eval_every: Validate every N epochs.
        eval_batch_size: Users scored at once during validation.
        seed: Seeds sampling (a ``torch.Generator``), initialisation and dropout.
        device: "auto" (CUDA when available), "cpu" or "cuda".
        amp: Mixed precision on CUDA (ignored on CPU).
        checkpoint_dir: Where ``last.pt`` is written each epoch; None disables checkpoints.
        resume: Continue from ``checkpoint_dir/last.pt`` when it exists.
        max_steps_per_epoch: Cap on steps per epoch (tests, smoke runs); None = whole epoch.
        progress: Show tqdm progress bars.
        window_stride: Next-item models: training windows end this many items apart and supervise
            only their newest ``window_stride`` targets (more context per target, more rows per
            epoch; ``sampling.make_windows``); None = windows overlapping by one item.
        sampler: Next-item models: "windows" covers every training target once per epoch in
            batches of similar length (fast); "users" is the SASRec reference sampler, one row per
            user (its newest ``max_len + 1`` items) in batches mixing lengths, which weighs every
            target alike (``sampling.next_item_batches``).
        loss_norm: Next-item models: "batch" takes each batch's loss as the mean over its targets,
            so with length-grouped batches a short history's targets weigh more than a long
            one's; "epoch" divides each batch's summed loss by the epoch's mean targets per batch,
            so every target weighs the same at the speed of length-grouped batches.
    """

    epochs: int = 200
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.0
    grad_clip: float | None = 5.0
    patience: int = 10
    eval_every: int = 1
    eval_batch_size: int = 512
    seed: int = 42
    device: str = "auto"
    amp: bool = True
    checkpoint_dir: Path | None = None
    resume: bool = False
    max_steps_per_epoch: int | None = None
    progress: bool = True
    window_stride: int | None = None
    sampler: Literal["windows", "users"] = "windows"
    loss_norm: Literal["batch", "epoch"] = "batch"

    def __post_init__(self) -> None:
        assert self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}"
        assert self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}"
        assert self.lr > 0, f"lr must be positive, got {self.lr}"
        assert self.patience >= 1, f"patience must be >= 1, got {self.patience}"
        assert self.eval_every >= 1, f"eval_every must be >= 1, got {self.eval_every}"
        assert self.sampler in SAMPLERS, f"sampler must be one of {SAMPLERS}, got {self.sampler!r}"
        assert self.sampler == "windows" or self.window_stride is None, "the users sampler takes no window_stride"
        assert self.loss_norm in LOSS_NORMS, f"loss_norm must be one of {LOSS_NORMS}, got {self.loss_norm!r}"
        assert self.device in ("auto", "cpu", "cuda"), f"device must be auto, cpu or cuda, got {self.device!r}"
        assert not self.resume or self.checkpoint_dir is not None, "resume needs a checkpoint_dir"
        if self.checkpoint_dir is not None:
            object.__setattr__(self, "checkpoint_dir", Path(self.checkpoint_dir))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (paths as strings)."""
        d = asdict(self)
        d["checkpoint_dir"] = str(self.checkpoint_dir) if self.checkpoint_dir else None
        return d


@dataclass
class FitResult:
    """What training did.

    Attributes:
        epochs_trained: Epochs run (including those before a resume).
        best_epoch: Epoch (1-based) whose weights were kept.
        best_valid_ndcg: Validation NDCG@10 (full ranking, history masked) of the kept weights.
        seconds_per_epoch: Mean wall time of the training part of an epoch (validation excluded).
        history: One dict per epoch: epoch, loss, seconds, valid metrics.
        main_process: False in the other processes of an ``accelerate launch`` / ``torchrun`` run,
            which hold the same weights and should leave reporting and saving to the main one.
    """

    epochs_trained: int = 0
    best_epoch: int = 0
    best_valid_ndcg: float = -math.inf
    seconds_per_epoch: float = 0.0
    history: list[dict[str, float]] = field(default_factory=list)
    main_process: bool = True


def resolve_device(name: str) -> torch.device:
    """ "auto" -> CUDA when available, else CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda requested but torch sees no CUDA device")
    return torch.device(name)


@torch.inference_mode()
def model_scores(model: SASRec, histories: Sequence[np.ndarray], device: torch.device | None = None) -> torch.Tensor:
    """(B, n_items + 1) next-item scores for raw histories (the newest ``max_len`` items are read)."""
    device = device or model.item_emb.weight.device
    seq = left_pad([np.asarray(h, np.int64)[-model.cfg.max_len :] for h in histories]).to(device)
    return model.next_item_scores(seq)


class Trainer:
    """Trains one neural sequential model on a leave-one-out split."""

    def __init__(
        self,
        model: SASRec,
        loss: LossConfig,
        split: Split,
        cfg: TrainConfig,
        meta: dict[str, Any] | None = None,
    ) -> None:
        """Set up the trainer.

        Args:
            model: The network (SASRec or BERT4Rec), freshly initialised or pre-trained.
            loss: Objective and its parameters.
            split: Leave-one-out data; only ``train`` and the validation targets are read.
            cfg: Optimisation settings.
            meta: Extra JSON-safe facts stored in checkpoints (model kind, config, item ids...).
        """
        assert model.cfg.n_items == split.n_items, f"model has {model.cfg.n_items} items, data {split.n_items}"
        assert (loss.name == "cloze") == (not model.cfg.causal), "cloze loss needs BERT4Rec, and BERT4Rec needs cloze"
        self.model, self.loss, self.split, self.cfg, self.meta = model, loss, split, cfg, meta or {}

    # ---- objective ---------------------------------------------------------------------
    def compute_loss(self, model: torch.nn.Module, batch: Batch) -> torch.Tensor:
        """Loss of one batch; override to change the objective.

        ``model`` may be wrapped for data parallelism: it is called once for the hidden states,
        and the item-scoring methods are taken from the wrapped module.
        """
        h = model(batch.seq)  # (B, T, D)
        model = getattr(model, "module", model)
        supervised = batch.labels != 0  # (B, T)
        h, labels = h[supervised], batch.labels[supervised]  # (M, D), (M,)
        name = self.loss.name
        if name in ("ce", "cloze"):
            logits = model.score_all(h)  # (M, N + 1)
            if batch.seen is not None:
                # The target stays in; the user's other items leave the softmax.
                others = batch.seen[supervised.nonzero()[:, 0]]  # (M, N + 1)
                others[torch.arange(len(labels), device=labels.device), labels] = False
                logits = logits.masked_fill(others, float("-inf"))
            return losses.cross_entropy(logits, labels)
        assert batch.negatives is not None, f"{name} loss needs sampled negatives"
        pos = model.score(h, labels[:, None]).squeeze(-1)  # (M,)
        neg = model.score(h, batch.negatives[supervised])  # (M, K)
        if name == "bce":
            return losses.bce(pos, neg)
        return losses.gbce(pos, neg, model.cfg.n_items, self.loss.gbce_t)

    def batches(self, generator: torch.Generator, shard: tuple[int, int]) -> Iterator[Batch]:
        """One epoch of training batches."""
        m, s = self.model.cfg, self.split
        if self.loss.name == "cloze":
            return cloze_batches(
                s.train, m.n_items, m.max_len, self.cfg.batch_size, generator, self.loss.mask_prob, shard
            )
        n_neg = self.loss.n_negatives if self.loss.sampled else 0
        return next_item_batches(
            s.train,
            m.n_items,
            m.max_len,
            self.cfg.batch_size,
            generator,
            n_neg,
            shard,
            self.cfg.window_stride,
            with_seen=self.loss.exclude_seen,
            per_user=self.cfg.sampler == "users",
        )

    def _windows(self) -> tuple[int, int | None, bool]:
        """(row length, stride, one row per user) of the epoch's rows, as ``batches`` cuts them."""
        if self.loss.name == "cloze":
            return self.model.cfg.max_len, None, False
        return self.model.cfg.max_len + 1, self.cfg.window_stride, self.cfg.sampler == "users"

    def _batches_per_epoch(self) -> int:
        return math.ceil(epoch_rows(self.split.train, *self._windows()) / self.cfg.batch_size)

    def targets_per_batch(self) -> float:
        """Mean supervised targets per batch over one epoch (next-item models; ``loss_norm="epoch"``)."""
        assert self.loss.name != "cloze", "the Cloze task masks a random number of positions per batch"
        return epoch_targets(self.split.train, *self._windows()) / self._batches_per_epoch()

    def steps_per_epoch(self, world: int) -> int:
        """Optimizer steps in one epoch on one process."""
        steps = self._batches_per_epoch() // max(world, 1)
        if self.cfg.max_steps_per_epoch is not None:
            steps = min(steps, self.cfg.max_steps_per_epoch)
        return steps

    # ---- loop --------------------------------------------------------------------------
    def fit(self) -> FitResult:
        """Train with early stopping; the model ends up holding the best validation weights."""
        from accelerate import Accelerator

        cfg = self.cfg
        device = resolve_device(cfg.device)
        precision = "no"
        if device.type == "cuda" and cfg.amp:
            precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        accelerator = Accelerator(cpu=device.type == "cpu", mixed_precision=precision)
        torch.manual_seed(cfg.seed + accelerator.process_index)  # dropout draws from torch's global generator
        generator = torch.Generator().manual_seed(cfg.seed)
        opt = torch.optim.AdamW(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.98))
        result = FitResult()
        best_state: dict[str, torch.Tensor] | None = None
        start_epoch = 1
        path = cfg.checkpoint_dir / CHECKPOINT if cfg.checkpoint_dir else None
        if cfg.resume and path is not None and path.is_file():
            ckpt = read_checkpoint(path, asdict(self.model.cfg), asdict(self.loss))
            self.model.load_state_dict(ckpt["model"])
            opt.load_state_dict(ckpt["optimizer"])
            generator.set_state(ckpt["generator"])
            torch.set_rng_state(ckpt["torch_rng"])
            best_state = ckpt["best_model"]
            result = FitResult(
                epochs_trained=ckpt["epoch"],
                best_epoch=ckpt["best_epoch"],
                best_valid_ndcg=ckpt["best_valid"],
                history=list(ckpt["history"]),
            )
            start_epoch = ckpt["epoch"] + 1
            logger.info("resumed from %s at epoch %d (best valid NDCG@10 %.4f)", path, start_epoch, ckpt["best_valid"])
        model, opt = accelerator.prepare(self.model, opt)
        shard = (accelerator.process_index, accelerator.num_processes)
        n_steps = self.steps_per_epoch(accelerator.num_processes)
        norm = self.targets_per_batch() if cfg.loss_norm == "epoch" else None
        since_best = result.epochs_trained - result.best_epoch
        train_seconds = [h["seconds"] for h in result.history]
        for epoch in range(start_epoch, cfg.epochs + 1):
            if since_best >= cfg.patience:
                break
            model.train()
            t0 = time.perf_counter()
            total, count = 0.0, 0
            bar = tqdm(
                self.batches(generator, shard),
                total=n_steps,
                desc=f"epoch {epoch}",
                disable=not cfg.progress or not accelerator.is_main_process,
                leave=False,
            )
            for step, batch in enumerate(bar):
                if step >= n_steps:
                    break
                batch = batch.to(accelerator.device)
                with accelerator.autocast():
                    loss = self.compute_loss(model, batch)
                    if norm is not None:  # from the batch's mean to its sum over the epoch's mean count
                        loss = loss * (batch.labels != 0).sum() / norm
                opt.zero_grad(set_to_none=True)
                accelerator.backward(loss)
                if cfg.grad_clip is not None:
                    accelerator.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                opt.step()
                total += float(loss.detach())
                count += 1
                bar.set_postfix(loss=f"{total / count:.4f}")
            seconds = time.perf_counter() - t0
            train_seconds.append(seconds)
            record: dict[str, float] = {"epoch": epoch, "loss": total / max(count, 1), "seconds": seconds}
            if epoch % cfg.eval_every == 0 or epoch == cfg.epochs:
                unwrapped = accelerator.unwrap_model(model)
                unwrapped.eval()
                valid = evaluate(
                    lambda h: model_scores(unwrapped, h),
                    self.split,
                    "valid",
                    ("full",),
                    batch_size=cfg.eval_batch_size,
                )["full"]
                record.update({f"valid_{k}": v for k, v in valid.items()})
                if valid["ndcg@10"] > result.best_valid_ndcg:
                    result.best_valid_ndcg, result.best_epoch = valid["ndcg@10"], epoch
                    best_state = {k: v.detach().cpu().clone() for k, v in unwrapped.state_dict().items()}
                    since_best = 0
                else:
                    since_best += cfg.eval_every
            result.history.append(record)
            result.epochs_trained = epoch
            logger.info(
                "epoch %d loss %.4f %.1fs valid ndcg@10 %s",
                epoch,
                record["loss"],
                seconds,
                f"{record['valid_ndcg@10']:.4f}" if "valid_ndcg@10" in record else "-",
            )
            if path is not None and accelerator.is_main_process:
                self._save_checkpoint(path, accelerator.unwrap_model(model), opt, generator, result, best_state)
            accelerator.wait_for_everyone()
        if best_state is not None:
            self.model.load_state_dict(best_state)
        self.model.eval()
        result.seconds_per_epoch = float(np.mean(train_seconds)) if train_seconds else 0.0
        result.main_process = accelerator.is_main_process
        return result

    def _save_checkpoint(
        self,
        path: Path,
        model: SASRec,
        opt: torch.optim.Optimizer,
        generator: torch.Generator,
        result: FitResult,
        best_state: dict[str, torch.Tensor] | None,
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        ckpt = {
            "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "optimizer": opt.state_dict(),
            "model_config": asdict(model.cfg),
            "loss_config": asdict(self.loss),
            "train_config": self.cfg.to_dict(),
            "meta": copy.deepcopy(self.meta),
            "epoch": result.epochs_trained,
            "best_epoch": result.best_epoch,
            "best_valid": result.best_valid_ndcg,
            "best_model": best_state,
            "history": result.history,
            "generator": generator.get_state(),
            "torch_rng": torch.get_rng_state(),
        }
        tmp = path.with_suffix(".tmp")
        torch.save(ckpt, tmp)
        tmp.replace(path)
