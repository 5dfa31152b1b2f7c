"""Tests of neco.social.graphs on small hand-made inputs with hand-computed values."""

from __future__ import annotations

import itertools
import math
import random
from pathlib import Path

import networkx as nx
import numpy as np
import pyarrow.parquet as pq
import pytest
import scipy.sparse as sp

from neco.social import graphs
from neco.social.graphs import (
    add_centralities,
    bipartite_graph,
    cooccurrence_graph,
    detect_communities,
    disparity_filter,
    document_projection,
    export_graph,
    graph_tables,
    term_projection,
    xml_safe,
)

# ----------------------------------------------------------------------------- co-occurrence

# Six captions over terms a, b, c, d (d never occurs):
#   d1: a b   d2: a b   d3: a b c   d4: a   d5: b c   d6: c
# df_a = 4, df_b = 4, df_c = 3; df_ab = 3, df_bc = 2, df_ac = 1; D = 6.
SIX = sp.csr_matrix(
    [
        [1, 2, 0, 0],  # a repeated count is binarised
        [1, 1, 0, 0],
        [1, 1, 1, 0],
        [1, 0, 0, 0],
        [0, 1, 1, 0],
        [0, 0, 3, 0],
    ]
)
TERMS = ["a", "b", "c", "d"]


def test_graphs_npmi_known_pair() -> None:
    g = cooccurrence_graph(SIX, TERMS, min_count=1, min_npmi=0.0)
    # p(a) = p(b) = 4/6, p(a, b) = 3/6: pmi = ln(0.5 / (4/9)) = ln(9/8), npmi = ln(9/8) / ln 2
    assert math.log(9 / 8) == pytest.approx(0.117783035656383, abs=1e-15)
    assert g.edges["a", "b"]["pmi"] == pytest.approx(0.117783035656383, abs=1e-12)
    assert g.edges["a", "b"]["weight"] == pytest.approx(0.169925001442312, abs=1e-12)
    assert g.edges["a", "b"]["count"] == 3
    # b-c: p(b, c) = 2/6 = p(b) p(c) = 4/6 * 3/6 -> npmi 0, not > 0; a-c is negative
    assert sorted(g.edges) == [("a", "b")]
    assert {n: g.nodes[n]["doc_count"] for n in g} == {"a": 4, "b": 4, "c": 3}


def test_graphs_npmi_negative_and_zero_pairs() -> None:
    g = cooccurrence_graph(SIX, TERMS, min_count=1, min_npmi=-1.0)
    assert set(map(frozenset, g.edges)) == {
        frozenset("ab"),
        frozenset("bc"),
        frozenset("ac"),
    }
    assert g.edges["b", "c"]["weight"] == pytest.approx(0.0, abs=1e-12)
    # a-c: p(a, c) = 1/6, p(a) p(c) = 1/3 -> pmi = ln(1/2), npmi = ln(1/2) / ln(6) = -0.386853
    assert g.edges["a", "c"]["weight"] == pytest.approx(-0.3868528072345416, abs=1e-12)
    assert isinstance(g.edges["a", "c"]["count"], int)
    assert isinstance(g.edges["a", "c"]["weight"], float)


def test_graphs_min_count_prunes() -> None:
    g = cooccurrence_graph(SIX, TERMS, min_count=2, min_npmi=-1.0)
    assert set(map(frozenset, g.edges)) == {frozenset("ab"), frozenset("bc")}
    g = cooccurrence_graph(SIX, TERMS, min_count=3, min_npmi=-1.0)
    assert list(g.edges) == [("a", "b")]
    g = cooccurrence_graph(SIX, TERMS, min_count=4, min_npmi=-1.0)
    assert g.number_of_edges() == 0
    assert "d" not in g  # a term in no document is not a node
    assert g.number_of_nodes() == 3


def test_graphs_npmi_is_one_for_terms_always_together() -> None:
    everywhere = sp.csr_matrix([[1, 1, 0], [1, 1, 1], [2, 1, 0]])
    g = cooccurrence_graph(everywhere, ["x", "y", "z"], min_count=1, min_npmi=-1.0)
    assert g.edges["x", "y"]["weight"] == 1.0  # p(x, y) = 1: defined as 1
    assert g.edges["x", "y"]["pmi"] == 0.0
    # z occurs once, always with x: p = 1/3, pmi = ln(1/3 / (1 * 1/3)) = 0 -> npmi 0
    assert g.edges["x", "z"]["weight"] == pytest.approx(0.0, abs=1e-12)
    pair = sp.csr_matrix([[1, 1], [0, 0], [1, 1], [0, 0]])
    g = cooccurrence_graph(pair, ["p", "q"], min_count=1)
    assert g.edges["p", "q"]["weight"] == 1.0  # exactly 1 for terms that only occur together


def test_graphs_cooccurrence_matches_dense_reference() -> None:
    rng = np.random.default_rng(7)
    dense = (rng.random((60, 12)) < 0.3).astype(np.int64) * rng.integers(1, 4, (60, 12))
    terms = [f"t{j}" for j in range(12)]
    g = cooccurrence_graph(sp.csr_matrix(dense), terms, min_count=3, min_npmi=-1.0)
    binary = (dense > 0).astype(float)
    co = binary.T @ binary
    df = binary.sum(axis=0)
    expected = {}
    for x in range(12):
        for y in range(x + 1, 12):
            if co[x, y] >= 3:
                pxy = co[x, y] / 60
                pmi = math.log(pxy / (df[x] / 60 * df[y] / 60))
                expected[frozenset((terms[x], terms[y]))] = pmi / -math.log(pxy)
    assert len(expected) > 10
    got = {frozenset((a, b)): d["weight"] for a, b, d in g.edges(data=True)}
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=1e-12)


