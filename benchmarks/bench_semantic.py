"""Semantic throughput: captions/s by batch size, cold vs warm embedding cache, kNN time and memory.

Run on demand (`make bench` or `python benchmarks/bench_semantic.py [--captions 2000]
[--knn-n 20000] [--device cpu]`). Captions come from the demo corpora in corpora/demo (the
text columns of its CSV, TSV and JSONL files), topped up with synthetic sentences when there
are fewer than asked for. The kNN part runs in a fresh process so that its peak memory is its
own, not the model's.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEMO = HERE.parent / "corpora" / "demo"
TEXT_COLUMNS = ("description", "prompt", "alt", "body", "caption", "text")

SUBJECTS = ["a heron", "two cyclists", "an old tram", "a bowl of figs", "the harbour wall"]
PLACES = ["at dawn", "in the rain", "under a bridge", "on a market day", "near the dunes"]


def synthetic(i: int) -> str:
    return f"{SUBJECTS[i % 5]} {PLACES[(i // 5) % 5]}, photographed on day {i % 365} ({i})"


def _text_of(record: dict[str, object]) -> str | None:
    for column in TEXT_COLUMNS:
        value = record.get(column)
        if isinstance(value, str) and value.strip():
            return value
    return None


def demo_texts(folder: Path) -> list[str]:
    texts: list[str] = []
    for path in sorted(folder.glob("*")):
        if path.suffix in (".csv", ".tsv"):
            with path.open(newline="", encoding="utf-8") as fh:
                reader = csv.DictReader(fh, delimiter="\t" if path.suffix == ".tsv" else ",")
                texts.extend(t for row in reader if (t := _text_of(row)))
        elif path.suffix == ".jsonl":
            with path.open(encoding="utf-8") as fh:
                records = (json.loads(line) for line in fh if line.strip())
                texts.extend(t for r in records if (t := _text_of(r)))
    return texts


def captions(n: int) -> tuple[list[str], str]:
    texts = list(dict.fromkeys(demo_texts(DEMO))) if DEMO.is_dir() else []
    source = f"{min(len(texts), n)} from corpora/demo"
    i = 0
    while len(texts) < n:
        texts.append(synthetic(i))
        i += 1
    if i:
        source += f" + {i} synthetic"
    return texts[:n], source


def peak_mib() -> float:
    """Peak resident memory of this process in MiB.

    Linux's VmHWM belongs to this program alone; ru_maxrss also counts the peak of the process
    that started it (it survives fork and exec), so it is only the fallback.
    """
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def knn_child(n: int, dim: int, k: int) -> None:
    """Time knn on random unit vectors; print seconds and peak MiB before and after."""
    import numpy as np

    from neco.social.semantic import knn

    x = np.random.default_rng(0).normal(size=(n, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    before = peak_mib()
    t = time.perf_counter()
    knn(x, k=k)
    print(time.perf_counter() - t, before, peak_mib())


def bench_knn(n: int, dim: int, k: int) -> tuple[float, float, float]:
    """Return (seconds, peak MiB before knn, peak MiB after), measured in a fresh process."""
    out = subprocess.run(
        [sys.executable, __file__, "--knn-child", str(n), str(dim), str(k)],
        check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    return float(out[0]), float(out[1]), float(out[2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--captions", type=int, default=2000)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[16, 64, 256])
    parser.add_argument("--knn-n", type=int, default=20_000)
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if present)")
    parser.add_argument("--knn-child", type=int, nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.knn_child:
        knn_child(*args.knn_child)
        return

    from neco.social.semantic import EmbeddingCache, embed_texts, load_model

    texts, source = captions(args.captions)
    t = time.perf_counter()
    model = load_model(device=args.device)
    load_s = time.perf_counter() - t
    device = str(model.device)
    embed_texts(texts[:64], device=args.device)  # warm-up
    print(
        f"model all-MiniLM-L6-v2 on {device} ({os.cpu_count()} CPUs, {platform.machine()}), "
        f"loaded in {load_s:.2f} s; {len(texts)} captions ({source})"
    )

    print(f"\n{'batch size':>10}{'seconds':>10}{'captions/s':>12}")
    for batch_size in args.batch_sizes:
        t = time.perf_counter()
        embed_texts(texts, batch_size=batch_size, device=args.device)
        seconds = time.perf_counter() - t
        print(f"{batch_size:>10}{seconds:>10.2f}{len(texts) / seconds:>12.0f}")

    with tempfile.TemporaryDirectory() as folder:
        cache = EmbeddingCache(folder, "all-MiniLM-L6-v2")
        t = time.perf_counter()
        cold = embed_texts(texts, cache=cache, device=args.device)
        cold_s = time.perf_counter() - t
        t = time.perf_counter()
        warm_cache = EmbeddingCache(folder, "all-MiniLM-L6-v2")  # re-reads the Parquet parts
        warm = embed_texts(texts, cache=warm_cache, device=args.device)
        warm_s = time.perf_counter() - t
        assert (warm == cold).all() and warm_cache.hits == len(texts)
        size = sum(p.stat().st_size for p in Path(folder).iterdir()) / 1024
    print(f"\n{'cache':>10}{'seconds':>10}{'captions/s':>12}")
    print(f"{'cold':>10}{cold_s:>10.3f}{len(texts) / cold_s:>12.0f}")
    print(f"{'warm':>10}{warm_s:>10.3f}{len(texts) / warm_s:>12.0f}")
    print(f"cache on disk: {size:.0f} KiB; peak RSS of the embedding process: {peak_mib():.0f} MiB")

    seconds, before, after = bench_knn(args.knn_n, 384, 10)
    print(f"\n{'knn n':>10}{'dim':>6}{'k':>4}{'seconds':>10}{'peak MiB':>10}{'before knn':>12}")
    print(f"{args.knn_n:>10}{384:>6}{10:>4}{seconds:>10.2f}{after:>10.0f}{before:>12.0f}")


if __name__ == "__main__":
    main()
