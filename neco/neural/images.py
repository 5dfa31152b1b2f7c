"""Read untrusted images into Stable Diffusion's pixel convention, and compare images.

Reading
-------
:func:`read_images` turns image files into a float32 array of shape ``(n_ok, 3, size, size)``
with values in ``[-1, 1]``, the convention of Stable Diffusion's VAE (Rombach et al. 2022,
"High-Resolution Image Synthesis with Latent Diffusion Models", CVPR): a byte value ``v``
becomes ``v / 127.5 - 1``. Every file goes through the same steps:

1. **EXIF orientation** is applied (``PIL.ImageOps.exif_transpose``), so a photo is seen the way
   a viewer shows it; the width and height reported in :class:`ImageResult` are those *after*
   this step.
2. **Conversion to RGB.** Transparency (an alpha channel, or a palette or greyscale image with a
   transparent colour) is composited on **opaque white**, as a web page or document viewer
   shows it; fully transparent pixels become white whatever colour they store. Palette and
   greyscale images are expanded to three equal channels. CMYK uses Pillow's plain conversion
   (no ICC colour management: embedded colour profiles are ignored everywhere, values are read
   as sRGB). 16-bit greyscale (``I;16``, and ``I``, read as 16-bit) is scaled by ``1/257`` to
   8 bits; 32-bit float greyscale (``F``) is read as ``[0, 1]``. Animated and multi-page files
   contribute their first frame.
3. **Resize and centre crop.** The shorter side is resized to ``size`` and the longer side
   cropped around its centre, in one resampling step (``PIL.ImageOps.fit``: the centre square of
   the source is resampled to ``size x size``, which is the same geometry as "resize the
   shorter side, then centre-crop" without rounding the intermediate size) with a Lanczos
   filter, the filter of diffusers' own image processor. Small images are upscaled.

Images are untrusted input. Nothing is fetched from the network: a path that looks like a URL
(``scheme://...``, ``file://`` included) is reported as ``"remote image not fetched"``. Given
``roots`` (the workspace's image roots, :meth:`neco.workspace.Workspace.image_roots`), a path
that leads outside all of them -- symbolic links followed, ``..`` resolved -- is not opened
(``"outside the image root"``): a corpus from a stranger cannot make neco read ``/etc/shadow``.
Before any pixel is decoded, the size in the file's header is checked against ``max_pixels``
(default 64 megapixels) to defuse decompression bombs; Pillow's own guard
(``PIL.Image.MAX_IMAGE_PIXELS``, about 89 megapixels, which refuses images above twice that)
still applies on top, and its refusals are reported the same way. Decoding failures are reported
per image in :class:`ImageResult` and never stop the batch. The reasons are listed in
:data:`REASONS`.

Comparing
---------
:func:`psnr` is the peak signal-to-noise ratio, ``10 log10(range^2 / MSE)`` per image; it is
the same for ``[-1, 1]`` images with range 2 as for the same images in ``[0, 1]`` with range 1.
:func:`ssim` is the structural similarity index of Wang et al. 2004 ("Image Quality
Assessment: From Error Visibility to Structural Similarity", IEEE Transactions on Image
Processing 13(4)) with the paper's parameters: an 11x11 Gaussian window with standard deviation
1.5 (normalised to sum 1), ``K1 = 0.01``, ``K2 = 0.03``, ``C1 = (K1 L)^2``, ``C2 = (K2 L)^2``
with ``L`` the data range, and population (not sample) local statistics. The SSIM map is
computed only where the window fits entirely inside the image (the "valid" region, as in the
paper's reference MATLAB code, ``filter2(..., 'valid')``), giving ``(H - 10) x (W - 10)``
values per channel; the score is the mean of that map, then the mean over the channels. This
equals ``skimage.metrics.structural_similarity(..., gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=L)``, which filters the whole image and then discards
the same 5-pixel border. Unlike the MATLAB reference, images are not downsampled first.

SSIM takes intensities from 0 to ``L``: images in ``[0, 1]`` with ``L = 1`` (the default), as
the paper's 8-bit images with ``L = 255`` and scikit-image's float convention. The luminance
term ``(2 mu_x mu_y + C1) / (mu_x^2 + mu_y^2 + C1)`` is not invariant to shifting both images,
so Stable Diffusion's ``[-1, 1]`` images must be mapped first (:func:`unit_range`:
``(x + 1) / 2``). SSIM of the ``[-1, 1]`` values with range 2 is another number: on 79 COCO
photos at 512 x 512 and their TAESD reconstructions it differed by -0.08 to +0.05 (mean
-0.03), and on a dark image against a brighter copy (tests/neural/test_images.py) by 0.18.
:func:`ssim` refuses values outside ``[0, L]``.
"""

