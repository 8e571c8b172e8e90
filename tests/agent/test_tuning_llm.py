"""``tastebud tune llm`` with real TRL and PEFT on a tiny random-init model (issue 17, point 4), and the agent's adapter."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from agent.llm import BackendConfig, ChatMessage, GenerationConfig, load_backend
from agent.llm.adapter import adapter_dir, find_adapter, write_record
from agent.llm.plan import PlannedItem, ReplyPlan
from agent.tuning.data import from_log
from agent.tuning.llm import PAIRED_LOSS, LLMTuneConfig, preset, tune
from agent.tuning.reply import assemble
from memory.feedback import FeedbackEntry, FeedbackLog, MemorySnapshot, SnapshotPreference
from memory.store import SQLiteStore
from recsys.assets import AssetManager
from recsys.settings import Settings
from tastebud.cli import main

PLAN = ReplyPlan(kind="recommend", items=(PlannedItem(item_id="1", title="Toy Story", year=1995, reason="a comedy"),))
SAID = ["I'm so glad you found 1 film for your movie!", "Here it is, just for you!", "What a great pick for tonight!"]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory, settings: Settings) -> Path:
    """A random-init two-layer Llama with SmolLM2's tokenizer (from the asset cache; nothing downloaded)."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(AssetManager(settings).path("smollm2"), local_files_only=True)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=128,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny-llama")
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Preference data built from a feedback log of edits, by the real builders."""
    folder = tmp_path_factory.mktemp("tune-data")
    store = SQLiteStore(folder / "memory.sqlite")
    log = FeedbackLog(store)
    calm = MemorySnapshot(preferences=[SnapshotPreference(key="tone:plain", text="prefers calm", confidence=0.8)])
    for n, said in enumerate(SAID * 2, start=1):
        reply = assemble(said, PLAN)
        entry = FeedbackEntry(
            id=f"fl_{n}", thread_id="t", turn=n, kind="edit", reply=reply, text=reply.replace("!", "."),
            plan=PLAN.model_dump(), memory=calm,
        )  # fmt: skip
        log.add(f"user-{n % 2}", entry)
    from_log(log).write(folder)
    store.close()
    return folder


@pytest.mark.slow
def test_tune_llm_dpo_installs_an_adapter_the_agent_loads(
    tiny_model: Path, data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    cache = tmp_path / "cache"
    argv = ["--cache-dir", str(cache), "tune", "llm", "--method", "dpo", "--data", str(data)]
    argv += ["--model-path", str(tiny_model), "--preset", "tiny", "--out", str(tmp_path / "run"), "--json"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result == json.loads((tmp_path / "run" / "result.json").read_text())
    assert result["rows"] == 6 and result["steps"] == 2 and len(result["losses"]) == 2
    assert result["changed_tensors"] == result["trainable_tensors"] > 0  # every LoRA tensor moved
    assert result["trainable_params"] < 20_000 and result["rows_per_s"] > 0 and result["tokens_per_s"] > 0
    assert "rewards/accuracies" in result["last_log"] and result["peak_memory_mb"] > 0
    settings = Settings.from_env(cache_dir=cache)
    installed = Path(result["installed"])
    assert installed == adapter_dir(settings, tiny_model) and find_adapter(installed, tiny_model) == installed
    assert find_adapter(installed, None) is None  # never applied to another model
    # The agent's backend finds it, says so, and a flag leaves it out.
    with caplog.at_level(logging.WARNING, logger="agent.llm"):
        backend = load_backend(BackendConfig(kind="local", model_path=tiny_model), settings)
    assert backend.adapter == installed and "using the tuned adapter" in caplog.text
    text = backend.generate([ChatMessage(role="user", content="Hi")], GenerationConfig(max_new_tokens=4))
    assert isinstance(text, str)
    plain = load_backend(BackendConfig(kind="local", model_path=tiny_model, adapter="off"), settings)
    assert plain.adapter is None


@pytest.mark.slow
@pytest.mark.parametrize(("method", "lora"), [("robust", True), ("kto", True), ("ipo", False)])
def test_robust_dpo_kto_and_full_ipo_train_real_trainers(
    tiny_model: Path, data: Path, tmp_path: Path, method: str, lora: bool
) -> None:
    result = tune(preset("tiny", method=method, lora=lora), data, tiny_model, tmp_path)
    assert result.steps == 2 and result.changed_tensors == result.trainable_tensors > 0
    assert result.rows == (12 if method == "kto" else 6)  # an edit gives two unpaired rows
    if lora:
        assert (tmp_path / "adapter" / "adapter_config.json").is_file()
    else:  # every weight tuned, against a frozen copy: a whole model folder comes out
        assert result.trainable_params > 700_000 and (tmp_path / "model" / "config.json").is_file()


def test_configs_are_checked(tmp_path: Path) -> None:
    assert PAIRED_LOSS == {"dpo": "sigmoid", "ipo": "ipo", "robust": "robust"}
    assert preset("gpu").bf16 and preset("tiny").cpu and LLMTuneConfig(method="kto").dataset == "unpaired.jsonl"
    with pytest.raises(ValueError, match="label_smoothing"):
        LLMTuneConfig(method="robust", label_smoothing=0.5)
    with pytest.raises(ValueError, match="unknown method"):
        LLMTuneConfig(method="ppo")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="bf16"):
        preset("gpu", cpu=True)
    (tmp_path / "pairs.jsonl").write_text("")
    with pytest.raises(ValueError, match="holds no rows"):
        tune(preset("tiny"), tmp_path, tmp_path, tmp_path / "out")
    with pytest.raises(FileNotFoundError, match="tune data"):
        tune(preset("tiny", method="kto"), tmp_path, tmp_path, tmp_path / "out")
    with pytest.raises(FileNotFoundError, match="not an adapter folder"):
        load_backend(BackendConfig(kind="local", adapter=str(tmp_path)), Settings.from_env(cache_dir=tmp_path))
    write_record(tmp_path, None)
    assert find_adapter(tmp_path, None) is None  # a record without an adapter is not an adapter
