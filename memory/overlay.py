"""Attach named people to a catalog's KG, for catalogs whose KG has no names (tests and the evaluation set)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import networkx as nx

from recsys.catalog import Catalog
from recsys.knowledge_graph import KnowledgeGraph


def person_id(name: str) -> str:
    """A stable entity id for a person added by an overlay ("Tom Cruise" -> "person:tom_cruise")."""
    return "person:" + re.sub(r"[^a-z0-9]+", "_", name.casefold()).strip("_")


def with_people(catalog: Catalog, people: Mapping[str, tuple[str, Sequence[str]]]) -> Catalog:
    """A copy of the catalog whose KG also links the given people to the given titles.

    Args:
        catalog: A catalog with a KG (its existing nodes and names are kept).
        people: name -> (relation, titles). Titles must exist in the catalog.

    Raises:
        KeyError: A title is not in the catalog.
    """
    assert catalog.kg is not None, "the catalog has no knowledge graph to extend"
    by_title: dict[str, str] = {}
    for item in catalog.items:
        by_title.setdefault(item.title, item.id)
    graph: nx.MultiDiGraph = catalog.kg.graph.copy()
    names = dict(catalog.kg.names)
    node_of = catalog.kg.entity_of_item
    for name, (relation, titles) in people.items():
        entity = person_id(name)
        names[entity] = name
        for title in titles:
            if title not in by_title:
                raise KeyError(f"{name}: title {title!r} is not in catalog {catalog.name!r}")
            item_id = by_title[title]
            node = node_of.get(item_id)
            if node is None:
                node = f"item:{item_id}"
                graph.add_node(node, item=item_id)
            graph.add_edge(node, entity, key=relation, relation=relation)
    kg = KnowledgeGraph(graph, catalog.kg.raw_triples, catalog.kg.raw_relations, names, catalog.kg.item_popularity)
    return Catalog(
        name=catalog.name,
        items=catalog.items,
        interactions=catalog.interactions,
        kg=kg,
        user_attributes=catalog.user_attributes,
        source=catalog.source,
    )