from __future__ import annotations

import os
import re
import stat
import struct
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from neco._lazy import require
from neco.errors import NecoError

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "REASONS",
    "ImageResult",
    "from_uint8",
    "psnr",
    "read_images",
    "ssim",
    "to_uint8",
    "unit_range",
]

#: Default limit on width x height, checked from the file header before decoding.
DEFAULT_MAX_PIXELS = 64_000_000

#: Why an image can fail to read. ``too large`` is followed by the size and the limit, e.g.
#: ``"too large: 9000 x 9000 = 81000000 pixels > 64000000"`` (or, when Pillow's own guard
#: refused the file before its size was known, ``"too large: 400000000 pixels > 178956970
#: (Pillow's decompression-bomb limit)"``).
REASONS: dict[str, str] = {
    "file not found": "no file at that path",
    "not a file": "the path is a directory or another non-regular file",
    "unreadable": "the file exists but cannot be opened (permissions, I/O error)",
    "not an image (cannot identify image file)": "Pillow recognises no image format in it",
    "truncated or corrupt": "the header was read but the pixel data is cut short or damaged",
    "too large": "width x height exceeds the pixel limit (a possible decompression bomb)",
    "unsupported image mode": "Pillow cannot convert the image's pixel format to RGB",
    "remote image not fetched": "the path is a URL; neco never downloads images",
    "outside the image root": "the path (links followed) leads outside the folders images may "
    "come from",
}

# A scheme of two or more letters, so that a Windows drive ("C://...") is not taken for one.
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]+://")
_PIL_BOMB = re.compile(r"\((\d+) pixels\) exceeds limit of (\d+)")

# What a damaged file can raise while Pillow decodes it. Images are untrusted input, so every
# one of these is reported for that image instead of stopping the batch.
_DECODE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    ValueError,
    EOFError,
    SyntaxError,
    struct.error,
    IndexError,
    KeyError,
    TypeError,
    ZeroDivisionError,
)


@dataclass(frozen=True)
class ImageResult:
    """What became of one input path.

    ``width`` and ``height`` are the image's size after EXIF orientation for an image that was
    read, the size in the file's header for one that failed after its header was read, and
    ``None`` otherwise. ``reason`` is ``None`` exactly when ``ok`` is true.
    """

    path: str
    ok: bool
    reason: str | None
    width: int | None
    height: int | None


