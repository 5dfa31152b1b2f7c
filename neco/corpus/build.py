"""From raw records to the corpus and rejected tables, with nothing lost.

:func:`build_source` validates one source's records in chunks: the text is normalised, ids
are checked for uniqueness (within the source and against ``existing_ids``), and every record
that cannot be used becomes a row of the rejected table with a reason code and a sentence.
:func:`repair_discourse` then checks reply links over everything ingested together: a parent
id that names no caption, or a chain of replies that loops back on itself, is removed from the
row and the removal is written into the row's ``repairs`` column.
:func:`read_sources` does both for a list of sources: it is the one ingest loop, used by
``Corpus.from_sources`` (in memory) and ``Workspace.ingest`` (appended to a workspace).

Accepted and rejected rows leave :func:`build_source` in chunks of at most
:data:`CHUNK_RECORDS` rows (or :data:`CHUNK_CHARS` characters of text) through a
:class:`RowSink`: :class:`MemorySink` keeps them (``Corpus``), the workspace's sink writes
them to Parquet as they come, so the memory an ingest needs does not grow with the rows'
text -- only with their ids, which uniqueness is checked against.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

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
from neco.corpus.readers import RAW_KEPT, RawRecord, SourceReader, open_source
from neco.corpus.schema import CORPUS_SCHEMA, REJECTED_SCHEMA
from neco.corpus.sources import SourceSpec, as_specs
from neco.errors import shorten
from neco.progress import NullProgress, Progress

#: Rows per chunk handed to the sink; a chunk is also cut at CHUNK_CHARS characters of text.
CHUNK_RECORDS = 20_000
CHUNK_CHARS = 16 * 2**20
#: Nesting of lists and objects in one field beyond which a record is rejected: deeper values
#: are no captions' metadata, and would exhaust Python's recursion when written as JSON.
MAX_NESTING = 100
UNLABELLED = "unlabelled"
# Surrogates other than surrogateescape's U+DC80-U+DCFF (which stand for undecodable bytes).
_LONE_SURROGATE = re.compile("[\ud800-\udc7f\udd00-\udfff]")
LINK_COLUMNS = ("id", "parent_id", "thread_id", "repairs")


class RowSink(Protocol):
    """Where :func:`build_source` puts its rows, chunk by chunk (see the module docstring).

    ``links`` returns the :data:`LINK_COLUMNS` of a source's accepted rows in order and
    ``set_links`` replaces them (reply links repaired across sources).
    """

    def append(self, key: str, table: str, rows: pa.Table) -> None: ...

    def links(self, key: str) -> pa.Table: ...

    def set_links(self, key: str, columns: dict[str, list[str | None]]) -> None: ...


class IdRegistry:
    """The ids taken so far: ids read from sources in ``explicit`` (a set, updated in place),
    and the ids made from record numbers (``name:record``) as one bit per record.

    A flood of id-less rows (a decompression bomb of short lines) then costs an eighth of a
    byte a row, not a string in a set.

    >>> ids = IdRegistry({"a"})
    >>> ids.add_generated("museum:", 3)
    >>> "a" in ids, "museum:3" in ids, "museum:4" in ids, "museum:03" in ids
    (True, True, False, False)
    """

    def __init__(self, explicit: set[str]) -> None:
        self.explicit = explicit
        self.generated: dict[str, bytearray] = {}

    def __contains__(self, row_id: object) -> bool:
        if row_id in self.explicit:
            return True
        if not isinstance(row_id, str):
            return False
        base, colon, number = row_id.rpartition(":")
        bits = self.generated.get(base + colon)
        if bits is None or not (number.isascii() and number.isdigit()) or number[0] == "0":
            return False
        n = int(number)
        return n // 8 < len(bits) and bool(bits[n // 8] >> (n % 8) & 1)

    def add(self, row_id: str) -> None:
        self.explicit.add(row_id)

    def add_generated(self, base: str, record: int) -> None:
        bits = self.generated.setdefault(base, bytearray())
        if record // 8 >= len(bits):  # grow by doubling
            bits.extend(bytes(max(record // 8 + 1 - len(bits), len(bits))))
        bits[record // 8] |= 1 << (record % 8)


class MemorySink:
    """Keeps every chunk in memory: the sink of :class:`neco.corpus.Corpus`."""

    def __init__(self) -> None:
        self.chunks: dict[tuple[str, str], list[pa.Table]] = {}

    def append(self, key: str, table: str, rows: pa.Table) -> None:
        self.chunks.setdefault((key, table), []).append(rows)

    def table(self, key: str, table: str) -> pa.Table:
        schema = CORPUS_SCHEMA if table == "corpus" else REJECTED_SCHEMA
        chunks = self.chunks.get((key, table), [])
        if len(chunks) != 1:
            merged = pa.concat_tables(chunks) if chunks else schema.empty_table()
            self.chunks[(key, table)] = [merged]
        return self.chunks[(key, table)][0]

    def links(self, key: str) -> pa.Table:
        return self.table(key, "corpus").select(list(LINK_COLUMNS))

    def set_links(self, key: str, columns: dict[str, list[str | None]]) -> None:
        t = self.table(key, "corpus")
        for name, values in columns.items():
            t = t.set_column(t.schema.get_field_index(name), name, pa.array(values, pa.string()))
        self.chunks[(key, "corpus")] = [t.cast(CORPUS_SCHEMA)]


#: Reply links of captions read earlier: id -> (parent_id, thread_id).
KnownLinks = Mapping[str, tuple[str | None, str | None]]


@dataclass
class SourceResult:
    """One source read and validated: its tables and the counts for the report.

    ``accepted`` and ``rejected`` are the rows when they were kept in memory
    (:class:`MemorySink`); with another sink they are empty and the counts say how many rows
    went to it.
    """

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
    accepted_rows: int = 0
    communities: Counter[str] = field(default_factory=Counter)
    has_parents: bool = False
    #: The folder image paths were kept under (``None``: --allow-outside-root).
    image_root: str | None = None

    @property
    def rejected_rows(self) -> int:
        return sum(self.rejected_by_reason.values())


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


_NUMBER = re.compile(r"-?(0|[1-9]\d{0,15})(\.\d+)?([eE][-+]?\d+)?")


def _typed(value: Any) -> Any:
    """A delimited cell that is a plain number as a number ("4431" -> 4431), so that meta
    fields filter and sort as numbers; anything else (ids with leading zeros, "1,5") as is.

    >>> [_typed(v) for v in ("4431", "-1.5", "007", "1e3", "12a", "")]
    [4431, -1.5, '007', 1000.0, '12a', '']
    """
    if isinstance(value, str) and _NUMBER.fullmatch(value):
        number = float(value)
        if math.isfinite(number):
            return int(value) if value.lstrip("-").isdigit() else number
    return value


def _meta_json(fields: dict[str, Any], mapped: set[str], typed: bool = False) -> str | None:
    rest = {k: (_typed(v) if typed else v) for k, v in fields.items() if k not in mapped}
    if not rest:
        return None
    text = json.dumps(rest, ensure_ascii=False, default=str)
    return escape_undecodable(text) if has_undecodable(text) else text


def _raw_json(fields: dict[str, Any]) -> str:
    return escape_undecodable(json.dumps(fields, ensure_ascii=False, default=str))


def _too_nested(value: Any, limit: int = MAX_NESTING) -> bool:
    """Whether lists and objects in ``value`` nest deeper than ``limit`` (iteratively: a
    recursive walk would fail on the very values it looks for)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def _length(value: Any) -> int:
    """Characters of a field as text (nested values: their JSON text, roughly)."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict | list):
        return len(json.dumps(value, ensure_ascii=False, default=str))
    return 0


def _cut(text: str) -> str:
    """The beginning of a rejected record's raw text when the whole would be too long."""
    return text if len(text) <= RAW_KEPT else f"{text[:RAW_KEPT]}... ({len(text):,} characters)"


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
    existing_ids: set[str] | IdRegistry,
    reader: SourceReader | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    sink: RowSink | None = None,
) -> SourceResult:
    """Read and validate one source. Ids accepted here are added to ``existing_ids`` (ids
    made from record numbers, ``name:record``, are kept compactly when it is an
    :class:`IdRegistry`).

    Rows go to ``sink`` in chunks; without one they are kept in memory and returned in the
    result's ``accepted`` and ``rejected`` tables.
    """
    start = time.perf_counter()
    ids = existing_ids if isinstance(existing_ids, IdRegistry) else IdRegistry(existing_ids)
    memory = MemorySink() if sink is None else None
    out: RowSink = memory if memory is not None else sink  # type: ignore[assignment]
    reader = reader or open_source(spec)
    columns = map_columns(reader.columns, spec.columns, reader.preset, source=str(spec.path))
    na_values = DEFAULT_NA_VALUES | set(spec.na_values)
    if reader.format == "reddit":
        na_values |= {"[removed]", "[deleted]"}
    mapped = set(columns.values())
    delimited = reader.format in ("csv", "tsv")
    col = columns.get
    text_col = columns["text"]
    # A file name may hold bytes that are not UTF-8 (surrogateescape): store them escaped.
    default_community = escape_undecodable(spec.community or Path(spec.path).name.split(".")[0])
    prefix = spec.id_prefix
    source_path = Path(spec.path)
    if spec.image_root and reader.format != "imagefolder":
        image_root = Path(spec.image_root)
    else:  # an image folder's paths are relative to the folder itself
        image_root = source_path if source_path.is_dir() else source_path.parent
    image_paths = ImagePaths(image_root, spec.allow_outside_root)

    rejected_rows: dict[str, list[Any]] = {name: [] for name in REJECTED_SCHEMA.names}
    by_reason: Counter[str] = Counter()
    repairs: Counter[str] = Counter()
    communities: Counter[str] = Counter()
    seen_in_source: dict[str, int] = {}
    rows_read = 0
    accepted_rows = 0
    has_parents = False
    chunk = _Chunk()
    chunk_chars = 0
    rejected_chars = 0

    def flush_rejected() -> None:
        nonlocal rejected_chars
        if rejected_rows["source"]:
            out.append(key, "rejected", pa.table(rejected_rows, schema=REJECTED_SCHEMA))
            for values in rejected_rows.values():
                values.clear()
        rejected_chars = 0

    def reject(rec: RawRecord, code: str, detail: str, row_id: str | None, raw: str) -> None:
        nonlocal rejected_chars
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
        rejected_chars += len(raw) + len(detail)
        if len(rejected_rows["source"]) >= CHUNK_RECORDS or rejected_chars >= CHUNK_CHARS:
            flush_rejected()

    def cell(fields: dict[str, Any], role: str) -> str | None:
        name = col(role)
        if name is None:
            return None
        value = _scalar_text(fields.get(name))
        if value is None or value.strip() in na_values:
            return None
        return value.strip()

    def flush() -> None:
        nonlocal chunk, chunk_chars
        chunk_chars = 0
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
        out.append(key, "corpus", table.cast(CORPUS_SCHEMA))
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
        long_fields = [k for k, v in fields.items() if _length(v) > spec.max_field_length]
        if long_fields or any(len(k) > spec.max_field_length for k in fields):
            name = long_fields[0] if long_fields else "a column name"
            reject(
                rec,
                "too_long",
                f"{shorten(repr(name), 60)} holds more than {spec.max_field_length:,} characters"
                "; pass --max-field-length to read it",
                None,
                escape_undecodable(_cut(str(fields.get(name, "")))),
            )
            continue
        nested = [k for k, v in fields.items() if isinstance(v, dict | list) and _too_nested(v)]
        if nested:
            reject(
                rec,
                "too_nested",
                f"{shorten(repr(nested[0]), 60)} nests lists or objects more than "
                f"{MAX_NESTING} levels deep",
                None,
                "",
            )
            continue
        raw_id = cell(fields, "id")
        row_id = None if raw_id is None else prefix + raw_id
        bad = [k for k, v in fields.items() if isinstance(v, str) and has_undecodable(v)]
        if bad:
            if any(_LONE_SURROGATE.search(fields[k]) for k in bad):
                # a JSON escape such as \ud800 names half of a character: no encoding helps
                what = "a lone surrogate (half a UTF-16 pair, e.g. the JSON escape \\ud800)"
                hint = "it is no character and cannot be stored"
            else:
                encoding = reader.encoding.encoding if reader.encoding else "the"
                what = f"bytes not valid in {encoding} encoding"
                hint = "try --encoding"
            shown = shorten(", ".join(escape_undecodable(repr(k)) for k in bad), 100)
            reject(
                rec,
                "undecodable",
                f"{what} in column(s) {shown}; {hint}",
                None if row_id is None else escape_undecodable(row_id),
                _raw_json(fields),
            )
            continue
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
        if text_raw is not None and has_undecodable(text_raw):  # a number cannot hold one
            text_raw = escape_undecodable(text_raw)
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
            generated = True
        else:
            generated = False
        if row_id in ids:
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
        if generated:  # name:record cannot repeat within a source
            ids.add_generated(f"{prefix}{default_community}:", rec.record)
        else:
            ids.add(row_id)
            seen_in_source[row_id] = rec.record

        notes: list[str] = []
        image = image_paths(cell(fields, "image"), notes, repairs)
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
        has_parents = has_parents or parent is not None
        communities[community] += 1
        accepted_rows += 1
        c = chunk.cols
        c["id"].append(row_id)
        c["text"].append(text)
        c["text_raw"].append(text_raw)
        c["community"].append(community)
        c["parent_id"].append(None if parent is None else prefix + parent)
        c["thread_id"].append(None if thread is None else prefix + thread)
        c["author"].append(cell(fields, "author"))
        c["image"].append(image)
        c["lang"].append(cell(fields, "lang") or spec.lang)
        c["source"].append(key)
        c["record"].append(rec.record)
        c["line"].append(rec.line)
        # Delimited text has no types: plain numbers become numbers; JSON keeps its own.
        c["meta"].append(_meta_json(fields, mapped, typed=delimited))
        c["repairs"].append("; ".join(notes) or None)
        chunk.timestamp_raw.append(cell(fields, "timestamp"))
        chunk_chars += len(text_raw) + len(c["meta"][-1] or "")
        if len(c["id"]) >= CHUNK_RECORDS or chunk_chars >= CHUNK_CHARS:
            flush()
    flush()
    flush_rejected()
    if on_progress is not None:
        on_progress(reader.total_bytes, rows_read)

    return SourceResult(
        key=key,
        spec=spec,
        format=reader.format,
        encoding=reader.encoding.encoding if reader.encoding else None,
        notes=list(reader.notes) + image_paths.warnings(col("image")),
        columns=columns,
        accepted=memory.table(key, "corpus") if memory else CORPUS_SCHEMA.empty_table(),
        rejected=memory.table(key, "rejected") if memory else REJECTED_SCHEMA.empty_table(),
        rows_read=rows_read,
        rejected_by_reason=dict(by_reason),
        repairs=repairs,
        seconds=time.perf_counter() - start,
        accepted_rows=accepted_rows,
        communities=communities,
        has_parents=has_parents,
        image_root=None if spec.allow_outside_root else str(image_paths.real_root),
    )


