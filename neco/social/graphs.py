"""Graphs of terms and captions: co-occurrence, backbones, communities, centralities, export.

A caption corpus becomes a document-term count matrix (documents in rows, terms in columns,
any ``scipy.sparse`` format). This module turns such a matrix into graphs that a researcher can
reduce, partition, measure and hand over to Gephi, R or a spreadsheet. Every weight it writes is
defined here, so that a number in a figure can be traced back to a formula.

Weights
-------
``cooccurrence_graph`` -- *normalised pointwise mutual information* (NPMI; Bouma 2009) at the
    document level. With ``D`` documents, ``df_x`` documents containing term ``x`` and ``df_xy``
    documents containing both ``x`` and ``y``: ``p(x) = df_x / D``, ``p(x, y) = df_xy / D``,
    ``pmi = log(p(x, y) / (p(x) p(y)))`` (natural log) and ``npmi = pmi / -log p(x, y)``, which is
    1 for terms that only ever occur together, 0 for independent terms and tends to -1 for terms
    that avoid each other. NPMI is set to 1 when ``p(x, y) = 1`` (both terms in every document).
    Edges carry ``weight`` (NPMI), ``pmi`` and ``count`` (``df_xy``).
``disparity_filter`` -- keeps the edges that are *locally* significant (Serrano, Boguñá &
    Vespignani 2009): under the null hypothesis that a node with degree ``k`` and strength ``s``
    spreads its strength uniformly at random over its ``k`` edges, the probability that one edge
    receives a share of at least ``p = w / s`` is ``alpha = (1 - p) ** (k - 1)``. Edges carry
    ``alpha``, the smaller of the two endpoints' values (the significance used to keep them).
``bipartite_graph`` -- tf-idf of a term in a caption: ``tf * idf`` with ``tf`` the raw count and
    ``idf = ln(D / df) + 1`` (scikit-learn's ``TfidfTransformer(norm=None, smooth_idf=False,
    sublinear_tf=False)``). The ``+ 1`` keeps a term that occurs in every caption on the graph
    with a positive weight instead of erasing it.
``term_projection`` -- cosine similarity of two terms' tf-idf columns (caption profiles). The idf
    multiplies a whole column, so this equals the cosine of the raw count columns.
``document_projection`` -- cosine similarity of two captions' tf-idf rows (l2-normalised), kept
    for each caption's ``k`` most similar captions.
``detect_communities`` -- Leiden (Traag, Waltman & van Eck 2019) on the RB configuration model
    (modularity with a resolution parameter) or Louvain (Blondel et al. 2008), and the
    modularity (Newman 2006; with resolution as in Reichardt & Bornholdt 2006) of the result.
``add_centralities`` -- degree, strength (sum of weights), betweenness (shortest paths with length
    ``1 / weight``, because the weights here are similarities: a strong tie is a short distance)
    and eigenvector centrality (weights used as they are).

References
----------
- Bouma, G. (2009). Normalized (pointwise) mutual information in collocation extraction.
  Proceedings of the Biennial GSCL Conference 2009, 31-40.
- Serrano, M. Á., Boguñá, M., & Vespignani, A. (2009). Extracting the multiscale backbone of
  complex weighted networks. PNAS, 106(16), 6483-6488. https://doi.org/10.1073/pnas.0808904106
- Traag, V. A., Waltman, L., & van Eck, N. J. (2019). From Louvain to Leiden: guaranteeing
  well-connected communities. Scientific Reports, 9, 5233.
  https://doi.org/10.1038/s41598-019-41695-z
- Blondel, V. D., Guillaume, J.-L., Lambiotte, R., & Lefebvre, E. (2008). Fast unfolding of
  communities in large networks. J. Stat. Mech., P10008.
- Newman, M. E. J. (2006). Modularity and community structure in networks. PNAS, 103(23).
- Reichardt, J., & Bornholdt, S. (2006). Statistical mechanics of community detection.
  Phys. Rev. E, 74, 016110.
- Brandes, U. (2001). A faster algorithm for betweenness centrality. J. Math. Sociol., 25(2).
"""

from __future__ import annotations

import contextlib
import hashlib
import numbers
import os
import re
import uuid
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import eigsh

from neco.errors import NecoError

__all__ = [
    "InvalidParameterError",
    "add_centralities",
    "bipartite_graph",
    "check_disparity_alpha",
    "check_export_path",
    "cooccurrence_graph",
    "detect_communities",
    "disparity_filter",
    "document_projection",
    "export_graph",
    "graph_tables",
    "term_projection",
]

#: Graphs with at most this many nodes get exact betweenness; larger ones are sampled.
EXACT_BETWEENNESS_MAX_NODES = 2000
#: Number of sampled source nodes for approximate betweenness when none is given.
DEFAULT_BETWEENNESS_SAMPLES = 500
#: Connected components up to this size get a dense eigendecomposition; larger ones ARPACK.
_DENSE_EIGEN_MAX_NODES = 400
#: document_projection computes at most this many similarity cells (rows x documents) at once.
MAX_BLOCK_CELLS = 2**23

COMMUNITY_METHODS = ("leiden", "louvain")
EXPORT_SUFFIXES = (".gexf", ".graphml", ".parquet")

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


# --------------------------------------------------------------------------- validation


class InvalidParameterError(NecoError, ValueError):
    """A bad argument to a function of this module.

    A :class:`~neco.errors.NecoError`, so the CLI reports it without a traceback (exit code 2),
    and a ``ValueError``, as scikit-learn's error of the same name is, for code that catches that.
    """


def _param_error(func: str, param: str, expected: str, got: str) -> InvalidParameterError:
    return InvalidParameterError(
        f"The {param!r} parameter of {func} must be {expected}. Got {got} instead."
    )


