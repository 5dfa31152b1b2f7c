"""The item sample: one seeded, stratified sample of captions per workspace.

Every caption-level stage of both layers (the semantic reference vectors, the CLIP text
encoder, relation probes, VAE latents, attention, guidance) measures the captions of this
sample, so that the survival ledger compares the *same items* on the social and the neural
side. It is chosen once, from the corpus's ids and communities only (changing a caption's
text does not change the sample), and stored as the table ``sample/items``.

How it is drawn: each caption gets a pseudo-random rank from a hash of the seed and its id
(so adding captions to a community leaves the others' ranks as they were); each community's
captions are ordered by that rank; the sample takes communities' captions in turns (round
robin) until ``size`` is reached, so a small community is included whole and the rest of the
places go to the larger ones. ``order`` is that round-robin order: the first n items in
``order`` are themselves a stratified sample of n (attention and guidance, which are costly,
take the first ``--sample`` items). When the corpus has at most ``size`` captions, every
caption is in the sample.

>>> import pandas as pd
>>> frame = pd.DataFrame({"id": [f"a{i}" for i in range(6)] + ["b0", "b1"],
...                       "community": ["a"] * 6 + ["b"] * 2})
>>> items = draw_sample(frame, size=4, seed=0)
>>> sorted(items.groupby("community").size().items())
[('a', 2), ('b', 2)]
>>> items.sort_values("order")["community"].tolist()
['a', 'b', 'a', 'b']
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from neco.errors import NecoError
from neco.stages import Input, Stage, StageContext, StageOutput

if TYPE_CHECKING:
    import pandas as pd

    from neco.workspace import Workspace

#: Default size of the item sample: every caption of corpora up to this size.
DEFAULT_SIZE = 5000
DEFAULT_SEED = 0


@dataclass(frozen=True)
class SampleConfig:
    """Size and seed of a workspace's item sample (stored in its settings)."""

    size: int = DEFAULT_SIZE
    seed: int = DEFAULT_SEED

    def __post_init__(self) -> None:
        if not isinstance(self.size, int) or self.size < 1:
            raise NecoError(
                f"The 'size' parameter of the item sample must be an int >= 1. "
                f"Got {self.size!r} instead."
            )

    @classmethod
    def of(cls, ws: Workspace) -> SampleConfig:
        """The workspace's sample settings (defaults where none were set)."""
        settings = ws.settings().get("sample", {})
        return cls(
            size=int(settings.get("size", DEFAULT_SIZE)),
            seed=int(settings.get("seed", DEFAULT_SEED)),
        )


def _ranks(ids: list[str], seed: int) -> np.ndarray:
    """A pseudo-random number per id from a hash of (seed, id): stable as the corpus grows."""
    salt = f"{seed}\x1f".encode()
    return np.array(
        [
            int.from_bytes(hashlib.blake2b(salt + i.encode(), digest_size=8).digest(), "big")
            for i in ids
        ],
        dtype=np.uint64,
    )


def draw_sample(frame: pd.DataFrame, size: int, seed: int) -> pd.DataFrame:
    """The sample of ``frame`` (columns ``id``, ``community``) as ``sample/items`` rows."""
    import pandas as pd

    work = pd.DataFrame({"id": frame["id"].astype(str), "community": frame["community"]})
    work["hash"] = _ranks(work["id"].tolist(), seed)
    work = work.sort_values(["community", "hash", "id"], kind="stable")
    work["rank"] = work.groupby("community", sort=False).cumcount().astype(np.int64)
    # Round robin over communities: rank first, then a fixed order of communities.
    order = sorted(work["community"].unique())
    position = {c: i for i, c in enumerate(order)}
    work["community_pos"] = work["community"].map(position)
    work = work.sort_values(["rank", "community_pos"], kind="stable").head(size)
    work["order"] = np.arange(len(work), dtype=np.int64)
    return work[["id", "community", "rank", "order"]].reset_index(drop=True)


def _run_sample(ctx: StageContext) -> StageOutput:
    frame = ctx.frame("corpus", ["id", "community"])
    items = draw_sample(frame, ctx.params["sample_size"], ctx.params["sample_seed"])
    per = items.groupby("community").size()
    return StageOutput(
        {"sample/items": items},
        {
            "items": len(items),
            "of": len(frame),
            "communities": len(per),
            "smallest": int(per.min()) if len(per) else 0,
        },
    )


SAMPLE_STAGE = Stage(
    "sample",
    inputs=(Input("corpus", ("id", "community")),),
    outputs=("sample/items",),
    run=_run_sample,
    params=("sample_size", "sample_seed"),
    doc="the seeded, stratified item sample every caption-level stage measures",
)


def sample_params(ws: Workspace) -> dict[str, Any]:
    """Run parameters of the sample stage, from the workspace's settings."""
    config = SampleConfig.of(ws)
    return {"sample_size": config.size, "sample_seed": config.seed}


def sample_items(ws: Workspace, first: int | None = None) -> pd.DataFrame:
    """The item sample (``id``, ``community``, ``rank``, ``order``), in ``order``.

    ``first`` keeps the first n items, themselves a stratified sample.
    """
    if "sample/items" not in ws.tables():
        raise NecoError(
            f"The workspace {ws.path} has no item sample yet. Run: neco sample -w {ws.path}"
        )
    items = ws.read_table("sample/items").to_pandas().sort_values("order")
    return items.head(first) if first is not None else items


def choose_sample(ws: Workspace, size: int | None = None, seed: int | None = None) -> Any:
    """Set the item sample's size and/or seed (kept when None) and draw it; the stage report.

    Stages that measure the sample rerun when it changes.
    """
    from neco.stages import run_stages

    ws.require()
    if size is not None or seed is not None:
        current = SampleConfig.of(ws)
        config = SampleConfig(
            size=current.size if size is None else size,
            seed=current.seed if seed is None else seed,
        )
        ws.set_settings(sample={"size": config.size, "seed": config.seed})
    [report] = run_stages(ws, [SAMPLE_STAGE], sample_params(ws))
    return report
