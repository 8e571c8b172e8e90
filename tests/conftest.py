"""Shared fixtures: the real embedded catalog and encoder, loaded once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from recsys.assets import AssetManager
from recsys.catalog import Catalog
from recsys.datasets import load_catalog
from recsys.encoder import TextEncoder
from recsys.settings import Settings

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def settings() -> Settings:
    """The user's real cache: assets are fetched once and reused across runs."""
    return Settings.from_env()


@pytest.fixture(scope="session")
def assets(settings: Settings) -> AssetManager:
    return AssetManager(settings)


@pytest.fixture(scope="session")
def catalog(settings: Settings) -> Catalog:
    return load_catalog("ml-100k", settings)


@pytest.fixture(scope="session")
def encoder(settings: Settings) -> TextEncoder:
    return TextEncoder(settings=settings)
