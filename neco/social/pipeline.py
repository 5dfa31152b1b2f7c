"""The NLP layer as stages on a workspace (see :mod:`neco.stages` for the contract).

:func:`run_social` runs the stages below in order; each is skipped when its inputs and
parameters are unchanged since it last ran, and commits its tables together.

=====================  ==========================================  ==========================
stage                  reads                                       writes
=====================  ==========================================  ==========================
social.parse           corpus (id, text, community, lang)          social/tokens, chunks,
                                                                   entities
sample                 corpus (id, community)                      sample/items
social.prompts         corpus (id, text, community, meta)          social/specifiers
social.keyness         social/tokens, corpus (id, community)       social/keyness
social.cooccurrence    social/tokens, corpus (id, community)       social/cooc_nodes, _edges
social.discourse       corpus (id, parent, thread, author, ...)    social/discourse_edges,
                                                                   _threads
social.semantic        sample/items, corpus (id, text)             social/reference_vectors,
                                                                   social/semantic_edges
social.relations       social/tokens                               social/relations,
                                                                   relation_counts
=====================  ==========================================  ==========================

Graphs are also written as GEXF (for Gephi and ``networkx.read_gexf``) under
``<workspace>/social/graphs/``. Every table is declared in :mod:`neco.catalogue`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from neco.errors import NecoError
from neco.progress import Progress
from neco.sample import SAMPLE_STAGE, sample_params
from neco.social.parse import PARSE_VERSION, ParseConfig
from neco.stages import (
    Input,
    Stage,
    StageContext,
    StageOutput,
    StageReport,
    StageSkipped,
    run_stages,
)

if TYPE_CHECKING:
    import networkx as nx

    from neco.workspace import Workspace

STEPS = ("parse", "prompts", "keyness", "cooccurrence", "discourse", "semantic", "relations")


@dataclass
class SocialConfig:
    """Parameters of the NLP layer: the one place their defaults live (the CLI reads them)."""

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
    semantic_model: str = "all-MiniLM-L6-v2"
    prompt_communities: tuple[str, ...] | None = None  # None: detect
    seed: int = 0

    def __post_init__(self) -> None:
        from neco.social.graphs import check_disparity_alpha

        unknown = sorted(set(self.skip) - set(STEPS))
        if unknown:
            raise NecoError(f"Unknown step(s) {unknown}. Steps: {', '.join(STEPS)}.")
        check_disparity_alpha(self.backbone_alpha)
        for name in ("top_terms", "min_count", "keyness_min_count", "semantic_k"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise NecoError(
                    f"The '{name}' parameter of the NLP layer must be an int >= 1. "
                    f"Got {value!r} instead."
                )

    def params(self) -> dict[str, Any]:
        """The run parameters the stages read (flat, JSON-able)."""
        out = {k: v for k, v in asdict(self).items() if k not in ("parse", "skip")}
        out["prompt_communities"] = (
            sorted(self.prompt_communities) if self.prompt_communities is not None else None
        )
        out.update({f"parse_{k}": v for k, v in asdict(self.parse).items()})
        out["parse_version"] = PARSE_VERSION
        return out


@dataclass
class SocialResult:
    """How each stage went (``ran``, ``unchanged``, ``skipped``) with a short summary."""

    stages: list[StageReport] = field(default_factory=list)

    @property
    def steps(self) -> dict[str, dict[str, Any]]:
        """Per stage (without the ``social.`` prefix): status, seconds and summary."""
        return {r.name.removeprefix("social."): r.to_dict() for r in self.stages}

    def to_dict(self) -> dict[str, Any]:
        return {"stages": {r.name: r.to_dict() for r in self.stages}}


# --------------------------------------------------------------------------- parse


def _parse_config(params: dict[str, Any]) -> ParseConfig:
    return ParseConfig(
        mode=params["parse_mode"],
        model=params["parse_model"],
        processes=params["parse_processes"],
        batch_size=params["parse_batch_size"],
        default_lang=params["parse_default_lang"],
        lang_models=dict(params["parse_lang_models"]),
    )


def _run_parse(ctx: StageContext) -> StageOutput:
    from neco.social.parse import parse_texts

    frame = ctx.frame("corpus", ["id", "text", "community", "lang"])
    langs = [x if isinstance(x, str) else None for x in frame["lang"].tolist()]
    config = _parse_config(ctx.params)
    result = parse_texts(
        frame["id"].tolist(),
        frame["text"].tolist(),
        frame["community"].tolist(),
        langs,
        config,
        ctx.progress,
    )
    return StageOutput(
        {
            "social/tokens": result.tokens,
            "social/chunks": result.chunks,
            "social/entities": result.entities,
        },
        {"tokens": result.tokens.num_rows, "mode": config.mode, "pipelines": result.pipelines},
    )


def load_tokens(ws: Workspace, columns: Sequence[str] | None = None) -> pa.Table:
    """The token table; a clear error if the NLP layer has not run."""
    if "social/tokens" not in ws.require().tables():
        raise NecoError(f"The workspace {ws.path} has no parse yet. Run: neco social -w {ws.path}")
    return ws.read_table("social/tokens", columns)


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
            # One row per artist a specifier names ("by A and B"), each with the same position;
            # the terms module counts a specifier once per caption and position.
            for artist in spec.artists or (None,):
                rows["id"].append(caption_id)
                rows["community"].append(community)
                rows["position"].append(spec.position)
                rows["text"].append(spec.text)
                rows["weight"].append(spec.weight)
                rows["negative"].append(spec.negative)
                rows["artist"].append(artist)
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
    return _with_declared(nodes, "social/cooc_nodes"), _with_declared(edges, "social/cooc_edges")


def _with_declared(table: pa.Table, name: str) -> pa.Table:
    """An empty graph's table has no attribute columns: give it the declared ones."""
    from neco.catalogue import VECTOR, spec_of

    if table.num_rows:
        return table
    columns = {
        c.name: pa.array([], c.type if c.type != VECTOR else pa.list_(pa.float32()))
        for c in spec_of(name).columns
    }
    return pa.table(columns)


