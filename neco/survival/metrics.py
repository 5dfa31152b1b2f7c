"""Structure-preservation metrics: how much of one representation's structure another keeps.

Every metric compares two representations of the same ``n`` items, row ``i`` of ``a`` and row
``i`` of ``b`` being the same item (a caption as a sentence embedding and as a CLIP text
embedding, say). ``a`` is the reference (the social side, or the earlier stage) and ``b`` the
representation whose survival is measured. Higher always means that more survives. Inputs are
``(n, dim)`` float arrays; float32 is computed in float32, anything else in float64.

Local structure (neighbourhoods from :func:`neco.survival.neighbours.knn_indices`, cosine by
default):

- :func:`mutual_knn_overlap` — share of an item's ``k`` nearest neighbours that are the same in
  both spaces (Huh, Cheung, Wang & Isola 2024, "The Platonic Representation Hypothesis", ICML);
- :func:`knn_jaccard` — Jaccard index of the two kNN sets;
- :func:`trustworthiness` and :func:`continuity` — rank-based penalties for neighbours that
  ``b`` invents, and for neighbours of ``a`` that it loses (Venna & Kaski 2001, "Neighborhood
  preservation in nonlinear projection methods: an experimental study", ICANN).

Global structure:

- :func:`linear_cka` — centred kernel alignment with linear kernels (Kornblith, Norouzi, Lee &
  Hinton 2019, "Similarity of Neural Network Representations Revisited", ICML), with the
  unbiased HSIC estimator of Song, Smola, Gretton, Bedo & Borgwardt 2012 (JMLR) as used by
  Nguyen, Raghu & Kornblith 2021 (ICLR);
- :func:`rsa_spearman` — representational similarity analysis: Spearman correlation of the two
  distance matrices (Kriegeskorte, Mur & Bandettini 2008, Frontiers in Systems Neuroscience).

Partition structure: :func:`partition_ami` (adjusted mutual information, Vinh, Epps & Bailey
2010, JMLR) between social communities and :func:`cluster_vectors` of a neural representation.

The social side as a graph rather than vectors is in :mod:`neco.survival.graph_overlap`; nulls,
bootstrap intervals and the :class:`~neco.survival.scoring.Score` that gathers them in
:mod:`neco.survival.scoring`. Each metric with a faster permutation null than recomputing it
has a private ``_*_null`` function here, next to the metric, that :mod:`~neco.survival.scoring`
uses: kNN metrics search neighbours once per side, because permuting the rows of ``b`` only
relabels ``b``'s neighbour lists (:func:`~neco.survival.neighbours.relabel_neighbours`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from neco._lazy import require
from neco.errors import NecoError
from neco.survival.neighbours import (
    DistanceMetric,
    check_int,
    check_items,
    check_metric,
    check_pair,
    distance_blocks,
    knn_indices,
    rank_rows,
    ranks_in_rows,
    relabel_neighbours,
    smallest_keys,
)

__all__ = [
    "DEFAULT_K",
    "RSA_MAX_ITEMS",
    "RsaResult",
    "cluster_vectors",
    "continuity",
    "continuity_per_item",
    "knn_jaccard",
    "knn_jaccard_per_item",
    "linear_cka",
    "mutual_knn_overlap",
    "mutual_knn_per_item",
    "partition_ami",
    "rsa_spearman",
    "trustworthiness",
    "trustworthiness_per_item",
]

DEFAULT_K = 10
"""Neighbours per item for the kNN metrics (Huh et al. 2024 use 10)."""
RSA_MAX_ITEMS = 2000
"""Items that RSA compares at most: 2,000 items are about two million distance pairs."""
_MINIBATCH_ABOVE = 10_000  # items beyond which cluster_vectors uses mini-batch k-means
_CKA_ROWS = 8192  # rows centred in float64 at a time by linear_cka


# --------------------------------------------------------------------------------------------
# Local structure: shared neighbours
# --------------------------------------------------------------------------------------------


def _neighbours_of_both(
    a: object, b: object, k: int, metric: str, block: int, function: str
) -> tuple[np.ndarray, np.ndarray, int]:
    x, y = check_pair(a, b, function)
    k = check_int(k, "k", function, 1, x.shape[0] - 1, "n_items - 1")
    block = check_int(block, "block", function, 1)
    metric = check_metric(metric, function)
    nn_a = knn_indices(x, k, metric=metric, block=block)
    nn_b = knn_indices(y, k, metric=metric, block=block)
    return nn_a, nn_b, k


def _shared_counts(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Per row, how many entries the two neighbour lists share (no repeats within a list)."""
    both = np.sort(np.concatenate([first, second], axis=1), axis=1)
    return np.count_nonzero(both[:, 1:] == both[:, :-1], axis=1)


