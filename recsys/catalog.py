"""The catalog: items, interactions, an attribute index and the item knowledge graph."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from pydantic import BaseModel

from recsys.filters import ItemFilter
from recsys.knowledge_graph import KnowledgeGraph
from recsys.schema import Interaction, Item


@dataclass(frozen=True)
class Interactions:
    """Interactions stored column-wise, so millions of rows stay cheap.

    Attributes:
        user_ids: User vocabulary; ``users`` holds positions into it.
        users: User code per event (int32).
        items: Catalog item index per event (int32), into ``Catalog.items``.
        ratings: Rating per event (float32).
        timestamps: Seconds since the epoch per event (int64).
    """

    user_ids: tuple[str, ...]
    users: np.ndarray
    items: np.ndarray
    ratings: np.ndarray
    timestamps: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.users)
        for name in ("items", "ratings", "timestamps"):
            assert len(getattr(self, name)) == n, f"column {name} has {len(getattr(self, name))} rows, expected {n}"

    def __len__(self) -> int:
        return len(self.users)

    @classmethod
    def empty(cls) -> Interactions:
        """No interactions (a catalog without usage data)."""
        return cls((), np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0, np.float32), np.zeros(0, np.int64))

    def chronological_order(self) -> np.ndarray:
        """Row order by (user, timestamp); ties keep file order, as RecBole does."""
        return np.lexsort((np.arange(len(self)), self.timestamps, self.users))

    def sequences(self) -> dict[str, np.ndarray]:
        """Each user's item indices in time order."""
        order = self.chronological_order()
        users, items = self.users[order], self.items[order]
        cuts = np.flatnonzero(np.diff(users)) + 1
        return {self.user_ids[int(u[0])]: seq for u, seq in zip(np.split(users, cuts), np.split(items, cuts)) if len(u)}


class CatalogStats(BaseModel):
    """Summary figures of a catalog (what ``tastebud data info`` prints)."""

    name: str
    source: str
    users: int
    items: int
    interactions: int
    rating_min: float | None
    rating_max: float | None
    genres: dict[str, int]
    year_min: int | None
    year_max: int | None
    kg_triples: int
    kg_relation_types: int
    kg_relations: dict[str, int]
    kg_entities: int
    items_linked_to_kg: int


def _norm(text: str) -> str:
    return text.strip().casefold()


