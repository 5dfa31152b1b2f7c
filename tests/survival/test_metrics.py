"""Tests of neco.survival.metrics: known answers, O(n²) and outside references, errors.

Every random input comes from a seeded generator. The references in tests/survival/references.py
are the straightforward versions that the scalable code must equal; scikit-learn's
trustworthiness and AMI and scipy's pdist/spearmanr are the outside ones.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from scipy.spatial.distance import pdist
from scipy.stats import spearmanr
from sklearn.manifold import trustworthiness as sklearn_trustworthiness
from sklearn.metrics import adjusted_mutual_info_score

from neco.errors import NecoError
from neco.survival.metrics import (
    cluster_vectors,
    continuity,
    continuity_per_item,
    knn_jaccard,
    knn_jaccard_per_item,
    linear_cka,
    mutual_knn_overlap,
    mutual_knn_per_item,
    partition_ami,
    rsa_spearman,
    trustworthiness,
    trustworthiness_per_item,
)
from neco.survival.neighbours import knn_indices
from tests.survival.references import (
    D,
    gaussian,
    noisy,
    reference_cka,
    reference_knn,
    reference_song_hsic,
    reference_trustworthiness,
    rotation,
)


def test_metrics_mutual_knn_on_four_points_by_hand() -> None:
    # On a line at 0, 1, 3, 4.5 the nearest neighbours are 1, 0, 3, 2. Moving item 3 to 1.8
    # makes them 1, 3, 3, 1: items 0 and 2 keep theirs, items 1 and 3 lose theirs.
    a = np.array([[0.0], [1.0], [3.0], [4.5]])
    b = np.array([[0.0], [1.0], [3.0], [1.8]])
    assert mutual_knn_per_item(a, b, 1, metric="euclidean").tolist() == [1, 0, 1, 0]
    assert mutual_knn_overlap(a, b, 1, metric="euclidean") == 0.5
    # k = 2: a's sets {1,2} {0,2} {1,3} {1,2}; b's {1,3} {0,3} {1,3} {1,2}: shared 1, 1, 2, 2.
    assert mutual_knn_overlap(a, b, 2, metric="euclidean") == 0.75
    assert knn_jaccard_per_item(a, b, 2, metric="euclidean").tolist() == [1 / 3, 1 / 3, 1, 1]


def test_metrics_identity_scores_the_maximum() -> None:
    a = gaussian()
    assert mutual_knn_overlap(a, a) == 1.0
    assert knn_jaccard(a, a) == 1.0
    assert trustworthiness(a, a) == 1.0
    assert continuity(a, a) == 1.0
    assert linear_cka(a, a) == pytest.approx(1.0, abs=1e-12)
    assert linear_cka(a, a, debiased=False) == pytest.approx(1.0, abs=1e-12)
    assert rsa_spearman(a, a).value == pytest.approx(1.0, abs=1e-12)


def test_metrics_identity_with_duplicate_items_scores_the_maximum() -> None:
    # Repeated captions give identical vectors: ties must be broken the same way on both sides.
    a = np.repeat(gaussian(30), 3, axis=0)
    assert mutual_knn_overlap(a, a.copy(), 4) == 1.0
    assert trustworthiness(a, a.copy(), 4, block=7) == 1.0


def test_metrics_are_invariant_to_rotation_and_isotropic_scaling() -> None:
    a = gaussian()
    b = noisy(a, 0.8)
    moved = 3.7 * b @ rotation(D)
    assert np.array_equal(knn_indices(moved, 10), knn_indices(b, 10))
    for function in (mutual_knn_overlap, knn_jaccard, trustworthiness, continuity):
        assert function(a, moved) == pytest.approx(function(a, b), abs=1e-9)
    assert linear_cka(a, moved) == pytest.approx(linear_cka(a, b), abs=1e-9)
    assert rsa_spearman(a, moved).value == pytest.approx(rsa_spearman(a, b).value, abs=1e-9)


def test_metrics_unrelated_representations_score_the_chance_level() -> None:
    n, k = 400, 10
    a, b = gaussian(n, seed=3), gaussian(n, seed=4)
    assert mutual_knn_overlap(a, b, k) == pytest.approx(k / (n - 1), abs=0.01)
    assert knn_jaccard(a, b, k) == pytest.approx(k / (2 * (n - 1)), abs=0.01)  # ~ s / 2k
    # Intruders land uniformly in a's order: T = 1 - (n - k)(1 - k/(n-1)) / (2n - 3k - 1).
    chance = 1 - (n - k) * (1 - k / (n - 1)) / (2 * n - 3 * k - 1)
    assert trustworthiness(a, b, k) == pytest.approx(chance, abs=0.02)
    assert continuity(a, b, k) == pytest.approx(chance, abs=0.02)
    assert abs(linear_cka(a, b)) < 0.02
    assert linear_cka(a, b, debiased=False) > 0.02  # the bias the debiased estimator removes
    assert abs(rsa_spearman(a, b).value) < 0.05


@pytest.mark.parametrize(
    "function",
    [mutual_knn_overlap, knn_jaccard, trustworthiness, continuity, linear_cka, rsa_spearman],
    ids=lambda f: f.__name__,
)
def test_metrics_fall_as_noise_grows(function: Callable[..., Any]) -> None:
    a = gaussian()
    values = [float(function(a, noisy(a, sigma))) for sigma in (0.2, 0.7, 2.0)]
    assert values[0] > values[1] > values[2]


@pytest.mark.parametrize("block", [7, 2048])
def test_metrics_mutual_knn_and_jaccard_equal_the_full_matrix_reference(block: int) -> None:
    a, k = gaussian(150), 8
    b = noisy(a, 1.0)
    nn_a, nn_b = reference_knn(a, k, "cosine"), reference_knn(b, k, "cosine")
    shared = np.array([len(set(p) & set(q)) for p, q in zip(nn_a, nn_b, strict=True)])
    overlap = mutual_knn_per_item(a, b, k, block=block)
    assert np.array_equal(overlap, shared / k)
    assert np.array_equal(knn_jaccard_per_item(a, b, k, block=block), shared / (2 * k - shared))


@pytest.mark.parametrize("block", [7, 2048])
@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_metrics_trustworthiness_equals_the_full_matrix_reference(block: int, metric: str) -> None:
    a = gaussian(100)
    b = noisy(a, 1.5)[:, :4]
    expected = reference_trustworthiness(a, b, 7, metric)
    assert trustworthiness(a, b, 7, metric=metric, block=block) == pytest.approx(
        expected, abs=1e-12
    )
    per_item = trustworthiness_per_item(a, b, 7, metric=metric, block=block)
    assert per_item.mean() == pytest.approx(expected, abs=1e-12)
    assert continuity(a, b, 7, metric=metric, block=block) == pytest.approx(
        reference_trustworthiness(b, a, 7, metric), abs=1e-12
    )


def test_metrics_trustworthiness_equals_scikit_learn() -> None:
    a = gaussian(200)
    b = noisy(a, 1.0)[:, :3]
    for k in (1, 5, 30):
        expected = sklearn_trustworthiness(a, b, n_neighbors=k)  # euclidean by default
        assert trustworthiness(a, b, k, metric="euclidean", block=7) == pytest.approx(
            expected, abs=1e-9
        )
        assert continuity(a, b, k, metric="euclidean") == pytest.approx(
            sklearn_trustworthiness(b, a, n_neighbors=k), abs=1e-9
        )
    # scikit-learn's metric applies to a only; on unit rows b's euclidean order is the cosine one.
    unit_b = b / np.linalg.norm(b, axis=1, keepdims=True)
    expected = sklearn_trustworthiness(a, unit_b, n_neighbors=5, metric="cosine")
    assert trustworthiness(a, b, 5, metric="cosine") == pytest.approx(expected, abs=1e-9)


def test_metrics_linear_cka_equals_the_gram_matrix_references() -> None:
    a = gaussian(70, 9) + 2.0  # uncentred on purpose: centring is part of the method
    b = noisy(a @ np.random.default_rng(5).normal(size=(9, 15)), 3.0)
    assert linear_cka(a, b) == pytest.approx(reference_cka(a, b), abs=1e-10)
    song = reference_song_hsic(a, b) / np.sqrt(
        reference_song_hsic(a, a) * reference_song_hsic(b, b)
    )
    assert linear_cka(a, b) == pytest.approx(song, abs=1e-10)
    ac, bc = a - a.mean(0), b - b.mean(0)
    biased = np.linalg.norm(ac.T @ bc) ** 2 / (
        np.linalg.norm(ac.T @ ac) * np.linalg.norm(bc.T @ bc)
    )
    assert linear_cka(a, b, debiased=False) == pytest.approx(biased, abs=1e-12)
    assert linear_cka(a.astype(np.float32), b.astype(np.float32)) == pytest.approx(
        reference_cka(a, b), abs=1e-5
    )


def test_metrics_rsa_equals_scipy_and_subsamples_with_a_seed() -> None:
    a = gaussian(60)
    b = noisy(a, 1.0)
    expected = spearmanr(pdist(a, "cosine"), pdist(b, "cosine")).statistic
    assert rsa_spearman(a, b).value == pytest.approx(expected, abs=1e-12)
    assert rsa_spearman(a, b, metric="euclidean").value == pytest.approx(
        spearmanr(pdist(a), pdist(b)).statistic, abs=1e-12
    )
    sub = rsa_spearman(a, b, max_items=25, seed=7)
    items = np.sort(np.random.default_rng(7).choice(60, size=25, replace=False))
    assert sub.n_items_used == 25
    assert sub.value == pytest.approx(
        spearmanr(pdist(a[items], "cosine"), pdist(b[items], "cosine")).statistic, abs=1e-12
    )
    assert np.isnan(rsa_spearman(a, np.ones_like(a)).value)  # no distances to rank


def test_metrics_partition_ami_equals_scikit_learn_and_clusters_recover_blobs() -> None:
    rng = np.random.default_rng(8)
    first, second = rng.integers(0, 4, 100), rng.integers(0, 3, 100)
    assert partition_ami(first, second) == adjusted_mutual_info_score(first, second)
    assert partition_ami(first, (first + 1) % 4) == pytest.approx(1.0)
    centres = 10 * rotation(6)[:3]
    labels = np.repeat([0, 1, 2], 30)
    blobs = centres[labels] + rng.normal(size=(90, 6))
    assert partition_ami(labels, cluster_vectors(blobs, 3, seed=0, metric="euclidean")) == 1.0
    assert np.array_equal(cluster_vectors(blobs, 3, seed=0), cluster_vectors(blobs, 3, seed=0))


def test_metrics_bad_parameters_raise_in_scikit_learn_words() -> None:
    a = gaussian(60)
    with pytest.raises(NecoError) as error:
        mutual_knn_overlap(a, a, 0)
    assert str(error.value) == (
        "The 'k' parameter of mutual_knn_overlap must be an int in [1, n_items - 1] "
        "(n_items - 1 = 59). Got 0 instead."
    )
    for k in (60, 2.5, True):
        with pytest.raises(NecoError, match=rf"mutual_knn_overlap .* Got {k!r} instead\."):
            mutual_knn_overlap(a, a, k)  # type: ignore[arg-type]
    with pytest.raises(
        NecoError, match=r"'k' parameter of trustworthiness .* \(n_items - 1\) // 2"
    ):
        trustworthiness(a, a, 30)
    with pytest.raises(NecoError, match=r"'metric' parameter of knn_jaccard must be one of"):
        knn_jaccard(a, a, metric="manhattan")  # type: ignore[arg-type]


def test_metrics_mismatched_or_broken_inputs_say_what_was_expected() -> None:
    a = gaussian(60)
    with pytest.raises(NecoError, match="expected 60 rows, found 59"):
        linear_cka(a, a[:59])
    with pytest.raises(NecoError, match=r"'b' as a 2-D array .* found shape \(60,\)"):
        continuity_per_item(a, a[:, 0])
    broken = a.copy()
    broken[3, 2] = np.nan
    with pytest.raises(NecoError, match="'a' holds NaN or infinity"):
        rsa_spearman(broken, a)
    with pytest.raises(NecoError, match="two 1-D sequences of the same length"):
        partition_ami([0, 1], [0, 1, 1])


def test_metrics_import_stays_light() -> None:
    code = (
        "import sys, neco.survival.metrics, neco.survival.graph_overlap, neco.survival.scoring;"
        "print([m for m in ('scipy', 'sklearn', 'torch') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
