"""Recipes: TOML files listing sources with the options to read them.

Each ``[[source]]`` table takes the fields of :class:`neco.corpus.SourceSpec`; paths are
relative to the recipe's folder. The demo corpus ships one (``corpora/demo/sources.toml``).

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "r.toml").write_text('[[source]]\\npath = "a.csv"\\ncommunity = "museum"\\n')
>>> [(s.path.name, s.community) for s in read_recipe(folder / "r.toml")]
[('a.csv', 'museum')]
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from neco.corpus.sources import SourceSpec
from neco.errors import SourceError


def read_recipe(path: str | Path) -> list[SourceSpec]:
    """Sources listed in a TOML recipe, as :class:`SourceSpec` objects."""
    path = Path(path)
    if not path.exists():
        raise SourceError(f"Recipe not found: {path}.")
    try:
        recipe = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SourceError(f"{path} is not valid TOML: {exc}") from exc
    entries = recipe.get("source")
    if not isinstance(entries, list) or not entries:
        raise SourceError(f"{path} lists no sources: expected one or more [[source]] tables.")
    allowed = set(SourceSpec.__dataclass_fields__)
    specs = []
    for n, entry in enumerate(entries, start=1):
        unknown = sorted(set(entry) - allowed)
        if unknown or "path" not in entry:
            raise SourceError(
                f"{path}, source {n}: expected the keys {sorted(allowed)} (path required); "
                f"found {sorted(entry)}."
            )
        entry = dict(entry)
        entry["path"] = path.parent / entry["path"]
        specs.append(SourceSpec(**entry))
    return specs