def test_graphs_cooccurrence_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match=r"'terms' parameter of cooccurrence_graph must be"):
        cooccurrence_graph(SIX, ["a", "b"])
    with pytest.raises(ValueError, match=r"distinct str\. Got 'a' twice instead\."):
        cooccurrence_graph(SIX, ["a", "b", "a", "d"])
    with pytest.raises(ValueError, match=r"non-negative counts\. Got a value of -1 instead\."):
        cooccurrence_graph(sp.csr_matrix([[1, -1]]), ["x", "y"])
    with pytest.raises(ValueError, match=r"'min_count' .* an int >= 1\. Got 0 instead\."):
        cooccurrence_graph(SIX, TERMS, min_count=0)
    with pytest.raises(ValueError, match=r"'matrix' .* Got a list instead\."):
        cooccurrence_graph([[1, 0]], ["x", "y"])


# ----------------------------------------------------------------------------- disparity filter


def test_graphs_disparity_star_keeps_dominant_drops_weak() -> None:
    # hub: k = 4, s = 13. hub-a: p = 10/13, alpha = (3/13)^3 = 27/2197 = 0.012290
    # hub-b (and c, d): p = 1/13, alpha = (12/13)^3 = 1728/2197 = 0.786527
    # leaves have k = 1: their own test is undefined (alpha 1), so the hub decides.
    # x-y is an isolated pair (both k = 1): always dropped.
    g = nx.Graph()
    g.add_weighted_edges_from(
        [("hub", "a", 10.0), ("hub", "b", 1.0), ("hub", "c", 1.0), ("hub", "d", 1.0)]
    )
    g.add_edge("x", "y", weight=5.0)
    g.nodes["a"]["colour"] = "red"
    g.graph["name"] = "star"
    backbone = disparity_filter(g, alpha=0.05)
    assert list(backbone.edges) == [("hub", "a")]
    assert backbone.edges["hub", "a"]["alpha"] == pytest.approx(27 / 2197, rel=1e-12)
    assert backbone.edges["hub", "a"]["weight"] == 10.0
    assert set(backbone.nodes) == {"hub", "a"}  # isolated nodes dropped
    assert backbone.nodes["a"]["colour"] == "red"
    assert backbone.graph["name"] == "star"
    assert "alpha" not in g.edges["hub", "a"]  # the input is not modified
    # at alpha = 0.8 the weak hub edges (0.7865) pass too, still not the isolated pair
    loose = disparity_filter(g, alpha=0.8)
    assert loose.number_of_edges() == 4
    assert loose.edges["hub", "b"]["alpha"] == pytest.approx(1728 / 2197, rel=1e-12)
    assert "x" not in loose


def test_graphs_disparity_triangle_by_hand() -> None:
    # triangle a-b (1), b-c (1), a-c (8): a and c have k = 2, s = 9; b has k = 2, s = 2.
    # a-c: alpha = 1 - 8/9 = 1/9 from both ends -> kept at 0.2
    # a-b: alpha = 8/9 from a, 1/2 from b -> dropped; b-c likewise
    g = nx.Graph()
    g.add_weighted_edges_from([("a", "b", 1.0), ("b", "c", 1.0), ("a", "c", 8.0)])
    backbone = disparity_filter(g, alpha=0.2)
    assert list(backbone.edges) == [("a", "c")]
    assert backbone.edges["a", "c"]["alpha"] == pytest.approx(1 / 9, rel=1e-12)
    assert set(disparity_filter(g, alpha=0.6).edges) == set(g.edges)  # 1/2 < 0.6


def test_graphs_disparity_either_endpoint_rule() -> None:
    # h: k = 3, s = 12 -> h-x has alpha (2/12)^2 = 1/36 = 0.0278 (significant for h)
    # x: k = 2, s = 110 -> h-x has alpha 1 - 10/110 = 0.909 (not significant for x)
    g = nx.Graph()
    g.add_weighted_edges_from(
        [("h", "x", 10.0), ("h", "y", 1.0), ("h", "z", 1.0), ("x", "q", 100.0)]
    )
    backbone = disparity_filter(g, alpha=0.05)
    assert backbone.has_edge("h", "x")
    assert backbone.edges["h", "x"]["alpha"] == pytest.approx(1 / 36, rel=1e-12)
    # x-q: from x alpha = 10/110 = 0.0909, q is a leaf -> not kept at 0.05, kept at 0.1
    assert not backbone.has_edge("x", "q")
    assert disparity_filter(g, alpha=0.1).edges["x", "q"]["alpha"] == pytest.approx(1 / 11)


