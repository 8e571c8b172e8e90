"""End to end: the simulator through agent.chat (template backend), persona memory, and one Ray run."""

from __future__ import annotations

import pytest

from agent.simulate.mcr import MCRConfig
from agent.simulate.persona import PersonaConfig
from agent.simulate.report import summarize, write_report
from agent.simulate.runner import EpisodeWorker, SimulationConfig, run_local, run_ray
from agent.understanding.reader import LearnedUnderstander


def test_end_to_end_episode_through_agent_chat() -> None:
    config = SimulationConfig(mode="mcr", engine="agent", episodes=2, seed=0, mcr=MCRConfig(max_turns=3))
    worker = EpisodeWorker(config)
    try:
        (result,) = worker.run([0])
        assert result["questions"] + result["lists"] + result["misread"] == (result["turn"] or 3)
        if result["turn"] is not None:
            assert 1 <= result["rank"] <= 10
    finally:
        worker.close()


def test_persona_rules_hold_in_later_sessions(tmp_path) -> None:  # noqa: ANN001
    config = SimulationConfig(
        mode="persona", episodes=2, seed=0, persona=PersonaConfig(sessions=2, max_turns=3, state_prob=1.0)
    )
    results = run_local(config)
    figures = summarize(config, results)
    assert figures["sessions"] == 4 and figures["items_recommended"] > 0
    assert figures["compiled_violation_rate"] == 0.0
    assert 0 <= figures["hard_recall"] <= 1
    # The stated liking of an entity is kept, as a standing prefer instruction or as interests.
    assert figures["soft_kept"] == 1.0 and figures["soft_recall"] <= figures["soft_kept"]
    report = write_report(config, results, figures, tmp_path, "test")
    assert (tmp_path / "success_by_turn.png").stat().st_size > 0 and "compiled_violation_rate" in report.read_text()


def test_ray_run_matches_the_in_process_run() -> None:
    config = SimulationConfig(mode="mcr", policy="random", episodes=6, chunk=2, workers=1, seed=4)
    assert run_ray(config, progress=False) == run_local(config)


def test_a_persona_run_fits_no_environment_recommender(tiny_catalog) -> None:  # noqa: ANN001
    # Persona runs train their own recommender (targets held out per session); the MCR
    # environment's would be fitted and never used.
    config = SimulationConfig(dataset=str(tiny_catalog), mode="persona", episodes=1, seed=0)
    worker = EpisodeWorker(config)
    try:
        assert "recommender" not in vars(worker.env)
    finally:
        worker.close()
    mcr = EpisodeWorker(SimulationConfig(dataset=str(tiny_catalog), mode="mcr", engine="agent", episodes=1, seed=0))
    try:
        assert "recommender" in vars(mcr.env)  # the agent of an MCR run uses the environment's
    finally:
        mcr.close()


def test_persona_run_uses_a_saved_recommender_as_is(tiny_catalog, tmp_path) -> None:  # noqa: ANN001
    from agent.simulate.persona import persona_split
    from recsys.datasets import load_catalog
    from recsys.seqrec.data import from_catalog, leave_one_out
    from recsys.seqrec.recommender import PopularityRecommender, create, save

    data = from_catalog(load_catalog(tiny_catalog))
    rec = create("pop", data.item_ids)
    rec.fit(persona_split(leave_one_out(data), 2))
    config = SimulationConfig(
        dataset=str(tiny_catalog),
        mode="persona",
        episodes=1,
        seed=0,
        persona=PersonaConfig(sessions=2),
        recommender_path=str(save(rec, tmp_path / "rec")),
    )
    worker = EpisodeWorker(config)  # the default --recommender is item-kNN: the saved popularity model must win
    try:
        assert isinstance(worker.agent.services.tools.recommender.rec, PopularityRecommender)
    finally:
        worker.close()


def test_mcr_run_scores_with_a_saved_recommender_as_is(tiny_catalog, tmp_path) -> None:  # noqa: ANN001
    from agent.simulate.mcr import Environment
    from recsys.datasets import load_catalog
    from recsys.seqrec.recommender import PopularityRecommender, create, save

    mcr = MCRConfig(max_turns=5)
    fitted = EpisodeWorker(SimulationConfig(dataset=str(tiny_catalog), episodes=4, seed=0, mcr=mcr))
    knn = save(fitted.env.recommender, tmp_path / "knn")  # fitted on the protocol's training part only
    config = SimulationConfig(
        dataset=str(tiny_catalog),
        episodes=4,
        seed=0,
        mcr=MCRConfig(max_turns=5, recommender="pop"),
        recommender_path=str(knn),
    )
    saved = EpisodeWorker(config)  # --recommender pop is not fitted: the saved item-kNN scores
    assert not isinstance(saved.env.recommender, PopularityRecommender)
    assert saved.run(list(range(4))) == fitted.run(list(range(4)))
    with pytest.raises(ValueError, match="other items"):
        Environment(load_catalog(str(tiny_catalog)), mcr, recommender=create("pop", ["a", "b"]))


def test_persona_run_reads_with_the_chosen_understanding(tiny_catalog) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match="end to end"):
        SimulationConfig(mode="mcr", engine="fast", understanding="patterns")
    with pytest.raises(ValueError, match="understanding must be"):
        SimulationConfig(mode="persona", understanding="llm")
    readers = {}
    for understanding in ("auto", "patterns"):
        config = SimulationConfig(
            dataset=str(tiny_catalog), mode="persona", episodes=1, seed=0, understanding=understanding
        )
        worker = EpisodeWorker(config)
        try:
            readers[understanding] = type(worker.agent.services.understander)
        finally:
            worker.close()
    assert readers["auto"] is LearnedUnderstander  # the template backend has no LLM to read with
    assert readers["patterns"] is not LearnedUnderstander
