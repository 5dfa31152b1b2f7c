"""The survival ledger: per community and model stage, how much relational structure is kept.

This is the only place where the social layer's tables meet the model layer's. The stage
``survival`` reads both on the workspace's item sample and writes ``survival/ledger`` (one
row per stage x metric x community x reference x representation) and ``survival/examples``
(captions that illustrate a finding). Every score carries a permutation null (the item
correspondence shuffled) and a bootstrap interval where the metric has them; a descriptive
rate (a truncation rate, a PSNR) carries its bootstrap interval over captions and no null.
A stage that did not run is a row with status ``not measured`` and the reason, never a zero.
Rows computed from components with random weights (tests, speed checks) are flagged
``mechanics_only``: they show that the measurement works, not what a real model does.

What each stage's rows compare (``reference`` = the social side, ``representation`` = the
neural side):

- ``tokens``: the co-occurrence backbone's edges (two terms used together in a caption) vs
  CLIP's 77-token window: ``edge_survival`` is the share of a community's edge occurrences
  whose two terms both fall before the cut and are single BPE pieces; ``term_survival`` the
  same for single backbone terms; ``truncation_rate`` and ``pieces_per_word`` describe the
  tokenizer itself. These use every caption, not only the sample.
- ``text``: the semantic reference vectors (sentence embeddings) and the semantic kNN graph
  of the sampled captions vs CLIP text vectors: the pooled end-token vector (what CLIP
  summarises) and, when stored, the mean of the non-padding hidden states (what the U-Net's
  cross-attention reads, as an unordered set). Metrics: mutual kNN overlap, trustworthiness,
  continuity, debiased linear CKA, RSA (see :mod:`neco.survival.metrics`); partition AMI of the
  corpus's communities vs k-means clusters of each side (community ``all``).
- ``relations``: relation probes (swap sensitivity of the corpus's own relations), read
  against their controls when the probe stage measured them.
- ``latents``: PSNR and SSIM of the VAE round trip, and whether image neighbourhoods survive
  it (mutual kNN of image descriptors before vs after).
- ``attention``: inequality of cross-attention over a caption's words (Gini), the share of
  neglected words, by part of speech and by whether the word is a term of the community's
  co-occurrence backbone.
- ``guidance``: diversity (Vendi score) of each community's samples at each guidance scale.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from neco.stages import Input, Stage, StageContext, StageOutput

if TYPE_CHECKING:
    from neco.workspace import Workspace

STAGE_ORDER = ("tokens", "text", "relations", "latents", "attention", "guidance")
ALL = "all"

#: The model-layer stage (and its main table) behind each ledger stage.
SOURCES = {
    "tokens": ("neural.tokens", "neural/token_captions"),
    "text": ("neural.text", "neural/text_pooled"),
    "relations": ("neural.probes", "neural/probe_summary"),
    "latents": ("neural.latents", "neural/latents"),
    "attention": ("neural.attention", "neural/attention_words"),
    "guidance": ("neural.guidance", "neural/guidance_diversity"),
}


@dataclass
class SurvivalConfig:
    """Parameters of the ledger (the CLI's defaults come from here)."""

    k: int = 10
    null_samples: int = 200
    bootstrap: int = 200
    seed: int = 0

    def params(self) -> dict[str, Any]:
        return {
            "survival_k": self.k,
            "null_samples": self.null_samples,
            "bootstrap": self.bootstrap,
            "survival_seed": self.seed,
        }


@dataclass
class _Ledger:
    """Rows and example captions as they are collected."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    examples: list[dict[str, Any]] = field(default_factory=list)

    def add(
        self,
        stage: str,
        metric: str,
        community: Any,
        reference: str,
        representation: str,
        *,
        value: float | None = None,
        null_mean: float | None = None,
        null_std: float | None = None,
        calibrated: float | None = None,
        p_value: float | None = None,
        low: float | None = None,
        high: float | None = None,
        n_items: int = 0,
        status: str = "measured",
        reason: str | None = None,
        mechanics_only: bool = False,
        components: Any = None,
        params: Any = None,
    ) -> None:
        def num(x: float | None) -> float | None:
            return None if x is None or not np.isfinite(x) else float(x)

        self.rows.append(
            {
                "stage": stage,
                "metric": metric,
                "community": str(community),
                "reference": reference,
                "representation": representation,
                "value": num(value),
                "null_mean": num(null_mean),
                "null_std": num(null_std),
                "calibrated": num(calibrated),
                "p_value": num(p_value),
                "low": num(low),
                "high": num(high),
                "n_items": int(n_items),
                "status": status,
                "reason": reason,
                "mechanics_only": bool(mechanics_only),
                "components": json.dumps(components) if components is not None else None,
                "params": json.dumps(params) if params is not None else None,
            }
        )

    def not_measured(self, stage: str, reason: str) -> None:
        self.add(stage, "(all metrics)", ALL, "—", "—", status="not measured", reason=reason)

    def example(
        self,
        stage: str,
        community: Any,
        kind: str,
        caption_id: Any,
        text: str,
        detail: str,
        score: Any = None,
    ) -> None:
        self.examples.append(
            {
                "stage": stage,
                "community": str(community),
                "kind": kind,
                "id": str(caption_id),
                "text": text,
                "detail": detail,
                "score": None if score is None else float(score),
            }
        )


# --------------------------------------------------------------------------- helpers


def _interval(values: np.ndarray, ctx: StageContext) -> tuple[float, float]:
    from neco.survival.scoring import bootstrap_interval

    values = np.asarray(values, dtype=float)
    if len(values) < 2 or not ctx.params["bootstrap"]:
        return float("nan"), float("nan")
    return bootstrap_interval(
        values, n_samples=ctx.params["bootstrap"], seed=ctx.params["survival_seed"]
    )


def _describe(
    ledger: _Ledger,
    ctx: StageContext,
    stage: str,
    metric: str,
    community: Any,
    reference: str,
    representation: str,
    values: np.ndarray,
    **extra: Any,
) -> None:
    """A descriptive mean over captions with its bootstrap interval (no null applies)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if not len(values):
        return
    low, high = _interval(values, ctx)
    ledger.add(
        stage,
        metric,
        community,
        reference,
        representation,
        value=float(values.mean()),
        low=low,
        high=high,
        n_items=len(values),
        **extra,
    )


def _stage_record(ctx: StageContext, stage_name: str) -> dict[str, Any]:
    return dict(ctx.ws.manifest().get("stages", {}).get(stage_name, {}))


def _mechanics_only(record: dict[str, Any]) -> bool:
    """True when any component the stage used had random (test) weights."""
    return any(c.get("weights") == "random" for c in record.get("components", []) or [])


def _component_ids(record: dict[str, Any]) -> list[str]:
    out = []
    for c in record.get("components", []) or []:
        out.append(str(c.get("name") or c.get("id") or c.get("cls") or "?"))
    return out


def _vectors(table: Any, column: str) -> np.ndarray:
    values = table.column(column).combine_chunks()
    width = values.type.list_size
    return np.asarray(values.values.to_numpy(zero_copy_only=False), dtype=np.float32).reshape(
        -1, width
    )


def _missing_reason(ctx: StageContext, stage: str) -> str:
    name, table = SOURCES[stage]
    record = _stage_record(ctx, name)
    if record.get("status") == "skipped" and record.get("reason"):
        return f"{name} was skipped: {record['reason']}"
    if not ctx.has(table):
        flag = name.removeprefix("neural.")
        return f"{name} has not run: neco neural --stages {flag}"
    return f"{name} made no usable rows"


def _source(ledger: _Ledger, ctx: StageContext, stage: str) -> tuple[dict[str, Any], bool] | None:
    """The model stage's record and whether it used random weights; None (and a "not
    measured" row) when its table is absent."""
    name, table = SOURCES[stage]
    if not ctx.has(table):
        ledger.not_measured(stage, _missing_reason(ctx, stage))
        return None
    record = _stage_record(ctx, name)
    return record, _mechanics_only(record)


# --------------------------------------------------------------------------- tokens


def _clip_pieces(words: Sequence[str]) -> dict[str, int]:
    """BPE pieces of each distinct word under CLIP's tokenizer (a word is BPE'd on its own).

    CLIP's word pattern writes numbers digit by digit, so a year is four pieces.

    >>> _clip_pieces(["kite", "2024"])
    {'2024': 4, 'kite': 1}
    """
    from neco.neural.tokenizer import clean_text, encode_texts, load_clip_tokenizer

    tokenizer = load_clip_tokenizer(None)
    distinct = sorted({w for w in words if w})
    ids = encode_texts([clean_text(w) for w in distinct], tokenizer)
    return {w: len(i) for w, i in zip(distinct, ids, strict=True)}


def _tokens(ledger: _Ledger, ctx: StageContext) -> None:
    if not ctx.has("neural/token_captions"):
        ledger.not_measured("tokens", _missing_reason(ctx, "tokens"))
        return
    record = _stage_record(ctx, "neural.tokens")
    captions = ctx.frame("neural/token_captions")
    words = ctx.frame("neural/token_words", ["id", "community", "n_pieces", "lost", "word"])
    rep = "CLIP tokens (77)"
    for community, group in captions.groupby("community", sort=True):
        _describe(
            ledger,
            ctx,
            "tokens",
            "truncation_rate",
            community,
            "captions",
            rep,
            group["truncated"].to_numpy(dtype=float),
        )
        w = words[words["community"] == community]
        _describe(
            ledger,
            ctx,
            "tokens",
            "pieces_per_word",
            community,
            "words",
            rep,
            w["n_pieces"].to_numpy(dtype=float),
        )
        for row in group[group["truncated"]].nlargest(3, "n_words_lost").itertuples():
            ledger.example(
                "tokens",
                community,
                "cut_words",
                row.id,
                "",
                f"{row.n_words_lost} words past token 77: {row.lost_words}",
                row.n_words_lost,
            )
    if not (ctx.has("social/cooc_edges") and ctx.has("social/tokens")):
        ledger.add(
            "tokens",
            "edge_survival",
            ALL,
            "co-occurrence backbone",
            rep,
            status="not measured",
            reason="needs the social layer's co-occurrence backbone: neco social",
        )
        return
    _edge_survival(ledger, ctx, captions, rep, _mechanics_only(record))


def _edge_survival(
    ledger: _Ledger, ctx: StageContext, captions: pd.DataFrame, rep: str, mechanics: bool
) -> None:
    """Share of backbone edge (and term) occurrences whose terms survive the cut unsplit."""
    tokens = ctx.frame("social/tokens", ["id", "community", "text", "lemma", "start"])
    tokens["term"] = tokens["lemma"].str.lower()
    cut = captions.set_index("id")["cut_char"]
    tokens["cut"] = tokens["id"].map(cut)
    tokens["lost"] = tokens["cut"].notna() & (tokens["start"] >= tokens["cut"].fillna(0))
    # A spaCy token's letters and digits (CLIP splits punctuation off as words of its own).
    core = tokens["text"].str.lower().str.replace(r"[\W_]+", "", regex=True)
    pieces = _clip_pieces(core.tolist())
    tokens["split"] = core.map(pieces).fillna(1) > 1
    tokens["ok"] = ~tokens["lost"] & ~tokens["split"]
    edges = ctx.frame("social/cooc_edges", ["source", "target", "scope"])
    for community, group in tokens.groupby("community", sort=True):
        backbone = edges[edges["scope"] == community]
        if backbone.empty:
            continue
        terms = set(backbone["source"]) | set(backbone["target"])
        mine = group[group["term"].isin(terms)]
        # per caption and term: present, and whether any occurrence survives
        per = mine.groupby(["id", "term"])["ok"].any()
        term_values = per.to_numpy(dtype=float)
        _describe(
            ledger,
            ctx,
            "tokens",
            "term_survival",
            community,
            "co-occurrence backbone terms",
            rep,
            term_values,
            mechanics_only=mechanics,
        )
        present = per.reset_index()
        by_caption = {
            cid: dict(zip(g["term"], g["ok"], strict=True))
            for cid, g in present.groupby("id", sort=False)
        }
        pairs = list(zip(backbone["source"], backbone["target"], strict=True))
        values = []
        for found in by_caption.values():
            for a, b in pairs:
                if a in found and b in found:
                    values.append(float(found[a] and found[b]))
        _describe(
            ledger,
            ctx,
            "tokens",
            "edge_survival",
            community,
            "co-occurrence backbone edges",
            rep,
            np.array(values),
            mechanics_only=mechanics,
        )


# --------------------------------------------------------------------------- text


def _aligned(ctx: StageContext, table: str, column: str) -> tuple[pd.DataFrame, np.ndarray]:
    t = ctx.read(table)
    ids = t.column("id").to_pylist()
    return pd.DataFrame({"id": ids}), _vectors(t, column)


def _text(ledger: _Ledger, ctx: StageContext) -> None:
    if not ctx.has("neural/text_pooled"):
        ledger.not_measured("text", _missing_reason(ctx, "text"))
        return
    if not ctx.has("social/reference_vectors"):
        ledger.not_measured(
            "text", "needs the social layer's reference vectors: neco social (semantic step)"
        )
        return
    record = _stage_record(ctx, "neural.text")
    mechanics = _mechanics_only(record)
    components = _component_ids(record)
    ref_ids, ref = _aligned(ctx, "social/reference_vectors", "vector")
    pooled_ids, pooled = _aligned(ctx, "neural/text_pooled", "pooled")
    items = ctx.frame("sample/items").sort_values("order")
    reps: dict[str, tuple[list[str], np.ndarray]] = {
        "pooled (EOS)": (pooled_ids["id"].tolist(), pooled)
    }
    if ctx.has("neural/text_hidden") and ctx.has("neural/token_captions"):
        reps["hidden states, mean of non-padding"] = _hidden_means(ctx)
    ref_index = {i: n for n, i in enumerate(ref_ids["id"])}
    community_of = dict(zip(items["id"], items["community"], strict=True))
    for rep_name, (ids, vectors) in reps.items():
        common = [i for i in ids if i in ref_index]
        rows = {i: n for n, i in enumerate(ids)}
        a = ref[[ref_index[i] for i in common]]
        b = vectors[[rows[i] for i in common]]
        communities = np.array([community_of.get(i, "?") for i in common])
        scopes = [(ALL, np.ones(len(common), dtype=bool))] + [
            (c, communities == c) for c in sorted(set(communities))
        ]
        for scope, mask in scopes:
            _vector_scores(
                ledger,
                ctx,
                "text",
                scope,
                "sentence embeddings",
                rep_name,
                a[mask],
                b[mask],
                mechanics,
                components,
            )
        _partition(ledger, ctx, a, b, communities, rep_name, mechanics, components)
        if ctx.has("social/semantic_edges"):
            _graph_scores(ledger, ctx, common, b, communities, rep_name, mechanics, components)


def _hidden_means(ctx: StageContext) -> tuple[list[str], np.ndarray]:
    """Mean of each caption's non-padding hidden states (what cross-attention reads)."""
    hidden = ctx.read("neural/text_hidden")
    ids = hidden.column("id").to_pylist()
    flat = _vectors(hidden, "hidden")
    pooled_dim = ctx.read("neural/text_pooled").column("pooled").type.list_size
    states = flat.reshape(len(ids), -1, pooled_dim)
    n_tokens = ctx.frame("neural/token_captions", ["id", "n_tokens"]).set_index("id")["n_tokens"]
    lengths = np.array(
        [min(int(n_tokens.get(i, states.shape[1] - 2)) + 2, states.shape[1]) for i in ids]
    )
    mask = np.arange(states.shape[1])[None, :] < lengths[:, None]
    means = (states * mask[..., None]).sum(axis=1) / lengths[:, None]
    return ids, means.astype(np.float32)


_VECTOR_METRICS = ("mutual_knn", "trustworthiness", "continuity", "cka", "rsa")


def _vector_scores(
    ledger: _Ledger,
    ctx: StageContext,
    stage: str,
    community: str,
    reference: str,
    representation: str,
    a: np.ndarray,
    b: np.ndarray,
    mechanics: bool,
    components: list[str],
) -> None:
    from neco.survival.scoring import METRICS, score

    k = ctx.params["survival_k"]
    n = len(a)
    for metric in _VECTOR_METRICS:
        uses_k = metric in ("mutual_knn", "trustworthiness", "continuity")
        if (uses_k and n < k + 2) or n < 4:
            ledger.add(
                stage,
                metric,
                community,
                reference,
                representation,
                n_items=n,
                status="not measured",
                reason=f"{n} sampled captions; the metric needs at least {k + 2 if uses_k else 4}",
                mechanics_only=mechanics,
            )
            continue
        assert metric in METRICS
        result = score(
            metric,
            a,
            b,
            k=k if uses_k else None,
            null_samples=ctx.params["null_samples"],
            bootstrap=ctx.params["bootstrap"],
            seed=ctx.params["survival_seed"],
        )
        ledger.add(
            stage,
            metric,
            community,
            reference,
            representation,
            value=result.value,
            null_mean=result.null_mean,
            null_std=result.null_std,
            calibrated=result.calibrated,
            p_value=result.p_value,
            low=result.low,
            high=result.high,
            n_items=result.n_items,
            mechanics_only=mechanics,
            components=components,
            params={"k": k} if uses_k else None,
        )


def _partition(
    ledger: _Ledger,
    ctx: StageContext,
    a: np.ndarray,
    b: np.ndarray,
    communities: np.ndarray,
    representation: str,
    mechanics: bool,
    components: list[str],
) -> None:
    """AMI of the corpus's communities with k-means clusters of each side (K = communities)."""
    from neco.survival.metrics import cluster_vectors, partition_ami

    k = len(set(communities))
    if k < 2 or len(a) < 2 * k:
        return
    seed = ctx.params["survival_seed"]
    rng = np.random.default_rng(seed)
    for reference, vectors in (("communities", b),):
        labels = cluster_vectors(vectors, k, seed=seed)
        value = partition_ami(communities, labels)
        null = np.array([partition_ami(rng.permutation(communities), labels) for _ in range(50)])
        std = float(null.std()) or float("nan")
        ledger.add(
            "text",
            "partition_ami",
            ALL,
            reference,
            representation,
            value=value,
            null_mean=float(null.mean()),
            null_std=std,
            calibrated=(value - float(null.mean())) / std if std == std else None,
            n_items=len(a),
            mechanics_only=mechanics,
            components=components,
        )
    social_labels = cluster_vectors(a, k, seed=seed)
    ledger.add(
        "text",
        "partition_ami",
        ALL,
        "communities",
        "sentence embeddings (social side)",
        value=partition_ami(communities, social_labels),
        n_items=len(a),
    )


def _graph_scores(
    ledger: _Ledger,
    ctx: StageContext,
    ids: list[str],
    b: np.ndarray,
    communities: np.ndarray,
    representation: str,
    mechanics: bool,
    components: list[str],
) -> None:
    """The semantic kNN graph itself as the reference: do neural neighbours keep its edges?"""
    import scipy.sparse as sp

    from neco.survival.scoring import score

    edges = ctx.frame("social/semantic_edges")
    index = {i: n for n, i in enumerate(ids)}
    keep = edges["source"].isin(index) & edges["target"].isin(index)
    edges = edges[keep]
    if edges.empty:
        return
    rows = edges["source"].map(index).to_numpy()
    cols = edges["target"].map(index).to_numpy()
    graph = sp.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(ids), len(ids))).tocsr()
    graph = ((graph + graph.T) > 0).astype(np.float64)
    result = score(
        "graph_knn_jaccard",
        graph,
        b,
        k=ctx.params["survival_k"],
        null_samples=ctx.params["null_samples"],
        bootstrap=ctx.params["bootstrap"],
        seed=ctx.params["survival_seed"],
    )
    ledger.add(
        "text",
        "graph_knn_jaccard",
        ALL,
        "semantic kNN graph",
        representation,
        value=result.value,
        null_mean=result.null_mean,
        null_std=result.null_std,
        calibrated=result.calibrated,
        p_value=result.p_value,
        low=result.low,
        high=result.high,
        n_items=result.n_items,
        mechanics_only=mechanics,
        components=components,
        params={"k": ctx.params["survival_k"]},
    )


