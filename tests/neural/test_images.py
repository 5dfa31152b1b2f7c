"""Reading untrusted images into SD's [-1, 1] convention, and the PSNR/SSIM known answers
(SSIM on [0, 1] images with data range 1, as Wang et al. 2004 and scikit-image define it)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest

from neco.errors import NecoError
from neco.neural.images import (
    DEFAULT_MAX_PIXELS,
    ImageResult,
    from_uint8,
    psnr,
    read_images,
    ssim,
    to_uint8,
    unit_range,
)

IMAGES = Path(__file__).resolve().parents[1] / "data" / "images"


def _read_one(name: str, size: int = 16, **kwargs: int) -> tuple[np.ndarray, ImageResult]:
    arr, results = read_images([str(IMAGES / name)], size=size, **kwargs)
    assert len(results) == 1
    return arr, results[0]


def _solid(arr: np.ndarray, rgb: tuple[int, int, int]) -> None:
    """Every pixel of the single image in ``arr`` is ``rgb`` (bytes) in [-1, 1]."""
    assert arr.shape[0] == 1
    expected = np.array(rgb, dtype=np.float32) / np.float32(127.5) - np.float32(1.0)
    np.testing.assert_array_equal(arr[0], np.broadcast_to(expected[:, None, None], arr[0].shape))


def test_images_solid_colour_shape_dtype_and_values() -> None:
    arr, result = _read_one("solid_rgb.png", size=8)
    assert arr.shape == (1, 3, 8, 8)
    assert arr.dtype == np.float32
    assert result == ImageResult(str(IMAGES / "solid_rgb.png"), True, None, 24, 16)
    _solid(arr, (200, 100, 50))
    # By hand: 200 / 127.5 - 1 = 0.568627..., 100 -> -0.215686..., 50 -> -0.607843...
    assert arr[0, :, 3, 3].tolist() == pytest.approx([0.5686275, -0.2156863, -0.6078431], abs=1e-6)


def test_images_upscale_keeps_solid_colour() -> None:
    arr, _ = _read_one("solid_rgb.png", size=40)
    assert arr.shape == (1, 3, 40, 40)
    _solid(arr, (200, 100, 50))


def test_images_value_range_of_extremes() -> None:
    arr, results = read_images(
        [str(IMAGES / "rgba_transparent.png"), str(IMAGES / "exif_rotated.jpg")], size=16
    )
    assert all(r.ok for r in results)
    assert arr.min() >= -1.0 and arr.max() <= 1.0
    assert arr.max() == 1.0  # white is exactly 255 / 127.5 - 1


def test_images_transparent_pixels_become_white() -> None:
    arr, result = _read_one("rgba_transparent.png")
    assert result.ok
    _solid(arr, (255, 255, 255))


def test_images_half_alpha_composited_on_white() -> None:
    arr, _ = _read_one("rgba_half.png")
    # Black at alpha 128 over white: 255 * (255 - 128) / 255 = 127.
    _solid(arr, (127, 127, 127))


def test_images_palette_and_palette_transparency() -> None:
    arr, _ = _read_one("palette.png")
    _solid(arr, (10, 20, 30))
    arr, _ = _read_one("palette_transparent.png")
    _solid(arr, (255, 255, 255))


def test_images_greyscale_8_and_16_bit() -> None:
    arr, _ = _read_one("grey.png")
    _solid(arr, (64, 64, 64))
    arr, _ = _read_one("grey16.png")  # 25700 = 100 * 257
    _solid(arr, (100, 100, 100))


def test_images_cmyk_converted() -> None:
    arr, result = _read_one("cmyk.tif")
    assert result.ok
    _solid(arr, (255, 127, 0))


def test_images_exif_orientation_applied() -> None:
    # Stored 32 x 16 (black left, white right) with orientation 6: upright 16 x 32, black on top.
    arr, result = _read_one("exif_rotated.jpg", size=16)
    assert (result.width, result.height) == (16, 32)
    assert arr.shape == (1, 3, 16, 16)
    # The centre crop covers rows 8..23 of the upright image: 8 black rows, then 8 white.
    top = arr[0, :, :4, :].mean()
    bottom = arr[0, :, -4:, :].mean()
    assert top < -0.9
    assert bottom > 0.9
    # Without the rotation each row would be half black, half white.
    assert abs(arr[0, :, 0, :].mean() - top) < 0.05


def test_images_failure_reasons_exact(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.png")
    paths = [
        str(IMAGES / "solid_rgb.png"),
        missing,
        str(IMAGES / "not_an_image.jpg"),
        str(IMAGES / "truncated.jpg"),
        str(IMAGES / "corrupt.png"),
        "https://example.org/cat.jpg",
        "file:///etc/hostname",
        "a\x00b.png",
        str(tmp_path),
        str(IMAGES / "huge_header.png"),
        str(IMAGES / "grey.png"),
    ]
    arr, results = read_images(paths, size=8)
    assert [r.path for r in results] == paths
    assert [r.reason for r in results] == [
        None,
        "file not found",
        "not an image (cannot identify image file)",
        "truncated or corrupt",
        "truncated or corrupt",
        "remote image not fetched",
        "remote image not fetched",
        "unreadable: invalid path",
        "not a file",
        f"too large: 9000 x 9000 = 81000000 pixels > {DEFAULT_MAX_PIXELS}",
        None,
    ]
    assert [r.ok for r in results] == [r.reason is None for r in results]
    # Only the two readable images are in the array, in input order.
    assert arr.shape == (2, 3, 8, 8)
    _solid(arr[:1], (200, 100, 50))
    _solid(arr[1:], (64, 64, 64))
    # The header was read for the damaged files, so their size is known.
    assert (results[3].width, results[3].height) == (32, 32)
    assert (results[9].width, results[9].height) == (9000, 9000)
    assert (results[1].width, results[1].height) == (None, None)


def test_images_pillow_bomb_guard_reported() -> None:
    # 20000 x 20000 is over Pillow's own hard limit (2 x MAX_IMAGE_PIXELS), whatever ours is.
    _, result = _read_one("bomb_header.png", max_pixels=10**12)
    assert not result.ok
    assert result.reason is not None
    assert result.reason.startswith("too large: 400000000 pixels > ")
    assert result.reason.endswith("(Pillow's decompression-bomb limit)")


def test_images_max_pixels_small_limit() -> None:
    arr, results = read_images(
        [str(IMAGES / "solid_rgb.png"), str(IMAGES / "grey.png")], size=8, max_pixels=300
    )
    assert results[0].reason == "too large: 24 x 16 = 384 pixels > 300"
    assert (results[0].width, results[0].height) == (24, 16)
    assert results[1].ok  # 16 x 16 = 256 <= 300
    assert arr.shape == (1, 3, 8, 8)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_images_fifo_not_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)  # opening it for reading would block forever
    _, result = _read_one(str(fifo))
    assert result.reason == "not a file"


def test_images_bad_arguments() -> None:
    with pytest.raises(NecoError, match="positive"):
        read_images([], size=0)
    with pytest.raises(NecoError, match="max_pixels"):
        read_images([], max_pixels=0)
    with pytest.raises(NecoError, match="single string"):
        read_images(str(IMAGES / "grey.png"))
    with pytest.raises(NecoError, match="must be strings"):
        read_images([None])  # type: ignore[list-item]
    arr, results = read_images([], size=4)
    assert arr.shape == (0, 3, 4, 4) and results == []


def test_images_uint8_round_trip() -> None:
    u = np.random.default_rng(0).integers(0, 256, (2, 5, 7, 3), dtype=np.uint8)
    x = from_uint8(u)
    assert x.shape == (2, 3, 5, 7) and x.dtype == np.float32
    assert x.min() >= -1.0 and x.max() <= 1.0
    np.testing.assert_array_equal(to_uint8(x), u)
    # Out-of-range values clip; NaN becomes mid grey.
    odd = np.array([[[[-3.0, 3.0, np.nan]]] * 3], dtype=np.float32)
    assert to_uint8(odd)[0, 0].tolist() == [[0, 0, 0], [255, 255, 255], [128, 128, 128]]
    with pytest.raises(NecoError):
        from_uint8(x)
    with pytest.raises(NecoError):
        to_uint8(u)


def test_images_psnr_known_answers() -> None:
    rng = np.random.default_rng(1)
    a = rng.uniform(-0.5, 0.5, (3, 3, 8, 8)).astype(np.float32)
    assert psnr(a, a).tolist() == [math.inf] * 3
    # A constant offset d is exact in binary for these values: MSE = d^2.
    base = np.full((2, 3, 8, 8), 0.25, dtype=np.float32)
    for d in (0.5, -0.125):
        expected = 20 * math.log10(2.0) - 20 * math.log10(abs(d))
        assert psnr(base, base + np.float32(d)) == pytest.approx([expected] * 2, rel=1e-12)
    # data_range enters as 20 log10(range): 0..255 images offset by 5.
    b = np.zeros((1, 3, 4, 4))
    assert psnr(b, b + 5, data_range=255.0)[0] == pytest.approx(20 * math.log10(255 / 5))
    # Per image: only the second image differs.
    c = a.copy()
    c[1] += np.float32(0.5)
    assert psnr(a, c)[0] == math.inf and math.isfinite(psnr(a, c)[1])


def test_images_ssim_identical_is_one() -> None:
    a = np.random.default_rng(2).uniform(0, 1, (2, 3, 16, 20))
    assert ssim(a, a).tolist() == [1.0, 1.0]


def test_images_ssim_constant_images_known_answer() -> None:
    # Variances and covariance are 0, so SSIM = (2 m1 m2 + C1) / (m1^2 + m2^2 + C1) exactly,
    # with C1 = (0.01 * 1)^2 for [0, 1] images.
    c1 = 0.01**2
    for m1, m2 in [(0.75, 0.25), (0.9, 0.1), (0.0, 1.0), (0.3, 0.3), (0.2, 0.3)]:
        a = np.full((1, 3, 12, 12), m1)
        b = np.full((1, 3, 12, 12), m2)
        expected = (2 * m1 * m2 + c1) / (m1**2 + m2**2 + c1)
        assert ssim(a, b)[0] == pytest.approx(expected, abs=1e-12)
    # (0.2, 0.3) by hand: (0.12 + 0.0001) / (0.13 + 0.0001) = 0.1201 / 0.1301.
    pair = ssim(np.full((1, 1, 11, 11), 0.2), np.full((1, 1, 11, 11), 0.3))[0]
    assert pair == pytest.approx(0.1201 / 0.1301, abs=1e-12)
    # With data_range 255: C1 = (0.01 * 255)^2.
    c1 = (0.01 * 255) ** 2
    a = np.full((1, 1, 11, 11), 100.0)
    b = np.full((1, 1, 11, 11), 50.0)
    expected = (2 * 100 * 50 + c1) / (100**2 + 50**2 + c1)
    assert ssim(a, b, data_range=255.0)[0] == pytest.approx(expected, abs=1e-12)


def test_images_ssim_of_a_brightness_shift() -> None:
    # x and x + d have equal variances and covariance = variance, so the contrast-structure
    # term is exactly 1 and SSIM is the mean over windows of the luminance term alone:
    # (2 mu (mu + d) + C1) / (mu^2 + (mu + d)^2 + C1), mu the window's Gaussian mean of x.
    rng = np.random.default_rng(7)
    x = rng.uniform(0.0, 0.2, (1, 1, 13, 12))  # a dark image
    d = 0.1
    t = np.arange(11) - 5.0
    g = np.exp(-(t**2) / (2 * 1.5**2))
    w = np.outer(g, g) / np.outer(g, g).sum()
    mus = np.array(
        [[(w * x[0, 0, i : i + 11, j : j + 11]).sum() for j in range(2)] for i in range(3)]
    )
    c1 = 0.01**2
    expected = np.mean((2 * mus * (mus + d) + c1) / (mus**2 + (mus + d) ** 2 + c1))
    assert ssim(x, x + d)[0] == pytest.approx(expected, abs=1e-12)
    # Scaling both images and the range alike changes nothing ...
    assert ssim(255 * x, 255 * (x + d), data_range=255.0)[0] == pytest.approx(expected, abs=1e-9)
    # ... but the same pair as SD's [-1, 1] values with range 2 would score far higher: the
    # luminance term is not shift-invariant, which is why SSIM is taken on [0, 1].
    c1_sd = (0.01 * 2) ** 2
    m1, m2 = mus * 2 - 1, (mus + d) * 2 - 1
    sd_value = np.mean((2 * m1 * m2 + c1_sd) / (m1**2 + m2**2 + c1_sd))
    assert expected < 0.8 and sd_value > 0.95  # 0.785 and 0.961


def test_images_unit_range_maps_sd_images() -> None:
    x = np.array([[[[-1.0, 0.0, 1.0]]] * 3], dtype=np.float32)
    u = unit_range(x)
    assert u.dtype == np.float32 and u[0, 0, 0].tolist() == [0.0, 0.5, 1.0]
    assert unit_range(np.array([-1, 1])).tolist() == [0.0, 1.0]


def test_images_ssim_refuses_values_outside_the_range() -> None:
    rng = np.random.default_rng(8)
    sd = rng.uniform(-1, 1, (1, 3, 16, 16))
    with pytest.raises(NecoError, match=r"\[0, 1\]; found values from -.*unit_range"):
        ssim(sd, sd)
    with pytest.raises(NecoError, match=r"intensities in \[0, data_range\]"):
        ssim(sd * 200 + 200, sd * 200 + 200, data_range=255.0)
    nan = np.full((1, 1, 11, 11), np.nan)
    with pytest.raises(NecoError, match="intensities"):
        ssim(nan, nan)
    # float32 rounding at the ends is tolerated.
    edge = unit_range(np.ones((1, 3, 11, 11), dtype=np.float32))
    assert ssim(edge, edge).tolist() == [1.0]


def _ssim_reference(x: np.ndarray, y: np.ndarray, data_range: float) -> float:
    """SSIM of one channel by explicit 11 x 11 windows (a slow, independent formulation)."""
    t = np.arange(11) - 5.0
    g = np.exp(-(t**2) / (2 * 1.5**2))
    w = np.outer(g, g) / np.outer(g, g).sum()
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    values = []
    for i in range(x.shape[0] - 10):
        for j in range(x.shape[1] - 10):
            px, py = x[i : i + 11, j : j + 11], y[i : i + 11, j : j + 11]
            mx, my = (w * px).sum(), (w * py).sum()
            vx = (w * (px - mx) ** 2).sum()
            vy = (w * (py - my) ** 2).sum()
            cxy = (w * (px - mx) * (py - my)).sum()
            values.append(
                ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
            )
    return float(np.mean(values))


def test_images_ssim_matches_windowed_reference() -> None:
    rng = np.random.default_rng(3)
    a = rng.uniform(0, 1, (2, 3, 14, 15))
    b = np.clip(a + rng.normal(0, 0.15, a.shape), 0, 1)
    found = ssim(a, b)
    for k in range(2):
        expected = np.mean([_ssim_reference(a[k, ch], b[k, ch], 1.0) for ch in range(3)])
        assert found[k] == pytest.approx(expected, abs=1e-10)
    # Symmetric, at most 1, lower for more noise.
    np.testing.assert_allclose(ssim(b, a), found, atol=1e-12)
    assert (found < 1).all()
    worse = np.clip(a + rng.normal(0, 0.4, a.shape), 0, 1)
    assert (ssim(a, worse) < found).all()


def test_images_ssim_matches_scikit_image() -> None:
    metrics = pytest.importorskip("skimage.metrics")
    rng = np.random.default_rng(4)
    a = rng.uniform(0, 1, (2, 3, 24, 24))
    b = np.clip(a + rng.normal(0, 0.1, a.shape), 0, 1)
    # A brightness-shifted, dimmer copy too: where the [0, 1] convention matters.
    c = np.clip(a * 0.5 + 0.05, 0, 1)
    for other in (b, c):
        found = ssim(a, other)
        for k in range(2):
            expected = metrics.structural_similarity(
                a[k],
                other[k],
                channel_axis=0,
                data_range=1,
                gaussian_weights=True,
                sigma=1.5,
                use_sample_covariance=False,
            )
            assert found[k] == pytest.approx(expected, abs=1e-9)


def test_images_ssim_matches_scipy_filter_then_crop() -> None:
    # scikit-image's recipe: filter the whole image (scipy, reflect, truncate=3.5 -> 11 taps),
    # then drop a 5-pixel border. It must equal the valid-region computation.
    ndimage = pytest.importorskip("scipy.ndimage")
    rng = np.random.default_rng(5)
    a = rng.uniform(0, 1, (2, 3, 20, 17))
    b = np.clip(a + rng.normal(0, 0.12, a.shape), 0, 1)
    c1, c2 = 0.01**2, 0.03**2
    for k in range(2):
        per_channel = []
        for ch in range(3):
            x, y = a[k, ch], b[k, ch]

            def f(img: np.ndarray) -> np.ndarray:
                return ndimage.gaussian_filter(img, sigma=1.5, truncate=3.5, mode="reflect")

            ux, uy = f(x), f(y)
            vx, vy, vxy = f(x * x) - ux * ux, f(y * y) - uy * uy, f(x * y) - ux * uy
            s_map = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
            per_channel.append(s_map[5:-5, 5:-5].mean())
        assert ssim(a, b)[k] == pytest.approx(np.mean(per_channel), abs=1e-10)


def test_images_ssim_chunks_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    import neco.neural.images as images_module

    rng = np.random.default_rng(6)
    a = rng.uniform(0, 1, (5, 3, 12, 12))
    b = np.clip(a + rng.normal(0, 0.15, a.shape), 0, 1)
    whole = ssim(a, b)
    monkeypatch.setattr(images_module, "_SSIM_CHUNK_VALUES", 2 * 3 * 12 * 12)  # 2 at a time
    np.testing.assert_array_equal(ssim(a, b), whole)


def test_images_metric_arguments_checked() -> None:
    a = np.zeros((1, 3, 16, 16))
    with pytest.raises(NecoError, match="match"):
        psnr(a, np.zeros((1, 3, 16, 15)))
    with pytest.raises(NecoError, match="at least 11"):
        ssim(np.zeros((1, 3, 10, 16)), np.zeros((1, 3, 10, 16)))
    with pytest.raises(NecoError, match="data_range"):
        ssim(a, a, data_range=0)


def test_images_paths_outside_the_roots_are_not_opened(tmp_path: Path) -> None:
    # A corpus names /etc files, "../" escapes and a link out of the image folder; none may be
    # opened, while the image inside the root is read as before.
    root = tmp_path / "images"
    root.mkdir()
    inside = root / "solid.png"
    inside.write_bytes((IMAGES / "solid_rgb.png").read_bytes())
    secret = tmp_path / "secret.png"
    secret.write_bytes((IMAGES / "solid_rgb.png").read_bytes())
    (root / "link.png").symlink_to(secret)
    paths = [
        str(inside),
        "/etc/passwd",
        str(root / ".." / "secret.png"),
        str(root / "link.png"),
        "https://example.org/a.png",
    ]
    arr, results = read_images(paths, size=8, roots=[root])
    assert arr.shape == (1, 3, 8, 8)
    assert [r.reason for r in results] == [
        None,
        "outside the image root",
        "outside the image root",
        "outside the image root",
        "remote image not fetched",
    ]
    _, unrestricted = read_images(paths[2:4], size=8)  # no roots: the caller decides
    assert [r.ok for r in unrestricted] == [True, True]