def _set_similarity(shared: np.ndarray, k: int, kind: str) -> np.ndarray:
    return shared / k if kind == "overlap" else shared / (2 * k - shared)


def mutual_knn_per_item(
    a: np.ndarray,
    b: np.ndarray,
    k: int = DEFAULT_K,
    *,
    metric: DistanceMetric = "cosine",
    block: int = 2048,
) -> np.ndarray:
    """Per item, ``|kNN_a(i) ∩ kNN_b(i)| / k``; their mean is :func:`mutual_knn_overlap`.

    >>> a = np.array([[0.0], [1.0], [3.0], [4.5]])
    >>> b = np.array([[0.0], [1.0], [3.0], [1.8]])
    >>> mutual_knn_per_item(a, b, 1, metric="euclidean").tolist()
    [1.0, 0.0, 1.0, 0.0]
    """
    nn_a, nn_b, k = _neighbours_of_both(a, b, k, metric, block, "mutual_knn_per_item")
    return _set_similarity(_shared_counts(nn_a, nn_b), k, "overlap")


def mutual_knn_overlap(
    a: np.ndarray,
    b: np.ndarray,
    k: int = DEFAULT_K,
    *,
    metric: DistanceMetric = "cosine",
    block: int = 2048,
) -> float:
    """Mutual k-nearest-neighbour overlap (Huh et al. 2024): 1 when every neighbourhood is kept.

    The mean over items of the share of the ``k`` nearest neighbours (cosine by default) that
    ``a`` and ``b`` have in common. Unrelated representations score about ``k / (n - 1)``.

    Points 0, 1, 3, 4.5 on a line, against the same points with the last moved to 1.8: items
    1 and 3 become each other's nearest neighbours, items 0 and 2 keep theirs.

    >>> a = np.array([[0.0], [1.0], [3.0], [4.5]])
    >>> b = np.array([[0.0], [1.0], [3.0], [1.8]])
    >>> mutual_knn_overlap(a, b, 1, metric="euclidean")
    0.5
    """
    nn_a, nn_b, k = _neighbours_of_both(a, b, k, metric, block, "mutual_knn_overlap")
    return float(np.mean(_set_similarity(_shared_counts(nn_a, nn_b), k, "overlap")))


def knn_jaccard_per_item(
    a: np.ndarray,
    b: np.ndarray,
    k: int = DEFAULT_K,
    *,
    metric: DistanceMetric = "cosine",
    block: int = 2048,
) -> np.ndarray:
    """Per item, the Jaccard index ``|A ∩ B| / |A ∪ B|`` of its two kNN sets.

    >>> a = np.array([[0.0], [1.0], [3.0], [4.5]])
    >>> knn_jaccard_per_item(a, a, 2, metric="euclidean").tolist()
    [1.0, 1.0, 1.0, 1.0]
    """
    nn_a, nn_b, k = _neighbours_of_both(a, b, k, metric, block, "knn_jaccard_per_item")
    return _set_similarity(_shared_counts(nn_a, nn_b), k, "jaccard")


def knn_jaccard(
    a: np.ndarray,
    b: np.ndarray,
    k: int = DEFAULT_K,
    *,
    metric: DistanceMetric = "cosine",
    block: int = 2048,
) -> float:
    """Mean Jaccard index of the kNN sets of every item in ``a`` and in ``b``.

    With ``s`` shared neighbours out of ``k`` the Jaccard index is ``s / (2k - s)``: stricter
    than :func:`mutual_knn_overlap` (``s / k``), equal to it at 0 and 1.

    >>> a = np.array([[0.0], [1.0], [3.0], [4.5]])
    >>> b = np.array([[0.0], [1.0], [3.0], [1.8]])
    >>> round(knn_jaccard(a, b, 2, metric="euclidean"), 4)  # items 0 and 1 keep one of two
    0.6667
    """
    nn_a, nn_b, k = _neighbours_of_both(a, b, k, metric, block, "knn_jaccard")
    return float(np.mean(_set_similarity(_shared_counts(nn_a, nn_b), k, "jaccard")))