def read_images(
    paths: Sequence[str],
    *,
    size: int = 512,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    roots: Sequence[str | os.PathLike[str]] | None = None,
) -> tuple[np.ndarray, list[ImageResult]]:
    """Read images as float32 ``(n_ok, 3, size, size)`` in ``[-1, 1]``, plus one result per path.

    The array holds the images that could be read, in input order; ``results[i]`` says what
    happened to ``paths[i]``. See the module docstring for the conversion steps and the
    reasons. The array takes ``n x 3 x size^2 x 4`` bytes (3 MiB per image at 512), so read a
    large corpus in chunks of paths. With ``roots``, only files under one of those folders
    (after following links) are opened.

    >>> arr, results = read_images(["https://example.org/cat.jpg"], size=8)
    >>> arr.shape, arr.dtype
    ((0, 3, 8, 8), dtype('float32'))
    >>> results[0].reason
    'remote image not fetched'
    """
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
        raise NecoError(
            f"Image size must be a positive whole number of pixels; found {size!r}. "
            "Pass size=512 for Stable Diffusion 1.x (or the model's native resolution)."
        )
    if (
        isinstance(max_pixels, bool)
        or not isinstance(max_pixels, int | np.integer)
        or (max_pixels < 1)
    ):
        raise NecoError(
            f"max_pixels must be a positive whole number; found {max_pixels!r}. "
            f"The default, {DEFAULT_MAX_PIXELS}, admits 64-megapixel images."
        )
    if isinstance(paths, str | bytes):
        raise NecoError(
            "read_images expects a list of paths; found a single string. Pass [path] instead."
        )
    allowed = None if roots is None else [os.path.realpath(r) for r in roots]
    image_mod = require("PIL.Image", "models")
    out = np.empty((len(paths), 3, size, size), dtype=np.float32)
    results: list[ImageResult] = []
    n_ok = 0
    for raw in paths:
        if not isinstance(raw, str | os.PathLike):
            raise NecoError(
                f"Image paths must be strings; found {type(raw).__name__} ({raw!r}). "
                "Drop captions without an image before reading images."
            )
        path = os.fspath(raw)
        # A path that names nothing is simply missing; one that exists must lie under a root.
        if (
            allowed is not None
            and not _URL.match(str(path))
            and os.path.lexists(path)
            and not _inside(str(path), allowed)
        ):
            results.append(ImageResult(str(path), False, "outside the image root", None, None))
            continue
        result, rgb = _read_one(image_mod, str(path), size, int(max_pixels))
        results.append(result)
        if rgb is not None:
            out[n_ok] = rgb.transpose(2, 0, 1)
            n_ok += 1
    # Values: v / 127.5 - 1, computed in float32 in place.
    images = out[:n_ok] if n_ok == len(paths) else out[:n_ok].copy()
    images /= np.float32(127.5)
    images -= np.float32(1.0)
    return images, results


def _inside(path: str, roots: Sequence[str]) -> bool:
    """Whether ``path``, links followed, lies under one of ``roots`` (already real paths)."""
    try:
        real = os.path.realpath(path)
    except (OSError, ValueError):  # a NUL in the path
        return False
    return any(os.path.commonpath([real, root]) == root for root in roots)


def _fail(
    path: str, reason: str, width: int | None = None, height: int | None = None
) -> tuple[ImageResult, None]:
    return ImageResult(path, False, reason, width, height), None


def _read_one(
    image_mod: Any, path: str, size: int, max_pixels: int
) -> tuple[ImageResult, np.ndarray | None]:
    """Read one image as uint8 ``(size, size, 3)``, or say why not."""
    if _URL.match(path):
        return _fail(path, "remote image not fetched")
    try:
        # Checked before opening: opening a FIFO or a device could block or never end.
        if not stat.S_ISREG(os.stat(path).st_mode):
            return _fail(path, "not a file")
        fh = open(path, "rb")  # noqa: SIM115 - closed in the finally below
    except (FileNotFoundError, NotADirectoryError):
        return _fail(path, "file not found")
    except ValueError:  # e.g. a NUL character in the path
        return _fail(path, "unreadable: invalid path")
    except OSError as exc:
        return _fail(path, f"unreadable: {exc.strerror or exc}")
    try:
        with warnings.catch_warnings():
            # Pillow warns (instead of refusing) between MAX_IMAGE_PIXELS and twice that; the
            # explicit max_pixels check below decides instead, so the warning is silenced here.
            warnings.simplefilter("ignore", image_mod.DecompressionBombWarning)
            return _decode(image_mod, fh, path, size, max_pixels)
    finally:
        fh.close()


