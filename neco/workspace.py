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
import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from neco.catalogue import conform, view_name
from neco.corpus.build import read_sources
from neco.corpus.report import IngestReport, SourceReport, source_report
from neco.corpus.schema import CORPUS_SCHEMA, REJECTED_SCHEMA
from neco.corpus.sources import SourceSpec, as_specs, sha256_of
from neco.errors import NecoError, WorkspaceError
from neco.progress import Progress
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


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _combine(digests: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(digests).encode()).hexdigest()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
        """Delete parts and temporary files that no committed manifest lists.

        Only files named as neco names them (``part-*.parquet``, ``.part-*.tmp``) inside the
        folders of declared tables are touched: a file a user put there is left alone.
        """
        from neco.catalogue import CATALOGUE

        manifest = self.manifest()
        listed = {
            (self.path / entry["dir"] / part).resolve()
            for entry in manifest.get("tables", {}).values()
            for part in entry["parts"]
        }
        folders = {self.path / f"{name}.parquet" for name in CATALOGUE}
        folders |= {self.path / e["dir"] for e in manifest.get("tables", {}).values()}
        for folder in folders:
            if not folder.is_dir() or not folder.resolve().is_relative_to(self.path.resolve()):
                continue
            for file in folder.iterdir():
                ours = re.fullmatch(r"\.?part-\d{5}-[0-9a-f]{8}\.parquet(\.tmp)?", file.name)
                if ours and file.is_file() and file.resolve() not in listed:
                    file.unlink()
        for tmp in self.path.glob(".*.tmp"):
            tmp.unlink()
        # Side files of stages whose process is gone (a stage stages them without the lock).
        staging = self.path / ".staging"
        if staging.is_dir():
            for folder in staging.iterdir():
                pid = folder.name.split("-")[0]
                if not pid.isdigit() or not _alive(int(pid)):
                    shutil.rmtree(folder, ignore_errors=True)

    def _write_part(self, manifest: dict[str, Any], name: str, table: pa.Table) -> Path:
        """Write a new part of table ``name`` (not yet committed) and list it in ``manifest``."""
        tables = manifest.setdefault("tables", {})
        entry = tables.setdefault(name, {"dir": f"{name}.parquet", "parts": [], "rows": 0})
        folder = self.path / entry["dir"]
        folder.mkdir(parents=True, exist_ok=True)
        part = f"part-{len(entry['parts']) + 1:05d}-{uuid.uuid4().hex[:8]}.parquet"
        tmp = folder / f".{part}.tmp"
        pq.write_table(table, tmp, compression="zstd")
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, folder / part)
        _fsync_dir(folder)
        digests = entry.setdefault("part_digests", [])
        digests.append(_file_digest(folder / part))
        entry["parts"].append(part)
        entry["rows"] += table.num_rows
        entry["digest"] = _combine(digests)
        entry["updated"] = _now()
        return folder / part

    def _commit(self, manifest: dict[str, Any]) -> None:
        manifest["updated"] = _now()
        manifest["created"] = manifest.get("created") or manifest["updated"]
        manifest["package_versions"] = package_versions()
        data = json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8")
        _atomic_write_bytes(self.manifest_path, data)
        self._refresh_views()

    def write_table(self, name: str, table: pa.Table | pd.DataFrame) -> None:
        """Store ``table`` as the declared table ``name``, replacing it, in one commit.

        Stages write through :meth:`commit_stage` instead, which also records how the
        tables were made; this is for tables outside any stage (tests, one-off imports).
        """
        self.commit_stage(None, {name: table})

    def commit_stage(
        self,
        stage: str | None,
        tables: dict[str, pa.Table | pd.DataFrame],
        record: dict[str, Any] | None = None,
        *,
        replaces: Sequence[str] = (),
        expect: dict[str, str | None] | None = None,
        files: Path | None = None,
    ) -> None:
        """Commit a stage's output tables and its record together: all or nothing.

        Every table is checked against the catalogue (:func:`neco.catalogue.conform`) before
        anything is written. Parts are written and fsynced first; the new manifest is the
        commit point; parts of the tables replaced are deleted after it. ``replaces`` names
        tables of the stage that this run did not produce (they are removed, since they no
        longer describe its inputs). ``expect`` maps input tables to the digests the stage
        read at its start: if another process changed one in the meantime, nothing is
        committed and a :class:`WorkspaceError` says so. ``files`` is a staging folder whose
        contents are moved into the workspace (same relative paths) after the commit.
        """
        conformed = {name: conform(name, table) for name, table in tables.items()}
        with self._locked():
            manifest = self.manifest()
            if expect:
                changed = [
                    name
                    for name, digest in expect.items()
                    if self._entry_digest(manifest, name) != digest
                ]
                if changed:
                    raise WorkspaceError(
                        f"The stage {stage} read {', '.join(changed)}, which another neco "
                        "process changed while it ran; nothing was committed. Run it again."
                    )
            old_parts: list[Path] = []
            for name in [*conformed, *replaces]:
                if name in manifest.get("tables", {}):
                    old_parts += self.table_files(name)
                    del manifest["tables"][name]
            for name, table in conformed.items():
                self._write_part(manifest, name, table)
                manifest["tables"][name]["stage"] = stage
            if stage is not None:
                manifest.setdefault("stages", {})[stage] = {"finished": _now(), **(record or {})}
            self._commit(manifest)
            for part in old_parts:
                part.unlink(missing_ok=True)
            if files is not None and files.is_dir():
                for file in sorted(p for p in files.rglob("*") if p.is_file()):
                    target = self.path / file.relative_to(files)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(file, target)
                shutil.rmtree(files, ignore_errors=True)

    def record_stage(self, stage: str, record: dict[str, Any]) -> None:
        """Record in the manifest that ``stage`` ran (or was skipped) without new tables."""
        self.commit_stage(stage, {}, record)

    def staging_dir(self) -> Path:
        """A fresh folder for a stage's side files (graphs), inside the workspace."""
        folder = self.path / ".staging" / f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        folder.mkdir(parents=True)
        return folder

    # ------------------------------------------------------------------ digests

    def _entry_digest(self, manifest: dict[str, Any], name: str) -> str | None:
        entry = manifest.get("tables", {}).get(name)
        if entry is None:
            return None
        if "digest" in entry:
            return str(entry["digest"])
        # A workspace from before digests were recorded: hash the parts now.
        folder = self.path / entry["dir"]
        return _combine([_file_digest(folder / p) for p in entry["parts"]])

    def table_digest(self, name: str) -> str | None:
        """SHA-256 of table ``name``'s parts (None when the table does not exist)."""
        return self._entry_digest(self.manifest(), name)

    def column_digest(self, name: str, columns: Sequence[str]) -> str | None:
        """A content hash of some columns of table ``name`` (None when it does not exist).

        Stages that read only some columns of a table (the corpus, mostly) depend on those
        alone: changing a caption's text does not make the discourse graph stale.
        """
        import pandas as pd

        if name not in self.manifest().get("tables", {}):
            return None
        frame = self.read_table(name, columns).to_pandas()
        for col in frame.columns:  # nested values (lists) hash through their text form
            if (
                frame[col].dtype == object
                and len(frame)
                and not isinstance(frame[col].iloc[0], str)
            ):
                frame[col] = frame[col].astype(str)
        hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
        header = json.dumps(list(columns)).encode()
        return hashlib.sha256(header + hashed.tobytes()).hexdigest()

    def settings(self) -> dict[str, Any]:
        """Workspace-wide settings (the item sample's size and seed, ...)."""
        return dict(self.manifest().get("settings", {}))

    def set_settings(self, **values: Any) -> None:
        """Change workspace-wide settings in one commit."""
        with self._locked():
            manifest = self.manifest()
            manifest.setdefault("settings", {}).update(values)
            self._commit(manifest)

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
        specs = as_specs(sources)
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
            new_specs: list[SourceSpec] = []
            shas: list[str] = []
            for spec in specs:
                path = Path(spec.path)
                sha = sha256_of(path)  # a SourceError when the source is missing
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
                new_specs.append(spec)
                shas.append(sha)
            built = read_sources(
                new_specs,
                existing_ids=existing_ids,
                known_links=self._known_links,
                keys={s["key"] for s in manifest.get("sources", [])},
                progress=progress,
            )
            results = [
                (result, sha, str(Path(result.spec.path).resolve()))
                for result, sha in zip(built, shas, strict=True)
            ]
            for result, sha, resolved in results:
                report = source_report(result, sha, resolved)
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
