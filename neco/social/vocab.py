"""Comparing communities' vocabularies on a workspace: the one place the CLI, the Python API
and the dashboard get keyness tables, concordances and collocates from.

Each function reads the NLP layer's token table (run ``neco social`` first) and the corpus,
and returns a table; nothing here prints. A stale token table (the corpus changed since it
was parsed) is reported through :func:`stale_warning` so that callers can say so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from neco.errors import NecoError

if TYPE_CHECKING:
    import pandas as pd

    from neco.workspace import Workspace

UNITS = ("lemma", "ngram", "chunk", "entity", "specifier")


def stale_warning(ws: Workspace, tables: Sequence[str] = ("social/tokens",)) -> str | None:
    """A sentence when any of ``tables`` is stale (its inputs changed since it was made)."""
    from neco.stages import stale_tables

    stale = stale_tables(ws, tables)
    if not stale:
        return None
    which = "; ".join(f"{name}: {why}" for name, why in stale.items())
    return f"stale results ({which}). Run: neco social -w {ws.path}"


def _tokens_and_corpus(ws: Workspace, columns: Sequence[str]) -> tuple[pa.Table, pd.DataFrame]:
    from neco.social.pipeline import load_tokens

    tokens = load_tokens(ws)
    frame = ws.corpus(list(columns))
    return tokens, frame


def _check_communities(frame: pd.DataFrame, names: Sequence[str | None]) -> None:
    known = sorted(frame["community"].dropna().unique())
    for name in names:
        if name is not None and name not in known:
            raise NecoError(f"No community {name!r}. Communities: {', '.join(known)}.")


def keyness(
    ws: Workspace,
    *,
    communities: Sequence[str] | None = None,
    against: str | None = None,
    unit: str = "lemma",
    min_count: int = 3,
    keep_stop: bool = False,
    collapse: bool = False,
) -> pa.Table:
    """Distinctive terms of each community (or of ``communities``) against the rest, or
    against the community ``against``: log-odds z, G², log ratio (see
    :mod:`neco.social.keyness`). ``collapse`` counts a caption repeated within a community
    once.
    """
    from neco.social.keyness import keyness_table
    from neco.social.terms import build_doc_terms, duplicate_mask

    if unit not in UNITS:
        raise NecoError(f"The 'unit' parameter must be one of {', '.join(UNITS)}. Got {unit!r}.")
    tokens, frame = _tokens_and_corpus(ws, ["id", "community", "text"])
    _check_communities(frame, [*(communities or []), against])
    if collapse:
        keep = duplicate_mask(
            frame["id"].tolist(), frame["text"].tolist(), frame["community"].tolist()
        )
        frame = frame[keep]
    docs = pa.table({"id": frame["id"].tolist(), "community": frame["community"].tolist()})
    extra: dict[str, Any] = {}
    if unit in ("chunk", "entity"):
        extra["chunks"] = ws.read_table("social/chunks")
        extra["entities"] = ws.read_table("social/entities")
    if unit == "specifier":
        if "social/specifiers" not in ws.tables():
            raise NecoError(f"No prompt specifiers yet. Run: neco social -w {ws.path}")
        extra["specifiers"] = ws.read_table("social/specifiers")
    dtm = build_doc_terms(docs, tokens, unit, keep_stop=keep_stop, **extra)
    return keyness_table(dtm, communities=communities or None, against=against, min_count=min_count)


def concordance(
    ws: Workspace,
    term: str,
    *,
    community: str | None = None,
    width: int = 40,
    sort: str = "right",
) -> pd.DataFrame:
    """Key word in context: every occurrence of ``term`` (a word or phrase, matched on words
    and lemmas) with ``width`` characters on each side (see :mod:`neco.social.concordance`).
    """
    from neco.social.concordance import kwic

    tokens, frame = _tokens_and_corpus(ws, ["id", "community", "text"])
    _check_communities(frame, [community])
    return kwic(frame, tokens, term, community=community, width=width, sort=sort)


def collocates(
    ws: Workspace,
    term: str,
    *,
    community: str | None = None,
    window: int = 4,
    min_count: int = 2,
) -> pd.DataFrame:
    """Words within ``window`` words of ``term``, scored by NPMI and G²."""
    from neco.social.concordance import collocates as run_collocates
    from neco.social.pipeline import load_tokens

    tokens = load_tokens(ws)
    if community is not None:
        _check_communities(ws.corpus(["community"]), [community])
    return run_collocates(tokens, term, window=window, community=community, min_count=min_count)