def cooccurrence_backbone(
    dtm: Any,
    *,
    top_terms: int = 2000,
    min_count: int = 3,
    alpha: float = 0.2,
    seed: int = 0,
    scope: str = "all",
) -> tuple[nx.Graph, dict[str, Any]]:
    """Co-occurrence graph of the ``top_terms`` terms in most captions, pruned to a backbone
    by the disparity filter at ``alpha``, with Leiden communities and centralities."""
    from neco.social.graphs import (
        add_centralities,
        cooccurrence_graph,
        detect_communities,
        disparity_filter,
    )

    doc_freq = np.asarray(dtm.binary().sum(axis=0)).ravel()
    top = np.argsort(-doc_freq, kind="stable")[:top_terms]
    top = top[doc_freq[top] >= min_count]
    matrix = dtm.matrix[:, top]
    graph = cooccurrence_graph(matrix, list(dtm.terms[top]), min_count=min_count)
    full_edges = graph.number_of_edges()
    if graph.number_of_edges():
        # The backbone is read off co-occurrence counts, whose heavy tail the disparity
        # filter is built for; NPMI stays the edge weight for communities and display.
        graph = disparity_filter(graph, alpha=alpha, weight="count")
    _, modularity = detect_communities(graph, seed=seed)
    add_centralities(graph, seed=seed)
    return graph, {
        "scope": scope,
        "terms": len(top),
        "edges_before_backbone": int(full_edges),
        "nodes": graph.number_of_nodes(),
        "edges": graph.number_of_edges(),
        "modularity": round(float(modularity), 4),
    }


# --------------------------------------------------------------------------- stages


def _lemma_terms(ctx: StageContext) -> Any:
    """Captions x lemmas, with the words inside web-text tags (``[OC]``, ``1200x800``) left
    out, as ``neco vocab`` counts them (:mod:`neco.social.tags`)."""
    from neco.social.tags import find_tags
    from neco.social.terms import build_doc_terms

    frame = ctx.frame("corpus", ["id", "community", "text"])
    prompt: set[str] = set()
    if ctx.has("social/specifiers"):  # brackets of prompt communities are weights, not tags
        prompt = set(ctx.read("social/specifiers", ["community"]).column("community").to_pylist())
    prompt_ids = frame.loc[frame["community"].isin(prompt), "id"].tolist()
    tags = find_tags(frame["id"].tolist(), frame["text"].tolist(), prompt_ids=prompt_ids)
    docs = pa.table({"id": frame["id"].tolist(), "community": frame["community"].tolist()})
    return build_doc_terms(docs, ctx.read("social/tokens"), "lemma", tags=tags)


def _run_prompts(ctx: StageContext) -> StageOutput:
    frame = ctx.frame("corpus", ["id", "text", "community", "meta"])
    chosen = ctx.params["prompt_communities"]
    specifiers, communities = prompt_specifiers(frame, chosen)
    return StageOutput(
        {"social/specifiers": specifiers},
        {"communities": communities, "specifiers": specifiers.num_rows},
    )


def _run_keyness(ctx: StageContext) -> StageOutput:
    from neco.social.keyness import keyness_table

    dtm = _lemma_terms(ctx)
    if len(dtm.community_names()) < 2:
        raise StageSkipped(
            "keyness compares communities: this corpus has one community only "
            "(neco vocab --freq lists its terms; --by year compares it with itself)"
        )
    table = keyness_table(dtm, min_count=ctx.params["keyness_min_count"])
    return StageOutput({"social/keyness": table}, {"rows": table.num_rows, "unit": "lemma"})


