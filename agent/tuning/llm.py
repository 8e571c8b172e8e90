"""Tuning the language model on preference data with TRL: DPO, IPO, robust DPO (paired), KTO (unpaired).

LoRA through PEFT by default: the reference model is the base with the adapter switched off,
so it stays frozen without a second copy in memory; ``lora=False`` tunes every weight against
a frozen copy. The same code runs on a CPU (the tests' ``tiny`` preset, a random-init model)
and on GPUs (the ``gpu`` preset: bf16; ``accelerate launch -m tastebud tune llm ...`` spreads
it over several, as TRL's trainers do).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from agent.tuning.data import read_jsonl

log = logging.getLogger(__name__)

Method = Literal["dpo", "ipo", "robust", "kto"]
PAIRED_LOSS: dict[str, str] = {"dpo": "sigmoid", "ipo": "ipo", "robust": "robust"}
"""TRL ``loss_type`` of each paired method."""
METHODS: tuple[str, ...] = ("dpo", "ipo", "robust", "kto")


@dataclass(frozen=True, kw_only=True)
class LLMTuneConfig:
    """How the language model is tuned.

    Attributes:
        method: dpo (sigmoid loss), ipo, robust (robust DPO under label noise) on ``pairs.jsonl``;
            kto on ``unpaired.jsonl``.
        lora: LoRA adapters through PEFT (the reference is the base, adapters off); False tunes every weight.
        lora_r: LoRA rank.
        lora_alpha: LoRA scaling.
        lora_dropout: LoRA dropout.
        target_modules: Modules that get adapters (the attention projections of Llama-style models).
        beta: Strength of the pull toward the reference (IPO: its tau).
        label_smoothing: robust: the assumed share of flipped preference labels, in [0, 0.5).
        epochs: Passes over the data.
        max_steps: Optimizer steps; -1 means ``epochs`` decide.
        batch_size: Rows per device per step.
        grad_accum: Steps of gradient accumulation.
        learning_rate: Peak learning rate.
        max_length: Longest prompt + completion, in tokens.
        bf16: bfloat16 training (GPUs).
        gradient_checkpointing: Recompute activations in the backward pass (less memory, ~30% more
            compute; TRL's default, worth it for large models, not for the 135M default).
        cpu: Train on the CPU even where a GPU is visible.
        seed: Seeds initialisation of the adapters, dropout and data order.
        logging_steps: Steps between logged losses.
    """

    method: Method = "dpo"
    lora: bool = True
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    beta: float = 0.1
    label_smoothing: float = 0.1
    epochs: float = 1.0
    max_steps: int = -1
    batch_size: int = 8
    grad_accum: int = 1
    learning_rate: float = 5e-5
    max_length: int = 512
    bf16: bool = False
    gradient_checkpointing: bool = True
    cpu: bool = False
    seed: int = 0
    logging_steps: int = 10

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; choose from {list(METHODS)}")
        if not 0 <= self.label_smoothing < 0.5:
            raise ValueError("label_smoothing must be in [0, 0.5)")
        if self.beta <= 0 or self.learning_rate <= 0:
            raise ValueError("beta and learning_rate must be positive")
        if self.batch_size < 1 or self.grad_accum < 1 or self.max_length < 16:
            raise ValueError("batch_size and grad_accum must be >= 1, max_length >= 16")
        if self.max_steps == 0 or (self.max_steps < 0 and self.epochs <= 0):
            raise ValueError("train for max_steps > 0, or for epochs > 0 with max_steps -1")
        if self.bf16 and self.cpu:
            raise ValueError("bf16 is the GPU preset; drop --cpu or --bf16")

    @property
    def dataset(self) -> str:
        """The file of ``tastebud tune data`` this method reads."""
        return "unpaired.jsonl" if self.method == "kto" else "pairs.jsonl"


PRESETS: dict[str, dict[str, Any]] = {
    # Seconds on a CPU: the tests run the real trainers with it on a random-init model.
    "tiny": {
        "cpu": True,
        "batch_size": 2,
        "max_steps": 2,
        "max_length": 96,
        "lora_r": 4,
        "lora_alpha": 8,
        "learning_rate": 1e-3,
        "logging_steps": 1,
        "gradient_checkpointing": False,
    },
    "cpu": {
        "cpu": True,
        "batch_size": 4,
        "epochs": 1.0,
        "max_length": 256,
        "gradient_checkpointing": False,
        "logging_steps": 1,
    },
    "gpu": {"bf16": True, "batch_size": 16, "epochs": 3.0, "max_length": 512, "learning_rate": 5e-5},
}


def preset(name: str, **overrides: Any) -> LLMTuneConfig:
    """A named configuration (``tiny``, ``cpu``, ``gpu``) with some fields replaced."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose from {list(PRESETS)}")
    return replace(LLMTuneConfig(**PRESETS[name]), **overrides)


