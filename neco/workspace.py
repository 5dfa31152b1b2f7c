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
commit point: parts are written under temporary names, fsynced, renamed, their folder fsynced,
and only then does the new manifest replace the old one (write, fsync, atomic rename, fsync of
the folder). A part that no manifest lists is the remains of an interrupted write and is
removed the next time the workspace is written, so an interrupted ingest leaves the previous
workspace intact.

The Parquet parts and the manifest are the truth; ``neco.duckdb`` is a convenience for other
DuckDB clients, refreshed after each commit and whenever it is found older than the manifest.

A workspace never reaches outside its folder: every path the manifest names is checked to lie
inside it when the manifest is read (a damaged or crafted manifest stops with a
:class:`~neco.errors.WorkspaceError`), and only files named as neco names them are ever
deleted. User SQL (:meth:`Workspace.sql`) runs read-only on a fresh in-memory DuckDB
connection that cannot touch files; :meth:`Workspace.verify` checks the parts against the
row counts and SHA-256 digests the manifest recorded.
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
from neco.corpus.build import LINK_COLUMNS, read_sources
from neco.corpus.report import IngestReport, SourceReport, source_report
from neco.corpus.schema import CORPUS_SCHEMA, REJECTED_SCHEMA
from neco.corpus.sources import SourceSpec, as_specs, sha256_of
from neco.errors import NecoError, WorkspaceError, shorten
from neco.progress import Progress
from neco.versions import package_versions

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

MANIFEST_VERSION = 1
DEFAULT_WORKSPACE = Path("data") / "workspace"

# The names neco gives the files it writes; nothing else in a workspace is ever deleted.
_PART = re.compile(r"part-\d{5}-[0-9a-f]{8}\.parquet")
_PART_OR_TMP = re.compile(r"\.?part-\d{5}-[0-9a-f]{8}\.parquet(\.tmp)?")
_ATOMIC_TMP = re.compile(r"\..+\.[0-9a-f]{32}\.tmp")
_STAGING = re.compile(r"\d+-[0-9a-f]{12}")

#: Statements ``neco sql`` runs without ``--write``: queries, never changes.
READ_ONLY_STATEMENTS = ("SELECT", "EXPLAIN", "PRAGMA", "CALL")


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)  # the rename itself survives a power loss only once synced


_DIGESTS: dict[tuple[str, int, int], str] = {}


