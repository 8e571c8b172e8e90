"""``benchmarks/tuning.py`` end to end on a tiny catalog with a tiny random-init model and adapter (issue 17, point 6).

The figures must come from the runs: the cumulative edit cost is re-added from the replies, the
grounding figures from the model's own sentences, and the seeds' mean and std from the runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from agent.tuning.simulate import SimulatedUsersConfig, check_evaluation_seed, check_training_seed, drawn_users
from benchmarks.tuning import ARMS, MeteredBackend, TuningBenchConfig, run, summarize
from recsys.assets import AssetManager
from recsys.settings import Settings

SEEDS = (170_101, 170_102)


@pytest.fixture(scope="module")
def tiny_model_and_adapter(tmp_path_factory: pytest.TempPathFactory, settings: Settings) -> tuple[Path, Path]:
    """A random-init two-layer Llama (SmolLM2's tokenizer, nothing downloaded) and a random LoRA adapter for it."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(AssetManager(settings).path("smollm2"), local_files_only=True)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=256,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny-llama")
    model = LlamaForCausalLM(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    adapter = tmp_path_factory.mktemp("tiny-adapter")
    lora = LoraConfig(r=2, target_modules=["q_proj", "v_proj"], init_lora_weights=False)  # random B: it changes outputs
    get_peft_model(model, lora).save_pretrained(adapter)
    return folder, adapter


def test_evaluation_seeds_are_apart_from_training_and_other_evaluations() -> None:
    for seed in SEEDS:
        assert check_evaluation_seed(seed) == seed
        with pytest.raises(ValueError):
            check_training_seed(seed)  # training may never use them
    for seed in (170_017, 0, 2, 998, 5001):
        with pytest.raises(ValueError):
            check_evaluation_seed(seed)
    with pytest.raises(ValueError, match="distinct"):
        TuningBenchConfig(out=Path("x"), seeds=(170_101, 170_101))


def test_evaluation_users_are_drawn_from_other_dataset_users(tiny_catalog: Path) -> None:
    training = drawn_users(SimulatedUsersConfig(dataset=str(tiny_catalog), personas=3, mcr=3))
    assert len(training) >= 3
    evaluation = SimulatedUsersConfig(
        dataset=str(tiny_catalog), personas=3, mcr=3, seed=170_101, evaluation=True, exclude_users=training
    )
    drawn = drawn_users(evaluation)
    assert drawn and not drawn & training


def test_summarize_is_computed_from_the_replies() -> None:
    from benchmarks.tuning import ReplyStats

    rows = [
        ReplyStats("a", "session-1", 3, True, sentences=2, kept=2, tokens=10),
        ReplyStats("a", "session-2", 4, True, sentences=2, kept=1, ungrounded=True, tokens=20),
        ReplyStats("b", "session-1", 0, True, fallback=True),
        ReplyStats("b", "session-2", 5, False),
        ReplyStats("c", "main", 9, True, sentences=1, kept=1, coverage=0.5),
    ]
    s = summarize(rows)
    assert s["cumulative_cost_per_user"] == (7 + 5 + 9) / 3
    assert s["persona_cumulative_cost_by_session"] == [(3 + 0) / 2, (7 + 5) / 2]  # c is no persona
    assert s["kept_sentence_share"] == 4 / 5
    assert s["fallback_share"] == 1 / 4 and s["ungrounded_or_fallback_share"] == 2 / 4  # b's 2nd writes no prose
    assert s["coverage"] == (4 + 0.5) / 5 and s["tokens_per_reply"] == 30 / 4


@pytest.mark.slow
def test_the_benchmark_runs_every_arm_and_its_figures_come_from_the_runs(
    tiny_catalog: Path, tiny_model_and_adapter: tuple[Path, Path], tmp_path: Path
) -> None:
    model, adapter = tiny_model_and_adapter
    config = TuningBenchConfig(
        out=tmp_path / "out", dataset=str(tiny_catalog), scale="test", seeds=SEEDS, model_path=model, adapter=adapter
    )
    result = run(config)
    assert json.loads((config.out / "result.json").read_text())["summary"] == result["summary"]
    assert (config.out / "report.md").read_text().count("|") > 40 and (config.out / "tuning.png").stat().st_size > 0
    assert set(result["summary"]) == set(result["runs"]) == set(ARMS)
    assert set(result["comparisons"]) == {"tuned vs base", "tuned+prefs vs base+prefs", "base+prefs vs base"}
    assert result["excluded_dataset_users"] >= 2 and result["training"] == {"adapter_given": True}
    replies = json.loads((config.out / "replies.json").read_text())
    sizes = config.sizes
    for arm in ARMS:
        runs = result["runs"][arm]
        assert [r["seed"] for r in runs] == list(SEEDS)
        for run_, rows in zip(runs, replies[arm], strict=True):
            # Hand-checkable: the cumulative cost per user is the users' summed reply costs over the users.
            per_user: dict[str, int] = {}
            for r in rows:
                per_user[r["user_id"]] = per_user.get(r["user_id"], 0) + r["cost"]
            assert run_["users"] == len(per_user) == sizes["personas"] + sizes["mcr"]
            assert run_["cumulative_cost_per_user"] == pytest.approx(np.mean(list(per_user.values())))
            assert all(0 <= r["kept"] <= r["sentences"] for r in rows)
            writes = [r for r in rows if r["writes"]]
            assert all(r["tokens"] > 0 and r["model_s"] > 0 for r in writes)  # the model wrote every prose reply
            assert len(run_["persona_cumulative_cost_by_session"]) == sizes["sessions"]
        mean = result["summary"][arm]["cumulative_cost_per_user"]
        costs = [r["cumulative_cost_per_user"] for r in runs]
        assert mean == {"mean": pytest.approx(np.mean(costs)), "std": pytest.approx(np.std(costs))}
    assert {r["user_id"] for rows in replies["base"] for r in rows} == {
        f"{kind}-{seed}-0" for kind in ("persona", "sim") for seed in SEEDS
    }


def test_the_metered_backend_records_what_the_model_said() -> None:
    from agent.llm.base import ChatBackend

    class Two(ChatBackend):
        def stream(self, messages, config=None):  # type: ignore[no-untyped-def]
            yield from ["Here are ", "two films."]

    meter = MeteredBackend(Two())
    assert meter.generate([]) == "Here are two films."
    (call,) = meter.take()
    assert (call.text, call.tokens) == ("Here are two films.", 4) and meter.take() == []
