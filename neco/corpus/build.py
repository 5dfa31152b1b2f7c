"""From raw records to the corpus and rejected tables, with nothing lost.

:func:`build_source` validates one source's records in chunks: the text is normalised, ids
are checked for uniqueness (within the source and against ``existing_ids``), and every record
that cannot be used becomes a row of the rejected table with a reason code and a sentence.
:func:`repair_discourse` then checks reply links over everything ingested together: a parent
id that names no caption, or a chain of replies that loops back on itself, is removed from the
row and the removal is written into the row's ``repairs`` column.
:func:`read_sources` does both for a list of sources: it is the one ingest loop, used by
``Corpus.from_sources`` (in memory) and ``Workspace.ingest`` (appended to a workspace).
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from neco.corpus.columns import map_columns
from neco.corpus.normalise import (
    DEFAULT_NA_VALUES,
    escape_undecodable,
    has_undecodable,
    normalise_text,
)
from neco.corpus.readers import RawRecord, SourceReader, open_source
from neco.corpus.schema import CORPUS_SCHEMA, REJECTED_SCHEMA
from neco.corpus.sources import SourceSpec, as_specs
from neco.progress import NullProgress, Progress

CHUNK_RECORDS = 50_000
UNLABELLED = "unlabelled"

#: Reply links of captions read earlier: id -> (parent_id, thread_id).
KnownLinks = Mapping[str, tuple[str | None, str | None]]


@dataclass
class SourceResult:
    """One source read and validated: its tables and the counts for the report."""

    key: str
    spec: SourceSpec
    format: str
    encoding: str | None
    notes: list[str]
    columns: dict[str, str]
    accepted: pa.Table
    rejected: pa.Table
    rows_read: int
    rejected_by_reason: dict[str, int]
    repairs: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0


def _scalar_text(value: Any) -> str | None:
    """A cell as text: ``None`` stays ``None``; numbers print as written (1.0 -> '1')."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, int | np.integer):
        return str(value)
    return None if isinstance(value, dict | list) else str(value)


def _meta_json(fields: dict[str, Any], mapped: set[str]) -> str | None:
    rest = {k: v for k, v in fields.items() if k not in mapped}
    if not rest:
        return None
    text = json.dumps(rest, ensure_ascii=False, default=str)
    return escape_undecodable(text) if has_undecodable(text) else text


def _raw_json(fields: dict[str, Any]) -> str:
    return escape_undecodable(json.dumps(fields, ensure_ascii=False, default=str))


def parse_timestamps(values: list[str | None]) -> tuple[pd.Series, list[bool]]:
    """Parse timestamps of mixed formats to UTC; report which non-empty values failed.

    Numbers are read as Unix epoch seconds (milliseconds above 10^11). Strings without a
    zone are taken as UTC.

    >>> ts, failed = parse_timestamps(["2024-02-11T21:04:33Z", "1700000000", "soon", None])
    >>> [str(t) for t in ts]
    ['2024-02-11 21:04:33+00:00', '2023-11-14 22:13:20+00:00', 'NaT', 'NaT']
    >>> failed
    [False, False, True, False]
    """
    series = pd.Series(values, dtype="object")
    out = pd.Series(pd.NaT, index=series.index, dtype="datetime64[us, UTC]")
    numeric = pd.to_numeric(series, errors="coerce")
    is_num = numeric.notna()
    if is_num.any():
        secs = numeric[is_num].astype("float64")
        secs = secs.where(secs.abs() < 1e11, secs / 1000.0)
        out[is_num] = pd.to_datetime(secs, unit="s", utc=True, errors="coerce")
    is_text = series.notna() & ~is_num
    if is_text.any():
        parsed = pd.to_datetime(series[is_text], utc=True, errors="coerce", format="mixed")
        out[is_text] = parsed
    failed = (series.notna() & out.isna()).tolist()
    return out, failed


class _Chunk:
    """Column lists for one chunk of accepted rows."""

    def __init__(self) -> None:
        self.cols: dict[str, list[Any]] = {name: [] for name in CORPUS_SCHEMA.names}
        self.timestamp_raw: list[str | None] = []


