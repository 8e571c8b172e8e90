"""The reward that ranks on-policy samples (issue 17, point 3): each part catches what it claims."""

from __future__ import annotations

import re

import pytest

from agent.grounding import genre_pattern
from agent.llm.plan import PlannedItem, ReplyPlan
from agent.tuning.reply import assemble
from agent.tuning.reward import Reward, RewardConfig, coverage, sentences
from memory.feedback import SnapshotPreference

PLAN = ReplyPlan(
    kind="recommend",
    items=(
        PlannedItem(item_id="1", title="Toy Story", year=1995, reason="it is linked to Comedy films, which you like"),
        PlannedItem(item_id="2", title="Alien", year=1979, reason="it matches what you asked for: Horror"),
    ),
)
REWARD = Reward(re.compile(r"\b(?:Toy Story|Alien|Heat)\b", re.I), genre_pattern(["Comedy", "Horror", "Western"]))
PLAIN = [SnapshotPreference(key="tone:plain", text="calm", confidence=0.8)]


def test_a_good_sentence_beats_the_silly_one_and_a_refusal() -> None:
    good = REWARD.score("I found two films you might enjoy tonight.", PLAN)
    silly = REWARD.score("I'm so glad to hear that you found 5 films for your movie.", PLAN)
    refusal = REWARD.score("Sorry, as an AI I cannot recommend films.", PLAN)
    assert good.total == pytest.approx(3.0) and good.grounded == good.coverage == good.style == 1.0
    assert silly.nonsense == 1.0 and silly.total == pytest.approx(2.0)
    assert refusal.refusal == 1.0 and refusal.grounded == 0.0
    assert good.total > silly.total > refusal.total


def test_ungrounded_sentences_cost_their_share() -> None:
    score = REWARD.score("You will love these two films. Heat is a great Western too.", PLAN)
    assert score.grounded == 0.5
    assert REWARD.score("Here are two films for", PLAN).grounded == 0.0  # a cut fragment is dropped, as the agent does
    assert sentences("One. Two! Three? four") == ["One.", "Two!", "Three?"]


def test_nonsense_checks() -> None:
    for sentence in (
        "I found 3 films for you.",  # the plan has two
        "I found three movies for you.",
        "Here they are, here here here they are.",
        "Enjoy these supercalifragilisticexpialidocious picks.",
        "%%% ### @@@ ~~~ a b.",
    ):
        assert REWARD.score(sentence, PLAN).nonsense == 1.0, sentence
    assert REWARD.score("I found 2 films for you.", PLAN).nonsense == 0.0


def test_repetition() -> None:
    assert REWARD.score("Two great films. Two great films.", PLAN).repetition == 1.0
    assert 0 < REWARD.score("These films are great films and these films are great.", PLAN).repetition < 1
    assert REWARD.score("Two films for a quiet night.", PLAN).repetition == 0.0


def test_style_follows_only_inferred_preferences_above_the_threshold() -> None:
    loud, calm = "Two films for you!", "Two films for you."
    assert REWARD.score(loud, PLAN).style == 1.0  # nothing inferred: nothing to follow
    assert REWARD.score(loud, PLAN, PLAIN).style < REWARD.score(calm, PLAN, PLAIN).style == 1.0
    weak = [SnapshotPreference(key="tone:plain", text="calm", confidence=0.1)]
    assert REWARD.score(loud, PLAN, weak).style == 1.0
    bullets = [SnapshotPreference(key="format:bullets", text="bullets", confidence=0.9)]
    assert REWARD.score(calm, PLAN, bullets).style < 1.0  # the agent's numbered list is what such a user edits


def test_coverage_of_items_reasons_facts_and_options() -> None:
    full = assemble("", PLAN)
    assert coverage(full, PLAN) == 1.0
    assert coverage("1. Toy Story\n2. Alien", PLAN) == 0.5  # the reasons are gone
    ask = ReplyPlan(kind="ask", question="Which era?", options=("the 1990s", "any"), facts=("Noted.",))
    assert coverage(assemble("Let me ask.", ask), ask) == 1.0
    assert coverage("Which era?", ask) == pytest.approx(0.25)


def test_weights_are_checked_and_used() -> None:
    with pytest.raises(ValueError, match="nonsense"):
        RewardConfig(nonsense=-1)
    heavy = Reward(REWARD.titles, REWARD.genres, RewardConfig(nonsense=3.0))
    assert heavy.score("I found 3 films for you.", PLAN).total == pytest.approx(0.0)
