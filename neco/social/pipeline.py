"""The NLP layer end to end, reading the workspace and writing its tables into it.

:func:`run_social` parses the corpus (cached by content), segments prompts, computes keyness
for every community, builds the term co-occurrence backbone with its communities and
centralities, the discourse views, the semantic kNN graph and (full mode) the relations.

Workspace tables written (DuckDB views in brackets):

=========================  ==========================  ======================================
table                      view                        rows
=========================  ==========================  ======================================
social/tokens              social_tokens               one per token (``neco.social.parse``)
social/chunks, entities    social_chunks, ...          full mode: noun chunks, entities
social/specifiers          social_specifiers           prompt specifiers of prompt communities
social/keyness             social_keyness              community x term keyness (lemmas)
social/cooc_nodes, _edges  social_cooc_nodes, ...      co-occurrence backbone, per scope
social/discourse_threads   social_discourse_threads    one per thread
social/discourse_edges     social_discourse_edges      reply links with authors
social/semantic_edges      social_semantic_edges       kNN graph of caption embeddings
social/relations           social_relations            dependency triples (full mode)
social/relation_counts     social_relation_counts      triples per community
=========================  ==========================  ======================================

Graphs are also written as GEXF (for Gephi and ``networkx.read_gexf``) under
``<workspace>/social/graphs/``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from neco.errors import NecoError
from neco.progress import NullProgress, Progress
from neco.social.parse import PARSE_VERSION, ParseConfig, ParseResult, corpus_digest, parse_texts

if TYPE_CHECKING:
    import networkx as nx

    from neco.workspace import Workspace

STEPS = ("parse", "prompts", "keyness", "cooccurrence", "discourse", "semantic", "relations")


@dataclass
class SocialConfig:
    """Parameters of the NLP layer (recorded in the manifest)."""

    parse: ParseConfig = field(default_factory=ParseConfig)
    skip: tuple[str, ...] = ()
    top_terms: int = 2000
    min_count: int = 3
    # Caption corpora give small co-occurrence counts, for which the disparity filter at the
    # customary 0.05 keeps almost nothing (demo corpus: 75 of 2,000 terms); 0.2 keeps a
    # readable backbone (291 terms, 732 edges). Use 0.05 for large corpora.
    backbone_alpha: float = 0.2
    keyness_min_count: int = 3
    semantic_k: int = 10
    semantic_max: int = 50_000
    prompt_communities: tuple[str, ...] | None = None  # None: detect
    seed: int = 0

    def record(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "parse"}
        out["parse"] = dict(self.parse.__dict__)
        out["skip"] = list(self.skip)
        return out


@dataclass
class SocialResult:
    """What ran, how long each step took, and short summaries for the report."""

    steps: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"steps": self.steps}


# --------------------------------------------------------------------------- parse (cached)


def _corpus_frame(ws: Workspace) -> pd.DataFrame:
    return ws.corpus(
        ["id", "text", "community", "lang", "parent_id", "thread_id", "author", "meta"]
    )


def parse_workspace(
    ws: Workspace, config: ParseConfig, progress: Progress | None = None
) -> tuple[ParseResult, bool]:
    """Parse the workspace's corpus, or reuse the cached parse; returns (result, cached)."""
    frame = _corpus_frame(ws)
    ids = frame["id"].tolist()
    texts = frame["text"].tolist()
    langs = [None if not isinstance(x, str) else x for x in frame["lang"].tolist()]
    key = corpus_digest(ids, texts, langs) + json.dumps(
        {
            "mode": config.mode,
            "model": config.model,
            "default_lang": config.default_lang,
            "lang_models": config.lang_models,
            "version": PARSE_VERSION,
        },
        sort_keys=True,
    )
    stage = ws.manifest().get("stages", {}).get("social.parse", {})
    if stage.get("key") == key and "social/tokens" in ws.tables():
        return (
            ParseResult(
                tokens=ws.read_table("social/tokens"),
                chunks=ws.read_table("social/chunks"),
                entities=ws.read_table("social/entities"),
                pipelines=stage.get("pipelines", {}),
            ),
            True,
        )
    result = parse_texts(ids, texts, frame["community"].tolist(), langs, config, progress)
    ws.write_table("social/chunks", result.chunks)
    ws.write_table("social/entities", result.entities)
    ws.write_table(
        "social/tokens",
        result.tokens,
        stage="social.parse",
        stage_info={
            "key": key,
            "mode": config.mode,
            "pipelines": result.pipelines,
            "tokens": result.tokens.num_rows,
        },
    )
    return result, False


