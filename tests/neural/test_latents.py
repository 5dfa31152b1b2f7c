"""The VAE round trip (AutoencoderKL and AutoencoderTiny), the down/up-sampling baseline, the
metrics, CLIP image embeddings and the round-trip table, with tiny random models.

The models are built here from configs (seeded), saved with safetensors and loaded back, as
diffusers' and transformers' own tests do; nothing is downloaded.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from neco.errors import NecoError
from neco.neural.images import ImageResult, psnr, read_images, ssim, unit_range
from neco.neural.latents import (
    clip_image_embeddings,
    latent_round_trip_table,
    reconstruction_metrics,
    resample_baseline,
    round_trip_schema,
    vae_round_trip,
)
from neco.progress import Progress

torch = pytest.importorskip("torch")
diffusers = pytest.importorskip("diffusers")
transformers = pytest.importorskip("transformers")

IMAGES = Path(__file__).resolve().parents[1] / "data" / "images"
SIZE = 32
PROJECTION_DIM = 16


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    # The models are tiny: threads buy nothing, and on a busy 2-core machine OpenMP's waiting
    # threads made these tests 50 times slower. Restored after the module.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def vae_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    vae = diffusers.AutoencoderKL(
        in_channels=3,
        out_channels=3,
        block_out_channels=(32, 64),
        latent_channels=4,
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
        layers_per_block=1,
        norm_num_groups=32,
        sample_size=SIZE,
    )
    path = tmp_path_factory.mktemp("vae")
    vae.save_pretrained(path, safe_serialization=True)
    return path


@pytest.fixture
def vae(vae_dir: Path) -> Any:
    return diffusers.AutoencoderKL.from_pretrained(vae_dir, use_safetensors=True)


@pytest.fixture(scope="module")
def tiny_taesd_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.neural import tiny

    path = tmp_path_factory.mktemp("tiny-taesd")
    tiny.tiny_autoencoder_tiny(seed=0).save_pretrained(path, safe_serialization=True)
    return path


@pytest.fixture
def tiny_taesd(tiny_taesd_dir: Path) -> Any:
    return diffusers.AutoencoderTiny.from_pretrained(tiny_taesd_dir, use_safetensors=True)


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    config = transformers.CLIPConfig(
        text_config={
            "vocab_size": 99,
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "max_position_embeddings": 77,
            "pad_token_id": 1,
            "bos_token_id": 0,
            "eos_token_id": 2,
        },
        vision_config={
            "image_size": SIZE,
            "patch_size": 8,
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
        },
        projection_dim=PROJECTION_DIM,
    )
    path = tmp_path_factory.mktemp("clip")
    transformers.CLIPModel(config).save_pretrained(path, safe_serialization=True)
    return path


@pytest.fixture
def clip(clip_dir: Path) -> Any:
    return transformers.CLIPModel.from_pretrained(clip_dir, use_safetensors=True)


@pytest.fixture
def processor() -> Any:
    return transformers.CLIPImageProcessor(
        size={"shortest_edge": SIZE}, crop_size={"height": SIZE, "width": SIZE}
    )


def _images(n: int, size: int = SIZE, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (n, 3, size, size)).astype(np.float32)


def _factor(vae: Any) -> int:
    return int(2 ** (len(vae.config.block_out_channels) - 1))


def test_latents_vae_shapes_dtypes_and_range(vae: Any) -> None:
    x = _images(3)
    latents, recon = vae_round_trip(vae, x, batch_size=2)
    f = _factor(vae)
    assert f == 2
    assert latents.shape == (3, 4, SIZE // f, SIZE // f)
    assert latents.dtype == np.float16
    assert recon.shape == x.shape
    assert recon.dtype == np.float32
    assert recon.min() >= -1.0 and recon.max() <= 1.0


def test_latents_vae_deterministic(vae: Any) -> None:
    x = _images(3, seed=1)
    a = vae_round_trip(vae, x, batch_size=2)
    b = vae_round_trip(vae, x, batch_size=2)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    # Batching changes nothing but rounding.
    c = vae_round_trip(vae, x, batch_size=3)
    np.testing.assert_allclose(c[1], a[1], atol=1e-5)


def test_latents_vae_scaling_factor_applied(vae: Any) -> None:
    x = _images(2, seed=2)
    latents, recon = vae_round_trip(vae, x)
    scale = vae.config.scaling_factor
    assert scale == pytest.approx(0.18215)
    with torch.inference_mode():
        mean = vae.encode(torch.from_numpy(x)).latent_dist.mean
        expected_latents = (mean * scale).half().numpy()
        expected_recon = vae.decode(mean).sample.clamp(-1, 1).numpy()
    np.testing.assert_allclose(latents.astype(np.float32), expected_latents, rtol=1e-3, atol=1e-3)
    # And not the unscaled mean.
    assert not np.allclose(latents.astype(np.float32), mean.numpy(), atol=1e-2)
    np.testing.assert_allclose(recon, expected_recon, atol=1e-5)


def test_latents_vae_seeded_sample(vae: Any) -> None:
    x = _images(3, seed=3)
    mean_latents, _ = vae_round_trip(vae, x)
    s0, r0 = vae_round_trip(vae, x, sample=True, seed=0, batch_size=2)
    s0_again, r0_again = vae_round_trip(vae, x, sample=True, seed=0, batch_size=2)
    s1, _ = vae_round_trip(vae, x, sample=True, seed=1, batch_size=2)
    np.testing.assert_array_equal(s0, s0_again)
    np.testing.assert_array_equal(r0, r0_again)
    assert not np.array_equal(s0, s1)
    assert not np.array_equal(s0, mean_latents)
    # Each image's noise depends on (seed, index), not on the batching.
    s0_one_batch, _ = vae_round_trip(vae, x, sample=True, seed=0, batch_size=3)
    np.testing.assert_allclose(
        s0_one_batch.astype(np.float32), s0.astype(np.float32), atol=2e-3, rtol=1e-3
    )


def test_latents_vae_casts_to_requested_dtype(vae: Any) -> None:
    x = _images(1, seed=9)
    reference, _ = vae_round_trip(vae, x)
    latents, recon = vae_round_trip(vae, x, dtype="bfloat16")
    assert next(vae.parameters()).dtype == torch.bfloat16  # cast in place
    assert latents.dtype == np.float16 and recon.dtype == np.float32
    assert recon.min() >= -1.0 and recon.max() <= 1.0
    np.testing.assert_allclose(latents.astype(np.float32), reference, atol=0.05)


def test_latents_vae_progress_and_empty(vae: Any) -> None:
    class Recorder(Progress):
        def __init__(self) -> None:
            self.events: list[tuple[str, float | None]] = []

        def task(self, description: str, total: float | None = None) -> Any:
            self.events.append(("task", total))
            return "t"

        def update(self, handle: Any, completed: float, note: str = "") -> None:
            self.events.append(("update", completed))

        def finish(self, handle: Any) -> None:
            self.events.append(("finish", None))

    rec = Recorder()
    vae_round_trip(vae, _images(3), batch_size=2, progress=rec)
    assert rec.events == [("task", 3), ("update", 2), ("update", 3), ("finish", None)]
    latents, recon = vae_round_trip(vae, np.zeros((0, 3, 8, 8), dtype=np.float32))
    assert latents.shape == (0, 4, 4, 4) and recon.shape == (0, 3, 8, 8)


def test_latents_vae_bad_arguments(vae: Any) -> None:
    with pytest.raises(NecoError, match="multiples of 2"):
        vae_round_trip(vae, _images(1, size=SIZE + 1))
    with pytest.raises(NecoError, match="dtype"):
        vae_round_trip(vae, _images(1), dtype="float64")
    with pytest.raises(NecoError, match="batch_size"):
        vae_round_trip(vae, _images(1), batch_size=0)
    with pytest.raises(NecoError, match=r"\(n, 3, height, width\)"):
        vae_round_trip(vae, np.zeros((1, 32, 32, 3), dtype=np.float32))


def test_latents_clip_unit_norm_and_deterministic(clip: Any, processor: Any) -> None:
    x = _images(5, seed=4)
    emb = clip_image_embeddings(x, clip, processor, batch_size=2)
    assert emb.shape == (5, PROJECTION_DIM)
    assert emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-6)
    again = clip_image_embeddings(x, clip, processor, batch_size=2)
    np.testing.assert_array_equal(emb, again)


def test_latents_clip_identical_images_cosine_one(clip: Any, processor: Any) -> None:
    x = _images(1, seed=5)
    pair = np.concatenate([x, x, _images(1, seed=6)])
    emb = clip_image_embeddings(pair, clip, processor)
    assert float(emb[0] @ emb[1]) == pytest.approx(1.0, abs=1e-6)
    assert float(emb[0] @ emb[2]) < 0.9999


def test_latents_clip_uses_projected_features(clip: Any, processor: Any) -> None:
    # A 32 x 32 image needs no resize or crop, so the processor only rescales and normalises:
    # the embedding must be visual_projection(pooled vision output), normalised.
    x = _images(2, seed=7)
    emb = clip_image_embeddings(x, clip, processor)
    u8 = np.rint((x + 1) * 127.5).astype(np.float32) / 255.0
    mean = np.array(processor.image_mean, dtype=np.float32)[:, None, None]
    std = np.array(processor.image_std, dtype=np.float32)[:, None, None]
    pixels = torch.from_numpy((u8 - mean) / std)
    with torch.inference_mode():
        pooled = clip.vision_model(pixel_values=pixels).pooler_output
        manual = clip.visual_projection(pooled)
    manual = manual / manual.norm(dim=-1, keepdim=True)
    np.testing.assert_allclose(emb, manual.numpy(), atol=1e-5)


def test_latents_clip_vision_model_with_projection(clip: Any, processor: Any) -> None:
    # The same vision tower and projection as the CLIPModel, in the vision-only class.
    torch.manual_seed(1)
    config = clip.config.vision_config.to_dict() | {"projection_dim": PROJECTION_DIM}
    vision = transformers.CLIPVisionModelWithProjection(transformers.CLIPVisionConfig(**config))
    weights = {
        k: v
        for k, v in clip.state_dict().items()
        if k.startswith(("vision_model.", "visual_projection."))
    }
    vision.load_state_dict(weights, strict=True)
    x = _images(2, size=40, seed=8)  # resized and cropped by the processor
    np.testing.assert_allclose(
        clip_image_embeddings(x, vision, processor),
        clip_image_embeddings(x, clip, processor),
        atol=1e-5,
    )
    with pytest.raises(NecoError, match="CLIP model with an image projection"):
        clip_image_embeddings(x, object(), processor)


def test_latents_table_rows_nulls_and_cosine() -> None:
    results = [
        ImageResult("a.png", True, None, 8, 8),
        ImageResult("b.png", False, "file not found", None, None),
        ImageResult("c.png", True, None, 8, 8),
    ]
    e1 = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=np.float32)
    e2 = np.array([[0.6, 0.8, 0.0], [0.0, 1.0, 0.0]], dtype=np.float32)
    table = latent_round_trip_table(
        ["c1", "c2", "c3"], results, np.array([30.0, np.inf]), np.array([0.9, 1.0]), e1, e2
    )
    assert table.schema == round_trip_schema(3)
    assert table.schema.field("clip_original").type == pa.list_(pa.float16(), 3)
    rows = table.to_pylist()
    assert [r["id"] for r in rows] == ["c1", "c2", "c3"]
    assert [r["image"] for r in rows] == ["a.png", "b.png", "c.png"]
    assert [r["ok"] for r in rows] == [True, False, True]
    assert [r["reason"] for r in rows] == [None, "file not found", None]
    assert [r["psnr"] for r in rows] == [30.0, None, np.inf]
    assert [r["ssim"] for r in rows] == [0.9, None, 1.0]
    assert rows[0]["clip_cosine"] == pytest.approx(0.6, abs=1e-6)
    assert rows[1]["clip_cosine"] is None
    assert rows[2]["clip_cosine"] == pytest.approx(1.0)
    assert rows[0]["clip_reconstruction"] == pytest.approx([0.6, 0.8, 0.0], abs=1e-3)
    assert rows[1]["clip_original"] is None and rows[1]["clip_reconstruction"] is None
    assert rows[2]["clip_original"] == [0.0, 1.0, 0.0]


def test_latents_table_checks_lengths() -> None:
    results = [ImageResult("a.png", True, None, 8, 8)]
    e = np.ones((1, 2), dtype=np.float32)
    with pytest.raises(NecoError, match="one caption id per image"):
        latent_round_trip_table(["c1", "c2"], results, np.ones(1), np.ones(1), e, e)
    with pytest.raises(NecoError, match="one metric row per image read"):
        latent_round_trip_table(["c1"], results, np.ones(2), np.ones(1), e, e)
    with pytest.raises(NecoError, match="Embeddings"):
        latent_round_trip_table(["c1"], results, np.ones(1), np.ones(1), e, np.ones((1, 3)))


def test_latents_end_to_end_from_files(vae: Any, clip: Any, processor: Any) -> None:
    names = ["solid_rgb.png", "missing.png", "exif_rotated.jpg", "not_an_image.jpg", "cmyk.tif"]
    images, results = read_images([str(IMAGES / n) for n in names], size=SIZE)
    assert images.shape == (3, 3, SIZE, SIZE)
    latents, recon = vae_round_trip(vae, images)
    assert latents.shape == (3, 4, SIZE // 2, SIZE // 2)
    e_orig = clip_image_embeddings(images, clip, processor)
    e_recon = clip_image_embeddings(recon, clip, processor)
    table = latent_round_trip_table(
        [f"cap{i}" for i in range(5)],
        results,
        psnr(images, recon),
        ssim(unit_range(images), unit_range(recon)),
        e_orig,
        e_recon,
    )
    assert table.num_rows == 5
    assert table.column("ok").to_pylist() == [True, False, True, False, True]
    assert table.column("psnr").null_count == 2
    cos = [c for c in table.column("clip_cosine").to_pylist() if c is not None]
    assert all(-1.0 - 1e-6 <= c <= 1.0 + 1e-6 for c in cos)


# --------------------------------------------------------------------------- AutoencoderTiny


def test_latents_tiny_autoencoder_latents_are_the_encoder_output(tiny_taesd: Any) -> None:
    x = _images(3, seed=11)
    latents, recon = vae_round_trip(tiny_taesd, x, batch_size=2)
    assert _factor(tiny_taesd) == 2
    assert latents.shape == (3, 4, SIZE // 2, SIZE // 2) and latents.dtype == np.float16
    assert recon.shape == x.shape and recon.dtype == np.float32
    assert tiny_taesd.config.scaling_factor == 1.0
    with torch.inference_mode():
        z = tiny_taesd.encode(torch.from_numpy(x)).latents
        expected = tiny_taesd.decode(z).sample.clamp(-1, 1)
        # diffusers' AutoencoderTiny takes [-1, 1] and maps to TAESD's [0, 1] itself.
        direct = tiny_taesd.encoder.layers(torch.from_numpy((x + 1) / 2))
    # Batched 2 + 1 here, 3 at once there: equal up to float rounding (and float16 storage).
    np.testing.assert_allclose(latents.astype(np.float32), z.numpy(), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(z.numpy(), direct.numpy(), atol=1e-6)
    np.testing.assert_allclose(recon, expected.numpy(), atol=1e-5)
    assert recon.min() >= -1.0 and recon.max() <= 1.0


def test_latents_tiny_autoencoder_refuses_sampling(tiny_taesd: Any) -> None:
    with pytest.raises(NecoError, match=r"AutoencoderTiny \(TAESD\) is deterministic"):
        vae_round_trip(tiny_taesd, _images(1), sample=True)
    with pytest.raises(NecoError, match="multiples of 2"):
        vae_round_trip(tiny_taesd, _images(1, size=SIZE + 1))


# --------------------------------------------------------------------------- baseline, metrics


def test_latents_baseline_keeps_block_means_and_constants() -> None:
    rng = np.random.default_rng(12)
    # An image constant on each 8 x 8 block survives nearest up-sampling exactly.
    blocks = rng.uniform(-1, 1, (2, 3, 4, 5)).astype(np.float32)
    blocky = np.repeat(np.repeat(blocks, 8, axis=2), 8, axis=3)
    np.testing.assert_array_equal(resample_baseline(blocky, mode="nearest"), blocky)
    # A constant image survives every filter.
    flat = np.full((1, 3, 16, 24), -0.25, dtype=np.float32)
    for mode in ("bicubic", "bilinear", "nearest"):
        out = resample_baseline(flat, mode=mode)
        assert out.shape == flat.shape and out.dtype == np.float32
        np.testing.assert_allclose(out, flat, atol=1e-6)
    # Down-sampling is the block mean: detail inside a block is lost, its mean kept.
    x = rng.uniform(-1, 1, (2, 3, 32, 32)).astype(np.float32)
    means = x.reshape(2, 3, 4, 8, 4, 8).mean(axis=(3, 5))
    near = resample_baseline(x, mode="nearest")
    np.testing.assert_allclose(near[:, :, ::8, ::8], means, atol=1e-6)
    # Bicubic overshoot is clamped like a VAE reconstruction.
    edges = np.where(rng.uniform(size=(1, 3, 32, 32)) > 0.5, 1.0, -1.0).astype(np.float32)
    out = resample_baseline(edges, factor=4)
    assert out.min() >= -1.0 and out.max() <= 1.0


def test_latents_baseline_bad_arguments() -> None:
    with pytest.raises(NecoError, match="multiples of the factor 8"):
        resample_baseline(_images(1, size=20))
    with pytest.raises(NecoError, match="Unknown mode 'lanczos'"):
        resample_baseline(_images(1), mode="lanczos")
    with pytest.raises(NecoError, match="factor must be a positive whole number"):
        resample_baseline(_images(1), factor=0)
    with pytest.raises(NecoError, match=r"\(n, 3, height, width\)"):
        resample_baseline(np.zeros((1, 32, 32, 3), dtype=np.float32))


def test_latents_reconstruction_metrics_use_unit_range_ssim() -> None:
    rng = np.random.default_rng(13)
    x = rng.uniform(-1, 1, (2, 3, 16, 16)).astype(np.float32)
    y = np.clip(x + rng.normal(0, 0.2, x.shape), -1, 1).astype(np.float32)
    p, s = reconstruction_metrics(x, y)
    np.testing.assert_array_equal(p, psnr(x, y, data_range=2.0))
    np.testing.assert_array_equal(s, ssim((x + 1) / 2, (y + 1) / 2, data_range=1.0))
    # PSNR does not depend on the convention.
    np.testing.assert_allclose(p, psnr((x + 1) / 2, (y + 1) / 2, data_range=1.0), rtol=1e-6)