def test_graphs_disparity_rejects_non_positive_weight() -> None:
    g = nx.Graph()
    g.add_edge("a", "b", weight=1.0)
    g.add_edge("b", "c", weight=-0.5)
    with pytest.raises(
        ValueError,
        match=r"^The 'graph' parameter of disparity_filter must be a graph with positive "
        r"'weight' edge weights\. Got -0\.5 on edge \('b', 'c'\) instead\.$",
    ):
        disparity_filter(g)
    g.edges["b", "c"]["weight"] = 0
    with pytest.raises(ValueError, match=r"positive 'weight' edge weights\. Got 0\.0"):
        disparity_filter(g)
    del g.edges["b", "c"]["weight"]
    with pytest.raises(ValueError, match=r"numeric 'weight' attribute\. Got None on edge"):
        disparity_filter(g)


def test_graphs_disparity_rejects_bad_alpha_and_graph() -> None:
    g = nx.Graph([("a", "b", {"weight": 1.0})])
    with pytest.raises(ValueError) as err:
        disparity_filter(g, alpha=2)
    assert str(err.value) == (
        "The 'alpha' parameter of disparity_filter must be a float in (0, 1). Got 2 instead."
    )
    with pytest.raises(ValueError, match=r"undirected networkx\.Graph .* Got a DiGraph instead"):
        disparity_filter(nx.DiGraph([("a", "b", {"weight": 1.0})]))
    with pytest.raises(ValueError, match=r"without self-loops\. Got a loop on 'a'"):
        disparity_filter(nx.Graph([("a", "a", {"weight": 1.0}), ("a", "b", {"weight": 1.0})]))


# ----------------------------------------------------------------------------- communities


def two_cliques() -> nx.Graph:
    """Two 5-cliques {0..4} and {5..9} joined by the edge (4, 5)."""
    g = nx.barbell_graph(5, 0)
    nx.set_edge_attributes(g, 1.0, "weight")
    return g


# m = 2 * 10 + 1 = 21 edges; each clique has L_c = 10 internal edges and degree sum
# d_c = 2 * 10 + 1 = 21: Q = sum_c L_c / m - (d_c / 2m)^2 = 2 * (10/21 - 1/4) = 20/21 - 1/2.
TWO_CLIQUES_Q = 20 / 21 - 1 / 2


@pytest.mark.parametrize("method", ["leiden", "louvain"])
def test_graphs_communities_recover_planted_cliques(method: str) -> None:
    g = two_cliques()
    membership, q = detect_communities(g, method=method, seed=3)
    assert membership == {**dict.fromkeys(range(5), 0), **dict.fromkeys(range(5, 10), 1)}
    assert q == pytest.approx(TWO_CLIQUES_Q, abs=1e-12)
    assert q == pytest.approx(0.4523809523809524, abs=1e-12)
    assert nx.get_node_attributes(g, "community") == membership


def test_graphs_communities_numbered_by_size_then_label() -> None:
    # a 3-clique on {0,1,2} and a 4-clique on {3..6}, joined by 2-3: the 4-clique is number 0
    g = nx.complete_graph(3)
    g.add_edges_from(nx.complete_graph(range(3, 7)).edges)
    g.add_edge(2, 3)
    g.add_node(99)  # an isolated node is a community of its own, numbered last
    membership, q = detect_communities(g, weight=None)
    assert membership == {0: 1, 1: 1, 2: 1, 3: 0, 4: 0, 5: 0, 6: 0, 99: 2}
    # m = 3 + 6 + 1 = 10; degree sums 7 and 13: Q = 3/10 + 6/10 - (7/20)^2 - (13/20)^2
    assert q == pytest.approx(0.9 - 0.1225 - 0.4225, abs=1e-12)


def test_graphs_communities_resolution_and_edge_cases() -> None:
    g = two_cliques()
    _, q = detect_communities(g, resolution=0.5)
    # same two communities; Q_gamma = 20/21 - gamma * 2 * (1/2)^2 = 20/21 - 0.25
    assert q == pytest.approx(20 / 21 - 0.25, abs=1e-12)
    assert detect_communities(nx.Graph()) == ({}, 0.0)
    lonely = nx.Graph()
    lonely.add_nodes_from(["b", "a"])
    assert detect_communities(lonely) == ({"a": 0, "b": 1}, 0.0)
    with pytest.raises(ValueError) as err:
        detect_communities(g, method="infomap")
    assert str(err.value) == (
        "The 'method' parameter of detect_communities must be one of 'leiden', 'louvain'. "
        "Got 'infomap' instead."
    )


# ----------------------------------------------------------------------------- centralities


def weighted_random_graph(n: int, m: int, seed: int) -> nx.Graph:
    rng = np.random.default_rng(seed)
    g = nx.gnm_random_graph(n, m, seed=seed)
    for a, b in g.edges:
        g.edges[a, b]["weight"] = float(rng.uniform(0.05, 1.0))
        g.edges[a, b]["length"] = 1.0 / g.edges[a, b]["weight"]
    return g


def test_graphs_betweenness_exact_equals_networkx() -> None:
    g = weighted_random_graph(40, 90, seed=11)
    add_centralities(g)
    expected = nx.betweenness_centrality(g, weight="length", normalized=True)
    for node, value in expected.items():
        assert g.nodes[node]["betweenness"] == pytest.approx(value, abs=1e-9)
    assert max(expected.values()) > 0.1  # not a trivially zero comparison
    assert g.graph["betweenness_method"] == "exact"
    add_centralities(g, weight=None)
    expected = nx.betweenness_centrality(g, normalized=True)
    for node, value in expected.items():
        assert g.nodes[node]["betweenness"] == pytest.approx(value, abs=1e-9)


