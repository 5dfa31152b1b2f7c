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
  negative-prompt specifiers only when ``include_negative`` (prefixed ``-``); each (caption,
  position) once, also when the specifiers table has a row per artist;
- ``tag`` — bracketed tags and resolution marks of web text (``[oc]``, ``[WxH]``; see
  :mod:`neco.social.tags`).

When tags are given, the word tokens inside them are left out of ``lemma`` and ``ngram``
counts (an n-gram never spans a tag). A user stop-list (``stop_terms``, compared
case-insensitively with the term as counted; for n-grams also with their first and last
word, as stop words are) and exclusion patterns (``exclude``: regular expressions searched
in the term, case-insensitive, as the dashboard's patterns are) remove terms before anything
is counted, so totals and keyness are computed without them.

Counting is by tokens (``matrix`` holds occurrences) and by documents (``binary()``).
``collapse_duplicates`` keeps one caption per community for each normalised text, so that a
caption posted many times does not dominate the counts. :func:`frequency_table` lists each
community's terms by count and document count, for one community as for many.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import scipy.sparse as sp

from neco.errors import NecoError

UNITS = ("lemma", "ngram", "chunk", "entity", "specifier", "tag")
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
    tags: pa.Table | None = None,
    stop_terms: Collection[str] = (),
    exclude: Sequence[str] = (),
) -> DocTermMatrix:
    """Count ``unit`` terms per caption.

    ``docs`` has ``id`` and ``community`` (every caption, also those without terms, in the
    order of the rows); the other tables come from :mod:`neco.social.parse`,
    :mod:`neco.social.prompts` and :func:`neco.social.tags.find_tags` (``tags``: needed for
    the ``tag`` unit; for ``lemma`` and ``ngram`` it keeps the tokens inside tags out).
    ``stop_terms`` and ``exclude`` leave terms out (module doc).
    """
    if unit not in UNITS:
        raise NecoError(f"The 'unit' parameter must be one of {', '.join(UNITS)}. Got {unit!r}.")
    patterns = compile_patterns(exclude)
    doc_ids = np.asarray(docs.column("id").to_pylist(), dtype=object)
    communities = np.asarray(docs.column("community").to_pylist(), dtype=object)
    row_of = pd.Series(np.arange(len(doc_ids)), index=pd.Index(doc_ids))

    if unit == "lemma":
        columns = ["id", "lemma", "is_stop", "is_punct"]
        frame = tokens.select(columns + (["start", "end"] if tags is not None else [])).to_pandas()
        in_tag = _in_tags(frame, tags)
        frame = frame[~frame["is_punct"] & (keep_stop | ~frame["is_stop"]) & ~in_tag]
        terms = frame["lemma"].str.lower()
        keep = _word_like(terms)
        frame, terms = frame[keep], terms[keep]
    elif unit == "ngram":
        frame, terms = _ngrams(tokens, ngram, keep_stop, tags)
    elif unit == "tag":
        if tags is None:
            raise NecoError("The 'tag' unit needs the tags of the captions (neco.social.tags).")
        frame = tags.select(["id", "tag"]).to_pandas()
        terms = frame["tag"]
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
        # A specifier naming several artists has a row per artist: count it once.
        frame = frame.drop_duplicates(["id", "position", "negative"])
        if not include_negative:
            frame = frame[~frame["negative"]]
        terms = frame["text"].str.lower().where(~frame["negative"], "-" + frame["text"].str.lower())
        frame = frame[frame["kind"] != "parameter"] if "kind" in frame else frame
        terms = terms.loc[frame.index]
    present = frame["id"].isin(row_of.index)
    if stop_terms or patterns:
        present &= ~_excluded(terms, unit, stop_terms, patterns)
    frame, terms = frame[present], terms[present]
    rows = row_of.loc[frame["id"]].to_numpy()
    matrix, uniques = _matrix(rows, terms.reset_index(drop=True), len(doc_ids))
    return DocTermMatrix(matrix, uniques, doc_ids, communities, unit)


FREQUENCY_SCHEMA = pa.schema(
    [
        ("community", pa.string()),
        ("term", pa.string()),
        ("count", pa.int64()),
        ("doc_count", pa.int64()),
        ("share", pa.float64()),
        ("doc_share", pa.float64()),
    ]
)