def load_tokens(ws: Workspace) -> pa.Table:
    """The cached token table; a clear error if the NLP layer has not run."""
    if "social/tokens" not in ws.require().tables():
        raise NecoError(f"The workspace {ws.path} has no parse yet. Run: neco social -w {ws.path}")
    return ws.read_table("social/tokens")


# --------------------------------------------------------------------------- prompts


def prompt_specifiers(
    frame: pd.DataFrame, communities: Sequence[str] | None = None
) -> tuple[pa.Table, list[str]]:
    """Specifiers of the captions of prompt communities (given, or detected)."""
    from neco.social.prompts import looks_like_prompts, segment_prompt

    names = sorted(frame["community"].unique())
    if communities is None:
        chosen = [
            c
            for c in names
            if looks_like_prompts(frame.loc[frame["community"] == c, "text"].head(2000).tolist())
        ]
    else:
        unknown = sorted(set(communities) - set(names))
        if unknown:
            raise NecoError(f"No community {unknown[0]!r}. Communities: {', '.join(names)}.")
        chosen = list(communities)
    rows: dict[str, list[Any]] = {
        k: []
        for k in ("id", "community", "position", "text", "weight", "negative", "artist", "kind")
    }
    subset = frame[frame["community"].isin(chosen)]
    for caption_id, community, text, meta in zip(
        subset["id"], subset["community"], subset["text"], subset["meta"], strict=True
    ):
        negative = None
        if isinstance(meta, str):
            value = json.loads(meta).get("negative_prompt")
            negative = value if isinstance(value, str) and value.strip() else None
        parsed = segment_prompt(text, negative)
        for spec in parsed.specifiers:
            rows["id"].append(caption_id)
            rows["community"].append(community)
            rows["position"].append(spec.position)
            rows["text"].append(spec.text)
            rows["weight"].append(spec.weight)
            rows["negative"].append(spec.negative)
            rows["artist"].append(spec.artist)
            rows["kind"].append(spec.kind)
    schema = pa.schema(
        [
            ("id", pa.string()),
            ("community", pa.string()),
            ("position", pa.int32()),
            ("text", pa.string()),
            ("weight", pa.float64()),
            ("negative", pa.bool_()),
            ("artist", pa.string()),
            ("kind", pa.string()),
        ]
    )
    return pa.table(rows, schema=schema), chosen


# --------------------------------------------------------------------------- graphs


def _graph_to_tables(graph: nx.Graph, scope: str) -> tuple[pa.Table, pa.Table]:
    from neco.social.graphs import graph_tables

    nodes, edges = graph_tables(graph)
    nodes = nodes.append_column("scope", pa.array([scope] * nodes.num_rows, pa.string()))
    edges = edges.append_column("scope", pa.array([scope] * edges.num_rows, pa.string()))
    return nodes, edges


