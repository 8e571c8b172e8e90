"""The MCR simulator on ML-100K: truthful users, no leakage, the policy interface, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from agent.policy import Ask, MaxEntropyPolicy, Observation, Recommend
from agent.simulate.mcr import Environment, MCRConfig, make_policy, run_fast
from agent.simulate.users import TemplateUser, TruthfulUser
from recsys.catalog import Catalog


@pytest.fixture(scope="module")
def env(catalog: Catalog) -> Environment:
    return Environment(catalog, MCRConfig())


def test_no_held_out_interaction_reaches_the_recommender(env: Environment) -> None:
    split = env.split
    for u, target in zip(split.eval_users[:50], env.targets[:100:2]):
        seq = split.data.sequences[u]
        assert len(split.train[u]) == len(seq) - 2  # test and valid items are not trained on
        assert target.stage == "test" and target.item == seq[-1] - 1
        assert target.item not in target.history
    trained = sum(len(s) for s in split.train)
    assert trained == sum(len(s) for s in split.data.sequences) - 2 * len(split.eval_users)


def test_truthful_user_never_says_yes_to_what_the_target_lacks(env: Environment) -> None:
    space = env.space
    rng = np.random.default_rng(0)
    for target in env.sample(30, seed=1):
        user = TruthfulUser(target, space)
        has = space.membership[target.item]
        for j in rng.choice(len(space.values), 40, replace=False):
            value = space.values[j]
            answer = user.answer(Ask(value.type, (value,)))
            assert answer.yes == bool(has[j])
        genre = space.types["genre"]
        options = tuple(space.values[j] for j in genre[:6])
        chosen = user.answer(Ask("genre", options)).chosen
        assert {v.value for v in chosen} == {space.values[j].value for j in genre[:6] if has[j]}
        assert user.has(user.opening(rng, ("genre", "decade")))


def test_user_accepts_a_list_iff_it_holds_the_target(env: Environment) -> None:
    target = env.targets[0]
    user = TruthfulUser(target, env.space)
    others = np.array([i for i in range(30) if i != target.item][:10])
    assert user.accepts(others) is None
    with_target = others.copy()
    with_target[3] = target.item
    assert user.accepts(with_target) == 4
    speaker = TemplateUser(user)
    assert speaker.react(None) == "not for me"


class Spy:
    """A real policy, recording every observation it was given."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.seen: list[Observation] = []

    def decide(self, obs: Observation) -> Ask | Recommend:
        self.seen.append(obs)
        return self.inner.decide(obs)  # type: ignore[attr-defined]


@pytest.mark.parametrize("question", ["multi", "binary"])
def test_episodes_keep_the_target_and_feed_the_policy_valid_observations(env: Environment, question: str) -> None:
    config = MCRConfig(question=question)
    env.config = config
    try:
        for i, target in enumerate(env.sample(12, seed=3)):
            spy = Spy(make_policy("maxent", config, seed=i))
            result = run_fast(env, target, spy, i, seed=3)  # asserts the target survives every answer
            assert result.questions + result.lists == len(spy.seen) <= config.max_turns
            for obs in spy.seen:
                assert target.item in set(obs.candidates.tolist())
                assert np.all(np.diff(obs.scores) <= 0)  # best first
                assert obs.k == 10 and obs.space is env.space
            if result.turn is not None:
                assert 1 <= result.rank <= 10 and result.turn == len(spy.seen)
    finally:
        env.config = MCRConfig()


def test_runs_are_deterministic_per_seed(env: Environment) -> None:
    def run(seed: int) -> list[tuple[int | None, int]]:
        targets = env.sample(15, seed)
        return [
            (r.turn, r.questions)
            for r in (run_fast(env, t, make_policy("random", env.config, i), i, seed) for i, t in enumerate(targets))
        ]

    assert run(5) == run(5)
    assert [t.item for t in env.sample(15, 5)] != [t.item for t in env.sample(15, 6)]


def test_always_recommend_walks_down_the_ranking(env: Environment) -> None:
    target = env.targets[0]
    result = run_fast(env, target, make_policy("always-recommend", env.config, 0), 0, seed=0)
    assert result.questions == 0 and result.lists == (result.turn or env.config.max_turns)


def test_a_generic_catalog_folder_runs_the_same_protocol(tmp_path, catalog: Catalog) -> None:  # noqa: ANN001
    import csv
    import json

    from recsys.datasets import load_catalog

    items = catalog.items[:120]
    with (tmp_path / "items.jsonl").open("w") as f:
        for it in items:
            f.write(json.dumps({"id": it.id, "title": it.title, "year": it.year, "genres": list(it.genres)}) + "\n")
    rng = np.random.default_rng(0)
    with (tmp_path / "interactions.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["user", "item", "timestamp"])
        for u in range(40):
            for t, i in enumerate(rng.choice(len(items), 12, replace=False)):
                w.writerow([f"u{u}", items[i].id, t])
    small = load_catalog(str(tmp_path))
    env = Environment(small, MCRConfig(max_turns=5))
    results = [run_fast(env, t, MaxEntropyPolicy(), i, 0) for i, t in enumerate(env.sample(10, 0))]
    assert len(results) == 10 and all(r.questions + r.lists <= 5 for r in results)
    assert set(env.space.types) <= {"genre", "decade"}  # no KG in this catalog


def test_a_type_picked_from_is_settled_and_after_none_of_these_its_other_values_stay_askable(env: Environment) -> None:
    from agent.simulate.mcr import Episode

    space = env.space
    genres = space.types["genre"]
    for index, target in enumerate(env.targets[:20]):
        has = space.membership[target.item]
        for picked in (True, False):
            episode = Episode(env, target, index, seed=0)
            js = [
                j
                for j in genres
                if bool(has[j]) == picked and episode.alive[space.mask("genre", space.values[j].value)].any()
            ]
            if len(js) < 2:
                continue
            ask = Ask("genre", tuple(space.values[j] for j in js[:3]))
            step = episode.step(ask)
            assert step.asked and step.accepted == picked and episode.questions == 1
            assert {v.key for v in ask.options} <= episode.asked
            assert ("genre" in episode.asked) == picked
            obs = episode.observation()
            assert obs.questions == 1 and obs.asked == frozenset(episode.asked)
