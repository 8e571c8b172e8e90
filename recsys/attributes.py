"""Askable item attributes: genres, decades, typed item attributes and well-linked knowledge-graph entities.

The conversational policy asks about these and the simulated users answer about them,
so both read one definition. Typed item attributes are the ``attributes`` of the generic
format's ``items.jsonl`` (and the extra columns of a RecBole ``.item`` file): each chosen key
is one attribute type, and its values (a string, a list of strings, or a number or flag read
as text) are the askable values.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from recsys.catalog import Catalog
from recsys.schema import Item

if TYPE_CHECKING:
    import scipy.sparse as sp

# KG relations worth asking about, in the order a person would find natural.
ASKABLE_RELATIONS = ("director", "actor", "writer", "production_company", "subject")


def decade_of(year: int | None) -> str | None:
    """ "1990s" for 1994; None when the year is unknown."""
    return None if year is None or year < 0 else f"{year // 10 * 10}s"


@dataclass(frozen=True)
class AttributeValue:
    """One askable value: ``("genre", "Comedy")`` or ``("director", "m.04cq_qj")``.

    Attributes:
        type: Attribute type (genre, decade, an item-attribute key, or a KG relation).
        value: Machine value (genre name, "1990s", entity id).
        label: What a person reads ("Comedy", "the 1990s", "the director of Alien").
    """

    type: str
    value: str
    label: str

    @property
    def key(self) -> str:
        """``"type=value"``: how a conversation records that this value was asked about."""
        return f"{self.type}={self.value}"


@dataclass(frozen=True, kw_only=True)
class AttributeConfig:
    """Which attributes are askable.

    Attributes:
        relations: KG relations whose entities become askable (canonical names, e.g. "director").
        attributes: Keys of the items' ``attributes`` that become askable types ("mood", "era"...).
        min_items: A genre, item-attribute value or KG entity needs at least this many items to be
            askable (decades are always askable).
    """

    relations: tuple[str, ...] = ASKABLE_RELATIONS
    attributes: tuple[str, ...] = ()
    min_items: int = 5

    def __post_init__(self) -> None:
        if self.min_items < 2:
            raise ValueError("min_items must be >= 2: a value linked to one item does not split anything")
        clash = set(self.attributes) & ({"genre", "decade"} | set(self.relations))
        if clash:
            raise ValueError(f"item attributes {sorted(clash)} share a name with a genre, decade or KG relation type")


def attribute_values(item: Item, key: str) -> list[str]:
    """The values of one item attribute as askable text: a list gives several, a number or flag one."""
    raw = item.attributes.get(key)
    if raw is None:
        return []
    values = raw if isinstance(raw, list) else [raw]
    return [text for text in (str(v).strip() for v in values) if text]


def item_attribute_keys(catalog: Catalog) -> dict[str, int]:
    """Every key of the items' ``attributes`` and how many items carry it (what ``--attributes`` can name)."""
    counts: dict[str, int] = {}
    for item in catalog.items:
        for key in item.attributes:
            counts[key] = counts.get(key, 0) + 1
    return counts


