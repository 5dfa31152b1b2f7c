"""Real, pretrained TAESD weights (shipped in neco/neural/weights/taesd) on real photos.

TAESD (Ollin Boer Bohan 2023, github.com/madebyollin/taesd, MIT) is distilled into Stable
Diffusion 1.x's latent space. These tests load the bundled weights as a user's
``--vae taesd (found in the bundled folder)`` would, and check that they reconstruct real
photos far better than the same architecture with random weights, and better than plain 8x
down- and up-sampling (the reconstruction any 8x autoencoder has to beat).

The photos are the two that scikit-learn ships (``sklearn/datasets/images``: ``china.jpg`` and
``flower.jpg``, 640 x 427, CC BY 2.0, by Flickr users danielbuechele and vultilion), read
with neco's own reader at 256 x 256 (resize and centre crop, as the latents stage reads
images). Values seen on this machine (CPU, float32):

| image | TAESD | random weights | area 8x + bicubic |
| --- | --- | --- | --- |
| china.jpg | 20.64 dB, SSIM 0.621 | 3.92 dB, 0.036 | 20.39 dB, 0.524 |
| flower.jpg | 24.26 dB, SSIM 0.775 | 8.49 dB, 0.214 | 22.83 dB, 0.698 |

china.jpg is a hard case: at its own 640 x 424 size TAESD scores 19.35 dB against the
baseline's 19.77 (SSIM 0.593 against 0.534), so the PSNR margin asserted here is the mean's.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
diffusers = pytest.importorskip("diffusers")

from neco.neural import components as comp  # noqa: E402
from neco.neural.device import DeviceChoice  # noqa: E402
from neco.neural.images import read_images  # noqa: E402
from neco.neural.latents import (  # noqa: E402
    reconstruction_metrics,
    resample_baseline,
    vae_round_trip,
)
from tests.neural import tiny  # noqa: E402

CPU = DeviceChoice("cpu", "float32")
TAESD_DIR = Path(__file__).resolve().parents[2] / "neco" / "neural" / "weights" / "taesd"
SIZE = 256
PHOTOS = ("china.jpg", "flower.jpg")


def _photo_paths() -> list[str]:
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("scikit-learn (neco's nlp extra) ships the test photos; it is not installed")
    folder = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "images"
    paths = [folder / name for name in PHOTOS]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        pytest.skip(f"scikit-learn's sample photos {missing} are not in {folder}")
    return [str(p) for p in paths]


@pytest.fixture(scope="module")
def photos() -> np.ndarray:
    images, results = read_images(_photo_paths(), size=SIZE)
    assert [r.ok for r in results] == [True, True]
    return images


@pytest.fixture(scope="module")
def taesd() -> tuple[Any, comp.ComponentInfo]:
    # Through the registry, as `--vae taesd (found in the bundled folder)` loads it.
    return comp.load_vae("taesd", CPU, local=TAESD_DIR)


@pytest.fixture(scope="module")
def measured(photos: np.ndarray, taesd: tuple[Any, comp.ComponentInfo]) -> dict[str, Any]:
    vae, _ = taesd
    latents, recon = vae_round_trip(vae, photos, batch_size=2)
    _, random_recon = vae_round_trip(tiny.random_taesd(seed=0), photos, batch_size=2)
    rows = {
        "taesd": reconstruction_metrics(photos, recon),
        "random": reconstruction_metrics(photos, random_recon),
        "baseline": reconstruction_metrics(photos, resample_baseline(photos, 8)),
    }
    for name, (p, s) in rows.items():
        print(  # shown with pytest -s: the numbers the module docstring quotes
            f"{name:>8}: PSNR {', '.join(f'{v:.2f}' for v in p)} dB, "
            f"SSIM {', '.join(f'{v:.3f}' for v in s)}"
        )
    return {"latents": latents, **rows}


def test_taesd_bundled_weights_are_the_release(taesd: tuple[Any, comp.ComponentInfo]) -> None:
    vae, info = taesd
    assert isinstance(vae, diffusers.AutoencoderTiny)
    assert (info.name, info.source, info.cls) == (
        "taesd/vae",
        "madebyollin/taesd",
        "AutoencoderTiny",
    )
    assert info.layout == "taesd-original" and info.path == str(TAESD_DIR)
    assert info.weights == "pretrained"
    assert {name for name, _ in info.sha256} == set(comp.TAESD_FILES)
    assert all(digest in comp.KNOWN_WEIGHTS for _, digest in info.sha256)


def test_taesd_far_better_than_random_weights(measured: dict[str, Any]) -> None:
    real_psnr, real_ssim = measured["taesd"]
    random_psnr, random_ssim = measured["random"]
    assert (real_psnr > random_psnr + 10.0).all()
    assert (real_ssim > random_ssim + 0.4).all()


def test_taesd_better_than_plain_down_and_up_sampling(measured: dict[str, Any]) -> None:
    real_psnr, real_ssim = measured["taesd"]
    base_psnr, base_ssim = measured["baseline"]
    assert (real_psnr > base_psnr).all()
    assert real_psnr.mean() > base_psnr.mean() + 0.5
    assert (real_ssim > base_ssim + 0.05).all()


def test_taesd_latents_are_on_the_diffusion_models_scale(measured: dict[str, Any]) -> None:
    # SD 1.x's latents, scaled by 0.18215, have a standard deviation near 1; TAESD's come
    # already scaled. A missing or doubled scale factor would give about 0.2 or 5 here.
    latents = measured["latents"].astype(np.float32)
    assert latents.shape == (2, 4, SIZE // 8, SIZE // 8)
    assert 0.5 < float(latents.std()) < 1.5
