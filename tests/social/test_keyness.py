"""Keyness against a reference implementation written out term by term."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from neco.errors import NecoError
from neco.social.keyness import keyness_table
from neco.social.terms import DocTermMatrix

TERMS = np.array(["gull", "heron", "kite"], dtype=object)


def _dtm(rows, communities):
    return DocTermMatrix(
        sp.csr_matrix(np.array(rows)), TERMS, np.array([f"d{i}" for i in range(len(rows))]),
        np.array(communities, dtype=object), "lemma",
    )  # fmt: skip


def reference(a, b, n_a, n_b, alpha, alpha0):
    """Monroe et al. (2008) eq. 16-22, Rayson & Garside G², Hardie's log ratio."""
    delta = math.log((a + alpha) / (n_a + alpha0 - a - alpha)) - math.log(
        (b + alpha) / (n_b + alpha0 - b - alpha)
    )
    z = delta / math.sqrt(1 / (a + alpha) + 1 / (b + alpha))
    e_a, e_b = n_a * (a + b) / (n_a + n_b), n_b * (a + b) / (n_a + n_b)
    g2 = 2 * sum(o * math.log(o / e) for o, e in ((a, e_a), (b, e_b)) if o > 0)
    lr = math.log2((max(a, 0.5) / n_a) / (max(b, 0.5) / n_b))
    return z, g2, lr


def test_keyness_two_communities_matches_reference():
    # community A: kite x2, heron x1 (3 tokens); community B: heron, gull x2 (3 tokens)
    dtm = _dtm([[0, 1, 2], [1, 1, 0], [1, 0, 0]], ["A", "B", "B"])
    table = keyness_table(dtm, min_count=1).to_pandas()
    a_rows = table[table["community"] == "A"].set_index("term")
    assert list(a_rows.index) == ["kite", "heron", "gull"]  # by decreasing z
    # Worked by hand for kite: alpha_w = 2 (its corpus count), alpha_0 = 6,
    # delta = ln(4/5) - ln(2/7) = 1.029619, var = 1/4 + 1/2, z = 1.188902;
    # E_a = E_b = 1, G2 = 2 * 2 ln 2; log ratio = log2((2/3) / (0.5/3)) = 2
    assert a_rows.loc["kite", "logodds_z"] == pytest.approx(1.188902, abs=1e-6)
    assert a_rows.loc["kite", "g2"] == pytest.approx(4 * math.log(2), abs=1e-9)
    assert a_rows.loc["kite", "log_ratio"] == pytest.approx(2.0, abs=1e-12)
    for term, a, b in (("kite", 2, 0), ("heron", 1, 1), ("gull", 0, 2)):
        z, g2, lr = reference(a, b, 3, 3, alpha=2, alpha0=6)
        row = a_rows.loc[term]
        assert (row["count"], row["rest_count"]) == (a, b)
        assert row["logodds_z"] == pytest.approx(z, abs=1e-9)
        assert row["g2"] == pytest.approx(g2, abs=1e-9)
        assert row["log_ratio"] == pytest.approx(lr, abs=1e-9)
    assert a_rows.loc["heron", "doc_count"] == 1
    assert a_rows.loc["heron", "rest_doc_count"] == 1
    # symmetric: B's z for kite is A's with the sign flipped
    b_rows = table[table["community"] == "B"].set_index("term")
    assert b_rows.loc["kite", "logodds_z"] == pytest.approx(-a_rows.loc["kite", "logodds_z"])


def test_keyness_three_communities_rest_and_pairwise():
    dtm = _dtm([[0, 1, 3], [2, 1, 0], [0, 4, 1]], ["A", "B", "C"])
    rest = keyness_table(dtm, communities=["A"], min_count=1).to_pandas().set_index("term")
    # rest of A = B + C: gull 2, heron 5, kite 1 (n=8); A: heron 1, kite 3 (n=4)
    z, g2, _ = reference(3, 1, 4, 8, alpha=4, alpha0=12)
    assert rest.loc["kite", "logodds_z"] == pytest.approx(z, abs=1e-9)
    assert rest.loc["kite", "g2"] == pytest.approx(g2, abs=1e-9)
    assert set(rest["reference"]) == {"rest"}
    pair = keyness_table(dtm, communities=["A"], against="C", min_count=1).to_pandas()
    pair = pair.set_index("term")
    # A vs C only: prior from A + C counts: heron 5, kite 4 (alpha_0 = 9); gull never seen
    z, g2, _ = reference(3, 1, 4, 5, alpha=4, alpha0=9)
    assert pair.loc["kite", "logodds_z"] == pytest.approx(z, abs=1e-9)
    assert "gull" not in pair.index
    assert set(pair["reference"]) == {"C"}


def test_keyness_min_count_metadata_and_errors():
    dtm = _dtm([[0, 1, 2], [1, 1, 0], [1, 0, 0]], ["A", "B", "B"])
    table = keyness_table(dtm, min_count=3)
    assert sorted(set(table.column("term").to_pylist())) == []  # every term is seen twice
    table = keyness_table(dtm, min_count=2)
    assert table.num_rows == 6
    meta = table.schema.metadata
    assert meta[b"unit"] == b"lemma" and b"Monroe" in meta[b"formulas"]
    with pytest.raises(NecoError, match="No community 'Z'"):
        keyness_table(dtm, communities=["Z"])
    with pytest.raises(NecoError, match="compares communities, but the corpus has 1"):
        keyness_table(_dtm([[1, 1, 1]], ["A"]))