class ImagePaths:
    """Image paths of a source, checked to stay under its image root.

    A relative path is looked up under ``root`` and stored absolute when the file is there,
    as written otherwise; URLs (never fetched) are kept. A path that leads outside ``root``
    -- absolute elsewhere, through ``..`` or a symbolic link -- is removed from the row with
    a note in its ``repairs`` (counted as ``image_outside_root``) unless ``allow_outside``:
    the latents stage would otherwise open whatever file a stranger's corpus names.
    """

    def __init__(self, root: Path, allow_outside: bool) -> None:
        self.root = root
        self.real_root = root.resolve()
        self.allow_outside = allow_outside
        self._seen: dict[str, tuple[str | None, bool]] = {}
        self.local = 0  # local paths seen (URLs aside), and how many name an existing file
        self.found = 0

    def __call__(self, value: str | None, notes: list[str], repairs: Counter[str]) -> str | None:
        if value is None or "://" in value or value.startswith("data:"):
            return value
        if value not in self._seen:
            if len(self._seen) > 100_000:  # a cache, not a record of every image
                self._seen.clear()
            self._seen[value] = self._resolve(value)
        found, exists = self._seen[value]
        self.local += 1
        self.found += exists
        if found is None:
            notes.append(
                f"image {shorten(escape_undecodable(value), 100)!r} removed: it leads outside "
                f"the image root {self.real_root}; pass --allow-outside-root to keep it"
            )
            repairs["image_outside_root"] += 1
        return found

    def warnings(self, column: str | None) -> list[str]:
        """A note when not one local image path names an existing file (a forgotten
        ``--image-root``, most often)."""
        if column is None or not self.local or self.found:
            return []
        return [
            f"warning: none of the {self.local:,} image paths in column {column!r} names a file "
            f"under {self.real_root}; if the images are elsewhere, pass --image-root FOLDER"
        ]

    def _resolve(self, value: str) -> tuple[str | None, bool]:
        """(the path to store, or None when it leads outside; whether the file exists)."""
        try:
            candidate = self.root / value
            # resolve() follows symbolic links and removes "..", existing or not.
            real = candidate.resolve()
            exists = candidate.is_file()
        except (OSError, ValueError):  # a NUL in the path, a name too long
            return (value if self.allow_outside else None), False
        if not self.allow_outside and not real.is_relative_to(self.real_root):
            return None, False
        return (str(real) if exists else value), exists


