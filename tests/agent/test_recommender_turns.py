"""Recommenders' turns as tag-only training rows: titles located by their picker names, nothing else trained."""

from __future__ import annotations

from dataclasses import replace

import torch

from agent.understanding.corpus import RedialMessage, redial_part
from agent.understanding.features import TokenEncoder
from agent.understanding.labels import LABEL_GENRES
from agent.understanding.model import TAGS, ModelConfig, UnderstandingModel
from agent.understanding.recommender_turns import recommender_examples, recommender_variants, unlabelled_ranges
from agent.understanding.titles import TitleIndex
from agent.understanding.train import losses
from agent.understanding.train_linker import linker_data
from agent.understanding.train_rows import collate, tensorize


def _dialogue(part: str) -> str:
    return next(str(d) for d in range(1, 1000) if redial_part(str(d)) == part)


def _messages(dialog: str) -> list[RedialMessage]:
    first = RedialMessage(
        id=f"redial-valid-{dialog}-2",
        dialog_id=dialog,
        turn_index=2,
        text="I like funny movies",
        context=(("recommender", "Hi! What do you like?"),),
        utterance_movies=(),
        target_ids=(),
        named_movies=("Maid in Manhattan (2002)", "Toy Story (1995)"),
        response="Have you seen Maid in Manhattan (2002) with Jennifer Lopez? Or Toy Story (1995)?",
    )
    second = RedialMessage(
        id=f"redial-valid-{dialog}-4",
        dialog_id=dialog,
        turn_index=4,
        text="Toy Story (1995) is great",
        context=(*first.context, ("seeker", first.text), ("recommender", first.response)),
        utterance_movies=("Toy Story (1995)",),
        target_ids=(),
        named_movies=("Maid in Manhattan (2002)", "Toy Story (1995)"),
        response="Then try Aladdin (1992)",
    )
    return [first, second]


def test_titles_in_recommenders_turns_are_located_by_name_and_linked_to_the_catalog(catalog) -> None:
    titles = TitleIndex(catalog)
    dialog = _dialogue("study")
    examples = recommender_examples(_messages(dialog), titles, "study")
    # "Hi! What do you like?" names no film; the same turn seen twice in the context counts once;
    # "Aladdin (1992)" is in the text but not among the dialogue's named films, so it is not labelled.
    assert [e.text for e in examples] == [_messages(dialog)[0].response]
    (turn,) = examples
    assert turn.tags_only and turn.id == f"redial-valid-{dialog}-r1"
    spans = {turn.text[s.start : s.end]: s.item for s in turn.spans}
    assert spans["Maid in Manhattan (2002)"] is None  # not in the catalog, still a title
    assert catalog.items[spans["Toy Story (1995)"]].title == "Toy Story"
    # Capitalised words outside the titles may be names: left unlabelled, not taught as "no name".
    assert [turn.text[a:b] for a, b in unlabelled_ranges(turn)] == ["Have", "Jennifer", "Lopez", "Or"]
    # Every title, in the catalog or not, is also seen year-less and in lower case.
    lower = [v for v in recommender_variants(turn, titles) if v.source == "lower"][0]
    assert "maid in manhattan with Jennifer" in lower.text and lower.tags_only
    assert recommender_examples(_messages(dialog), titles, "measure") == []


def test_tag_only_rows_train_the_tags_alone(catalog, encoder) -> None:
    titles = TitleIndex(catalog)
    (turn,) = recommender_examples(_messages(_dialogue("study")), titles, "study")
    tokens = TokenEncoder(encoder, max_tokens=48)
    (row,) = tensorize([turn], tokens)
    assert row.intent == row.lasting == row.situation == row.era == -100
    assert (row.genre == -100).all() and (row.opinions == -100).all()
    tags = [TAGS[t] if t >= 0 else None for t in row.tags.tolist()]
    assert tags.count("B-TITLE") == 2 and "I-TITLE" in tags and "O" in tags
    pieces = [turn.text[a:b] for (a, b), t in zip(row.offsets, row.tags.tolist()) if t == -100 and b > a]
    assert "Jennifer" in "".join(pieces)
    model = UnderstandingModel(ModelConfig(d_model=32, n_heads=2, max_tokens=48))
    parts = losses(model, collate([row, row]), tokens.names(list(LABEL_GENRES)))
    assert set(parts) == {"tags"} and torch.isfinite(parts["tags"])


def test_the_linker_learns_only_from_candidates_inside_located_titles(catalog, encoder) -> None:
    titles = TitleIndex(catalog)
    dialog = _dialogue("study")
    messages = _messages(dialog)
    # The recommender also types a title without the picker: its label is unknown, so it is no negative.
    messages[0] = replace(messages[0], response=messages[0].response + " I also liked Fargo")
    (turn,) = [e for e in recommender_examples(messages, titles, "study") if "Fargo" in e.text]
    tokens = TokenEncoder(encoder, max_tokens=48)
    rows = tensorize([turn], tokens)
    model = UnderstandingModel(ModelConfig(d_model=32, n_heads=2, max_tokens=48)).eval()
    x, y, owner = linker_data(model, [turn], rows, titles, tokens.names(list(LABEL_GENRES)))
    surfaces = sorted(turn.text[c.start : c.end] for c in titles.candidates(turn.text))
    assert surfaces == ["Fargo", "Manhattan (2002)", "Toy Story (1995)"]
    # Kept: Toy Story (the located title, a positive) and Manhattan (a fragment of one, a negative).
    assert len(y) == len(surfaces) - 1 and sorted(y.tolist()) == [0.0, 1.0]