def _check_int(value: object, func: str, param: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise _param_error(func, param, f"an int >= {minimum}", repr(value))
    return int(value)


def _check_float(
    value: object, func: str, param: str, *, low: float, high: float, closed: str
) -> float:
    """Check ``value`` is a real number in an interval; ``closed`` is "both", "neither", "left"."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok:
        x = float(value)  # type: ignore[arg-type]
        left_ok = x >= low if closed in ("both", "left") else x > low
        right_ok = x <= high if closed == "both" else x < high
        ok = left_ok and right_ok
    if not ok:
        left = "[" if closed in ("both", "left") else "("
        right = "]" if closed == "both" else ")"
        raise _param_error(func, param, f"a float in {left}{low:g}, {high:g}{right}", repr(value))
    return float(value)  # type: ignore[arg-type]


def _check_graph(graph: object, func: str) -> nx.Graph:
    if not isinstance(graph, nx.Graph) or graph.is_directed() or graph.is_multigraph():
        raise _param_error(
            func,
            "graph",
            "an undirected networkx.Graph (not a DiGraph or MultiGraph)",
            f"a {type(graph).__name__}",
        )
    return graph


def _as_counts(matrix: object, func: str) -> sp.csr_matrix:
    """A canonical CSR copy of a non-negative documents x terms matrix (explicit zeros removed)."""
    if sp.issparse(matrix) and matrix.ndim == 2:  # type: ignore[attr-defined]
        csr = sp.csr_matrix(matrix, copy=True)
    elif isinstance(matrix, np.ndarray) and matrix.ndim == 2:
        csr = sp.csr_matrix(matrix)
    else:
        raise _param_error(
            func,
            "matrix",
            "a 2-D scipy.sparse matrix of counts (documents x terms)",
            f"a {type(matrix).__name__}",
        )
    if csr.dtype == np.bool_:
        csr = csr.astype(np.int64)
    if not (np.issubdtype(csr.dtype, np.integer) or np.issubdtype(csr.dtype, np.floating)):
        raise _param_error(func, "matrix", "a matrix of numbers", f"dtype {csr.dtype}")
    csr.sum_duplicates()
    if csr.data.size:
        if not np.all(np.isfinite(csr.data)):
            raise _param_error(func, "matrix", "a matrix of finite counts", "NaN or infinity")
        smallest = csr.data.min().item()
        if smallest < 0:
            raise _param_error(
                func, "matrix", "a matrix of non-negative counts", f"a value of {smallest!r}"
            )
    csr.eliminate_zeros()
    return csr


def _check_labels(labels: object, expected_len: int, func: str, param: str) -> list[str]:
    if isinstance(labels, str) or not isinstance(labels, Sequence):
        raise _param_error(func, param, "a sequence of str", f"a {type(labels).__name__}")
    out = list(labels)
    if len(out) != expected_len:
        axis = "column" if param == "terms" else "row"
        raise _param_error(
            func,
            param,
            f"a sequence of {expected_len} str (one per matrix {axis})",
            f"{len(out)} items",
        )
    for item in out:
        if not isinstance(item, str):
            raise _param_error(func, param, "a sequence of str", f"an item {item!r}")
    if len(set(out)) != len(out):
        seen: set[str] = set()
        for item in out:
            if item in seen:
                raise _param_error(func, param, "a sequence of distinct str", f"{item!r} twice")
            seen.add(item)
    return out


def _edge_arrays(
    graph: nx.Graph, weight: str | None, func: str, *, positive: bool, loops: bool = True
) -> tuple[list[Hashable], IntArray, IntArray, FloatArray | None]:
    """Nodes in graph order and, per edge, the endpoint indices and (checked) weights."""
    nodes: list[Hashable] = list(graph.nodes)
    index = {node: i for i, node in enumerate(nodes)}
    m = graph.number_of_edges()
    u = np.empty(m, dtype=np.int64)
    v = np.empty(m, dtype=np.int64)
    w = np.empty(m, dtype=np.float64) if weight is not None else None
    edges: Any = graph.edges(data=weight, default=None) if weight is not None else graph.edges
    for e, edge in enumerate(edges):
        a, b = edge[0], edge[1]
        u[e] = index[a]
        v[e] = index[b]
        if not loops and u[e] == v[e]:
            raise _param_error(func, "graph", "a graph without self-loops", f"a loop on {a!r}")
        if w is not None:
            value = edge[2]
            if (
                isinstance(value, bool)
                or not isinstance(value, numbers.Real)
                or not np.isfinite(float(value))
            ):
                raise _param_error(
                    func,
                    "graph",
                    f"a graph whose edges all have a finite numeric {weight!r} attribute",
                    f"{value!r} on edge ({a!r}, {b!r})",
                )
            w[e] = float(value)
    if w is not None and w.size:
        bad = int(np.argmin(w))
        if (positive and w[bad] <= 0) or w[bad] < 0:
            kind = "positive" if positive else "non-negative"
            raise _param_error(
                func,
                "graph",
                f"a graph with {kind} {weight!r} edge weights",
                f"{float(w[bad])!r} on edge ({nodes[u[bad]]!r}, {nodes[v[bad]]!r})",
            )
    return nodes, u, v, w


# --------------------------------------------------------------------------- term graphs


def cooccurrence_graph(
    matrix: sp.spmatrix,
    terms: Sequence[str],
    *,
    min_count: int = 5,
    min_npmi: float = 0.0,
) -> nx.Graph:
    """Term co-occurrence graph weighted by document-level NPMI (Bouma 2009).

    ``matrix`` holds documents in rows and the counts of ``terms`` in columns; it is binarised,
    so a term repeated in a caption counts once. Co-document counts come from the sparse product
    ``XᵀX`` of the binary matrix (upper triangle), and NPMI is computed on its stored entries
    only: no dense terms x terms array is built.

    Nodes are the terms that occur in at least one document, with ``doc_count`` (``df``).
    An edge joins two terms when ``df_xy >= min_count`` and ``npmi > min_npmi``; it carries
    ``weight`` (NPMI), ``pmi`` (natural log) and ``count`` (``df_xy``).

    >>> X = sp.csr_matrix([[1, 1, 0], [1, 1, 0], [1, 0, 1], [0, 0, 1]])
    >>> g = cooccurrence_graph(X, ["sea", "boat", "cow"], min_count=2)
    >>> sorted(g.edges)
    [('sea', 'boat')]
    >>> round(g.edges["sea", "boat"]["weight"], 4), g.nodes["sea"]["doc_count"]
    (0.415, 3)
    """
    func = "cooccurrence_graph"
    counts = _as_counts(matrix, func)
    names = _check_labels(terms, counts.shape[1], func, "terms")
    min_count = _check_int(min_count, func, "min_count", minimum=1)
    min_npmi = _check_float(min_npmi, func, "min_npmi", low=-1.0, high=1.0, closed="both")

    binary = counts.astype(np.int64)
    binary.data[:] = 1
    n_docs = binary.shape[0]
    df = np.bincount(binary.indices, minlength=binary.shape[1]).astype(np.int64)

    graph = nx.Graph()
    present = np.flatnonzero(df)
    graph.add_nodes_from((names[i], {"doc_count": int(df[i])}) for i in present.tolist())
    if present.size < 2:
        return graph

    co = sp.csr_matrix(binary.T @ binary)
    co.sort_indices()  # a deterministic edge order (community detection depends on it)
    co = co.tocoo()
    keep = (co.row < co.col) & (co.data >= min_count)
    rows = co.row[keep].astype(np.int64)
    cols = co.col[keep].astype(np.int64)
    df_xy = co.data[keep].astype(np.float64)
    df_x = df[rows].astype(np.float64)
    df_y = df[cols].astype(np.float64)
    log_d = np.log(float(n_docs))
    pmi = np.log(df_xy) + log_d - np.log(df_x) - np.log(df_y)
    # npmi = pmi / -log p(x, y) = 1 + (log(df_xy/df_x) + log(df_xy/df_y)) / log(D/df_xy); this
    # form is exactly 1 for terms that always occur together.
    h = log_d - np.log(df_xy)
    npmi = np.ones_like(pmi)
    np.divide(np.log(df_xy / df_x) + np.log(df_xy / df_y), h, out=npmi, where=h > 0)
    npmi[h > 0] += 1.0
    np.clip(npmi, -1.0, 1.0, out=npmi)
    ok = npmi > min_npmi
    graph.add_edges_from(
        (names[a], names[b], {"weight": x, "pmi": p, "count": c})
        for a, b, x, p, c in zip(
            rows[ok].tolist(),
            cols[ok].tolist(),
            npmi[ok].tolist(),
            pmi[ok].tolist(),
            co.data[keep][ok].astype(np.int64).tolist(),
            strict=True,
        )
    )
    return graph


def check_disparity_alpha(alpha: object) -> float:
    """``alpha`` as a float if it is a significance level for :func:`disparity_filter`.

    Callers that filter after long work (``neco social --backbone-alpha``) check it first.

    >>> check_disparity_alpha(0.2)
    0.2
    >>> check_disparity_alpha(2)
    Traceback (most recent call last):
    ...
    neco.social.graphs.InvalidParameterError: The 'alpha' parameter of disparity_filter must be \
a float in (0, 1). Got 2 instead.
    """
    return _check_float(alpha, "disparity_filter", "alpha", low=0.0, high=1.0, closed="neither")


def disparity_filter(graph: nx.Graph, *, alpha: float = 0.05, weight: str = "weight") -> nx.Graph:
    """The disparity-filter backbone of a weighted graph (Serrano, Boguñá & Vespignani 2009).

    For node ``i`` with degree ``k_i`` and strength ``s_i`` (sum of its edge weights), edge
    ``(i, j)`` has the normalised weight ``p_ij = w_ij / s_i`` and the significance
    ``alpha_ij = (1 - p_ij) ** (k_i - 1)``: the probability, if ``i`` spread its strength at
    random over its edges, that this edge would get a share at least as large.

    Choices made here:

    - *Either endpoint*: an edge is kept when ``alpha_ij < alpha`` for at least one of its two
      endpoints (as in the paper, which tests each node's edges "from the point of view" of that
      node; a tie can be salient to a small node while routine for a hub).
    - *Degree-1 nodes*: the test is undefined (``p = 1``, ``k - 1 = 0``), so a leaf's own
      significance is taken as 1 (never significant). An edge to a leaf is kept only if the
      other endpoint keeps it; an isolated pair (both endpoints of degree 1) is always dropped.
    - The result is a new graph: graph attributes, and the attributes of the nodes that keep at
      least one edge, are copied (nodes left isolated are dropped); edges keep their attributes
      and get ``alpha``, the smaller of the two endpoint significances.

    Weights must be positive and finite, every edge must have one, and self-loops are refused.

    >>> g = nx.Graph()
    >>> g.add_weighted_edges_from([("hub", "a", 10.0), ("hub", "b", 1.0), ("hub", "c", 1.0)])
    >>> backbone = disparity_filter(g, alpha=0.05)
    >>> list(backbone.edges), round(backbone.edges["hub", "a"]["alpha"], 4)
    ([('hub', 'a')], 0.0278)
    """
    func = "disparity_filter"
    graph = _check_graph(graph, func)
    alpha = check_disparity_alpha(alpha)
    if not isinstance(weight, str):
        raise _param_error(func, "weight", "the name of an edge attribute (str)", repr(weight))
    nodes, u, v, w = _edge_arrays(graph, weight, func, positive=True, loops=False)
    assert w is not None
    n = len(nodes)
    degree = np.bincount(u, minlength=n) + np.bincount(v, minlength=n)
    strength = np.bincount(u, weights=w, minlength=n) + np.bincount(v, weights=w, minlength=n)

    def significance(end: IntArray) -> FloatArray:
        # 1 - p = (s - w) / s; for k = 1 this is 0 ** 0 = 1 ("never significant").
        rest = np.clip((strength[end] - w) / strength[end], 0.0, 1.0)
        return np.asarray(np.power(rest, degree[end] - 1), dtype=np.float64)

    edge_alpha = np.minimum(significance(u), significance(v))
    kept = np.flatnonzero(edge_alpha < alpha)

    backbone = graph.__class__()
    backbone.graph.update(graph.graph)
    kept_nodes = np.zeros(n, dtype=bool)
    kept_nodes[u[kept]] = True
    kept_nodes[v[kept]] = True
    backbone.add_nodes_from(
        (nodes[i], dict(graph.nodes[nodes[i]])) for i in np.flatnonzero(kept_nodes).tolist()
    )
    for e in kept.tolist():
        a, b = nodes[u[e]], nodes[v[e]]
        backbone.add_edge(a, b, **{**graph.edges[a, b], "alpha": float(edge_alpha[e])})
    return backbone


# --------------------------------------------------------------------------- communities


def _node_rank(nodes: Sequence[Hashable]) -> dict[Hashable, int]:
    """Position of each node in sorted order (by ``str`` when labels cannot be compared)."""
    try:
        ordered = sorted(nodes)  # type: ignore[type-var]
    except TypeError:
        ordered = sorted(nodes, key=lambda x: (type(x).__name__, str(x)))
    return {node: i for i, node in enumerate(ordered)}


def detect_communities(
    graph: nx.Graph,
    *,
    method: str = "leiden",
    weight: str | None = "weight",
    resolution: float = 1.0,
    seed: int = 0,
) -> tuple[dict[Hashable, int], float]:
    """Partition a graph into communities; return ``(node -> community, modularity)``.

    ``method="leiden"`` runs the Leiden algorithm (Traag et al. 2019; ``leidenalg`` on
    ``igraph``) with ``RBConfigurationVertexPartition`` -- modularity with a resolution
    parameter -- iterated until an iteration brings no improvement, seeded with ``seed``
    (converged partitions are more stable than leidenalg's default of two iterations; on a
    46,000-edge backbone this took 9 s instead of 0.7 s for a 1% higher quality).
    ``method="louvain"`` runs ``networkx.community.louvain_communities`` with the same weight,
    resolution and seed. Weights must be non-negative and present on every edge (``weight=None``
    treats the graph as unweighted).

    Communities are numbered by decreasing size (0 is the largest); ties go to the community with
    the smallest node label. The modularity is ``networkx.community.modularity`` with the same
    weight and resolution; it is 0.0 for a graph without edges (or with zero total weight),
    where modularity is undefined. Each node also gets the attribute ``community``.

    >>> g = nx.barbell_graph(4, 0)  # two 4-cliques {0..3} and {4..7} joined by edge (3, 4)
    >>> membership, q = detect_communities(g, weight=None)
    >>> [membership[node] for node in g], round(q, 4)
    ([0, 0, 0, 0, 1, 1, 1, 1], 0.4231)
    """
    func = "detect_communities"
    graph = _check_graph(graph, func)
    if not isinstance(method, str) or method not in COMMUNITY_METHODS:
        expected = "one of " + ", ".join(repr(m) for m in COMMUNITY_METHODS)
        raise _param_error(func, "method", expected, repr(method))
    if weight is not None and not isinstance(weight, str):
        raise _param_error(func, "weight", "an edge attribute name (str) or None", repr(weight))
    resolution = _check_float(
        resolution, func, "resolution", low=0.0, high=float("inf"), closed="neither"
    )
    seed = _check_int(seed, func, "seed", minimum=0)
    if graph.number_of_nodes() == 0:
        return {}, 0.0
    nodes, u, v, w = _edge_arrays(graph, weight, func, positive=False)

    groups: list[set[Hashable]]
    if method == "leiden":
        import igraph as ig
        import leidenalg

        ig_graph = ig.Graph(n=len(nodes), edges=list(zip(u.tolist(), v.tolist(), strict=True)))
        partition = leidenalg.find_partition(
            ig_graph,
            leidenalg.RBConfigurationVertexPartition,
            weights=None if w is None else w.tolist(),
            resolution_parameter=resolution,
            n_iterations=-1,
            seed=seed,
        )
        by_label: dict[int, set[Hashable]] = {}
        for i, label in enumerate(partition.membership):
            by_label.setdefault(label, set()).add(nodes[i])
        groups = list(by_label.values())
    else:
        groups = [
            set(c)
            for c in nx.community.louvain_communities(
                graph, weight=weight, resolution=resolution, seed=seed
            )
        ]

    rank = _node_rank(nodes)
    groups.sort(key=lambda c: (-len(c), min(rank[x] for x in c)))
    number = {node: i for i, c in enumerate(groups) for node in c}
    membership = {node: number[node] for node in nodes}  # in graph order
    nx.set_node_attributes(graph, membership, "community")
    total = 0.0 if w is None else float(w.sum())
    if u.size == 0 or (w is not None and total == 0.0):
        return membership, 0.0
    q = nx.community.modularity(graph, groups, weight=weight, resolution=resolution)
    return membership, float(q)


# --------------------------------------------------------------------------- centralities


def _betweenness(
    n: int, u: IntArray, v: IntArray, w: FloatArray | None, samples: int | None, seed: int
) -> tuple[FloatArray, str]:
    """Normalised betweenness (igraph), exact or from ``samples`` random source nodes."""
    if n <= 2 or u.size == 0:
        return np.zeros(n), "exact"
    import igraph as ig

    ig_graph = ig.Graph(n=n, edges=list(zip(u.tolist(), v.tolist(), strict=True)))
    lengths = None if w is None else (1.0 / w).tolist()
    pairs = (n - 1) * (n - 2)  # ordered pairs (s, t) with s != v != t
    if samples is None or samples >= n:
        # igraph counts each unordered pair once; twice that over the ordered pairs is
        # networkx's normalised value for undirected graphs.
        raw = np.asarray(ig_graph.betweenness(directed=False, weights=lengths), dtype=np.float64)
        return 2.0 * raw / pairs, "exact"
    rng = np.random.default_rng(seed)
    sources = np.sort(rng.choice(n, size=samples, replace=False))
    # With sources S, igraph returns half of sum_{s in S} delta_s(v) for undirected graphs,
    # where delta_s(v) = sum_t sigma_st(v) / sigma_st (Brandes' dependency of s on v).
    raw = np.asarray(
        ig_graph.betweenness(directed=False, weights=lengths, sources=sources.tolist()),
        dtype=np.float64,
    )
    # delta_v(v) = 0, so only sources other than v carry information about v: scale the sum
    # over the k' = k - [v in S] informative sources by (n - 1) / k' (unbiased for sampling
    # without replacement; exact on a star).
    informative = samples - np.isin(np.arange(n), sources).astype(np.int64)
    est = np.zeros(n)
    ok = informative > 0
    est[ok] = 2.0 * raw[ok] * (n - 1) / informative[ok] / pairs
    return est, f"sampled (k={samples}, seed={seed})"


def _eigenvector(n: int, u: IntArray, v: IntArray, w: FloatArray | None) -> FloatArray:
    """Perron vector per connected component, unit l2 norm, times the component's node share."""
    out = np.zeros(n)
    if n == 0 or u.size == 0:
        return out
    weights = np.ones(u.size) if w is None else w
    off = u != v
    adjacency = sp.csr_matrix(
        (
            np.concatenate([weights, weights[off]]),
            (np.concatenate([u, v[off]]), np.concatenate([v, u[off]])),
        ),
        shape=(n, n),
    )
    n_comp, labels = connected_components(adjacency, directed=False)
    order = np.argsort(labels, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(labels, minlength=n_comp))])
    for c in range(n_comp):
        idx = order[bounds[c] : bounds[c + 1]]
        sub = adjacency[idx][:, idx]
        if sub.nnz == 0:  # an isolated node: no walk reaches it
            continue
        if idx.size <= _DENSE_EIGEN_MAX_NODES:
            _, vectors = np.linalg.eigh(sub.toarray())
            x = vectors[:, -1]
        else:
            _, vectors = eigsh(sub.astype(np.float64), k=1, which="LA", v0=np.ones(idx.size))
            x = vectors[:, 0]
        x = np.abs(x)  # the Perron vector has one sign; abs also removes -0.0 round-off
        out[idx] = x / np.linalg.norm(x) * (idx.size / n)
    return out