def _append_note(repairs: list[str | None], i: int, note: str) -> None:
    repairs[i] = f"{repairs[i]}; {note}" if repairs[i] else note


def repair_discourse(
    results: Iterable[SourceResult],
    known: KnownLinks | None = None,
    sink: RowSink | None = None,
) -> None:
    """Check and repair reply links of newly built sources, in place.

    ``known`` maps ids already in the workspace to ``(parent_id, thread_id)``. A parent id
    that names no caption (dangling) is removed; in a cycle of replies, the link of the row
    read first is removed, which makes it the root of its thread. Rows in a reply chain
    without a thread id get the id of the chain's root as thread id. Every change is noted in
    the row's ``repairs`` column and counted in the source's ``repairs``. The links are read
    from and written back to ``sink`` (by default the results' ``accepted`` tables).
    """
    results = list(results)
    known = known or {}
    i: int | None
    ids: list[str] = []
    parents: list[str | None] = []
    threads: list[str | None] = []
    notes: list[str | None] = []
    owner: list[int] = []
    memory: MemorySink | None = None
    if sink is None:
        sink = memory = MemorySink()
        for res in results:
            memory.append(res.key, "corpus", res.accepted)
    sizes: list[int] = []
    for n, res in enumerate(results):
        t = sink.links(res.key)
        sizes.append(t.num_rows)
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
    for res, rows in zip(results, sizes, strict=True):
        sink.set_links(
            res.key,
            {
                "parent_id": parents[offset : offset + rows],
                "thread_id": threads[offset : offset + rows],
                "repairs": notes[offset : offset + rows],
            },
        )
        if memory is not None:
            res.accepted = memory.table(res.key, "corpus")
        offset += rows


