"""Knowledge-graph interests: weighted, decaying edges user -> entity, scored and explained through items.

Entities are KG nodes (people, companies, subjects, KG genres) plus two kinds of
pseudo-entity every catalog has: ``genre:<Genre>`` (catalog genres) and
``decade:<1990>`` (release decades). A like adds weight to every entity of the
item (scaled by relation and by how many items share the entity); a dislike
subtracts. Weights halve every ``half_life_days`` without updates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from recsys.catalog import Catalog

SIGNALS: dict[str, float] = {"like": 1.0, "accept": 0.5, "dislike": -1.0, "reject": -0.5}
"""Feedback kind -> signed strength of the interest update."""


@dataclass(frozen=True, kw_only=True)
class InterestConfig:
    """How interests are updated and aged.

    Attributes:
        half_life_days: Interest weight halves after this long without updates.
        relation_weights: How much each relation says about taste (relations not
            listed, e.g. language or awards, are ignored).
    """

    half_life_days: float = 120.0
    relation_weights: dict[str, float] = field(
        default_factory=lambda: {
            "director": 1.0,
            "writer": 0.7,
            "subject": 0.6,
            "actor": 0.5,
            "genre": 0.3,
            "producer": 0.3,
            "production_company": 0.3,
            "cinematographer": 0.2,
            "catalog_genre": 0.6,
            "decade": 0.3,
        }
    )

    def __post_init__(self) -> None:
        assert self.half_life_days > 0, "half_life_days must be positive"


@dataclass(frozen=True)
class InterestPath:
    """One explanation path user -> entity -> item.

    Attributes:
        entity: The entity on the path.
        relation: How the item reaches it.
        weight: The user's (decayed) interest in it.
        contribution: Its share of the item's score.
        text: A sentence for the user.
    """

    entity: str
    relation: str
    weight: float
    contribution: float
    text: str


def decay(weight: float, updated_at: datetime, now: datetime, half_life_days: float) -> float:
    """Weight after exponential decay from ``updated_at`` to ``now``."""
    age = max(0.0, (now - updated_at).total_seconds() / 86400.0)
    return weight * 0.5 ** (age / half_life_days)


@dataclass
class InterestModel:
    """Entity extraction, scoring and naming over one catalog.

    Args:
        catalog: The catalog.
        config: Weights and half-life.
    """

    catalog: Catalog
    config: InterestConfig = field(default_factory=InterestConfig)

    def entities_of(self, item_id: str) -> list[tuple[str, str, float]]:
        """(entity, relation, update scale) for an item, including genre and decade pseudo-entities."""
        weights = self.config.relation_weights
        out: list[tuple[str, str, float]] = []
        item = self.catalog.get(item_id)
        for g in item.genres:
            out.append((f"genre:{g}", "catalog_genre", weights.get("catalog_genre", 0.0)))
        if item.year is not None:
            out.append((f"decade:{item.year // 10 * 10}", "decade", weights.get("decade", 0.0)))
        kg = self.catalog.kg
        if kg is not None:
            for relation, entity in kg.entities_of(item_id):
                w = weights.get(relation, 0.0)
                if w <= 0:
                    continue
                n = len(self.catalog.entity_items.get(entity, ()))
                out.append((entity, relation, w / math.log2(2 + n)))
        return [e for e in out if e[2] > 0]

    def deltas(self, item_id: str, signal: float) -> list[tuple[str, str, float, str | None]]:
        """Interest updates for one signal on one item: (entity, relation, delta, via item)."""
        return [(e, r, signal * s, item_id) for e, r, s in self.entities_of(item_id)]

    def item_mask(self, entity: str) -> np.ndarray | None:
        """Boolean mask of items linked to an entity (pseudo-entities included)."""
        n = len(self.catalog.items)
        if entity.startswith("genre:"):
            return self.catalog.genre_mask({entity.split(":", 1)[1]})
        if entity.startswith("decade:"):
            lo = int(entity.split(":", 1)[1])
            return (self.catalog.years >= lo) & (self.catalog.years <= lo + 9)
        idx = self.catalog.entity_items.get(entity)
        if idx is None:
            return None
        mask = np.zeros(n, bool)
        mask[idx] = True
        return mask

    def scores(self, weights: dict[str, tuple[str, float]]) -> np.ndarray:
        """Interest score per item index: sum of relation-scaled weights of linked entities.

        Args:
            weights: entity -> (relation, decayed weight).
        """
        total = np.zeros(len(self.catalog.items), np.float32)
        rel_w = self.config.relation_weights
        for entity, (relation, w) in weights.items():
            if abs(w) < 1e-6:
                continue
            mask = self.item_mask(entity)
            if mask is not None:
                total[mask] += rel_w.get(relation, 0.3) * w
        return total

    def name(self, entity: str, via: list[str] | None = None) -> str:
        """A readable name: the catalog's own, or through the items it came from ("the director of Alien")."""
        if entity.startswith("genre:"):
            return f"{entity.split(':', 1)[1]} films"
        if entity.startswith("decade:"):
            return f"films from the {entity.split(':', 1)[1]}s"
        kg = self.catalog.kg
        if kg is None:
            return entity
        if entity in kg.names:
            return kg.names[entity]
        titles = self.catalog.titles
        if via:
            relation = kg.relation_of(entity) or "link"
            linked = set(kg.items_of(entity))
            shown = [titles[i] for i in via if i in linked and i in titles][:2]
            if shown:
                from recsys.knowledge_graph import _ROLE_WORDS

                role = _ROLE_WORDS.get(relation, f"the {relation} of")
                return f"{role} {' and '.join(shown)}"
        return kg.name(entity, titles)

    def explain(
        self, item_id: str, weights: dict[str, tuple[str, float]], vias: dict[str, list[str]], k: int = 3
    ) -> list[InterestPath]:
        """The strongest paths user -> entity -> item, positive and negative."""
        item = self.catalog.get(item_id)
        rel_w = self.config.relation_weights
        paths = []
        for entity, relation, _ in self.entities_of(item_id):
            if entity not in weights:
                continue
            _, w = weights[entity]
            contribution = rel_w.get(relation, 0.3) * w
            if abs(contribution) < 1e-4:
                continue
            name = self.name(entity, vias.get(entity))
            liked = [self.catalog.titles[i] for i in vias.get(entity, []) if i != item_id and i in self.catalog.titles]
            because = f" (from {', '.join(liked[:2])})" if liked and not name.endswith(tuple(liked[:2])) else ""
            if contribution > 0:
                text = f"{item.title} is linked to {name}, which you like{because}"
            else:
                text = f"{item.title} is linked to {name}, which you tend to dislike{because}"
            paths.append(InterestPath(entity, relation, w, contribution, text))
        paths.sort(key=lambda p: -abs(p.contribution))
        return paths[:k]
