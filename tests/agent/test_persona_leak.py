"""A persona names the entity it likes through a film it has seen, never through a hidden target.

"I really like an actor in Swingers" where Swingers is the persona's own target hands the
recommender the answer (83 of 600 sessions did before): the description skips the targets.
"""

from __future__ import annotations

from agent.simulate.mcr import Environment, MCRConfig
from agent.simulate.persona import PersonaConfig, make_persona
from recsys.datasets import load_catalog


def test_the_liked_entity_is_never_named_through_a_target() -> None:
    catalog = load_catalog("ml-100k")
    env = Environment(catalog, MCRConfig())
    config = PersonaConfig(sessions=3)
    named = 0
    for i in range(120):
        persona = make_persona(catalog, env.space, env.split, config, seed=0, index=i)
        if persona.likes_entity is None:
            continue
        named += 1
        label = persona.likes_entity.label
        assert not any(catalog.items[t].title in label for t in persona.targets), (i, label)
        # Still an entity of a target film: the liking stays consistent with what the persona will accept.
        assert any(env.space.mask(persona.likes_entity.type, persona.likes_entity.value)[t] for t in persona.targets)
    assert named >= 100
    assert "recommender" not in vars(env)  # personas need no environment recommender