def add_centralities(
    graph: nx.Graph,
    *,
    weight: str | None = "weight",
    betweenness_samples: int | None = None,
    seed: int = 0,
) -> None:
    """Set node attributes ``degree``, ``strength``, ``betweenness`` and ``eigenvector``.

    - ``degree`` (int): number of edges (a self-loop counts twice, as in networkx).
    - ``strength`` (float): sum of the ``weight`` of the node's edges (the degree when
      ``weight`` is None).
    - ``betweenness`` (float): normalised shortest-path betweenness (Brandes 2001), equal to
      ``networkx.betweenness_centrality(normalized=True)`` with edge length ``1 / weight``:
      the weights here are similarities, so a strong tie is a *short* step. Computed with igraph,
      which treats path lengths equal up to a relative 1e-10 as ties. Exact for graphs of up to
      2,000 nodes; above that, or when ``betweenness_samples`` is given (and smaller than the
      number of nodes), estimated from that many source nodes drawn without replacement with
      ``seed`` (default 500): the summed dependencies on ``v`` of the sampled sources other than
      ``v`` are scaled by ``(n - 1) / (number of those sources)``, an unbiased estimate.
      The graph attribute ``betweenness_method`` records which was used.
    - ``eigenvector`` (float): eigenvector centrality with the weights as they are, computed per
      connected component (the leading eigenvector of the component's adjacency matrix, unit
      Euclidean norm) and multiplied by the component's share of the nodes. On a connected graph
      this is ``networkx.eigenvector_centrality_numpy``; on a disconnected one a small
      component cannot outrank the giant one merely by being small. Isolated nodes get 0.

    Weights must be positive and present on every edge (``weight=None``: unweighted).

    >>> g = nx.star_graph(3)  # centre 0, leaves 1, 2, 3
    >>> add_centralities(g, weight=None)
    >>> g.nodes[0]["degree"], g.nodes[0]["betweenness"], round(g.nodes[0]["eigenvector"], 4)
    (3, 1.0, 0.7071)
    """
    func = "add_centralities"
    graph = _check_graph(graph, func)
    if weight is not None and not isinstance(weight, str):
        raise _param_error(func, "weight", "an edge attribute name (str) or None", repr(weight))
    if betweenness_samples is not None:
        betweenness_samples = _check_int(
            betweenness_samples, func, "betweenness_samples", minimum=1
        )
    seed = _check_int(seed, func, "seed", minimum=0)
    nodes, u, v, w = _edge_arrays(graph, weight, func, positive=True)
    n = len(nodes)
    samples = betweenness_samples
    if samples is None and n > EXACT_BETWEENNESS_MAX_NODES:
        samples = DEFAULT_BETWEENNESS_SAMPLES
    betweenness, how = _betweenness(n, u, v, w, samples, seed)
    eigenvector = _eigenvector(n, u, v, w)
    weights = np.ones(u.size) if w is None else w
    strength = np.bincount(u, weights=weights, minlength=n) + np.bincount(
        v, weights=weights, minlength=n
    )
    degree = np.bincount(u, minlength=n) + np.bincount(v, minlength=n)
    for i, node in enumerate(nodes):
        attrs = graph.nodes[node]
        attrs["degree"] = int(degree[i])
        attrs["strength"] = float(strength[i])
        attrs["betweenness"] = float(betweenness[i])
        attrs["eigenvector"] = float(eigenvector[i])
    graph.graph["betweenness_method"] = how


