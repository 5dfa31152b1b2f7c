"""The bundled demo: ingest ``corpora/demo`` and run every stage that exists.

Stages added by later parts of neco register here; a stage that cannot run (missing weights,
say) is reported as skipped with the reason, and the rest go on.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from neco.errors import NecoError
from neco.progress import NullProgress, Progress

DEMO_DIR = Path(__file__).resolve().parents[1] / "corpora" / "demo"
RECIPE = DEMO_DIR / "sources.toml"

#: Stages of the demo after ingestion: (name, what it needs, runner or None if not built yet).
PLANNED_STAGES: list[tuple[str, str]] = [
    ("social", "the NLP layer (vocabularies, keyness, graphs) — not part of this version yet"),
    ("neural", "the model layer (CLIP tokenizer and encoders) — not part of this version yet"),
    ("survival", "the survival ledger — not part of this version yet"),
]


def demo_recipe() -> Path:
    """Path of the demo corpus's recipe; a clear error if the corpus is not there."""
    if not RECIPE.exists():
        raise NecoError(
            f"The demo corpus was not found at {DEMO_DIR}. It ships in the neco source tree "
            "(corpora/demo); run neco from a checkout installed with `pip install -e .`."
        )
    return RECIPE


def run_demo(
    workspace: str | Path = Path("data/workspace"),
    *,
    fresh: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Ingest the demo corpus into ``workspace`` and run the available stages.

    Returns ``{"workspace", "ingest", "stages"}``; ``ingest`` is the ingest report as a dict,
    ``stages`` a list of ``{"name", "status", "detail"}``.
    """
    from neco.cli import read_recipe
    from neco.workspace import Workspace

    progress = progress or NullProgress()
    ws = Workspace(workspace)
    if fresh and ws.path.exists():
        shutil.rmtree(ws.path)
    report = ws.ingest(read_recipe(demo_recipe()), progress=progress)
    summary = ws.summary()
    stages = [
        {
            "name": "ingest",
            "status": "ran",
            "detail": f"{summary['accepted']:,} captions in {len(summary['communities'])} "
            f"communities, {summary['rejected']:,} rejected",
        }
    ]
    for name, detail in PLANNED_STAGES:
        stages.append({"name": name, "status": "skipped", "detail": detail})
    return {"workspace": str(ws.path), "ingest": report.to_dict(), "stages": stages}
