"""Preference datasets from the feedback log, and on-policy pairs ranked by the reward (issue 17, points 2-3)."""

from __future__ import annotations

import re
from pathlib import Path

from agent.grounding import genre_pattern
from agent.llm.base import ChatBackend, GenerationConfig
from agent.llm.plan import PlannedItem, ReplyPlan
from agent.tuning.data import from_log, list_preferences, prompt_messages, read_jsonl, reply_pairs, unpaired
from agent.tuning.onpolicy import SamplingConfig, contexts, sample_pairs
from agent.tuning.reply import assemble
from agent.tuning.reward import Reward
from memory.feedback import FeedbackEntry, FeedbackLog, MemorySnapshot, SnapshotPreference
from memory.store import SQLiteStore

PLAN = ReplyPlan(
    kind="recommend",
    items=(
        PlannedItem(item_id="1", title="Toy Story", year=1995, reason="a comedy"),
        PlannedItem(item_id="2", title="Alien", year=1979, reason="a horror film"),
    ),
)
SAID = "I'm so glad to hear that you found 2 films for your movie!"
REPLY = assemble(SAID, PLAN)
PLAIN = MemorySnapshot(
    preferences=[SnapshotPreference(key="tone:plain", text="prefers a calm tone", confidence=0.8)], history=["7", "1"]
)


def _entry(n: int, kind: str, **fields: object) -> FeedbackEntry:
    base = {
        "id": f"fl_{n}",
        "thread_id": "t",
        "turn": n,
        "reply": REPLY,
        "plan": PLAN.model_dump(),
        "shown": ["1", "2"],
    }
    return FeedbackEntry.model_validate({**base, "kind": kind, **fields})


def test_an_edit_of_the_model_sentence_is_a_pair_with_a_cipher_prompt() -> None:
    edited = REPLY.replace("!", ".").replace("1. ", "- ").replace("2. ", "- ")
    only_list = REPLY.replace("1. ", "- ")  # the agent's own lines only: nothing for the model to learn
    entries = [_entry(1, "edit", text=edited, memory=PLAIN), _entry(2, "edit", text=only_list)]
    (row,) = reply_pairs("ann", entries)
    assert row["chosen"] == [{"role": "assistant", "content": SAID.replace("!", ".")}]
    assert row["rejected"] == [{"role": "assistant", "content": SAID}]
    system, task = row["prompt"]
    assert system == {"role": "system", "content": "This user prefers a calm tone. Write the way they prefer."}
    assert task["role"] == "user" and "2 films" in task["content"]
    assert (row["user_id"], row["turn"], row["source"]) == ("ann", 1, "edit")
    assert [m.role for m in prompt_messages(PLAN, MemorySnapshot())] == ["user"]  # no preferences, no system note


def test_thumbs_and_lists() -> None:
    entries = [
        _entry(1, "reject"),
        _entry(2, "not_for_me", item_id="3", shown=["3", "4"]),
        _entry(3, "edit", text=REPLY.replace("!", ".")),
        _entry(3, "accept", item_id="2"),
        _entry(4, "accept", item_id="5", shown=["5"], memory=PLAIN),
        _entry(5, "like", item_id="1", plan={}),
    ]
    rows = unpaired("ann", entries)
    assert [(r["completion"][0]["content"], r["label"]) for r in rows] == [
        (SAID, False),
        (SAID.replace("!", "."), True),
        (SAID, True),  # turn 4's reply was accepted and not edited
    ]
    lists = list_preferences("ann", entries)
    assert [(r["chosen"], r["rejected"]) for r in lists] == [("2", ["1", "3"]), ("5", ["1", "2", "3"])]
    assert lists[1]["history"] == ["7", "1"]
    # picked from a list at once: the items shown beside it were passed over
    first = _entry(1, "accept", item_id="6", shown=["5", "6", "8"], thread_id="t2")
    assert [(r["chosen"], r["rejected"]) for r in list_preferences("ann", [first])] == [("6", ["5", "8"])]


def test_datasets_from_a_log_file_never_mix_users_up(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "memory.sqlite")
    log = FeedbackLog(store)
    log.add("ann", _entry(1, "edit", text=REPLY.replace("!", ".")))
    log.add("Ann", _entry(1, "reject"))
    log.add("Ann", _entry(2, "accept", item_id="9"))
    data = from_log(log)
    assert data.sizes() == {"pairs": 1, "unpaired": 3, "lists": 1}  # ann: an edit (2 rows); Ann: an accept
    assert {r["user_id"] for r in data.pairs} == {"ann"} and {r["user_id"] for r in data.lists} == {"Ann"}
    paths = data.write(tmp_path / "out")
    assert list(read_jsonl(Path(paths["pairs"]))) == data.pairs
    store.close()


class Sampler(ChatBackend):
    """A scripted model: the sample drawn with seed ``s`` is ``texts[s % len(texts)]``."""

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.configs: list[GenerationConfig] = []

    def stream(self, messages, config=None):  # type: ignore[no-untyped-def]
        assert config is not None
        self.configs.append(config)
        yield self.texts[config.seed % len(self.texts)]


def test_on_policy_samples_are_ranked_into_pairs() -> None:
    reward = Reward(re.compile(r"\b(?:Toy Story|Alien|Heat)\b"), genre_pattern(["Comedy", "Horror"]))
    entries = [("ann", _entry(1, "reject", memory=PLAIN)), ("ann", _entry(2, "reject", memory=PLAIN))]
    assert len(contexts(entries)) == 1  # one plan for one user: sampled once
    backend = Sampler(["Two films for you!", "Two films for you tonight.", "Sorry, I cannot help."])
    rows, scored = sample_pairs(backend, entries, reward, SamplingConfig(samples=3, temperature=0.7, seed=0))
    (row,) = rows
    assert row["chosen"][0]["content"] == "Two films for you tonight."  # calm, as memory says the user prefers
    assert row["rejected"][0]["content"] == "Sorry, I cannot help."
    assert row["prompt"][0]["role"] == "system" and row["margin"] > 0.25
    assert len(scored) == 3 and [c.seed for c in backend.configs] == [0, 1, 2]
    assert all(c.temperature == 0.7 for c in backend.configs)
    same = Sampler(["Two films for you tonight."])
    assert sample_pairs(same, entries, reward, SamplingConfig(samples=2))[0] == []  # no margin, no pair
