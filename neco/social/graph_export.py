"""Build one graph of a workspace on demand and export it (``neco graph``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from neco.errors import NecoError

KINDS = ("cooccurrence", "bipartite", "terms", "captions", "discourse", "authors", "semantic")
"""cooccurrence: NPMI term graph with backbone, communities, centralities; bipartite:
caption-term graph (tf-idf); terms / captions: its two projections (cosine of tf-idf; captions
linked to their 10 most similar); discourse / authors: reply graphs; semantic: kNN graph of
sentence embeddings."""


def build_graph(
    workspace: Path,
    kind: str,
    out: Path,
    *,
    community: str | None = None,
    top_terms: int = 2000,
    min_count: int = 3,
) -> dict[str, Any]:
    """Build graph ``kind`` (optionally for one community), write it to ``out``, summarise it."""
    _, summary = make_graph(
        workspace, kind, out, community=community, top_terms=top_terms, min_count=min_count
    )
    return summary


def make_graph(
    workspace: Path,
    kind: str,
    out: Path | str | None = None,
    *,
    community: str | None = None,
    top_terms: int = 2000,
    min_count: int = 3,
) -> tuple[Any, dict[str, Any]]:
    """Graph ``kind`` (optionally of one community) as networkx, and its summary; written to
    ``out`` too when given.

    The arguments are checked before the workspace is read, so that a wrong ``--out`` suffix
    or count fails at once rather than after the graph is built.
    """
    from neco.social.graphs import _check_int, check_export_path, export_graph
    from neco.workspace import Workspace

    # 1. check the arguments
    if kind not in KINDS:
        raise NecoError(
            f"The 'kind' parameter of build_graph must be one of {', '.join(KINDS)}. "
            f"Got {kind!r} instead."
        )
    if out is not None:
        out = check_export_path(out, "build_graph")
    top_terms = _check_int(top_terms, "build_graph", "top_terms", minimum=1)
    min_count = _check_int(min_count, "build_graph", "min_count", minimum=1)

    # 2. read the captions
    ws = Workspace(workspace).require()
    frame = ws.corpus(["id", "text", "community", "parent_id", "thread_id", "author"])
    if community is not None:
        names = sorted(frame["community"].unique())
        if community not in names:
            raise NecoError(f"No community {community!r}. Communities: {', '.join(names)}.")
        frame = frame[frame["community"] == community]

    # 3. build the graph and write it
    if kind in ("cooccurrence", "bipartite", "terms", "captions"):
        graph = _term_graph(ws, frame, kind, top_terms, min_count)
    elif kind in ("discourse", "authors"):
        from neco.social.discourse import discourse

        if not frame["parent_id"].notna().any():
            raise NecoError("This corpus has no reply links (parent ids): no discourse graph.")
        d = discourse(frame)
        graph = d.replies if kind == "discourse" else d.authors
    else:
        from neco.social.semantic import EmbeddingCache, embed_texts, semantic_graph

        if len(frame) < 2:
            raise NecoError(
                "A semantic graph links each caption to its nearest others: expected at least "
                f"2 captions, found {len(frame)}."
            )
        cache = EmbeddingCache(ws.path / "social" / "embedding_cache", "all-MiniLM-L6-v2")
        vectors = embed_texts(frame["text"].tolist(), cache=cache)
        graph = semantic_graph(frame["id"].tolist(), vectors, k=min(10, len(frame) - 1))
    files = export_graph(graph, out) if out is not None else []
    return graph, {
        "kind": kind,
        "community": community or "all",
        "nodes": graph.number_of_nodes(),
        "edges": graph.number_of_edges(),
        "files": [str(f) for f in files],
    }


def _term_graph(ws: Any, frame: Any, kind: str, top_terms: int, min_count: int) -> Any:
    from neco.social.graphs import bipartite_graph, document_projection, term_projection
    from neco.social.pipeline import cooccurrence_backbone, load_tokens
    from neco.social.terms import build_doc_terms

    docs = pa.table({"id": frame["id"].tolist(), "community": frame["community"].tolist()})
    dtm = build_doc_terms(docs, load_tokens(ws), "lemma")
    doc_freq = np.asarray(dtm.binary().sum(axis=0)).ravel()
    top = np.argsort(-doc_freq, kind="stable")[:top_terms]
    top = top[doc_freq[top] >= min_count]
    matrix = dtm.matrix[:, top]
    terms = list(dtm.terms[top])
    if kind == "bipartite":
        return bipartite_graph(matrix, list(dtm.doc_ids), terms)
    if kind == "terms":
        return term_projection(matrix, terms)
    if kind == "captions":
        return document_projection(matrix, list(dtm.doc_ids), k=10)
    graph, _ = cooccurrence_backbone(dtm, top_terms=top_terms, min_count=min_count)
    return graph
