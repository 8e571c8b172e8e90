"""Run a simulation: episodes spread over Ray actors (local, or an existing cluster), with a progress bar.

Every episode draws from its own generator ``(seed, index)``, so results do not depend on the
number of workers or on which worker ran which episode. ``EpisodeWorker`` also runs in process
(``run_local``), which is what the tests use.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from agent.simulate.e2e import RecordingPolicy, run_agent
from agent.simulate.mcr import Environment, MCRConfig, run_fast
from agent.simulate.persona import PersonaConfig, make_persona, persona_split, run_persona
from agent.simulate.policies import PolicyMaker, check_policy

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class SimulationConfig:
    """One simulation run.

    Attributes:
        dataset: Catalog name or folder (``recsys.datasets.load_catalog``).
        mode: "mcr" (the standard protocol) or "persona" (memory across sessions).
        engine: MCR only: "fast" (policy and recommender directly) or "agent" (end to end through
            ``Agent.chat``). Persona mode always runs end to end.
        policy: "maxent", "random", "always-recommend", or a trained policy: "learned[:PATH]" or
            "tree[:PATH]" (``agent.simulate.policies``).
        episodes: MCR episodes, or personas.
        seed: Fixes the episodes drawn and every random choice in them.
        mcr: The MCR protocol (question kind, turns, list size, recommender, attributes).
        persona: Persona sessions.
        workers: Ray actors (local runs start Ray with this many CPUs).
        chunk: Episodes per task (the progress bar moves per chunk).
        cache_dir: Asset cache (default: ``Settings.from_env()``).
        recommender_path: A saved recommender folder used as is, instead of fitting ``mcr.recommender``
            here (a trained or aligned SASRec). Persona mode: it must not have trained on the personas'
            targets, each user's last ``persona.sessions`` items (``persona_split``); MCR: on the
            episodes' targets, the held-out items of the protocol's split.
        understanding: How the agent reads the simulated user's messages (``AgentConfig.understanding``;
            the template backend has no LLM, so "auto" is the learned reader). End to end only.
    """

    dataset: str = "ml-100k"
    mode: Literal["mcr", "persona"] = "mcr"
    engine: Literal["fast", "agent"] = "fast"
    policy: str = "maxent"
    episodes: int = 100
    seed: int = 0
    mcr: MCRConfig = field(default_factory=MCRConfig)
    persona: PersonaConfig = field(default_factory=PersonaConfig)
    workers: int = 2
    chunk: int = 20
    cache_dir: str | None = None
    recommender_path: str | None = None
    understanding: str = "auto"

    def __post_init__(self) -> None:
        if self.mode not in ("mcr", "persona"):
            raise ValueError(f"mode must be mcr or persona, got {self.mode!r}")
        if self.engine not in ("fast", "agent"):
            raise ValueError(f"engine must be fast or agent, got {self.engine!r}")
        check_policy(self.policy)
        if self.understanding not in ("auto", "learned", "patterns"):
            raise ValueError(f"understanding must be auto, learned or patterns, got {self.understanding!r}")
        if self.understanding != "auto" and self.mode == "mcr" and self.engine == "fast":
            raise ValueError(
                "--understanding applies end to end (--mode persona or --engine agent); the fast engine reads no messages"
            )
        if self.mcr.attributes and (self.mode == "persona" or self.engine == "agent"):
            # The agent's reader has no words for a catalog's own attribute types, so its answers would be misread.
            raise ValueError("item attributes (--attributes) are askable in the fast MCR engine only")
        if self.mcr.protocol != "tastebud" and (self.mode == "persona" or self.engine == "agent"):
            # The agent reads answers under its own rules (every picked value, 5 options, unseen items), so the
            # published protocols' rules cannot hold end to end.
            raise ValueError(
                f"--protocol {self.mcr.protocol} runs in the fast MCR engine only (--engine fast); the agent "
                "end to end (--engine agent, --mode persona) follows --protocol tastebud"
            )
        if self.episodes < 1 or self.workers < 1 or self.chunk < 1:
            raise ValueError("episodes, workers and chunk must be >= 1")


class EpisodeWorker:
    """Holds one environment (and, end to end, one agent with its own data folder); runs episodes.

    Args:
        config: The run.
    """

    def __init__(self, config: SimulationConfig) -> None:
        from recsys.datasets import load_catalog
        from recsys.settings import Settings

        self.config = config
        self.settings = Settings.from_env(cache_dir=config.cache_dir)
        catalog = load_catalog(config.dataset, self.settings)
        given = None
        if config.recommender_path is not None:  # used as is in either mode: nothing is fitted here
            from recsys.seqrec.recommender import load

            given = load(config.recommender_path)
        self.env = Environment(catalog, config.mcr, seed=config.seed, recommender=given)
        self.make_policy = PolicyMaker(config.policy, config.mcr, self.settings.cache_dir, config.dataset)
        self.targets = self.env.sample(config.episodes, config.seed) if config.mode == "mcr" else []
        self.agent: Any = None
        self.recorder = RecordingPolicy()
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if config.mode == "persona" or config.engine == "agent":
            self.agent = self._build_agent()

    def _build_agent(self) -> Any:
        from recsys.seqrec.recommender import create, save

        cfg = self.config
        self._tmp = tempfile.TemporaryDirectory(prefix="tastebud-sim-")
        root = Path(self._tmp.name)
        if cfg.recommender_path is not None:
            return self._agent_with(Path(cfg.recommender_path), root)
        if cfg.mode == "persona":  # the persona targets (last items) stay out of training too
            rec = create(cfg.mcr.recommender, self.env.split.data.item_ids, seed=cfg.seed)
            rec.fit(persona_split(self.env.split, cfg.persona.sessions))
        else:
            rec = self.env.recommender
        save(rec, root / "recommender")
        return self._agent_with(root / "recommender", root)

    def _agent_with(self, recommender: Path, root: Path) -> Any:
        from agent.api import Agent, AgentConfig
        from agent.llm import BackendConfig

        cfg = self.config
        config = AgentConfig(
            dataset=cfg.dataset,
            backend=BackendConfig(kind="template"),
            recommender_path=recommender,
            data_dir=root / "data",
            k=cfg.mcr.k if cfg.mode == "mcr" else cfg.persona.k,
            retrieval=False,
            ask_relations=cfg.mcr.relations,
            understanding=cfg.understanding,
        )
        return Agent.from_config(config, self.settings, policy=self.recorder)

    def run(self, indices: list[int]) -> list[dict[str, Any]]:
        """Run the given episodes; one JSON-able dict each."""
        cfg = self.config
        out = []
        for i in indices:
            policy = self.make_policy(cfg.seed * 1_000_003 + i)
            if cfg.mode == "persona":
                persona = make_persona(self.env.catalog, self.env.space, self.env.split, cfg.persona, cfg.seed, i)
                out.append(
                    run_persona(self.agent, self.recorder, policy, self.env.space, persona, cfg.persona, cfg.seed, i)
                )
            elif cfg.engine == "agent":
                out.append(asdict(run_agent(self.agent, self.recorder, self.env, self.targets[i], policy, i, cfg.seed)))
            else:
                out.append(asdict(run_fast(self.env, self.targets[i], policy, i, cfg.seed)))
        return out

    def close(self) -> None:
        """Close the agent's databases and remove its folder."""
        if self.agent is not None:
            self.agent.close()
        if self._tmp is not None:
            self._tmp.cleanup()


