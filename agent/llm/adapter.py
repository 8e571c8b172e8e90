"""Where a tuned LoRA adapter for a local model lives, and whether one exists for that model.

``tastebud tune llm`` saves its adapter here; ``load_backend`` finds it for the same model and
the agent uses it unless told not to (``BackendConfig.adapter="off"``, ``--no-adapter``). The
record file ties the adapter to the model folder it was trained on, so an adapter is never
applied to another model.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from recsys.settings import Settings

RECORD = "tastebud-adapter.json"
"""The file beside the adapter naming its base model, method and data."""


def _base(model_path: Path | None) -> str:
    return "smollm2" if model_path is None else str(Path(model_path).expanduser().resolve())


def adapter_dir(settings: Settings, model_path: Path | None) -> Path:
    """The adapter folder for a model: ``None`` is the embedded SmolLM2, else a model folder."""
    if model_path is None:
        name = "smollm2"
    else:
        folder = Path(model_path).expanduser().resolve()
        name = f"{folder.name}-{hashlib.sha256(str(folder).encode()).hexdigest()[:8]}"
    return settings.cache_dir / "models" / f"llm-{name}-adapter"


def write_record(folder: Path, model_path: Path | None, **details: Any) -> None:
    """Tie an adapter folder to its base model (and say how it was made)."""
    (folder / RECORD).write_text(json.dumps({"base": _base(model_path), **details}, indent=2, default=str))


def find_adapter(folder: Path, model_path: Path | None) -> Path | None:
    """``folder`` when it holds an adapter trained on this model, else None."""
    record = folder / RECORD
    if not (folder / "adapter_config.json").is_file() or not record.is_file():
        return None
    try:
        base = json.loads(record.read_text()).get("base")
    except (OSError, ValueError):
        return None
    return folder if base == _base(model_path) else None