def cooccurrence_backbone(
    dtm: Any, config: SocialConfig, scope: str
) -> tuple[nx.Graph, dict[str, Any]]:
    """Co-occurrence graph of the ``top_terms`` most frequent terms, pruned to a backbone,
    with Leiden communities and centralities."""
    from neco.social.graphs import (
        add_centralities,
        cooccurrence_graph,
        detect_communities,
        disparity_filter,
    )

    doc_freq = np.asarray(dtm.binary().sum(axis=0)).ravel()
    top = np.argsort(-doc_freq, kind="stable")[: config.top_terms]
    top = top[doc_freq[top] >= config.min_count]
    matrix = dtm.matrix[:, top]
    graph = cooccurrence_graph(matrix, list(dtm.terms[top]), min_count=config.min_count)
    full_edges = graph.number_of_edges()
    if graph.number_of_edges():
        # The backbone is read off co-occurrence counts, whose heavy tail the disparity
        # filter is built for; NPMI stays the edge weight for communities and display.
        graph = disparity_filter(graph, alpha=config.backbone_alpha, weight="count")
    _, modularity = detect_communities(graph, seed=config.seed)
    add_centralities(graph, seed=config.seed)
    return graph, {
        "scope": scope,
        "terms": len(top),
        "edges_before_backbone": int(full_edges),
        "nodes": graph.number_of_nodes(),
        "edges": graph.number_of_edges(),
        "modularity": round(float(modularity), 4),
    }


# --------------------------------------------------------------------------- runner


def run_social(
    ws: Workspace, config: SocialConfig | None = None, progress: Progress | None = None
) -> SocialResult:
    """Run the NLP layer on a workspace and write its tables (see the module docstring)."""
    from neco.social.graphs import export_graph
    from neco.social.keyness import keyness_table
    from neco.social.terms import build_doc_terms

    config = config or SocialConfig()
    unknown = sorted(set(config.skip) - set(STEPS))
    if unknown:
        raise NecoError(f"Unknown step(s) {unknown}. Steps: {', '.join(STEPS)}.")
    progress = progress or NullProgress()
    ws.require()
    result = SocialResult()
    graphs_dir = ws.path / "social" / "graphs"

    def timed(name: str, start: float, **info: Any) -> None:
        result.steps[name] = {"seconds": round(time.perf_counter() - start, 2), **info}

    t = time.perf_counter()
    parsed, cached = parse_workspace(ws, config.parse, progress)
    timed(
        "parse",
        t,
        cached=cached,
        mode=config.parse.mode,
        tokens=parsed.tokens.num_rows,
        pipelines=parsed.pipelines,
    )
    frame = _corpus_frame(ws)
    docs = pa.table({"id": frame["id"].tolist(), "community": frame["community"].tolist()})

    if "prompts" not in config.skip:
        t = time.perf_counter()
        specifiers, chosen = prompt_specifiers(frame, config.prompt_communities)
        ws.write_table("social/specifiers", specifiers, stage="social.prompts")
        timed("prompts", t, communities=chosen, specifiers=specifiers.num_rows)

    dtm = build_doc_terms(docs, parsed.tokens, "lemma")
    if "keyness" not in config.skip:
        t = time.perf_counter()
        if len(set(frame["community"])) >= 2:
            table = keyness_table(dtm, min_count=config.keyness_min_count)
            ws.write_table("social/keyness", table, stage="social.keyness")
            timed("keyness", t, rows=table.num_rows, unit="lemma")
        else:
            timed("keyness", t, skipped="one community only")

    if "cooccurrence" not in config.skip:
        t = time.perf_counter()
        node_tables, edge_tables, summaries = [], [], []
        scopes = [("all", np.ones(dtm.n_docs, dtype=bool))] + [
            (c, dtm.communities == c) for c in dtm.community_names()
        ]
        for scope, mask in scopes:
            sub = type(dtm)(
                dtm.matrix[mask], dtm.terms, dtm.doc_ids[mask], dtm.communities[mask], dtm.unit
            )
            graph, summary = cooccurrence_backbone(sub, config, scope)
            nodes, edges = _graph_to_tables(graph, scope)
            node_tables.append(nodes)
            edge_tables.append(edges)
            summaries.append(summary)
            export_graph(graph, graphs_dir / f"cooccurrence_{_slug(scope)}.gexf")
        ws.write_table(
            "social/cooc_nodes", pa.concat_tables(node_tables, promote_options="default")
        )
        ws.write_table(
            "social/cooc_edges",
            pa.concat_tables(edge_tables, promote_options="default"),
            stage="social.cooccurrence",
            stage_info={"scopes": summaries},
        )
        timed("cooccurrence", t, scopes=summaries)

    if "discourse" not in config.skip:
        t = time.perf_counter()
        info = _write_discourse(ws, frame, graphs_dir)
        timed("discourse", t, **info)

    if "semantic" not in config.skip:
        t = time.perf_counter()
        info = _write_semantic(ws, frame, config, graphs_dir, progress)
        timed("semantic", t, **info)

    if "relations" not in config.skip:
        t = time.perf_counter()
        if config.parse.mode == "full":
            from neco.social.relations import extract_relations, relation_counts

            relations = extract_relations(parsed.tokens)
            ws.write_table(
                "social/relations", pa.Table.from_pandas(relations, preserve_index=False)
            )
            counts = relation_counts(relations)
            ws.write_table(
                "social/relation_counts",
                pa.Table.from_pandas(counts, preserve_index=False),
                stage="social.relations",
            )
            timed("relations", t, triples=len(relations))
        else:
            timed("relations", t, skipped="needs --mode full")
    manifest_info = {"config": config.record(), "steps": result.steps}
    ws.record_stage("social", manifest_info)
    return result


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)