def test_graphs_betweenness_sampled_when_forced() -> None:
    # On a star the estimator is exact whichever sources are drawn: the centre lies on all
    # (n-1)(n-2) ordered leaf pairs, each leaf on none.
    star = nx.star_graph(9)
    add_centralities(star, weight=None, betweenness_samples=3, seed=5)
    assert star.graph["betweenness_method"] == "sampled (k=3, seed=5)"
    assert star.nodes[0]["betweenness"] == pytest.approx(1.0, abs=1e-12)
    assert all(star.nodes[i]["betweenness"] == 0.0 for i in range(1, 10))

    g = weighted_random_graph(150, 450, seed=2)
    exact = nx.betweenness_centrality(g, weight="length", normalized=True)
    add_centralities(g, betweenness_samples=60, seed=1)
    approx = np.array([g.nodes[n]["betweenness"] for n in g])
    truth = np.array([exact[n] for n in g])
    assert not np.allclose(approx, truth)  # it really is an estimate
    assert np.corrcoef(approx, truth)[0, 1] > 0.9
    assert approx.sum() == pytest.approx(truth.sum(), rel=0.15)
    again = weighted_random_graph(150, 450, seed=2)
    add_centralities(again, betweenness_samples=60, seed=1)
    assert [again.nodes[n]["betweenness"] for n in again] == approx.tolist()  # seeded
    add_centralities(again, betweenness_samples=150)  # as many sources as nodes: exact
    assert again.graph["betweenness_method"] == "exact"
    for node, value in exact.items():
        assert again.nodes[node]["betweenness"] == pytest.approx(value, abs=1e-9)


def test_graphs_betweenness_sampled_above_node_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(graphs, "EXACT_BETWEENNESS_MAX_NODES", 20)
    monkeypatch.setattr(graphs, "DEFAULT_BETWEENNESS_SAMPLES", 7)
    g = weighted_random_graph(30, 60, seed=4)
    add_centralities(g)
    assert g.graph["betweenness_method"] == "sampled (k=7, seed=0)"


def test_graphs_eigenvector_star_and_disconnected() -> None:
    # star with centre 0 and 4 leaves: lambda = 2, x = (2, 1, 1, 1, 1) / sqrt(8) -> centre
    # 1/sqrt(2) = 0.707107, leaves 1/(2 sqrt 2) = 0.353553
    star = nx.star_graph(4)
    add_centralities(star, weight=None)
    assert star.nodes[0]["eigenvector"] == pytest.approx(1 / math.sqrt(2), abs=1e-12)
    assert star.nodes[1]["eigenvector"] == pytest.approx(1 / math.sqrt(8), abs=1e-12)
    # the same star plus a pair and an isolated node: n = 8, shares 5/8, 2/8, 1/8
    g = nx.star_graph(4)
    g.add_edge("p", "q")
    g.add_node("alone")
    add_centralities(g, weight=None)
    assert g.nodes[0]["eigenvector"] == pytest.approx(5 / 8 / math.sqrt(2), abs=1e-12)
    assert g.nodes[3]["eigenvector"] == pytest.approx(5 / 8 / math.sqrt(8), abs=1e-12)
    assert g.nodes["p"]["eigenvector"] == pytest.approx(2 / 8 / math.sqrt(2), abs=1e-12)
    assert g.nodes["alone"]["eigenvector"] == 0.0
    assert g.nodes["alone"]["betweenness"] == 0.0
    assert g.nodes[0]["betweenness"] == pytest.approx(12 / 42, abs=1e-12)  # 4*3 of 7*6 pairs


def test_graphs_eigenvector_matches_networkx_when_connected() -> None:
    g = weighted_random_graph(30, 80, seed=8)
    assert nx.is_connected(g)
    add_centralities(g)
    expected = nx.eigenvector_centrality_numpy(g, weight="weight")
    for node, value in expected.items():
        assert g.nodes[node]["eigenvector"] == pytest.approx(value, abs=1e-9)


def test_graphs_eigenvector_large_component_uses_sparse_solver() -> None:
    g = weighted_random_graph(graphs._DENSE_EIGEN_MAX_NODES + 100, 2000, seed=9)
    g.add_edge("extra1", "extra2", weight=1.0)
    big = max(nx.connected_components(g), key=len)
    assert len(big) > graphs._DENSE_EIGEN_MAX_NODES
    add_centralities(g)
    expected = nx.eigenvector_centrality_numpy(g.subgraph(big), weight="weight")
    share = len(big) / g.number_of_nodes()
    for node in big:
        assert g.nodes[node]["eigenvector"] == pytest.approx(expected[node] * share, abs=1e-9)


def test_graphs_centralities_tiny_graphs_and_strength() -> None:
    one = nx.Graph()
    one.add_node("solo")
    add_centralities(one)
    assert one.nodes["solo"] == {
        "degree": 0,
        "strength": 0.0,
        "betweenness": 0.0,
        "eigenvector": 0.0,
    }
    two = nx.Graph([("a", "b", {"weight": 0.25})])
    add_centralities(two)
    assert two.nodes["a"]["degree"] == 1
    assert two.nodes["a"]["strength"] == 0.25
    assert two.nodes["a"]["betweenness"] == 0.0
    assert two.nodes["a"]["eigenvector"] == pytest.approx(1 / math.sqrt(2), abs=1e-12)
    tri = nx.Graph([("a", "b", {"weight": 0.25}), ("a", "c", {"weight": 0.5})])
    add_centralities(tri)
    assert tri.nodes["a"]["strength"] == 0.75
    assert tri.nodes["a"]["betweenness"] == 1.0
    with pytest.raises(ValueError, match=r"positive 'weight' edge weights\. Got -1\.0"):
        add_centralities(nx.Graph([("a", "b", {"weight": -1.0})]))