# --------------------------------------------------------------------------- caption graphs


def _tfidf(counts: sp.csr_matrix) -> tuple[sp.csr_matrix, IntArray]:
    """tf-idf with ``tf`` = raw count and ``idf = ln(D / df) + 1``; also return ``df``."""
    n_docs, n_terms = counts.shape
    df = np.bincount(counts.indices, minlength=n_terms).astype(np.int64)
    idf = np.zeros(n_terms)
    present = df > 0
    idf[present] = np.log(n_docs / df[present]) + 1.0
    tfidf = counts.astype(np.float64)
    tfidf.data *= idf[tfidf.indices]
    return tfidf, df


def bipartite_graph(matrix: sp.spmatrix, doc_ids: Sequence[str], terms: Sequence[str]) -> nx.Graph:
    """Caption-term bipartite graph with tf-idf edge weights.

    Documents become nodes ``"doc:<id>"`` (``bipartite=0``, ``label=<id>``), terms that occur
    in at least one document become nodes ``"term:<term>"`` (``bipartite=1``,
    ``label=<term>``). A document is linked to each term it contains, with ``count`` (the raw
    count ``tf``) and ``weight = tf * (ln(D / df) + 1)`` (scikit-learn's
    ``TfidfTransformer(norm=None, smooth_idf=False, sublinear_tf=False)``). Documents without
    terms stay in the graph as isolated nodes.

    >>> g = bipartite_graph(sp.csr_matrix([[2, 1], [0, 1]]), ["p1", "p2"], ["owl", "tree"])
    >>> round(g.edges["doc:p1", "term:owl"]["weight"], 4), g.edges["doc:p2", "term:tree"]["weight"]
    (3.3863, 1.0)
    """
    func = "bipartite_graph"
    counts = _as_counts(matrix, func)
    ids = _check_labels(doc_ids, counts.shape[0], func, "doc_ids")
    names = _check_labels(terms, counts.shape[1], func, "terms")
    tfidf, df = _tfidf(counts)
    graph = nx.Graph()
    graph.add_nodes_from((f"doc:{d}", {"bipartite": 0, "label": d}) for d in ids)
    graph.add_nodes_from(
        (f"term:{names[j]}", {"bipartite": 1, "label": names[j]})
        for j in np.flatnonzero(df).tolist()
    )
    coo = tfidf.tocoo()
    raw = counts.tocoo()  # same structure and order as tfidf
    raw_counts = raw.data.tolist()
    graph.add_edges_from(
        (f"doc:{ids[i]}", f"term:{names[j]}", {"weight": x, "count": c})
        for i, j, x, c in zip(
            coo.row.tolist(), coo.col.tolist(), coo.data.tolist(), raw_counts, strict=True
        )
    )
    return graph