def build_source(
    spec: SourceSpec,
    key: str,
    existing_ids: set[str],
    reader: SourceReader | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> SourceResult:
    """Read and validate one source. Ids accepted here are added to ``existing_ids``."""
    start = time.perf_counter()
    reader = reader or open_source(spec)
    columns = map_columns(reader.columns, spec.columns, reader.preset, source=str(spec.path))
    na_values = DEFAULT_NA_VALUES | set(spec.na_values)
    if reader.format == "reddit":
        na_values |= {"[removed]", "[deleted]"}
    mapped = set(columns.values())
    col = columns.get
    text_col = columns["text"]
    default_community = spec.community or Path(spec.path).name.split(".")[0]
    prefix = spec.id_prefix
    source_path = Path(spec.path)
    image_root = (
        Path(spec.image_root)
        if spec.image_root
        else (source_path if source_path.is_dir() else source_path.parent)
    )
    resolved_images: dict[str, str] = {}

    def image_path(value: str | None) -> str | None:
        if value is None or "://" in value or value.startswith("data:"):
            return value
        if value not in resolved_images:
            candidate = image_root / value
            resolved_images[value] = str(candidate.resolve()) if candidate.is_file() else value
        return resolved_images[value]

    accepted_chunks: list[pa.Table] = []
    rejected_rows: dict[str, list[Any]] = {name: [] for name in REJECTED_SCHEMA.names}
    by_reason: Counter[str] = Counter()
    repairs: Counter[str] = Counter()
    seen_in_source: dict[str, int] = {}
    rows_read = 0
    chunk = _Chunk()

    def reject(rec: RawRecord, code: str, detail: str, row_id: str | None, raw: str) -> None:
        by_reason[code] += 1
        for name, value in (
            ("source", key),
            ("record", rec.record),
            ("line", rec.line),
            ("reason", code),
            ("detail", detail),
            ("id", row_id),
            ("raw", raw),
        ):
            rejected_rows[name].append(value)

    def cell(fields: dict[str, Any], role: str) -> str | None:
        name = col(role)
        if name is None:
            return None
        value = _scalar_text(fields.get(name))
        if value is None or value.strip() in na_values:
            return None
        return value.strip()

    def flush() -> None:
        nonlocal chunk
        if not chunk.cols["id"]:
            return
        ts, failed = parse_timestamps(chunk.timestamp_raw)
        for i in np.flatnonzero(failed):
            note = f"timestamp {chunk.timestamp_raw[i]!r} not understood, left empty"
            prior = chunk.cols["repairs"][i]
            chunk.cols["repairs"][i] = f"{prior}; {note}" if prior else note
            repairs["timestamp_not_understood"] += 1
        arrays = {name: chunk.cols[name] for name in CORPUS_SCHEMA.names if name != "timestamp"}
        table = pa.table(
            {**arrays, "timestamp": pa.array(ts, type=pa.timestamp("us", tz="UTC"))}
        ).select(CORPUS_SCHEMA.names)
        accepted_chunks.append(table.cast(CORPUS_SCHEMA))
        chunk = _Chunk()

    for rec in reader.records():
        rows_read += 1
        if on_progress is not None and rows_read % 5000 == 0:
            on_progress(reader.progress(), rows_read)
        if rec.fields is None:
            code, detail = rec.error or ("malformed_row", "record could not be parsed")
            reject(rec, code, detail, None, rec.raw or "")
            continue
        fields = rec.fields
        raw_id = cell(fields, "id")
        row_id = None if raw_id is None else prefix + raw_id
        if text_col not in fields:
            present = ", ".join(map(repr, fields)) or "none"
            reject(
                rec,
                "missing_field",
                f"record has no {text_col!r} field (it has: {present})",
                row_id,
                _raw_json(fields),
            )
            continue
        value = fields[text_col]
        if isinstance(value, dict | list):
            reject(
                rec,
                "not_text",
                f"{text_col!r} holds a {type(value).__name__}, not text",
                row_id,
                _raw_json(fields),
            )
            continue
        text_raw = _scalar_text(value)
        bad = [k for k, v in fields.items() if isinstance(v, str) and has_undecodable(v)]
        if bad:
            reject(
                rec,
                "undecodable",
                f"bytes not valid in {reader.encoding.encoding if reader.encoding else 'the'}"
                f" encoding in column(s) {', '.join(map(repr, bad))}; try --encoding",
                row_id,
                _raw_json(fields),
            )
            continue
        if text_raw is None or text_raw.strip() in na_values:
            shown = "" if text_raw is None else text_raw.strip()
            detail = (
                "text is empty" if not shown else f"text is a missing-value placeholder {shown!r}"
            )
            reject(rec, "empty_text", detail, row_id, _raw_json(fields))
            continue
        text = normalise_text(text_raw)
        if not text:
            reject(
                rec,
                "empty_text",
                "text holds only whitespace or control characters",
                row_id,
                _raw_json(fields),
            )
            continue
        if row_id is None:
            if "id" in columns:
                reject(
                    rec,
                    "missing_id",
                    f"the id column {columns['id']!r} is empty",
                    None,
                    _raw_json(fields),
                )
                continue
            row_id = f"{prefix}{default_community}:{rec.record}"
        if row_id in existing_ids:
            first = seen_in_source.get(row_id)
            where = f"record {first} of this source" if first else "an earlier source"
            reject(
                rec,
                "duplicate_id",
                f"id {row_id!r} is already used by {where}",
                row_id,
                _raw_json(fields),
            )
            continue
        existing_ids.add(row_id)
        seen_in_source[row_id] = rec.record

        notes: list[str] = []
        community = spec.community or cell(fields, "community")
        if community is None:
            if "community" in columns:
                notes.append(
                    f"community column {columns['community']!r} empty; labelled {UNLABELLED!r}"
                )
                repairs["unlabelled"] += 1
                community = UNLABELLED
            else:
                community = default_community
        parent = cell(fields, "parent")
        thread = cell(fields, "thread")
        c = chunk.cols
        c["id"].append(row_id)
        c["text"].append(text)
        c["text_raw"].append(text_raw)
        c["community"].append(community)
        c["parent_id"].append(None if parent is None else prefix + parent)
        c["thread_id"].append(None if thread is None else prefix + thread)
        c["author"].append(cell(fields, "author"))
        c["image"].append(image_path(cell(fields, "image")))
        c["lang"].append(cell(fields, "lang") or spec.lang)
        c["source"].append(key)
        c["record"].append(rec.record)
        c["line"].append(rec.line)
        c["meta"].append(_meta_json(fields, mapped))
        c["repairs"].append("; ".join(notes) or None)
        chunk.timestamp_raw.append(cell(fields, "timestamp"))
        if len(c["id"]) >= CHUNK_RECORDS:
            flush()
    flush()
    if on_progress is not None:
        on_progress(reader.total_bytes, rows_read)

    accepted = pa.concat_tables(accepted_chunks) if accepted_chunks else CORPUS_SCHEMA.empty_table()
    rejected = pa.table(rejected_rows, schema=REJECTED_SCHEMA)
    return SourceResult(
        key=key,
        spec=spec,
        format=reader.format,
        encoding=reader.encoding.encoding if reader.encoding else None,
        notes=list(reader.notes),
        columns=columns,
        accepted=accepted,
        rejected=rejected,
        rows_read=rows_read,
        rejected_by_reason=dict(by_reason),
        repairs=repairs,
        seconds=time.perf_counter() - start,
    )


def _append_note(repairs: list[str | None], i: int, note: str) -> None:
    repairs[i] = f"{repairs[i]}; {note}" if repairs[i] else note


def repair_discourse(
    results: Iterable[SourceResult],
    known: KnownLinks | None = None,
) -> None:
    """Check and repair reply links of newly built sources, in place.

    ``known`` maps ids already in the workspace to ``(parent_id, thread_id)``. A parent id
    that names no caption (dangling) is removed; in a cycle of replies, the link of the row
    read first is removed, which makes it the root of its thread. Rows in a reply chain
    without a thread id get the id of the chain's root as thread id. Every change is noted in
    the row's ``repairs`` column and counted in the source's ``repairs``.
    """
    results = list(results)
    known = known or {}
    i: int | None
    ids: list[str] = []
    parents: list[str | None] = []
    threads: list[str | None] = []
    notes: list[str | None] = []
    owner: list[int] = []
    for n, res in enumerate(results):
        t = res.accepted
        ids += t.column("id").to_pylist()
        parents += t.column("parent_id").to_pylist()
        threads += t.column("thread_id").to_pylist()
        notes += t.column("repairs").to_pylist()
        owner += [n] * t.num_rows
    if not any(p is not None for p in parents):
        return
    index = {row_id: i for i, row_id in enumerate(ids)}
    changed = False

    for row, parent in enumerate(parents):
        if parent is None:
            continue
        if parent not in index and parent not in known:
            parents[row] = None
            _append_note(notes, row, f"parent_id {parent!r} removed: no caption has that id")
            results[owner[row]].repairs["dangling_parent"] += 1
            changed = True

    # Each row has at most one parent, so cycles are found by walking up from every row.
    state = [0] * len(ids)  # 0 unvisited, 1 on the current path, 2 done
    for start in range(len(ids)):
        path: list[int] = []
        i = start
        while i is not None and state[i] == 0:
            state[i] = 1
            path.append(i)
            parent = parents[i]
            i = index.get(parent) if parent is not None else None
        if i is not None and state[i] == 1:
            cycle = path[path.index(i) :]
            first = min(cycle)  # read first: earliest source, then earliest record
            removed = parents[first]
            parents[first] = None
            length = len(cycle)
            _append_note(
                notes, first, f"parent_id {removed!r} removed: reply cycle of {length} rows"
            )
            results[owner[first]].repairs["reply_cycle"] += 1
            changed = True
        for j in path:
            state[j] = 2

    has_children = {index[p] for p in parents if p is not None and p in index}
    for row in range(len(ids)):
        if threads[row] is not None or (parents[row] is None and row not in has_children):
            continue
        j, hops = row, 0
        root_thread: str | None = None
        while hops <= len(ids):
            parent = parents[j]
            if parent is None:
                root_thread = threads[j] or ids[j]
                break
            if parent in index:
                j = index[parent]
            else:
                _, known_thread = known[parent]
                root_thread = known_thread or parent
                break
            hops += 1
        threads[row] = root_thread
        changed = True

    if not changed:
        return
    offset = 0
    for res in results:
        n = res.accepted.num_rows
        t = res.accepted
        for name, values in (
            ("parent_id", parents[offset : offset + n]),
            ("thread_id", threads[offset : offset + n]),
            ("repairs", notes[offset : offset + n]),
        ):
            t = t.set_column(t.schema.get_field_index(name), name, pa.array(values, pa.string()))
        res.accepted = t.cast(CORPUS_SCHEMA)
        offset += n


def source_key(path: Path, used: Collection[str]) -> str:
    """A source's key: its file name, or ``name#2``, ``name#3``, ... when that is taken.

    >>> source_key(Path("data/a.csv"), {"a.csv", "a.csv#2"})
    'a.csv#3'
    """
    key, n = path.name, 1
    while key in used:
        n += 1
        key = f"{path.name}#{n}"
    return key


def read_sources(
    specs: Sequence[SourceSpec | str | Path],
    *,
    existing_ids: set[str] | None = None,
    known_links: KnownLinks | Callable[[], KnownLinks] | None = None,
    keys: Collection[str] = (),
    progress: Progress | None = None,
) -> list[SourceResult]:
    """Read and validate every source, then repair reply links across all of them.

    Sources are built one after the other with :func:`build_source` (ids must be unique
    across them and against ``existing_ids``, which is updated in place) and then checked
    together by :func:`repair_discourse`, so a reply may point into another source of the
    same call or, through ``known_links``, to a caption read earlier. ``known_links`` may be a
    function: it is called only when a new row has a parent id, since reading a workspace's
    links costs a pass over its corpus. Each source gets a key from its file name that is not
    in ``keys`` nor used earlier in the call (:func:`source_key`).

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "a.csv").write_text("id,text,reply_to\\n1,a kite,\\n2,a heron,1\\n3,x,9\\n")
    >>> [result] = read_sources([SourceSpec(folder / "a.csv", columns={"parent": "reply_to"})])
    >>> result.key, result.accepted.column("parent_id").to_pylist(), dict(result.repairs)
    ('a.csv', [None, '1', None], {'dangling_parent': 1})
    """
    progress = progress or NullProgress()
    ids = set() if existing_ids is None else existing_ids
    used = set(keys)
    results: list[SourceResult] = []
    for spec in as_specs(specs):
        reader = open_source(spec)
        key = source_key(Path(spec.path), used)
        used.add(key)
        handle = progress.task(f"reading {key}", total=reader.total_bytes)

        def on_progress(done: int, rows: int, handle: Any = handle) -> None:
            progress.update(handle, done, f"{rows:,} rows")

        results.append(build_source(spec, key, ids, reader, on_progress))
        progress.finish(handle)
    if any(r.accepted.column("parent_id").null_count < r.accepted.num_rows for r in results):
        known = known_links() if callable(known_links) else known_links
        repair_discourse(results, known)
    return results