def _chunks(n: int, size: int) -> list[list[int]]:
    return [list(range(s, min(s + size, n))) for s in range(0, n, size)]


def run_local(config: SimulationConfig, progress: bool = False) -> list[dict[str, Any]]:
    """All episodes in this process (no Ray)."""
    from tqdm import tqdm

    worker = EpisodeWorker(config)
    try:
        out: list[dict[str, Any]] = []
        for chunk in tqdm(_chunks(config.episodes, config.chunk), disable=not progress, desc="episodes"):
            out += worker.run(chunk)
        return out
    finally:
        worker.close()


def run_ray(config: SimulationConfig, address: str | None = None, progress: bool = True) -> list[dict[str, Any]]:
    """All episodes on Ray actors: a local Ray by default, an existing cluster when ``address`` is given.

    On a cluster, the ``tastebud`` package and its assets must be installed on the nodes.
    """
    import ray
    from tqdm import tqdm

    started = False
    if not ray.is_initialized():
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=config.workers, include_dashboard=False, log_to_driver=False)
        started = True
    try:
        actor_cls = ray.remote(num_cpus=1)(EpisodeWorker)
        actors = [actor_cls.remote(config) for _ in range(config.workers)]
        chunks = _chunks(config.episodes, config.chunk)
        pending = {actors[n % len(actors)].run.remote(c): n for n, c in enumerate(chunks)}
        results: list[dict[str, Any]] = []
        with tqdm(total=config.episodes, disable=not progress, desc=f"{config.mode} {config.policy}") as bar:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    part = ray.get(ref)
                    del pending[ref]
                    results += part
                    bar.update(len(part))
        ray.get([a.close.remote() for a in actors])
        return sorted(results, key=lambda r: r["index"])
    finally:
        if started:
            ray.shutdown()
