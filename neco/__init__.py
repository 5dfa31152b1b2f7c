"""neco — neural economy.

Measure how much of a caption corpus's social structure (relations between words, captions
and speakers) survives the stages of a latent diffusion model.

``import neco`` is light: it imports no torch, spaCy, transformers, diffusers or Streamlit,
and not even pandas until a name below is used.

>>> import neco
>>> neco.__version__
'0.1.0'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Corpus": "neco.corpus",
    "SourceSpec": "neco.corpus",
    "IngestReport": "neco.corpus",
    "Workspace": "neco.workspace",
    "NecoError": "neco.errors",
    "Study": "neco.api",
    "open_study": "neco.api",
}

if TYPE_CHECKING:
    from neco.api import Study, open_study
    from neco.corpus import Corpus, IngestReport, SourceSpec
    from neco.errors import NecoError
    from neco.workspace import Workspace


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'neco' has no attribute {name!r}")


__all__ = [
    "Corpus",
    "IngestReport",
    "NecoError",
    "SourceSpec",
    "Study",
    "Workspace",
    "__version__",
    "open_study",
]