@dataclass(frozen=True)
class Catalog:
    """Everything known about a catalog, fully loaded and validated.

    Loaders build a Catalog only after every file parsed, so a half-loaded
    catalog never exists.

    Attributes:
        name: Short dataset name (e.g. ``ml-100k``).
        items: Items; their position is the internal item index.
        interactions: Usage data.
        kg: Item knowledge graph, when the source has one.
        user_attributes: Optional per-user attributes (age, occupation...).
        source: Where the catalog was read from.
    """

    name: str
    items: tuple[Item, ...]
    interactions: Interactions = field(default_factory=Interactions.empty)
    kg: KnowledgeGraph | None = None
    user_attributes: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    source: str = ""

    def __post_init__(self) -> None:
        if self.kg is not None and not self.kg.item_popularity and len(self.interactions):
            counts = np.bincount(self.interactions.items, minlength=len(self.items))
            pop = {it.id: int(c) for it, c in zip(self.items, counts)}
            object.__setattr__(self, "kg", self.kg.with_popularity(pop))

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Item]:
        return iter(self.items)

    # ---- lookup -------------------------------------------------------------
    @cached_property
    def index(self) -> dict[str, int]:
        """Item id -> internal index."""
        return {item.id: i for i, item in enumerate(self.items)}

    def __contains__(self, item_id: object) -> bool:
        return item_id in self.index

    def get(self, item_id: str) -> Item:
        """The item with this id (KeyError with the id if unknown)."""
        try:
            return self.items[self.index[item_id]]
        except KeyError:
            raise KeyError(f"unknown item id {item_id!r} in catalog {self.name!r}") from None

    @cached_property
    def titles(self) -> dict[str, str]:
        """Item id -> title."""
        return {item.id: item.title for item in self.items}

    @cached_property
    def popularity(self) -> np.ndarray:
        """Interactions per item index (int64)."""
        return np.bincount(self.interactions.items, minlength=len(self.items)).astype(np.int64)

    def iter_interactions(self) -> Iterator[Interaction]:
        """Interactions as records, in file order."""
        inter = self.interactions
        for u, i, r, t in zip(inter.users, inter.items, inter.ratings, inter.timestamps):
            yield Interaction(user=inter.user_ids[u], item=self.items[i].id, rating=float(r), timestamp=int(t))

    # ---- attribute index ------------------------------------------------------
    @cached_property
    def genres(self) -> dict[str, str]:
        """Case-folded genre -> genre as the catalog spells it."""
        return {_norm(g): g for item in self.items for g in item.genres}

    @cached_property
    def genre_masks(self) -> dict[str, np.ndarray]:
        """Case-folded genre -> boolean mask over item indices."""
        masks = {g: np.zeros(len(self.items), bool) for g in self.genres}
        for i, item in enumerate(self.items):
            for g in item.genres:
                masks[_norm(g)][i] = True
        return masks

    @cached_property
    def years(self) -> np.ndarray:
        """Release year per item index; -1 where unknown."""
        return np.array([item.year if item.year is not None else -1 for item in self.items], np.int32)

    @cached_property
    def entity_items(self) -> dict[str, np.ndarray]:
        """KG entity -> indices of items linked to it (directly or as the item's own entity)."""
        if self.kg is None:
            return {}
        out: dict[str, list[int]] = {}
        for item_id, node in self.kg.entity_of_item.items():
            idx = self.index.get(item_id)
            if idx is None:
                continue
            out.setdefault(node, []).append(idx)
            for _, dst in self.kg.graph.out_edges(node):
                out.setdefault(dst, []).append(idx)
        return {e: np.unique(np.array(v, np.int64)) for e, v in out.items()}

    def genre_mask(self, genres: frozenset[str] | set[str]) -> np.ndarray:
        """Items having any of the genres (unknown genres match nothing)."""
        mask = np.zeros(len(self.items), bool)
        for g in genres:
            m = self.genre_masks.get(_norm(g))
            if m is not None:
                mask |= m
        return mask

    def mask(self, filters: ItemFilter | Sequence[ItemFilter] | None = None) -> np.ndarray:
        """Boolean mask over item indices of items that satisfy every filter."""
        keep = np.ones(len(self.items), bool)
        if filters is None:
            return keep
        for f in [filters] if isinstance(filters, ItemFilter) else filters:
            if f.genres_any:
                keep &= self.genre_mask(f.genres_any)
            for g in f.genres_all:
                keep &= self.genre_mask({g})
            if f.genres_none:
                keep &= ~self.genre_mask(f.genres_none)
            if f.year_min is not None:
                keep &= self.years >= f.year_min
            if f.year_max is not None:
                keep &= (self.years <= f.year_max) & (self.years >= 0)
            if f.include_ids is not None:
                allowed = np.zeros(len(self.items), bool)
                allowed[[self.index[i] for i in f.include_ids if i in self.index]] = True
                keep &= allowed
            if f.exclude_ids:
                keep[[self.index[i] for i in f.exclude_ids if i in self.index]] = False
            for entity in f.entities_none:
                hit = self.entity_items.get(entity)
                if hit is not None:
                    keep[hit] = False
        return keep

    def matching_ids(self, filters: ItemFilter | Sequence[ItemFilter] | None = None) -> list[str]:
        """Ids of items that satisfy the filters, in catalog order."""
        return [self.items[i].id for i in np.flatnonzero(self.mask(filters))]

    @cached_property
    def fingerprint(self) -> str:
        """sha256 over every item record and KG edge: changes whenever the catalog content does."""
        digest = hashlib.sha256(self.name.encode())
        for item in self.items:
            digest.update(item.model_dump_json().encode())
        if self.kg is not None:
            for edge in sorted(self.kg.graph.edges(keys=True)):
                digest.update("\x1f".join(edge).encode())
        return digest.hexdigest()

    # ---- summary --------------------------------------------------------------
    def stats(self) -> CatalogStats:
        """Counts for reports and ``tastebud data info``."""
        inter = self.interactions
        genre_counts = {g: int(m.sum()) for g, m in sorted(self.genre_masks.items())}
        known_years = self.years[self.years >= 0]
        kg = self.kg
        return CatalogStats(
            name=self.name,
            source=self.source,
            users=len(np.unique(inter.users)) if len(inter) else 0,
            items=len(self.items),
            interactions=len(inter),
            rating_min=float(inter.ratings.min()) if len(inter) else None,
            rating_max=float(inter.ratings.max()) if len(inter) else None,
            genres={self.genres[g]: c for g, c in genre_counts.items()},
            year_min=int(known_years.min()) if len(known_years) else None,
            year_max=int(known_years.max()) if len(known_years) else None,
            kg_triples=kg.raw_triples if kg else 0,
            kg_relation_types=len(kg.raw_relations) if kg else 0,
            kg_relations=dict(sorted(kg.raw_relations.items())) if kg else {},
            kg_entities=kg.graph.number_of_nodes() if kg else 0,
            items_linked_to_kg=sum(1 for i in self.items if i.entities) if kg else 0,
        )
