"""The social side as a graph: do an item's graph neighbours stay its nearest neighbours?

The social layer relates captions as graphs as well as vectors: a caption projection of the
caption-term graph (captions sharing terms), reply edges, or a semantic kNN graph. Given such
a graph over the same ``n`` items as the rows of a representation ``b``:

- :func:`graph_knn_jaccard` — per item, the Jaccard index of its graph neighbours and its
  nearest neighbours in ``b`` (the kNN-graph Jaccard of the survival design);
- :func:`graph_neighbour_recall` — per item, the share of its graph neighbours among them.

Both return a :class:`GraphOverlap` with per-item values. Items without graph neighbours are
left out of the mean and counted, never dropped silently. Neighbours come from
:func:`neco.survival.neighbours.knn_indices` (cosine by default), searched once; the
permutation null relabels them (:func:`_graph_null`, used by :mod:`neco.survival.scoring`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from neco.errors import NecoError
from neco.survival.neighbours import (
    DistanceMetric,
    check_int,
    check_items,
    check_metric,
    knn_indices,
    relabel_neighbours,
)

__all__ = ["GraphOverlap", "graph_knn_jaccard", "graph_neighbour_recall"]


@dataclass(frozen=True)
class GraphOverlap:
    """How well a representation's nearest neighbours recover a graph's neighbours.

    ``value`` is the mean over items that have at least one graph neighbour (``n_items_used``);
    ``n_isolated`` items have none and are left out, with ``nan`` in ``per_item``.
    """

    value: float
    n_items_used: int
    n_isolated: int
    per_item: np.ndarray = field(repr=False, compare=False)

    def __float__(self) -> float:
        return self.value


def _graph_pairs(graph: object, n: int, function: str) -> np.ndarray:
    """Sorted codes ``i * n + j`` of a symmetric adjacency without self-loops."""
    if hasattr(graph, "tocoo"):
        coo = graph.tocoo()
        if coo.shape != (n, n):
            raise NecoError(
                f"{function} needs the graph's adjacency over the same items as 'b': expected "
                f"shape ({n}, {n}), found {coo.shape}."
            )
        nonzero = coo.data != 0
        rows, cols = coo.row[nonzero], coo.col[nonzero]
    else:
        edges = np.asarray(graph)
        if edges.ndim != 2 or edges.shape[1] != 2 or not np.issubdtype(edges.dtype, np.integer):
            raise NecoError(
                f"{function} expects the graph as a scipy.sparse adjacency matrix or an int "
                f"array of edges (n_edges, 2); found {edges.dtype} of shape {edges.shape}."
            )
        if edges.size and (edges.min() < 0 or edges.max() >= n):
            raise NecoError(
                f"{function}: edges must join items 0 to {n - 1} (the rows of 'b'); found "
                f"{edges.min()} to {edges.max()}."
            )
        rows, cols = edges[:, 0], edges[:, 1]
    # Survival asks whether related items stay near: a relation holds both ways.
    rows, cols = np.concatenate([rows, cols]), np.concatenate([cols, rows])
    loops = rows == cols
    return np.unique(rows[~loops].astype(np.int64) * n + cols[~loops])


def _graph_parts(
    graph: object, b: object, k: int | None, metric: str, block: int, function: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Graph pair codes, degrees, kNN sizes per item, and b's neighbours up to the largest."""
    y = check_items(b, "b", function)
    n = y.shape[0]
    block = check_int(block, "block", function, 1)
    metric = check_metric(metric, function)
    pairs = _graph_pairs(graph, n, function)
    degree = np.bincount(pairs // n, minlength=n)
    if not degree.any():
        raise NecoError(f"{function} needs a graph with edges; this one has none among {n} items.")
    if k is None:
        sizes = degree
    else:
        sizes = np.full(n, check_int(k, "k", function, 1, n - 1, "n_items - 1"))
    nn_b = knn_indices(y, int(sizes.max()), metric=metric, block=block)
    return pairs, degree, sizes, nn_b


def _graph_shared(pairs: np.ndarray, nn_b: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    n = nn_b.shape[0]
    codes = (np.arange(n)[:, None] * n + nn_b)[np.arange(nn_b.shape[1]) < sizes[:, None]]
    return np.bincount(codes[np.isin(codes, pairs)] // n, minlength=n)


def _graph_values(
    kind: str, shared: np.ndarray, degree: np.ndarray, sizes: np.ndarray
) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        values = shared / degree if kind == "recall" else shared / (degree + sizes - shared)
    return np.where(degree > 0, values, np.nan)


def _graph_overlap(
    kind: str, graph: object, b: object, k: int | None, metric: str, block: int, function: str
) -> GraphOverlap:
    pairs, degree, sizes, nn_b = _graph_parts(graph, b, k, metric, block, function)
    values = _graph_values(kind, _graph_shared(pairs, nn_b, sizes), degree, sizes)
    used = int(np.count_nonzero(degree))
    return GraphOverlap(float(np.nanmean(values)), used, degree.size - used, values)


def graph_knn_jaccard(
    graph: object,
    b: np.ndarray,
    k: int | None = None,
    *,
    metric: DistanceMetric = "cosine",
    block: int = 2048,
) -> GraphOverlap:
    """Per item, Jaccard of its graph neighbours and its nearest neighbours in ``b``.

    ``graph`` is the social side over the same ``n`` items as the rows of ``b``: a
    ``scipy.sparse`` adjacency matrix (any stored non-zero is an edge) or an int array of edges
    ``(n_edges, 2)``, for instance a caption projection or a semantic kNN graph. Edges count in
    both directions and self-loops are ignored. With ``k=None`` each item is compared with as
    many nearest neighbours in ``b`` as it has graph neighbours (its degree); with an int, with
    ``k`` for every item. Items without graph neighbours are left out and counted. Neighbours
    in ``b`` are kept up to the largest size asked for, ``n`` times that many ints: with
    ``k=None`` a hub of the graph sets it, so pass ``k`` for graphs with hubs.

    >>> b = np.array([[0.0], [1.0], [3.0], [4.5]])
    >>> result = graph_knn_jaccard(np.array([[0, 1], [1, 2]]), b, metric="euclidean")
    >>> round(result.value, 4), result.n_items_used, result.n_isolated
    (0.6667, 3, 1)
    """
    return _graph_overlap("jaccard", graph, b, k, metric, block, "graph_knn_jaccard")


def graph_neighbour_recall(
    graph: object,
    b: np.ndarray,
    k: int | None = None,
    *,
    metric: DistanceMetric = "cosine",
    block: int = 2048,
) -> GraphOverlap:
    """Per item, the share of its graph neighbours found among its nearest neighbours in ``b``.

    Same inputs as :func:`graph_knn_jaccard`; with ``k=None`` recall equals precision.

    >>> b = np.array([[0.0], [1.0], [3.0], [4.5]])
    >>> result = graph_neighbour_recall(np.array([[0, 1], [0, 3]]), b, 1, metric="euclidean")
    >>> result.per_item.tolist(), result.n_isolated
    ([0.5, 1.0, nan, 0.0], 1)
    """
    return _graph_overlap("recall", graph, b, k, metric, block, "graph_neighbour_recall")


def _graph_null(
    kind: str,
    graph: object,
    b: np.ndarray,
    rng: np.random.Generator,
    n_samples: int,
    *,
    k: int | None = None,
    metric: DistanceMetric = "cosine",
    block: int = 2048,
) -> tuple[np.ndarray, np.ndarray]:
    function = "graph_knn_jaccard" if kind == "jaccard" else "graph_neighbour_recall"
    pairs, degree, sizes, nn_b = _graph_parts(graph, b, k, metric, block, function)
    observed = _graph_values(kind, _graph_shared(pairs, nn_b, sizes), degree, sizes)
    null = np.empty(n_samples)
    for s in range(n_samples):
        permuted = relabel_neighbours(nn_b, rng.permutation(nn_b.shape[0]))
        shared = _graph_shared(pairs, permuted, sizes)
        null[s] = np.nanmean(_graph_values(kind, shared, degree, sizes))
    return observed, null