# ----------------------------------------------------------------------------- caption graphs

# 3 documents x 3 terms; df = (2, 3, 1), D = 3, idf = ln(D/df) + 1:
#   idf_x = ln(1.5) + 1 = 1.4054651081081644, idf_y = 1, idf_z = ln(3) + 1 = 2.09861228866811
THREE = sp.csr_matrix([[2, 1, 0], [0, 1, 0], [1, 1, 3]])


def test_graphs_bipartite_tfidf_by_hand() -> None:
    g = bipartite_graph(THREE, ["d1", "d2", "d3"], ["x", "y", "z"])
    expected = {
        ("doc:d1", "term:x"): 2 * 1.4054651081081644,  # 2.8109302162163288
        ("doc:d1", "term:y"): 1.0,
        ("doc:d2", "term:y"): 1.0,
        ("doc:d3", "term:x"): 1.4054651081081644,
        ("doc:d3", "term:y"): 1.0,
        ("doc:d3", "term:z"): 3 * 2.09861228866811,  # 6.295836866004329
    }
    assert g.number_of_edges() == 6
    for (a, b), value in expected.items():
        assert g.edges[a, b]["weight"] == pytest.approx(value, abs=1e-12)
    assert g.edges["doc:d3", "term:z"]["count"] == 3
    assert g.nodes["doc:d2"] == {"bipartite": 0, "label": "d2"}
    assert g.nodes["term:z"] == {"bipartite": 1, "label": "z"}
    assert nx.is_bipartite(g)


def test_graphs_bipartite_matches_sklearn_and_keeps_empty_documents() -> None:
    from sklearn.feature_extraction.text import TfidfTransformer

    rng = np.random.default_rng(3)
    dense = rng.integers(0, 3, (8, 5)) * (rng.random((8, 5)) < 0.5)
    dense[:, 0] = np.maximum(dense[:, 0], 1)  # every term occurs somewhere
    dense[:, 1:] = np.maximum(dense[:, 1:], np.eye(8, 4, dtype=np.int64))
    dense[7] = 0  # a document without terms
    dense[6, 0] = 1
    ref = TfidfTransformer(norm=None, smooth_idf=False, sublinear_tf=False).fit_transform(dense)
    ref = ref.toarray()
    ids = [f"p{i}" for i in range(8)]
    terms = list("vwxyz")
    g = bipartite_graph(sp.csr_matrix(dense), ids, terms)
    for i, j in zip(*np.nonzero(dense), strict=True):
        assert g.edges[f"doc:{ids[i]}", f"term:{terms[j]}"]["weight"] == pytest.approx(
            ref[i, j], abs=1e-12
        )
    assert g.number_of_edges() == int(np.count_nonzero(dense))
    assert g.degree("doc:p7") == 0


def test_graphs_term_projection_cosine_by_hand() -> None:
    # columns x = (2, 0, 1), y = (1, 1, 1), z = (0, 0, 3) (idf cancels in the cosine):
    # cos(x, y) = 3 / sqrt(15) = 0.774597, cos(x, z) = 1/sqrt(5) = 0.447214,
    # cos(y, z) = 1/sqrt(3) = 0.577350
    g = term_projection(THREE, ["x", "y", "z"])
    assert g.edges["x", "y"]["weight"] == pytest.approx(3 / math.sqrt(15), abs=1e-12)
    assert g.edges["x", "z"]["weight"] == pytest.approx(1 / math.sqrt(5), abs=1e-12)
    assert g.edges["y", "z"]["weight"] == pytest.approx(1 / math.sqrt(3), abs=1e-12)
    assert g.nodes["y"]["doc_count"] == 3
    pruned = term_projection(THREE, ["x", "y", "z"], min_weight=0.5)
    assert set(map(frozenset, pruned.edges)) == {frozenset("xy"), frozenset("yz")}


def brute_force_knn(dense: np.ndarray, k: int) -> dict[frozenset[int], float]:
    """Dense reference: tf-idf (idf = ln(D/df) + 1), l2 rows, top k per row, ties to lower index."""
    n = dense.shape[0]
    df = (dense > 0).sum(axis=0)
    idf = np.where(df > 0, np.log(n / np.maximum(df, 1)) + 1, 0.0)
    tfidf = dense * idf
    norms = np.linalg.norm(tfidf, axis=1)
    unit = np.divide(tfidf, norms[:, None], out=np.zeros_like(tfidf), where=norms[:, None] > 0)
    sim = unit @ unit.T
    edges: dict[frozenset[int], float] = {}
    for i in range(n):
        candidates = sorted((-sim[i, j], j) for j in range(n) if j != i and sim[i, j] > 0)
        for negative, j in candidates[:k]:
            edges.setdefault(frozenset((i, j)), -negative)
    return edges


