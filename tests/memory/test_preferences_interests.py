"""Inferred preferences (CIPHER-style) and knowledge-graph interests."""

from __future__ import annotations

from datetime import timedelta

import pytest

from memory.preferences import infer_from_edit
from memory.schema import utcnow
from memory.service import Memory


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self):
        return self.now


def test_critique_infers_preference_with_context(memory: Memory) -> None:
    prefs = memory.record_feedback("u", "critique", context="an epic war film", text="too long, and something newer")
    assert {p.key for p in prefs} == {"length:shorter", "year:newer"}
    assert all(p.context == "an epic war film" for p in prefs)


def test_reinforcement_raises_confidence(memory: Memory) -> None:
    (first,) = memory.record_feedback("u", "critique", context="a war film", text="too long")
    (again,) = memory.record_feedback("u", "critique", context="a war film", text="that was too long")
    assert again.id == first.id and again.confidence > first.confidence and again.evidence == 2


def test_contradiction_and_time_lower_confidence(memory: Memory) -> None:
    clock = Clock()
    memory.clock = clock
    (newer,) = memory.record_feedback("u", "critique", context="a comedy", text="something newer")
    memory.record_feedback("u", "critique", context="a comedy", text="something older, a classic")
    weakened = next(p for p in memory.preferences("u") if p.id == newer.id)
    assert weakened.confidence < newer.confidence
    applied = dict((p.key, w) for p, w in memory.preferences_for("u", "a comedy"))
    assert "year:older" in applied and "year:newer" not in applied  # the stronger side wins
    w_now = applied["year:older"]
    clock.now += timedelta(days=120)
    w_later = dict((p.key, w) for p, w in memory.preferences_for("u", "a comedy"))["year:older"]
    assert w_later < w_now / 3


def test_nearest_contexts_decide_what_applies(memory: Memory) -> None:
    memory.record_feedback("u", "critique", context="a scary horror movie for halloween", text="too scary")
    memory.record_feedback("u", "critique", context="a romantic comedy for date night", text="funnier")
    top = memory.preferences_for("u", "a frightening horror film", k=1)
    assert [p.key for p, _ in top] == ["scary:less"]


def test_edit_inference_rules_and_llm() -> None:
    original = "Here are five great picks for you!!! 🎬\n- Alien: a classic...\n- Aliens: more action...\n- Heat: ..."
    keys = {i.key for i in infer_from_edit(original, "Alien, Aliens, Heat.")}
    assert {"style:concise", "format:prose", "tone:plain"} <= keys
    llm = infer_from_edit(original, "Alien.", complete=lambda prompt: "prefers a single pick")
    assert [i.text for i in llm] == ["prefers a single pick"]
    broken = infer_from_edit(original, "Alien.", complete=lambda prompt: 1 / 0)
    assert "style:concise" in {i.key for i in broken}


def test_item_feedback_updates_interests_and_explains(memory: Memory, ml100k) -> None:
    alien = next(i.id for i in ml100k.items if i.title == "Alien")
    aliens = next(i.id for i in ml100k.items if i.title == "Aliens")
    toy = next(i.id for i in ml100k.items if i.title == "Toy Story")
    memory.record_feedback("u", "like", alien, context="space horror")
    memory.record_feedback("u", "dislike", toy, context="something for tonight")
    top = memory.top_interests("u", 20)
    assert any(i.entity == "genre:Sci-Fi" for i in top) and all(i.weight > 0 for i in top)
    negative = memory.top_interests("u", 20, negative=True)
    assert any(i.entity == "genre:Animation" for i in negative)
    assert memory.interest_score("u", aliens) > 0 > memory.interest_score("u", toy)
    paths = memory.explain("u", aliens)
    assert paths and all(p.contribution > 0 for p in paths) and "Aliens" in paths[0].text
    boosts = memory.boosts("u", "space horror")
    assert boosts[aliens] > boosts.get(toy, 0.0)


def test_unnamed_entities_are_named_through_items(memory: Memory, ml100k) -> None:
    alien = next(i.id for i in ml100k.items if i.title == "Alien")
    memory.record_feedback("u", "like", alien)
    named = {i.entity: i.name for i in memory.top_interests("u", 50)}
    director = next(e for _, e in ml100k.kg.entities_of(alien, "director"))
    assert named[director].startswith("the director of Alien")
    assert all(not n.startswith("m.") for n in named.values())


def test_interests_decay(memory: Memory) -> None:
    clock = Clock()
    memory.clock = clock
    memory.record_answer("u", "westerns", liked=True)
    w0 = memory.top_interests("u")[0].weight
    clock.now += timedelta(days=memory.config.interests.half_life_days)
    assert memory.top_interests("u")[0].weight == pytest.approx(w0 / 2, rel=1e-3)


def test_answered_questions(small_memory: Memory) -> None:
    assert small_memory.record_answer("u", "Westerns", liked=False) == []  # no westerns in this catalog
    assert small_memory.record_answer("u", "comedies", liked=False) == ["genre:Comedy"]
    assert small_memory.record_answer("u", "Tom Cruise", liked=True) == ["person:tom_cruise"]
    assert small_memory.record_answer("u", "Zorblax Quint", liked=True) == []
    assert small_memory.top_interests("u")[0].name == "Tom Cruise"


def test_soft_rules_boost_but_do_not_filter(memory: Memory, ml100k) -> None:
    memory.remember_utterance("u", "I love sci-fi")
    assert memory.constraints("u", "anything") == []
    boosts = memory.boosts("u", "anything")
    star_wars = "50"
    assert boosts[star_wars] > 0


def test_bad_feedback_is_a_clear_error(memory: Memory) -> None:
    with pytest.raises(ValueError, match="unknown feedback kind"):
        memory.record_feedback("u", "love", "1")
    with pytest.raises(ValueError, match="needs a catalog item id"):
        memory.record_feedback("u", "like", "no-such-item")
    assert memory.record_feedback("u", "critique", text="\x00\x01" * 100) == []


def test_separate_content_wishes_do_not_weaken_each_other(memory: Memory) -> None:
    from memory.preferences import contradicts

    assert contradicts("genre:Comedy:+", "genre:Comedy:-") and contradicts("year:newer", "year:older")
    assert not contradicts("content:year", "content:no-plot")  # "mention the year" and "no plot" hold together
    learned = memory.record_feedback("u", "edit", text="Alien (1979) is great.", original="Alien is great.")
    year = next(p for p in learned if p.key == "content:year")
    plot = memory.record_feedback("u", "edit", text="Here it is.", original="Here it is. The crew dies one by one.")
    assert "content:no-plot" in {p.key for p in plot}
    kept = next(p for p in memory.preferences("u") if p.id == year.id)
    assert kept.confidence == year.confidence  # the no-plot wish left the year wish as it was
