"""Ask-vs-recommend policies as pure functions of the observation."""

from __future__ import annotations

import numpy as np
import pytest

from agent.policy import (
    AlwaysRecommendPolicy,
    Ask,
    MaxEntropyConfig,
    MaxEntropyPolicy,
    Observation,
    RandomPolicy,
    Recommend,
    binary_entropy,
)
from recsys.attributes import AttributeConfig, AttributeSpace
from recsys.catalog import Catalog


@pytest.fixture(scope="module")
def space(catalog: Catalog) -> AttributeSpace:
    return AttributeSpace(catalog, AttributeConfig(relations=("director",)))


def observe(
    catalog: Catalog, space: AttributeSpace, candidates=None, scores=None, asked=(), questions=0
) -> Observation:
    cands = np.arange(len(catalog)) if candidates is None else np.asarray(candidates)
    sc = np.log(catalog.popularity[cands] + 1.0) if scores is None else np.asarray(scores, float)
    return Observation(
        turn=questions, candidates=cands, scores=sc, asked=frozenset(asked), space=space, k=10, questions=questions
    )


def test_binary_entropy() -> None:
    assert binary_entropy(np.array([0.5]))[0] == pytest.approx(1.0)
    assert binary_entropy(np.array([0.0, 1.0])).max() < 1e-9
    assert binary_entropy(np.array([0.1]))[0] == pytest.approx(0.4690, abs=1e-4)


def test_space_membership_matches_the_catalog(catalog: Catalog, space: AttributeSpace) -> None:
    assert {"genre", "decade", "director"} <= set(space.types)
    alien = catalog.index["183"]
    labels = {v.label for v in space.of_item(alien)}
    assert {"Horror", "Sci-Fi", "the 1970s"} <= labels
    assert space.mask("genre", "Horror").sum() == catalog.genre_masks["horror"].sum()


def test_maxent_asks_the_most_splitting_attribute_first(catalog: Catalog, space: AttributeSpace) -> None:
    action = MaxEntropyPolicy().decide(observe(catalog, space))
    assert isinstance(action, Ask) and action.attribute == "genre"
    assert 2 <= len(action.options) <= 5 and len({o.value for o in action.options}) == len(action.options)
    # a settled type is never asked
    action = MaxEntropyPolicy().decide(observe(catalog, space, asked=("genre",)))
    assert isinstance(action, Ask) and action.attribute != "genre"


def test_maxent_offers_a_type_again_only_with_values_not_offered(catalog: Catalog, space: AttributeSpace) -> None:
    first = MaxEntropyPolicy().decide(observe(catalog, space, asked=("decade", "director")))
    assert isinstance(first, Ask) and first.attribute == "genre"
    offered = {o.key for o in first.options}
    again = MaxEntropyPolicy().decide(observe(catalog, space, asked=("decade", "director", *offered), questions=1))
    assert isinstance(again, Ask) and again.attribute == "genre" and len(again.options) >= 2
    assert not offered & {o.key for o in again.options}
    # a value every candidate has splits nothing: never offered
    comedies = np.flatnonzero(space.mask("genre", "Comedy"))
    for policy in (MaxEntropyPolicy(), RandomPolicy(seed=0)):
        settled = observe(catalog, space, candidates=comedies, asked=("decade", "director"))
        asks = [policy.decide(settled)] + [policy.decide(observe(catalog, space, comedies)) for _ in range(10)]
        assert all("Comedy" not in {o.value for o in a.options} for a in asks if isinstance(a, Ask))


def test_maxent_recommends_when_few_candidates_or_confident(catalog: Catalog, space: AttributeSpace) -> None:
    assert MaxEntropyPolicy().decide(observe(catalog, space, candidates=range(10))) == Recommend(10)
    scores = np.full(len(catalog), -50.0)
    scores[:5] = 0.0  # the recommender puts almost all mass on five items
    assert isinstance(MaxEntropyPolicy().decide(observe(catalog, space, scores=scores)), Recommend)
    three = ("genre", "decade", "director")
    assert isinstance(MaxEntropyPolicy().decide(observe(catalog, space, asked=three)), Recommend)
    assert isinstance(MaxEntropyPolicy().decide(observe(catalog, space, questions=3)), Recommend)  # max_questions


def test_maxent_binary_questions_ask_one_value(catalog: Catalog, space: AttributeSpace) -> None:
    policy = MaxEntropyPolicy(MaxEntropyConfig(question="binary"))
    action = policy.decide(observe(catalog, space))
    assert isinstance(action, Ask) and len(action.options) == 1
    key = action.options[0].key
    again = policy.decide(observe(catalog, space, asked=(key,), questions=1))
    assert isinstance(again, Ask) and again.options[0].key != key


def test_random_policy_is_seeded_and_always_recommend_never_asks(catalog: Catalog, space: AttributeSpace) -> None:
    obs = observe(catalog, space)
    first = [RandomPolicy(seed=3).decide(obs) for _ in range(1)] + [RandomPolicy(seed=3).decide(obs)]
    assert first[0] == first[1]
    policy = RandomPolicy(seed=1)
    actions = [policy.decide(obs) for _ in range(20)]
    assert any(isinstance(a, Ask) for a in actions) and any(isinstance(a, Recommend) for a in actions)
    assert AlwaysRecommendPolicy().decide(obs) == Recommend(10)


def test_config_validation() -> None:
    with pytest.raises(ValueError):
        MaxEntropyConfig(question="open")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        MaxEntropyConfig(confidence=0)
