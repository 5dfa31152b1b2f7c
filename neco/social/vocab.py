"""Comparing communities' vocabularies on a workspace: the one place the CLI, the Python API
and the dashboard get keyness tables, frequency lists, concordances and collocates from.

Each function reads the NLP layer's token table (run ``neco social`` first; the ``tag`` unit
needs only the corpus) and the corpus, and returns a table; nothing here prints. A stale
token table (the corpus changed since it was parsed) is reported through
:func:`stale_warning` so that callers can say so.

Which captions, and what counts as a community:

- ``where`` — a SQL condition on the corpus columns (``id``, ``text``, ``community``,
  ``author``, ``timestamp``, ``lang``, ``source``, ...) and on the fields of ``meta`` through
  DuckDB's JSON operators: ``meta->>'score'`` is the field as text, so
  ``TRY_CAST(meta->>'score' AS INTEGER) > 100``; ``year(timestamp) >= 2021``;
  ``community IN ('a', 'b')``. It is checked by running
  ``SELECT id FROM corpus WHERE <condition>`` on the read-only workspace before anything is
  counted; a condition DuckDB cannot run is an error naming the columns and meta fields.
- ``by`` — ``year``, ``month`` (of ``timestamp``), a corpus column or a ``meta`` field: the
  captions are cut into slices by that value and the slices take the place of the
  communities ("2021" against the other years, or ``against="2020"``). ``communities``
  then chooses the captions that are sliced (all of them by default). Captions without a
  value are left out and counted in the table's ``slices`` metadata.

What is counted: ``unit`` (:mod:`neco.social.terms`), without the word tokens inside tags of
web text unless ``keep_tags`` (:mod:`neco.social.tags`), without the terms of a stop-list
(``stop_terms``; :func:`read_stop_file` reads one) and those matching an exclusion pattern
(``exclude``).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from neco.errors import NecoError, shorten

if TYPE_CHECKING:
    import pandas as pd

    from neco.workspace import Workspace

UNITS = ("lemma", "ngram", "chunk", "entity", "specifier", "tag")
#: Slices of ``by`` computed from the timestamp (any other value names a column or meta field).
TIME_SLICES = {"year": "%Y", "month": "%Y-%m"}

# The token columns each unit reads (the token table of a large corpus is hundreds of MB).
_TOKEN_COLUMNS = {
    "lemma": ["id", "lemma", "is_stop", "is_punct", "start", "end"],
    "ngram": ["id", "lower", "is_stop", "is_punct", "start", "end"],
    "chunk": ["id", "head"],
    "entity": ["id", "head"],
    "specifier": ["id"],
}


def stale_warning(ws: Workspace, tables: Sequence[str] = ("social/tokens",)) -> str | None:
    """A sentence when any of ``tables`` is stale (its inputs changed since it was made)."""
    from neco.stages import stale_tables

    stale = stale_tables(ws, tables)
    if not stale:
        return None
    which = "; ".join(f"{name}: {why}" for name, why in stale.items())
    return f"stale results ({which}). Run: neco social -w {ws.path}"


def read_stop_file(path: str | Path) -> list[str]:
    """The terms of a stop-list file: one a line, lower-cased; blank lines and lines starting
    with ``#`` are skipped (UTF-8).
    """
    file = Path(path)
    try:
        lines = file.read_text(encoding="utf-8-sig").splitlines()
    except FileNotFoundError:
        raise NecoError(
            f"The stop-list file {file} does not exist. Expected a text file with one term a line."
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise NecoError(
            f"Cannot read the stop-list file {file}: {exc}. Expected a UTF-8 text file with one "
            "term a line."
        ) from exc
    return [s.lower() for s in (line.strip() for line in lines) if s and not s.startswith("#")]


# --------------------------------------------------------------------------- selection


@dataclass
class Selection:
    """The captions a question is asked of: ``frame`` (``id``, ``community``, ``text``, where
    ``community`` is the slice label when sliced), and a sentence on the slices (or None)."""

    frame: pd.DataFrame
    slices: str | None = None


def corpus_fields(ws: Workspace) -> tuple[list[str], list[str]]:
    """The corpus's columns and the fields of its ``meta`` objects (from up to 5,000 rows)."""
    from neco.corpus.schema import CORPUS_SCHEMA

    keys = ws.sql(
        "SELECT DISTINCT unnest(json_keys(meta)) AS k FROM "
        "(SELECT meta FROM corpus WHERE meta IS NOT NULL LIMIT 5000) ORDER BY k"
    )
    return list(CORPUS_SCHEMA.names), [str(k) for k in keys.column("k").to_pylist()]