# --------------------------------------------------------------------------- relations


def _relations(ledger: _Ledger, ctx: StageContext) -> None:
    source = _source(ledger, ctx, "relations")
    if source is None:
        return
    record, mechanics = source
    summary = ctx.frame("neural/probe_summary")
    calibrated = "calibrated" in summary.columns
    for row in summary.to_dict("records"):
        ledger.add(
            "relations",
            "swap_sensitivity",
            row["community"],
            f"relation {row['kind']}",
            "CLIP text (pooled)",
            value=row.get("sensitivity"),
            null_mean=row.get("control") if calibrated else None,
            null_std=row.get("spread") if calibrated else None,
            calibrated=row.get("calibrated") if calibrated else None,
            n_items=int(row.get("pairs", row.get("count", 0)) or 0),
            mechanics_only=mechanics,
            components=_component_ids(record),
            status="measured",
            reason=None if calibrated else "raw sensitivity without controls: not a finding",
        )
    if ctx.has("neural/probes"):
        probes = ctx.frame("neural/probes")
        for community, group in probes.groupby("community", sort=True):
            for pair in group.nlargest(3, "cosine").itertuples():
                ledger.example(
                    "relations",
                    community,
                    "indistinct_pair",
                    pair.id,
                    str(pair.original),
                    f"swap: {pair.swapped} (cosine {pair.cosine:.4f})",
                    pair.cosine,
                )


