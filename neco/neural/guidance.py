"""How the guidance scale trades diversity for prompt fidelity: a sweep and its diversity.

Classifier-free guidance (Ho & Salimans 2022, "Classifier-Free Diffusion Guidance", NeurIPS
workshop; arXiv:2207.12598) runs the denoiser with and without the prompt and extrapolates from
the unconditional prediction towards the conditional one, ``eps_u + w * (eps_c - eps_u)``. A
scale ``w = 1`` is plain conditional sampling (diffusers then skips the unconditional pass); larger
scales follow the prompt more closely and are known to make samples of one prompt look alike.
:func:`guidance_sweep` generates every prompt at several scales and seeds;
:func:`diversity_table` measures, per prompt and scale, how diverse the samples over seeds are.

Diversity is the Vendi score (Friedman & Dieng 2023, "The Vendi Score: A Diversity Evaluation
Metric for Machine Learning", TMLR): with ``K`` the ``n x n`` cosine-similarity matrix of the
samples' embeddings, it is the exponential of the Shannon entropy of the eigenvalues of ``K / n``,
an "effective number of distinct samples" between 1 (all identical) and ``n`` (all orthogonal).
The mean pairwise cosine similarity is reported next to it.

Reproducibility: every sample has its own ``torch.Generator(device).manual_seed(seed)``, so a
``(prompt, scale, seed)`` sample does not depend on what else is in its batch: generating it
alone gives the same image (up to the float rounding of batched kernels).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from neco._lazy import require
from neco.errors import NecoError

if TYPE_CHECKING:
    from neco.progress import Progress

__all__ = ["GuidanceResult", "diversity_table", "guidance_sweep", "vendi_score"]

DEFAULT_SCALES = (1.0, 3.0, 5.0, 7.5, 10.0, 15.0)
"""Guidance scales of a default sweep (7.5 is Stable Diffusion's usual setting)."""
DEFAULT_SEEDS = (0, 1, 2, 3)
"""Seeds of a default sweep: four samples per prompt and scale."""


@dataclass
class GuidanceResult:
    """The samples of a guidance sweep.

    ``table`` has one row per sample, in generation order: ``sample`` (row index into
    ``images``/``embeddings``), ``prompt_index``, ``prompt``, ``scale``, ``seed``. ``images``
    ``(n, H, W, 3)`` uint8 when no ``embed`` function was given, else None; ``embeddings``
    ``(n, d)`` float32 with L2-normalised rows when one was, else None.
    """

    table: pd.DataFrame
    images: np.ndarray | None = field(default=None, repr=False)
    embeddings: np.ndarray | None = field(default=None, repr=False)


def _normalise_rows(vectors: np.ndarray) -> np.ndarray:
    x = np.asarray(vectors, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0:
        raise NecoError(
            f"Expected a 2-d array of embeddings (samples x dimensions); found shape {x.shape}. "
            "Pass one row per sample."
        )
    if not np.isfinite(x).all():
        raise NecoError("Expected finite embeddings; found NaN or infinity. Check the embedder.")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if (norms == 0).any():
        raise NecoError(
            "Expected non-zero embeddings; found a row of zeros, which has no direction. "
            "Check the embedder's output."
        )
    return x / norms


def vendi_score(embeddings: np.ndarray) -> float:
    """The Vendi score of the rows of ``embeddings`` with the cosine kernel.

    ``exp(-sum(l * log l))`` over the eigenvalues ``l`` of ``K / n``, ``K`` the cosine
    similarities of the rows (they are L2-normalised here). Computed from the smaller of the
    ``n x n`` and ``d x d`` Gram matrices, which share their non-zero eigenvalues.

    >>> vendi_score(np.ones((4, 3)))
    1.0
    >>> round(vendi_score(np.eye(3)), 9)
    3.0
    >>> round(vendi_score(np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])), 9)
    2.0
    """
    x = _normalise_rows(embeddings)
    n, d = x.shape
    gram = x @ x.T if n <= d else x.T @ x
    eigenvalues = np.linalg.eigvalsh(gram / n)
    eigenvalues = eigenvalues[eigenvalues > 1e-12]
    eigenvalues = eigenvalues / eigenvalues.sum()
    entropy = -float(np.sum(eigenvalues * np.log(eigenvalues)))
    return float(np.exp(entropy))


def mean_pairwise_cosine(embeddings: np.ndarray) -> float:
    """Mean cosine similarity over distinct pairs of rows (NaN for a single row).

    >>> mean_pairwise_cosine(np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 0.0]]))
    0.3333333333333333
    """
    x = _normalise_rows(embeddings)
    n = x.shape[0]
    if n < 2:
        return float("nan")
    total = float(np.square(x.sum(axis=0)).sum())  # sum over all ordered pairs, diagonal included
    return (total - n) / (n * (n - 1))


def check_scales(scales: Sequence[float]) -> None:
    """Guidance scales must be >= 1: diffusers samples plain conditionally at any scale <= 1.

    diffusers applies classifier-free guidance only when ``guidance_scale > 1``; at 0 or 0.5
    it skips the unconditional pass and returns exactly the scale-1 image, so such a row would
    be a duplicate labelled as something else.

    >>> check_scales([1, 7.5])
    >>> check_scales([0.5])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    neco.errors.NecoError: Expected guidance scales >= 1 (...); found (0.5,). Use e.g. (1, 3, 7.5).
    """
    values = tuple(scales)
    if not values or not all(np.isfinite(float(s)) and float(s) >= 1 for s in values):
        raise NecoError(
            "Expected guidance scales >= 1 (diffusers gives the plain conditional sample at any "
            f"scale <= 1, so 0 or 0.5 would repeat scale 1); found {values!r}. "
            "Use e.g. (1, 3, 7.5)."
        )


def _check_sweep(
    prompts: Sequence[str],
    scales: Sequence[float],
    seeds: Sequence[int],
    steps: int,
    height: int,
    width: int,
    batch_size: int,
) -> None:
    if isinstance(prompts, str) or not prompts or not all(isinstance(p, str) for p in prompts):
        raise NecoError(
            "Expected a non-empty sequence of prompt strings; found "
            f"{type(prompts).__name__} {prompts!r:.60}. Pass e.g. ['a photo of a nurse']."
        )
    check_scales(scales)
    if not seeds or not all(isinstance(s, int | np.integer) and s >= 0 for s in seeds):
        raise NecoError(f"Expected seeds as ints >= 0; found {tuple(seeds)!r}. Use e.g. (0, 1).")
    if len(set(seeds)) != len(seeds):
        raise NecoError(f"Expected distinct seeds; found {tuple(seeds)!r}. Drop the repeats.")
    from neco.neural.attention import check_generation_size

    check_generation_size(height, width, steps)
    if not isinstance(batch_size, int) or batch_size < 1:
        raise NecoError(f"The 'batch_size' parameter must be an int >= 1. Got {batch_size!r}.")


def guidance_sweep(
    pipe: Any,
    prompts: Sequence[str],
    *,
    scales: Sequence[float] = DEFAULT_SCALES,
    seeds: Sequence[int] = DEFAULT_SEEDS,
    steps: int = 20,
    height: int = 512,
    width: int = 512,
    embed: Callable[[np.ndarray], np.ndarray] | None = None,
    batch_size: int = 4,
    progress: Progress | None = None,
) -> GuidanceResult:
    """Generate every prompt at every guidance scale and seed.

    Samples of one prompt and scale are batched over seeds, ``batch_size`` at a time, each with
    its own generator (see the module docstring). ``embed`` maps a batch of uint8 images
    ``(k, H, W, 3)`` to ``(k, d)`` vectors (e.g. CLIP image embeddings); when given, only the
    embeddings are kept (rows L2-normalised, float32), otherwise the images are.
    """
    from neco.progress import NullProgress

    th = require("torch", "models")
    _check_sweep(prompts, scales, seeds, steps, height, width, batch_size)
    progress = progress or NullProgress()
    device = pipe._execution_device
    rows: list[dict[str, Any]] = []
    images: list[np.ndarray] = []
    vectors: list[np.ndarray] = []
    total = len(prompts) * len(scales) * len(seeds)
    task = progress.task("guidance sweep", total=total)
    try:
        for prompt_index, prompt in enumerate(prompts):
            for scale in scales:
                for start in range(0, len(seeds), batch_size):
                    chunk = [int(s) for s in seeds[start : start + batch_size]]
                    generators = [th.Generator(device).manual_seed(s) for s in chunk]
                    with th.no_grad():
                        output = pipe(
                            prompt=[prompt] * len(chunk),
                            height=height,
                            width=width,
                            num_inference_steps=steps,
                            guidance_scale=float(scale),
                            generator=generators,
                            output_type="np",
                        )
                    batch = np.clip(np.round(np.asarray(output.images) * 255.0), 0, 255)
                    batch = batch.astype(np.uint8)
                    if embed is None:
                        images.append(batch)
                    else:
                        vectors.append(_embed(embed, batch))
                    for seed in chunk:
                        rows.append(
                            {
                                "sample": len(rows),
                                "prompt_index": prompt_index,
                                "prompt": prompt,
                                "scale": float(scale),
                                "seed": seed,
                            }
                        )
                    progress.update(task, len(rows))
    finally:
        progress.finish(task)
    table = pd.DataFrame(rows, columns=["sample", "prompt_index", "prompt", "scale", "seed"])
    return GuidanceResult(
        table=table,
        images=np.concatenate(images) if embed is None else None,
        embeddings=np.concatenate(vectors) if embed is not None else None,
    )


def _embed(embed: Callable[[np.ndarray], np.ndarray], batch: np.ndarray) -> np.ndarray:
    out = np.asarray(embed(batch))
    if out.ndim != 2 or out.shape[0] != batch.shape[0]:
        raise NecoError(
            f"The embed function must return one vector per image: expected shape "
            f"({batch.shape[0]}, d), found {out.shape}. Return a 2-d array."
        )
    return _normalise_rows(out).astype(np.float32)


def _pixel_vectors(images: np.ndarray) -> np.ndarray:
    """Flattened pixels in [0, 1], each image centred on its own mean (cosine = correlation)."""
    flat = images.reshape(len(images), -1).astype(np.float64) / 255.0
    centred = flat - flat.mean(axis=1, keepdims=True)
    # A flat (single-colour) image has no direction; give it a tiny constant one.
    blank = ~np.any(centred != 0, axis=1)
    centred[blank, 0] = 1e-12
    return centred


def diversity_table(result: GuidanceResult) -> pd.DataFrame:
    """Diversity over seeds per prompt and scale: ``n_samples``, ``vendi``, ``mean_cosine``.

    Uses ``result.embeddings``; a sweep without them falls back to the images' pixels (each
    image flattened and centred on its mean, so the cosine is a pixel correlation): a crude
    proxy that sees colour and layout, not content. Prefer CLIP embeddings.

    >>> table = pd.DataFrame({"sample": [0, 1, 2], "prompt_index": [0, 0, 0],
    ...                       "prompt": ["a cat"] * 3, "scale": [7.5] * 3, "seed": [0, 1, 2]})
    >>> result = GuidanceResult(table=table, embeddings=np.eye(3, dtype=np.float32))
    >>> diversity_table(result)[["scale", "n_samples", "vendi", "mean_cosine"]]
       scale  n_samples  vendi  mean_cosine
    0    7.5          3    3.0          0.0
    """
    if result.embeddings is not None:
        vectors = np.asarray(result.embeddings, dtype=np.float64)
    elif result.images is not None:
        vectors = _pixel_vectors(np.asarray(result.images))
    else:
        raise NecoError(
            "Expected embeddings or images in the guidance result; found neither. "
            "Run guidance_sweep again (with or without embed)."
        )
    if len(vectors) != len(result.table):
        raise NecoError(
            f"Expected one vector per table row ({len(result.table)}); found {len(vectors)}."
        )
    rows: list[dict[str, Any]] = []
    for (prompt_index, scale), group in result.table.groupby(["prompt_index", "scale"], sort=True):
        chunk = vectors[group["sample"].to_numpy()]
        rows.append(
            {
                "prompt_index": prompt_index,
                "prompt": group["prompt"].iloc[0] if "prompt" in group else None,
                "scale": scale,
                "n_samples": len(group),
                "vendi": vendi_score(chunk),
                "mean_cosine": mean_pairwise_cosine(chunk),
            }
        )
    columns = ["prompt_index", "prompt", "scale", "n_samples", "vendi", "mean_cosine"]
    return pd.DataFrame(rows, columns=columns)