def _fields_sentence(ws: Workspace) -> str:
    columns, meta = corpus_fields(ws)
    fields = ", ".join(meta) if meta else "none"
    return (
        f"Columns: {', '.join(columns)}. Fields of meta (read them as meta->>'field', a "
        f"number as TRY_CAST(meta->>'field' AS DOUBLE)): {fields}."
    )


def where_ids(ws: Workspace, where: str) -> list[str]:
    """The ids of the captions that satisfy the SQL condition ``where`` (module doc); a
    condition DuckDB cannot run raises a :class:`NecoError` naming the columns available."""
    condition = where.strip()
    if not condition:
        raise NecoError("The --where condition is empty. Expected one such as \"lang = 'en'\".")
    try:
        table = ws.sql(f"SELECT id FROM corpus WHERE ({condition})")
    except NecoError as exc:
        detail = re.sub(r"\s*Views: .*\Z", "", str(exc), flags=re.DOTALL)
        raise NecoError(
            f"The --where condition {shorten(condition, 200)!r} cannot be run on the corpus: "
            f"{detail.removeprefix('The query failed: ').strip()}\n"
            f"Expected a condition on the corpus rows. {_fields_sentence(ws)}"
        ) from exc
    if table.column_names != ["id"]:
        raise NecoError(
            f"The --where condition {shorten(condition, 200)!r} must be one condition on the "
            f"corpus rows; found a query returning {', '.join(table.column_names) or 'nothing'}."
        )
    return [str(i) for i in table.column("id").to_pylist()]


def _slice_expression(ws: Workspace, by: str) -> str:
    """The SQL expression giving each caption's slice label."""
    if by in TIME_SLICES:
        return f"strftime(timestamp, '{TIME_SLICES[by]}')"
    columns, meta = corpus_fields(ws)
    if by in columns:
        if by in ("text", "text_raw"):
            raise NecoError(f"--by {by}: slicing by the caption text makes one slice a caption.")
        return f'CAST("{by}" AS VARCHAR)'
    if by in meta:
        quoted = by.replace("'", "''").replace('"', '\\"')
        return f"json_extract_string(meta, '$.\"{quoted}\"')"
    raise NecoError(
        f"--by {by!r}: expected year, month, a corpus column or a meta field. "
        f"{_fields_sentence(ws)}"
    )


def select(
    ws: Workspace,
    *,
    communities: Sequence[str] | None = None,
    where: str | None = None,
    by: str | None = None,
    restrict: bool = True,
) -> Selection:
    """The captions of ``communities`` (all by default) that satisfy ``where``, labelled by
    community, or by slice when ``by`` is given (module doc). With ``restrict`` false the
    names of ``communities`` are checked but every community's captions are kept (they
    are the reference of a comparison)."""
    frame = ws.corpus(["id", "community", "text"])
    known = sorted(frame["community"].dropna().unique())
    for name in communities or ():
        if name not in known:
            raise NecoError(f"No community {name!r}. Communities: {', '.join(known)}.")
    if communities and restrict:
        frame = frame[frame["community"].isin(set(communities))]
    if where is not None:
        frame = frame[frame["id"].isin(set(where_ids(ws, where)))]
        if frame.empty:
            raise NecoError(
                f"No caption{' of ' + ', '.join(communities) if communities else ''} satisfies "
                f"--where {where!r}."
            )
    frame = frame.reset_index(drop=True)
    if by is None:
        return Selection(frame)
    labels = ws.sql(f"SELECT id, {_slice_expression(ws, by)} AS slice FROM corpus")
    label_of = dict(
        zip(labels.column("id").to_pylist(), labels.column("slice").to_pylist(), strict=True)
    )
    sliced = frame.assign(community=frame["id"].map(label_of))
    missing = int(sliced["community"].isna().sum())
    sliced = sliced.dropna(subset=["community"]).reset_index(drop=True)
    if sliced.empty:
        what = "a timestamp (ingest with --time-col)" if by in TIME_SLICES else f"a value of {by}"
        raise NecoError(f"--by {by}: none of the {len(frame):,} captions has {what}.")
    sizes = sliced["community"].value_counts().sort_index()
    note = f"slices by {by}: " + ", ".join(f"{k} ({v:,})" for k, v in sizes.items())
    if missing:
        note += f"; {missing:,} caption{'s' if missing != 1 else ''} without a {by} left out"
    return Selection(sliced, note)


def _prompt_ids(ws: Workspace, frame: pd.DataFrame) -> set[str]:
    """Ids of captions of prompt communities (their brackets are weights, not tags)."""
    if "social/specifiers" not in ws.tables():
        return set()
    table = ws.read_table("social/specifiers", ["community"])
    prompt = set(table.column("community").unique().to_pylist())
    corpus = ws.corpus(["id", "community"])
    ids = corpus.loc[corpus["community"].isin(prompt), "id"]
    return set(ids) & set(frame["id"])