def _run_cooccurrence(ctx: StageContext) -> StageOutput:
    from neco.social.graphs import export_graph

    dtm = _lemma_terms(ctx)
    node_tables, edge_tables, summaries = [], [], []
    scopes = [("all", np.ones(dtm.n_docs, dtype=bool))] + [
        (c, dtm.communities == c) for c in dtm.community_names()
    ]
    graphs = ctx.staging() / "social" / "graphs"
    written: list[str] = []
    for scope, mask in scopes:
        sub = type(dtm)(
            dtm.matrix[mask], dtm.terms, dtm.doc_ids[mask], dtm.communities[mask], dtm.unit
        )
        graph, summary = cooccurrence_backbone(
            sub,
            top_terms=ctx.params["top_terms"],
            min_count=ctx.params["min_count"],
            alpha=ctx.params["backbone_alpha"],
            seed=ctx.params["seed"],
            scope=scope,
        )
        nodes, edges = _graph_to_tables(graph, scope)
        node_tables.append(nodes)
        edge_tables.append(edges)
        summaries.append(summary)
        name = f"cooccurrence_{_slug(scope)}.gexf"
        export_graph(graph, graphs / name)
        written.append(name)
    return StageOutput(
        {
            "social/cooc_nodes": pa.concat_tables(node_tables, promote_options="default"),
            "social/cooc_edges": pa.concat_tables(edge_tables, promote_options="default"),
        },
        {"scopes": summaries, "graph_files": written},
    )


def _slug(name: str) -> str:
    """A file-name-safe form of a community name, one-to-one: when characters other than
    letters, digits, ``-`` and ``_`` had to be replaced, a short hash of the name is added, so
    that ``a/b``, ``a_b`` and ``a.b`` get three files (the stage lists them in its summary).

    >>> _slug("museum"), _slug("a_b"), _slug("a/b"), _slug("a.b")
    ('museum', 'a_b', 'a_b-c14cddc0', 'a_b-2e7336dc')
    """
    import hashlib

    slug = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)
    if slug == name:
        return slug
    digest = hashlib.sha256(name.encode("utf-8", "backslashreplace")).hexdigest()[:8]
    return f"{slug[:60]}-{digest}"


def _run_discourse(ctx: StageContext) -> StageOutput:
    from neco.social.discourse import discourse
    from neco.social.graphs import export_graph

    frame = ctx.frame("corpus", ["id", "community", "parent_id", "thread_id", "author"])
    if not frame["parent_id"].notna().any():
        raise StageSkipped("no reply links (parent ids) in the corpus")
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
    graphs = ctx.staging() / "social" / "graphs"
    export_graph(d.replies, graphs / "discourse_replies.gexf")
    if d.authors.number_of_edges():
        export_graph(d.authors, graphs / "discourse_authors.gexf")
    return StageOutput(
        {"social/discourse_edges": edges, "social/discourse_threads": d.threads},
        {
            "threads": len(d.threads),
            "reply_edges": len(edges),
            "max_depth": int(d.threads["depth"].max()) if len(d.threads) else 0,
            "author_edges": d.authors.number_of_edges(),
        },
    )


def _run_semantic(ctx: StageContext) -> StageOutput:
    from neco.social.graphs import export_graph
    from neco.social.semantic import EmbeddingCache, embed_texts, semantic_graph

    items = ctx.frame("sample/items").sort_values("order")
    k = ctx.params["semantic_k"]
    if len(items) <= k:
        raise StageSkipped(f"the semantic kNN graph needs more than k={k} sampled captions")
    texts = ctx.frame("corpus", ["id", "text"]).set_index("id")["text"]
    model = ctx.params["semantic_model"]
    cache = EmbeddingCache(ctx.ws.path / "social" / "embedding_cache", model)
    ids = items["id"].tolist()
    vectors = embed_texts(texts.loc[ids].tolist(), cache=cache, progress=ctx.progress)
    graph = semantic_graph(ids, vectors, k=k)
    communities = dict(zip(items["id"], items["community"], strict=True))
    for node in graph.nodes:
        graph.nodes[node]["community"] = communities[node]
    edges = pd.DataFrame(
        [(a, b, float(w)) for a, b, w in graph.edges(data="weight")],
        columns=["source", "target", "weight"],
    )
    reference = pa.table(
        {
            "id": ids,
            "community": items["community"].tolist(),
            "vector": vector_column(vectors),
            "model": [model] * len(ids),
        }
    )
    export_graph(graph, ctx.staging() / "social" / "graphs" / "semantic_knn.gexf")
    return StageOutput(
        {"social/reference_vectors": reference, "social/semantic_edges": edges},
        {"captions": len(ids), "edges": len(edges), "k": k, "model": model},
        components=[{"id": model, "kind": "sentence-transformer", "weights": "pretrained"}],
    )