def term_projection(
    matrix: sp.spmatrix, terms: Sequence[str], *, min_weight: float = 0.0
) -> nx.Graph:
    """Term graph weighted by the cosine similarity of tf-idf term columns.

    Nodes are the terms that occur in at least one document (``doc_count``); an edge joins two
    terms whose cosine is greater than ``min_weight`` (``weight``). The cosine comes from a
    sparse product of the column-normalised matrix. The idf scales a whole column, so the
    result equals the cosine of the raw count columns.

    >>> X = sp.csr_matrix([[2, 1, 0], [0, 1, 0], [1, 1, 3]])
    >>> g = term_projection(X, ["a", "b", "c"], min_weight=0.5)
    >>> sorted((x, y, round(d["weight"], 4)) for x, y, d in g.edges(data=True))
    [('a', 'b', 0.7746), ('b', 'c', 0.5774)]
    """
    func = "term_projection"
    counts = _as_counts(matrix, func)
    names = _check_labels(terms, counts.shape[1], func, "terms")
    min_weight = _check_float(min_weight, func, "min_weight", low=0.0, high=1.0, closed="left")
    tfidf, df = _tfidf(counts)
    graph = nx.Graph()
    graph.add_nodes_from((names[j], {"doc_count": int(df[j])}) for j in np.flatnonzero(df).tolist())
    norms = np.sqrt(np.asarray(tfidf.multiply(tfidf).sum(axis=0)).ravel())
    scale = np.zeros_like(norms)
    scale[norms > 0] = 1.0 / norms[norms > 0]
    unit = sp.csr_matrix(tfidf @ sp.diags(scale))
    cosine = sp.csr_matrix(unit.T @ unit)
    cosine.sort_indices()
    coo = cosine.tocoo()
    keep = (coo.row < coo.col) & (coo.data > min_weight)
    graph.add_edges_from(
        (names[a], names[b], {"weight": min(x, 1.0)})
        for a, b, x in zip(
            coo.row[keep].tolist(), coo.col[keep].tolist(), coo.data[keep].tolist(), strict=True
        )
    )
    return graph