def _knn_set_null(
    kind: str,
    a: np.ndarray,
    b: np.ndarray,
    rng: np.random.Generator,
    n_samples: int,
    *,
    k: int = DEFAULT_K,
    metric: DistanceMetric = "cosine",
    block: int = 2048,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-item observed values and ``n_samples`` null values, from one search per side."""
    function = "mutual_knn_overlap" if kind == "overlap" else "knn_jaccard"
    nn_a, nn_b, k = _neighbours_of_both(a, b, k, metric, block, function)
    observed = _set_similarity(_shared_counts(nn_a, nn_b), k, kind)
    null = np.empty(n_samples)
    for s in range(n_samples):
        permuted = relabel_neighbours(nn_b, rng.permutation(nn_b.shape[0]))
        null[s] = np.mean(_set_similarity(_shared_counts(nn_a, permuted), k, kind))
    return observed, null


# --------------------------------------------------------------------------------------------
# Local structure: trustworthiness and continuity
# --------------------------------------------------------------------------------------------


def _trust_scale(n: int, k: int) -> float:
    # Venna & Kaski's normalisation, per item: the worst possible penalty of one item maps to 1.
    return 2.0 / (k * (2.0 * n - 3.0 * k - 1.0))


def _trust_inputs(
    reference: object, embedded: object, k: int, metric: str, block: int, function: str
) -> tuple[np.ndarray, np.ndarray, int, DistanceMetric, int]:
    x, y = check_pair(reference, embedded, function)
    n = x.shape[0]
    # Beyond n/2 the normalisation no longer keeps the score in [0, 1] (as in scikit-learn).
    k = check_int(k, "k", function, 1, (n - 1) // 2, "(n_items - 1) // 2")
    block = check_int(block, "block", function, 1)
    return x, y, k, check_metric(metric, function), block


def _trust_penalties(
    reference: np.ndarray, nn_embedded: np.ndarray, k: int, metric: DistanceMetric, block: int
) -> np.ndarray:
    """Per item, the sum of ``rank_reference(i, j) - k`` over intruders ``j``.

    An intruder is a neighbour in the embedding that is not one in the reference. Only the
    intruders' ranks are counted, one pass over the distance row each, so the cost is
    ``O(n² (dim + intruders))`` and memory ``O(block * n)``.
    """
    penalties = np.zeros(reference.shape[0])
    for start, stop, keys in distance_blocks(reference, metric=metric, block=block):
        embedded = nn_embedded[start:stop]
        kept = (embedded[:, :, None] == smallest_keys(keys, k)[:, None, :]).any(axis=2)
        # Intruders first, so that the rank pass stops at the longest intruder list.
        order = np.argsort(kept, axis=1, kind="stable")
        columns = np.where(
            np.take_along_axis(kept, order, 1), -1, np.take_along_axis(embedded, order, 1)
        )
        width = int(np.max(np.count_nonzero(~kept, axis=1), initial=0))
        ranks = ranks_in_rows(keys, columns[:, :width])
        penalties[start:stop] = np.maximum(ranks - k, 0).sum(axis=1)
    return penalties


def trustworthiness_per_item(
    a: np.ndarray,
    b: np.ndarray,
    k: int = DEFAULT_K,
    *,
    metric: DistanceMetric = "cosine",
    block: int = 2048,
) -> np.ndarray:
    """Per item ``1 - 2 / (k (2n - 3k - 1)) * Σ (r(i, j) - k)``; the mean is trustworthiness.

    >>> a = np.array([[0.0], [1.0], [3.0], [4.5], [8.0]])
    >>> trustworthiness_per_item(a, a, 2, metric="euclidean").tolist()
    [1.0, 1.0, 1.0, 1.0, 1.0]
    """
    x, y, k, metric, block = _trust_inputs(a, b, k, metric, block, "trustworthiness_per_item")
    nn_b = knn_indices(y, k, metric=metric, block=block)
    return 1.0 - _trust_scale(x.shape[0], k) * _trust_penalties(x, nn_b, k, metric, block)


def trustworthiness(
    a: np.ndarray,
    b: np.ndarray,
    k: int = DEFAULT_K,
    *,
    metric: DistanceMetric = "cosine",
    block: int = 2048,
) -> float:
    """Trustworthiness of ``b`` as a map of ``a`` (Venna & Kaski 2001): no invented neighbours.

    ``T = 1 - 2 / (n k (2n - 3k - 1)) Σ_i Σ_{j ∈ U_k(i)} (r(i, j) - k)``, where ``U_k(i)`` are
    the ``k`` nearest neighbours of ``i`` in ``b`` that are not among its ``k`` nearest in
    ``a``, and ``r(i, j)`` is the rank of ``j`` in ``i``'s order in ``a``. 1 when ``b`` keeps
    every neighbourhood; about 0.5 for an unrelated ``b``. ``k`` must stay below ``n / 2``.

    Equals ``sklearn.manifold.trustworthiness(a, b, n_neighbors=k, metric="euclidean")`` with
    ``metric="euclidean"`` (scikit-learn's default). Note that scikit-learn's ``metric`` only
    applies to ``a`` (``b`` is always euclidean), whereas here it applies to both; cosine is
    the default so that every metric of this module shares one neighbourhood. Ranks are
    counted in row blocks, never from an ``n x n`` matrix, so ``n = 100,000`` fits in memory.

    Items 3 and 4 swap places: item 2's new nearest neighbour, 4, was 4th in its order in
    ``a`` (penalty 3), item 3's was 3rd (penalty 2), item 4's was 2nd (penalty 1), and the
    normalisation for ``n = 5``, ``k = 1`` is ``2 / (5 * 1 * 6)``: ``T = 1 - 6 / 15``.

    >>> a = np.array([[0.0], [1.0], [3.0], [4.5], [8.2]])
    >>> b = np.array([[0.0], [1.0], [3.0], [8.2], [4.5]])
    >>> trustworthiness(a, b, 1, metric="euclidean")
    0.6
    """
    x, y, k, metric, block = _trust_inputs(a, b, k, metric, block, "trustworthiness")
    nn_b = knn_indices(y, k, metric=metric, block=block)
    penalty = _trust_penalties(x, nn_b, k, metric, block).sum()
    return float(1.0 - _trust_scale(x.shape[0], k) * penalty / x.shape[0])


def continuity_per_item(
    a: np.ndarray,
    b: np.ndarray,
    k: int = DEFAULT_K,
    *,
    metric: DistanceMetric = "cosine",
    block: int = 2048,
) -> np.ndarray:
    """Per-item continuity: :func:`trustworthiness_per_item` with ``a`` and ``b`` swapped.

    >>> a = np.array([[0.0], [1.0], [3.0], [4.5], [8.0]])
    >>> continuity_per_item(a, a, 2, metric="euclidean").tolist()
    [1.0, 1.0, 1.0, 1.0, 1.0]
    """
    y, x, k, metric, block = _trust_inputs(a, b, k, metric, block, "continuity_per_item")
    nn_a = knn_indices(y, k, metric=metric, block=block)
    return 1.0 - _trust_scale(x.shape[0], k) * _trust_penalties(x, nn_a, k, metric, block)


def continuity(
    a: np.ndarray,
    b: np.ndarray,
    k: int = DEFAULT_K,
    *,
    metric: DistanceMetric = "cosine",
    block: int = 2048,
) -> float:
    """Continuity (Venna & Kaski 2001): no lost neighbours; ``trustworthiness(b, a, k)``.

    Penalises the neighbours that items have in ``a`` but not in ``b``, by their rank in ``b``.

    >>> a = np.array([[0.0], [1.0], [3.0], [4.5], [8.2]])
    >>> b = np.array([[0.0], [1.0], [3.0], [8.2], [4.5]])
    >>> continuity(a, b, 1, metric="euclidean")
    0.6
    """
    y, x, k, metric, block = _trust_inputs(a, b, k, metric, block, "continuity")
    nn_a = knn_indices(y, k, metric=metric, block=block)
    penalty = _trust_penalties(x, nn_a, k, metric, block).sum()
    return float(1.0 - _trust_scale(x.shape[0], k) * penalty / x.shape[0])


def _trust_null(
    reference: np.ndarray,
    embedded: np.ndarray,
    rng: np.random.Generator,
    n_samples: int,
    *,
    k: int = DEFAULT_K,
    metric: DistanceMetric = "cosine",
    block: int = 2048,
    function: str = "trustworthiness",
) -> tuple[np.ndarray, np.ndarray]:
    """Per-item observed trustworthiness and ``n_samples`` values with the embedding permuted.

    Each distance row of the reference is sorted once (``O(n² log n)``) into full ranks, which
    then serve the observed value and every permutation by lookup; the embedding's neighbours
    are searched once and relabelled per permutation. Beyond some 20,000 items, subsample.
    """
    x, y, k, metric, block = _trust_inputs(reference, embedded, k, metric, block, function)
    n = x.shape[0]
    nn_y = knn_indices(y, k, metric=metric, block=block)
    permutations = np.stack([rng.permutation(n) for _ in range(n_samples)])
    inverses = np.argsort(permutations, axis=1)
    observed = np.zeros(n)
    null = np.zeros(n_samples)
    for start, _, keys in distance_blocks(x, metric=metric, block=block):
        for low, high, ranks in rank_rows(keys):
            rows = np.arange(start + low, start + high)
            local = np.arange(high - low)[:, None]
            observed[rows] = np.maximum(ranks[local, nn_y[rows]] - k, 0).sum(axis=1)
            for s in range(n_samples):
                neighbours = inverses[s][nn_y[permutations[s][rows]]]
                null[s] += np.maximum(ranks[local, neighbours] - k, 0).sum()
    scale = _trust_scale(n, k)
    return 1.0 - scale * observed, 1.0 - scale * null / n


def _continuity_null(
    a: np.ndarray, b: np.ndarray, rng: np.random.Generator, n_samples: int, **params: Any
) -> tuple[np.ndarray, np.ndarray]:
    # continuity(a, b[p]) = trustworthiness(b[p], a) = trustworthiness(b, a[p⁻¹]) by relabelling
    # every item, and p⁻¹ is as uniformly random as p: the same null as trustworthiness(b, a).
    check_pair(a, b, "continuity")  # so that a mismatch names the arguments as given
    return _trust_null(b, a, rng, n_samples, function="continuity", **params)


# --------------------------------------------------------------------------------------------
# Global structure
# --------------------------------------------------------------------------------------------


def _hsic(frobenius: float, sq_x: np.ndarray, sq_y: np.ndarray, debiased: bool) -> float:
    """HSIC of linear kernels from centred features: ``frobenius = ||X^T Y||_F²``.

    With centred columns ``K 1 = 0``, so the terms of Song et al.'s unbiased estimator that
    involve the all-ones vector reduce to the diagonals ``sq_x = diag(X X^T)``, ``sq_y``.
    """
    n = sq_x.size
    if not debiased:
        return frobenius / (n - 1) ** 2
    diagonal = float(sq_x @ sq_y)
    return (
        frobenius
        - diagonal
        + sq_x.sum() * sq_y.sum() / ((n - 1) * (n - 2))
        - 2.0 * diagonal / (n - 2)
    ) / (n * (n - 3))


def linear_cka(a: np.ndarray, b: np.ndarray, *, debiased: bool = True) -> float:
    """Linear centred kernel alignment (Kornblith et al. 2019), debiased by default.

    ``HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L))`` with ``K = A A^T`` and ``L = B B^T`` on
    centred features. ``debiased=True`` uses the unbiased HSIC estimator (Song et al. 2012),
    which keeps unrelated representations near 0 even when ``dim`` is large against ``n``
    (Nguyen et al. 2021); the biased one does not. Invariant to orthogonal transforms and
    isotropic scaling of either side. Computed from ``dim x dim`` feature products in float64,
    never from ``n x n`` Gram matrices; ``nan`` when a side has no variance (or, for a few
    items, when the debiased estimate of its own HSIC is not positive).

    >>> rng = np.random.default_rng(0)
    >>> a = rng.normal(size=(50, 4))
    >>> round(linear_cka(a, 3 * a[:, ::-1]), 6)
    1.0
    """
    x, y = check_pair(a, b, "linear_cka")
    return _cka_with_null(x, y, debiased)[0]


def _centred_product(x: np.ndarray, y: np.ndarray, order: np.ndarray | None = None) -> np.ndarray:
    """``X_c^T Y_c`` in float64 over row blocks, with the rows of ``y`` taken in ``order``."""
    n = x.shape[0]
    mean_x = x.mean(axis=0, dtype=np.float64)
    mean_y = y.mean(axis=0, dtype=np.float64)
    product = np.zeros((x.shape[1], y.shape[1]))
    for start in range(0, n, _CKA_ROWS):
        rows = np.arange(start, min(start + _CKA_ROWS, n))
        part_y = y[rows if order is None else order[rows]].astype(np.float64) - mean_y
        product += (x[rows].astype(np.float64) - mean_x).T @ part_y
    return product


def _centred_norms(x: np.ndarray) -> np.ndarray:
    """``diag(X_c X_c^T)``: the squared norm of every centred row, in float64."""
    mean = x.mean(axis=0, dtype=np.float64)
    norms = np.empty(x.shape[0])
    for start in range(0, x.shape[0], _CKA_ROWS):
        centred = x[start : start + _CKA_ROWS].astype(np.float64) - mean
        norms[start : start + _CKA_ROWS] = np.einsum("ij,ij->i", centred, centred)
    return norms


def _cka_with_null(
    x: np.ndarray, y: np.ndarray, debiased: bool, permutations: Sequence[np.ndarray] = ()
) -> tuple[float, np.ndarray]:
    """CKA of checked ``x`` and ``y``, and with the rows of ``y`` in each of ``permutations``.

    Permuting rows changes neither side's own HSIC, so a null value costs one cross product.
    """
    n = x.shape[0]
    if debiased and n < 4:
        raise NecoError(f"linear_cka with debiased=True needs at least 4 items; found {n}.")
    sq_x, sq_y = _centred_norms(x), _centred_norms(y)
    hsic_xx = _hsic(float(np.sum(_centred_product(x, x) ** 2)), sq_x, sq_x, debiased)
    hsic_yy = _hsic(float(np.sum(_centred_product(y, y) ** 2)), sq_y, sq_y, debiased)
    if hsic_xx <= 0 or hsic_yy <= 0:
        return float("nan"), np.full(len(permutations), np.nan)
    scale = np.sqrt(hsic_xx * hsic_yy)
    value = _hsic(float(np.sum(_centred_product(x, y) ** 2)), sq_x, sq_y, debiased) / scale
    null = [
        _hsic(float(np.sum(_centred_product(x, y, order) ** 2)), sq_x, sq_y[order], debiased)
        / scale
        for order in permutations
    ]
    return float(value), np.array(null)


def _cka_null(
    a: np.ndarray, b: np.ndarray, rng: np.random.Generator, n_samples: int, *, debiased: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    x, y = check_pair(a, b, "linear_cka")
    permutations = [rng.permutation(x.shape[0]) for _ in range(n_samples)]
    value, null = _cka_with_null(x, y, debiased, permutations)
    return np.array(value), null


@dataclass(frozen=True)
class RsaResult:
    """A Spearman RSA score and the number of items it compared (at most ``max_items``)."""

    value: float
    n_items_used: int

    def __float__(self) -> float:
        return self.value


def _rsa_subsample(n: int, max_items: int, seed: int) -> np.ndarray:
    if n <= max_items:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_items, replace=False))


def _condensed_distances(x: np.ndarray, metric: DistanceMetric) -> np.ndarray:
    if metric == "euclidean":
        return require("scipy.spatial.distance", "nlp").pdist(x, "euclidean")
    # Cosine from normalised rows rather than pdist(x, "cosine"), so that a zero row is at
    # distance 1 from everything (as in the neighbour search) instead of NaN.
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    unit = (x / np.where(norms > 0, norms, 1)).astype(np.float64)
    upper = np.triu_indices(x.shape[0], k=1)
    return 1.0 - (unit @ unit.T)[upper]


def _rsa_parts(
    a: object, b: object, max_items: int, seed: int, metric: str
) -> tuple[np.ndarray, np.ndarray, int]:
    x, y = check_pair(a, b, "rsa_spearman")
    max_items = check_int(max_items, "max_items", "rsa_spearman", 3)
    metric = check_metric(metric, "rsa_spearman")
    items = _rsa_subsample(x.shape[0], max_items, seed)
    first = _condensed_distances(x[items], metric)
    return first, _condensed_distances(y[items], metric), items.size


def _spearman(first: np.ndarray, second: np.ndarray) -> float:
    # A constant distance vector has no ranks to correlate: undefined, not zero.
    if np.ptp(first) == 0 or np.ptp(second) == 0:
        return float("nan")
    return float(require("scipy.stats", "nlp").spearmanr(first, second).statistic)


def rsa_spearman(
    a: np.ndarray,
    b: np.ndarray,
    *,
    max_items: int = RSA_MAX_ITEMS,
    seed: int = 0,
    metric: DistanceMetric = "cosine",
) -> RsaResult:
    """Representational similarity analysis (Kriegeskorte et al. 2008) with Spearman's rho.

    Correlates the ranks of all pairwise distances (cosine by default) among the items in
    ``a`` with those in ``b``. Above ``max_items`` items, a seeded random subset of
    ``max_items`` is compared, because the pairs grow as ``n²``. ``nan`` if every pair of a
    side is equally distant.

    >>> a = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [-1.0, 0.2]])
    >>> rsa_spearman(a, 2 * a)
    RsaResult(value=1.0, n_items_used=4)
    """
    first, second, used = _rsa_parts(a, b, max_items, seed, metric)
    return RsaResult(_spearman(first, second), used)


def _rsa_null(
    a: np.ndarray,
    b: np.ndarray,
    rng: np.random.Generator,
    n_samples: int,
    *,
    max_items: int = RSA_MAX_ITEMS,
    seed: int = 0,
    metric: DistanceMetric = "cosine",
) -> tuple[np.ndarray, np.ndarray]:
    """Mantel-style null: the items of the subsample are permuted, so ranks are computed once.

    Spearman's rho is Pearson's r of ranks, and permuting items permutes the ranks of ``b``'s
    distance matrix without changing their mean or spread; each permutation is one dot product.
    """
    stats = require("scipy.stats", "nlp")
    distance = require("scipy.spatial.distance", "nlp")
    first, second, _ = _rsa_parts(a, b, max_items, seed, metric)
    observed = _spearman(first, second)
    if np.isnan(observed):
        return np.array(observed), np.full(n_samples, np.nan)
    ranks_a = stats.rankdata(first)
    ranks_a -= ranks_a.mean()
    ranks_b = stats.rankdata(second)
    ranks_b -= ranks_b.mean()
    denominator = np.sqrt((ranks_a @ ranks_a) * (ranks_b @ ranks_b))
    square_b = distance.squareform(ranks_b)
    upper = np.triu_indices(square_b.shape[0], k=1)
    null = np.empty(n_samples)
    for s in range(n_samples):
        order = rng.permutation(square_b.shape[0])
        null[s] = ranks_a @ square_b[order[upper[0]], order[upper[1]]] / denominator
    return np.array(observed), null


# --------------------------------------------------------------------------------------------
# Partition structure
# --------------------------------------------------------------------------------------------


def partition_ami(labels_a: object, labels_b: object) -> float:
    """Adjusted mutual information (Vinh et al. 2010) between two labellings of the same items.

    1 for the same partition under any renaming of labels, about 0 for unrelated ones; computed
    by ``sklearn.metrics.adjusted_mutual_info_score`` (arithmetic normalisation).

    >>> partition_ami(["art", "art", "photo", "photo"], [1, 1, 0, 0])
    1.0
    """
    first = np.asarray(labels_a)
    second = np.asarray(labels_b)
    if first.ndim != 1 or second.ndim != 1 or first.size != second.size:
        raise NecoError(
            "partition_ami needs one label per item on both sides: expected two 1-D sequences "
            f"of the same length, found shapes {first.shape} and {second.shape}."
        )
    metrics = require("sklearn.metrics", "nlp")
    return float(metrics.adjusted_mutual_info_score(first, second))


def cluster_vectors(
    x: np.ndarray, n_clusters: int, seed: int = 0, *, metric: DistanceMetric = "cosine"
) -> np.ndarray:
    """Cluster labels ``(n,)`` of a representation, for :func:`partition_ami`.

    k-means (Lloyd's algorithm, k-means++ seeding, four restarts), or mini-batch k-means
    (Sculley 2010) above 10,000 items; seeded. With ``metric="cosine"`` rows are normalised
    first, so that clusters follow directions as the neighbour metrics do.

    >>> x = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    >>> labels = cluster_vectors(x, 2)
    >>> bool(labels[0] == labels[1] != labels[2] == labels[3])
    True
    """
    values = check_items(x, "x", "cluster_vectors")
    n_clusters = check_int(n_clusters, "n_clusters", "cluster_vectors", 2, len(values), "n_items")
    if check_metric(metric, "cluster_vectors") == "cosine":
        norms = np.linalg.norm(values, axis=1, keepdims=True)
        values = values / np.where(norms > 0, norms, 1).astype(values.dtype)
    cluster = require("sklearn.cluster", "nlp")
    if len(values) > _MINIBATCH_ABOVE:
        model = cluster.MiniBatchKMeans(n_clusters, random_state=seed, n_init=3)
    else:
        model = cluster.KMeans(n_clusters, random_state=seed, n_init=4)
    return np.asarray(model.fit_predict(values))