# --------------------------------------------------------------------------- latents


def _latents(ledger: _Ledger, ctx: StageContext) -> None:
    source = _source(ledger, ctx, "latents")
    if source is None:
        return
    record, mechanics = source
    table = ctx.read("neural/latents")
    frame = table.drop_columns(["descriptor_original", "descriptor_reconstruction"]).to_pandas()
    items = ctx.frame("sample/items")
    frame = frame.merge(items[["id", "community"]], on="id", how="left")
    frame = frame[frame["ok"]]
    rep = "VAE round trip"
    for scope, group in [(ALL, frame), *frame.groupby("community", sort=True)]:
        for metric in ("psnr", "ssim"):
            _describe(
                ledger,
                ctx,
                "latents",
                metric,
                scope,
                "images",
                rep,
                group[metric].to_numpy(dtype=float),
                mechanics_only=mechanics,
                components=_component_ids(record),
            )
    ok = table.filter(table.column("ok"))
    if ok.num_rows and not ok.column("descriptor_original").null_count:
        label = str(ok.column("descriptor")[0].as_py())
        a, b = _vectors(ok, "descriptor_original"), _vectors(ok, "descriptor_reconstruction")
        _vector_scores(
            ledger,
            ctx,
            "latents",
            ALL,
            f"images ({label})",
            f"after the round trip ({label})",
            a,
            b,
            mechanics,
            _component_ids(record),
        )
        _describe(
            ledger,
            ctx,
            "latents",
            "descriptor_cosine",
            ALL,
            f"images ({label})",
            f"after the round trip ({label})",
            ok.column("cosine").to_numpy(),
            mechanics_only=mechanics,
        )


