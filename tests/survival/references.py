"""Inputs and straightforward O(n²) references for the survival tests.

The references are the plain versions (full distance matrices, Gram matrices, Python sets) that
the blocked, scalable code of neco.survival must equal on small inputs.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import pdist, squareform

N, D = 120, 12


def gaussian(n: int = N, d: int = D, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d))


def rotation(d: int, seed: int = 1) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))
    return q * np.sign(np.diag(r))


def noisy(a: np.ndarray, sigma: float, seed: int = 2) -> np.ndarray:
    return a + sigma * np.random.default_rng(seed).normal(size=a.shape)


def full_distances(x: np.ndarray, metric: str) -> np.ndarray:
    distances = squareform(pdist(x, metric))
    np.fill_diagonal(distances, np.inf)
    return distances


def reference_knn(x: np.ndarray, k: int, metric: str) -> np.ndarray:
    return np.argsort(full_distances(x, metric), axis=1, kind="stable")[:, :k]


def reference_trustworthiness(a: np.ndarray, b: np.ndarray, k: int, metric: str) -> float:
    n = len(a)
    order = np.argsort(full_distances(a, metric), axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(1, n + 1)[None, :].repeat(n, 0), axis=1)
    nn_a, nn_b = order[:, :k], reference_knn(b, k, metric)
    penalty = sum(
        rank[i, j] - k for i in range(n) for j in nn_b[i] if j not in set(nn_a[i].tolist())
    )
    return 1 - 2 * penalty / (n * k * (2 * n - 3 * k - 1))


def reference_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Debiased linear CKA from n x n Gram matrices, U-centred (Nguyen, Raghu & Kornblith 2021)."""

    def u_centre(gram: np.ndarray) -> np.ndarray:
        gram = gram.copy()
        n = len(gram)
        np.fill_diagonal(gram, 0)
        means = gram.sum(axis=0) / (n - 2)
        means -= means.sum() / (2 * (n - 1))
        gram -= means[:, None] + means[None, :]
        np.fill_diagonal(gram, 0)
        return gram

    kx, ky = u_centre(x @ x.T), u_centre(y @ y.T)
    return float(np.sum(kx * ky) / np.sqrt(np.sum(kx * kx) * np.sum(ky * ky)))


def reference_song_hsic(x: np.ndarray, y: np.ndarray) -> float:
    """Song et al. (2012)'s unbiased HSIC, term by term, on uncentred linear Gram matrices."""
    n = len(x)
    k, l_ = x @ x.T, y @ y.T
    np.fill_diagonal(k, 0)
    np.fill_diagonal(l_, 0)
    ones = np.ones(n)
    return float(
        (
            np.trace(k @ l_)
            + (ones @ k @ ones) * (ones @ l_ @ ones) / ((n - 1) * (n - 2))
            - 2 / (n - 2) * (ones @ k @ l_ @ ones)
        )
        / (n * (n - 3))
    )


def reference_graph(edges: np.ndarray, b: np.ndarray, k: int | None) -> tuple[list, list]:
    n = len(b)
    neighbours: list[set[int]] = [set() for _ in range(n)]
    for i, j in edges.tolist():
        if i != j:
            neighbours[i].add(j)
            neighbours[j].add(i)
    order = reference_knn(b, n - 1, "cosine")
    jaccard, recall = [], []
    for i in range(n):
        if not neighbours[i]:
            jaccard.append(np.nan)
            recall.append(np.nan)
            continue
        near = set(order[i, : len(neighbours[i]) if k is None else k].tolist())
        jaccard.append(len(near & neighbours[i]) / len(near | neighbours[i]))
        recall.append(len(near & neighbours[i]) / len(neighbours[i]))
    return jaccard, recall