def _decode(
    image_mod: Any, fh: Any, path: str, size: int, max_pixels: int
) -> tuple[ImageResult, np.ndarray | None]:
    try:
        im = image_mod.open(fh)
    except image_mod.DecompressionBombError as exc:
        return _fail(path, _pil_bomb_reason(str(exc)))
    except image_mod.UnidentifiedImageError:
        return _fail(path, "not an image (cannot identify image file)")
    except _DECODE_ERRORS:
        return _fail(path, "truncated or corrupt")
    with im:
        width, height = im.size
        pixels = width * height
        if pixels > max_pixels:
            reason = f"too large: {width} x {height} = {pixels} pixels > {max_pixels}"
            return _fail(path, reason, width, height)
        try:
            im.load()
            upright = _exif_transpose(im)
        except image_mod.DecompressionBombError as exc:
            return _fail(path, _pil_bomb_reason(str(exc)), width, height)
        except _DECODE_ERRORS:
            return _fail(path, "truncated or corrupt", width, height)
        width, height = upright.size
        try:
            rgb = _to_rgb(upright)
        except (ValueError, OSError):
            return _fail(path, f"unsupported image mode {upright.mode}", width, height)
        ops = require("PIL.ImageOps", "models")
        try:
            fitted = ops.fit(rgb, (size, size), method=image_mod.Resampling.LANCZOS)
        except _DECODE_ERRORS:  # e.g. a zero-sized image
            return _fail(path, "truncated or corrupt", width, height)
        arr = np.asarray(fitted, dtype=np.uint8)
    return ImageResult(path, True, None, width, height), arr


def _pil_bomb_reason(message: str) -> str:
    found = _PIL_BOMB.search(message)
    if found is None:
        return f"too large: {message}"
    return f"too large: {found[1]} pixels > {found[2]} (Pillow's decompression-bomb limit)"


def _exif_transpose(im: PILImage) -> PILImage:
    ops = require("PIL.ImageOps", "models")
    transposed = ops.exif_transpose(im)
    return im if transposed is None else transposed


def _to_rgb(im: PILImage) -> PILImage:
    """Convert any Pillow mode to RGB, compositing transparency on opaque white."""
    image_mod = require("PIL.Image", "models")
    mode = im.mode
    if mode.startswith("I;16") or mode == "I":
        wide = np.asarray(im, dtype=np.float64)
        grey = np.rint(np.clip(wide, 0, 65535) / 257.0).astype(np.uint8)
        return image_mod.fromarray(np.repeat(grey[:, :, None], 3, axis=2))
    if mode == "F":
        wide = np.asarray(im, dtype=np.float64)
        grey = np.rint(np.clip(np.nan_to_num(wide), 0.0, 1.0) * 255.0).astype(np.uint8)
        return image_mod.fromarray(np.repeat(grey[:, :, None], 3, axis=2))
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info
    if has_alpha:
        rgba = im.convert("RGBA")
        white = image_mod.new("RGBA", rgba.size, (255, 255, 255, 255))
        return image_mod.alpha_composite(white, rgba).convert("RGB")
    if mode == "RGB":
        return im
    return im.convert("RGB")


def to_uint8(images: np.ndarray) -> np.ndarray:
    """``(n, 3, H, W)`` in ``[-1, 1]`` to ``(n, H, W, 3)`` uint8 (rounded, clipped; NaN -> 128).

    >>> to_uint8(np.array([[[[-1.0, 0.0, 1.0]]] * 3], dtype=np.float32))[0, 0].tolist()
    [[0, 0, 0], [128, 128, 128], [255, 255, 255]]
    """
    arr = _check_images(images, "images")
    scaled = (np.nan_to_num(arr.astype(np.float32), nan=0.0) + np.float32(1.0)) * np.float32(127.5)
    out = np.rint(np.clip(scaled, 0.0, 255.0)).astype(np.uint8)
    return np.ascontiguousarray(out.transpose(0, 2, 3, 1))