# --------------------------------------------------------------------------- attention


def gini(shares: np.ndarray) -> float:
    """Gini coefficient of non-negative values (0: equal attention; near 1: one word).

    >>> gini(np.array([1.0, 1.0, 1.0, 1.0]))
    0.0
    >>> round(gini(np.array([0.0, 0.0, 0.0, 1.0])), 4)
    0.75
    """
    x = np.sort(np.asarray(shares, dtype=float))
    n = len(x)
    if n == 0 or x.sum() == 0:
        return float("nan")
    ranks = np.arange(1, n + 1)
    return float((2 * (ranks * x).sum()) / (n * x.sum()) - (n + 1) / n)


def _attention(ledger: _Ledger, ctx: StageContext) -> None:
    source = _source(ledger, ctx, "attention")
    if source is None:
        return
    _, mechanics = source
    words = ctx.frame("neural/attention_words")
    rep = "U-Net cross-attention"
    central: dict[str, set[str]] = {}
    if ctx.has("social/cooc_nodes"):
        nodes = ctx.frame("social/cooc_nodes", ["node", "scope"])
        central = {str(s): set(g["node"]) for s, g in nodes.groupby("scope")}
    for community, group in words.groupby("community", sort=True):
        ginis = group.groupby("id")["share"].apply(lambda s: gini(s.to_numpy()))
        _describe(
            ledger,
            ctx,
            "attention",
            "gini",
            community,
            "words of a caption",
            rep,
            ginis.to_numpy(),
            mechanics_only=mechanics,
        )
        _describe(
            ledger,
            ctx,
            "attention",
            "neglected_rate",
            community,
            "words",
            rep,
            group["neglected"].to_numpy(dtype=float),
            mechanics_only=mechanics,
        )
        if group["pos"].notna().any():
            for pos, by_pos in group.groupby("pos", sort=True):
                _describe(
                    ledger,
                    ctx,
                    "attention",
                    "neglected_rate",
                    community,
                    f"POS {pos}",
                    rep,
                    by_pos["neglected"].to_numpy(dtype=float),
                    mechanics_only=mechanics,
                )
        terms = central.get(str(community))
        if terms:
            is_central = group["word"].str.lower().isin(terms)
            for label, mask in (("backbone terms", is_central), ("other words", ~is_central)):
                _describe(
                    ledger,
                    ctx,
                    "attention",
                    "neglected_rate",
                    community,
                    label,
                    rep,
                    group.loc[mask, "neglected"].to_numpy(dtype=float),
                    mechanics_only=mechanics,
                )
        for row in group[group["neglected"]].nsmallest(3, "share").itertuples():
            ledger.example(
                "attention",
                community,
                "neglected_word",
                row.id,
                "",
                f"{row.word!r} received {row.share:.4f} of the attention",
                row.share,
            )


