"""Relation probes: minimal pairs cut from the corpus's own captions.

A caption and its copy with two words swapped contain the same words and differ only in who
does what to whom: "a dog chases a ball" / "a ball chases a dog". ARO (Yuksekgonul et al.
2023, "When and why vision-language models behave like bags-of-words") and Winoground
(Thrush et al. 2022) showed with fixed benchmarks that CLIP (Radford et al. 2021) often
scores such pairs as near-identical. Here the pairs come from the social layer's relations
(``neco.social.relations``), so the probe measures, per community, how much of the
corpus's own relational structure a text encoder — e.g. the one conditioning Stable
Diffusion (Rombach et al. 2022) — keeps apart.

Swaps (only the two token spans change; every other character of the caption is kept):

- ``svo`` — subject and object: "a dog chases a ball" -> "a ball chases a dog";
- ``prep`` — the two nouns around a preposition: "a mug in the grass" -> "a grass in the mug";
- ``amod`` — the adjectives of two different nouns, when a caption has two ``amod``
  relations with different adjectives and different nouns: "a red mug and a blue plate" ->
  "a blue mug and a red plate". A single ``amod`` yields no pair.

Words move as they are written (no re-inflection: "dogs chase a ball" -> "ball chase a
dogs", as in ARO). Casing stays with the position (see :func:`recase`): a capital at the
start of a caption stays at the start. Pairs whose swapped text equals the original (the
same word twice) are skipped.

:func:`probe_pairs` scores each pair by the cosine of the two texts' vectors;
``1 - cosine`` is the relation sensitivity that :func:`probe_summary` averages. The
:func:`bag_of_words_encoder` is the known answer: it ignores order, so every pair scores
exactly 1.0 and its sensitivity is exactly zero.

>>> swap_spans("a dog chases a ball", (2, 5), (15, 19))
'a ball chases a dog'
>>> swap_spans("Dog chases a ball", (0, 3), (13, 17))
'Ball chases a dog'
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from neco.errors import NecoError

PAIR_KINDS = ("svo", "prep", "amod")
"""Relation kinds that yield minimal pairs."""
PAIR_COLUMNS = ["id", "community", "kind", "original", "swapped", "term_a", "relation", "term_b"]
"""Columns of :func:`minimal_pairs`' result."""

_WORD = re.compile(r"\w+", re.UNICODE)


def recase(word: str, template: str) -> str:
    """``word`` written with the casing of the slot it moves into, whose old word is ``template``.

    An all-capitals template (two letters or more) makes ``word`` all capitals; a capitalised
    template capitalises ``word``'s first letter; a lowercase template lowers a word that is
    merely capitalised ("Dog" moving off the start of a caption). Anything else ("iPhone",
    "NASA" into a lowercase slot) is kept as written.

    >>> recase("ball", "Dog")
    'Ball'
    >>> recase("Dog", "ball")
    'dog'
    >>> recase("NASA", "ball")
    'NASA'
    >>> recase("ball", "DOG")
    'BALL'
    """
    if not word or not template:
        return word
    if len(template) > 1 and template.isupper():
        return word.upper()
    if template[0].isupper():
        return word[0].upper() + word[1:]
    if template[0].islower() and word[0].isupper() and word[1:] == word[1:].lower():
        return word[0].lower() + word[1:]
    return word


def swap_spans(text: str, span_a: tuple[int, int], span_b: tuple[int, int]) -> str:
    """``text`` with the characters of two non-overlapping spans exchanged, recased by position.

    >>> swap_spans("a mug in the grass", (2, 5), (13, 18))
    'a grass in the mug'
    >>> swap_spans("a red mug and a blue plate", (16, 20), (2, 5))
    'a blue mug and a red plate'
    """
    (s1, e1), (s2, e2) = sorted([span_a, span_b])
    if not (0 <= s1 < e1 <= s2 < e2 <= len(text)):
        raise ValueError(f"spans {span_a} and {span_b} overlap or fall outside the text")
    first, second = text[s1:e1], text[s2:e2]
    return text[:s1] + recase(second, first) + text[e1:s2] + recase(first, second) + text[e2:]


def _to_pandas(table: pd.DataFrame | pa.Table) -> pd.DataFrame:
    return table.to_pandas() if isinstance(table, pa.Table) else table