def _row_top_k(block: sp.csr_matrix, offset: int, k: int) -> tuple[IntArray, IntArray, FloatArray]:
    """The ``k`` largest positive entries of each row, self-pairs excluded, ties to lower column.

    Row ``r`` of ``block`` is document ``offset + r``. Before sorting, each long row is thinned
    to the entries at or above the ``(k + 1)``-th largest of ``64 k`` of its stored entries
    (evenly spaced): that subset holds at most one self-pair, so the value is a lower bound on
    the row's k-th largest other document, and every true top-k entry survives. This keeps the
    work linear in the stored entries when many documents share common terms.
    """
    n_rows = block.shape[0]
    indptr = block.indptr.astype(np.int64)
    lengths = np.diff(indptr)
    threshold = np.full(n_rows, np.finfo(np.float64).smallest_subnormal)  # keeps only > 0
    width = 64 * k
    long_rows = np.flatnonzero(lengths > width)
    if long_rows.size:
        spread = (np.arange(width)[None, :] * lengths[long_rows, None]) // width
        sample = block.data[indptr[long_rows, None] + spread]
        bound = np.partition(sample, width - k - 1, axis=1)[:, width - k - 1]
        threshold[long_rows] = np.maximum(threshold[long_rows], bound)
    candidates = np.flatnonzero(block.data >= np.repeat(threshold, lengths))
    rows = np.searchsorted(indptr, candidates, side="right") - 1
    cols = block.indices[candidates].astype(np.int64)
    vals = block.data[candidates].astype(np.float64)
    other = cols != rows + offset  # a document is not its own neighbour
    rows, cols, vals = rows[other], cols[other], vals[other]
    order = np.lexsort((cols, -vals, rows))
    rows, cols, vals = rows[order], cols[order], vals[order]
    per_row = np.bincount(rows, minlength=n_rows)
    first = np.cumsum(per_row) - per_row
    rank = np.arange(rows.size) - first[rows]
    top = rank < k
    return rows[top] + offset, cols[top], vals[top]