def _write_discourse(ws: Workspace, frame: pd.DataFrame, graphs_dir: Path) -> dict[str, Any]:
    from neco.social.discourse import discourse
    from neco.social.graphs import export_graph

    linked = frame["parent_id"].notna()
    if not linked.any():
        return {"skipped": "no reply links in the corpus"}
    d = discourse(frame)
    edges = pd.DataFrame(
        [
            (
                a,
                b,
                d.replies.nodes[a]["author"],
                d.replies.nodes[b]["author"],
                d.replies.nodes[a]["community"],
                d.replies.nodes[a]["thread"],
            )
            for a, b in d.replies.edges()
        ],
        columns=["source", "target", "source_author", "target_author", "community", "thread"],
    )
    ws.write_table("social/discourse_edges", pa.Table.from_pandas(edges, preserve_index=False))
    ws.write_table(
        "social/discourse_threads",
        pa.Table.from_pandas(d.threads, preserve_index=False),
        stage="social.discourse",
    )
    export_graph(d.replies, graphs_dir / "discourse_replies.gexf")
    if d.authors.number_of_edges():
        export_graph(d.authors, graphs_dir / "discourse_authors.gexf")
    return {
        "threads": len(d.threads),
        "reply_edges": len(edges),
        "max_depth": int(d.threads["depth"].max()) if len(d.threads) else 0,
        "author_edges": d.authors.number_of_edges(),
    }


def _write_semantic(
    ws: Workspace, frame: pd.DataFrame, config: SocialConfig, graphs_dir: Path, progress: Progress
) -> dict[str, Any]:
    from neco.social.graphs import export_graph
    from neco.social.semantic import EmbeddingCache, embed_texts, semantic_graph

    if len(frame) > config.semantic_max:
        sample = frame.sample(config.semantic_max, random_state=config.seed).sort_index()
    else:
        sample = frame
    if len(sample) <= config.semantic_k:
        return {"skipped": f"needs more than k={config.semantic_k} captions"}
    cache = EmbeddingCache(ws.path / "social" / "embedding_cache", "all-MiniLM-L6-v2")
    vectors = embed_texts(sample["text"].tolist(), cache=cache, progress=progress)
    ids = sample["id"].tolist()
    graph = semantic_graph(ids, vectors, k=config.semantic_k)
    communities = dict(zip(sample["id"], sample["community"], strict=True))
    for node in graph.nodes:
        graph.nodes[node]["community"] = communities[node]
    edges = pd.DataFrame(
        [(a, b, float(w)) for a, b, w in graph.edges(data="weight")],
        columns=["source", "target", "weight"],
    )
    ws.write_table(
        "social/semantic_edges",
        pa.Table.from_pandas(edges, preserve_index=False),
        stage="social.semantic",
    )
    export_graph(graph, graphs_dir / "semantic_knn.gexf")
    return {
        "captions": len(sample),
        "edges": len(edges),
        "k": config.semantic_k,
        "sampled": len(sample) < len(frame),
    }
