"""The item knowledge graph: items linked to entities (people, genres, companies...) in networkx."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

import networkx as nx

# Freebase film relations as they appear in the ML-100K KG. Most come in both
# directions (film.film.genre and film.film_genre.films_in_this_genre); both map to
# one canonical edge film -> entity so each fact is stored once.
# raw relation -> (canonical relation, True when the film is the triple's head)
FREEBASE_FILM_RELATIONS: dict[str, tuple[str, bool]] = {
    "film.film.actor": ("actor", True),
    "film.actor.film": ("actor", False),
    "film.film.genre": ("genre", True),
    "film.film_genre.films_in_this_genre": ("genre", False),
    "film.film.directed_by": ("director", True),
    "film.director.film": ("director", False),
    "film.film.written_by": ("writer", True),
    "film.writer.film": ("writer", False),
    "film.film.produced_by": ("producer", True),
    "film.producer.film": ("producer", False),
    "film.film.cinematography": ("cinematographer", True),
    "film.cinematographer.film": ("cinematographer", False),
    "film.film.production_companies": ("production_company", True),
    "film.production_company.films": ("production_company", False),
    "film.film.rating": ("content_rating", True),
    "film.content_rating.film": ("content_rating", False),
    "film.film.subjects": ("subject", True),
    "film.film_subject.films": ("subject", False),
    "film.film.award_nomination": ("award_nomination", True),
    "film.film.award_won": ("award_won", True),
    "film.film.language": ("language", True),
    "film.film.country": ("country", True),
    "film.film.sequel": ("sequel", True),
    "film.film.prequel": ("prequel", True),
}

# How a relation reads when naming an unnamed entity through its items.
_ROLE_WORDS = {
    "actor": "an actor in",
    "director": "the director of",
    "writer": "the writer of",
    "producer": "a producer of",
    "cinematographer": "the cinematographer of",
    "production_company": "the studio behind",
    "genre": "the genre of",
    "subject": "the subject of",
    "content_rating": "the rating of",
    "language": "the language of",
    "country": "the country of",
    "award_nomination": "an award nomination of",
    "award_won": "an award won by",
}


@dataclass(frozen=True)
class KnowledgeGraph:
    """Item knowledge graph.

    Nodes are entity ids; a node that stands for a catalog item carries an
    ``item`` attribute with the item id. Edges go item-entity -> entity and carry
    a canonical ``relation`` (also the multigraph key).

    Attributes:
        graph: The canonical graph.
        raw_triples: Number of triples read from the source file(s).
        raw_relations: Count of triples per relation name as spelled in the source.
        names: Human-readable names for entities, where the source has them.
        item_popularity: Interaction counts per item id, used to pick the best-known
            items when an unnamed entity is described through its items.
    """

    graph: nx.MultiDiGraph
    raw_triples: int
    raw_relations: Mapping[str, int]
    names: Mapping[str, str] = field(default_factory=dict)
    item_popularity: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_triples(
        cls,
        triples: Iterable[tuple[str, str, str]],
        item_links: Mapping[str, str],
        names: Mapping[str, str] | None = None,
        relation_map: Mapping[str, tuple[str, bool]] = FREEBASE_FILM_RELATIONS,
    ) -> KnowledgeGraph:
        """Build the graph from (head, relation, tail) triples.

        Args:
            triples: Raw triples.
            item_links: Item id -> entity id.
            names: Optional entity names.
            relation_map: Raw relation -> (canonical name, item-is-head). Relations
                not in the map are kept as spelled, head -> tail.
        """
        graph = nx.MultiDiGraph()
        for item_id, entity in item_links.items():
            graph.add_node(entity, item=item_id)
        counts: Counter[str] = Counter()
        total = 0
        for head, relation, tail in triples:
            total += 1
            counts[relation] += 1
            canonical, item_is_head = relation_map.get(relation, (relation, True))
            src, dst = (head, tail) if item_is_head else (tail, head)
            if not graph.has_edge(src, dst, key=canonical):
                graph.add_edge(src, dst, key=canonical, relation=canonical)
        return cls(graph=graph, raw_triples=total, raw_relations=dict(counts), names=dict(names or {}))

    def with_popularity(self, popularity: Mapping[str, int]) -> KnowledgeGraph:
        """A copy that names entities through the most popular of their items."""
        return KnowledgeGraph(self.graph, self.raw_triples, self.raw_relations, self.names, dict(popularity))

    @cached_property
    def entity_of_item(self) -> dict[str, str]:
        """Item id -> entity id."""
        return {item: node for node, item in self.graph.nodes(data="item") if item is not None}

    @cached_property
    def relations(self) -> dict[str, int]:
        """Canonical relation -> number of edges."""
        return dict(Counter(key for _, _, key in self.graph.edges(keys=True)))

    def item_id(self, entity: str) -> str | None:
        """The item an entity stands for, if any."""
        return self.graph.nodes[entity].get("item") if entity in self.graph else None

    def entities_of(self, item_id: str, relation: str | None = None) -> list[tuple[str, str]]:
        """(relation, entity) pairs attached to an item, in a stable order."""
        node = self.entity_of_item.get(item_id)
        if node is None:
            return []
        pairs = [(key, dst) for _, dst, key in self.graph.out_edges(node, keys=True)]
        if relation is not None:
            pairs = [p for p in pairs if p[0] == relation]
        return sorted(pairs)

    def items_of(self, entity: str, relation: str | None = None) -> list[str]:
        """Item ids linked to an entity (by any relation, or by the one given)."""
        if entity not in self.graph:
            return []
        items = []
        for src, _, key in self.graph.in_edges(entity, keys=True):
            if relation is not None and key != relation:
                continue
            item = self.graph.nodes[src].get("item")
            if item is not None:
                items.append(item)
        return sorted(set(items), key=lambda i: (-self.item_popularity.get(i, 0), i))

    def relation_of(self, entity: str) -> str | None:
        """The relation most items use to reach an entity (e.g. 'director')."""
        keys = Counter(key for _, _, key in self.graph.in_edges(entity, keys=True))
        return keys.most_common(1)[0][0] if keys else None

    def name(
        self,
        entity: str,
        titles: Mapping[str, str] | None = None,
        max_items: int = 2,
        relation: str | None = None,
        exclude: Collection[str] = (),
    ) -> str:
        """A readable name: the source's own, else a description through linked items.

        Example: an unnamed Freebase id becomes "the director of Alien and Aliens".

        Args:
            entity: Entity id.
            titles: Item id -> title, used to describe unnamed entities.
            max_items: How many items to name in a description.
            relation: Describe the entity in this role (default: its most common role).
            exclude: Item ids a description must not name (a simulated person's unseen targets);
                with every linked item excluded the entity id itself is returned.
        """
        if entity in self.names:
            return self.names[entity]
        item = self.item_id(entity)
        if item is not None and titles is not None and item in titles:
            return titles[item]
        relation = relation or self.relation_of(entity)
        items = [i for i in self.items_of(entity, relation) if i not in exclude][:max_items]
        if not items or titles is None:
            return entity
        shown = [titles.get(i, i) for i in items]
        role = _ROLE_WORDS.get(relation or "", f"the {relation} of")
        return f"{role} {' and '.join(shown)}"
