"""RecBole atomic files: ``NAME.inter``, ``.item``, ``.user``, ``.kg``, ``.link`` (tab-separated, typed header)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from pydantic import ValidationError

from recsys.catalog import Catalog
from recsys.errors import CatalogFormatError
from recsys.knowledge_graph import KnowledgeGraph
from recsys.loaders.common import InteractionColumns, check_unique_ids, display_title, parse_float, parse_int
from recsys.schema import Item

# Column names RecBole uses in its ml-* item files, and what they mean to Tastebud.
_TITLE_FIELDS = ("movie_title", "title")
_YEAR_FIELDS = ("release_year", "year")
_GENRE_FIELDS = ("class", "genre", "genres")
_TITLE_YEAR = re.compile(r"\s*\((?P<year>\d{4})\)\s*$")
_UNKNOWN = {"unknown", "unkonwn", ""}  # ML-100K spells one item "unkonwn"


def read_atomic(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number, {field: text}) for each data row of an atomic file.

    The header's ``name:type`` cells give the field names; every row must have as
    many cells as the header.
    """
    with path.open(encoding="utf-8", newline="\n") as fh:
        header = fh.readline().rstrip("\r\n")
        if not header:
            raise CatalogFormatError(
                path, 1, None, "empty file: expected a header like 'user_id:token\\titem_id:token'"
            )
        names = [cell.split(":", 1)[0] for cell in header.split("\t")]
        for name in required:
            if name not in names:
                raise CatalogFormatError(path, 1, name, f"header lacks required field (has {names})")
        for line_no, raw in enumerate(fh, start=2):
            row = raw.rstrip("\r\n")
            if not row:
                continue
            cells = row.split("\t")
            if len(cells) != len(names):
                field = names[min(len(cells), len(names) - 1)]
                raise CatalogFormatError(
                    path, line_no, field, f"expected {len(names)} tab-separated fields, got {len(cells)}"
                )
            yield line_no, dict(zip(names, cells))


def field_types(path: Path) -> dict[str, str]:
    """``{field: type}`` from an atomic file's ``name:type`` header ("token", "token_seq", "float", ...)."""
    with path.open(encoding="utf-8", newline="\n") as fh:
        header = fh.readline().rstrip("\r\n")
    return {name: kind for name, _, kind in (cell.partition(":") for cell in header.split("\t"))}


def _pick(fields: dict[str, str], candidates: tuple[str, ...]) -> str | None:
    return next((c for c in candidates if c in fields), None)


def load_items(path: Path) -> list[Item]:
    """Items from an atomic ``.item`` file."""
    items: list[Item] = []
    lines: list[int] = []
    # A token_seq column (RecBole's multi-valued field, e.g. tags) becomes a list attribute, so each
    # token is one askable value (recsys.attributes).
    sequences = {name for name, kind in field_types(path).items() if kind.endswith("_seq")}
    for line_no, row in read_atomic(path, ("item_id",)):
        title_key = _pick(row, _TITLE_FIELDS)
        year_key = _pick(row, _YEAR_FIELDS)
        genre_key = _pick(row, _GENRE_FIELDS)
        title = row.get(title_key, "") if title_key else ""
        year_text = row.get(year_key, "") if year_key else ""
        title_year = _TITLE_YEAR.search(title)
        if year_text.strip().lower() in _UNKNOWN:
            year = None
        elif not year_text.strip().isdigit() and title_year:
            # ML-100K's "Land Before Time III ... (1995) (V)": the year stayed in the title.
            year, title = int(title_year["year"]), title[: title_year.start()].strip()
        else:
            year = parse_int(year_text, path, line_no, year_key or "year")
        genres = tuple(g for g in (row.get(genre_key, "") if genre_key else "").split() if g.lower() not in _UNKNOWN)
        if title.strip().lower() in _UNKNOWN:
            title = "unknown"
        extra: dict[str, str | list[str]] = {
            k: v.split() if k in sequences else v
            for k, v in row.items()
            if k not in {"item_id", title_key, year_key, genre_key}
        }
        try:
            item = Item(
                id=row["item_id"],
                title=display_title(title) or row["item_id"],
                year=year,
                genres=genres,
                attributes=extra,
            )
        except ValidationError as exc:
            err = exc.errors()[0]
            raise CatalogFormatError(path, line_no, ".".join(map(str, err["loc"])), err["msg"]) from None
        items.append(item)
        lines.append(line_no)
    check_unique_ids(items, path, lines)
    return items


def load_interactions(path: Path, items: list[Item], columns: InteractionColumns | None = None) -> InteractionColumns:
    """Interactions from an atomic ``.inter`` file, checked against the items."""
    cols = columns or InteractionColumns(items)
    for line_no, row in read_atomic(path, ("user_id", "item_id")):
        rating = parse_float(row["rating"], path, line_no, "rating") if "rating" in row else 1.0
        ts = parse_int(row["timestamp"], path, line_no, "timestamp") if "timestamp" in row else 0
        cols.add(row["user_id"], row["item_id"], rating, ts, path, line_no)
    return cols


def load_links(path: Path, item_ids: set[str]) -> dict[str, str]:
    """Item id -> KG entity id from a ``.link`` file."""
    links: dict[str, str] = {}
    for line_no, row in read_atomic(path, ("item_id", "entity_id")):
        if row["item_id"] not in item_ids:
            raise CatalogFormatError(path, line_no, "item_id", f"item id {row['item_id']!r} is not in the item file")
        if not row["entity_id"]:
            raise CatalogFormatError(path, line_no, "entity_id", "empty entity id")
        links[row["item_id"]] = row["entity_id"]
    return links


def load_triples(path: Path) -> list[tuple[str, str, str]]:
    """(head, relation, tail) triples from a ``.kg`` file."""
    triples = []
    for line_no, row in read_atomic(path, ("head_id", "relation_id", "tail_id")):
        for key in ("head_id", "relation_id", "tail_id"):
            if not row[key]:
                raise CatalogFormatError(path, line_no, key, "empty value")
        triples.append((row["head_id"], row["relation_id"], row["tail_id"]))
    return triples


def load_atomic_dataset(folder: Path, name: str | None = None) -> Catalog:
    """Load a RecBole atomic dataset folder (``NAME.item`` and ``NAME.inter`` required).

    Args:
        folder: Folder holding the atomic files.
        name: Dataset name (file stem); defaults to the folder name.
    """
    folder = Path(folder)
    name = name or folder.name
    item_path, inter_path = folder / f"{name}.item", folder / f"{name}.inter"
    for path in (item_path, inter_path):
        if not path.is_file():
            raise CatalogFormatError(path, None, None, "file not found")
    items = load_items(item_path)
    interactions = load_interactions(inter_path, items).build()

    kg = None
    kg_path, link_path = folder / f"{name}.kg", folder / f"{name}.link"
    if kg_path.is_file() and link_path.is_file():
        links = load_links(link_path, {i.id for i in items})
        kg = KnowledgeGraph.from_triples(load_triples(kg_path), links)
        items = [i.model_copy(update={"entities": (links[i.id],)}) if i.id in links else i for i in items]

    users: dict[str, dict[str, str]] = {}
    user_path = folder / f"{name}.user"
    if user_path.is_file():
        for _, row in read_atomic(user_path, ("user_id",)):
            users[row.pop("user_id")] = row
    return Catalog(
        name=name, items=tuple(items), interactions=interactions, kg=kg, user_attributes=users, source=str(folder)
    )
