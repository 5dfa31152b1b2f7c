"""Term units counted from real parses: exact matrices."""

from __future__ import annotations

import pyarrow as pa
import pytest

from neco.errors import NecoError
from neco.social.terms import build_doc_terms, collapse_key, duplicate_mask
from tests.social.conftest import TEXTS

DOCS = pa.table({"id": list(TEXTS), "community": [TEXTS[i][1] for i in TEXTS]})


def _counts(dtm, doc):
    row = list(dtm.doc_ids).index(doc)
    vector = dtm.matrix[row].toarray().ravel()
    return {t: int(v) for t, v in zip(dtm.terms, vector, strict=True) if v}


def test_terms_lemma_counts(lexical):
    dtm = build_doc_terms(DOCS, lexical.tokens, "lemma")
    assert _counts(dtm, "c") == {"red": 2, "kite": 2}  # "again", "and", "a", "the" are stop
    assert _counts(dtm, "b") == {"red": 1, "kite": 1, "grey": 1, "heron": 1}
    assert _counts(dtm, "f") == {"möwe": 1, "hafen": 1}
    names, counts, docs = dtm.by_community()
    assert names == ["birds", "möwen", "pets"]
    kite = list(dtm.terms).index("kite")
    assert counts[0, kite] == 4 and docs[0, kite] == 3


def test_terms_ngrams_do_not_cross_punctuation_or_start_with_stop_words(lexical):
    dtm = build_doc_terms(DOCS, lexical.tokens, "ngram")
    b = _counts(dtm, "b")
    # "two" and "one" are spaCy stop words, so no n-gram starts with them
    assert b == {
        "red": 1, "kites": 1, "grey": 1, "heron": 1, "red kites": 1, "grey heron": 1,
    }  # fmt: skip
    assert "kites one" not in b  # a comma lies between
    assert _counts(dtm, "c")["red kite"] == 2
    assert "a red kite" not in _counts(dtm, "c")


def test_terms_chunks_and_entities_need_full_parse(lexical, full):
    chunks = build_doc_terms(DOCS, full.tokens, "chunk", chunks=full.chunks)
    assert _counts(chunks, "d") == {"brown dog": 1, "red ball": 1}
    with pytest.raises(NecoError, match="needs the full parse"):
        build_doc_terms(DOCS, lexical.tokens, "chunk", chunks=lexical.chunks)
    with pytest.raises(NecoError, match="'unit' parameter must be one of"):
        build_doc_terms(DOCS, lexical.tokens, "word")


def test_terms_specifiers_positive_and_negative():
    tokens = pa.table({"id": ["p"], "lemma": ["x"], "is_stop": [False], "is_punct": [False]})
    specs = pa.table({
        "id": ["p", "p", "p"], "community": ["pr"] * 3, "position": [0, 1, 0],
        "text": ["Castle", "matte painting", "blurry"], "weight": [1.0, 1.1, 1.0],
        "negative": [False, False, True], "artist": [None, None, None],
        "kind": ["text", "text", "text"],
    })  # fmt: skip
    docs = pa.table({"id": ["p"], "community": ["pr"]})
    positive = build_doc_terms(docs, tokens, "specifier", specifiers=specs)
    assert _counts(positive, "p") == {"castle": 1, "matte painting": 1}
    both = build_doc_terms(docs, tokens, "specifier", specifiers=specs, include_negative=True)
    assert _counts(both, "p") == {"castle": 1, "matte painting": 1, "-blurry": 1}


def test_terms_collapse_duplicates():
    assert collapse_key("A  red kite!!") == "a red kite"
    keep = duplicate_mask(["1", "2", "3", "4"], ["A red kite", "a RED kite.", "A red kite", "x"],
                          ["c", "c", "d", "c"])  # fmt: skip
    assert keep.tolist() == [True, False, True, True]
