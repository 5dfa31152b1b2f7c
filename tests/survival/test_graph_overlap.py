"""Tests of neco.survival.graph_overlap against Python sets, with its null and its errors."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from neco.errors import NecoError
from neco.survival.graph_overlap import graph_knn_jaccard, graph_neighbour_recall
from neco.survival.neighbours import knn_indices
from neco.survival.scoring import permutation_null
from tests.survival.references import gaussian, reference_graph


@pytest.mark.parametrize("k", [None, 4])
def test_graph_overlap_graph_overlap_equals_the_set_reference(k: int | None) -> None:
    b = gaussian(50)
    rng = np.random.default_rng(9)
    edges = rng.integers(0, 45, size=(120, 2))  # items 45-49 stay isolated; some self-loops
    jaccard, recall = reference_graph(edges, b, k)
    result = graph_knn_jaccard(edges, b, k, block=7)
    assert np.allclose(result.per_item, jaccard, equal_nan=True)
    assert result.value == pytest.approx(np.nanmean(jaccard))
    assert result.n_isolated == int(np.isnan(jaccard).sum()) >= 5
    assert result.n_items_used + result.n_isolated == 50
    assert np.allclose(graph_neighbour_recall(edges, b, k).per_item, recall, equal_nan=True)
    adjacency = sp.csr_array((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(50, 50))
    assert graph_knn_jaccard(adjacency, b, k).value == result.value


def test_graph_overlap_graph_made_of_b_own_neighbours_is_recalled_in_full() -> None:
    b = gaussian(60)
    edges = np.column_stack([np.repeat(np.arange(60), 3), knn_indices(b, 3).ravel()])
    degree = np.array([len(set(edges[edges[:, 0] == i, 1]) | set(edges[edges[:, 1] == i, 0]))
                       for i in range(60)])  # fmt: skip
    # Every item's 3 nearest neighbours are graph neighbours; items that are someone else's
    # nearest have more graph neighbours than that: recall = Jaccard = 3 / degree.
    assert np.allclose(graph_neighbour_recall(edges, b, 3).per_item, 3 / degree)
    assert np.allclose(graph_knn_jaccard(edges, b, 3).per_item, 3 / degree)
    assert graph_neighbour_recall(edges, b, 59).value == 1.0


def test_graph_overlap_graph_null_equals_recomputing_on_permuted_rows() -> None:
    b = gaussian(40)
    edges = np.random.default_rng(12).integers(0, 40, size=(60, 2))
    fast = permutation_null(graph_knn_jaccard, edges, b, n_samples=10, seed=2).values
    rng = np.random.default_rng(2)
    slow = [graph_knn_jaccard(edges, b[rng.permutation(40)]).value for _ in range(10)]
    assert np.allclose(fast, slow, rtol=0, atol=1e-12)


def test_graph_overlap_bad_graphs_say_what_was_expected() -> None:
    a = gaussian(60)
    with pytest.raises(NecoError, match=r"expected shape \(60, 60\), found \(50, 50\)"):
        graph_knn_jaccard(sp.csr_array((50, 50)), a)
    with pytest.raises(NecoError, match="edges must join items 0 to 59"):
        graph_knn_jaccard(np.array([[0, 60]]), a)
    with pytest.raises(NecoError, match="an int array of edges"):
        graph_knn_jaccard(np.array([[0.0, 1.0]]), a)
    with pytest.raises(NecoError, match="this one has none"):
        graph_neighbour_recall(np.array([[3, 3]]), a)  # a self-loop is no relation
    with pytest.raises(NecoError, match=r"'k' parameter of graph_knn_jaccard .* Got 60"):
        graph_knn_jaccard(np.array([[0, 1]]), a, 60)