def vector_column(values: np.ndarray, dtype: Any = np.float32) -> pa.Array:
    """Rows of a 2-D array as a fixed-size list column (float32 unless told otherwise)."""
    flat = pa.array(np.ascontiguousarray(values, dtype=dtype).ravel())
    return pa.FixedSizeListArray.from_arrays(flat, values.shape[1])


def _run_relations(ctx: StageContext) -> StageOutput:
    from neco.social.relations import extract_relations, relation_counts

    tokens = ctx.read("social/tokens")
    if tokens.num_rows and not any(tokens.column("dep").to_pylist()[:10000]):
        raise StageSkipped("relations need dependency parses: run neco social --mode full")
    relations = extract_relations(tokens)
    return StageOutput(
        {"social/relations": relations, "social/relation_counts": relation_counts(relations)},
        {"triples": len(relations)},
    )


_CORPUS = "corpus"
SOCIAL_STAGES: list[Stage] = [
    Stage(
        "social.parse",
        inputs=(Input(_CORPUS, ("id", "text", "community", "lang")),),
        outputs=("social/tokens", "social/chunks", "social/entities"),
        run=_run_parse,
        params=(
            "parse_mode",
            "parse_model",
            "parse_default_lang",
            "parse_lang_models",
            "parse_version",
        ),
        doc="spaCy tokens, lemmas, tags (fast), dependencies, chunks and entities (full)",
    ),
    Stage(
        "social.prompts",
        inputs=(Input(_CORPUS, ("id", "text", "community", "meta")),),
        outputs=("social/specifiers",),
        run=_run_prompts,
        params=("prompt_communities",),
        doc="prompt specifiers, weights, negative prompts and artists of prompt communities",
    ),
    Stage(
        "social.keyness",
        inputs=(
            Input("social/tokens"),
            Input(_CORPUS, ("id", "community", "text")),
            Input("social/specifiers", ("id", "community"), optional=True),
        ),
        version=2,
        outputs=("social/keyness",),
        run=_run_keyness,
        params=("keyness_min_count",),
        doc="distinctive lemmas of every community against the rest",
    ),
    Stage(
        "social.cooccurrence",
        inputs=(
            Input("social/tokens"),
            Input(_CORPUS, ("id", "community", "text")),
            Input("social/specifiers", ("id", "community"), optional=True),
        ),
        version=2,
        outputs=("social/cooc_nodes", "social/cooc_edges"),
        run=_run_cooccurrence,
        params=("top_terms", "min_count", "backbone_alpha", "seed"),
        doc="term co-occurrence backbones with Leiden clusters and centralities",
    ),
    Stage(
        "social.discourse",
        inputs=(Input(_CORPUS, ("id", "community", "parent_id", "thread_id", "author")),),
        outputs=("social/discourse_edges", "social/discourse_threads"),
        run=_run_discourse,
        doc="reply graph, threads and author graph",
    ),
    Stage(
        "social.semantic",
        inputs=(Input("sample/items"), Input(_CORPUS, ("id", "text"))),
        outputs=("social/reference_vectors", "social/semantic_edges"),
        run=_run_semantic,
        params=("semantic_k", "semantic_model"),
        doc="sentence-embedding reference vectors of the item sample and their kNN graph",
    ),
    Stage(
        "social.relations",
        inputs=(Input("social/tokens"),),
        outputs=("social/relations", "social/relation_counts"),
        run=_run_relations,
        doc="subject-verb-object, noun-preposition-noun and adjective-noun triples",
    ),
]


def social_stages(skip: Sequence[str] = ()) -> list[Stage]:
    """The NLP layer's stages in running order (the item sample before the semantic step)."""
    chosen = [s for s in SOCIAL_STAGES if s.name.removeprefix("social.") not in skip]
    out = []
    for stage in chosen:
        if stage.name == "social.semantic":
            out.append(SAMPLE_STAGE)
        out.append(stage)
    return out


def run_social(
    ws: Workspace,
    config: SocialConfig | None = None,
    progress: Progress | None = None,
    *,
    force: bool = False,
) -> SocialResult:
    """Run the NLP layer's stages on ``ws``; unchanged stages are skipped (``force`` reruns)."""
    config = config or SocialConfig()
    ws.require()
    params = {**config.params(), **sample_params(ws)}
    reports = run_stages(ws, social_stages(config.skip), params, progress=progress, force=force)
    return SocialResult(reports)