def source_key(path: Path, used: Collection[str]) -> str:
    """A source's key: its file name, or ``name#2``, ``name#3``, ... when that is taken.

    >>> source_key(Path("data/a.csv"), {"a.csv", "a.csv#2"})
    'a.csv#3'
    """
    name = escape_undecodable(path.name)
    key, n = name, 1
    while key in used:
        n += 1
        key = f"{name}#{n}"
    return key


def read_sources(
    specs: Sequence[SourceSpec | str | Path],
    *,
    existing_ids: set[str] | None = None,
    known_links: KnownLinks | Callable[[], KnownLinks] | None = None,
    keys: Collection[str] = (),
    progress: Progress | None = None,
    sink: RowSink | None = None,
) -> list[SourceResult]:
    """Read and validate every source, then repair reply links across all of them.

    Rows are kept in the results (in memory) unless a ``sink`` takes them (see
    :class:`RowSink`).

    Sources are built one after the other with :func:`build_source` (ids must be unique
    across them and against ``existing_ids``, to which the ids read from sources are added in
    place; ids made from record numbers are tracked compactly) and then checked
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
    ids = IdRegistry(set() if existing_ids is None else existing_ids)
    used = set(keys)
    results: list[SourceResult] = []
    for spec in as_specs(specs):
        reader = open_source(spec)
        key = source_key(Path(spec.path), used)
        used.add(key)
        handle = progress.task(f"reading {key}", total=reader.total_bytes)

        def on_progress(done: int, rows: int, handle: Any = handle) -> None:
            progress.update(handle, done, f"{rows:,} rows")

        results.append(build_source(spec, key, ids, reader, on_progress, sink))
        progress.finish(handle)
    if any(r.has_parents for r in results):
        known = known_links() if callable(known_links) else known_links
        repair_discourse(results, known, sink)
    return results
