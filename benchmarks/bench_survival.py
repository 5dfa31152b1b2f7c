"""Survival metrics at scale: seconds and peak memory of each metric, with and without nulls.

Run on demand::

    python benchmarks/bench_survival.py                          # n = 10,000
    python benchmarks/bench_survival.py --sizes 10000,100000     # adds the blocked metrics at 1e5
    python benchmarks/bench_survival.py --sizes 100000 --only mutual_knn,cka

The two representations are float32, ``a`` with 384 dimensions (a sentence embedding) and
``b`` with 768 (a CLIP text embedding): ``b`` is a random linear map of ``a`` plus as much
noise again, so every metric lands between its null and its maximum. Above 10,000 items only
the metrics that work in row blocks run (mutual kNN, kNN Jaccard, trustworthiness, CKA, RSA on
its subsample); the permutation nulls and the clustering run at 10,000 and below.

The neighbour search costs ``O(n² dim)``: at 100,000 items some ten minutes of two cores per
search. Above ``--extrapolate-above`` items the kNN metrics therefore run on their first
``--blocks`` row blocks only (the distance-block generator is cut short), and the time is
scaled by the number of blocks; memory is measured, as it is per block. Those rows say
"extrapolated" and show no value. ``--extrapolate-above 1000000`` runs everything in full.

Prints one Markdown table: seconds, peak memory that numpy allocated during the step
(tracemalloc; BLAS scratch is not counted), the process's peak RSS so far, and the value.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from neco.survival import metrics, neighbours  # noqa: E402
from neco.survival.graph_overlap import graph_knn_jaccard  # noqa: E402
from neco.survival.neighbours import knn_indices  # noqa: E402
from neco.survival.scoring import permutation_null, score  # noqa: E402

BLOCKED = {"knn_indices", "mutual_knn", "knn_jaccard", "trustworthiness", "cka", "rsa"}
SEARCHES = {"knn_indices", "mutual_knn", "knn_jaccard", "trustworthiness"}
K = 10
BLOCK = 2048  # the library's default block


@contextmanager
def first_blocks(count: int) -> Iterator[None]:
    """Make every blocked neighbour search stop after ``count`` row blocks."""
    real = neighbours.distance_blocks

    def cut(*args: Any, **kwargs: Any) -> Iterator[tuple[int, int, np.ndarray]]:
        return itertools.islice(real(*args, **kwargs), count)

    neighbours.distance_blocks = cut  # type: ignore[assignment]
    metrics.distance_blocks = cut  # type: ignore[assignment]
    try:
        yield
    finally:
        neighbours.distance_blocks = real  # type: ignore[assignment]
        metrics.distance_blocks = real  # type: ignore[assignment]


def representations(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, 384), dtype=np.float32)
    mixing = rng.standard_normal((384, 768), dtype=np.float32) / np.float32(np.sqrt(384))
    b = a @ mixing + rng.standard_normal((n, 768), dtype=np.float32)
    return a, b


def steps(a: np.ndarray, b: np.ndarray, nulls: int) -> list[tuple[str, Callable[[], Any]]]:
    labels = np.arange(len(a)) % 20
    return [
        ("knn_indices", lambda: knn_indices(b, K).shape),
        ("mutual_knn", lambda: metrics.mutual_knn_overlap(a, b, K)),
        ("knn_jaccard", lambda: metrics.knn_jaccard(a, b, K)),
        ("trustworthiness", lambda: metrics.trustworthiness(a, b, K)),
        ("continuity", lambda: metrics.continuity(a, b, K)),
        ("cka", lambda: metrics.linear_cka(a, b)),
        ("rsa", lambda: metrics.rsa_spearman(a, b).value),
        (
            "graph_knn_jaccard (kNN graph of a)",
            lambda: (
                graph_knn_jaccard(
                    np.column_stack([np.repeat(np.arange(len(a)), K), knn_indices(a, K).ravel()]), b
                ).value
            ),
        ),
        (
            "cluster_vectors + partition_ami",
            lambda: metrics.partition_ami(labels, metrics.cluster_vectors(b, 20, seed=0)),
        ),
        (
            f"null mutual_knn ({nulls} perms)",
            lambda: permutation_null("mutual_knn", a, b, n_samples=nulls).calibrated,
        ),
        (
            f"null trustworthiness ({nulls} perms)",
            lambda: permutation_null("trustworthiness", a, b, n_samples=nulls).calibrated,
        ),
        (
            f"null rsa ({nulls} perms, Mantel)",
            lambda: permutation_null("rsa", a, b, n_samples=nulls).calibrated,
        ),
        (
            f"null cka ({nulls} perms)",
            lambda: permutation_null("cka", a, b, n_samples=nulls).calibrated,
        ),
        (
            f"score mutual_knn ({nulls} perms, {nulls} boot)",
            lambda: score("mutual_knn", a, b, null_samples=nulls, bootstrap=nulls).calibrated,
        ),
    ]


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000", help="comma-separated numbers of items")
    parser.add_argument("--only", default="", help="comma-separated step names (prefixes)")
    parser.add_argument("--nulls", type=int, default=200, help="permutations and resamples")
    parser.add_argument("--extrapolate-above", type=int, default=10_000)
    parser.add_argument("--blocks", type=int, default=4, help="blocks timed when extrapolating")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    only = [name for name in args.only.split(",") if name]
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, numpy "
          f"{np.__version__}; a: n x 384, b: n x 768, float32, k = {K}\n")  # fmt: skip
    print("| step | n | seconds | numpy peak MiB | process peak RSS MiB | value |")
    print("|---|---:|---:|---:|---:|---:|")
    for n in sizes:
        a, b = representations(n)
        for name, run in steps(a, b, args.nulls):
            if n > 10_000 and name not in BLOCKED:
                continue
            if only and not any(name.startswith(prefix) for prefix in only):
                continue
            cut = n > args.extrapolate_above and name in SEARCHES
            total_blocks = -(-n // BLOCK)
            tracemalloc.start()
            start = time.perf_counter()
            with first_blocks(args.blocks) if cut else nullcontext():
                value = run()
            seconds = time.perf_counter() - start
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            shown = f"{value:.4f}" if isinstance(value, float) else str(value)
            if cut:
                seconds *= total_blocks / args.blocks
                shown = f"extrapolated from {args.blocks} of {total_blocks} blocks"
            print(f"| {name} | {n:,} | {seconds:,.1f} | {peak / 2**20:,.0f} | "
                  f"{peak_rss_mib():,.0f} | {shown} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
