"""Compile instruction atoms into an ``ItemFilter``, and check one item against atoms independently.

``compile_filter`` is what the agent applies (through ``catalog.mask``);
``violations`` is a plain per-item re-implementation of the same rules, used by
the property test to prove the filter never lets a violating item through.
"""

from __future__ import annotations

from collections.abc import Iterable

from memory.schema import Atom
from recsys.catalog import Catalog
from recsys.filters import ItemFilter
from recsys.schema import Item


def year_range(value: str) -> tuple[int | None, int | None]:
    """Parse ``"1970-1979"``, ``"1980-"`` or ``"-1979"`` into (lo, hi)."""
    lo, _, hi = value.partition("-")
    return (int(lo) if lo else None, int(hi) if hi else None)


def year_bounds(atoms: Iterable[Atom]) -> tuple[int | None, int | None]:
    """The tightest (year_min, year_max) the atoms impose."""
    atoms = list(atoms)
    lo = [int(a.value) for a in atoms if a.op == "year_min"]
    hi = [int(a.value) for a in atoms if a.op == "year_max"]
    return (max(lo) if lo else None, min(hi) if hi else None)


def is_satisfiable(atoms: list[Atom]) -> bool:
    """False when the hard atoms contradict each other (an empty year range)."""
    lo, hi = year_bounds(atoms)
    return lo is None or hi is None or lo <= hi


def _linked_entities(catalog: Catalog, item_id: str) -> set[str]:
    kg = catalog.kg
    if kg is None:
        return set()
    node = kg.entity_of_item.get(item_id)
    if node is None:
        return set()
    return {node} | {entity for _, entity in kg.entities_of(item_id)}


def compile_filter(atoms: Iterable[Atom], catalog: Catalog) -> ItemFilter | None:
    """One filter for the hard atoms of one instruction (None when nothing compiles).

    Several ``only`` genres mean "any of them"; an ``only`` entity keeps the items
    linked to it; contradictory year bounds admit nothing.
    """
    hard = [a for a in atoms if a.is_hard]
    if not hard:
        return None
    lo, hi = year_bounds(hard)
    exclude_ids: set[str] = {a.value for a in hard if a.op == "exclude" and a.field == "item"}
    for a in hard:
        if a.op == "exclude_years":
            rlo, rhi = year_range(a.value)
            for item in catalog.items:
                if item.year is not None and (rlo is None or item.year >= rlo) and (rhi is None or item.year <= rhi):
                    exclude_ids.add(item.id)
    include: set[str] | None = None
    only_entities = [a.value for a in hard if a.op == "only" and a.field == "entity"]
    only_items = [a.value for a in hard if a.op == "only" and a.field == "item"]
    if only_entities or only_items:
        include = set(only_items)
        for entity in only_entities:
            include.update(catalog.items[i].id for i in catalog.entity_items.get(entity, ()))
    if lo is not None and hi is not None and lo > hi:
        return ItemFilter(include_ids=frozenset())
    return ItemFilter(
        genres_none=frozenset(a.value for a in hard if a.op == "exclude" and a.field == "genre"),
        genres_any=frozenset(a.value for a in hard if a.op == "only" and a.field == "genre"),
        year_min=lo,
        year_max=hi,
        include_ids=frozenset(include) if include is not None else None,
        exclude_ids=frozenset(exclude_ids),
        entities_none=frozenset(a.value for a in hard if a.op == "exclude" and a.field == "entity"),
    )


def violations(atoms: Iterable[Atom], item: Item, catalog: Catalog) -> list[Atom]:
    """Hard atoms this item breaks, checked item by item (no masks, no filters).

    Unknown years break year bounds: a rule the item cannot be shown to satisfy is broken.
    """
    hard = [a for a in atoms if a.is_hard]
    genres = {g.casefold() for g in item.genres}
    linked = _linked_entities(catalog, item.id) if any(a.field == "entity" for a in hard) else set()
    broken: list[Atom] = []
    only_genres = {a.value.casefold() for a in hard if a.op == "only" and a.field == "genre"}
    if only_genres and not genres & only_genres:
        broken += [a for a in hard if a.op == "only" and a.field == "genre"]
    only_links = [a for a in hard if a.op == "only" and a.field in ("entity", "item")]
    if only_links and not any(
        (a.field == "entity" and a.value in linked) or (a.field == "item" and a.value == item.id) for a in only_links
    ):
        broken += only_links
    lo, hi = year_bounds(hard)
    for a in hard:
        if a.op == "exclude" and a.field == "genre" and a.value.casefold() in genres:
            broken.append(a)
        elif a.op == "exclude" and a.field == "item" and a.value == item.id:
            broken.append(a)
        elif a.op == "exclude" and a.field == "entity" and a.value in linked:
            broken.append(a)
        elif a.op == "year_min" and (item.year is None or item.year < int(a.value)):
            broken.append(a)
        elif a.op == "year_max" and (item.year is None or item.year > int(a.value)):
            broken.append(a)
        elif a.op == "exclude_years" and item.year is not None:
            rlo, rhi = year_range(a.value)
            if (rlo is None or item.year >= rlo) and (rhi is None or item.year <= rhi):
                broken.append(a)
    if lo is not None and hi is not None and lo > hi and not broken:
        broken += [a for a in hard if a.op in ("year_min", "year_max")]
    return broken
