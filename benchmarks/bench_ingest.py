"""Ingest throughput: rows/s and peak memory for CSV and JSONL sources of growing size.

Run on demand (`make bench` or `python benchmarks/bench_ingest.py [--rows 100000 500000]`).
The captions are synthetic sentences varied by row number, so the numbers measure neco's
reading, normalisation, validation and Parquet writing, not any particular corpus.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path

SUBJECTS = ["a heron", "two cyclists", "an old tram", "a bowl of figs", "the harbour wall"]
PLACES = ["at dawn", "in the rain", "under a bridge", "on a market day", "near the dunes"]


def caption(i: int) -> str:
    return f"{SUBJECTS[i % 5]} {PLACES[(i // 5) % 5]}, photographed on day {i % 365} ({i})"


def write_sources(folder: Path, rows: int) -> dict[str, Path]:
    csv_path = folder / f"bench_{rows}.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "caption", "community", "author", "timestamp"])
        for i in range(rows):
            writer.writerow([f"r{i}", caption(i), f"c{i % 33}", f"u{i % 997}", "2024-05-01"])
    jsonl_path = folder / f"bench_{rows}.jsonl"
    with jsonl_path.open("w", encoding="utf-8") as fh:
        for i in range(rows):
            parent = f"r{i - 1}" if i % 4 else None
            record = {"id": f"r{i}", "text": caption(i), "reply_to": parent, "user": f"u{i % 97}"}
            fh.write(json.dumps(record) + "\n")
    return {"csv": csv_path, "jsonl": jsonl_path}


def run_one(path: Path, workspace: Path) -> tuple[float, float]:
    """Ingest in a fresh process; return (seconds, peak MiB of that process)."""
    code = (
        "import sys, time, resource; from neco.workspace import Workspace;"
        "t = time.perf_counter(); Workspace(sys.argv[2]).ingest([sys.argv[1]]);"
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path), str(workspace)],
        check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    return float(out[0]), float(out[1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 500_000])
    args = parser.parse_args()
    print(f"{'format':<7}{'rows':>10}{'seconds':>10}{'rows/s':>12}{'peak MiB':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        for rows in args.rows:
            sources = write_sources(Path(tmp), rows)
            for fmt, path in sources.items():
                seconds, peak = run_one(path, Path(tmp) / f"ws_{fmt}_{rows}")
                print(f"{fmt:<7}{rows:>10,}{seconds:>10.2f}{rows / seconds:>12,.0f}{peak:>10.0f}")


if __name__ == "__main__":
    main()
