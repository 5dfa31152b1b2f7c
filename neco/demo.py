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
PLANNED_STAGES: list[tuple[str, str]] = []


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
    mode: str = "full",
    skip: tuple[str, ...] = (),
    neural_stages: tuple[str, ...] | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Ingest the demo corpus into ``workspace`` and run the available stages.

    ``mode`` is the NLP layer's parsing mode and ``skip`` its steps to leave out;
    ``neural_stages`` limits the model layer (default: every stage that can run here). The
    tests use a quick lexical run with the tokenizer stage only. Returns ``{"workspace",
    "ingest", "stages"}``: ``ingest`` is the ingest report as a dict, ``stages`` a list of
    ``{"name", "status", "detail"}`` where status is ``ran``, ``unchanged`` or ``skipped``.
    """
    from neco.corpus.recipe import read_recipe
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
            "status": "ran" if report.accepted else "unchanged",
            "detail": f"{summary['accepted']:,} captions in {len(summary['communities'])} "
            f"communities, {summary['rejected']:,} rejected",
        }
    ]
    stages.extend(_run_social(ws, mode, skip, progress))
    stages.extend(_run_neural(ws, progress, neural_stages))
    stages.extend(_run_survival(ws, progress))
    for name, detail in PLANNED_STAGES:
        stages.append({"name": name, "status": "skipped", "detail": detail})
    return {"workspace": str(ws.path), "ingest": report.to_dict(), "stages": stages}


def _detail(report: Any) -> str:
    if report.reason:
        return str(report.reason)
    info = dict(report.summary)
    if "scopes" in info:
        overall = info.pop("scopes")[0]
        info["backbone"] = f"{overall['nodes']} terms / {overall['edges']} edges"
    return ", ".join(f"{k}={v}" for k, v in info.items())


def _run_social(ws: Any, mode: str, skip: tuple[str, ...], progress: Progress) -> list[Any]:
    """The NLP layer; skipped with the reason if its dependencies are missing."""
    from neco.errors import MissingDependencyError

    try:
        from neco.social.parse import ParseConfig
        from neco.social.pipeline import SocialConfig, run_social

        result = run_social(ws, SocialConfig(parse=ParseConfig(mode=mode), skip=skip), progress)
    except MissingDependencyError as exc:
        return [{"name": "social", "status": "skipped", "detail": str(exc)}]
    return [{"name": r.name, "status": r.status, "detail": _detail(r)} for r in result.stages]


def _run_neural(
    ws: Any, progress: Progress, only: tuple[str, ...] | None = None
) -> list[dict[str, Any]]:
    """The model layer: the tokenizer always; the other stages where their weights are here.

    Generation (attention, guidance) runs in the demo only on a GPU; on a CPU it is skipped
    with the command that forces it.
    """
    from neco.errors import MissingDependencyError

    try:
        import torch

        from neco.neural.pipeline import STAGES, NeuralConfig, run_neural
    except (ImportError, MissingDependencyError) as exc:
        return [{"name": "neural", "status": "skipped", "detail": f"models extra missing: {exc}"}]
    from neco.neural.components import availability

    gpu = torch.cuda.is_available()
    stages = tuple(s for s in STAGES if gpu or s not in ("attention", "guidance"))
    if only is not None:
        stages = tuple(s for s in stages if s in only)
    # Stable Diffusion's own VAE when it is here; else TAESD, whose real weights ship with
    # neco, so the latents stage always measures something real. Images at 256 px keep the
    # demo quick on a CPU.
    sd_vae = any(r["available"] for r in availability("sd15") if r["component"] == "vae")
    config = NeuralConfig(
        stages=stages, sample=8, vae=None if sd_vae else "taesd", image_size=512 if gpu else 256
    )
    result = run_neural(ws, config, progress)
    out = [
        {"name": r.name, "status": r.status, "detail": _detail(r)}
        for r in result.reports
        if r.name != "sample"
    ]
    if not gpu and only is None:
        for name in ("attention", "guidance"):
            out.append(
                {
                    "name": f"neural.{name}",
                    "status": "skipped",
                    "detail": "image generation runs in the demo only on a GPU; force it with "
                    f"neco neural --stages {name} --device cpu",
                }
            )
    return out


def _run_survival(ws: Any, progress: Progress) -> list[dict[str, Any]]:
    """The survival ledger from whatever ran (rows of random-weight parts are labelled)."""
    from neco.survival.ledger import run_survival

    reports = run_survival(ws, progress=progress)
    return [
        {"name": r.name, "status": r.status, "detail": _detail(r)}
        for r in reports
        if r.name != "sample"
    ]
