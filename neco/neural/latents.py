"""The VAE stage of Stable Diffusion: what survives encoding images to latents and back.

Stable Diffusion does not denoise pixels: it denoises the latents of a variational autoencoder
(Rombach et al. 2022, "High-Resolution Image Synthesis with Latent Diffusion Models", CVPR),
which compresses a ``3 x H x W`` image in ``[-1, 1]`` to ``4 x H/8 x W/8`` latents (a factor of
8 per side, 48 in values; the factor is ``2 ** (len(block_out_channels) - 1)`` for any
``AutoencoderKL`` or ``AutoencoderTiny``). Whatever the VAE cannot reconstruct, no prompt can
ask for.

:func:`vae_round_trip` encodes images, keeps the posterior mean (or a seeded sample), scales it
as the diffusion model sees it (``vae.config.scaling_factor``, 0.18215 for SD 1.x, after
subtracting ``vae.config.shift_factor`` where a VAE has one), decodes, and clamps the
reconstruction to ``[-1, 1]``. It also takes TAESD (diffusers' ``AutoencoderTiny``; Ollin Boer
Bohan 2023, github.com/madebyollin/taesd), a distilled, deterministic encoder and decoder of
the same SD 1.x latent space: it has no posterior (``encode(x).latents`` are the latents, already
on the diffusion model's scale: ``scaling_factor`` 1.0), and like ``AutoencoderKL`` it reads and
writes images in ``[-1, 1]`` (its ``EncoderTiny`` maps them to TAESD's ``[0, 1]`` itself, its
``DecoderTiny`` maps back). :func:`resample_baseline` is what any such autoencoder must beat:
plain 8x area down-sampling and bicubic up-sampling.

:func:`clip_image_embeddings` embeds images with CLIP (Radford et al. 2021, "Learning
Transferable Visual Models From Natural Language Supervision", ICML) so the original and its
reconstruction can be compared semantically as well as by pixel metrics
(:func:`reconstruction_metrics`: PSNR, and SSIM on ``[0, 1]`` images as Wang et al. 2004
define it). :func:`latent_round_trip_table` gathers everything in one Arrow table per caption.

>>> from neco.neural.images import read_images
>>> _, results = read_images(["https://example.org/a.png"], size=8)
>>> empty = np.zeros((0, 2), dtype=np.float32)
>>> table = latent_round_trip_table(["c1"], results, np.zeros(0), np.zeros(0), empty, empty)
>>> table.column_names[:7]
['id', 'image', 'ok', 'reason', 'psnr', 'ssim', 'clip_cosine']
>>> table.to_pylist()[0]["reason"], table.to_pylist()[0]["psnr"]
('remote image not fetched', None)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from neco._lazy import require
from neco.errors import NecoError
from neco.neural.device import torch_dtype
from neco.neural.images import ImageResult, psnr, ssim, to_uint8, unit_range
from neco.progress import Progress

__all__ = [
    "clip_image_embeddings",
    "latent_round_trip_table",
    "reconstruction_metrics",
    "resample_baseline",
    "round_trip_schema",
    "vae_round_trip",
]


def _place(model: Any, device: str, tdtype: Any) -> None:
    """Move ``model`` to ``device`` and, only if it differs, cast it to ``tdtype``; eval mode.

    The cast is skipped when it is not needed because diffusers logs a warning on every
    ``.to(dtype=...)``, and a model loaded with ``torch_dtype`` may keep some modules in
    float32 on purpose.
    """
    torch = require("torch", "models")
    model.to(device=torch.device(device))
    current = next(iter(model.parameters()), None)
    if current is not None and current.dtype != tdtype:
        model.to(dtype=tdtype)
    model.eval()


def _check_unit_images(images: np.ndarray) -> np.ndarray:
    arr = np.asarray(images)
    if arr.ndim != 4 or arr.shape[1] != 3 or not np.issubdtype(arr.dtype, np.floating):
        raise NecoError(
            "Images must be floats shaped (n, 3, height, width) in [-1, 1]; "
            f"found {arr.dtype} {arr.shape}. Use the array returned by read_images."
        )
    return arr


def _check_batch_size(batch_size: int) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise NecoError(f"batch_size must be a positive whole number; found {batch_size!r}.")


def vae_round_trip(
    vae: Any,
    images: np.ndarray,
    *,
    device: str = "cpu",
    dtype: str = "float32",
    batch_size: int = 8,
    sample: bool = False,
    seed: int = 0,
    progress: Progress | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Encode images with a diffusers ``AutoencoderKL`` or ``AutoencoderTiny`` and decode them.

    ``images`` is float ``(n, 3, H, W)`` in ``[-1, 1]`` with ``H`` and ``W`` multiples of the
    VAE's downsampling factor ``f`` (8 for Stable Diffusion). Returns ``(latents, recon)``:
    float16 latents ``(n, latent_channels, H/f, W/f)`` as the diffusion model sees them
    (``(posterior - shift_factor) * scaling_factor``, ``shift_factor`` being 0 for SD 1.x/2.x)
    and float32 reconstructions ``(n, 3, H, W)`` clamped to ``[-1, 1]``.

    With ``sample=False`` (the default) the posterior mean (its mode) is used: the VAE's best
    reconstruction, what diffusers' ``retrieve_latents(..., sample_mode="argmax")`` returns.
    With ``sample=True`` it is ``mean + std * noise`` as in diffusers' img2img pipelines (their
    default ``sample_mode="sample"``), except that image ``i``'s noise comes from
    ``numpy.random.default_rng([seed, i])``, so it depends neither on ``batch_size`` nor on the
    device. An ``AutoencoderTiny`` (TAESD) has no posterior: its encoder's output is the
    latent, ``sample=True`` is refused, and ``scaling_factor`` (1.0) and ``shift_factor`` (0)
    change nothing. Latents are not quantised to 8 bits as ``AutoencoderTiny.forward`` does:
    the diffusion pipelines do not quantise them either.

    The VAE is moved to ``device``, cast to ``dtype`` only if it is not already in it (load it
    with ``torch_dtype`` to avoid the cast) and put in eval mode, in place. Everything runs
    under ``torch.inference_mode()``. On a CPU the result is bit-for-bit repeatable; on a GPU up
    to cuDNN's choice of kernels. Half precision is for GPUs: the SDXL VAE overflows in float16
    (use float32 or bfloat16 there).
    """
    torch = require("torch", "models")
    arr = _check_unit_images(images)
    _check_batch_size(batch_size)
    tdtype = torch_dtype(dtype)
    config = vae.config
    factor = 2 ** (len(config.block_out_channels) - 1)
    n, _, height, width = arr.shape
    if height % factor or width % factor:
        raise NecoError(
            f"The VAE downsamples by {factor}, so image sides must be multiples of {factor}; "
            f"found {height} x {width}. Read images with read_images(size=...) where size is "
            f"a multiple of {factor} (512 for Stable Diffusion 1.x)."
        )
    scale = float(config.scaling_factor)
    shift = float(getattr(config, "shift_factor", None) or 0.0)
    channels = int(config.latent_channels)
    # AutoencoderKL encodes to a posterior (latent_dist); AutoencoderTiny to latents.
    tiny = _is_tiny_autoencoder(vae)
    if tiny and sample:
        raise NecoError(
            "sample=True draws from the VAE's posterior, but AutoencoderTiny (TAESD) is "
            "deterministic and has none. Pass sample=False, or use an AutoencoderKL."
        )
    latents = np.empty((n, channels, height // factor, width // factor), dtype=np.float16)
    recon = np.empty((n, 3, height, width), dtype=np.float32)
    _place(vae, device, tdtype)
    task = progress.task("VAE round trip", total=n) if progress is not None else None
    with torch.inference_mode():
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            x = torch.from_numpy(np.ascontiguousarray(arr[start:stop], dtype=np.float32))
            x = x.to(device=device, dtype=tdtype)
            encoded = vae.encode(x)
            posterior = None if tiny else encoded.latent_dist
            z = encoded.latents if posterior is None else posterior.mean
            if sample and posterior is not None:
                noise = np.stack(
                    [
                        np.random.default_rng([seed, i]).standard_normal(z.shape[1:])
                        for i in range(start, stop)
                    ]
                ).astype(np.float32)
                eps = torch.from_numpy(noise).to(device=device, dtype=z.dtype)
                z = z + posterior.std * eps
            scaled = (z - shift) * scale
            decoded = vae.decode(scaled / scale + shift).sample.clamp(-1.0, 1.0)
            latents[start:stop] = scaled.float().cpu().numpy()
            recon[start:stop] = decoded.float().cpu().numpy()
            if progress is not None:
                progress.update(task, stop)
    if progress is not None:
        progress.finish(task)
    return latents, recon


def _is_tiny_autoencoder(vae: Any) -> bool:
    return any(cls.__name__ == "AutoencoderTiny" for cls in type(vae).__mro__)


BASELINE_MODES = ("bicubic", "bilinear", "nearest")
"""Up-sampling filters :func:`resample_baseline` accepts."""


def resample_baseline(
    images: np.ndarray, factor: int = 8, *, mode: str = "bicubic", batch_size: int = 16
) -> np.ndarray:
    """Plain down- and up-sampling: the reconstruction an autoencoder has to beat.

    Each ``factor x factor`` block of pixels is replaced by its mean (area down-sampling,
    exact: no filter reaches past the block), and the ``H/factor x W/factor`` thumbnail is
    up-sampled back to ``H x W`` with ``mode`` (PyTorch's ``interpolate``, half-pixel centres,
    ``align_corners=False``; its bicubic kernel is Keys' cubic convolution with ``a = -0.75``,
    R. Keys 1981, "Cubic Convolution Interpolation for Digital Image Processing", IEEE TASSP
    29(6)), then clamped to ``[-1, 1]`` like :func:`vae_round_trip`'s reconstructions. At
    ``factor=8`` the thumbnail keeps 3 values per 8 x 8 block, SD's latents 4: a VAE that does
    not beat this baseline by a clear margin keeps little more than a thumbnail would.

    ``images`` is float ``(n, 3, H, W)`` in ``[-1, 1]`` with ``H`` and ``W`` multiples of
    ``factor``; the result is float32 of the same shape.

    >>> x = np.zeros((1, 3, 16, 16), dtype=np.float32)
    >>> x[..., :8] = 1.0  # left half white, right half black: kept exactly by 8 x 8 blocks
    >>> bool((resample_baseline(x, mode="nearest") == x).all())
    True
    """
    arr = _check_unit_images(images)
    _check_batch_size(batch_size)
    if isinstance(factor, bool) or not isinstance(factor, int) or factor < 1:
        raise NecoError(f"factor must be a positive whole number; found {factor!r}.")
    if mode not in BASELINE_MODES:
        raise NecoError(f"Unknown mode {mode!r}. Expected one of: {', '.join(BASELINE_MODES)}.")
    n, c, height, width = arr.shape
    if height % factor or width % factor:
        raise NecoError(
            f"Image sides must be multiples of the factor {factor}; found {height} x {width}. "
            f"Read images with read_images(size=...) where size is a multiple of {factor}."
        )
    torch = require("torch", "models")
    functional = require("torch.nn.functional", "models")
    out = np.empty((n, c, height, width), dtype=np.float32)
    for start in range(0, n, batch_size):
        chunk = np.asarray(arr[start : start + batch_size], dtype=np.float64)
        small = chunk.reshape(len(chunk), c, height // factor, factor, width // factor, factor)
        thumb = torch.from_numpy(small.mean(axis=(3, 5)).astype(np.float32))
        if mode == "nearest":
            up = functional.interpolate(thumb, scale_factor=factor, mode="nearest")
        else:
            up = functional.interpolate(thumb, scale_factor=factor, mode=mode, align_corners=False)
        out[start : start + len(chunk)] = up.clamp(-1.0, 1.0).numpy()
    return out


def reconstruction_metrics(
    original: np.ndarray, reconstruction: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """PSNR (dB) and SSIM per image of reconstructions of ``[-1, 1]`` images.

    PSNR uses the data range 2 of ``[-1, 1]`` (the same number as PSNR of the ``[0, 1]``
    images with range 1). SSIM is computed as Wang et al. 2004 define it, on the images
    mapped to ``[0, 1]`` (:func:`neco.neural.images.unit_range`) with data range 1, as
    ``skimage.metrics.structural_similarity(..., data_range=1)`` does. Its luminance term is
    not shift-invariant, so SSIM of the ``[-1, 1]`` values with range 2 would be another
    number (see :mod:`neco.neural.images`).
    """
    return (
        psnr(original, reconstruction, data_range=2.0),
        ssim(unit_range(original), unit_range(reconstruction), data_range=1.0),
    )


def clip_image_embeddings(
    images: np.ndarray,
    clip_model: Any,
    image_processor: Any,
    *,
    device: str = "cpu",
    dtype: str = "float32",
    batch_size: int = 32,
) -> np.ndarray:
    """L2-normalised projected CLIP image embeddings, float32 ``(n, d)``.

    ``images`` is float ``(n, 3, H, W)`` in ``[-1, 1]``. They are rounded to 8-bit RGB
    (:func:`neco.neural.images.to_uint8`) and handed to the model's own ``image_processor`` (a
    transformers ``CLIPImageProcessor``), which resizes (bicubic, shorter side), centre-crops,
    rescales and normalises with CLIP's mean and std: the embedding is the one CLIP gives for
    the image saved as a PNG, exactly as for any other image file.

    ``clip_model`` is a ``CLIPModel`` (its ``get_image_features``) or a
    ``CLIPVisionModelWithProjection`` (its ``image_embeds``); like the VAE in
    :func:`vae_round_trip` it is moved to ``device``, cast to ``dtype`` if needed and put in eval
    mode, in place. Rows have unit length, so a dot product is a cosine similarity.
    """
    torch = require("torch", "models")
    arr = _check_unit_images(images)
    _check_batch_size(batch_size)
    tdtype = torch_dtype(dtype)
    has_features = hasattr(clip_model, "get_image_features")
    if not has_features and not hasattr(getattr(clip_model, "config", None), "projection_dim"):
        raise NecoError(
            f"Expected a CLIP model with an image projection; found {type(clip_model).__name__}. "
            "Load transformers' CLIPModel or CLIPVisionModelWithProjection."
        )
    _place(clip_model, device, tdtype)
    chunks: list[np.ndarray] = []
    with torch.inference_mode():
        for start in range(0, len(arr), batch_size):
            hwc = to_uint8(arr[start : start + batch_size])
            inputs = image_processor(
                images=list(hwc), return_tensors="pt", input_data_format="channels_last"
            )
            pixels = inputs["pixel_values"].to(device=device, dtype=tdtype)
            if has_features:
                out = clip_model.get_image_features(pixel_values=pixels)
                # transformers 5 returns an output object whose pooler_output is the projected
                # vector; transformers 4 returned the tensor itself.
                emb = out if isinstance(out, torch.Tensor) else out.pooler_output
            else:
                emb = clip_model(pixel_values=pixels).image_embeds
            emb = emb.float()
            emb = emb / emb.norm(dim=-1, keepdim=True).clamp_min(1e-12)
            chunks.append(emb.cpu().numpy())
    if not chunks:
        dim = int(clip_model.config.projection_dim)
        return np.zeros((0, dim), dtype=np.float32)
    return np.concatenate(chunks).astype(np.float32, copy=False)


def round_trip_schema(dim: int) -> pa.Schema:
    """Schema of :func:`latent_round_trip_table` for ``dim``-dimensional CLIP embeddings.

    >>> round_trip_schema(4).field("clip_original").type
    FixedSizeListType(fixed_size_list<item: halffloat>[4])
    """
    vector = pa.list_(pa.float16(), dim)
    return pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            pa.field("image", pa.string(), nullable=False),
            pa.field("ok", pa.bool_(), nullable=False),
            pa.field("reason", pa.string()),
            pa.field("psnr", pa.float64()),
            pa.field("ssim", pa.float64()),
            pa.field("clip_cosine", pa.float64()),
            pa.field("clip_original", vector),
            pa.field("clip_reconstruction", vector),
        ]
    )


def latent_round_trip_table(
    ids: Sequence[str],
    results: list[ImageResult],
    psnr: np.ndarray,
    ssim: np.ndarray,
    emb_original: np.ndarray,
    emb_reconstruction: np.ndarray,
) -> pa.Table:
    """One row per caption id with an image: what survived the VAE round trip.

    ``ids[i]`` is the caption whose image is ``results[i]`` (as returned by
    :func:`neco.neural.images.read_images`). The metric arrays hold one row per image that was
    read (``ok``), in the same order, as :func:`vae_round_trip` and
    :func:`clip_image_embeddings` produce them. Rows of unread images keep their ``reason``
    and have nulls for the metrics and embeddings. ``clip_cosine`` is the cosine similarity of
    the two embeddings, computed in float64 before the embeddings are stored as float16.
    ``psnr`` is ``inf`` for a perfect reconstruction.
    """
    if len(ids) != len(results):
        raise NecoError(
            f"Expected one caption id per image result; found {len(ids)} ids and "
            f"{len(results)} results. Pass the ids in the order of the image paths."
        )
    p = np.asarray(psnr, dtype=np.float64).reshape(-1)
    s = np.asarray(ssim, dtype=np.float64).reshape(-1)
    e1 = np.asarray(emb_original, dtype=np.float64)
    e2 = np.asarray(emb_reconstruction, dtype=np.float64)
    n_ok = sum(1 for r in results if r.ok)
    if e1.ndim != 2 or e1.shape != e2.shape:
        raise NecoError(
            "Embeddings must be two arrays shaped (n_images, dim), alike; "
            f"found {e1.shape} and {e2.shape}. Use clip_image_embeddings on both image sets."
        )
    if not len(p) == len(s) == len(e1) == n_ok:
        raise NecoError(
            f"Expected one metric row per image read ({n_ok} ok results); found {len(p)} psnr, "
            f"{len(s)} ssim and {len(e1)} embedding rows. Compute them on read_images' array."
        )
    dim = e1.shape[1]
    n1 = np.linalg.norm(e1, axis=1)
    n2 = np.linalg.norm(e2, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        cosine = np.einsum("ij,ij->i", e1, e2) / (n1 * n2)
    ok = np.array([r.ok for r in results], dtype=bool)
    where = np.cumsum(ok) - 1  # row of each ok result in the metric arrays
    n = len(results)

    def spread(values: np.ndarray) -> pa.Array:
        full = np.zeros(n, dtype=np.float64)
        full[ok] = values
        return pa.array(full, mask=~ok)

    def vectors(values: np.ndarray) -> pa.Array:
        full = np.zeros((n, dim), dtype=np.float16)
        full[ok] = values[where[ok]].astype(np.float16)
        flat = pa.array(full.reshape(-1), type=pa.float16())
        return pa.FixedSizeListArray.from_arrays(flat, dim, mask=pa.array(~ok))

    schema = round_trip_schema(dim)
    columns = [
        pa.array([str(i) for i in ids], type=pa.string()),
        pa.array([r.path for r in results], type=pa.string()),
        pa.array(ok, type=pa.bool_()),
        pa.array([r.reason for r in results], type=pa.string()),
        spread(p),
        spread(s),
        spread(cosine),
        vectors(e1),
        vectors(e2),
    ]
    return pa.Table.from_arrays(columns, schema=schema)


PIXEL_DESCRIPTOR = "pixels 16x16"
"""Name of :func:`pixel_descriptors`' image descriptor in the latents table."""


def pixel_descriptors(images: np.ndarray, size: int = 16) -> np.ndarray:
    """A plain image descriptor when no CLIP image encoder is here: ``(n, 3 * size * size)``.

    Each image (``(n, C, H, W)`` in [-1, 1]) is area-averaged to ``size`` x ``size`` and
    flattened, then centred per image (so overall brightness does not dominate cosine
    neighbourhoods). It sees layout and colour, not meaning: neighbourhoods that survive in it
    say the round trip kept the picture's arrangement, not what CLIP would recognise.

    >>> x = np.zeros((2, 3, 32, 32)); x[1, :, :16] = 1.0
    >>> d = pixel_descriptors(x, size=4)
    >>> d.shape, bool(abs(d[0]).max() == 0), bool(d[1, 0] > 0 > d[1, -1])
    ((2, 48), True, True)
    """
    x = np.asarray(images, dtype=np.float32)
    if x.ndim != 4 or x.shape[2] % size or x.shape[3] % size:
        raise NecoError(
            f"Expected images shaped (n, C, H, W) with H and W divisible by {size}; "
            f"found {x.shape}."
        )
    n, c, h, w = x.shape
    pooled = x.reshape(n, c, size, h // size, size, w // size).mean(axis=(3, 5))
    flat = pooled.reshape(n, -1)
    return flat - flat.mean(axis=1, keepdims=True)
