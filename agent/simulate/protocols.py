"""Protocol presets of the MCR simulator: the rules that differ between published MCR evaluations.

Three presets (``PROTOCOLS``), chosen with ``--protocol`` on ``tastebud simulate`` and ``tastebud
train policy``. Each rule is documented with its source in EVALUATION.md (section 1) and pinned on
hand-computed episodes in ``tests/agent/test_protocols.py``:

- ``tastebud``: this project's protocol (section 1 of EVALUATION.md).
- ``scpr``: the binary protocol of EAR / SCPR / UNICORN (Lei et al. WSDM 2020, KDD 2020; Deng et
  al. SIGIR 2021), as UNICORN's public environment runs it (``RL/env_binary_question.py``).
- ``mcmipl``: the multiple-choice protocol of MCMIPL (Zhang et al. WWW 2022), as its public
  environment runs it (``RL/env_multi_choice_question.py``).

The candidate-update rules are pure functions over boolean item masks, so they are tested apart
from any recommender. Imports only the standard library and numpy (typing only), so the command
line reads the preset names cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import numpy as np

Question = Literal["multi", "binary"]


@dataclass(frozen=True, kw_only=True)
class Protocol:
    """The rules of one MCR evaluation protocol.

    Attributes:
        name: The preset's name (``--protocol``).
        questions: Question kinds the protocol has; the first is its default.
        options: Values offered by one multiple-choice question (all of one attribute type).
        update: How a multiple-choice answer filters the candidates: "all" keeps the items having
            every picked value, "any" keeps the items having at least one picked value.
        drop_rejected: A rejected value (a "no", an offered option not picked) drops the items having
            it. False: a "no" only takes the value off the askable ones (UNICORN's binary environment).
        settle_type: A multiple-choice type the user picked from is not asked again.
        targets: Target items per episode; with 2, a value is accepted when either target has it and
            a list succeeds when it holds either.
        pool: Candidates at the start: "unseen" (every item but the user's history) or "all".
        opening_turn: The user's opening attribute takes the first of ``max_turns`` turns, so the
            agent has ``max_turns - 1`` actions.
        max_turns: Turn limit.
        k: Items per recommended list.
        source: Where the rules come from (papers and the environment code).
    """

    name: str
    questions: tuple[Question, ...]
    options: int
    update: Literal["all", "any"]
    drop_rejected: bool
    settle_type: bool
    targets: Literal[1, 2]
    pool: Literal["unseen", "all"]
    opening_turn: bool
    max_turns: int = 15
    k: int = 10
    source: str = ""

    def __post_init__(self) -> None:
        if not self.questions or set(self.questions) - {"multi", "binary"}:
            raise ValueError(f"questions must be a non-empty subset of multi, binary; got {self.questions!r}")
        if self.options < 2 or self.targets not in (1, 2) or self.max_turns < 2 or self.k < 1:
            raise ValueError("options >= 2, targets 1 or 2, max_turns >= 2 and k >= 1 are required")

    @property
    def question(self) -> Question:
        """The default question kind."""
        return self.questions[0]

    def actions(self, max_turns: int) -> int:
        """Agent actions (questions and lists) an episode of ``max_turns`` turns allows."""
        return max_turns - int(self.opening_turn)


TASTEBUD = Protocol(
    name="tastebud",
    questions=("multi", "binary"),
    options=5,
    update="all",
    drop_rejected=True,
    settle_type=True,
    targets=1,
    pool="unseen",
    opening_turn=False,
    source="this project (EVALUATION.md, section 1)",
)
SCPR = Protocol(
    name="scpr",
    questions=("binary",),
    options=2,  # unused: binary questions only
    update="all",
    drop_rejected=False,
    settle_type=False,
    targets=1,
    pool="all",
    opening_turn=True,
    source="EAR (Lei et al., WSDM 2020), SCPR (Lei et al., KDD 2020), UNICORN (Deng et al., SIGIR 2021); "
    "UNICORN's RL/env_binary_question.py and RL/RL_evaluate.py",
)
MCMIPL = Protocol(
    name="mcmipl",
    questions=("multi",),
    options=2,
    update="any",
    drop_rejected=True,
    settle_type=False,
    targets=2,
    pool="all",
    opening_turn=True,
    source="MCMIPL (Zhang et al., WWW 2022); its RL/env_multi_choice_question.py and RL/RL_evaluate.py",
)

PROTOCOLS: dict[str, Protocol] = {p.name: p for p in (TASTEBUD, SCPR, MCMIPL)}
PROTOCOL_NAMES = tuple(PROTOCOLS)
PROTOCOL_HELP = (
    "the MCR evaluation's rules (EVALUATION.md, section 1): tastebud (this project's: 5 values of one type "
    "per question, keep items with every picked value, unseen items, 15 actions), scpr (EAR/SCPR/UNICORN: "
    "yes/no on one value, a 'no' drops nothing, all items, the opening takes turn 1), mcmipl (MCMIPL: 2 "
    "values of one type, keep items with any picked value, two targets, all items, the opening takes turn 1)"
)


def get_protocol(name: str) -> Protocol:
    """The preset of a name; ValueError naming the choices otherwise."""
    if name not in PROTOCOLS:
        raise ValueError(f"unknown protocol {name!r}; choose from {', '.join(PROTOCOL_NAMES)}")
    return PROTOCOLS[name]


def after_answer(
    protocol: Protocol, alive: np.ndarray, picked: list[np.ndarray], rejected: list[np.ndarray]
) -> np.ndarray:
    """Candidates after an answer: ``picked`` / ``rejected`` are the item masks of the accepted and
    rejected values (a yes/no question has one of them; a multiple-choice one, its options).

    - "all" (tastebud, and a "yes" everywhere): keep items having every picked value;
    - "any" (MCMIPL): keep items having at least one picked value (none picked: keep all);
    - ``drop_rejected``: drop items having any rejected value.

    An update that would leave no candidate is not applied under "any" (MCMIPL's environment keeps
    its candidates then); it can only happen once no target is left, so no outcome depends on it.
    """
    out = alive.copy()
    if picked:
        if protocol.update == "all":
            for mask in picked:
                out &= mask
        else:
            union = picked[0].copy()
            for mask in picked[1:]:
                union |= mask
            out &= union
    if protocol.drop_rejected:
        for mask in rejected:
            out &= ~mask
    if protocol.update == "any" and not out.any():
        return alive.copy()
    return out
