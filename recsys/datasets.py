"""One entry point to every catalog: the embedded ML-100K, MovieLens zips, RecBole folders, generic folders."""

from __future__ import annotations

from pathlib import Path

from recsys.assets import AssetManager
from recsys.catalog import Catalog
from recsys.errors import CatalogFormatError
from recsys.settings import Settings

EMBEDDED = "ml-100k"


def load_catalog(source: str | Path = EMBEDDED, settings: Settings | None = None) -> Catalog:
    """Load a catalog by name or path.

    Args:
        source: ``"ml-100k"`` (embedded, the default); ``"movielens:ml-1m"`` and the
            like (an official zip fetched earlier with ``tastebud assets movielens``);
            a path to an official MovieLens zip; a RecBole atomic folder; or a
            folder in the generic format (``items.jsonl`` + ``interactions.csv``).
        settings: Cache location; defaults to ``Settings.from_env()``.

    Raises:
        CatalogFormatError: A file is malformed (the message names file, line, field).
        AssetError: The embedded data is missing and cannot be obtained.
    """
    settings = settings or Settings.from_env()
    text = str(source)
    if text == EMBEDDED:
        from recsys.loaders.atomic import load_atomic_dataset

        return load_atomic_dataset(AssetManager(settings).path(EMBEDDED), EMBEDDED)
    if text.startswith("movielens:"):
        from recsys.loaders.movielens import load_movielens_zip, movielens_zip_path

        return load_movielens_zip(movielens_zip_path(text.split(":", 1)[1], settings))
    path = Path(text).expanduser()
    if path.is_file() and path.suffix == ".zip":
        from recsys.loaders.movielens import load_movielens_zip

        return load_movielens_zip(path)
    if path.is_dir():
        if (path / "items.jsonl").is_file():
            from recsys.loaders.generic import load_generic

            return load_generic(path)
        if (path / f"{path.name}.item").is_file():
            from recsys.loaders.atomic import load_atomic_dataset

            return load_atomic_dataset(path)
    raise CatalogFormatError(
        path,
        None,
        None,
        "not a known catalog: expected 'ml-100k', 'movielens:<variant>', a MovieLens .zip, "
        "a RecBole atomic folder, or a folder with items.jsonl + interactions.csv",
    )