def document_projection(
    matrix: sp.spmatrix, doc_ids: Sequence[str], *, k: int = 10, block_size: int = 4096
) -> nx.Graph:
    """k-nearest-neighbour graph of documents by the cosine of their tf-idf rows.

    Each document is linked to its ``k`` most similar other documents (cosine > 0; ties go to
    the document that comes first in the matrix); the graph is the undirected union of these
    lists, so a document may have more than ``k`` neighbours, and fewer when fewer documents
    share a term with it (a document without terms stays isolated). Edges carry ``weight``
    (cosine), taken from the earlier document's list when both list each other.

    Similarities are computed ``block_size`` rows at a time as a sparse product with all
    documents, so memory holds one ``block_size x D`` block, never a dense ``D x D`` matrix;
    the block is made smaller still when ``block_size x D`` exceeds ``MAX_BLOCK_CELLS``
    (2**23 cells, a few hundred MB at most), so the default is safe on large corpora. Every
    pair of documents that shares a term is scored: the time grows as ``D**2`` when common
    terms are kept (about 90 s for 100,000 short captions on two cores).

    >>> X = sp.csr_matrix([[1, 1, 0], [1, 1, 0], [0, 1, 1], [0, 0, 0]])
    >>> g = document_projection(X, ["a", "b", "c", "empty"], k=1, block_size=2)
    >>> sorted(g.edges), g.degree("empty")  # c is as close to a as to b: the tie goes to a
    ([('a', 'b'), ('a', 'c')], 0)
    """
    func = "document_projection"
    counts = _as_counts(matrix, func)
    ids = _check_labels(doc_ids, counts.shape[0], func, "doc_ids")
    k = _check_int(k, func, "k", minimum=1)
    block_size = _check_int(block_size, func, "block_size", minimum=1)
    n_docs = counts.shape[0]
    tfidf, _ = _tfidf(counts)
    norms = np.sqrt(np.asarray(tfidf.multiply(tfidf).sum(axis=1)).ravel())
    scale = np.zeros_like(norms)
    scale[norms > 0] = 1.0 / norms[norms > 0]
    unit = sp.csr_matrix(sp.diags(scale) @ tfidf)
    unit_t = sp.csr_matrix(unit.T)

    found: list[tuple[IntArray, IntArray, FloatArray]] = []
    rows_per_block = max(1, min(block_size, MAX_BLOCK_CELLS // max(n_docs, 1)))
    for start in range(0, n_docs, rows_per_block):
        block = sp.csr_matrix(unit[start : start + rows_per_block] @ unit_t)
        found.append(_row_top_k(block, start, k))
    graph = nx.Graph()
    graph.add_nodes_from(ids)
    if not found:
        return graph
    src = np.concatenate([f[0] for f in found])
    dst = np.concatenate([f[1] for f in found])
    sim = np.concatenate([f[2] for f in found])
    low, high = np.minimum(src, dst), np.maximum(src, dst)
    # keep each pair once: its first occurrence, i.e. the one found from the earlier document
    _, first = np.unique(low * n_docs + high, return_index=True)
    graph.add_edges_from(
        (ids[a], ids[b], {"weight": min(x, 1.0)})
        for a, b, x in zip(
            low[first].tolist(), high[first].tolist(), sim[first].tolist(), strict=True
        )
    )
    return graph


# --------------------------------------------------------------------------- tables & export


def _column(values: list[Any]) -> pa.Array:
    """An Arrow column; values Arrow cannot type together are written as strings."""
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
        return pa.array([None if x is None else str(x) for x in values], type=pa.string())


def _table(keys: list[tuple[str, list[str]]], records: list[dict[str, Any]], what: str) -> pa.Table:
    columns: dict[str, pa.Array] = {
        name: pa.array(values, type=pa.string()) for name, values in keys
    }
    names: dict[str, None] = {}
    for record in records:
        names.update(dict.fromkeys(record))
    for name in names:
        if name in columns:
            raise _param_error(
                "graph_tables",
                "graph",
                f"a graph without a {what} attribute named {name!r} (that is a column)",
                f"an attribute {name!r}",
            )
        columns[name] = _column([record.get(name) for record in records])
    return pa.table(columns)


def graph_tables(graph: nx.Graph) -> tuple[pa.Table, pa.Table]:
    """A node table and an edge table for a graph.

    The node table has ``node`` (the node as ``str``) and one column per node attribute, in order
    of first appearance; the edge table has ``source`` and ``target`` (``str``) and one column per
    edge attribute. A value missing on some rows is null; a column whose values Arrow cannot
    store under one type is written as strings.

    >>> g = nx.Graph()
    >>> g.add_node("owl", doc_count=3)
    >>> g.add_edge("owl", "tree", weight=0.5)
    >>> nodes, edges = graph_tables(g)
    >>> nodes.to_pylist()
    [{'node': 'owl', 'doc_count': 3}, {'node': 'tree', 'doc_count': None}]
    >>> edges.to_pylist()
    [{'source': 'owl', 'target': 'tree', 'weight': 0.5}]
    """
    if not isinstance(graph, nx.Graph):
        raise _param_error("graph_tables", "graph", "a networkx graph", f"a {type(graph).__name__}")
    node_ids: list[str] = []
    node_records: list[dict[str, Any]] = []
    for node, attrs in graph.nodes(data=True):
        node_ids.append(str(node))
        node_records.append(attrs)
    sources: list[str] = []
    targets: list[str] = []
    edge_records: list[dict[str, Any]] = []
    for a, b, attrs in graph.edges(data=True):
        sources.append(str(a))
        targets.append(str(b))
        edge_records.append(attrs)
    nodes = _table([("node", node_ids)], node_records, "node")
    edges = _table([("source", sources), ("target", targets)], edge_records, "edge")
    return nodes, edges


def _plain(value: Any) -> bool | int | float | str | None:
    """A value GEXF and GraphML can store: bool, int, float or str (None: drop it)."""
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _plain_attrs(records: Iterable[dict[str, Any]]) -> None:
    """Coerce attribute dicts in place, one type per attribute name (int + float -> float,
    other mixtures -> str), since both formats declare one type per attribute."""
    items = list(records)
    types: dict[str, set[type]] = {}
    for record in items:
        for name in list(record):
            plain = _plain(record[name])
            if plain is None:
                del record[name]
                continue
            record[name] = plain
            types.setdefault(name, set()).add(type(plain))
    for name, found in types.items():
        convert: Callable[[Any], Any] | None = None
        if len(found) > 1:
            convert = float if found <= {int, float} else str
        if convert is None:
            continue
        for record in items:
            if name in record:
                record[name] = convert(record[name])


# The characters XML 1.0 allows (https://www.w3.org/TR/xml/#charsets). Anything else -- a
# control character in an author name, U+FFFE in a term, a lone surrogate -- makes the whole
# file unreadable for Gephi and networkx.
_XML_FORBIDDEN = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    """``text`` with every character XML 1.0 forbids written as ``\\xNN`` or ``\\uNNNN``.

    >>> xml_safe("kite\\x01\\ufffe")
    'kite\\\\x01\\\\ufffe'
    """
    return _XML_FORBIDDEN.sub(
        lambda m: (
            f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}"
        ),
        text,
    )


def _xml_ids(nodes: Iterable[Hashable]) -> dict[Hashable, str]:
    """Each node's id as XML-safe text, one-to-one: when two nodes would get the same text
    (``1`` and ``"1"``, or a control character and its escape written out), both get a short
    hash of the original as suffix."""
    texts = {node: xml_safe(str(node)) for node in nodes}
    counts: dict[str, int] = {}
    for text in texts.values():
        counts[text] = counts.get(text, 0) + 1
    return {
        node: text if counts[text] == 1 else f"{text}#{_short_hash(repr(node))}"
        for node, text in texts.items()
    }


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "backslashreplace")).hexdigest()[:8]