def _file_digest(path: Path) -> str:
    """SHA-256 of a file, remembered by path, size and modification time within a process."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key in _DIGESTS:
        return _DIGESTS[key]
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    _DIGESTS[key] = digest.hexdigest()
    return _DIGESTS[key]


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
        """Raise a :class:`WorkspaceError` unless the workspace exists; return ``self``.

        Also brings ``neco.duckdb``'s views up to date when a commit left them behind.
        """
        if not self.exists():
            raise WorkspaceError(
                f"No neco workspace at {self.path} (expected {self.manifest_path}). "
                "Create one with: neco ingest SOURCE -w " + str(self.path)
            )
        self._refresh_views_if_stale()
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
            manifest = json.loads(self.manifest_path.read_text("utf-8"))
        except (OSError, ValueError, RecursionError) as exc:
            raise WorkspaceError(
                f"Cannot read {self.manifest_path}: {shorten(str(exc))}. neco writes this file "
                "itself: restore it from a backup, or ingest into a new workspace folder."
            ) from exc
        return self._checked(manifest)

    def _checked(self, manifest: Any) -> dict[str, Any]:
        """``manifest`` if its shape is what neco writes and every path it names lies inside
        the workspace; else a :class:`WorkspaceError` that says what is wrong.

        Anything else would let a crafted manifest (a table whose folder is ``../victim``)
        turn neco's clean-up against files outside the workspace.
        """

        def damaged(what: str, found: Any) -> WorkspaceError:
            shown = shorten(repr(found), 120)
            return WorkspaceError(
                f"{self.manifest_path} is damaged: expected {what}, found {shown}. neco "
                "writes this file itself; restore it from a backup, or ingest into a new "
                "workspace folder (neco ingest SOURCE -w NEW_FOLDER)."
            )

        if not isinstance(manifest, dict):
            raise damaged("a JSON object", manifest)
        for key, kind in (("sources", list), ("tables", dict), ("stages", dict)):
            if key in manifest and not isinstance(manifest[key], kind):
                raise damaged(f"{key!r} to be a {kind.__name__}", manifest[key])
        for source in manifest.get("sources", []):
            if not isinstance(source, dict):
                raise damaged("each source to be an object", source)
            for key, kinds in (("key", str), ("sha256", str), ("options", dict)):
                if not isinstance(source.get(key), kinds):
                    raise damaged(f"each source to have {key!r}", source.get(key))
            if isinstance(source.get("rows_read"), bool) or not isinstance(
                source.get("rows_read"), int
            ):
                raise damaged("each source's 'rows_read' to be a count", source.get("rows_read"))
        root = self.path.resolve()
        for name, entry in manifest.get("tables", {}).items():
            if not isinstance(entry, dict):
                raise damaged(f"the table {name!r} to be an object", entry)
            folder, parts, rows = entry.get("dir"), entry.get("parts"), entry.get("rows")
            if not isinstance(folder, str) or not folder:
                raise damaged(f"a folder name as the 'dir' of table {name!r}", folder)
            relative = Path(folder)
            if (
                relative.is_absolute()
                or ".." in relative.parts
                or not (self.path / relative).resolve().is_relative_to(root)
            ):
                raise damaged(f"the folder of table {name!r} inside the workspace", folder)
            if not isinstance(parts, list) or not all(
                isinstance(p, str) and _PART.fullmatch(p) for p in parts
            ):
                raise damaged(f"the parts of table {name!r} to be part-NNNNN-*.parquet", parts)
            if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
                raise damaged(f"a row count for table {name!r}", rows)
            digests = entry.get("part_digests")
            if digests is not None and (
                not isinstance(digests, list) or len(digests) != len(parts)
            ):
                raise damaged(f"one digest per part of table {name!r}", digests)
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
        """Table ``name`` as one Arrow table.

        A part that is missing or unreadable, or whose columns no longer fit the others (it
        was replaced behind neco's back), is a :class:`WorkspaceError`, not a traceback.
        """
        try:
            parts = [
                pq.read_table(p, columns=list(columns) if columns else None)
                for p in self.table_files(name)
            ]
            # "permissive": parts written by other tools may differ in nullability only
            return pa.concat_tables(parts, promote_options="permissive") if parts else pa.table({})
        except (pa.ArrowException, OSError) as exc:
            raise WorkspaceError(
                f"Cannot read the table {name} of {self.path}: {shorten(str(exc))}. Its parts "
                "are not what neco wrote (see Workspace.verify()); ingest the sources into a "
                "new workspace, or rerun the stage that makes it with --force."
            ) from exc

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
        if self.path.exists() and not self.path.is_dir():
            raise WorkspaceError(
                f"{self.path} is a file, not a folder. Expected a workspace folder, or a path "
                "where one can be made; choose another -w."
            )
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            lock_file = (self.path / ".lock").open("w")
        except OSError as exc:
            raise WorkspaceError(
                f"Cannot make the workspace {self.path}: {exc.strerror or exc}. Expected a "
                "folder neco can write to; choose another -w."
            ) from exc
        with lock_file as lock:
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

        Only files named as neco names them (``part-NNNNN-xxxxxxxx.parquet``, its ``.tmp``,
        ``.manifest.json.<hex>.tmp``, staging folders ``<pid>-<hex>``) inside the workspace's
        table folders are touched: a file a user put there is left alone, and a manifest that
        names folders outside the workspace is refused before anything is deleted.
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
                ours = _PART_OR_TMP.fullmatch(file.name)
                if ours and file.is_file() and file.resolve() not in listed:
                    file.unlink()
        for tmp in self.path.iterdir():
            if _ATOMIC_TMP.fullmatch(tmp.name) and tmp.is_file():
                tmp.unlink()
        # Side files of stages whose process is gone (a stage stages them without the lock).
        staging = self.path / ".staging"
        if staging.is_dir() and not staging.is_symlink():
            for folder in staging.iterdir():
                if not _STAGING.fullmatch(folder.name) or folder.is_symlink():
                    continue
                if not _alive(int(folder.name.split("-")[0])):
                    shutil.rmtree(folder, ignore_errors=True)

    def _table_folder(self, manifest: dict[str, Any], name: str) -> Path:
        tables = manifest.setdefault("tables", {})
        entry = tables.setdefault(name, {"dir": f"{name}.parquet", "parts": [], "rows": 0})
        folder = self.path / entry["dir"]
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _write_part(self, manifest: dict[str, Any], name: str, table: pa.Table) -> Path:
        """Write a new part of table ``name`` (not yet committed) and list it in ``manifest``."""
        folder = self._table_folder(manifest, name)
        tmp = folder / f".part-00000-{uuid.uuid4().hex[:8]}.parquet.tmp"
        pq.write_table(table, tmp, compression="zstd")
        return self._add_part(manifest, name, tmp, table.num_rows)

    def _add_part(self, manifest: dict[str, Any], name: str, tmp: Path, rows: int) -> Path:
        """Sync the written file ``tmp``, give it its part name and list it in ``manifest``
        (committed with the manifest; until then it is an orphan that the next write
        removes)."""
        entry = manifest["tables"][name]
        folder = self.path / entry["dir"]
        part = f"part-{len(entry['parts']) + 1:05d}-{uuid.uuid4().hex[:8]}.parquet"
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, folder / part)
        _fsync_dir(folder)
        digests = entry.setdefault("part_digests", [])
        digests.append(_file_digest(folder / part))
        entry["parts"].append(part)
        entry["rows"] += rows
        entry["digest"] = _combine(digests)
        entry["updated"] = _now()
        return folder / part

    def _commit(self, manifest: dict[str, Any]) -> None:
        manifest["updated"] = _now()
        manifest["created"] = manifest.get("created") or manifest["updated"]
        manifest["package_versions"] = package_versions()
        try:
            data = json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate in a column name: written as \udcxx
            data = json.dumps(manifest, indent=2, ensure_ascii=True).encode("ascii")
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
            sink = _PartSink(self, manifest)
            try:
                built = read_sources(
                    new_specs,
                    existing_ids=existing_ids,
                    known_links=self._known_links,
                    keys={s["key"] for s in manifest.get("sources", [])},
                    progress=progress,
                    sink=sink,
                )
            except BaseException:
                sink.close()  # nothing of this call is committed: remove its files now
                raise
            results = [
                (result, sha, str(Path(result.spec.path).resolve()))
                for result, sha in zip(built, shas, strict=True)
            ]
            for result, sha, resolved in results:
                report = source_report(result, sha, resolved)
                reports.append(report)
                sink.commit_parts(result.key)
                entry = {
                    "key": result.key,
                    "path": resolved,
                    "sha256": sha,
                    "format": result.format,
                    "encoding": result.encoding,
                    "options": result.spec.options(),
                    "columns": result.columns,
                    "rows_read": result.rows_read,
                    "accepted": result.accepted_rows,
                    "rejected": result.rejected_rows,
                    "rejected_by_reason": result.rejected_by_reason,
                    "repairs": dict(result.repairs),
                    "communities": report.communities,
                    "notes": result.notes,
                    "image_root": result.image_root,
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
        """Bring ``neco.duckdb``'s views (for other DuckDB clients) up to the manifest."""
        import duckdb

        try:
            con = duckdb.connect(str(self.database_path))
        except duckdb.Error:
            return  # another process holds the database; views are refreshed on open
        # A convenience for other clients: a part it cannot read (changed outside neco) must
        # not stop the neco command that refreshes it; Workspace.verify() reports that part.
        with con, contextlib.suppress(duckdb.Error):
            wanted = {view_name(name) for name in self.manifest().get("tables", {})}
            views = con.execute(
                "SELECT view_name FROM duckdb_views() WHERE NOT internal AND schema_name = 'main'"
            ).fetchall()
            for (view,) in views:
                if view not in wanted:  # the table was removed (a stage that now skips)
                    con.execute(f'DROP VIEW "{view}"')
            for statement in self._view_sql():
                con.execute(statement)

    def _refresh_views_if_stale(self) -> None:
        """Refresh ``neco.duckdb`` when it is older than the manifest: a commit interrupted
        between the manifest and the views, or made while another client held the file."""
        try:
            if self.database_path.stat().st_mtime_ns >= self.manifest_path.stat().st_mtime_ns:
                return
        except FileNotFoundError:
            pass
        with contextlib.suppress(OSError):
            self._refresh_views()

    def _register_views(self, con: duckdb.DuckDBPyConnection) -> None:
        """A view per table on ``con``, over its parts through Arrow datasets: DuckDB then
        reads them without file access of its own, which read-only connections switch off."""
        import pyarrow.dataset as ds

        for name, entry in sorted(self.manifest().get("tables", {}).items()):
            files = [str((self.path / entry["dir"] / p).resolve()) for p in entry["parts"]]
            if not files:
                continue
            schema = pa.unify_schemas(
                [pq.read_schema(f) for f in files], promote_options="permissive"
            )
            schema = pa.schema([f.with_type(_duckdb_type(f.type)) for f in schema])
            con.register(view_name(name), ds.dataset(files, schema=schema, format="parquet"))

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A read-only DuckDB connection with a view per table (``corpus``, ``rejected``, ...).

        A fresh in-memory database: its views read the Parquet parts, it has no access to
        files (``enable_external_access`` off: no ``COPY TO``, ``read_text``, ``ATTACH``,
        extensions) and its configuration is locked, so nothing done on it can change the
        workspace or read anything else. ``neco.duckdb`` holds the same views for other
        DuckDB clients.
        """
        import duckdb

        self.require()
        con = duckdb.connect(":memory:")
        self._register_views(con)
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        return con

    def sql(self, query: str, *, write: str | Path | None = None) -> pa.Table:
        """Run ``query`` over the workspace's views and return an Arrow table.

        Read-only (:meth:`connect`): only queries (``SELECT``, ``EXPLAIN``, ``PRAGMA``,
        ``CALL``) run; anything else stops with a :class:`NecoError` before it runs. With
        ``write``, the query runs on the DuckDB database file ``write`` (outside the
        workspace), where it may create tables of its own; the workspace's views are
        temporary there and its tables still change only through neco.
        """
        import duckdb

        con = self.connect() if write is None else self._user_database(Path(write))
        with con:
            try:
                if write is None:
                    self._refuse_changes(con, query)
                relation = con.sql(query)
                if relation is None:  # a statement without a result (CREATE, SET, ...)
                    return pa.table({})
                # DuckDB 2 names it to_arrow_table; 1.x called it arrow.
                fetch = getattr(relation, "to_arrow_table", None) or relation.arrow
                table: pa.Table = fetch()
                return table
            except duckdb.PermissionException as exc:
                raise NecoError(
                    f"neco sql is read-only and cannot reach files: {shorten(str(exc))}. It "
                    "reads the workspace's tables only; to use other files or keep tables of "
                    "your own, run the query with --write FILE.duckdb (a database outside the "
                    "workspace)."
                ) from exc
            except duckdb.Error as exc:
                raise NecoError(
                    f"The query failed: {shorten(str(exc), 1000)}\n"
                    f"Views: {', '.join(map(view_name, self.tables()))}."
                ) from exc

    @staticmethod
    def _refuse_changes(con: duckdb.DuckDBPyConnection, query: str) -> None:
        for statement in con.extract_statements(query):
            kind = statement.type.name
            if kind not in READ_ONLY_STATEMENTS:
                raise NecoError(
                    f"neco sql runs queries only (SELECT, EXPLAIN, PRAGMA, CALL); found {kind}: "
                    f"{shorten(statement.query.strip(), 80)!r}. The workspace's tables change "
                    "only through neco ingest and the stages. To create tables of your own, "
                    "add --write FILE.duckdb: they are kept in that database, outside the "
                    "workspace."
                )

    def _user_database(self, database: Path) -> duckdb.DuckDBPyConnection:
        """The user's own DuckDB file with the workspace's views (temporary, not stored)."""
        import duckdb

        self.require()
        if database.resolve().is_relative_to(self.path.resolve()):
            raise WorkspaceError(
                f"--write {database}: the database must be outside the workspace {self.path}, "
                "whose files only neco writes. Expected a path such as mine.duckdb."
            )
        try:
            con = duckdb.connect(str(database))
        except duckdb.Error as exc:
            raise NecoError(f"Cannot open the database {database}: {shorten(str(exc))}") from exc
        self._register_views(con)
        return con

    # ------------------------------------------------------------------ integrity

    def verify(self) -> dict[str, list[str]]:
        """Tables whose parts differ from what the manifest recorded, with what differs.

        Every part must exist, have the SHA-256 the manifest recorded when it was written, and
        the parts together the manifest's row count: a part replaced or edited behind neco's
        back (a ``COPY ... TO`` over it, another tool) is found here. Returns ``{}`` when all
        agree.
        """
        problems: dict[str, list[str]] = {}
        for name, entry in sorted(self.require().manifest().get("tables", {}).items()):
            found: list[str] = []
            folder = self.path / entry["dir"]
            digests = entry.get("part_digests") or [None] * len(entry["parts"])
            rows = 0
            for part, digest in zip(entry["parts"], digests, strict=True):
                path = folder / part
                if not path.is_file():
                    found.append(f"{part} is missing")
                    continue
                if digest is not None and _file_digest(path) != digest:
                    found.append(f"{part} was changed (its SHA-256 differs from the manifest's)")
                try:
                    rows += pq.ParquetFile(path).metadata.num_rows
                except (pa.ArrowException, OSError):
                    found.append(f"{part} is not a readable Parquet file")
            if not found and rows != entry["rows"]:
                found.append(f"the parts hold {rows:,} rows, the manifest says {entry['rows']:,}")
            if found:
                problems[name] = found
        return problems

    def image_roots(self) -> list[Path] | None:
        """The folders the corpus's image paths were kept under, one per source (``None``
        when a source was ingested with ``allow_outside_root``): stages that open images
        refuse paths outside them."""
        roots: list[Path] = []
        for source in self.manifest().get("sources", []):
            options = source.get("options", {})
            if options.get("allow_outside_root"):
                return None
            root = source.get("image_root")
            if root is None:  # ingested before roots were recorded
                path = Path(source.get("path") or options.get("path", "."))
                given = options.get("image_root")
                root = given if given else (path if path.is_dir() else path.parent)
            roots.append(Path(root).resolve())
        return sorted(set(roots))

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
            "integrity": self.verify(),
            "stages": manifest.get("stages", {}),
            "created": manifest.get("created"),
            "updated": manifest.get("updated"),
        }


class _PartSink:
    """Writes an ingest's rows into new parts of ``corpus`` and ``rejected`` as they come.

    Each source gets one part per table, written through a ``ParquetWriter`` (a row group per
    chunk) under a temporary name; :meth:`commit_parts` syncs and names them and lists them
    in the manifest that the ingest then commits. Until that commit no reader sees them, and
    an ingest that fails leaves orphans that the next write removes (:meth:`close` removes
    them at once).
    """

    def __init__(self, ws: Workspace, manifest: dict[str, Any]) -> None:
        self.ws = ws
        self.manifest = manifest
        self.files: dict[tuple[str, str], Path] = {}
        self.writers: dict[tuple[str, str], pq.ParquetWriter] = {}
        self.rows: dict[tuple[str, str], int] = {}

    def _file(self, key: str, table: str) -> Path:
        if (key, table) not in self.files:
            folder = self.ws._table_folder(self.manifest, table)
            self.files[(key, table)] = folder / f".part-00000-{uuid.uuid4().hex[:8]}.parquet.tmp"
            self.rows[(key, table)] = 0
        return self.files[(key, table)]

    def append(self, key: str, table: str, rows: pa.Table) -> None:
        if (key, table) not in self.writers:
            schema = CORPUS_SCHEMA if table == "corpus" else REJECTED_SCHEMA
            self.writers[(key, table)] = pq.ParquetWriter(
                self._file(key, table), schema, compression="zstd"
            )
        self.writers[(key, table)].write_table(rows)
        self.rows[(key, table)] += rows.num_rows

    def _finish(self, key: str, table: str) -> Path | None:
        writer = self.writers.pop((key, table), None)
        if writer is not None:
            writer.close()
        return self.files.get((key, table))

    def links(self, key: str) -> pa.Table:
        path = self._finish(key, "corpus")
        if path is None:
            return CORPUS_SCHEMA.empty_table().select(list(LINK_COLUMNS))
        return pq.read_table(path, columns=list(LINK_COLUMNS))

    def set_links(self, key: str, columns: dict[str, list[str | None]]) -> None:
        """Rewrite the source's corpus part with repaired links, a row group at a time."""
        path = self._finish(key, "corpus")
        if path is None:
            return
        rewritten = path.with_name(f".part-00000-{uuid.uuid4().hex[:8]}.parquet.tmp")
        offset = 0
        written = pq.ParquetFile(path)
        with pq.ParquetWriter(rewritten, CORPUS_SCHEMA, compression="zstd") as writer:
            for group in range(written.num_row_groups):  # one chunk as written, at a time
                t = written.read_row_group(group)
                for name, values in columns.items():
                    part = pa.array(values[offset : offset + t.num_rows], pa.string())
                    t = t.set_column(t.schema.get_field_index(name), name, part)
                writer.write_table(t.cast(CORPUS_SCHEMA))
                offset += t.num_rows
        os.replace(rewritten, path)

    def commit_parts(self, key: str) -> None:
        """List the source's parts in the manifest: a corpus part always (empty or not), a
        rejected part when it rejected rows or the workspace has no rejected table yet."""
        for table in ("corpus", "rejected"):
            path = self._finish(key, table)
            if path is None:
                if table == "rejected" and "rejected" in self.manifest.get("tables", {}):
                    continue
                schema = CORPUS_SCHEMA if table == "corpus" else REJECTED_SCHEMA
                path = self._file(key, table)
                pq.write_table(schema.empty_table(), path, compression="zstd")
            self.ws._add_part(self.manifest, table, path, self.rows[(key, table)])
            del self.files[(key, table)]

    def close(self) -> None:
        """Close every writer; remove the files of parts not committed."""
        for key, table in list(self.writers):
            self._finish(key, table)
        for path in self.files.values():
            path.unlink(missing_ok=True)


def _duckdb_type(kind: pa.DataType) -> pa.DataType:
    """``kind`` with half floats (embeddings stored small) widened to float32, which DuckDB
    reads from Arrow (read_parquet widened them the same way)."""
    if pa.types.is_float16(kind):
        return pa.float32()
    if pa.types.is_fixed_size_list(kind):
        return pa.list_(_duckdb_type(kind.value_type), kind.list_size)
    if pa.types.is_list(kind):
        return pa.list_(_duckdb_type(kind.value_type))
    if pa.types.is_large_list(kind):
        return pa.large_list(_duckdb_type(kind.value_type))
    if pa.types.is_struct(kind):
        return pa.struct([f.with_type(_duckdb_type(f.type)) for f in kind])
    return kind


def _reading(options: dict[str, Any]) -> str:
    """The reading options of a source without its path, as a comparable string."""
    return json.dumps({k: v for k, v in options.items() if k != "path"}, sort_keys=True)