@dataclass
class TuneResult:
    """What a tuning run did and measured.

    Attributes:
        method: The method.
        rows: Training rows (pairs or unpaired rows).
        steps: Optimizer steps.
        train_s: Wall time of training.
        rows_per_s: Rows processed per second (pairs per second for paired methods; repeats count).
        tokens_per_s: Tokens seen per second.
        peak_memory_mb: Peak GPU memory allocated, or the process's peak resident memory on a CPU.
        device: Where it trained.
        losses: Logged training losses, in order.
        last_log: The last logged metrics (rewards, margins, accuracies).
        trainable_params: Parameters tuned (their count).
        trainable_tensors: Tensors tuned.
        changed_tensors: Of those, how many training changed.
        saved_to: Where the adapter (or the full model) was written.
        config: The configuration.
    """

    method: str
    rows: int
    steps: int
    train_s: float
    rows_per_s: float
    tokens_per_s: float
    peak_memory_mb: float
    device: str
    losses: list[float]
    last_log: dict[str, float]
    trainable_params: int
    trainable_tensors: int
    changed_tensors: int
    saved_to: str
    config: dict[str, Any] = field(default_factory=dict)


def load_rows(data_dir: Path, config: LLMTuneConfig) -> list[dict[str, Any]]:
    """The rows this method trains on, with only the columns TRL reads.

    Raises:
        FileNotFoundError: No such file in ``data_dir``.
        ValueError: The file is empty.
    """
    path = Path(data_dir) / config.dataset
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: build it with 'tastebud tune data --out {data_dir}'")
    columns = ("prompt", "completion", "label") if config.method == "kto" else ("prompt", "chosen", "rejected")
    rows = [{c: row[c] for c in columns} for row in read_jsonl(path)]
    if not rows:
        raise ValueError(
            f"{path} holds no rows: preference data needs a language model's prose "
            "('tastebud tune data --backend local', optionally with --samples)"
        )
    return rows


def _peak_memory_mb(device: str) -> float:
    import resource

    import torch

    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def tune(config: LLMTuneConfig, data_dir: Path, model_path: Path, out: Path) -> TuneResult:
    """Tune the model in ``model_path`` on ``data_dir``'s preference data; the adapter goes to ``out/adapter``.

    Args:
        config: Method and training settings.
        data_dir: A ``tastebud tune data`` output folder.
        model_path: A Hugging Face model folder (tokenizer with a chat template included).
        out: Run folder (trainer state, the adapter or model, ``result.json``).
    """
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from recsys.assets import offline_mode

    offline_mode()
    rows = load_rows(data_dir, config)
    tokenizer = AutoTokenizer.from_pretrained(model_path, local_files_only=True)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    dtype = torch.bfloat16 if config.bf16 else torch.float32
    model = AutoModelForCausalLM.from_pretrained(model_path, local_files_only=True, dtype=dtype)
    peft_config = None
    if config.lora:
        from peft import LoraConfig

        peft_config = LoraConfig(
            r=config.lora_r,
            lora_alpha=config.lora_alpha,
            lora_dropout=config.lora_dropout,
            target_modules=list(config.target_modules),
            task_type="CAUSAL_LM",
        )
    common = dict(
        output_dir=str(out / "trainer"),
        per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        learning_rate=config.learning_rate,
        beta=config.beta,
        max_length=config.max_length,
        bf16=config.bf16,
        gradient_checkpointing=config.gradient_checkpointing,
        use_cpu=config.cpu,
        seed=config.seed,
        logging_steps=config.logging_steps,
        save_strategy="no",
        report_to=[],
    )
    dataset = Dataset.from_list(rows)
    if config.method == "kto":
        from trl import KTOConfig, KTOTrainer

        trainer: Any = KTOTrainer(
            model=model,
            args=KTOConfig(**common),
            train_dataset=dataset,
            processing_class=tokenizer,
            peft_config=peft_config,
        )
    else:
        from trl import DPOConfig, DPOTrainer

        smoothing = config.label_smoothing if config.method == "robust" else 0.0
        args = DPOConfig(**common, loss_type=[PAIRED_LOSS[config.method]], label_smoothing=smoothing)
        trainer = DPOTrainer(
            model=model, args=args, train_dataset=dataset, processing_class=tokenizer, peft_config=peft_config
        )
    tuned = trainer.model
    before = {n: p.detach().clone() for n, p in tuned.named_parameters() if p.requires_grad}
    device = str(next(tuned.parameters()).device)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    output = trainer.train()
    train_s = time.perf_counter() - started
    changed = sum(not torch.equal(before[n], p.detach()) for n, p in tuned.named_parameters() if n in before)
    history = [h for h in trainer.state.log_history if "loss" in h]
    tokens = max((h.get("num_tokens", 0.0) for h in history), default=0.0)
    saved = out / ("adapter" if config.lora else "model")
    if trainer.is_world_process_zero():
        trainer.save_model(str(saved))
        tokenizer.save_pretrained(str(saved))
    steps = int(trainer.state.global_step)
    seen = steps * config.batch_size * config.grad_accum * max(1, trainer.args.world_size)
    return TuneResult(
        method=config.method,
        rows=len(rows),
        steps=steps,
        train_s=round(train_s, 3),
        rows_per_s=round(seen / train_s, 3) if train_s else 0.0,
        tokens_per_s=round(tokens / train_s, 1) if train_s else 0.0,
        peak_memory_mb=round(_peak_memory_mb(device), 1),
        device=device,
        losses=[float(h["loss"]) for h in history],
        last_log={k: float(v) for k, v in (history[-1] if history else {}).items() if isinstance(v, int | float)},
        trainable_params=int(sum(p.numel() for p in before.values())),
        trainable_tensors=len(before),
        changed_tensors=int(changed),
        saved_to=str(saved),
        config={**asdict(config), "train_loss": float(output.training_loss)},
    )