def from_uint8(images: np.ndarray) -> np.ndarray:
    """``(n, H, W, 3)`` uint8 to float32 ``(n, 3, H, W)`` in ``[-1, 1]`` (inverts :func:`to_uint8`).

    >>> u = np.array([[[[0, 128, 255]]]], dtype=np.uint8)
    >>> x = from_uint8(u)
    >>> x.shape, float(x[0, 0, 0, 0]), float(x[0, 2, 0, 0])
    ((1, 3, 1, 1), -1.0, 1.0)
    >>> bool((to_uint8(x) == u).all())
    True
    """
    arr = np.asarray(images)
    if arr.ndim != 4 or arr.shape[-1] != 3 or arr.dtype != np.uint8:
        raise NecoError(
            "from_uint8 expects uint8 images shaped (n, height, width, 3); "
            f"found {arr.dtype} {arr.shape}. Convert with to_uint8 first."
        )
    out = arr.transpose(0, 3, 1, 2).astype(np.float32)
    out /= np.float32(127.5)
    out -= np.float32(1.0)
    return out


def _check_images(images: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(images)
    if arr.ndim != 4 or arr.shape[1] != 3:
        raise NecoError(
            f"{name} must be shaped (n, 3, height, width); found {arr.shape}. "
            "Use the array returned by read_images (or from_uint8)."
        )
    if not np.issubdtype(arr.dtype, np.floating):
        raise NecoError(
            f"{name} must hold floats in [-1, 1]; found dtype {arr.dtype}. "
            "Convert uint8 images with from_uint8."
        )
    return arr


def unit_range(images: np.ndarray) -> np.ndarray:
    """Stable Diffusion's ``[-1, 1]`` images mapped to ``[0, 1]``: ``(x + 1) / 2``, as floats.

    >>> unit_range(np.array([-1.0, 0.0, 1.0])).tolist()
    [0.0, 0.5, 1.0]
    """
    arr = np.asarray(images)
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    return np.asarray((arr + arr.dtype.type(1.0)) / arr.dtype.type(2.0))


def _check_pair(
    a: np.ndarray, b: np.ndarray, data_range: float, hint: str
) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(a)
    y = np.asarray(b)
    if x.ndim != 4 or x.shape != y.shape:
        raise NecoError(
            f"Images to compare must both be shaped (n, channels, height, width) and match; "
            f"found {x.shape} and {y.shape}. Compare originals with their own reconstructions."
        )
    if not data_range > 0:
        raise NecoError(f"data_range must be positive; found {data_range!r}. {hint}")
    return x.astype(np.float64, copy=False), y.astype(np.float64, copy=False)


def _check_within(x: np.ndarray, y: np.ndarray, data_range: float) -> None:
    """SSIM's constants assume intensities from 0 to data_range; refuse anything else."""
    slack = 1e-6 * data_range  # float32 rounding of (x + 1) / 2 and the like
    lo = min(float(x.min(initial=0.0)), float(y.min(initial=0.0)))
    hi = max(float(x.max(initial=0.0)), float(y.max(initial=0.0)))
    if not (lo >= -slack and hi <= data_range + slack):  # also catches NaN
        raise NecoError(
            f"SSIM expects intensities in [0, data_range] = [0, {data_range:g}]; found values "
            f"from {lo:g} to {hi:g}. Map Stable Diffusion's [-1, 1] images to [0, 1] first "
            "(unit_range(x), i.e. (x + 1) / 2) and keep data_range=1."
        )


def psnr(a: np.ndarray, b: np.ndarray, data_range: float = 2.0) -> np.ndarray:
    """Peak signal-to-noise ratio in dB per image, for ``(n, C, H, W)`` arrays.

    ``10 log10(data_range^2 / MSE)`` with the MSE over all channels and pixels, in float64;
    ``inf`` for identical images. ``data_range`` is 2.0 for images in ``[-1, 1]``.

    >>> a = np.zeros((1, 3, 4, 4), dtype=np.float32)
    >>> psnr(a, a).tolist()
    [inf]
    >>> round(float(psnr(a, a + 0.2)[0]), 6)  # 20 log10(2 / 0.2)
    20.0
    """
    x, y = _check_pair(a, b, data_range, "It is 2.0 for images in [-1, 1].")
    mse = ((x - y) ** 2).reshape(len(x), -1).mean(axis=1)
    with np.errstate(divide="ignore"):
        return np.asarray(10.0 * np.log10(float(data_range) ** 2 / mse), dtype=np.float64)


#: SSIM parameters of Wang et al. 2004.
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03
# How many input values (images x channels x pixels) ssim filters at once.
_SSIM_CHUNK_VALUES = 4_000_000


def _gaussian_window(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> np.ndarray:
    offsets = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(offsets**2) / (2.0 * sigma**2))
    return np.asarray(g / g.sum(), dtype=np.float64)


def _filter_valid(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Separable 'valid' filtering of the last two axes of ``x`` with the 1-D window ``g``."""
    k = len(g)
    rows = np.lib.stride_tricks.sliding_window_view(x, k, axis=-2) @ g
    return np.asarray(np.lib.stride_tricks.sliding_window_view(rows, k, axis=-1) @ g)


def ssim(a: np.ndarray, b: np.ndarray, data_range: float = 1.0) -> np.ndarray:
    """Mean structural similarity per image (Wang et al. 2004), for ``(n, C, H, W)`` arrays
    of intensities in ``[0, data_range]``: ``[0, 1]`` by default.

    Computed in float64 over the valid region (see the module docstring), averaged over
    channels. Images must be at least 11 x 11. Stable Diffusion's ``[-1, 1]`` images go through
    :func:`unit_range` first; values outside ``[0, data_range]`` are refused.

    >>> rng = np.random.default_rng(0)
    >>> a = rng.uniform(0, 1, (2, 3, 16, 16))
    >>> ssim(a, a).tolist()
    [1.0, 1.0]
    >>> # Two constant images m1 and m2: SSIM = (2 m1 m2 + C1) / (m1^2 + m2^2 + C1).
    >>> c1 = (0.01 * 1.0) ** 2
    >>> expected = (2 * 0.75 * 0.25 + c1) / (0.75**2 + 0.25**2 + c1)
    >>> found = ssim(np.full((1, 1, 11, 11), 0.75), np.full((1, 1, 11, 11), 0.25))[0]
    >>> bool(abs(found - expected) < 1e-12)
    True
    """
    x, y = _check_pair(a, b, data_range, "It is 1.0 for images in [0, 1] (see unit_range).")
    _check_within(x, y, data_range)
    n, c, h, w = x.shape
    if h < SSIM_WINDOW or w < SSIM_WINDOW:
        raise NecoError(
            f"SSIM needs images of at least {SSIM_WINDOW} x {SSIM_WINDOW} pixels (its Gaussian "
            f"window); found {h} x {w}. Compare larger images, or use psnr."
        )
    g = _gaussian_window()
    c1 = (SSIM_K1 * data_range) ** 2
    c2 = (SSIM_K2 * data_range) ** 2
    out = np.empty(n, dtype=np.float64)
    # A few images at a time keeps the five filtered maps small for 512 x 512 inputs.
    step = max(1, _SSIM_CHUNK_VALUES // max(1, c * h * w))
    for start in range(0, n, step):
        xs = x[start : start + step]
        ys = y[start : start + step]
        mu1 = _filter_valid(xs, g)
        mu2 = _filter_valid(ys, g)
        mu1_sq = mu1 * mu1
        mu2_sq = mu2 * mu2
        mu12 = mu1 * mu2
        s1 = _filter_valid(xs * xs, g) - mu1_sq
        s2 = _filter_valid(ys * ys, g) - mu2_sq
        s12 = _filter_valid(xs * ys, g) - mu12
        smap = ((2.0 * mu12 + c1) * (2.0 * s12 + c2)) / ((mu1_sq + mu2_sq + c1) * (s1 + s2 + c2))
        out[start : start + step] = smap.reshape(len(xs), c, -1).mean(axis=2).mean(axis=1)
    return out
