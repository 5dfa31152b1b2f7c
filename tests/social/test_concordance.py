"""Concordance lines and collocates on a hand-made corpus."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from neco.errors import NecoError
from neco.social.concordance import collocates, kwic
from tests.social.conftest import TEXTS

CORPUS = pd.DataFrame({"id": list(TEXTS), "text": [TEXTS[i][0] for i in TEXTS]})


def test_concordance_phrase_lines_sorted_by_right_context(lexical):
    lines = kwic(CORPUS, lexical.tokens, "red kite", width=8)
    # sorted on the words after the match: (none), again, hovers, one
    assert lines[["id", "left", "match", "right"]].values.tolist() == [
        ["c", ", and a ", "red kite", "."],
        ["c", "The ", "red kite", " again, "],
        ["a", "A ", "red kite", " hovers "],
        ["b", "Two ", "red kites", ", one gr"],
    ]
    assert lines["start"].tolist()[0] == 26  # "The red kite again, and a |red kite."


def test_concordance_left_sort_community_filter_and_errors(lexical):
    lines = kwic(CORPUS, lexical.tokens, "kite", sort="left", community="birds", width=10)
    # left contexts read backwards from the match: "red a", "red a and again kite",
    # "red the", "red two"
    assert lines["id"].tolist() == ["a", "c", "c", "b"]
    assert lines["left"].tolist()[1:3] == ["and a red ", "The red "]
    assert lines["match"].tolist() == ["kite", "kite", "kite", "kites"]
    assert kwic(CORPUS, lexical.tokens, "kite", community="pets").empty
    with pytest.raises(NecoError, match="No community 'cats'"):
        kwic(CORPUS, lexical.tokens, "kite", community="cats")
    with pytest.raises(NecoError, match="query is empty"):
        kwic(CORPUS, lexical.tokens, "  ")


def test_concordance_collocates_counts_and_scores(lexical):
    table = collocates(lexical.tokens, "kite", window=2, min_count=1, community="birds")
    rows = table.set_index("term")
    # birds: 7 + 6 + 8 = 21 word tokens (punctuation skipped); kite occurs 4 times;
    # red occurs 4 times, each within 2 words of a kite
    assert rows.loc["red", "count"] == 4
    assert rows.loc["red", "term_count"] == 4
    n, span, f_n, f_c, f_nc = 21, 4, 4, 4, 4
    pmi = math.log(f_nc * n / (f_n * f_c * span))
    assert rows.loc["red", "npmi"] == pytest.approx(pmi / -math.log(f_nc / (n * span)))
    assert "a" not in rows.index  # stop words left out by default
    assert table["term"].tolist()[0] == "red"
    with pytest.raises(NecoError, match="one word as node"):
        collocates(lexical.tokens, "red kite")
