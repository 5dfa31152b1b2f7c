"""The workspace: neco's embedded store, a folder of Parquet tables with a manifest.

Layout::

    workspace/
      manifest.json              sources (SHA-256, options, counts), tables, stages, versions
      corpus.parquet/part-*.parquet     one row per accepted caption (neco.corpus.schema)
      rejected.parquet/part-*.parquet   every row that could not be used, with its reason
      <stage>/<table>.parquet/...       tables written by later stages
      neco.duckdb                DuckDB database with a view over every table

Each table is a folder of Parquet parts (the layout Spark, DuckDB and pandas read as one
dataset), so an ingest appends a part instead of rewriting the corpus. ``manifest.json`` is the
commit point: parts are written under temporary names, renamed, and only then does the new
manifest replace the old one (write, then atomic rename). A part that no manifest lists is the
remains of an interrupted write and is removed the next time the workspace is written, so an
interrupted ingest leaves the previous workspace intact.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from neco.corpus.build import SourceResult, build_source, repair_discourse
from neco.corpus.readers import open_source
from neco.corpus.report import IngestReport, SourceReport
from neco.corpus.schema import CORPUS_SCHEMA, REJECTED_SCHEMA
from neco.corpus.sources import SourceSpec, sha256_of
from neco.errors import NecoError, WorkspaceError
from neco.progress import NullProgress, Progress
from neco.versions import package_versions

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

MANIFEST_VERSION = 1
DEFAULT_WORKSPACE = Path("data") / "workspace"


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def view_name(table: str) -> str:
    """DuckDB view name of a workspace table: ``social/vocab`` -> ``social_vocab``."""
    return table.replace("/", "_").replace("-", "_")


class Workspace:
    """A neco workspace folder.

    >>> import tempfile
    >>> ws = Workspace(tempfile.mkdtemp())
    >>> ws.exists()
    False
    """

    def __init__(self, path: str | Path = DEFAULT_WORKSPACE) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"Workspace({str(self.path)!r})"

    # ------------------------------------------------------------------ reading

    @property
    def manifest_path(self) -> Path:
        return self.path / "manifest.json"

    @property
    def database_path(self) -> Path:
        return self.path / "neco.duckdb"

    def exists(self) -> bool:
        """True when the folder holds a manifest."""
        return self.manifest_path.exists()

    def require(self) -> Workspace:
        """Raise a :class:`WorkspaceError` unless the workspace exists; return ``self``."""
        if not self.exists():
            raise WorkspaceError(
                f"No neco workspace at {self.path} (expected {self.manifest_path}). "
                "Create one with: neco ingest SOURCE -w " + str(self.path)
            )
        return self

    def manifest(self) -> dict[str, Any]:
        """The committed manifest (an empty one for a workspace not yet created)."""
        if not self.exists():
            return {
                "manifest_version": MANIFEST_VERSION,
                "created": None,
                "updated": None,
                "sources": [],
                "tables": {},
                "stages": {},
            }
        try:
            manifest: dict[str, Any] = json.loads(self.manifest_path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise WorkspaceError(f"Cannot read {self.manifest_path}: {exc}") from exc
        return manifest

    def tables(self) -> list[str]:
        """Names of the tables in the workspace."""
        return sorted(self.manifest().get("tables", {}))

    def table_files(self, name: str) -> list[Path]:
        """The Parquet parts of table ``name``, in order."""
        entry = self.manifest().get("tables", {}).get(name)
        if entry is None:
            raise WorkspaceError(
                f"The workspace {self.path} has no table {name!r}. "
                f"Tables: {', '.join(self.tables()) or 'none yet'}."
            )
        folder = self.path / entry["dir"]
        return [folder / part for part in entry["parts"]]

    def read_table(self, name: str, columns: Sequence[str] | None = None) -> pa.Table:
        """Table ``name`` as one Arrow table."""
        parts = [
            pq.read_table(p, columns=list(columns) if columns else None)
            for p in self.table_files(name)
        ]
        return pa.concat_tables(parts) if parts else pa.table({})

    def corpus(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The accepted captions as a pandas DataFrame (see ``neco.corpus.schema``)."""
        self.require()
        return self.read_table("corpus", columns).to_pandas()

    def rejected(self) -> pd.DataFrame:
        """Every rejected row with its source, record, line, reason and raw content."""
        self.require()
        return self.read_table("rejected").to_pandas()

    # ------------------------------------------------------------------ writing

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.mkdir(parents=True, exist_ok=True)
        with (self.path / ".lock").open("w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise WorkspaceError(
                    f"Another neco process is writing to {self.path}; try again when it ends."
                ) from exc
            try:
                self._remove_orphans()
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _remove_orphans(self) -> None:
        """Delete parts and temporary files that no committed manifest lists."""
        manifest = self.manifest()
        listed = {
            (self.path / entry["dir"] / part).resolve()
            for entry in manifest.get("tables", {}).values()
            for part in entry["parts"]
        }
        for folder in {self.path / e["dir"] for e in manifest.get("tables", {}).values()} | {
            self.path / "corpus.parquet",
            self.path / "rejected.parquet",
        }:
            if not folder.is_dir():
                continue
            for file in folder.iterdir():
                if file.resolve() not in listed:
                    file.unlink()
        for tmp in self.path.glob(".*.tmp"):
            tmp.unlink()

    def _write_part(self, manifest: dict[str, Any], name: str, table: pa.Table) -> Path:
        """Write a new part of table ``name`` (not yet committed) and list it in ``manifest``."""
        tables = manifest.setdefault("tables", {})
        entry = tables.setdefault(name, {"dir": f"{name}.parquet", "parts": [], "rows": 0})
        folder = self.path / entry["dir"]
        folder.mkdir(parents=True, exist_ok=True)
        part = f"part-{len(entry['parts']) + 1:05d}-{uuid.uuid4().hex[:8]}.parquet"
        tmp = folder / f".{part}.tmp"
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, folder / part)
        entry["parts"].append(part)
        entry["rows"] += table.num_rows
        entry["updated"] = _now()
        return folder / part

    def _commit(self, manifest: dict[str, Any]) -> None:
        manifest["updated"] = _now()
        manifest["created"] = manifest.get("created") or manifest["updated"]
        manifest["package_versions"] = package_versions()
        data = json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8")
        _atomic_write_bytes(self.manifest_path, data)
        self._refresh_views()

    def write_table(
        self,
        name: str,
        table: pa.Table,
        *,
        replace: bool = True,
        stage: str | None = None,
        stage_info: dict[str, Any] | None = None,
    ) -> None:
        """Store ``table`` as workspace table ``name`` (replacing it, or appending a part).

        ``stage`` and ``stage_info`` record in the manifest which stage made it and how.
        """
        with self._locked():
            manifest = self.manifest()
            old_parts: list[Path] = []
            if replace and name in manifest.get("tables", {}):
                old_parts = self.table_files(name)
                del manifest["tables"][name]
            self._write_part(manifest, name, table)
            if stage is not None:
                manifest.setdefault("stages", {})[stage] = {
                    "finished": _now(),
                    **(stage_info or {}),
                }
            self._commit(manifest)
            for part in old_parts:
                part.unlink(missing_ok=True)

    def record_stage(self, stage: str, info: dict[str, Any]) -> None:
        """Record in the manifest that ``stage`` finished, with its parameters and results."""
        with self._locked():
            manifest = self.manifest()
            manifest.setdefault("stages", {})[stage] = {"finished": _now(), **info}
            self._commit(manifest)

    def _source_key(self, manifest: dict[str, Any], path: Path) -> str:
        used = {s["key"] for s in manifest.get("sources", [])}
        key, n = path.name, 1
        while key in used:
            n += 1
            key = f"{path.name}#{n}"
        return key

    def _known_links(self) -> dict[str, tuple[str | None, str | None]]:
        if "corpus" not in self.manifest().get("tables", {}):
            return {}
        t = self.read_table("corpus", ["id", "parent_id", "thread_id"])
        return dict(
            zip(
                t.column("id").to_pylist(),
                zip(
                    t.column("parent_id").to_pylist(),
                    t.column("thread_id").to_pylist(),
                    strict=True,
                ),
                strict=True,
            )
        )

    def ingest(
        self, sources: Sequence[SourceSpec | str | Path], progress: Progress | None = None
    ) -> IngestReport:
        """Read, validate and append sources; return the report.

        A source whose content (SHA-256) is already in the workspace is left alone and
        reported as ``unchanged``. Either every source of the call is committed or none is.
        """
        progress = progress or NullProgress()
        specs = _as_specs(sources)
        with self._locked():
            manifest = self.manifest()
            # A source is "the same" when its content and the way it is read are the same;
            # the same file read with other columns or another community is a new source.
            ingested = {
                (s["sha256"], _reading(s["options"])): s for s in manifest.get("sources", [])
            }
            seen_now: set[tuple[str, str]] = set()
            existing_ids: set[str] = set()
            if "corpus" in manifest.get("tables", {}):
                existing_ids = set(self.read_table("corpus", ["id"]).column("id").to_pylist())
            reports: list[SourceReport] = []
            results: list[tuple[SourceResult, str, str]] = []
            for spec in specs:
                path = Path(spec.path)
                reader = open_source(spec)
                sha = sha256_of(path)
                identity = (sha, _reading(spec.options()))
                if identity in ingested or identity in seen_now:
                    prior = ingested.get(identity)
                    when = f" at {prior['ingested_at']} as {prior['key']!r}" if prior else ""
                    reports.append(
                        SourceReport(
                            key=prior["key"] if prior else path.name,
                            path=str(path),
                            status="unchanged",
                            sha256=sha,
                            notes=[
                                f"same content, read the same way, already ingested{when}; "
                                "nothing to do"
                            ],
                        )
                    )
                    continue
                seen_now.add(identity)
                key = self._source_key(
                    {"sources": manifest.get("sources", []) + [{"key": r[0].key} for r in results]},
                    path,
                )
                handle = progress.task(f"reading {key}", total=reader.total_bytes)

                def on_progress(done: int, rows: int, handle: Any = handle) -> None:
                    progress.update(handle, done, f"{rows:,} rows")

                result = build_source(spec, key, existing_ids, reader, on_progress)
                progress.finish(handle)
                results.append((result, sha, str(path.resolve())))

            if results:
                known = (
                    self._known_links()
                    if any(
                        r.accepted.column("parent_id").null_count < r.accepted.num_rows
                        for r, _, _ in results
                    )
                    else {}
                )
                repair_discourse([r for r, _, _ in results], known)
            for result, sha, resolved in results:
                report = _source_report(result, sha, resolved)
                reports.append(report)
                self._write_part(manifest, "corpus", result.accepted)
                if result.rejected.num_rows or "rejected" not in manifest.get("tables", {}):
                    self._write_part(manifest, "rejected", result.rejected)
                entry = {
                    "key": result.key,
                    "path": resolved,
                    "sha256": sha,
                    "format": result.format,
                    "encoding": result.encoding,
                    "options": result.spec.options(),
                    "columns": result.columns,
                    "rows_read": result.rows_read,
                    "accepted": result.accepted.num_rows,
                    "rejected": result.rejected.num_rows,
                    "rejected_by_reason": result.rejected_by_reason,
                    "repairs": dict(result.repairs),
                    "communities": report.communities,
                    "notes": result.notes,
                    "ingested_at": _now(),
                }
                manifest.setdefault("sources", []).append(entry)
            if results or not self.exists():
                if "corpus" not in manifest.get("tables", {}):
                    self._write_part(manifest, "corpus", CORPUS_SCHEMA.empty_table())
                    self._write_part(manifest, "rejected", REJECTED_SCHEMA.empty_table())
                manifest.setdefault("stages", {})["ingest"] = {"finished": _now()}
                self._commit(manifest)
        return IngestReport(str(self.path), reports)

    # ------------------------------------------------------------------ SQL

    def _view_sql(self) -> list[str]:
        statements = []
        for name, entry in sorted(self.manifest().get("tables", {}).items()):
            files = [str((self.path / entry["dir"] / p).resolve()) for p in entry["parts"]]
            if not files:
                continue
            listing = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
            statements.append(
                f'CREATE OR REPLACE VIEW "{view_name(name)}" AS '
                f"SELECT * FROM read_parquet([{listing}], union_by_name = true)"
            )
        return statements

    def _refresh_views(self) -> None:
        import duckdb

        try:
            con = duckdb.connect(str(self.database_path))
        except duckdb.IOException:
            return  # another process holds the database; views are refreshed on connect
        with con:
            for statement in self._view_sql():
                con.execute(statement)

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection with a view per table (``corpus``, ``rejected``, ...).

        The views live in ``neco.duckdb`` so other DuckDB clients see them too. If another
        process holds that file, an in-memory connection with the same views is returned.
        """
        import duckdb

        self.require()
        try:
            con = duckdb.connect(str(self.database_path))
        except duckdb.IOException:
            con = duckdb.connect(":memory:")
        for statement in self._view_sql():
            con.execute(statement)
        return con

    def sql(self, query: str) -> pa.Table:
        """Run ``query`` over the workspace's views and return an Arrow table."""
        import duckdb

        with self.connect() as con:
            try:
                relation = con.sql(query)
                if relation is None:  # a statement without a result (CREATE, SET, ...)
                    return pa.table({})
                # DuckDB 2 names it to_arrow_table; 1.x called it arrow.
                fetch = getattr(relation, "to_arrow_table", None) or relation.arrow
                table: pa.Table = fetch()
                return table
            except duckdb.Error as exc:
                raise NecoError(
                    f"The query failed: {exc}\nViews: {', '.join(map(view_name, self.tables()))}."
                ) from exc

    # ------------------------------------------------------------------ summary

    def summary(self) -> dict[str, Any]:
        """Rows, rejected rows by reason, communities and sources, from the manifest."""
        manifest = self.require().manifest()
        sources = manifest.get("sources", [])
        by_reason: dict[str, int] = {}
        communities: dict[str, int] = {}
        for s in sources:
            for k, v in s.get("rejected_by_reason", {}).items():
                by_reason[k] = by_reason.get(k, 0) + v
            for k, v in s.get("communities", {}).items():
                communities[k] = communities.get(k, 0) + v
        tables = manifest.get("tables", {})
        return {
            "workspace": str(self.path),
            "rows_read": sum(s["rows_read"] for s in sources),
            "accepted": tables.get("corpus", {}).get("rows", 0),
            "rejected": tables.get("rejected", {}).get("rows", 0),
            "rejected_by_reason": dict(sorted(by_reason.items(), key=lambda kv: -kv[1])),
            "communities": dict(sorted(communities.items())),
            "sources": [
                {
                    k: s.get(k)
                    for k in (
                        "key",
                        "format",
                        "rows_read",
                        "accepted",
                        "rejected",
                        "sha256",
                        "ingested_at",
                    )
                }
                for s in sources
            ],
            "tables": {name: entry["rows"] for name, entry in sorted(tables.items())},
            "stages": manifest.get("stages", {}),
            "created": manifest.get("created"),
            "updated": manifest.get("updated"),
        }


def _reading(options: dict[str, Any]) -> str:
    """The reading options of a source without its path, as a comparable string."""
    return json.dumps({k: v for k, v in options.items() if k != "path"}, sort_keys=True)


def _as_specs(sources: Sequence[SourceSpec | str | Path]) -> list[SourceSpec]:
    return [s if isinstance(s, SourceSpec) else SourceSpec(s) for s in sources]


def _source_report(result: SourceResult, sha: str, resolved: str) -> SourceReport:
    communities: dict[str, int] = {}
    if result.accepted.num_rows:
        counts = result.accepted.column("community").value_counts()
        communities = {str(item["values"]): int(item["counts"]) for item in counts.to_pylist()}
    return SourceReport(
        key=result.key,
        path=resolved,
        status="ingested",
        sha256=sha,
        format=result.format,
        encoding=result.encoding,
        columns=result.columns,
        rows_read=result.rows_read,
        accepted=result.accepted.num_rows,
        rejected=result.rejected.num_rows,
        rejected_by_reason=dict(sorted(result.rejected_by_reason.items())),
        repairs=dict(result.repairs),
        communities=dict(sorted(communities.items())),
        notes=result.notes,
        seconds=round(result.seconds, 3),
    )
