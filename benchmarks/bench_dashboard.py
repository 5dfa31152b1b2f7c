"""Dashboard responsiveness on a large workspace: how long each page takes to render.

Run on demand (building the workspace takes minutes; it is kept and reused)::

    python benchmarks/bench_dashboard.py                         # 100,000 captions
    python benchmarks/bench_dashboard.py --rows 20000 --workspace /tmp/bench-ws

The workspace is the demo corpus resampled to ``--rows`` captions with small variations (a
word dropped, two swapped, a word of the same community added; reply threads copied whole),
run through the NLP layer (lexical parse), CLIP's tokenizer stage and a stand-in survival
ledger. Each page is rendered with Streamlit's AppTest twice: cold (empty caches, what the
first visitor waits for) and warm (what every later visit costs). Prints one table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from neco.api import open_study  # noqa: E402
from neco.corpus import Corpus, SourceSpec  # noqa: E402
from neco.corpus.recipe import read_recipe  # noqa: E402
from neco.neural.pipeline import NeuralConfig, run_neural  # noqa: E402
from neco.social.parse import ParseConfig  # noqa: E402
from neco.social.pipeline import SocialConfig, run_social  # noqa: E402
from neco.workspace import Workspace  # noqa: E402

APP = REPO / "dashboards" / "app.py"


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def resampled_corpus(rows: int, seed: int = 0) -> pd.DataFrame:
    """The demo corpus copied until it has ``rows`` captions, each copy varied a little."""
    demo = Corpus.from_sources(read_recipe(REPO / "corpora" / "demo" / "sources.toml")).rows
    rng = np.random.default_rng(seed)
    vocab = {c: " ".join(g["text"]).split() for c, g in demo.groupby("community")}
    copies = []
    for k in range(-(-rows // len(demo))):
        part = demo[["id", "text", "community", "parent_id", "thread_id", "author"]].copy()
        part["timestamp"] = demo["timestamp"] + pd.Timedelta(days=k)

        def vary(text: str, community: str) -> str:
            words = text.split()
            roll = rng.random()
            if roll < 0.3 and len(words) > 3:
                del words[rng.integers(len(words))]
            elif roll < 0.5 and len(words) > 3:
                i = int(rng.integers(len(words) - 1))
                words[i], words[i + 1] = words[i + 1], words[i]
            if rng.random() < 0.3:
                pool = vocab[community]
                words.insert(int(rng.integers(len(words) + 1)), pool[rng.integers(len(pool))])
            return " ".join(words)

        if k:
            part["text"] = [
                vary(t, c) for t, c in zip(part["text"], part["community"], strict=True)
            ]
        for col in ("id", "parent_id", "thread_id"):  # each copy keeps its own reply threads
            part[col] = part[col].map(lambda v, k=k: None if pd.isna(v) else f"{v}~{k}")
        copies.append(part)
    return pd.concat(copies, ignore_index=True).head(rows)


def build(path: Path, rows: int) -> dict[str, float]:
    """Make the benchmark workspace (skipped when it is already there)."""
    ws = Workspace(path)
    timings: dict[str, float] = {}
    if ws.exists() and "survival/ledger" in ws.tables():
        return timings
    start = time.perf_counter()
    frame = resampled_corpus(rows)
    source = path.parent / f"{path.name}-source.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(source, index=False)
    spec = SourceSpec.from_options(
        source,
        text_col="text",
        id_col="id",
        community_col="community",
        parent_col="parent_id",
        thread_col="thread_id",
        author_col="author",
        time_col="timestamp",
    )
    ws.ingest([spec])
    timings["ingest"] = time.perf_counter() - start
    start = time.perf_counter()
    run_social(ws, SocialConfig(parse=ParseConfig(mode="lexical"), skip=("relations",)))
    timings["neco social (lexical)"] = time.perf_counter() - start
    start = time.perf_counter()
    run_neural(ws, NeuralConfig(stages=("tokens",)))
    timings["neco neural tokens"] = time.perf_counter() - start
    write_stand_in_ledger(ws)
    return timings


def write_stand_in_ledger(ws: Workspace) -> None:
    """A ledger of the declared shape (the survival stage writes the real one)."""
    communities = sorted(
        open_study(ws.path).sql("SELECT DISTINCT community FROM corpus")["community"]
    )
    rng = np.random.default_rng(0)
    rows = []
    for stage, metric in [("neural.text", "mutual_knn"), ("neural.text", "cka"),
                          ("neural.latents", "trustworthiness")]:  # fmt: skip
        for community in communities:
            value = float(rng.uniform(0.1, 0.6))
            rows.append({
                "stage": stage, "metric": metric, "community": community,
                "reference": "semantic", "representation": "clip_pooled", "value": value,
                "null_mean": 0.05, "null_std": 0.01, "calibrated": value - 0.05,
                "p_value": 0.001, "low": value - 0.05, "high": value + 0.05, "n_items": 800,
                "status": "measured", "reason": None,
                "mechanics_only": stage == "neural.latents", "components": "stand-in",
                "params": json.dumps({"k": 10}),
            })  # fmt: skip
    ws.write_table("survival/ledger", pd.DataFrame(rows))


def time_pages(path: Path) -> list[tuple[str, float, float]]:
    """(page, cold seconds, warm seconds) for each page, rendered with AppTest."""
    import logging

    from streamlit.testing.v1 import AppTest

    # AppTest runs pages without a server: Streamlit says so once per run.
    name = "streamlit.runtime.scriptrunner_utils.script_run_context"
    logging.getLogger(name).addFilter(lambda record: False)

    os.environ["NECO_WORKSPACE"] = str(path)
    views = [
        ("corpus", {}, None),
        ("vocabularies", {}, None),
        ("vocabularies (unit ngram)", {}, ("vocab_unit", "ngram")),
        ("concordance (light)", {"term": "light"}, None),
        ("graphs (co-occurrence)", {}, None),
        ("graphs (discourse)", {}, ("graph_kind", "discourse")),
        ("graphs (semantic)", {}, ("graph_kind", "semantic")),
        ("survival", {}, None),
        ("runs", {}, None),
    ]
    out = []
    for name, query, widget in views:
        page = name.split(" ")[0]
        seconds = []
        for _ in range(2):  # cold, then warm
            at = AppTest.from_file(str(APP), default_timeout=600)
            start = time.perf_counter()
            at.run()  # the entry page, Corpus
            if page != "corpus":
                for key, value in query.items():
                    at.query_params[key] = value
                start = time.perf_counter()
                at.switch_page(f"views/{page}.py").run()
            if widget:
                key, value = widget
                if key == "vocab_unit":
                    at.selectbox(key=key).select(value).run()
                else:
                    at.radio(key=key).set_value(value).run()
            seconds.append(time.perf_counter() - start)
            assert not at.exception, [e.value for e in at.exception]
        out.append((name, seconds[0], seconds[1]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--workspace", type=Path, default=REPO / "data" / "bench-dashboard")
    args = parser.parse_args()
    timings = build(args.workspace, args.rows)
    ws = Workspace(args.workspace)
    captions = ws.manifest()["tables"]["corpus"]["rows"]
    tokens = ws.manifest()["tables"]["social/tokens"]["rows"]
    print(f"workspace {args.workspace}: {captions:,} captions, {tokens:,} tokens")
    for step, seconds in timings.items():
        print(f"  built: {step:<28} {seconds:7.1f} s")
    print(f"\n{'page':<30} {'cold s':>8} {'warm s':>8}")
    for name, cold, warm in time_pages(args.workspace):
        print(f"{name:<30} {cold:8.2f} {warm:8.2f}")
    print(f"\npeak memory of this process: {peak_mib():,.0f} MiB")


if __name__ == "__main__":
    main()
