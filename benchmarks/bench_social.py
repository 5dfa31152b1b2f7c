"""NLP-layer speed on N captions: the three parse modes, keyness, and the term graph.

Run on demand::

    python benchmarks/bench_social.py                      # demo corpus, recycled to 100,000
    python benchmarks/bench_social.py --source captions_val2017.json --rows 100000
    python benchmarks/bench_social.py --modes lexical fast --rows 20000

Prints one table: seconds, captions/s and words/s per step, peak memory (RSS) of the process,
and, for comparison, spaCy's own ``nlp.pipe`` with the same components on the same texts, so
that the overhead neco adds beyond spaCy is visible.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from neco.cli import read_recipe  # noqa: E402
from neco.corpus import Corpus, SourceSpec  # noqa: E402
from neco.social.graphs import (  # noqa: E402
    add_centralities,
    cooccurrence_graph,
    detect_communities,
    disparity_filter,
)
from neco.social.keyness import keyness_table  # noqa: E402
from neco.social.parse import ParseConfig, parse_texts  # noqa: E402
from neco.social.terms import build_doc_terms  # noqa: E402
from neco.workspace import Workspace  # noqa: E402


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_texts(source: str | None, rows: int) -> tuple[list[str], list[str]]:
    if source:
        corpus = Corpus.from_sources([SourceSpec(source)])
    else:
        corpus = Corpus.from_sources(read_recipe(REPO / "corpora" / "demo" / "sources.toml"))
    en = corpus.rows[corpus.rows["lang"].fillna("en") == "en"]
    texts = en["text"].tolist()
    communities = en["community"].tolist()
    reps = -(-rows // len(texts))
    n_groups = 33
    return (texts * reps)[:rows], [
        f"{c}-{i % n_groups}" for i, c in enumerate((communities * reps)[:rows])
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", default=None)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--modes", nargs="+", default=["lexical", "fast", "full"])
    parser.add_argument("--processes", type=int, default=1)
    args = parser.parse_args()
    texts, communities = load_texts(args.source, args.rows)
    ids = [f"r{i}" for i in range(len(texts))]
    words = sum(len(t.split()) for t in texts)
    print(f"{len(texts):,} captions, {words:,} words, {len(set(communities))} communities\n")
    rows: list[tuple[str, float, float]] = []

    # ingest (Parquet workspace) as the start of "ingest to keyness"
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "bench.csv"
        import csv as csvmod

        with csv.open("w", newline="", encoding="utf-8") as fh:
            writer = csvmod.writer(fh)
            writer.writerow(["id", "text", "community"])
            writer.writerows(zip(ids, texts, communities, strict=True))
        t = time.perf_counter()
        Workspace(Path(tmp) / "ws").ingest([csv])
        ingest_s = time.perf_counter() - t
    rows.append(("ingest", ingest_s, peak_mib()))

    docs = pa.table({"id": ids, "community": communities})
    for mode in args.modes:
        config = ParseConfig(mode=mode, processes=args.processes)
        t = time.perf_counter()
        parsed = parse_texts(ids, texts, communities, ["en"] * len(texts), config)
        parse_s = time.perf_counter() - t
        rows.append((f"parse {mode}", parse_s, peak_mib()))
        if mode == "lexical":
            t = time.perf_counter()
            dtm = build_doc_terms(docs, parsed.tokens, "lemma")
            table = keyness_table(dtm)
            key_s = time.perf_counter() - t
            rows.append((f"keyness ({table.num_rows:,} rows)", key_s, peak_mib()))
            rows.append(("ingest -> keyness (lexical)", ingest_s + parse_s + key_s, peak_mib()))
            t = time.perf_counter()
            freq = np.asarray(dtm.binary().sum(axis=0)).ravel()
            top = np.argsort(-freq, kind="stable")[:2000]
            graph = cooccurrence_graph(dtm.matrix[:, top], list(dtm.terms[top]), min_count=5)
            edges_before = graph.number_of_edges()
            graph = disparity_filter(graph)
            detect_communities(graph)
            add_centralities(graph)
            rows.append(
                (f"term graph ({edges_before:,} -> {graph.number_of_edges():,} edges)",
                 time.perf_counter() - t, peak_mib())
            )  # fmt: skip
        # spaCy alone, same components, for the overhead comparison
        from neco.social.parse import load_pipeline

        nlp, _ = load_pipeline("en", config)
        t = time.perf_counter()
        for _ in nlp.pipe(texts, batch_size=config.batch_size, n_process=args.processes):
            pass
        rows.append((f"spaCy nlp.pipe alone ({mode})", time.perf_counter() - t, peak_mib()))

    print(f"{'step':<44}{'seconds':>9}{'captions/s':>12}{'words/s':>10}{'peak MiB':>10}")
    for name, seconds, peak in rows:
        print(f"{name:<44}{seconds:>9.2f}{len(texts) / seconds:>12,.0f}"
              f"{words / seconds:>10,.0f}{peak:>10,.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
