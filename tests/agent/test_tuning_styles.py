"""Latent styles, their deterministic edits and cost, and the anatomy of a reply (issue 17, point 2)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from agent.grounding import grounded_text
from agent.llm.base import ChatBackend, GenerationConfig
from agent.llm.plan import PlannedItem, ReplyPlan
from agent.tuning.reply import assemble, model_part
from agent.tuning.simulate import check_training_seed
from agent.tuning.styles import STYLES, draw_styles, edit, edit_cost
from memory.preferences import infer_from_edit

PLAN = ReplyPlan(
    kind="recommend",
    items=(
        PlannedItem(item_id="1", title="Toy Story", year=1995, reason="it is linked to Comedy films, which you like"),
        PlannedItem(item_id="2", title="Alien", year=1979, reason="it matches what you asked for: Horror"),
    ),
)
YEARS = {"Toy Story": 1995, "Alien": 1979}
SILLY = "I'm so glad to hear that you found 2 films for your movie! Alien is about a crew that dies one by one."


class Scripted(ChatBackend):
    """A backend that always writes the same text (the agent's real grounding runs on it)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def stream(self, messages, config=None):  # type: ignore[no-untyped-def]
        yield self.text


def _reply(prose: str, plan: ReplyPlan = PLAN) -> str:
    return grounded_text(Scripted(prose), plan, re.compile(r"\b(?:Toy Story|Alien|Heat)\b"), GenerationConfig())


def test_the_model_part_is_what_the_model_wrote() -> None:
    text = _reply("Here are two films for you. Enjoy them both!")
    assert model_part(text, PLAN) == "Here are two films for you.\nEnjoy them both!"
    assert assemble(model_part(text, PLAN), PLAN) == text
    silent = _reply("")
    assert silent.count("Here is what I found for you:") == 1  # the lead line is said once (it was twice)
    assert model_part(silent, PLAN) == "" and assemble("", PLAN) == silent
    # Edits of the agent's own lines stay the agent's.
    edited = edit(silent, list(STYLES), YEARS)
    assert edited != silent and model_part(edited, PLAN) == ""
    ask = ReplyPlan(kind="ask", facts=("Noted: never Horror!",), question="Which era?", options=("the 1990s", "any"))
    text = _reply("Let me ask you something.", ask)
    assert model_part(text, ask) == "Let me ask you something."
    assert model_part(edit(text, ["tone:plain", "style:concise"], {}), ask) == "Let me ask you something."


def test_each_style_edits_toward_itself_and_only_when_needed() -> None:
    assert "you found" not in _reply(SILLY)  # the user cast as the finder: a cheap check drops it
    text = _reply("I found 2 films for you! Alien is about a crew that dies one by one.")
    assert "found 2 films" in text and "dies one by one" in text  # a plot of a planned film passes grounding
    text = "I'm so glad! Alien is about a whole crew that slowly dies one by one.\n1. Toy Story (1995) - a comedy\n2. Alien - scary"
    cases = {
        "content:no-plot": "I'm so glad!\n1. Toy Story (1995) - a comedy\n2. Alien - scary",
        "style:concise": "I'm so glad!\n1. Toy Story (1995)\n2. Alien",
        "tone:plain": "I'm so glad. Alien is about a whole crew that slowly dies one by one.\n1. Toy Story (1995) - a comedy\n2. Alien - scary",
        "content:year": "I'm so glad! Alien (1979) is about a whole crew that slowly dies one by one.\n1. Toy Story (1995) - a comedy\n2. Alien (1979) - scary",
        "format:bullets": "I'm so glad! Alien is about a whole crew that slowly dies one by one.\n- Toy Story (1995) - a comedy\n- Alien - scary",
    }
    for key, expected in cases.items():
        style = STYLES[key]
        assert style.edit(text, YEARS) == expected, key
        assert style.follows(expected, YEARS) and not style.follows(text, YEARS)
        # What memory infers from such an edit is the style itself (CIPHER, rules only).
        assert key in {i.key for i in infer_from_edit(text, expected)} or key == "style:concise"
    both = edit(text, ["format:bullets", "content:no-plot"], YEARS)
    assert both == "I'm so glad!\n- Toy Story (1995) - a comedy\n- Alien - scary"
    assert edit(both, ["format:bullets", "content:no-plot"], YEARS) == both  # edits are idempotent
    with pytest.raises(ValueError, match="unknown styles"):
        edit(text, ["style:loud"], YEARS)


def test_a_long_first_sentence_is_cut_not_dropped() -> None:
    long = "This is a very long opening sentence that goes on and on about nothing at all. Short one."
    assert STYLES["style:concise"].edit(long, {}) == "This is a very long opening sentence that goes on. Short one."


def test_edit_cost_is_word_levenshtein() -> None:
    assert edit_cost("a b c", "a b c") == 0
    assert edit_cost("I'm so glad!", "I'm so glad.") == 1
    assert edit_cost("a b c d", "a c") == 2
    assert edit_cost("", "one two") == 2


def test_styles_are_drawn_deterministically() -> None:
    drawn = [draw_styles(np.random.default_rng([7, i])) for i in range(50)]
    assert drawn == [draw_styles(np.random.default_rng([7, i])) for i in range(50)]
    assert all(1 <= len(d) <= 3 and list(d) == [k for k in STYLES if k in d] for d in drawn)
    assert {k for d in drawn for k in d} == set(STYLES)


@pytest.mark.parametrize("seed", [0, 1, 2, 997, 998, 999, 3000, 41001, 7002])
def test_evaluation_seeds_are_refused_for_training(seed: int) -> None:
    with pytest.raises(ValueError, match="evaluation seed"):
        check_training_seed(seed)
    assert check_training_seed(170_017) == 170_017
