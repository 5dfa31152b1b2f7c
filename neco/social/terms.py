"""Term units and the caption x term matrix that every count in the NLP layer starts from.

Units (the researcher chooses):

- ``lemma`` — lowercased lemmas of word tokens (punctuation and tokens without a letter or
  digit dropped; stop words dropped unless ``keep_stop``);
- ``ngram`` — lowercased word n-grams (default 1–3) that do not cross punctuation; unless
  ``keep_stop``, n-grams that begin or end with a stop word are dropped ("red kite" is kept,
  "a red kite" and "kite over" are not);
- ``chunk`` — noun chunks (full parse), lemmatised, lowercased, a leading determiner removed
  ("the red kites" -> "red kite");
- ``entity`` — named entities (full parse), as written;
- ``specifier`` — prompt specifiers (``neco.social.prompts``), lowercased, weights removed;
  negative-prompt specifiers only when ``include_negative`` (prefixed ``-``).

Counting is by tokens (``matrix`` holds occurrences) and by documents (``binary()``).
``collapse_duplicates`` keeps one caption per community for each normalised text, so that a
caption posted many times does not dominate the counts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import scipy.sparse as sp

from neco.errors import NecoError

UNITS = ("lemma", "ngram", "chunk", "entity", "specifier")
_DETERMINERS = frozenset({"a", "an", "the", "this", "that", "these", "those", "some", "any"})
_HAS_WORD = re.compile(r"[^\W_]")


@dataclass
class DocTermMatrix:
    """Captions x terms counts, with the caption ids and communities of the rows."""

    matrix: sp.csr_matrix
    terms: np.ndarray
    doc_ids: np.ndarray
    communities: np.ndarray
    unit: str

    @property
    def n_docs(self) -> int:
        return int(self.matrix.shape[0])

    def binary(self) -> sp.csr_matrix:
        """1 where a caption contains a term (document counts)."""
        out = self.matrix.copy()
        out.data = np.ones_like(out.data)
        return out

    def community_names(self) -> list[str]:
        return sorted(set(self.communities.tolist()))

    def by_community(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """(names, token counts K x V, document counts K x V) as dense arrays."""
        names = self.community_names()
        index = {c: i for i, c in enumerate(names)}
        rows = np.fromiter(
            (index[c] for c in self.communities), dtype=np.int64, count=len(self.communities)
        )
        groups = sp.csr_matrix(
            (np.ones(len(rows)), (rows, np.arange(len(rows)))), shape=(len(names), len(rows))
        )
        counts = (groups @ self.matrix).toarray()
        docs = (groups @ self.binary()).toarray()
        return names, counts, docs

    def restrict(self, min_count: int = 1) -> DocTermMatrix:
        """Keep terms seen at least ``min_count`` times in the whole corpus."""
        totals = np.asarray(self.matrix.sum(axis=0)).ravel()
        keep = np.flatnonzero(totals >= min_count)
        return DocTermMatrix(
            self.matrix[:, keep].tocsr(),
            self.terms[keep],
            self.doc_ids,
            self.communities,
            self.unit,
        )


def _matrix(
    doc_rows: np.ndarray, terms: pd.Series, n_docs: int
) -> tuple[sp.csr_matrix, np.ndarray]:
    codes, uniques = pd.factorize(terms, sort=True)
    matrix = sp.csr_matrix(
        (np.ones(len(codes), dtype=np.int32), (doc_rows, codes)),
        shape=(n_docs, len(uniques)),
    )
    matrix.sum_duplicates()
    return matrix, np.asarray(uniques, dtype=object)


def collapse_key(text: str) -> str:
    """Normalised form used to collapse duplicate captions: lowercase letters and digits.

    >>> collapse_key("A  red kite!!") == collapse_key("a red KITE")
    True
    """
    return " ".join(re.findall(r"[^\W_]+", text.lower()))


def duplicate_mask(
    ids: Sequence[str], texts: Sequence[str], communities: Sequence[str]
) -> np.ndarray:
    """True for captions to keep: the first of each (community, normalised text)."""
    frame = pd.DataFrame({"c": list(communities), "k": [collapse_key(t) for t in texts]})
    return ~frame.duplicated().to_numpy()


def build_doc_terms(
    docs: pa.Table,
    tokens: pa.Table,
    unit: str = "lemma",
    *,
    ngram: tuple[int, int] = (1, 3),
    keep_stop: bool = False,
    chunks: pa.Table | None = None,
    entities: pa.Table | None = None,
    specifiers: pa.Table | None = None,
    include_negative: bool = False,
) -> DocTermMatrix:
    """Count ``unit`` terms per caption.

    ``docs`` has ``id`` and ``community`` (every caption, also those without terms, in the
    order of the rows); the other tables come from :mod:`neco.social.parse` and
    :mod:`neco.social.prompts`.
    """
    if unit not in UNITS:
        raise NecoError(f"The 'unit' parameter must be one of {', '.join(UNITS)}. Got {unit!r}.")
    doc_ids = np.asarray(docs.column("id").to_pylist(), dtype=object)
    communities = np.asarray(docs.column("community").to_pylist(), dtype=object)
    row_of = pd.Series(np.arange(len(doc_ids)), index=pd.Index(doc_ids))

    if unit == "lemma":
        frame = tokens.select(["id", "lemma", "is_stop", "is_punct"]).to_pandas()
        frame = frame[~frame["is_punct"] & (keep_stop | ~frame["is_stop"])]
        terms = frame["lemma"].str.lower()
        keep = _word_like(terms)
        frame, terms = frame[keep], terms[keep]
    elif unit == "ngram":
        frame, terms = _ngrams(tokens, ngram, keep_stop)
    elif unit in ("chunk", "entity"):
        table = chunks if unit == "chunk" else entities
        if table is None or (table.num_rows == 0 and tokens.num_rows and _no_parse(tokens)):
            raise NecoError(
                f"The {unit!r} unit needs the full parse (noun chunks and entities). "
                "Run: neco social --mode full"
            )
        frame = table.to_pandas()
        terms = _chunk_terms(frame["lemma"]) if unit == "chunk" else frame["text"]
    else:
        if specifiers is None:
            raise NecoError("The 'specifier' unit needs prompt specifiers; run neco social.")
        frame = specifiers.to_pandas()
        if not include_negative:
            frame = frame[~frame["negative"]]
        terms = frame["text"].str.lower().where(~frame["negative"], "-" + frame["text"].str.lower())
        frame = frame[frame["kind"] != "parameter"] if "kind" in frame else frame
        terms = terms.loc[frame.index]
    present = frame["id"].isin(row_of.index)
    frame, terms = frame[present], terms[present]
    rows = row_of.loc[frame["id"]].to_numpy()
    matrix, uniques = _matrix(rows, terms.reset_index(drop=True), len(doc_ids))
    return DocTermMatrix(matrix, uniques, doc_ids, communities, unit)


def _no_parse(tokens: pa.Table) -> bool:
    return tokens.column("head").null_count == tokens.num_rows


def _word_like(terms: pd.Series) -> pd.Series:
    unique = pd.Series(terms.unique())
    ok = set(unique[unique.str.contains(_HAS_WORD, regex=True, na=False)])
    return terms.isin(ok)


def _chunk_terms(lemmas: pd.Series) -> pd.Series:
    def strip(lemma: str) -> str:
        words = lemma.split()
        while words and words[0] in _DETERMINERS:
            words = words[1:]
        return " ".join(words)

    return lemmas.map(strip)


def _ngrams(
    tokens: pa.Table, ngram: tuple[int, int], keep_stop: bool
) -> tuple[pd.DataFrame, pd.Series]:
    low, high = ngram
    if not 1 <= low <= high <= 6:
        raise NecoError(
            f"The 'ngram' parameter must be (low, high) with 1 <= low <= high <= 6. "
            f"Got {ngram!r} instead."
        )
    frame = tokens.select(["id", "lower", "is_stop", "is_punct"]).to_pandas()
    word = ~frame["is_punct"].to_numpy() & _word_like(frame["lower"]).to_numpy()
    ids = frame["id"].to_numpy()
    # A segment is a run of word tokens in one caption; n-grams never cross a segment.
    boundary = np.r_[True, ids[1:] != ids[:-1]] | ~word
    segment = np.cumsum(boundary)
    keep_rows = np.flatnonzero(word)
    words = frame["lower"].to_numpy()[keep_rows]
    stops = frame["is_stop"].to_numpy()[keep_rows]
    seg = segment[keep_rows]
    doc = ids[keep_rows]
    out_ids: list[np.ndarray] = []
    out_terms: list[np.ndarray] = []
    for n in range(low, high + 1):
        if len(words) < n:
            break
        valid = seg[: len(seg) - n + 1] == seg[n - 1 :]
        grams = words[: len(words) - n + 1].astype(object)
        for k in range(1, n):
            grams = grams + " " + words[k : len(words) - n + 1 + k]
        if not keep_stop:  # no stop word at either edge ("red kite", not "a red kite")
            valid &= ~stops[: len(stops) - n + 1] & ~stops[n - 1 :]
        out_ids.append(doc[: len(doc) - n + 1][valid])
        out_terms.append(grams[valid])
    if not out_ids:
        return pd.DataFrame({"id": []}), pd.Series([], dtype=object)
    result = pd.DataFrame({"id": np.concatenate(out_ids)})
    return result, pd.Series(np.concatenate(out_terms), dtype=object)
