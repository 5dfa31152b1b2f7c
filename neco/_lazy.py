"""Lazy imports of optional dependencies.

``import neco`` stays light: heavy libraries (torch, spaCy, transformers, diffusers,
Streamlit) are imported inside the functions that need them, through :func:`require`, which
names the extra to install when the library is missing.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from neco.errors import MissingDependencyError


def require(module: str, extra: str) -> ModuleType:
    """Import ``module`` or raise a :class:`MissingDependencyError` naming the extra.

    >>> require("json", "core").dumps([1])
    '[1]'
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"This needs the optional dependency {module!r}, which is not installed "
            f"({exc}). Install it with: pip install 'neco[{extra}]'"
        ) from exc