def _doc_terms(
    ws: Workspace,
    selection: Selection,
    unit: str,
    *,
    keep_stop: bool,
    collapse: bool,
    keep_tags: bool,
    stop_terms: Collection[str],
    exclude: Sequence[str],
) -> Any:
    """The caption x term matrix of the selected captions (:mod:`neco.social.terms`)."""
    from neco.social.pipeline import load_tokens
    from neco.social.tags import find_tags
    from neco.social.terms import build_doc_terms, compile_patterns, duplicate_mask

    if unit not in UNITS:
        raise NecoError(f"The 'unit' parameter must be one of {', '.join(UNITS)}. Got {unit!r}.")
    compile_patterns(exclude)  # a bad pattern stops before the token table is read
    frame = selection.frame
    if collapse:
        keep = duplicate_mask(
            frame["id"].tolist(), frame["text"].tolist(), frame["community"].tolist()
        )
        frame = frame[keep]
    docs = pa.table({"id": frame["id"].tolist(), "community": frame["community"].tolist()})
    extra: dict[str, Any] = {}
    if unit == "tag" or (unit in ("lemma", "ngram") and not keep_tags):
        extra["tags"] = find_tags(
            frame["id"].tolist(), frame["text"].tolist(), prompt_ids=_prompt_ids(ws, frame)
        )
    if unit in ("chunk", "entity"):
        extra["chunks"] = ws.read_table("social/chunks")
        extra["entities"] = ws.read_table("social/entities")
    if unit == "specifier":
        if "social/specifiers" not in ws.tables():
            raise NecoError(f"No prompt specifiers yet. Run: neco social -w {ws.path}")
        extra["specifiers"] = ws.read_table("social/specifiers")
    if unit == "tag":  # tags come from the corpus text: no parse needed
        tokens = pa.table({"id": pa.array([], pa.string())})
    else:
        tokens = load_tokens(ws, _TOKEN_COLUMNS[unit])
    return build_doc_terms(
        docs,
        tokens,
        unit,
        keep_stop=keep_stop,
        stop_terms=stop_terms,
        exclude=exclude,
        **extra,
    )


def _with_note(table: pa.Table, note: str | None) -> pa.Table:
    if note is None:
        return table
    meta = dict(table.schema.metadata or {})
    meta[b"slices"] = note.encode()
    return table.replace_schema_metadata(meta)


# ----------------------------------------------------------------------------- questions


def keyness(
    ws: Workspace,
    *,
    communities: Sequence[str] | None = None,
    against: str | None = None,
    unit: str = "lemma",
    min_count: int = 3,
    keep_stop: bool = False,
    collapse: bool = False,
    where: str | None = None,
    by: str | None = None,
    keep_tags: bool = False,
    stop_terms: Collection[str] = (),
    exclude: Sequence[str] = (),
    rank: str = "z",
) -> pa.Table:
    """Distinctive terms of each community (or of ``communities``) against the rest, or
    against the community ``against``: log-odds z, G², log ratio (see
    :mod:`neco.social.keyness`). ``collapse`` counts a caption repeated within a community
    once. Communities come in the order of ``communities``; ``rank`` orders each one's terms
    (``z``, ``g2``, ``doc_count``, ``count``; :func:`neco.social.keyness.rank_keyness`).

    With ``by``, slices of the captions of ``communities`` are compared instead (module doc):
    ``keyness(ws, communities=["tidytuesday"], by="year")`` gives each year against the
    other years; the table's ``slices`` metadata says how many captions each slice has.
    """
    from neco.social.keyness import RANKS, keyness_table, rank_keyness

    if rank not in RANKS:
        raise NecoError(f"The 'rank' parameter must be one of {', '.join(RANKS)}. Got {rank!r}.")
    # Without slices, every community stays in: "the rest" is the rest of the corpus.
    selection = select(ws, communities=communities, where=where, by=by, restrict=by is not None)
    names = sorted(selection.frame["community"].unique())
    for name in () if by else communities or ():
        if name not in names:
            raise NecoError(
                f"No caption of {name!r} satisfies --where {where!r}. "
                f"Communities with captions that do: {', '.join(names)}."
            )
    if against is not None and against not in names:
        kind = f"slice by {by}" if by else "community"
        raise NecoError(f"No {kind} {against!r} to compare with. Choices: {', '.join(names)}.")
    dtm = _doc_terms(
        ws,
        selection,
        unit,
        keep_stop=keep_stop,
        collapse=collapse,
        keep_tags=keep_tags,
        stop_terms=stop_terms,
        exclude=exclude,
    )
    focus = None if by is not None else (list(communities) if communities else None)
    table = keyness_table(dtm, communities=focus, against=against, min_count=min_count)
    return _with_note(rank_keyness(table, rank), selection.slices)