# --------------------------------------------------------------------------- guidance


def _guidance(ledger: _Ledger, ctx: StageContext) -> None:
    source = _source(ledger, ctx, "guidance")
    if source is None:
        return
    _, mechanics = source
    diversity = ctx.frame("neural/guidance_diversity")
    guidance = ctx.frame("neural/guidance", ["id", "prompt_index"]).drop_duplicates()
    items = ctx.frame("sample/items", ["id", "community"])
    guidance = guidance.merge(items, on="id", how="left")
    diversity = diversity.merge(guidance[["prompt_index", "community"]], on="prompt_index")
    for (community, scale), group in diversity.groupby(["community", "scale"], sort=True):
        _describe(
            ledger,
            ctx,
            "guidance",
            "vendi",
            community,
            "samples of a caption",
            f"guidance scale {scale:g}",
            group["vendi"].to_numpy(dtype=float),
            mechanics_only=mechanics,
        )


# --------------------------------------------------------------------------- the stage

_SECTIONS: dict[str, Callable[[_Ledger, StageContext], None]] = {
    "tokens": _tokens,
    "text": _text,
    "relations": _relations,
    "latents": _latents,
    "attention": _attention,
    "guidance": _guidance,
}


def _run_survival(ctx: StageContext) -> StageOutput:
    ledger = _Ledger()
    for name in STAGE_ORDER:
        _SECTIONS[name](ledger, ctx)
    rows = pd.DataFrame(ledger.rows)
    examples = pd.DataFrame(
        ledger.examples, columns=["stage", "community", "kind", "id", "text", "detail", "score"]
    )
    if len(examples):
        texts = ctx.frame("corpus", ["id", "text"]).set_index("id")["text"]
        examples["text"] = [
            t or str(texts.get(i, ""))
            for i, t in zip(examples["id"], examples["text"], strict=True)
        ]
    measured = rows[rows["status"] == "measured"]
    return StageOutput(
        {"survival/ledger": rows, "survival/examples": examples},
        {
            "rows": len(rows),
            "measured": sorted(set(measured["stage"])),
            "not_measured": sorted(set(rows.loc[rows["status"] != "measured", "stage"])),
            "mechanics_only_rows": int(rows["mechanics_only"].sum()),
        },
    )


