"""Find catalog things named in text: genres, titles, people (by full or partial name), roles of titles."""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property

from memory.lexicon import GENRE_SURFACES, ROLE_WORDS
from recsys.catalog import Catalog

_ARTICLE = re.compile(r"^(?:the|a|an)\s+")
_NONWORD = re.compile(r"[^\w\s]")
_SPACES = re.compile(r"\s+")
# Words that are never a person's partial name on their own, even when capitalised.
_COMMON = frozenset(
    """i im i'm no not never nothing only please dont don't you your me my we our the a an and or but with by from of
    for in on at to any anything something films film movies movie stuff ones new old when if just also that this
    it its they them he she his her who whoever anyone keep stop show recommend suggest again anymore ever always
    ok okay fine rather really like love hate mind want watch am is are be""".split()
)


def normalize_title(text: str) -> str:
    """Case-fold, drop accents, punctuation and a leading article: 'The Godfather' -> 'godfather'."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold().replace("&", "and")
    text = _SPACES.sub(" ", _NONWORD.sub(" ", text)).strip()
    return _ARTICLE.sub("", text)


@dataclass(frozen=True)
class Mention:
    """Something found in text.

    Attributes:
        kind: ``genre``, ``item``, ``entity``, ``ambiguous`` or ``unknown``.
        value: Genre spelling, item id, entity id, or the words as written.
        label: Readable form.
        start: Character offset in the (case-folded) text.
        end: End offset.
        candidates: For ``ambiguous``: the entity ids it could mean.
    """

    kind: str
    value: str
    label: str
    start: int
    end: int
    candidates: tuple[str, ...] = field(default=())


@dataclass
class Resolver:
    """Catalog lookups used by extraction. Build once per catalog; cheap to query.

    Args:
        catalog: The catalog; people are found through ``catalog.kg.names`` when present.
    """

    catalog: Catalog

    # ---- genres -----------------------------------------------------------------
    @cached_property
    def genre_patterns(self) -> list[tuple[re.Pattern[str], str]]:
        """(pattern, catalog genre) pairs, longest surface first."""
        pairs: list[tuple[str, str]] = []
        for folded, spelled in self.catalog.genres.items():
            surfaces = {re.escape(folded), re.escape(folded) + "s", re.escape(folded.replace("-", " "))}
            surfaces.update(GENRE_SURFACES.get(folded, ()))
            pairs += [(s, spelled) for s in surfaces]
        pairs.sort(key=lambda p: -len(p[0]))
        return [(re.compile(rf"(?<![\w-]){s}(?![\w-])"), g) for s, g in pairs]

    def genres(self, folded: str) -> list[Mention]:
        """Genre mentions in case-folded text, non-overlapping, in order."""
        taken: list[tuple[int, int]] = []
        found: list[Mention] = []
        for pattern, genre in self.genre_patterns:
            for m in pattern.finditer(folded):
                if any(m.start() < e and s < m.end() for s, e in taken):
                    continue
                taken.append((m.start(), m.end()))
                found.append(Mention("genre", genre, genre, m.start(), m.end()))
        return sorted(found, key=lambda m: m.start)

    def genre(self, word: str) -> str | None:
        """The catalog genre a word stands for, if any."""
        hits = self.genres(word.casefold())
        return hits[0].value if hits else None

    # ---- titles -----------------------------------------------------------------
    @cached_property
    def title_index(self) -> dict[str, str]:
        """Normalised title (and parenthesised alternative title) -> item id (most popular wins)."""
        pop = self.catalog.popularity
        order = sorted(range(len(self.catalog.items)), key=lambda i: -int(pop[i]) if len(pop) else 0)
        index: dict[str, str] = {}
        for i in order:
            item = self.catalog.items[i]
            names = [item.title]
            alt = re.match(r"^(.*?)\s*\(([^)]+)\)\s*$", item.title)
            if alt:
                names += [alt.group(1), alt.group(2)]
            for name in names:
                key = normalize_title(name)
                if len(key) >= 2:
                    index.setdefault(key, item.id)
        return index

    @cached_property
    def _max_title_words(self) -> int:
        return max((len(k.split()) for k in self.title_index), default=1)

    def title_at(self, words: list[str]) -> tuple[str, int] | None:
        """Longest title at the start of a word list: (item id, words used)."""
        for n in range(min(len(words), self._max_title_words), 0, -1):
            key = normalize_title(" ".join(words[:n]))
            if key in self.title_index:
                return self.title_index[key], n
        return None

    def title(self, text: str) -> str | None:
        """Item id for an exact (normalised) title."""
        return self.title_index.get(normalize_title(text))

    # ---- people -----------------------------------------------------------------
    @cached_property
    def _name_index(self) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
        """(full name -> entities, single name token -> entities)."""
        full: dict[str, set[str]] = defaultdict(set)
        token: dict[str, set[str]] = defaultdict(set)
        kg = self.catalog.kg
        if kg is None:
            return {}, {}
        for entity, name in kg.names.items():
            if kg.item_id(entity) is not None:
                continue  # an item's own node: titles cover it
            key = _SPACES.sub(" ", _NONWORD.sub(" ", name.casefold())).strip()
            if not key:
                continue
            full[key].add(entity)
            parts = key.split()
            if len(parts) > 1:
                for part in parts:
                    if len(part) > 2 and part not in _COMMON:
                        token[part].add(entity)
        return dict(full), dict(token)

    def people(self, text: str) -> list[Mention]:
        """Named KG entities in text: full names first, then unique partial names.

        A single-word partial name must be capitalised in ``text`` unless the whole
        text is lower case. A partial name shared by several entities is returned
        as ``ambiguous`` with its candidates.
        """
        full, token = self._name_index
        if not full:
            return []
        kg = self.catalog.kg
        assert kg is not None
        words = [(m.group(), m.start(), m.end()) for m in re.finditer(r"[\w'.-]+", text)]
        all_lower = text == text.casefold()
        used = [False] * len(words)
        found: list[Mention] = []
        max_n = max(len(k.split()) for k in full)
        for n in range(min(max_n, 5), 0, -1):
            for i in range(len(words) - n + 1):
                if any(used[i : i + n]):
                    continue
                key = _SPACES.sub(" ", _NONWORD.sub(" ", " ".join(w for w, _, _ in words[i : i + n]).casefold()))
                key = key.strip()
                ents = full.get(key)
                if ents and (n > 1 or key not in _COMMON):
                    ent = sorted(ents)[0]
                    found.append(Mention("entity", ent, kg.names[ent], words[i][1], words[i + n - 1][2]))
                    used[i : i + n] = [True] * n
        for i, (word, start, end) in enumerate(words):
            if used[i]:
                continue
            key = word.casefold().strip(".'")
            if key.endswith("'s"):
                key = key[:-2]
            if key in _COMMON or key not in token:
                continue
            if not (all_lower or word[:1].isupper()):
                continue
            ents = token[key]
            if len(ents) == 1:
                ent = next(iter(ents))
                found.append(Mention("entity", ent, kg.names[ent], start, end))
            else:
                cands = tuple(sorted(ents))
                label = f"{word} (could be {' or '.join(kg.names[e] for e in cands[:4])})"
                found.append(Mention("ambiguous", key, label, start, end, cands))
        return sorted(found, key=lambda m: m.start)

    # ---- roles of titles ----------------------------------------------------------
    @cached_property
    def role_patterns(self) -> list[tuple[re.Pattern[str], str]]:
        """Patterns for "the <role> of <title>" and "whoever <role> <title>"."""
        out = []
        for relation, words in ROLE_WORDS.items():
            out.append(
                (
                    re.compile(
                        rf"\b(?:the |an? |whoever |anyone who |person who )?{words}(?: of| behind| by| in| from)?\s+"
                    ),
                    relation,
                )
            )
        return out

    def role_of_title(self, folded: str) -> list[Mention]:
        """Entities named through a title: "the director of Alien" -> the director entity."""
        kg = self.catalog.kg
        found: list[Mention] = []
        if kg is None:
            return found
        for pattern, relation in self.role_patterns:
            for m in pattern.finditer(folded):
                rest = folded[m.end() :].split()
                hit = self.title_at(rest)
                if hit is None:
                    continue
                item_id, n = hit
                ents = [e for _, e in kg.entities_of(item_id, relation)]
                # "an actor in Kingpin and Dumb & Dumber" (how the KG names unnamed people): the one in both.
                if len(rest) > n + 1 and rest[n] == "and" and (second := self.title_at(rest[n + 1 :])) is not None:
                    shared = [e for e in ents if e in {x for _, x in kg.entities_of(second[0], relation)}]
                    if shared:
                        ents, n = shared, n + 1 + second[1]
                end = m.end() + len(" ".join(rest[:n]))
                title = self.catalog.titles[item_id]
                role = relation.replace("_", " ")
                if not ents:
                    found.append(
                        Mention("unknown", f"{role} of {title}".casefold(), f"the {role} of {title}", m.start(), end)
                    )
                    continue
                for ent in ents:
                    if ent in kg.names:
                        label = kg.names[ent]
                    elif len(ents) == 1:
                        label = kg.name(ent, self.catalog.titles, relation=relation)
                    else:
                        label = f"an {role} in {title}" if relation == "actor" else f"the {role} of {title}"
                    found.append(Mention("entity", ent, label, m.start(), end))
        return found
