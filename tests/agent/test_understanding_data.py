"""The understanding data: the frozen statement set, the labels, the split, the written corpus."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from agent.understanding.config import written_files
from agent.understanding.corpus import (
    REPO_DATA,
    Fillers,
    default_redial_path,
    genre_swapped,
    load_labels,
    load_redial,
    redial_part,
    title_variants,
    written_examples,
)
from agent.understanding.labels import MessageLabel
from agent.understanding.titles import TitleIndex

FROZEN_SHA256 = "7f0425dc56d123917fa46c37a50c0b7e816c69809c512ed0f11fa99440830e2e"


def test_the_statement_set_is_frozen() -> None:
    data = (REPO_DATA / "statements_test.jsonl").read_bytes()
    assert hashlib.sha256(data).hexdigest() == FROZEN_SHA256, "the frozen test set changed"
    rows = [json.loads(line) for line in data.decode().splitlines()]
    assert len(rows) >= 200 and len({r["id"] for r in rows}) == len(rows)
    assert {r["expect"]["kind"] for r in rows} == {"rule", "preference", "none", "out_of_domain"}


def test_labels_are_valid_and_cover_every_message_once() -> None:
    labels = load_labels(REPO_DATA / "redial_labels.jsonl")
    assert len(labels) == 2840
    second = load_labels(REPO_DATA / "redial_labels_second.jsonl")
    assert len(second) == 120 and set(second) <= set(labels)
    assert all(isinstance(v, MessageLabel) for v in labels.values())


def test_the_split_is_by_dialogue_and_fixed() -> None:
    assert redial_part("407") == redial_part("407")
    parts = {redial_part(str(d)) for d in range(50)}
    assert parts == {"study", "measure"}


def test_a_malformed_label_line_names_the_line(tmp_path) -> None:
    bad = tmp_path / "labels.jsonl"
    bad.write_text('{"id": "a", "intent": "request"}\n{"id": "b", "intent": "dance"}\n')
    with pytest.raises(ValueError, match="line 2"):
        load_labels(bad)


def test_written_corpus_fills_placeholders_consistently(catalog) -> None:
    titles = TitleIndex(catalog)
    fillers = Fillers.load(REPO_DATA / "fillers.json")
    for path in written_files(REPO_DATA):
        examples = written_examples(path, fillers, titles, seed=0, copies=2)
        assert examples
        for ex in examples[:400]:
            assert "{" not in ex.text, ex.text
            for span in ex.spans:
                assert 0 <= span.start < span.end <= len(ex.text)
            for film in ex.label.films:
                assert film.surface in ex.text or film.surface.casefold() in ex.text.casefold()


def test_a_genre_swap_keeps_each_phrasing_and_its_polarity() -> None:
    fillers = Fillers.load(REPO_DATA / "fillers.json")
    row = {"text": "I love comedies but no action, ever", "genres_wanted": ["Comedy"], "genres_unwanted": ["Action"]}
    rng = np.random.default_rng(0)
    for _ in range(20):
        swapped = genre_swapped(row, fillers, rng)
        assert swapped is not None and swapped["text"].startswith("I love ") and ", ever" in swapped["text"]
        (liked,), (disliked,) = swapped["genres_wanted"], swapped["genres_unwanted"]
        assert {liked, disliked}.isdisjoint({"Comedy", "Action"}) and liked != disliked
        assert "comed" not in swapped["text"] and "action" not in swapped["text"]
    article = genre_swapped({"text": "an action movie please", "genres_wanted": ["Action"]}, fillers, rng)
    assert article is not None and article["text"].split()[0] == (
        "an" if article["text"].split()[1][0] in "aeiou" else "a"
    )
    # A genre reached by meaning is not swapped ("funny" -> "war" would not be English), nor a placeholder row.
    assert genre_swapped({"text": "something funny", "genres_wanted": ["Comedy"]}, fillers, rng) is None
    assert genre_swapped({"text": "no {GENRES}", "genres_unwanted": ["{GENRE}"]}, fillers, rng) is None


def test_genre_swaps_add_copies_only_when_asked(catalog) -> None:
    titles = TitleIndex(catalog)
    fillers = Fillers.load(REPO_DATA / "fillers.json")
    path = REPO_DATA / "written_lasting.jsonl"
    plain = written_examples(path, fillers, titles, seed=0, copies=1)
    swapped = written_examples(path, fillers, titles, seed=0, copies=1, genre_swaps=1)
    assert len(swapped) > len(plain)
    assert [e.text for e in written_examples(path, fillers, titles, seed=0, copies=1)] == [e.text for e in plain]


@pytest.mark.skipif(
    not default_redial_path().is_file(), reason="redial-dev (../shared/data/redial-dev) is not beside this checkout"
)
def test_study_titles_are_also_seen_year_less_and_in_lower_case(catalog) -> None:
    from agent.understanding.corpus import redial_examples

    titles = TitleIndex(catalog)
    messages = load_redial(default_redial_path())
    study = redial_examples(messages, load_labels(REPO_DATA / "redial_labels.jsonl"), titles, "study")
    with_films = [e for e in study if any(s.item is not None for s in e.spans)]
    assert with_films
    variants = title_variants(with_films[0])
    lower = [v for v in variants if v.source == "lower"][0]
    for span in lower.spans:
        assert lower.text[span.start : span.end] == lower.text[span.start : span.end].casefold()
        assert "(19" not in lower.text[span.start : span.end] and "(20" not in lower.text[span.start : span.end]


def test_a_labelled_title_with_a_colon_names_the_catalog_film_of_that_year(catalog) -> None:
    from agent.understanding.corpus import spans_of

    titles = TitleIndex(catalog)
    professional = titles.match("The Professional", 1994)
    star_wars = titles.match("Star Wars", 1977)
    assert professional is not None and star_wars is not None

    def linked(text: str, surface: str, title: str, year: int | None) -> int | None:
        label = MessageLabel.model_validate(
            {"id": "x", "intent": "feedback", "films": [{"surface": surface, "title": title, "year": year}]}
        )
        return spans_of(text, label, titles)[0].item

    said = "do you mean Léon: The Professional (1994)"
    assert linked(said, "Léon: The Professional (1994)", "Léon: The Professional", 1994) == professional
    said = "Star Wars: A New Hope (1977) is my favourite"
    assert linked(said, "Star Wars: A New Hope (1977)", "Star Wars: A New Hope", 1977) == star_wars
    # Another year, or no year at all, names nothing in the catalog: the sequel is not the 1977 film.
    said = "Star Wars: The Last Jedi (2017) was great"
    assert linked(said, "Star Wars: The Last Jedi (2017)", "Star Wars: The Last Jedi", 2017) is None
    assert (
        linked("Star Wars: The Last Jedi was great", "Star Wars: The Last Jedi", "Star Wars: The Last Jedi", None)
        is None
    )