def _xml_attrs(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` with XML-safe attribute names (values are made safe after coercion)."""
    return {xml_safe(str(name)): value for name, value in record.items()}


def _plain_copy(graph: nx.Graph) -> nx.Graph:
    """A copy fit for GEXF and GraphML: plain attribute values (see :func:`export_graph`),
    node ids, attribute names and text values XML-safe (:func:`xml_safe`), ids one-to-one."""
    ids = _xml_ids(graph.nodes)
    copy = graph.__class__()
    copy.graph.update(_xml_attrs(dict(graph.graph)))
    copy.add_nodes_from((ids[n], _xml_attrs(d)) for n, d in graph.nodes(data=True))
    if graph.is_multigraph():
        copy.add_edges_from(
            (ids[a], ids[b], xml_safe(key) if isinstance(key, str) else key, _xml_attrs(d))
            for a, b, key, d in graph.edges(keys=True, data=True)
        )
    else:
        copy.add_edges_from((ids[a], ids[b], _xml_attrs(d)) for a, b, d in graph.edges(data=True))
    _plain_attrs(iter([copy.graph]))
    _plain_attrs(d for _, d in copy.nodes(data=True))
    _plain_attrs(d for *_, d in copy.edges(data=True))
    for record in (copy.graph, *(d for _, d in copy.nodes(data=True))):
        for name, value in record.items():  # str() of other values may bring new characters
            if isinstance(value, str):
                record[name] = xml_safe(value)
    for *_, record in copy.edges(data=True):
        for name, value in record.items():
            if isinstance(value, str):
                record[name] = xml_safe(value)
    return copy


@contextlib.contextmanager
def _atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` if the block succeeds."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def check_export_path(path: object, func: str = "export_graph") -> Path:
    """``path`` as a :class:`~pathlib.Path` if :func:`export_graph` can write to it.

    The suffix chooses the format: ``.gexf``, ``.graphml`` or ``.parquet`` (any case). Check
    it before building a graph, so that a typo does not cost the build.

    >>> check_export_path("out/cooccurrence.GEXF").name
    'cooccurrence.GEXF'
    >>> check_export_path("g.json")
    Traceback (most recent call last):
    ...
    neco.social.graphs.InvalidParameterError: The 'path' parameter of export_graph must be \
a path ending in one of '.gexf', '.graphml', '.parquet'. Got 'g.json' instead.
    """
    if not isinstance(path, str | os.PathLike):
        raise _param_error(func, "path", "a str or pathlib.Path", f"a {type(path).__name__}")
    out = Path(path)
    if out.suffix.lower() not in EXPORT_SUFFIXES:
        expected = "a path ending in one of " + ", ".join(repr(s) for s in EXPORT_SUFFIXES)
        raise _param_error(func, "path", expected, repr(str(out)))
    return out


def export_graph(graph: nx.Graph, path: str | Path) -> list[Path]:
    """Write a graph for other tools; the format follows the suffix of ``path``.

    - ``.gexf`` (Gephi; ``networkx.write_gexf``) and ``.graphml`` (``networkx.write_graphml``):
      attribute values are first coerced on a copy -- numpy scalars to Python values, None
      dropped, anything other than bool/int/float/str written as str, and an attribute holding
      both ints and floats made float (other mixtures str) -- so that ``networkx.read_gexf`` and
      ``read_graphml`` read them back. Node ids are written as strings. Characters XML 1.0
      forbids (control characters, U+FFFE, U+FFFF, lone surrogates) are written as ``\\xNN``
      or ``\\uNNNN`` in ids, attribute names and values (:func:`xml_safe`); ids that would
      then coincide get a short hash suffix, so each node keeps its own id.
    - ``.parquet``: the two tables of :func:`graph_tables`, as ``<stem>.nodes.parquet`` and
      ``<stem>.edges.parquet`` beside ``path`` (``path`` itself is not written).

    Each file is written under a temporary name and renamed into place, so a reader never sees a
    half-written file (the two Parquet files are renamed one after the other). Missing parent
    folders are created. Returns the files written.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     written = export_graph(nx.path_graph(3), Path(tmp) / "g.parquet")
    ...     [p.name for p in written]
    ['g.nodes.parquet', 'g.edges.parquet']
    """
    func = "export_graph"
    if not isinstance(graph, nx.Graph):
        raise _param_error(func, "graph", "a networkx graph", f"a {type(graph).__name__}")
    path = check_export_path(path, func)
    suffix = path.suffix.lower()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".parquet":
            nodes, edges = graph_tables(graph)
            stem = path.name[: -len(path.suffix)]
            written = []
            for table, kind in ((nodes, "nodes"), (edges, "edges")):
                target = path.with_name(f"{stem}.{kind}.parquet")
                with _atomic_path(target) as tmp:
                    pq.write_table(table, tmp)
                written.append(target)
            return written
        plain = _plain_copy(graph)
        with _atomic_path(path) as tmp:
            if suffix == ".gexf":
                nx.write_gexf(plain, tmp)
            else:
                nx.write_graphml(plain, tmp)
    except OSError as exc:
        # A folder that cannot be made or written to is the user's to fix, not a bug.
        raise NecoError(
            f"Cannot write the graph to {path}: {exc.strerror or exc}. Expected a writable "
            "folder; choose another path."
        ) from exc
    return [path]
