"""The agent's tools: sequential recommender, text retrieval, KG neighbours and paths, catalog lookup.

Every tool returns catalog items only; the reply can name nothing else. ``user_id``,
memory and the recommender are injected, never read from the user's text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
import torch

from memory.constraints import compile_filter
from memory.resolve import normalize_title
from memory.schema import Atom, describe_atoms
from memory.service import Memory
from recsys.attributes import AttributeSpace, decade_of
from recsys.catalog import Catalog
from recsys.filters import ItemFilter
from recsys.retrieval import ItemIndex
from recsys.seqrec.tool import RecommendTool

# Relations that make a good one-line reason, most telling first.
_REASON_RELATIONS = ("director", "writer", "sequel", "prequel", "actor", "production_company", "subject")
# Reasons are whole clauses ("it ..."), so they read well on a card and after "because".
_RELATION_WORDS = {
    "director": "it has the same director as {title}, which you liked",
    "writer": "it has the same writer as {title}, which you liked",
    "actor": "it shares cast with {title}, which you liked",
    "production_company": "it comes from the studio behind {title}, which you liked",
    "subject": "it is about the same subject as {title}, which you liked",
    "sequel": "it continues the story of {title}, which you liked",
    "prequel": "it continues the story of {title}, which you liked",
}


@dataclass(frozen=True)
class Scored:
    """Candidate items (catalog indices) with their scores, best first."""

    indices: np.ndarray
    scores: np.ndarray


@dataclass(frozen=True, kw_only=True)
class RankingConfig:
    """How soft evidence is added to the recommender's log-probabilities.

    Attributes:
        text_weight: Weight of the cosine similarity between the request and each item's text.
        era_weight: Weight of an older/newer lean (times the release year's clipped z-score).
        popularity_weight: Weight of the popularity prior (z-scored log interactions) for a user with
            no history; it shrinks as 1 / (1 + history length).
    """

    text_weight: float = 8.0
    era_weight: float = 1.0
    popularity_weight: float = 1.0

    def __post_init__(self) -> None:
        assert min(self.text_weight, self.era_weight, self.popularity_weight) >= 0, "ranking weights are >= 0"


class Toolbox:
    """All tools over one catalog.

    Args:
        catalog: The catalog.
        recommender: The sequential recommender tool (scores over the catalog).
        memory: The user memory (instructions, preferences, interests, feedback).
        index: Text retrieval; None disables free-text matching.
        space: Askable attributes.
        ranking: Weights of the soft evidence.
    """

    def __init__(
        self,
        catalog: Catalog,
        recommender: RecommendTool,
        memory: Memory,
        index: ItemIndex | None = None,
        space: AttributeSpace | None = None,
        ranking: RankingConfig | None = None,
    ) -> None:
        self.catalog = catalog
        self.recommender = recommender
        self.memory = memory
        self.index = index
        self.space = space or AttributeSpace(catalog)
        self.ranking = ranking or RankingConfig()

    # ---- history ----------------------------------------------------------------------------
    def history(self, user_id: str) -> list[str]:
        """Items the user liked or accepted, oldest first (what the sequential model reads)."""
        events = self.memory.store.feedback(user_id)
        return [e.item_id for e in events if e.kind in ("like", "accept") and e.item_id]

    def disliked(self, user_id: str) -> set[str]:
        """Items the user disliked or rejected at any time."""
        events = self.memory.store.feedback(user_id)
        return {e.item_id for e in events if e.kind in ("dislike", "reject") and e.item_id}

    # ---- scoring ------------------------------------------------------------------------------
    @cached_property
    def _item_vectors(self) -> np.ndarray | None:
        if self.index is None:
            return None
        return self.index.index.reconstruct_n(0, self.index.index.ntotal)

    def model_scores(self, history: Sequence[str]) -> np.ndarray:
        """Log-probabilities of the sequential model over catalog indices (-inf where it has no column)."""
        tool = self.recommender
        hist = np.array([tool.item_index[i] for i in history if i in tool.item_index], np.int64)
        with torch.inference_mode():
            logp = torch.log_softmax(tool.rec.score([hist]).float().cpu(), dim=1)[0].numpy()
        out = np.full(len(self.catalog), -np.inf, np.float32)
        known = tool.columns >= 0
        out[tool.columns[known]] = logp[known]
        return out

    def text_scores(self, query: str) -> np.ndarray | None:
        """Cosine similarity of every item's text to the query (None without an index)."""
        vectors = self._item_vectors
        if vectors is None or self.index is None or not query.strip():
            return None
        return vectors @ self.index.encoder.encode(query)

    def score(
        self,
        history: Sequence[str],
        filters: Sequence[ItemFilter],
        exclude: set[str],
        boosts: dict[str, float],
        query: str | None = None,
        era: str | None = None,
    ) -> Scored:
        """Candidates passing every hard filter, scored by the model plus soft boosts and text match.

        Hard filters (standing instructions, answers) remove items before ranking; boosts
        from memory and moods only move items up or down.
        """
        mask = self.catalog.mask(list(filters))
        mask[self._duplicates] = False
        for item_id in set(history) | exclude:
            idx = self.catalog.index.get(item_id)
            if idx is not None:
                mask[idx] = False
        scores = self.model_scores(history)
        # A popularity prior that fades as the history grows: with nothing known, well-loved films
        # first rather than catalog order; with a long history the recommender decides.
        scores = scores + self.ranking.popularity_weight / (1.0 + len(history)) * self._popularity_z
        for key, value in boosts.items():
            if key in self.catalog.index:
                scores[self.catalog.index[key]] += value
            elif key in self.catalog.entity_items:
                scores[self.catalog.entity_items[key]] += value
            elif key.casefold() in self.catalog.genre_masks:
                scores[self.catalog.genre_masks[key.casefold()]] += value
        if era in ("older", "newer"):
            scores = scores + self.ranking.era_weight * (1.0 if era == "newer" else -1.0) * self._year_z
        if query:
            text = self.text_scores(query)
            if text is not None:
                scores = scores + self.ranking.text_weight * text
        mask &= np.isfinite(scores)
        idx = np.flatnonzero(mask)
        order = np.argsort(-scores[idx], kind="stable")
        return Scored(idx[order], scores[idx][order])

    def search(
        self,
        history: Sequence[str],
        rules: Sequence[ItemFilter],
        groups: list[list[Atom]],
        exclude: set[str],
        boosts: dict[str, float],
        query: str | None = None,
        era: str | None = None,
    ) -> tuple[Scored, list[str]]:
        """``score`` under the rules and this search's constraint groups.

        When nothing passes every group, groups are dropped oldest first until something does
        (rules are never dropped); returns the candidates and what was dropped, in words.
        """
        groups = list(groups)
        dropped: list[str] = []
        while True:
            compiled = [f for f in (compile_filter(g, self.catalog) for g in groups) if f is not None]
            scored = self.score(history, list(rules) + compiled, exclude, boosts, query, era)
            if len(scored.indices) or not groups:
                return scored, dropped
            gone = groups.pop(0)
            dropped.append(describe_atoms(gone, ", "))

    @cached_property
    def _duplicates(self) -> np.ndarray:
        """Catalog indices of films listed twice (same title and year), all but the most popular copy."""
        pop = self.catalog.popularity
        seen: dict[tuple[str, int | None], int] = {}
        out = []
        for i in np.argsort(-pop, kind="stable") if len(pop) else range(len(self.catalog)):
            item = self.catalog.items[int(i)]
            key = (normalize_title(item.title), item.year)
            if key in seen:
                out.append(int(i))
            else:
                seen[key] = int(i)
        return np.asarray(out, np.int64)

    @cached_property
    def _popularity_z(self) -> np.ndarray:
        """log(1 + interactions) per item as a z-score (0 without interactions)."""
        pop = np.log1p(np.asarray(self.catalog.popularity, np.float32))
        if not len(pop) or pop.std() == 0:
            return np.zeros(len(self.catalog), np.float32)
        return (pop - pop.mean()) / pop.std()

    @cached_property
    def _year_z(self) -> np.ndarray:
        """Release years as clipped z-scores (0 where unknown), for older/newer leanings."""
        years = self.catalog.years.astype(np.float32)
        known = years > 0
        z = np.zeros(len(years), np.float32)
        if known.any():
            z[known] = np.clip((years[known] - years[known].mean()) / (years[known].std() + 1e-6), -2, 2) / 2
        return z

    # ---- reasons and facts ----------------------------------------------------------------------
    @lru_cache(maxsize=8192)  # noqa: B019 (one Toolbox per agent; items are few and their links never change)
    def _links(self, item_id: str) -> dict[str, frozenset[str]]:
        """Relation -> entities of an item, for the relations reasons use."""
        kg = self.catalog.kg
        assert kg is not None
        return {rel: frozenset(e for _, e in kg.entities_of(item_id, rel)) for rel in _REASON_RELATIONS}

    def kg_link(self, item_id: str, others: Sequence[str]) -> tuple[str, str] | None:
        """(relation, other item) for the strongest KG link from ``item_id`` to one of ``others``."""
        kg = self.catalog.kg
        if kg is None:
            return None
        mine = self._links(item_id)
        own = kg.entity_of_item.get(item_id)
        for rel in _REASON_RELATIONS:
            for other in reversed(others):  # most recent first
                if other == item_id:
                    continue
                theirs = self._links(other)[rel]
                if rel in ("sequel", "prequel") and (kg.entity_of_item.get(other) in mine[rel] or own in theirs):
                    return rel, other
                if mine[rel] & theirs:
                    return rel, other
        return None

    def reason(self, user_id: str, item_id: str, history: Sequence[str], wanted: Sequence[str] = ()) -> str:
        """One line saying why an item fits: a KG link to the history, an interest path, or the request."""
        link = self.kg_link(item_id, history)
        if link is not None:
            rel, other = link
            return _RELATION_WORDS[rel].format(title=self.catalog.titles[other])
        paths = self.memory.explain(user_id, item_id, k=1)
        if paths and paths[0].weight > 0:
            text = paths[0].text
            title = self.catalog.titles[item_id]
            return f"it is {text[len(title) + 4 :]}" if text.startswith(f"{title} is ") else text
        item = self.catalog.get(item_id)
        matched = [w for w in wanted if w in item.genres or w == decade_of(item.year)]
        if matched:
            return f"it matches what you asked for: {', '.join(matched)}"
        if history:
            return f"it is popular with people who liked {self.catalog.titles[history[-1]]}"
        genre = item.genres[0] if item.genres else "film"
        return f"it is one of the best-loved {genre.lower()} picks here"

    def not_in_catalog(self, names: Sequence[str], domain: str = "films") -> str:
        """The sentence telling the user that films they named are not in the catalog, and how far it reaches."""
        said = " or ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else list(names))
        reach = f" (they go up to {self.newest_year})" if self.newest_year else ""
        return f"I don't have {said} among my {domain}{reach}."

    @cached_property
    def newest_year(self) -> int | None:
        """The latest release year in the catalog (None when no item has one)."""
        return max((it.year for it in self.catalog.items if it.year), default=None)

    def facts(self, item_id: str) -> list[str]:
        """What the catalog and KG know about an item, as sentences."""
        item = self.catalog.get(item_id)
        facts = [f"{item.title} is from {item.year}." if item.year else f"{item.title} has no known release year."]
        if item.genres:
            facts.append(f"Genres: {', '.join(item.genres)}.")
        kg = self.catalog.kg
        if kg is not None:
            for rel, label in (("director", "Directed by"), ("writer", "Written by")):
                for _, entity in kg.entities_of(item_id, rel)[:1]:
                    others = [i for i in kg.items_of(entity, rel) if i != item_id][:2]
                    if others:
                        facts.append(f"{label} the {rel} of {' and '.join(self.catalog.titles[o] for o in others)}.")
            for rel, label in (("sequel", "Sequel"), ("prequel", "Prequel")):
                for _, entity in kg.entities_of(item_id, rel):
                    other = kg.item_id(entity)
                    if other:
                        facts.append(f"{label}: {self.catalog.titles[other]}.")
        count = int(self.catalog.popularity[self.catalog.index[item_id]])
        if count:
            facts.append(f"{count} people here have rated it.")
        return facts

    def similar(self, item_id: str, k: int = 5) -> list[str]:
        """Items sharing the most KG entities with an item (neighbours in the graph)."""
        kg = self.catalog.kg
        if kg is None:
            return []
        counts: dict[str, int] = {}
        for rel, entity in kg.entities_of(item_id):
            if rel in ("actor", "director", "writer", "subject", "sequel", "prequel"):
                for other in kg.items_of(entity, rel):
                    if other != item_id:
                        counts[other] = counts.get(other, 0) + 1
        return sorted(counts, key=lambda i: (-counts[i], i))[:k]
