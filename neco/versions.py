"""Versions of the packages that made a result, for the manifest (no imports needed)."""

from __future__ import annotations

import platform
from importlib import metadata

TRACKED = (
    "neco",
    "numpy",
    "pandas",
    "pyarrow",
    "duckdb",
    "spacy",
    "sentence-transformers",
    "networkx",
    "torch",
    "transformers",
    "diffusers",
)


def package_versions(names: tuple[str, ...] = TRACKED) -> dict[str, str]:
    """Installed versions of ``names`` (absent packages are left out), plus Python's.

    >>> "python" in package_versions(("neco",))
    True
    """
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out