def test_graphs_document_projection_blocks_equal_brute_force() -> None:
    rng = np.random.default_rng(42)
    dense = rng.integers(1, 4, (37, 25)) * (rng.random((37, 25)) < 0.15)
    dense[5] = 0  # a document without terms
    ids = [f"doc{i}" for i in range(37)]
    expected = brute_force_knn(dense.astype(float), k=3)
    for block_size in (4, 7, 37, 4096):
        g = document_projection(sp.csr_matrix(dense), ids, k=3, block_size=block_size)
        assert g.number_of_nodes() == 37
        assert g.degree("doc5") == 0
        got = {
            frozenset((ids.index(a), ids.index(b))): d["weight"] for a, b, d in g.edges(data=True)
        }
        assert got.keys() == expected.keys()
        for key, value in expected.items():
            assert got[key] == pytest.approx(value, abs=1e-12)
    assert len(expected) > 37  # a union of kNN lists, not a trivial graph


def test_graphs_document_projection_long_rows_and_small_blocks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a term in every document makes every pair similar: rows of the similarity blocks are far
    # longer than 64 k, so the lower-bound thinning is used; duplicate documents make ties
    rng = np.random.default_rng(5)
    dense = rng.integers(1, 3, (300, 30)) * (rng.random((300, 30)) < 0.1)
    dense[:, 0] = rng.integers(1, 3, 300)
    dense[100:110] = dense[3]  # ten copies of document 3: exact ties
    ids = [f"d{i}" for i in range(300)]
    expected = brute_force_knn(dense.astype(float), k=2)
    monkeypatch.setattr(graphs, "MAX_BLOCK_CELLS", 300 * 7)  # caps 64-row blocks at 7 rows
    g = document_projection(sp.csr_matrix(dense), ids, k=2, block_size=64)
    got = {frozenset((ids.index(a), ids.index(b))): d["weight"] for a, b, d in g.edges(data=True)}
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=1e-12)
    # d3 holds only the common term, as do d5, d7, d13, ... and the copies d100-d109: all have
    # cosine 1 with each other, and each picks the two lowest-numbered: d3 and d5 (d3: d5, d7)
    assert dense[[5, 7, 13], 1:].sum() == 0
    assert set(g["d105"]) == {"d3", "d5"}
    assert g.edges["d3", "d105"]["weight"] == 1.0
    assert not g.has_edge("d100", "d105")


def test_graphs_document_projection_rejects_bad_k() -> None:
    with pytest.raises(ValueError, match=r"'k' parameter of document_projection must be an int"):
        document_projection(THREE, ["a", "b", "c"], k=0)
    with pytest.raises(ValueError, match=r"'doc_ids' .* a sequence of 3 str .* Got 2 items"):
        document_projection(THREE, ["a", "b"])


# ----------------------------------------------------------------------------- tables and export


def attributed_graph() -> nx.Graph:
    g = nx.Graph()
    g.add_node("owl", doc_count=np.int64(3), community=0, score=np.float32(0.5), note=None)
    g.add_node("tree", doc_count=2, community=1, score=1, flag=True)
    g.add_node("moon", doc_count=1, community=1, tags=["night", "sky"])
    g.add_edge("owl", "tree", weight=np.float64(0.75), count=4)
    g.add_edge("tree", "moon", weight=0.25, count=np.int32(2), alpha=None)
    return g


def test_graphs_tables_columns_and_nulls() -> None:
    nodes, edges = graph_tables(attributed_graph())
    assert nodes.column_names == ["node", "doc_count", "community", "score", "note", "flag", "tags"]
    assert nodes.column("node").to_pylist() == ["owl", "tree", "moon"]
    assert nodes.column("doc_count").to_pylist() == [3, 2, 1]
    assert nodes.column("score").to_pylist() == [0.5, 1.0, None]
    assert nodes.column("flag").to_pylist() == [None, True, None]
    assert nodes.column("tags").to_pylist() == [None, None, ["night", "sky"]]
    assert edges.column_names == ["source", "target", "weight", "count", "alpha"]
    assert edges.column("weight").to_pylist() == [0.75, 0.25]
    assert edges.column("count").to_pylist() == [4, 2]
    clash = nx.Graph()
    clash.add_node("a", node="x")
    with pytest.raises(ValueError, match=r"node attribute named 'node'"):
        graph_tables(clash)


def test_graphs_parquet_export(tmp_path: Path) -> None:
    written = export_graph(attributed_graph(), tmp_path / "out" / "terms.parquet")
    assert written == [
        tmp_path / "out" / "terms.nodes.parquet",
        tmp_path / "out" / "terms.edges.parquet",
    ]
    nodes = pq.read_table(written[0])
    edges = pq.read_table(written[1])
    assert nodes.num_rows == 3
    assert nodes.column("community").to_pylist() == [0, 1, 1]
    assert edges.to_pylist()[0] == {
        "source": "owl",
        "target": "tree",
        "weight": 0.75,
        "count": 4,
        "alpha": None,
    }
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "terms.edges.parquet",
        "terms.nodes.parquet",
    ]  # no temporary files left


def test_graphs_gexf_round_trip(tmp_path: Path) -> None:
    g = attributed_graph()
    written = export_graph(g, tmp_path / "terms.gexf")
    assert written == [tmp_path / "terms.gexf"]
    back = nx.read_gexf(written[0])
    assert back.number_of_nodes() == 3
    assert back.number_of_edges() == 2
    assert back.nodes["owl"]["doc_count"] == 3
    assert back.nodes["owl"]["score"] == 0.5
    assert back.nodes["tree"]["score"] == 1.0  # int and float mixed -> float
    assert back.nodes["moon"]["tags"] == "['night', 'sky']"
    assert back.edges["owl", "tree"]["weight"] == 0.75
    assert "note" not in back.nodes["owl"]  # None dropped
    assert isinstance(g.nodes["owl"]["doc_count"], np.int64)  # the input is untouched
    assert [p.name for p in tmp_path.iterdir()] == ["terms.gexf"]


