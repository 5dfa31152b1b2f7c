"""Tests of neco.survival.neighbours: blocked kNN against a full sort, ties, float32."""

from __future__ import annotations

import numpy as np
import pytest

from neco.survival.neighbours import knn_indices
from tests.survival.references import gaussian, reference_knn


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("block", [7, 2048])
def test_neighbours_knn_indices_equal_full_sort(metric: str, block: int) -> None:
    x = gaussian(90)
    assert np.array_equal(
        knn_indices(x, 6, metric=metric, block=block), reference_knn(x, 6, metric)
    )


def test_neighbours_knn_ties_go_to_the_smaller_index() -> None:
    x = np.array([[0.0], [1.0], [1.0], [1.0], [5.0], [-1.0]])
    neighbours = knn_indices(x, 3, metric="euclidean", block=2)
    # From 0, items 1, 2, 3 and 5 are all at distance 1: the three smallest indices win.
    assert neighbours[0].tolist() == [1, 2, 3]
    assert neighbours[2].tolist() == [1, 3, 0]


def test_neighbours_float32_input_finds_the_same_neighbours() -> None:
    x = gaussian(80)
    assert np.array_equal(knn_indices(x.astype(np.float32), 5), knn_indices(x, 5))
