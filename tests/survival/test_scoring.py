"""Tests of neco.survival.scoring: nulls at their known level, fast nulls equal slow ones,
intervals with the right spread, the Score, and the registry."""

from __future__ import annotations

import numpy as np
import pytest

from neco.errors import NecoError
from neco.survival.metrics import continuity, linear_cka, trustworthiness
from neco.survival.scoring import (
    METRICS,
    bootstrap_interval,
    half_sample_interval,
    permutation_null,
    score,
)
from tests.survival.references import gaussian, noisy


def test_scoring_mutual_knn_null_sits_at_k_over_n_minus_one() -> None:
    a = gaussian(300)
    null = permutation_null("mutual_knn", a, noisy(a, 0.5), n_samples=100, seed=0, k=10)
    assert null.mean == pytest.approx(10 / 299, abs=0.004)
    assert null.calibrated > 20
    assert null.p_value == 1 / 101  # no permutation reaches the observed value: +1 smoothing
    assert permutation_null("cka", a, a, n_samples=50).calibrated > 20  # identity


def test_scoring_calibrated_score_of_unrelated_data_is_near_zero() -> None:
    a, b = gaussian(150, seed=10), gaussian(150, seed=11)
    for name in ("mutual_knn", "trustworthiness", "cka", "rsa"):
        null = permutation_null(name, a, b, n_samples=100, seed=1)
        assert abs(null.calibrated) < 3, name


@pytest.mark.parametrize("name", ["mutual_knn", "knn_jaccard", "trustworthiness", "cka", "rsa"])
def test_scoring_fast_nulls_equal_recomputing_on_permuted_rows(name: str) -> None:
    a = gaussian(40)
    b = noisy(a, 0.7)
    function = METRICS[name]
    fast = permutation_null(name, a, b, n_samples=15, seed=4).values
    rng = np.random.default_rng(4)
    slow = [float(function(a, b[rng.permutation(40)])) for _ in range(15)]
    assert np.allclose(fast, slow, rtol=0, atol=1e-12)


def test_scoring_continuity_null_is_trustworthiness_of_the_permuted_reference() -> None:
    a = gaussian(40)
    b = noisy(a, 0.7)
    fast = permutation_null(continuity, a, b, n_samples=10, seed=4, k=5).values
    rng = np.random.default_rng(4)
    # continuity(a, b[p]) = continuity(a[p⁻¹], b): the same distribution, relabelled.
    slow = [continuity(a[rng.permutation(40)], b, 5) for _ in range(10)]
    assert np.allclose(fast, slow, rtol=0, atol=1e-12)


def test_scoring_bootstrap_intervals_cover_the_value() -> None:
    values = np.random.default_rng(13).uniform(size=500)
    low, high = bootstrap_interval(values, n_samples=300, seed=0)
    # The mean of 500 uniforms has standard error 0.0129: a 95% interval is about ±0.025.
    assert low < values.mean() < high
    assert high - low == pytest.approx(2 * 1.96 * values.std() / np.sqrt(500), rel=0.2)
    assert bootstrap_interval(np.array([0.5, np.nan, 0.5]), n_samples=5) == (0.5, 0.5)


def test_scoring_half_sample_interval_matches_the_sampling_spread_of_cka() -> None:
    # 60 draws of (a, b) from one distribution give CKA's real spread at n = 200; resampling
    # with replacement would put the interval about two standard errors too high.
    def draw(seed: int) -> tuple[np.ndarray, np.ndarray]:
        a = gaussian(200, seed=seed)
        return a, noisy(a, 1.0, seed=seed + 1000)

    spread = np.std([linear_cka(*draw(seed)) for seed in range(60)])
    a, b = draw(999)
    low, high = half_sample_interval("cka", a, b, n_samples=100, seed=0)
    assert low < linear_cka(a, b) < high
    assert high - low == pytest.approx(2 * 1.96 * spread, rel=0.3)


def test_scoring_score_gathers_value_null_and_interval() -> None:
    a = gaussian(100)
    result = score("trustworthiness", a, noisy(a, 0.5), k=5, null_samples=50, bootstrap=50)
    assert result.value == pytest.approx(trustworthiness(a, noisy(a, 0.5), 5), abs=1e-12)
    assert result.low < result.value < result.high
    assert result.null_mean == pytest.approx(0.5, abs=0.03)
    assert result.calibrated > 20 and result.p_value == 1 / 51 and result.n_items == 100
    cka = score("cka", a, a, null_samples=0, bootstrap=0)
    assert cka.value == pytest.approx(1.0) and np.isnan(cka.null_mean) and np.isnan(cka.low)
    assert score("rsa", a, a, null_samples=0, bootstrap=0, max_items=30).n_items == 30
    edges = np.array([[0, 1], [1, 2]])
    assert score("graph_knn_jaccard", edges, a, null_samples=0, bootstrap=0).n_items == 3


def test_scoring_unknown_metric_lists_the_known_ones() -> None:
    with pytest.raises(
        NecoError, match=r"score knows no metric 'cca'\. The metrics are: mutual_knn"
    ):
        score("cca", gaussian(), gaussian())
    with pytest.raises(NecoError, match="'cka' takes no 'k'"):
        score("cka", gaussian(), gaussian(), k=5)
    assert {"mutual_knn", "trustworthiness", "continuity", "cka", "rsa", "knn_jaccard"} <= set(
        METRICS
    )


def test_scoring_bad_parameters_raise_in_scikit_learn_words() -> None:
    a = gaussian(60)
    with pytest.raises(NecoError, match=r"'level' parameter of bootstrap_interval .* Got 1.5"):
        bootstrap_interval(np.ones(3), level=1.5)
    with pytest.raises(NecoError, match=r"'n_samples' parameter of permutation_null .* \[2, inf\)"):
        permutation_null("cka", a, a, n_samples=1)
    with pytest.raises(NecoError, match=r"null_samples = 0 .* or at least 2"):
        score("cka", a, a, null_samples=1)
    with pytest.raises(NecoError, match="at least one per-item value; found none"):
        bootstrap_interval(np.array([np.nan]))
