"""The generic catalog format, so anyone can bring their own catalog.

A folder with:

* ``items.jsonl`` (required): one JSON object per line with ``id`` and ``title``
  (required) and ``year``, ``genres`` (list), ``description``, ``attributes``
  (object) and ``entities`` (list of KG entity ids; the first is the item's own
  node in the knowledge graph).
* ``interactions.csv`` (optional): header row with ``user`` and ``item``
  (required) and ``rating``, ``timestamp`` (optional) columns.
* ``kg.tsv`` (optional): ``head<TAB>relation<TAB>tail`` per line, an optional
  ``head	relation	tail`` header; relations are kept as spelled.
* ``entities.tsv`` (optional): ``entity_id<TAB>name`` per line, so people and
  companies can be named ("I don't want anything with Tom Cruise").
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

from pydantic import ValidationError

from recsys.catalog import Catalog
from recsys.errors import CatalogFormatError
from recsys.knowledge_graph import KnowledgeGraph
from recsys.loaders.common import InteractionColumns, check_unique_ids, parse_float, parse_int
from recsys.schema import Item

ITEMS, INTERACTIONS, KG, ENTITIES = "items.jsonl", "interactions.csv", "kg.tsv", "entities.tsv"


def load_items_jsonl(path: Path) -> list[Item]:
    """Items from a JSON-lines file; any bad line fails with its line number and field."""
    items, lines = [], []
    with path.open(encoding="utf-8") as fh:
        for no, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise CatalogFormatError(path, no, None, f"invalid JSON ({exc.msg} at column {exc.colno})") from None
            if not isinstance(record, dict):
                raise CatalogFormatError(path, no, None, f"expected a JSON object, got {type(record).__name__}")
            try:
                items.append(Item.model_validate(record))
            except ValidationError as exc:
                err = exc.errors()[0]
                field = ".".join(map(str, err["loc"])) or None
                raise CatalogFormatError(path, no, field, err["msg"]) from None
            lines.append(no)
    if not items:
        raise CatalogFormatError(path, None, None, "no items")
    check_unique_ids(items, path, lines)
    return items


def csv_rows(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) of a CSV with a header that has the ``required`` columns; a header
    without them or a row with the wrong number of columns fails with file, line and field."""
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        for column in required:
            if column not in header:
                raise CatalogFormatError(path, 1, column, f"header lacks required column (has {header})")
        for row in reader:
            if None in row or any(v is None for v in row.values()):
                raise CatalogFormatError(path, reader.line_num, None, f"expected {len(header)} columns")
            yield reader.line_num, row


def load_interactions_csv(path: Path, items: list[Item]) -> InteractionColumns:
    """Interactions from a CSV with a header; unknown items and bad numbers fail with line and field."""
    cols = InteractionColumns(items)
    for no, row in csv_rows(path, ("user", "item")):
        rating = parse_float(row["rating"], path, no, "rating") if row.get("rating") not in (None, "") else 1.0
        ts = parse_int(row["timestamp"], path, no, "timestamp") if row.get("timestamp") not in (None, "") else 0
        cols.add(row["user"].strip(), row["item"].strip(), rating, ts, path, no)
    return cols


def _tsv(path: Path, width: int, header: tuple[str, ...]) -> list[tuple[int, list[str]]]:
    rows = []
    with path.open(encoding="utf-8") as fh:
        for no, raw in enumerate(fh, start=1):
            line = raw.rstrip("\r\n")
            if not line:
                continue
            cells = line.split("\t")
            if no == 1 and tuple(c.strip().lower() for c in cells) == header:
                continue
            if len(cells) != width:
                raise CatalogFormatError(
                    path,
                    no,
                    header[min(len(cells), width - 1)],
                    f"expected {width} tab-separated fields, got {len(cells)}",
                )
            for name, cell in zip(header, cells):
                if not cell.strip():
                    raise CatalogFormatError(path, no, name, "empty value")
            rows.append((no, [c.strip() for c in cells]))
    return rows


def load_generic(folder: str | Path, name: str | None = None) -> Catalog:
    """Load a catalog folder in the generic format (see the module docstring)."""
    folder = Path(folder)
    item_path = folder / ITEMS
    if not item_path.is_file():
        raise CatalogFormatError(item_path, None, None, "file not found")
    items = load_items_jsonl(item_path)
    inter_path = folder / INTERACTIONS
    cols = load_interactions_csv(inter_path, items) if inter_path.is_file() else InteractionColumns(items)

    kg = None
    if (folder / KG).is_file():
        names = {}
        if (folder / ENTITIES).is_file():
            names = {cells[0]: cells[1] for _, cells in _tsv(folder / ENTITIES, 2, ("entity_id", "name"))}
        triples = [tuple(cells) for _, cells in _tsv(folder / KG, 3, ("head", "relation", "tail"))]
        links = {item.id: item.entities[0] for item in items if item.entities}
        kg = KnowledgeGraph.from_triples(triples, links, names=names, relation_map={})  # type: ignore[arg-type]
    return Catalog(name=name or folder.name, items=tuple(items), interactions=cols.build(), kg=kg, source=str(folder))
