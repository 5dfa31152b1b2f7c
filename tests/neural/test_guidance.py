"""Guidance sweeps on a tiny Stable Diffusion pipeline, and the Vendi score's known answers."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from neco.errors import NecoError
from neco.neural.guidance import (
    GuidanceResult,
    diversity_table,
    guidance_sweep,
    mean_pairwise_cosine,
    vendi_score,
)

SIZE = 64
STEPS = 2
PROMPTS = ["a photo of a nurse", "a flibbertigibbet riding a horse"]


@pytest.fixture(scope="module")
def pipe(tmp_path_factory: pytest.TempPathFactory) -> Any:
    pytest.importorskip("torch")
    pytest.importorskip("diffusers")
    from tests.neural.test_attention import tiny_pipeline

    return tiny_pipeline(tmp_path_factory)


def _sweep(pipe: Any, **kwargs: Any) -> GuidanceResult:
    options: dict[str, Any] = {
        "scales": (1.0, 7.5),
        "seeds": (0, 1, 2),
        "steps": STEPS,
        "height": SIZE,
        "width": SIZE,
        "batch_size": 3,
    }
    options.update(kwargs)
    prompts = options.pop("prompts", PROMPTS)
    return guidance_sweep(pipe, prompts, **options)


@pytest.fixture(scope="module")
def sweep(pipe: Any) -> GuidanceResult:
    return _sweep(pipe)


def test_guidance_table_has_one_row_per_prompt_scale_and_seed(sweep: GuidanceResult) -> None:
    table = sweep.table
    assert len(table) == 2 * 2 * 3
    assert table.columns.tolist() == ["sample", "prompt_index", "prompt", "scale", "seed"]
    assert table["sample"].tolist() == list(range(12))
    assert not table.duplicated(["prompt_index", "scale", "seed"]).any()
    assert table.groupby(["prompt_index", "scale"]).size().tolist() == [3] * 4
    assert sweep.images is not None and sweep.images.shape == (12, SIZE, SIZE, 3)
    assert sweep.images.dtype == np.uint8
    assert sweep.embeddings is None


def test_guidance_sweep_is_deterministic(pipe: Any, sweep: GuidanceResult) -> None:
    again = _sweep(pipe, scales=(7.5,))
    expected = sweep.table.query("scale == 7.5")
    assert again.table[["prompt", "seed"]].values.tolist() == (
        expected[["prompt", "seed"]].values.tolist()
    )
    assert again.images is not None and sweep.images is not None
    np.testing.assert_array_equal(again.images, sweep.images[expected["sample"].to_numpy()])


def test_guidance_sample_alone_equals_the_same_sample_in_the_sweep(
    pipe: Any, sweep: GuidanceResult
) -> None:
    alone = _sweep(pipe, prompts=PROMPTS[1:], scales=(7.5,), seeds=(2,))
    assert alone.images is not None and sweep.images is not None
    row = sweep.table.query("prompt_index == 1 and scale == 7.5 and seed == 2")["sample"]
    inside = sweep.images[int(row.iloc[0])]
    assert np.abs(alone.images[0].astype(int) - inside.astype(int)).max() <= 1
    other = sweep.table.query("prompt_index == 1 and scale == 7.5 and seed == 1")["sample"]
    assert not np.array_equal(alone.images[0], sweep.images[int(other.iloc[0])])


def test_guidance_scale_one_runs_without_the_unconditional_pass(pipe: Any) -> None:
    batches: list[int] = []
    handle = pipe.unet.register_forward_pre_hook(
        lambda _module, args: batches.append(int(args[0].shape[0]))
    )
    try:
        _sweep(pipe, prompts=PROMPTS[:1], scales=(1.0, 5.0), seeds=(0, 1), batch_size=2)
    finally:
        handle.remove()
    assert batches == [2] * STEPS + [4] * STEPS  # scale 1: conditional only; 5: doubled batch


def test_guidance_embed_keeps_normalised_embeddings_instead_of_images(pipe: Any) -> None:
    def embed(images: np.ndarray) -> np.ndarray:
        assert images.dtype == np.uint8 and images.shape[1:] == (SIZE, SIZE, 3)
        return images.reshape(len(images), -1)[:, :16].astype(np.float64) + 1.0

    result = _sweep(pipe, prompts=PROMPTS[:1], scales=(7.5,), embed=embed)
    assert result.images is None
    assert result.embeddings is not None and result.embeddings.shape == (3, 16)
    assert result.embeddings.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(result.embeddings, axis=1), 1.0, atol=1e-6)
    table = diversity_table(result)
    assert len(table) == 1 and table.loc[0, "n_samples"] == 3
    assert table.loc[0, "mean_cosine"] == pytest.approx(
        mean_pairwise_cosine(result.embeddings), abs=1e-6
    )
    with pytest.raises(NecoError, match="one vector per image"):
        _sweep(pipe, prompts=PROMPTS[:1], scales=(1.0,), seeds=(0,), embed=lambda x: x[0, 0])


def test_guidance_diversity_table_per_prompt_and_scale(sweep: GuidanceResult) -> None:
    table = diversity_table(sweep)
    assert table.columns.tolist() == [
        "prompt_index",
        "prompt",
        "scale",
        "n_samples",
        "vendi",
        "mean_cosine",
    ]
    assert list(zip(table["prompt_index"], table["scale"], strict=True)) == [
        (0, 1.0),
        (0, 7.5),
        (1, 1.0),
        (1, 7.5),
    ]
    assert (table["n_samples"] == 3).all()
    assert ((table["vendi"] >= 1.0 - 1e-9) & (table["vendi"] <= 3.0 + 1e-9)).all()
    assert (table["mean_cosine"].abs() <= 1.0 + 1e-9).all()


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8])
def test_guidance_vendi_known_answers(n: int) -> None:
    rng = np.random.default_rng(n)
    direction = rng.normal(size=(1, 12))
    identical = direction * rng.uniform(0.5, 3.0, size=(n, 1))  # same direction, any length
    assert vendi_score(identical) == pytest.approx(1.0, abs=1e-9)
    rotation, _ = np.linalg.qr(rng.normal(size=(12, 12)))
    orthogonal = rotation[:n] * rng.uniform(0.5, 3.0, size=(n, 1))
    assert abs(vendi_score(orthogonal) - n) < 1e-9
    assert abs(vendi_score(np.eye(n)) - n) < 1e-9


def test_guidance_vendi_between_the_extremes() -> None:
    clusters = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [0.0, 5.0]])
    assert vendi_score(clusters) == pytest.approx(2.0, abs=1e-9)
    many = np.random.default_rng(0).normal(size=(50, 3))  # n > d: uses the d x d Gram matrix
    score = vendi_score(many)
    assert 1.0 < score <= 3.0 + 1e-9
    assert score == pytest.approx(vendi_score(many[::-1] * 7.0), abs=1e-9)
    with pytest.raises(NecoError, match="row of zeros"):
        vendi_score(np.array([[1.0, 0.0], [0.0, 0.0]]))
    with pytest.raises(NecoError, match="2-d array"):
        vendi_score(np.ones(3))


def test_guidance_mean_pairwise_cosine() -> None:
    assert mean_pairwise_cosine(np.eye(4)) == pytest.approx(0.0)
    assert mean_pairwise_cosine(np.ones((3, 2))) == pytest.approx(1.0)
    assert np.isnan(mean_pairwise_cosine(np.ones((1, 2))))


def test_guidance_user_errors_say_how_to_fix(pipe: Any) -> None:
    with pytest.raises(NecoError, match="multiple of 8"):
        _sweep(pipe, height=100)
    with pytest.raises(NecoError, match="distinct seeds"):
        _sweep(pipe, seeds=(0, 0))
    with pytest.raises(NecoError, match="guidance scales"):
        _sweep(pipe, scales=(-1.0,))
    with pytest.raises(NecoError, match="would repeat scale 1"):
        _sweep(pipe, scales=(0.5, 7.5))
    with pytest.raises(NecoError, match="embeddings or images"):
        diversity_table(GuidanceResult(table=pd.DataFrame()))