_OPTIONAL = tuple(
    Input(name, optional=True)
    for name in (
        "neural/token_captions",
        "neural/token_words",
        "social/cooc_edges",
        "social/cooc_nodes",
        "social/tokens",
        "social/reference_vectors",
        "social/semantic_edges",
        "neural/text_pooled",
        "neural/text_hidden",
        "neural/probe_summary",
        "neural/probes",
        "neural/latents",
        "neural/attention_words",
        "neural/guidance",
        "neural/guidance_diversity",
    )
)

SURVIVAL_STAGE = Stage(
    "survival",
    inputs=(Input("sample/items"), Input("corpus", ("id", "text", "community")), *_OPTIONAL),
    outputs=("survival/ledger", "survival/examples"),
    run=_run_survival,
    version=3,
    params=("survival_k", "null_samples", "bootstrap", "survival_seed"),
    doc="the survival ledger: per community and stage, structure kept, with nulls and intervals",
)


def run_survival(
    ws: Workspace,
    config: SurvivalConfig | None = None,
    *,
    force: bool = False,
    progress: Any = None,
) -> Any:
    """Compute the ledger from whatever stages have run (the item sample is drawn if needed)."""
    from neco.sample import SAMPLE_STAGE, sample_params
    from neco.stages import run_stages

    config = config or SurvivalConfig()
    params = {**config.params(), **sample_params(ws.require())}
    return run_stages(ws, [SAMPLE_STAGE, SURVIVAL_STAGE], params, force=force, progress=progress)