def _require_columns(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise NecoError(
            f"The {what} lacks column(s) {', '.join(missing)}; found "
            f"{', '.join(map(str, frame.columns))}. Pass the {what} written by "
            "`neco social --mode full`."
        )


def _offsets(tokens: pd.DataFrame, ids: set[str]) -> dict[tuple[str, int], tuple[int, int, str]]:
    t = tokens[tokens["id"].astype(str).isin(ids)]
    return {
        (str(i), int(p)): (int(s), int(e), str(x))
        for i, p, s, e, x in zip(
            t["id"], t["position"], t["start"], t["end"], t["text"], strict=True
        )
    }


def _span(
    offsets: Mapping[tuple[str, int], tuple[int, int, str]], doc: str, key: tuple[str, int]
) -> tuple[int, int] | None:
    """A token's character span, if its offsets are known and agree with the text."""
    found = offsets.get(key)
    if found is None:
        return None
    start, end, surface = found
    if not (0 <= start < end <= len(doc)) or doc[start:end] != surface:
        return None
    return start, end


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def minimal_pairs(
    relations: pd.DataFrame,
    tokens: pd.DataFrame | pa.Table,
    texts: Mapping[str, str],
    *,
    kinds: Sequence[str] = PAIR_KINDS,
    max_per_kind: int | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Minimal pairs ``(original, swapped)`` from the relations of the social layer.

    ``relations`` has ``id, community, kind, term_a, relation, term_b, position_a, position_b,
    position_relation`` (``neco.social.relations.extract_relations``); ``tokens`` has ``id,
    position, text, start, end`` with character offsets into the texts of ``texts`` (caption id
    -> normalised text). Returns :data:`PAIR_COLUMNS`, one row per distinct pair, in caption
    order; ``max_per_kind`` keeps a seeded random sample of that many pairs per kind. For
    ``amod`` pairs ``term_a``/``term_b`` are "adjective noun" of the two nouns and ``relation``
    is ``"amod"``.
    """
    unknown = [k for k in kinds if k not in PAIR_KINDS]
    if unknown:
        raise NecoError(
            f"Unknown relation kind(s) {', '.join(map(repr, unknown))}. "
            f"Expected some of: {', '.join(PAIR_KINDS)}."
        )
    _require_columns(
        relations,
        ["id", "community", "kind", "term_a", "relation", "term_b", "position_a", "position_b"],
        "relations table",
    )
    token_frame = _to_pandas(tokens)
    _require_columns(token_frame, ["id", "position", "text", "start", "end"], "token table")
    rel = relations[relations["kind"].isin(list(kinds))]
    rel = rel[rel["id"].astype(str).isin(set(map(str, texts)))]
    offsets = _offsets(token_frame, set(rel["id"].astype(str)))

    rows: list[dict[str, Any]] = []
    checked = mismatched = 0

    def add(
        row: dict[str, Any],
        doc: str,
        a: tuple[int, int],
        b: tuple[int, int],
        terms: tuple[str, str, str],
    ) -> None:
        if _overlap(a, b):
            return
        swapped = swap_spans(doc, a, b)
        if swapped == doc:
            return
        rows.append(
            {
                "id": row["id"],
                "community": row["community"],
                "kind": row["kind"],
                "original": doc,
                "swapped": swapped,
                "term_a": terms[0],
                "relation": terms[1],
                "term_b": terms[2],
            }
        )

    records: list[dict[str, Any]] = [
        {str(k): v for k, v in record.items()}
        for record in rel.assign(id=rel["id"].astype(str))
        .sort_values(["id", "kind", "position_b", "position_a"], kind="stable")
        .to_dict("records")
    ]
    adjectives: dict[str, list[tuple[dict[str, Any], tuple[int, int]]]] = {}
    for row in records:
        doc = texts[row["id"]]
        a = _span(offsets, doc, (row["id"], int(row["position_a"])))
        b = (
            None
            if row["kind"] == "amod"
            else _span(offsets, doc, (row["id"], int(row["position_b"])))
        )
        checked += 1
        if a is None or (b is None and row["kind"] != "amod"):
            mismatched += 1
        elif b is not None:
            add(row, doc, a, b, (str(row["term_a"]), str(row["relation"]), str(row["term_b"])))
        else:
            adjectives.setdefault(row["id"], []).append((row, a))

    # amod: the adjectives of two different nouns, when they differ.
    for caption_id, members in adjectives.items():
        doc = texts[caption_id]
        for (r1, adj1), (r2, adj2) in combinations(members, 2):
            same_noun = r1["position_b"] == r2["position_b"] or r1["term_b"] == r2["term_b"]
            same_adjective = doc[slice(*adj1)].lower() == doc[slice(*adj2)].lower()
            if same_noun or same_adjective:
                continue
            terms = (f"{r1['term_a']} {r1['term_b']}", "amod", f"{r2['term_a']} {r2['term_b']}")
            add(r1, doc, adj1, adj2, terms)

    if checked and mismatched == checked:
        raise NecoError(
            f"None of the {checked} relation tokens matched its caption text at the token "
            "table's character offsets. Expected the captions' normalised texts (the ones the "
            "social layer parsed); pass those as `texts`."
        )
    pairs = pd.DataFrame(rows, columns=PAIR_COLUMNS)
    pairs = pairs.drop_duplicates(["id", "kind", "swapped"]).reset_index(drop=True)
    if max_per_kind is not None:
        pairs = _sample_per_kind(pairs, max_per_kind, seed)
    return pairs


def _sample_per_kind(pairs: pd.DataFrame, limit: int, seed: int) -> pd.DataFrame:
    if limit < 0:
        raise NecoError(f"max_per_kind must be 0 or more, got {limit}.")
    rng = np.random.default_rng(seed)
    keep: list[np.ndarray] = []
    for kind in PAIR_KINDS:
        index = np.flatnonzero((pairs["kind"] == kind).to_numpy())
        if len(index) > limit:
            index = np.sort(rng.choice(index, size=limit, replace=False))
        keep.append(index)
    return pairs.iloc[np.sort(np.concatenate(keep))].reset_index(drop=True)


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)


def probe_pairs(
    pairs: pd.DataFrame,
    encode: Callable[[list[str]], np.ndarray],
    *,
    batch_size: int = 256,
) -> pd.DataFrame:
    """``pairs`` with a ``cosine`` column: original vs swapped, from L2-normalised vectors.

    ``encode`` maps a list of texts to an ``(n, d)`` array (pooled CLIP embeddings, say). Each
    distinct text is encoded once, ``batch_size`` texts per call. Identical vectors score
    exactly 1.0.

    >>> pairs = pd.DataFrame({"original": ["a dog chases a ball"],
    ...                       "swapped": ["a ball chases a dog"]})
    >>> probe_pairs(pairs, bag_of_words_encoder)["cosine"].tolist()
    [1.0]
    """
    if batch_size < 1:
        raise NecoError(f"batch_size must be at least 1, got {batch_size}.")
    _require_columns(pairs, ["original", "swapped"], "pairs table")
    result = pairs.copy()
    if pairs.empty:
        result["cosine"] = pd.Series(dtype="float64")
        return result
    unique = pd.Index(pd.unique(pd.concat([pairs["original"], pairs["swapped"]])))
    texts = [str(t) for t in unique]
    chunks = []
    for start in range(0, len(texts), batch_size):
        batch = texts[start : start + batch_size]
        vectors = np.asarray(encode(batch), dtype=np.float64)
        if vectors.ndim != 2 or vectors.shape[0] != len(batch):
            raise NecoError(
                f"The encoder returned an array of shape {vectors.shape} for {len(batch)} texts; "
                "expected (number of texts, dimension)."
            )
        chunks.append(vectors)
    vectors = np.concatenate(chunks)
    a = vectors[unique.get_indexer(pairs["original"])]
    b = vectors[unique.get_indexer(pairs["swapped"])]
    cosine = np.einsum("ij,ij->i", _unit_rows(a), _unit_rows(b))
    cosine = np.where((a == b).all(axis=1), 1.0, np.clip(cosine, -1.0, 1.0))
    result["cosine"] = cosine
    return result


def bag_of_words_encoder(texts: Sequence[str], dim: int = 4096) -> np.ndarray:
    """Counts of lowercased words, hashed (CRC-32) into ``dim`` buckets: an order-blind reference.

    Every swap pair has exactly the same words, so its cosine is exactly 1.0 and its relation
    sensitivity exactly zero.

    >>> v = bag_of_words_encoder(["a dog chases a ball", "A ball chases a dog"])
    >>> v.shape, bool((v[0] == v[1]).all()), float(v[0].sum())
    ((2, 4096), True, 5.0)
    """
    out = np.zeros((len(texts), dim), dtype=np.float64)
    for row, text in enumerate(texts):
        for word in _WORD.findall(text.lower()):
            out[row, zlib.crc32(word.encode("utf-8")) % dim] += 1.0
    return out


def probe_summary(probed: pd.DataFrame) -> pd.DataFrame:
    """Relation sensitivity per community and kind: mean of ``1 - cosine`` and the pair count.

    >>> probed = pd.DataFrame({"community": ["x", "x"], "kind": ["svo", "svo"],
    ...                        "cosine": [1.0, 0.5]})
    >>> probe_summary(probed).to_dict("records")
    [{'community': 'x', 'kind': 'svo', 'sensitivity': 0.25, 'count': 2}]
    """
    _require_columns(probed, ["community", "kind", "cosine"], "probed pairs table")
    frame = probed.assign(sensitivity=1.0 - probed["cosine"].astype("float64"))
    summary = (
        frame.groupby(["community", "kind"], sort=True, dropna=False)["sensitivity"]
        .agg(sensitivity="mean", count="size")
        .reset_index()
    )
    summary["count"] = summary["count"].astype("int64")
    return summary