def test_graphs_graphml_round_trip(tmp_path: Path) -> None:
    g = cooccurrence_graph(SIX, TERMS, min_count=1, min_npmi=-1.0)
    detect_communities(g, weight=None)
    add_centralities(g, weight=None)
    written = export_graph(g, str(tmp_path / "terms.GraphML"))
    back = nx.read_graphml(written[0])
    assert back.number_of_nodes() == g.number_of_nodes() == 3
    assert back.number_of_edges() == g.number_of_edges() == 3
    assert back.edges["a", "c"]["weight"] == pytest.approx(-0.3868528072345416, abs=1e-12)
    assert back.edges["a", "b"]["count"] == 3
    assert back.nodes["a"]["doc_count"] == 4
    assert back.nodes["b"]["betweenness"] == g.nodes["b"]["betweenness"]
    assert back.graph["betweenness_method"] == "exact"


def test_graphs_export_directed_graph_with_loop(tmp_path: Path) -> None:
    # reply graphs are directed and may hold self-replies
    g = nx.DiGraph()
    g.add_node("r1", depth=0, posted=np.datetime64("2024-01-02"))
    g.add_edge("r2", "r1", weight=2)
    g.add_edge("r2", "r2", weight=1)
    back = nx.read_graphml(export_graph(g, tmp_path / "replies.graphml")[0])
    assert back.is_directed()
    assert sorted(back.edges) == [("r2", "r1"), ("r2", "r2")]
    assert back.nodes["r1"]["posted"] == "2024-01-02"  # a numpy datetime becomes its str
    gexf = nx.read_gexf(export_graph(g, tmp_path / "replies.gexf")[0])
    assert gexf.is_directed() and gexf.edges["r2", "r1"]["weight"] == 2.0
    nodes, edges = graph_tables(g)
    assert edges.column("source").to_pylist() == ["r2", "r2"]
    assert nodes.column("depth").to_pylist() == [0, None]


def test_graphs_empty_backbone_flows_through(tmp_path: Path) -> None:
    # two isolated pairs: every edge joins two degree-1 nodes, so the backbone is empty
    g = cooccurrence_graph(sp.csr_matrix([[1, 1, 0, 0], [0, 0, 1, 1]]), list("wxyz"), min_count=1)
    assert g.number_of_edges() == 2
    backbone = disparity_filter(g)
    assert backbone.number_of_nodes() == backbone.number_of_edges() == 0
    assert detect_communities(backbone) == ({}, 0.0)
    add_centralities(backbone)
    nodes, edges = graph_tables(backbone)
    assert (nodes.num_rows, nodes.column_names) == (0, ["node"])
    assert (edges.num_rows, edges.column_names) == (0, ["source", "target"])
    back = nx.read_gexf(export_graph(backbone, tmp_path / "empty.gexf")[0])
    assert back.number_of_nodes() == 0


def test_graphs_export_rejects_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(ValueError) as err:
        export_graph(nx.path_graph(2), tmp_path / "g.csv")
    assert str(err.value) == (
        "The 'path' parameter of export_graph must be a path ending in one of '.gexf', "
        f"'.graphml', '.parquet'. Got {str(tmp_path / 'g.csv')!r} instead."
    )
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- user errors


@pytest.mark.parametrize(("alpha", "shown"), [(2.0, "2.0"), (-1, "-1"), (0.0, "0.0"), (1, "1")])
def test_graphs_disparity_bad_alpha_is_a_neco_error(alpha: float, shown: str) -> None:
    from neco.errors import NecoError

    g = nx.Graph([("a", "b", {"weight": 1.0}), ("b", "c", {"weight": 2.0})])
    with pytest.raises(NecoError) as err:
        disparity_filter(g, alpha=alpha)
    assert str(err.value) == (
        f"The 'alpha' parameter of disparity_filter must be a float in (0, 1). Got {shown} instead."
    )
    assert isinstance(err.value, ValueError)  # code that catches ValueError still does
    assert err.value.exit_code == 2
    with pytest.raises(NecoError, match=r"Got 'high' instead\.$"):
        graphs.check_disparity_alpha("high")
    assert graphs.check_disparity_alpha(0.05) == 0.05


def test_graphs_every_parameter_error_is_a_neco_error() -> None:
    from neco.errors import NecoError

    bad_calls = [
        lambda: cooccurrence_graph([[1, 0]], ["a", "b"]),
        lambda: cooccurrence_graph(sp.csr_matrix([[1, 0]]), ["a", "b"], min_count=0),
        lambda: detect_communities(nx.path_graph(3), method="infomap"),
        lambda: add_centralities(nx.path_graph(3), weight=3),
        lambda: bipartite_graph(sp.csr_matrix([[1]]), ["d1", "d2"], ["t"]),
        lambda: term_projection(sp.csr_matrix([[1]]), ["t"], min_weight=2.0),
        lambda: document_projection(sp.csr_matrix([[1]]), ["d"], k=0),
        lambda: graph_tables("not a graph"),
        lambda: export_graph(nx.path_graph(2), 42),
    ]
    for call in bad_calls:
        with pytest.raises(NecoError, match=r"^The '\w+' parameter of \w+ must be .* instead\.$"):
            call()


