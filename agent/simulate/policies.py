"""Which ask-vs-recommend policy a simulation runs: a baseline by name, or a trained checkpoint.

``learned[:PATH]`` is the Q-network policy ``tastebud train policy`` saves and ``tree[:PATH]`` the
decision tree distilled from it, saved in the same folder. Without ``PATH`` the checkpoint is the
one ``tastebud train policy`` saves by default for the catalog, question kind and protocol (``policy_dir``).
Imports only the standard library at load, so the command line can validate ``--policy`` cheaply.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent.policy import Policy
    from agent.simulate.mcr import MCRConfig

BASELINES = ("maxent", "random", "always-recommend")  # agent.simulate.mcr.POLICY_NAMES, without its imports
TRAINED = ("learned", "tree")
POLICY_HELP = (
    "maxent, random, always-recommend, or a policy trained by 'tastebud train policy': learned[:PATH] "
    "(its Q-network) or tree[:PATH] (the decision tree distilled from it); without PATH, the checkpoint "
    "'train policy' saves for this --dataset and --question"
)


def check_policy(spec: str) -> str:
    """``spec`` itself when it names a policy (``maxent``, ``learned``, ``learned:PATH``, ...); else ValueError."""
    name, sep, path = spec.partition(":")
    if spec in BASELINES or (name in TRAINED and (not sep or path)):
        return spec
    raise ValueError(f"unknown policy {spec!r}; choose from {', '.join(BASELINES)}, learned[:PATH], tree[:PATH]")


def policy_name(spec: str) -> str:
    """The policy's kind without its path ("learned:/x" -> "learned"): names report folders and tables."""
    return check_policy(spec).partition(":")[0]


def checkpoint_folder(
    spec: str, cache_dir: Path, dataset: str, question: str, protocol: str = "tastebud"
) -> Path | None:
    """The checkpoint a trained policy spec reads (None for a baseline)."""
    from agent.learning.policy import policy_dir

    name, _, path = check_policy(spec).partition(":")
    if name not in TRAINED:
        return None
    return Path(path).expanduser().resolve() if path else policy_dir(cache_dir, dataset, question, protocol)


class PolicyMaker:
    """Makes the policy of each episode; a trained one is loaded once and shared (it keeps no episode state).

    Args:
        spec: A policy spec (``check_policy``).
        mcr: The protocol the episodes run under (the baselines' question kind and thresholds).
        cache_dir: Asset cache, where a spec without a path finds its checkpoint.
        dataset: The catalog, likewise.

    Raises:
        FileNotFoundError: No checkpoint in the folder, with the command that makes one.
        ValueError: The checkpoint was trained for another question kind, turn budget or protocol.
    """

    def __init__(self, spec: str, mcr: MCRConfig, cache_dir: Path, dataset: str) -> None:
        self.spec, self.mcr, self.dataset = spec, mcr, dataset
        self.name = policy_name(spec)
        self.folder = checkpoint_folder(spec, cache_dir, dataset, mcr.question, mcr.protocol)
        self.trained: Policy | None = None
        if self.folder is not None:
            self.trained = self._load(self.folder)

    def _load(self, folder: Path) -> Policy:
        from agent.learning import checkpoint

        if not checkpoint.exists(folder):
            raise FileNotFoundError(
                f"no trained policy in {folder}: train one with 'tastebud train policy --dataset {self.dataset} "
                f"--question {self.mcr.question} --protocol {self.mcr.protocol}', or pass --policy {self.name}:PATH"
            )
        learned, tree, _meta = checkpoint.load(folder)
        features = learned.features
        if features.question != self.mcr.question:
            raise ValueError(
                f"the policy in {folder} was trained for {features.question} questions; "
                f"simulate with --question {features.question}"
            )
        if features.protocol != self.mcr.protocol:
            raise ValueError(
                f"the policy in {folder} was trained under --protocol {features.protocol}; "
                f"simulate with --protocol {features.protocol}"
            )
        if features.max_turns != self.mcr.max_turns:
            raise ValueError(
                f"the policy in {folder} was trained for {features.max_turns} turns; "
                f"simulate with --max-turns {features.max_turns}"
            )
        if self.name == "tree":
            if tree is None:
                raise FileNotFoundError(f"{folder} holds no decision tree (tree.json); use --policy learned")
            return tree
        return learned

    def __call__(self, seed: int) -> Policy:
        """The policy of one episode (``seed`` seeds the random baseline)."""
        if self.trained is not None:
            return self.trained
        from agent.simulate.mcr import make_policy

        return make_policy(self.name, self.mcr, seed)
