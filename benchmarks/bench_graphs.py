"""Term-graph chain on caption-like data: seconds per step, graph sizes and peak memory.

Run on demand (`make bench` or `python benchmarks/bench_graphs.py [--docs 100000]`).

The documents resemble captions. When the bundled demo corpus (corpora/demo, read through its
sources.toml) is present, a vocabulary is built from it with a simple regex tokenizer, and each
synthetic document picks a community (in proportion to its real captions), a length of 8-20
tokens and draws every token either from one real caption of that community (with probability
--seed-share; this gives the co-occurrence structure of real captions) or from the community's
real word-frequency distribution. Without the demo corpus (or with --zipf) tokens are drawn
from a Zipf(1.1) distribution over a 20,000-term vocabulary. Either way the matrix is then
restricted to the --terms most frequent terms, and the chain is timed:

    cooccurrence_graph(min_count=5) -> disparity_filter(alpha=0.05)
    -> detect_communities("leiden") -> add_centralities

Everything is seeded, so two runs build the same graphs.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import resource
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from neco.social.graphs import (  # noqa: E402
    add_centralities,
    cooccurrence_graph,
    detect_communities,
    disparity_filter,
    document_projection,
    term_projection,
)

DEMO = ROOT / "corpora" / "demo" / "sources.toml"
TOKEN = re.compile(r"[^\W\d_]{2,}")


def read_demo(recipe: Path) -> dict[str, list[list[str]]]:
    """Tokenised captions of the demo corpus, by community."""
    spec = tomllib.loads(recipe.read_text(encoding="utf-8"))
    out: dict[str, list[list[str]]] = {}
    for source in spec["source"]:
        path = recipe.parent / source["path"]
        column = source["columns"]["text"]
        if path.suffix == ".jsonl":
            with path.open(encoding="utf-8") as fh:
                texts = [json.loads(line).get(column) or "" for line in fh if line.strip()]
        else:
            delimiter = "\t" if path.suffix == ".tsv" else ","
            with path.open(encoding="utf-8", newline="") as fh:
                texts = [row[column] or "" for row in csv.DictReader(fh, delimiter=delimiter)]
        captions = [TOKEN.findall(text.lower()) for text in texts]
        out[source["community"]] = [c for c in captions if c]
    return out


def demo_matrix(
    communities: dict[str, list[list[str]]],
    n_docs: int,
    seed_share: float,
    rng: np.random.Generator,
) -> tuple[sp.csr_matrix, list[str]]:
    vocab = sorted({t for captions in communities.values() for c in captions for t in c})
    index = {t: i for i, t in enumerate(vocab)}
    names = list(communities)
    sizes = np.array([len(communities[c]) for c in names], dtype=float)
    community = rng.choice(len(names), size=n_docs, p=sizes / sizes.sum())
    lengths = rng.integers(8, 21, size=n_docs)
    doc_of_token = np.repeat(np.arange(n_docs), lengths)
    token_community = community[doc_of_token]
    tokens = np.empty(doc_of_token.size, dtype=np.int64)
    from_seed = rng.random(doc_of_token.size) < seed_share
    for c, name in enumerate(names):
        captions = communities[name]
        flat = np.array([index[t] for cap in captions for t in cap], dtype=np.int64)
        cap_len = np.array([len(cap) for cap in captions], dtype=np.int64)
        cap_start = np.cumsum(cap_len) - cap_len
        docs_c = np.flatnonzero(community == c)
        # one real caption per document of this community ...
        seed_caption = np.zeros(n_docs, dtype=np.int64)
        seed_caption[docs_c] = rng.integers(0, len(captions), size=docs_c.size)
        mask = (token_community == c) & from_seed
        cap = seed_caption[doc_of_token[mask]]
        tokens[mask] = flat[cap_start[cap] + (rng.random(mask.sum()) * cap_len[cap]).astype(int)]
        # ... and the community's word frequencies for the other tokens
        words, counts = np.unique(flat, return_counts=True)
        mask = (token_community == c) & ~from_seed
        tokens[mask] = rng.choice(words, size=int(mask.sum()), p=counts / counts.sum())
    data = np.ones(tokens.size, dtype=np.int64)
    matrix = sp.csr_matrix((data, (doc_of_token, tokens)), shape=(n_docs, len(vocab)))
    return matrix, vocab


def zipf_matrix(
    n_docs: int, vocab_size: int, rng: np.random.Generator
) -> tuple[sp.csr_matrix, list[str]]:
    ranks = np.arange(1, vocab_size + 1, dtype=float)
    p = ranks**-1.1
    lengths = rng.integers(8, 21, size=n_docs)
    doc_of_token = np.repeat(np.arange(n_docs), lengths)
    tokens = rng.choice(vocab_size, size=doc_of_token.size, p=p / p.sum())
    data = np.ones(tokens.size, dtype=np.int64)
    matrix = sp.csr_matrix((data, (doc_of_token, tokens)), shape=(n_docs, vocab_size))
    return matrix, [f"w{i}" for i in range(vocab_size)]


def top_terms(matrix: sp.csr_matrix, terms: list[str], k: int) -> tuple[sp.csr_matrix, list[str]]:
    df = np.bincount(matrix.indices, minlength=matrix.shape[1])
    keep = np.sort(np.argsort(-df, kind="stable")[:k])
    return sp.csr_matrix(matrix[:, keep]), [terms[i] for i in keep]


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--terms", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seed-share", type=float, default=0.5)
    parser.add_argument("--zipf", action="store_true", help="Zipf vocabulary, not the demo one")
    parser.add_argument(
        "--projections", action="store_true", help="also time term_projection, document_projection"
    )
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)

    t0 = time.perf_counter()
    if DEMO.exists() and not args.zipf:
        source = "demo corpus vocabulary"
        matrix, vocab = demo_matrix(read_demo(DEMO), args.docs, args.seed_share, rng)
    else:
        source = "Zipf(1.1) over 20,000 terms"
        matrix, vocab = zipf_matrix(args.docs, 20_000, rng)
    full_vocab = len(vocab)
    matrix, terms = top_terms(matrix, vocab, args.terms)
    build = time.perf_counter() - t0
    print(
        f"{args.docs:,} documents ({source}; {full_vocab:,} terms, kept {len(terms):,}), "
        f"{matrix.nnz:,} non-zero cells; built in {build:.2f} s",
        flush=True,
    )

    rows: list[tuple[str, float, str]] = []

    def step(name: str, seconds: float, result: str) -> None:
        rows.append((name, seconds, result))
        print(f"  {name:<34}{seconds:>8.2f} s  {result}", flush=True)

    t = time.perf_counter()
    graph = cooccurrence_graph(matrix, terms, min_count=5)
    step(
        "cooccurrence_graph(min_count=5)",
        time.perf_counter() - t,
        f"{graph.number_of_nodes():,} nodes, {graph.number_of_edges():,} edges",
    )
    t = time.perf_counter()
    backbone = disparity_filter(graph, alpha=0.05)
    step(
        "disparity_filter(alpha=0.05)",
        time.perf_counter() - t,
        f"{backbone.number_of_nodes():,} nodes, {backbone.number_of_edges():,} edges",
    )
    t = time.perf_counter()
    membership, q = detect_communities(backbone, method="leiden")
    step(
        "detect_communities(leiden)",
        time.perf_counter() - t,
        f"{len(set(membership.values())):,} communities, modularity {q:.3f}",
    )
    t = time.perf_counter()
    add_centralities(backbone)
    step(
        "add_centralities",
        time.perf_counter() - t,
        f"betweenness {backbone.graph['betweenness_method']}",
    )
    total = sum(seconds for _, seconds, _ in rows)
    if args.projections:
        t = time.perf_counter()
        terms_graph = term_projection(matrix, terms, min_weight=0.1)
        step(
            "term_projection(min_weight=0.1)",
            time.perf_counter() - t,
            f"{terms_graph.number_of_edges():,} edges",
        )
        del terms_graph
        t = time.perf_counter()
        docs_graph = document_projection(
            matrix, [str(i) for i in range(matrix.shape[0])], k=10, block_size=1024
        )
        step(
            "document_projection(k=10, 1024)",
            time.perf_counter() - t,
            f"{docs_graph.number_of_edges():,} edges",
        )
    print()
    print(f"{'step':<34}{'seconds':>8}  result")
    for name, seconds, result in rows:
        print(f"{name:<34}{seconds:>8.2f}  {result}")
    print(f"{'chain total (4 steps)':<34}{total:>8.2f}")
    print(f"{'peak RSS (MiB, whole process)':<34}{peak_mib():>8.0f}")


if __name__ == "__main__":
    main()
