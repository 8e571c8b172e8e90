"""Versions of installed packages, recorded beside trained models and benchmark figures."""

from __future__ import annotations

import platform
from collections.abc import Sequence
from importlib import metadata


def package_versions(packages: Sequence[str]) -> dict[str, str]:
    """The Python version and each package's installed version ("missing" when not installed).

    Args:
        packages: Distribution names, as pip spells them ("sentence-transformers").
    """
    out = {"python": platform.python_version()}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "missing"
    return out