class AttributeSpace:
    """Item x value membership for every askable attribute value of a catalog.

    Args:
        catalog: The catalog; only its items and KG are read.
        config: Which relations count and how well linked an entity must be.
    """

    def __init__(self, catalog: Catalog, config: AttributeConfig | None = None) -> None:
        self.catalog = catalog
        self.config = config or AttributeConfig()

    @cached_property
    def values(self) -> list[AttributeValue]:
        """All askable values, grouped by type (genres, decades, item attributes, then KG relations)."""
        catalog, min_items = self.catalog, self.config.min_items
        out = [
            AttributeValue("genre", spelled, spelled)
            for folded, spelled in sorted(catalog.genres.items())
            if catalog.genre_masks[folded].sum() >= min_items
        ]
        decades = sorted({d for d in (decade_of(i.year) for i in self.catalog.items) if d})
        out += [AttributeValue("decade", d, f"the {d}") for d in decades]
        for key in self.config.attributes:
            counts: dict[str, int] = {}
            for item in catalog.items:
                for value in set(attribute_values(item, key)):
                    counts[value] = counts.get(value, 0) + 1
            out += [AttributeValue(key, v, v) for v in sorted(counts) if counts[v] >= min_items]
        kg = self.catalog.kg
        if kg is not None:
            for relation in self.config.relations:
                entities = sorted({dst for _, dst, key in kg.graph.edges(keys=True) if key == relation})
                for entity in entities:
                    if len(kg.items_of(entity, relation)) >= self.config.min_items:
                        out.append(
                            AttributeValue(relation, entity, kg.name(entity, self.catalog.titles, relation=relation))
                        )
        return out

    @cached_property
    def types(self) -> dict[str, np.ndarray]:
        """Attribute type -> indices into ``values``."""
        groups: dict[str, list[int]] = {}
        for j, v in enumerate(self.values):
            groups.setdefault(v.type, []).append(j)
        return {t: np.array(js, np.int64) for t, js in groups.items()}

    @cached_property
    def keys(self) -> list[str]:
        """``AttributeValue.key`` of every value, aligned with ``values``."""
        return [v.key for v in self.values]

    @cached_property
    def position(self) -> dict[tuple[str, str], int]:
        """(type, value) -> index into ``values``."""
        return {(v.type, v.value): j for j, v in enumerate(self.values)}

    @cached_property
    def membership(self) -> np.ndarray:
        """(n_items, n_values) bool: item i has value j."""
        catalog = self.catalog
        matrix = np.zeros((len(catalog), len(self.values)), bool)
        chosen = set(self.config.attributes)
        for j, v in enumerate(self.values):
            if v.type == "genre":
                matrix[:, j] = catalog.genre_masks[v.value.casefold()]
            elif v.type == "decade":
                start = int(v.value[:4])
                matrix[:, j] = (catalog.years >= start) & (catalog.years < start + 10)
            elif v.type in chosen:
                pass  # filled item by item below: one pass over the items for every attribute value
            else:
                assert catalog.kg is not None
                for item_id in catalog.kg.items_of(v.value, v.type):
                    matrix[catalog.index[item_id], j] = True
        if chosen:
            for i, item in enumerate(catalog.items):
                for key in chosen:
                    for value in attribute_values(item, key):
                        j = self.position.get((key, value))
                        if j is not None:
                            matrix[i, j] = True
        return matrix

    def missing(self) -> str:
        """Why items may lack askable attributes, and which flags would add some (for error messages)."""
        have = ", ".join(f"{t} ({len(js)} values)" for t, js in self.types.items()) or "none"
        unused = {k: n for k, n in item_attribute_keys(self.catalog).items() if k not in self.config.attributes}
        hint = (
            "; the items also carry attributes "
            + ", ".join(f"{k} ({n} items)" for k, n in sorted(unused.items()))
            + ", askable with --attributes KEY ..."
            if unused
            else "; the items carry no other attributes"
        )
        return (
            f"askable types: {have} (a genre, item-attribute value or KG entity needs {self.config.min_items} "
            f"items: --min-items){hint}"
        )

    @cached_property
    def membership_t(self) -> sp.csr_matrix:
        """``membership`` transposed, as a float64 scipy CSR matrix (n_values, n_items): a value's
        mass over the candidates is one sparse product (the dense one costs milliseconds)."""
        from scipy.sparse import csr_matrix

        return csr_matrix(self.membership.T.astype(np.float64))

    def of_item(self, item_index: int, type_: str | None = None) -> list[AttributeValue]:
        """The askable values an item has (optionally of one type)."""
        js = np.flatnonzero(self.membership[item_index])
        return [self.values[j] for j in js if type_ is None or self.values[j].type == type_]

    def mask(self, type_: str, value: str) -> np.ndarray:
        """Bool mask over items having ``value`` of ``type_``."""
        return self.membership[:, self.position[(type_, value)]]
