"""Nearest neighbours and neighbour ranks in row blocks: the one neighbour routine of survival.

Every kNN-based survival metric (:mod:`neco.survival.metrics`) asks two questions of a set of
``n`` item vectors: *which* ``k`` items are nearest to item ``i`` (:func:`knn_indices`), and
*how far down* item ``i``'s order item ``j`` comes (its rank, for trustworthiness). Both are
answered from blocks of ``block`` rows of a distance matrix at a time, so memory grows with
``block * n`` and never with ``n * n``; the matrix products go to BLAS.

One order, everywhere
---------------------
Item ``j`` comes before item ``j'`` in item ``i``'s order when it is closer, or equally close
and of smaller index; ``i`` itself comes last. :func:`knn_indices`, the ranks counted for
trustworthiness and the full rank rows sorted for its permutation null all use this order on
the same block of distances, so a neighbour always has a rank of at most ``k`` and an intruder
a rank above ``k``. ``block`` changes nothing but, at most, the rounding of the products.

Distances are compared through a *key* that orders a row like the distance does: the negative
cosine similarity of L2-normalised rows (``metric="cosine"``; a zero row is at distance 1 from
every row, as in scikit-learn), or ``|x_j|² - 2 x_i·x_j`` (``metric="euclidean"``: the squared
distance without the term that is constant along a row). float32 input is computed in
float32 (neighbours closer than float32 can tell apart may swap); anything else in float64.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal, cast

import numpy as np

from neco.errors import NecoError

__all__ = [
    "DistanceMetric",
    "check_int",
    "check_items",
    "check_metric",
    "check_pair",
    "knn_indices",
    "relabel_neighbours",
]

DistanceMetric = Literal["cosine", "euclidean"]
_METRICS = ("cosine", "euclidean")

# Temporaries of the selection and counting steps (copies, boolean masks) are built on this
# many matrix cells at a time, so that a block of 2048 x 100,000 float32 keys (800 MB) never
# has a second copy of itself beside it.
_CHUNK_CELLS = 1 << 24


def check_int(
    value: object,
    name: str,
    function: str,
    low: int,
    high: int | None = None,
    high_text: str | None = None,
) -> int:
    """``value`` as an int in ``[low, high]``, or a :class:`NecoError` in scikit-learn's words.

    ``high=None`` leaves it unbounded; ``high_text`` names a bound that depends on the input.

    >>> check_int(3, "k", "knn_indices", 1, 9, "n_items - 1")
    3
    >>> check_int(0, "k", "knn_indices", 1, 9, "n_items - 1")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    neco.errors.NecoError: The 'k' parameter of knn_indices must be an int in [1, n_items - 1] ...
    """
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        number = int(value)
        if low <= number and (high is None or number <= high):
            return number
    bound = "inf)" if high is None else f"{high_text or high}]"
    known = f" ({high_text} = {high})" if high_text else ""
    raise NecoError(
        f"The {name!r} parameter of {function} must be an int in [{low}, {bound}{known}. "
        f"Got {value!r} instead."
    )


def check_items(x: object, name: str, function: str) -> np.ndarray:
    """``x`` as a finite 2-D float array ``(n_items, dim)``: float32 kept, the rest float64.

    >>> check_items([[1, 2], [3, 4]], "a", "linear_cka").dtype
    dtype('float64')
    """
    array = np.asarray(x)
    if array.ndim != 2 or array.shape[0] < 2 or array.shape[1] < 1:
        raise NecoError(
            f"{function} expects {name!r} as a 2-D array (n_items, dim) with at least two "
            f"items; found shape {array.shape}."
        )
    if not (np.issubdtype(array.dtype, np.number) and not np.iscomplexobj(array)):
        raise NecoError(f"{function} expects real numbers in {name!r}; found {array.dtype}.")
    dtype = np.float32 if array.dtype in (np.float32, np.float16) else np.float64
    array = np.ascontiguousarray(array, dtype=dtype)
    if not np.isfinite(array).all():
        raise NecoError(f"{function} expects finite values; {name!r} holds NaN or infinity.")
    return array


def check_pair(a: object, b: object, function: str) -> tuple[np.ndarray, np.ndarray]:
    """``a`` and ``b`` as :func:`check_items` does, with as many rows as each other."""
    x = check_items(a, "a", function)
    y = check_items(b, "b", function)
    if x.shape[0] != y.shape[0]:
        raise NecoError(
            f"{function} compares two representations of the same items, so 'b' needs one row "
            f"per row of 'a': expected {x.shape[0]} rows, found {y.shape[0]}."
        )
    return x, y


def check_metric(metric: object, function: str) -> DistanceMetric:
    """``metric`` if it is ``"cosine"`` or ``"euclidean"``, else a :class:`NecoError`."""
    if metric not in _METRICS:
        raise NecoError(
            f"The 'metric' parameter of {function} must be one of {list(_METRICS)}. "
            f"Got {metric!r} instead."
        )
    return cast(DistanceMetric, metric)


def _key_parts(x: np.ndarray, metric: DistanceMetric) -> tuple[np.ndarray, np.ndarray | None]:
    """Rows ready for products, and the squared norms that the euclidean key adds."""
    if metric == "cosine":
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        return x / np.where(norms > 0, norms, 1).astype(x.dtype), None
    return x, np.einsum("ij,ij->i", x, x)


def distance_blocks(
    x: np.ndarray, *, metric: DistanceMetric, block: int
) -> Iterator[tuple[int, int, np.ndarray]]:
    """``(start, stop, keys)`` for rows ``start:stop``: keys ``(stop - start, n)``, self = +inf.

    ``x`` must come from :func:`check_items`. Every block is written into the same buffer, so
    that only one ``block x n`` array is ever alive: use ``keys`` before taking the next block.
    """
    values, squared = _key_parts(x, metric)
    n = x.shape[0]
    buffer = np.empty((min(block, n), n), dtype=values.dtype)
    for start in range(0, n, block):
        stop = min(start + block, n)
        keys = np.matmul(values[start:stop], values.T, out=buffer[: stop - start])
        if squared is None:
            np.negative(keys, out=keys)
        else:
            keys *= -2
            keys += squared
        keys[np.arange(stop - start), np.arange(start, stop)] = np.inf
        yield start, stop, keys


def _chunks(keys: np.ndarray) -> Iterator[tuple[int, int]]:
    rows, n = keys.shape
    step = max(1, _CHUNK_CELLS // max(n, 1))
    for start in range(0, rows, step):
        yield start, min(start + step, rows)


def smallest_keys(keys: np.ndarray, k: int) -> np.ndarray:
    """Columns of the ``k`` smallest keys of each row, by increasing key, then index.

    >>> smallest_keys(np.array([[3.0, 1.0, 1.0, 0.5]]), 3).tolist()
    [[3, 1, 2]]
    """
    rows = keys.shape[0]
    out = np.empty((rows, k), dtype=np.intp)
    steps = np.arange(k)
    for start, stop in _chunks(keys):
        part = keys[start:stop]
        kth = np.partition(part, k - 1, axis=1)[:, k - 1]
        # Every key up to the k-th smallest is a candidate; ties at the k-th are kept so that
        # the smaller index can win them below.
        cand_row, cand_col = np.nonzero(part <= kth[:, None])
        order = np.lexsort((cand_col, part[cand_row, cand_col], cand_row))
        counts = np.bincount(cand_row, minlength=stop - start)
        first = np.concatenate(([0], np.cumsum(counts)[:-1]))
        out[start:stop] = cand_col[order[first[:, None] + steps]]
    return out


def ranks_in_rows(keys: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """1-based rank of ``columns[r, q]`` in row ``r``'s order of ``keys``; 0 where it is -1.

    The rank is one more than the number of items before it: those with a smaller key, and
    those with an equal key and a smaller index. Costs one pass over the row per column, so
    ``columns`` should hold only the items whose rank matters (trustworthiness: intruders).

    >>> ranks_in_rows(np.array([[3.0, 1.0, 1.0, 0.5]]), np.array([[0, 2, -1]])).tolist()
    [[4, 3, 0]]
    """
    ranks = np.zeros(columns.shape, dtype=np.int64)
    for start, stop in _chunks(keys):
        part = keys[start:stop]
        for q in range(columns.shape[1]):
            col = columns[start:stop, q]
            valid = col >= 0
            if not valid.any():
                continue
            # An absent column is given the key -inf, before which nothing comes.
            value = np.where(valid, part[np.arange(stop - start), np.maximum(col, 0)], -np.inf)
            before = np.count_nonzero(part < value[:, None], axis=1)
            tied = np.count_nonzero(part == value[:, None], axis=1)
            for r in np.nonzero(valid & (tied > 1))[0]:
                before[r] += np.count_nonzero(part[r, : col[r]] == value[r])
            ranks[start:stop, q] = np.where(valid, before + 1, 0)
    return ranks


def rank_rows(keys: np.ndarray) -> Iterator[tuple[int, int, np.ndarray]]:
    """``(start, stop, ranks)``: the full 1-based rank of every column in rows start:stop.

    >>> [ranks.tolist() for _, _, ranks in rank_rows(np.array([[3.0, 1.0, 1.0, 0.5]]))]
    [[[4, 2, 3, 1]]]
    """
    n = keys.shape[1]
    positions = np.arange(1, n + 1, dtype=np.int32)
    for start, stop in _chunks(keys):
        # A stable sort keeps equal keys in index order: the order of :func:`smallest_keys`.
        order = np.argsort(keys[start:stop], axis=1, kind="stable")
        ranks = np.empty(order.shape, dtype=np.int32)
        np.put_along_axis(ranks, order, np.broadcast_to(positions, order.shape), axis=1)
        yield start, stop, ranks


def knn_indices(
    x: np.ndarray, k: int, *, metric: DistanceMetric = "cosine", block: int = 2048
) -> np.ndarray:
    """The ``k`` nearest other items of every item: an ``(n, k)`` int array, nearest first.

    Ties are broken by the smaller index; an item is never its own neighbour. Works on
    ``block`` rows at a time: the distance block takes ``block * n`` floats, the rest is small.

    >>> x = np.array([[0.0], [1.0], [3.0], [4.5]])
    >>> knn_indices(x, 2, metric="euclidean", block=3).tolist()
    [[1, 2], [0, 2], [3, 1], [2, 1]]
    >>> knn_indices(np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]]), 1).tolist()
    [[1], [0], [1]]
    """
    items = check_items(x, "x", "knn_indices")
    n = items.shape[0]
    k = check_int(k, "k", "knn_indices", 1, n - 1, "n_items - 1")
    block = check_int(block, "block", "knn_indices", 1)
    metric = check_metric(metric, "knn_indices")
    out = np.empty((n, k), dtype=np.intp)
    for start, stop, keys in distance_blocks(items, metric=metric, block=block):
        out[start:stop] = smallest_keys(keys, k)
    return out


def relabel_neighbours(neighbours: np.ndarray, permutation: np.ndarray) -> np.ndarray:
    """Neighbour lists of ``x[permutation]``, given those of ``x``, without a new search.

    Row ``i`` of ``x[permutation]`` is row ``permutation[i]`` of ``x``, and item ``j`` of ``x``
    is item ``inverse[j]`` of the permuted set. Among equally distant items the order follows
    the old indices rather than the new ones, which only matters for exact ties.

    >>> relabel_neighbours(np.array([[1], [0], [1]]), np.array([2, 0, 1])).tolist()
    [[2], [2], [1]]
    """
    inverse = np.empty_like(permutation)
    inverse[permutation] = np.arange(permutation.size)
    return inverse[neighbours[permutation]]