def frequency_table(
    dtm: DocTermMatrix,
    *,
    communities: Sequence[str] | None = None,
    min_count: int = 1,
    rank: str = "count",
) -> pa.Table:
    """Each community's terms by frequency: no comparison, so one community is enough.

    Columns: ``count`` (occurrences), ``doc_count`` (captions holding the term), ``share``
    (``count`` over all terms counted in the community) and ``doc_share`` (``doc_count`` over
    the community's captions). Communities come in the order of ``communities`` (default:
    sorted), terms by decreasing ``rank`` (``count`` or ``doc_count``), then the other, then
    alphabetically; terms seen fewer than ``min_count`` times in the community are left out.
    """
    if rank not in ("count", "doc_count"):
        raise NecoError(f"The 'rank' parameter must be count or doc_count. Got {rank!r}.")
    names, counts, docs = dtm.by_community()
    focus = list(communities) if communities else names
    unknown = [c for c in focus if c not in names]
    if unknown:
        raise NecoError(f"No community {unknown[0]!r}. Communities: {', '.join(names)}.")
    n_docs = pd.Series(dtm.communities).value_counts()
    parts = []
    for name in focus:
        i = names.index(name)
        keep = np.flatnonzero(counts[i] >= max(min_count, 1))
        part = pd.DataFrame(
            {
                "community": name,
                "term": dtm.terms[keep].astype(str),
                "count": counts[i, keep].astype(np.int64),
                "doc_count": docs[i, keep].astype(np.int64),
            }
        )
        part["share"] = part["count"] / max(float(counts[i].sum()), 1.0)
        part["doc_share"] = part["doc_count"] / float(n_docs.get(name, 1))
        other = "doc_count" if rank == "count" else "count"
        parts.append(
            part.sort_values([rank, other, "term"], ascending=[False, False, True], kind="stable")
        )
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if frame.empty:
        return FREQUENCY_SCHEMA.empty_table()
    table = pa.Table.from_pandas(frame, schema=FREQUENCY_SCHEMA, preserve_index=False)
    meta = {"unit": dtm.unit, "min_count": str(min_count), "rank": rank}
    return table.replace_schema_metadata({k: v.encode() for k, v in meta.items()})


def compile_patterns(patterns: Sequence[str]) -> list[re.Pattern[str]]:
    """Exclusion patterns compiled case-insensitive; a bad one raises naming it.

    >>> [bool(p.search("OC")) for p in compile_patterns(["^oc$", "x"])]
    [True, False]
    """
    compiled = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(pattern, re.IGNORECASE))
        except re.error as exc:
            raise NecoError(
                f"The exclusion pattern {pattern!r} is not a valid regular expression ({exc}). "
                r"Expected one such as '^\d+x\d+$' (image sizes) or '^oc$'."
            ) from exc
    return compiled


def _excluded(
    terms: pd.Series,
    unit: str,
    stop_terms: Collection[str],
    patterns: Sequence[re.Pattern[str]],
) -> np.ndarray:
    """True for the terms that the stop-list or a pattern removes (module doc)."""
    stop = {t.lower() for t in stop_terms}
    dropped = set()
    for term in terms.unique():
        text = str(term)
        low = text.lower()
        words = low.split()
        if (
            low in stop
            or (unit == "ngram" and words and (words[0] in stop or words[-1] in stop))
            or any(p.search(text) for p in patterns)
        ):
            dropped.add(term)
    return terms.isin(dropped).to_numpy()


def _in_tags(frame: pd.DataFrame, tags: pa.Table | None) -> np.ndarray:
    if tags is None:
        return np.zeros(len(frame), dtype=bool)
    from neco.social.tags import inside_tags

    return inside_tags(frame, tags)


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
    tokens: pa.Table,
    ngram: tuple[int, int],
    keep_stop: bool,
    tags: pa.Table | None = None,
) -> tuple[pd.DataFrame, pd.Series]:
    low, high = ngram
    if not 1 <= low <= high <= 6:
        raise NecoError(
            f"The 'ngram' parameter must be (low, high) with 1 <= low <= high <= 6. "
            f"Got {ngram!r} instead."
        )
    columns = ["id", "lower", "is_stop", "is_punct"]
    frame = tokens.select(columns + (["start", "end"] if tags is not None else [])).to_pandas()
    # A token inside a tag is no word: it ends the segment like punctuation.
    word = (
        ~frame["is_punct"].to_numpy()
        & _word_like(frame["lower"]).to_numpy()
        & ~_in_tags(frame, tags)
    )
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