def frequencies(
    ws: Workspace,
    *,
    communities: Sequence[str] | None = None,
    unit: str = "lemma",
    min_count: int = 1,
    keep_stop: bool = False,
    collapse: bool = False,
    where: str | None = None,
    by: str | None = None,
    keep_tags: bool = False,
    stop_terms: Collection[str] = (),
    exclude: Sequence[str] = (),
    rank: str = "count",
) -> pa.Table:
    """Each community's (or slice's) terms by count and document count, no comparison
    needed (:func:`neco.social.terms.frequency_table`): a single community's vocabulary, or
    the specifier list of one prompt community (``unit="specifier"``).
    """
    from neco.social.terms import frequency_table

    selection = select(ws, communities=communities, where=where, by=by)
    dtm = _doc_terms(
        ws,
        selection,
        unit,
        keep_stop=keep_stop,
        collapse=collapse,
        keep_tags=keep_tags,
        stop_terms=stop_terms,
        exclude=exclude,
    )
    focus: list[str] | None = None if by is not None else (list(communities or []) or None)
    if unit == "specifier":
        # Specifiers exist only for prompt communities: list those (or say which lack them).
        with_terms = set(dtm.communities[dtm.matrix.getnnz(axis=1) > 0].tolist())
        lacking = [c for c in focus or () if c not in with_terms]
        if lacking or not with_terms:
            raise NecoError(
                f"No prompt specifiers in {', '.join(lacking) or 'the chosen captions'}: they "
                "exist only for prompt communities (neco social finds them; "
                f"neco social -w {ws.path} --prompt-community NAME names them)."
            )
        focus = focus or sorted(with_terms)
    table = frequency_table(dtm, communities=focus, min_count=min_count, rank=rank)
    return _with_note(table, selection.slices)


def concordance(
    ws: Workspace,
    term: str,
    *,
    community: str | None = None,
    width: int = 40,
    sort: str = "right",
    where: str | None = None,
) -> pd.DataFrame:
    """Key word in context: every occurrence of ``term`` (a word or phrase, matched on words
    and lemmas) with ``width`` characters on each side (see :mod:`neco.social.concordance`),
    in the captions of ``community`` that satisfy ``where``.
    """
    from neco.social.concordance import kwic
    from neco.social.pipeline import load_tokens

    selection = select(ws, communities=[community] if community else None, where=where)
    # Always: tokens of captions no longer in the corpus (a corpus changed outside neco) have
    # no text to show; stale_warning says why they are missing.
    tokens = _only(load_tokens(ws), selection.frame["id"])
    return kwic(selection.frame, tokens, term, community=community, width=width, sort=sort)


def collocates(
    ws: Workspace,
    term: str,
    *,
    community: str | None = None,
    window: int = 4,
    min_count: int = 2,
    where: str | None = None,
    sort: str = "npmi",
    keep_stop: bool = False,
    keep_tags: bool = False,
    stop_terms: Collection[str] = (),
    exclude: Sequence[str] = (),
) -> pd.DataFrame:
    """Words within ``window`` words of ``term``, scored by NPMI and G², sorted by ``sort``
    (``npmi``, ``g2`` or ``count``); words inside tags of web text are no positions unless
    ``keep_tags``; the stop-list and patterns remove collocates.
    """
    from neco.social.concordance import collocates as run_collocates
    from neco.social.pipeline import load_tokens
    from neco.social.tags import find_tags

    tokens = load_tokens(ws)
    tags = None
    if where is not None or not keep_tags:
        selection = select(ws, communities=[community] if community else None, where=where)
        if where is not None:
            tokens = _only(tokens, selection.frame["id"])
        if not keep_tags:
            frame = selection.frame
            tags = find_tags(
                frame["id"].tolist(), frame["text"].tolist(), prompt_ids=_prompt_ids(ws, frame)
            )
    elif community is not None:
        select(ws, communities=[community])  # says which communities exist
    return run_collocates(
        tokens,
        term,
        window=window,
        community=community,
        min_count=min_count,
        keep_stop=keep_stop,
        sort=sort,
        tags=tags,
        stop_terms=stop_terms,
        exclude=exclude,
    )


def _only(tokens: pa.Table, ids: pd.Series) -> pa.Table:
    import pyarrow.compute as pc

    return tokens.filter(pc.is_in(tokens.column("id"), value_set=pa.array(ids.tolist())))
