"""Reading the captions behind the numbers: concordance lines and collocates.

:func:`kwic` finds every occurrence of a word or phrase (matched on the lowercased word or its
lemma, so "kite" finds "kites") with its left and right context. :func:`collocates` counts the
words within a window around a node word and scores them:

- ``npmi`` — normalised pointwise mutual information (Bouma 2009) over window positions
  (a collocate token is counted once even if it lies in the windows of two node tokens):
  with ``N`` word tokens, window span ``S = 2 * window``, node frequency ``f_n``, collocate
  frequency ``f_c`` and ``f_nc`` co-occurrences, ``pmi = ln(f_nc * N / (f_n * f_c * S))`` and
  ``npmi = pmi / -ln(f_nc / (N * S))``;
- ``g2`` — the log-likelihood ratio (Dunning 1993) of the 2x2 table of window positions
  around the node (``f_n * S``) against the collocate's occurrences (``f_c``), out of ``N``.

Word tokens inside tags of web text (``[OC]``, ``(1200x800)``; :mod:`neco.social.tags`) are
no positions, like punctuation, when the tags are given; a stop-list and exclusion patterns
remove collocates as they remove terms (:mod:`neco.social.terms`).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from neco.errors import NecoError

SORTS = ("npmi", "g2", "count")


def _token_frame(tokens: pa.Table, community: str | None) -> pd.DataFrame:
    cols = ["id", "community", "position", "lower", "lemma", "start", "end", "is_punct", "is_stop"]
    frame = tokens.select(cols).to_pandas()
    if community is not None:
        if community not in set(frame["community"].unique()):
            raise NecoError(
                f"No community {community!r}. Communities: "
                f"{', '.join(sorted(frame['community'].unique()))}."
            )
        frame = frame[frame["community"] == community]
    frame = frame.reset_index(drop=True)
    frame["lemma_lower"] = frame["lemma"].str.lower()
    return frame


def _matches(frame: pd.DataFrame, words: list[str]) -> np.ndarray:
    """Row indices where the phrase ``words`` starts (consecutive tokens, same caption)."""
    ids = frame["id"].to_numpy()
    lower = frame["lower"].to_numpy()
    lemma = frame["lemma_lower"].to_numpy()
    n = len(frame)
    ok = np.ones(max(n - len(words) + 1, 0), dtype=bool)
    for k, word in enumerate(words):
        size = len(ok)
        hit = (lower[k : k + size] == word) | (lemma[k : k + size] == word)
        same = ids[k : k + size] == ids[:size]
        ok &= hit & same
    return np.flatnonzero(ok)


def kwic(
    corpus: pd.DataFrame,
    tokens: pa.Table,
    query: str,
    *,
    community: str | None = None,
    width: int = 40,
    sort: str = "right",
) -> pd.DataFrame:
    """Concordance lines for ``query`` (a word or phrase) in the normalised caption texts.

    ``corpus`` has ``id`` and ``text``. Returns columns ``id``, ``community``, ``left``,
    ``match``, ``right``, ``start``, ``end`` (character offsets). ``sort``: ``right`` (by the
    words after the match), ``left`` (by the words before it, nearest first) or ``none``
    (corpus order).
    """
    words = query.lower().split()
    if not words:
        raise NecoError("The query is empty: expected a word or phrase.")
    if sort not in ("right", "left", "none"):
        raise NecoError(f"The 'sort' parameter must be right, left or none. Got {sort!r}.")
    frame = _token_frame(tokens, community)
    starts = _matches(frame, words)
    ends = starts + len(words) - 1
    texts = dict(zip(corpus["id"].tolist(), corpus["text"].tolist(), strict=True))
    token_ids = frame["id"].tolist()
    token_communities = frame["community"].tolist()
    token_starts = frame["start"].tolist()
    token_ends = frame["end"].tolist()
    rows = []
    for first, last in zip(starts.tolist(), ends.tolist(), strict=True):
        caption_id = token_ids[first]
        text = texts[caption_id]
        begin, stop = int(token_starts[first]), int(token_ends[last])
        rows.append(
            {
                "id": caption_id,
                "community": token_communities[first],
                "left": text[max(0, begin - width) : begin],
                "match": text[begin:stop],
                "right": text[stop : stop + width],
                "start": begin,
                "end": stop,
            }
        )
    result = pd.DataFrame(
        rows, columns=["id", "community", "left", "match", "right", "start", "end"]
    )
    if sort != "none" and len(result):
        # Sort on the context's words (punctuation ignored), nearest word first.
        found = [re.findall(r"[^\W_]+", ctx.lower()) for ctx in result[sort].tolist()]
        key = [" ".join(w if sort == "right" else reversed(w)) for w in found]
        result = result.iloc[np.argsort(np.asarray(key, dtype=str), kind="stable")]
    return result.reset_index(drop=True)


def collocates(
    tokens: pa.Table,
    query: str,
    *,
    window: int = 4,
    community: str | None = None,
    min_count: int = 2,
    keep_stop: bool = False,
    sort: str = "npmi",
    tags: pa.Table | None = None,
    stop_terms: Collection[str] = (),
    exclude: Sequence[str] = (),
) -> pd.DataFrame:
    """Collocates of a node word within ``window`` words on either side (lemmas).

    Punctuation (and, with ``tags``, words inside tags) is skipped: it does not count as a
    position; windows stay within a caption. Returns ``term``, ``count`` (co-occurrences),
    ``term_count``, ``npmi`` and ``g2``, sorted by decreasing ``sort`` (``npmi``, ``g2`` or
    ``count``), then by term; collocates seen fewer than ``min_count`` times, and those the
    stop-list ``stop_terms`` or a pattern of ``exclude`` removes, are left out.
    """
    from neco.social.terms import compile_patterns

    if window < 1:
        raise NecoError(f"The 'window' parameter must be an int >= 1. Got {window!r} instead.")
    if sort not in SORTS:
        raise NecoError(f"The 'sort' parameter must be one of {', '.join(SORTS)}. Got {sort!r}.")
    node = query.lower().strip()
    if not node or " " in node:
        raise NecoError(f"Collocates take one word as node. Got {query!r}.")
    patterns = compile_patterns(exclude)
    frame = _token_frame(tokens, community)
    skip = frame["is_punct"].to_numpy()
    if tags is not None:
        from neco.social.tags import inside_tags

        skip = skip | inside_tags(frame, tags)
    frame = frame[~skip].reset_index(drop=True)
    ids = frame["id"].to_numpy()
    lemma = frame["lemma_lower"].to_numpy()
    stop = frame["is_stop"].to_numpy()
    is_node = (lemma == node) | (frame["lower"].to_numpy() == node)
    nodes = np.flatnonzero(is_node)
    n_tokens = len(frame)
    span = 2 * window
    neighbours: list[np.ndarray] = []
    for offset in [d for d in range(-window, window + 1) if d]:
        other = nodes + offset
        valid = (other >= 0) & (other < n_tokens)
        other, base = other[valid], nodes[valid]
        same = ids[other] == ids[base]
        neighbours.append(other[same & ~is_node[other]])
    # A collocate token counts once, even when it falls in the windows of two node
    # occurrences, so that f_nc never exceeds f_c.
    hits = np.unique(np.concatenate(neighbours)) if neighbours else np.array([], dtype=np.int64)
    if not keep_stop:
        hits = hits[~stop[hits]]
    counts = pd.Series(lemma[hits]).value_counts()
    counts = counts[counts >= min_count]
    if stop_terms or patterns:
        listed = {t.lower() for t in stop_terms}
        kept = [
            t not in listed and not any(p.search(str(t)) for p in patterns) for t in counts.index
        ]
        counts = counts[np.asarray(kept, dtype=bool)]
    term_counts = pd.Series(lemma).value_counts()
    f_n = float(len(nodes))
    f_c = term_counts.reindex(counts.index).to_numpy(dtype=float)
    f_nc = counts.to_numpy(dtype=float)
    n = float(n_tokens)
    with np.errstate(divide="ignore", invalid="ignore"):
        pmi = np.log(f_nc * n / (f_n * f_c * span))
        npmi = pmi / -np.log(f_nc / (n * span))
    g2 = _g2_table(f_nc, f_n * span, f_c, n)
    result = pd.DataFrame(
        {
            "term": counts.index,
            "count": f_nc.astype(int),
            "term_count": f_c.astype(int),
            "npmi": npmi,
            "g2": g2,
        }
    )
    return result.sort_values([sort, "term"], ascending=[False, True]).reset_index(drop=True)


def _g2_table(o11: np.ndarray, r1: float, c1: np.ndarray, n: float) -> np.ndarray:
    """G² of 2x2 tables given O11, the row total R1, column totals C1 and N."""
    o12 = np.maximum(r1 - o11, 0.0)
    o21 = np.maximum(c1 - o11, 0.0)
    o22 = np.maximum(n - r1 - c1 + o11, 0.0)
    total = o11 + o12 + o21 + o22
    observed = np.stack([o11, o12, o21, o22])
    rows = np.stack([o11 + o12, o11 + o12, o21 + o22, o21 + o22])
    cols = np.stack([o11 + o21, o12 + o22, o11 + o21, o12 + o22])
    expected = rows * cols / total
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(observed > 0, observed * np.log(observed / expected), 0.0)
    result: np.ndarray = 2.0 * terms.sum(axis=0)
    return result
