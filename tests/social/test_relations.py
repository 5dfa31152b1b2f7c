"""Dependency triples from the real small English pipeline."""

from __future__ import annotations

import pytest

from neco.errors import NecoError
from neco.social.relations import extract_relations, relation_counts


def test_relations_svo_prep_amod(full):
    rel = extract_relations(full.tokens)
    d = rel[rel["id"] == "d"]
    assert d[["kind", "term_a", "relation", "term_b"]].values.tolist() == [
        ["amod", "brown", "amod", "dog"],
        ["amod", "red", "amod", "ball"],
        ["svo", "dog", "chase", "ball"],
    ]
    assert d[d["kind"] == "svo"][["position_a", "position_b"]].values.tolist() == [[2, 6]]
    e = rel[(rel["id"] == "e") & (rel["kind"] == "prep")]
    assert e[["term_a", "relation", "term_b"]].values.tolist()[0] == ["mug", "in", "grass"]
    counts = relation_counts(rel)
    red_kite = counts[(counts["term_a"] == "red") & (counts["term_b"] == "kite")]
    assert red_kite["count"].tolist() == [2]  # captions a and c (c has it twice, counted once)


def test_relations_need_full_parse(lexical):
    with pytest.raises(NecoError, match="need the dependency parse"):
        extract_relations(lexical.tokens)