def test_graphs_check_export_path_suffixes(tmp_path: Path) -> None:
    from neco.errors import NecoError

    for name in ("g.gexf", "g.GraphML", "nested/g.parquet"):
        assert graphs.check_export_path(tmp_path / name) == tmp_path / name
    for name in ("x.json", "g.txt", "noext"):
        with pytest.raises(NecoError) as err:
            graphs.check_export_path(name)
        assert str(err.value) == (
            "The 'path' parameter of export_graph must be a path ending in one of '.gexf', "
            f"'.graphml', '.parquet'. Got {name!r} instead."
        )


def test_graphs_export_unwritable_folder_is_a_neco_error(tmp_path: Path) -> None:
    from neco.errors import NecoError

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(NecoError, match=r"^Cannot write the graph to .*file/g\.gexf: "):
        export_graph(nx.path_graph(2), blocker / "g.gexf")


def test_graphs_build_graph_checks_out_before_reading_the_workspace(tmp_path: Path) -> None:
    from neco.errors import NecoError
    from neco.social.graph_export import build_graph

    missing = tmp_path / "no-workspace"
    for out in ("x.json", "g.txt"):
        with pytest.raises(NecoError) as err:
            build_graph(missing, "cooccurrence", tmp_path / out)
        assert str(err.value) == (
            "The 'path' parameter of build_graph must be a path ending in one of '.gexf', "
            f"'.graphml', '.parquet'. Got {str(tmp_path / out)!r} instead."
        )
    with pytest.raises(NecoError, match=r"'top_terms' parameter of build_graph .* Got 0 instead"):
        build_graph(missing, "terms", tmp_path / "g.gexf", top_terms=0)
    with pytest.raises(NecoError, match=r"'min_count' parameter of build_graph .* Got -1 instead"):
        build_graph(missing, "terms", tmp_path / "g.gexf", min_count=-1)
    with pytest.raises(NecoError, match=r"'kind' parameter of build_graph must be one of"):
        build_graph(missing, "tree", tmp_path / "g.gexf")
    # with good arguments, the first thing to fail is the missing workspace
    with pytest.raises(NecoError, match=r"^No neco workspace at "):
        build_graph(missing, "terms", tmp_path / "g.gexf")
    assert not missing.exists()
    assert list(tmp_path.iterdir()) == []


def test_graphs_cli_graph_bad_out_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from neco.cli import main

    ws = str(tmp_path / "no-workspace")
    assert main(["graph", "-w", ws, "--kind", "terms", "--out", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err
    assert "must be a path ending in one of '.gexf', '.graphml', '.parquet'" in err
    assert "Traceback" not in err


# Characters XML 1.0 forbids: C0 controls other than tab/newline/CR, U+FFFE, U+FFFF and lone
# surrogates. Drawn from a seeded generator so that a failure reproduces.
_FORBIDDEN = [chr(c) for c in range(0x20) if c not in (0x9, 0xA, 0xD)] + [
    "\ufffe",
    "\uffff",
    "\ud800",
]


def _hostile(rng: random.Random, word: str) -> str:
    return word + "".join(rng.choice(_FORBIDDEN) for _ in range(rng.randint(1, 3)))


@pytest.mark.parametrize("suffix", [".gexf", ".graphml"])
def test_graphs_export_escapes_what_xml_forbids_and_keeps_ids_apart(
    tmp_path: Path, suffix: str
) -> None:
    rng = random.Random(7)
    g = nx.DiGraph()
    names = [_hostile(rng, f"n{i}") for i in range(12)]
    for name in names:
        g.add_node(name, author=_hostile(rng, "ana"), term=_hostile(rng, "kite"))
    g.add_node("a\x01")  # and the escape of it, written out: two nodes, one text
    g.add_node("a\\x01")
    for a, b in itertools.pairwise(names):
        g.add_edge(a, b, weight=1.0, **{_hostile(rng, "note"): _hostile(rng, "x")})
    g.graph["title"] = _hostile(rng, "graph")
    [written] = export_graph(g, tmp_path / f"hostile{suffix}")
    back = nx.read_gexf(written) if suffix == ".gexf" else nx.read_graphml(written)
    assert back.number_of_nodes() == g.number_of_nodes() == 14
    assert back.number_of_edges() == 11
    shown = xml_safe(names[0])
    assert shown != names[0] and shown.startswith("n0\\")
    assert back.nodes[shown]["author"] == xml_safe(g.nodes[names[0]]["author"])
    ids = sorted(n for n in back.nodes if n.startswith("a"))
    assert ids[0].startswith("a\\x01#") and ids[1].startswith("a\\x01#") and ids[0] != ids[1]
    text = written.read_text(encoding="utf-8")
    assert not any(ch in text for ch in _FORBIDDEN if ch != "\ud800")


def test_graphs_xml_safe_leaves_allowed_text_alone() -> None:
    text = "Möwen über dem Hafen \t\n\r 🦅 \u202e"
    assert xml_safe(text) == text
    assert xml_safe("a\x00b\ufffe") == "a\\x00b\\ufffe"
