"""The workspace: append, no-op re-ingest, atomic commits, DuckDB views."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil

import duckdb
import pytest

from neco.corpus import SourceSpec
from neco.errors import NecoError, WorkspaceError
from neco.workspace import Workspace
from tests.conftest import READERS


def _copy(tmp_path, name):
    target = tmp_path / name
    shutil.copy(READERS / name, target)
    return target


def test_workspace_ingest_writes_tables_manifest_and_hashes(tmp_path):
    ws = Workspace(tmp_path / "ws")
    report = ws.ingest([READERS / "basic.csv", SourceSpec(READERS / "tabs.tsv", community="p")])
    assert (report.rows_read, report.accepted, report.rejected) == (8, 5, 3)
    manifest = json.loads((tmp_path / "ws" / "manifest.json").read_text())
    sha = hashlib.sha256((READERS / "basic.csv").read_bytes()).hexdigest()
    assert manifest["sources"][0]["sha256"] == sha
    assert manifest["sources"][0]["options"]["format"] is None
    assert manifest["sources"][0]["rejected_by_reason"] == {"empty_text": 2, "duplicate_id": 1}
    assert manifest["tables"]["corpus"]["rows"] == 5
    assert manifest["tables"]["rejected"]["rows"] == 3
    assert "pyarrow" in manifest["package_versions"]
    assert sorted(ws.corpus()["id"]) == ["c1", "c2", "c5", "p:1", "p:2"]
    assert ws.rejected()["reason"].tolist() == ["empty_text", "empty_text", "duplicate_id"]
    assert (tmp_path / "ws" / "corpus.parquet").is_dir()


def test_workspace_reingest_same_content_is_a_noop(tmp_path):
    ws = Workspace(tmp_path / "ws")
    ws.ingest([READERS / "basic.csv"])
    before = (tmp_path / "ws" / "manifest.json").read_text()
    copy = _copy(tmp_path, "basic.csv")  # same bytes, other path
    report = ws.ingest([copy])
    assert [s.status for s in report.sources] == ["unchanged"]
    assert report.sources[0].notes[0].startswith("same content, read the same way, already")
    assert (tmp_path / "ws" / "manifest.json").read_text() == before
    assert len(ws.corpus()) == 3
    # the same file read another way (another text column, a prefix) is a new source
    other = ws.ingest([SourceSpec(copy, columns={"text": "author"}, id_prefix="by-author:")])
    assert [s.status for s in other.sources] == ["ingested"]
    assert other.sources[0].key == "basic.csv#2"
    assert len(ws.corpus()) == 3 + 5


def test_workspace_append_rejects_ids_used_by_earlier_source(tmp_path):
    ws = Workspace(tmp_path / "ws")
    ws.ingest([READERS / "basic.csv"])
    other = tmp_path / "more.csv"
    other.write_text("id,caption\nc2,reused id\nc9,fresh id\n", encoding="utf-8")
    report = ws.ingest([other])
    assert (report.accepted, report.rejected) == (1, 1)
    rejected = ws.rejected()
    row = rejected[rejected["source"] == "more.csv"].iloc[0]
    assert (row["reason"], row["detail"]) == (
        "duplicate_id",
        "id 'c2' is already used by an earlier source",
    )
    assert len(ws.corpus()) == 4
    assert len(ws.table_files("corpus")) == 2  # appended a part, did not rewrite


def test_workspace_id_prefix_keeps_sources_apart(tmp_path):
    ws = Workspace(tmp_path / "ws")
    ws.ingest([SourceSpec(READERS / "posts.jsonl", id_prefix="a/")])
    copy = tmp_path / "posts2.jsonl"
    copy.write_bytes((READERS / "posts.jsonl").read_bytes() + b"\n")
    ws.ingest([SourceSpec(copy, id_prefix="b/")])
    corpus = ws.corpus()
    assert len(corpus) == 16
    b2 = corpus.set_index("id").loc["b/p2"]
    assert (b2["parent_id"], b2["thread_id"]) == ("b/p1", "b/T1")


def test_workspace_reply_to_caption_of_earlier_ingest(tmp_path):
    ws = Workspace(tmp_path / "ws")
    ws.ingest([READERS / "posts.jsonl"])
    late = tmp_path / "late.jsonl"
    late.write_text('{"post_id": "q1", "body": "late reply", "reply_to": "p3"}\n', "utf-8")
    report = ws.ingest([late])
    assert report.repairs == {}
    q1 = ws.corpus().set_index("id").loc["q1"]
    assert (q1["parent_id"], q1["thread_id"]) == ("p3", "T1")


def test_workspace_interrupted_ingest_leaves_previous_state(tmp_path, monkeypatch):
    ws = Workspace(tmp_path / "ws")
    ws.ingest([READERS / "basic.csv"])
    manifest_before = (tmp_path / "ws" / "manifest.json").read_text()

    def crash(self, manifest):
        raise KeyboardInterrupt

    monkeypatch.setattr(Workspace, "_commit", crash)
    with pytest.raises(KeyboardInterrupt):
        ws.ingest([READERS / "tabs.tsv"])
    monkeypatch.undo()
    # The new part was written but never committed: readers do not see it.
    assert len(list((tmp_path / "ws" / "corpus.parquet").glob("*.parquet"))) == 2
    assert (tmp_path / "ws" / "manifest.json").read_text() == manifest_before
    assert len(ws.corpus()) == 3
    assert ws.sql("SELECT count(*) AS n FROM corpus").column("n").to_pylist() == [3]
    # The next write removes the orphan and the source can be ingested for real.
    ws.ingest([READERS / "tabs.tsv"])
    assert len(list((tmp_path / "ws" / "corpus.parquet").glob("*.parquet"))) == 2
    assert len(ws.corpus()) == 5


def test_workspace_sql_and_duckdb_file_views(tmp_path):
    ws = Workspace(tmp_path / "ws")
    ws.ingest([READERS / "basic.csv", READERS / "ragged.csv"])
    counts = ws.sql("SELECT community, count(*) AS n FROM corpus GROUP BY 1 ORDER BY 1")
    assert counts.to_pylist() == [
        {"community": "coast", "n": 1},
        {"community": "ragged", "n": 2},
        {"community": "unlabelled", "n": 1},
        {"community": "wetland", "n": 1},
    ]
    reasons = ws.sql("SELECT reason, count(*) AS n FROM rejected GROUP BY 1 ORDER BY 1")
    assert reasons.to_pylist() == [
        {"reason": "duplicate_id", "n": 1},
        {"reason": "empty_text", "n": 2},
        {"reason": "malformed_row", "n": 2},
    ]
    # Any DuckDB client sees the views in neco.duckdb.
    with duckdb.connect(str(tmp_path / "ws" / "neco.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM corpus").fetchone() == (5,)
    with pytest.raises(Exception, match="Views: corpus, rejected"):
        ws.sql("SELECT * FROM nowhere")


def test_workspace_write_table_registers_a_view(tmp_path):
    import pyarrow as pa

    ws = Workspace(tmp_path / "ws")
    ws.ingest([READERS / "tabs.tsv"])
    edges = {"source": ["a", "b"], "target": ["b", "c"], "weight": [0.5, 0.25]}
    ws.write_table("social/semantic_edges", pa.table(edges))
    ws.write_table("social/semantic_edges", pa.table({k: v[:1] for k, v in edges.items()}))
    assert ws.sql("SELECT source, weight FROM social_semantic_edges").to_pylist() == [
        {"source": "a", "weight": 0.5}
    ]
    assert len(list((tmp_path / "ws" / "social" / "semantic_edges.parquet").iterdir())) == 1
    # a table that is not declared, or does not match its declaration, is refused
    with pytest.raises(NecoError, match="No table 'social/terms' is declared"):
        ws.write_table("social/terms", pa.table({"term": ["a"]}))
    with pytest.raises(NecoError, match="missing \\['weight'\\]"):
        ws.write_table("social/semantic_edges", pa.table({"source": ["a"], "target": ["b"]}))


def test_workspace_missing_and_locked(tmp_path):
    with pytest.raises(WorkspaceError, match="No neco workspace at"):
        Workspace(tmp_path / "none").summary()
    ws = Workspace(tmp_path / "ws")
    ws.path.mkdir()
    with (ws.path / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with pytest.raises(WorkspaceError, match="Another neco process is writing"):
            ws.ingest([READERS / "tabs.tsv"])


def test_workspace_summary_counts(tmp_path):
    ws = Workspace(tmp_path / "ws")
    ws.ingest([READERS / "basic.csv", READERS / "posts.jsonl"])
    summary = ws.summary()
    assert (summary["rows_read"], summary["accepted"], summary["rejected"]) == (18, 11, 7)
    assert summary["accepted"] + summary["rejected"] == summary["rows_read"]
    assert summary["communities"] == {"coast": 1, "posts": 8, "unlabelled": 1, "wetland": 1}
    assert summary["tables"] == {"corpus": 11, "rejected": 7}


def test_workspace_ingest_and_corpus_share_one_loop(tmp_path):
    """Workspace.ingest and Corpus.from_sources read the same rows, keys and repairs."""
    from pathlib import Path

    from neco.corpus import Corpus

    sources = [
        READERS / "basic.csv",
        READERS / "posts.jsonl",
        SourceSpec(_copy(tmp_path, "tabs.tsv"), community="p"),
        SourceSpec(READERS / "tabs.tsv", community="q", id_prefix="q:"),
    ]
    ws = Workspace(tmp_path / "ws")
    report = ws.ingest(sources)
    corpus = Corpus.from_sources(sources)
    stored = ws.corpus()
    assert stored["source"].tolist() == corpus.rows["source"].tolist()
    assert "tabs.tsv#2" in set(stored["source"])
    for column in ("id", "text", "community", "parent_id", "thread_id", "repairs"):
        assert stored[column].fillna("-").tolist() == corpus.rows[column].fillna("-").tolist()
    assert ws.rejected()["reason"].tolist() == corpus.rejected["reason"].tolist()
    for in_ws, in_memory in zip(report.sources, corpus.report.sources, strict=True):
        assert (in_ws.key, in_ws.sha256, in_ws.rows_read, in_ws.repairs) == (
            in_memory.key,
            in_memory.sha256,
            in_memory.rows_read,
            in_memory.repairs,
        )
        assert in_ws.path == str(Path(in_memory.path).resolve())


def test_workspace_ingest_missing_source_writes_nothing(tmp_path):
    from neco.errors import SourceError

    ws = Workspace(tmp_path / "ws")
    ws.ingest([READERS / "basic.csv"])
    before = (tmp_path / "ws" / "manifest.json").read_text()
    with pytest.raises(SourceError, match=r"^Source not found: .*nowhere\.csv\. Expected a file"):
        ws.ingest([READERS / "tabs.tsv", tmp_path / "nowhere.csv"])
    assert (tmp_path / "ws" / "manifest.json").read_text() == before
    assert len(ws.corpus()) == 3


def test_workspace_unchanged_sources_are_reported_before_new_ones(tmp_path):
    ws = Workspace(tmp_path / "ws")
    ws.ingest([READERS / "basic.csv"])
    report = ws.ingest([READERS / "tabs.tsv", READERS / "basic.csv", READERS / "tabs.tsv"])
    assert [(s.key, s.status) for s in report.sources] == [
        ("basic.csv", "unchanged"),
        ("tabs.tsv", "unchanged"),  # the same file twice in one call is read once
        ("tabs.tsv", "ingested"),
    ]


# --------------------------------------------------------------------------- issue 12: the
# workspace never harms what is outside it


def _victim(tmp_path):
    """A folder outside the workspace holding files named as neco names its parts."""
    victim = tmp_path / "victim"
    victim.mkdir()
    for name in ("part-00001-0123abcd.parquet", ".part-00002-0123abcd.parquet.tmp", "notes.txt"):
        (victim / name).write_text("precious", encoding="utf-8")
    return victim


def _edit_manifest(ws, change):
    manifest = json.loads(ws.manifest_path.read_text())
    change(manifest)
    ws.manifest_path.write_text(json.dumps(manifest), encoding="utf-8")


@pytest.mark.parametrize("folder", ["../victim", "ABSOLUTE", "corpus.parquet/../../victim"])
def test_workspace_manifest_naming_a_folder_outside_is_refused_and_deletes_nothing(
    tmp_path, folder
):
    victim = _victim(tmp_path)
    ws = Workspace(tmp_path / "ws")
    ws.ingest([READERS / "basic.csv"])
    target = str(victim) if folder == "ABSOLUTE" else folder
    _edit_manifest(
        ws,
        lambda m: m["tables"].__setitem__(
            "social/keyness", {"dir": target, "parts": [], "rows": 0}
        ),
    )
    with pytest.raises(WorkspaceError) as err:
        ws.ingest([READERS / "tabs.tsv"])
    assert str(err.value).startswith(f"{ws.manifest_path} is damaged: expected the folder of ")
    assert f"table 'social/keyness' inside the workspace, found {target!r}" in str(err.value)
    assert sorted(p.name for p in victim.iterdir()) == [
        ".part-00002-0123abcd.parquet.tmp",
        "notes.txt",
        "part-00001-0123abcd.parquet",
    ]


def test_workspace_symlinked_table_folder_leading_outside_is_refused(tmp_path):
    victim = _victim(tmp_path)
    ws = Workspace(tmp_path / "ws")
    ws.ingest([READERS / "basic.csv"])
    (ws.path / "social").mkdir()
    (ws.path / "social" / "keyness.parquet").symlink_to(victim, target_is_directory=True)
    _edit_manifest(
        ws,
        lambda m: m["tables"].__setitem__(
            "social/keyness", {"dir": "social/keyness.parquet", "parts": [], "rows": 0}
        ),
    )
    with pytest.raises(WorkspaceError, match="inside the workspace"):
        ws.ingest([READERS / "tabs.tsv"])
    assert len(list(victim.iterdir())) == 3


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("[]", "expected a JSON object, found []"),
        ('{"tables": []}', "expected 'tables' to be a dict, found []"),
        ('{"tables": {"corpus": {"dir": "corpus.parquet", "rows": 3}}}', "the parts of table"),
        (
            '{"tables": {"corpus": {"dir": "corpus.parquet", "parts": [], "rows": "3"}}}',
            "expected a row count for table 'corpus', found '3'",
        ),
        (
            '{"tables": {"corpus": {"dir": "c", "parts": ["../../etc/passwd"], "rows": 0}}}',
            "part-NNNNN-*.parquet, found ['../../etc/passwd']",
        ),
        ('{"sources": [{"key": "a"}]}', "expected each source to have 'sha256', found None"),
        ("{", "Cannot read"),
    ],
)
def test_workspace_manifest_of_the_wrong_shape_is_a_clear_error(tmp_path, content, expected):
    ws = Workspace(tmp_path / "ws")
    ws.ingest([READERS / "basic.csv"])
    ws.manifest_path.write_text(content, encoding="utf-8")
    with pytest.raises(WorkspaceError, match=re.escape(expected)) as err:
        ws.summary()
    assert str(ws.manifest_path) in str(err.value)


def test_workspace_clean_up_deletes_only_what_neco_wrote(tmp_path):
    ws = Workspace(tmp_path / "ws")
    ws.ingest([READERS / "basic.csv"])
    folder = ws.path / "corpus.parquet"
    mine = {
        folder / "notes.txt": "a user's notes",
        folder / "part-1.parquet": "not neco's name",
        folder / "backup-part-00001-0123abcd.parquet": "not neco's name either",
        ws.path / ".my-settings.tmp": "a user's file",
    }
    for path, text in mine.items():
        path.write_text(text, encoding="utf-8")
    orphan = folder / "part-00009-deadbeef.parquet"  # neco's name, listed nowhere
    orphan.write_bytes(b"left by a killed ingest")
    ws.ingest([READERS / "tabs.tsv"])
    assert not orphan.exists()
    assert {p: p.read_text(encoding="utf-8") for p in mine} == mine


def test_workspace_path_that_is_a_file_or_cannot_be_made_is_a_clear_error(tmp_path):
    not_a_folder = tmp_path / "passwd"
    not_a_folder.write_text("root:x:0:0\n", encoding="utf-8")
    with pytest.raises(WorkspaceError, match="passwd is a file, not a folder"):
        Workspace(not_a_folder).ingest([READERS / "basic.csv"])
    assert not_a_folder.read_text(encoding="utf-8") == "root:x:0:0\n"
    with pytest.raises(WorkspaceError, match=r"Cannot make the workspace .*: Not a directory"):
        Workspace(not_a_folder / "ws").ingest([READERS / "basic.csv"])


# --------------------------------------------------------------------------- SQL


@pytest.fixture
def sql_ws(tmp_path):
    ws = Workspace(tmp_path / "ws")
    ws.ingest([READERS / "basic.csv", READERS / "tabs.tsv"])
    return ws


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("DROP VIEW corpus", "found DROP"),
        ("CREATE TABLE corpus AS SELECT 1 AS id", "found CREATE"),
        ("SELECT 1; DROP VIEW corpus", "found DROP"),
        ("COPY (SELECT 1 AS id) TO 'PART' (FORMAT parquet)", "found COPY"),
        ("ATTACH 'other.duckdb'", "found ATTACH"),
        ("SET enable_external_access = true", "found SET"),
        ("INSTALL httpfs", "found"),
        ("SELECT * FROM read_text('SECRET')", "cannot reach files"),
        ("SELECT * FROM read_csv('SECRET')", "cannot reach files"),
    ],
)
def test_workspace_sql_is_read_only(sql_ws, tmp_path, query, expected):
    secret = tmp_path / "secret.txt"
    secret.write_text("the password", encoding="utf-8")
    part = sql_ws.table_files("corpus")[0]
    query = query.replace("SECRET", str(secret)).replace("PART", str(part))
    with pytest.raises(NecoError, match=re.escape(expected)):
        sql_ws.sql(query)
    assert sql_ws.verify() == {}
    assert sql_ws.sql("SELECT count(*) AS n FROM corpus").column("n").to_pylist() == [5]


def test_workspace_sql_queries_still_work(sql_ws):
    assert sql_ws.sql("SELECT 1 AS a; SELECT count(*) AS n FROM rejected").to_pylist() == [{"n": 3}]
    described = sql_ws.sql("DESCRIBE corpus").column("column_name").to_pylist()
    assert described[:3] == ["id", "text", "text_raw"]
    assert sql_ws.sql("EXPLAIN SELECT * FROM corpus").num_rows == 1


def test_workspace_sql_write_keeps_the_users_tables_in_their_own_database(sql_ws, tmp_path):
    mine = tmp_path / "mine.duckdb"
    sql_ws.sql(
        "CREATE TABLE kites AS SELECT id, text FROM corpus WHERE text ILIKE '%kite%'", write=mine
    )
    again = sql_ws.sql("SELECT count(*) AS n FROM kites", write=mine)
    assert again.column("n").to_pylist() == [1]
    with pytest.raises(NecoError, match="Table with name kites does not exist"):
        sql_ws.sql("SELECT * FROM kites")  # not in the workspace
    with duckdb.connect(str(mine), read_only=True) as con:  # the views were not stored there
        assert [r[0] for r in con.execute("SHOW TABLES").fetchall()] == ["kites"]
    with pytest.raises(WorkspaceError, match="must be outside the workspace"):
        sql_ws.sql("SELECT 1", write=sql_ws.path / "mine.duckdb")


def test_workspace_verify_finds_a_part_changed_behind_its_back(sql_ws, tmp_path):
    import pyarrow.parquet as pq

    from neco.stages import table_states

    assert sql_ws.verify() == {}
    part = sql_ws.table_files("corpus")[0]
    # what `COPY (SELECT ...) TO part` did before neco sql was read-only
    sql_ws.sql(
        f"COPY (SELECT * FROM corpus LIMIT 1) TO '{part}' (FORMAT parquet)",
        write=tmp_path / "x.duckdb",
    )
    assert pq.ParquetFile(part).metadata.num_rows == 1
    assert sql_ws.verify() == {
        "corpus": [
            f"{part.name} was changed (its SHA-256 differs from the manifest's)",
        ]
    }
    state = next(s for s in table_states(sql_ws) if s.name == "corpus")
    assert (state.state, state.why.split(":")[0]) == ("stale", "changed outside neco")
    assert sql_ws.summary()["integrity"] == sql_ws.verify()
    assert len(sql_ws.corpus()) == 1 + 2  # still readable: the tampered part and the other
    part.write_bytes(b"not parquet at all")
    assert sql_ws.verify()["corpus"][-1] == f"{part.name} is not a readable Parquet file"
    with pytest.raises(WorkspaceError, match=r"Cannot read the table corpus of .* not what neco"):
        sql_ws.corpus()
    part.unlink()
    assert sql_ws.verify()["corpus"] == [f"{part.name} is missing"]


def test_workspace_refreshes_duckdb_views_left_stale_by_an_interrupted_commit(
    tmp_path, monkeypatch
):
    ws = Workspace(tmp_path / "ws")
    ws.ingest([READERS / "basic.csv"])
    monkeypatch.setattr(Workspace, "_refresh_views", lambda self: None)  # killed before it
    ws.ingest([READERS / "tabs.tsv"])
    monkeypatch.undo()
    with duckdb.connect(str(ws.database_path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM corpus").fetchone() == (3,)
    os.utime(ws.database_path, ns=(1, 1))  # older than the manifest, as it would be
    Workspace(ws.path).require()  # any command opening the workspace
    with duckdb.connect(str(ws.database_path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM corpus").fetchone() == (5,)


def test_workspace_parts_and_folders_are_synced_before_the_manifest(tmp_path, monkeypatch):
    import neco.workspace as workspace

    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        return real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", str(dst)))
        return real_replace(src, dst)

    monkeypatch.setattr(workspace.os, "fsync", fsync)
    monkeypatch.setattr(workspace.os, "replace", replace)
    ws = Workspace(tmp_path / "ws")
    ws.ingest([READERS / "basic.csv"])
    root = str(ws.path.resolve())
    commit = events.index(("replace", str(ws.manifest_path)))
    before, after = events[:commit], events[commit + 1 :]
    for part in ws.table_files("corpus") + ws.table_files("rejected"):
        synced = events.index(("replace", str(part)))
        assert events[synced - 1][0] == "fsync"  # the file, under its temporary name
        assert ("fsync", str(part.parent.resolve())) in before[synced:]  # then its folder
    assert ("fsync", root) in after  # and the folder holding the new manifest


def test_workspace_ingest_streams_rows_into_parts_in_chunks(tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    import neco.corpus.build as build

    monkeypatch.setattr(build, "CHUNK_RECORDS", 50)
    rows = [
        {"id": f"r{i}", "text": f"caption {i}", "reply_to": f"r{i - 1}" if i else "gone"}
        for i in range(420)
    ]
    src = tmp_path / "rows.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    ws = Workspace(tmp_path / "ws")
    report = ws.ingest([src])
    assert (report.accepted, report.repairs) == (420, {"dangling_parent": 1})
    [part] = ws.table_files("corpus")
    assert pq.ParquetFile(part).metadata.num_row_groups == 9  # 8 x 50 + 20, written as read
    corpus = ws.corpus().set_index("id")
    assert corpus["parent_id"].isna().tolist()[:2] == [True, False]  # repaired in the part
    assert corpus.loc["r0", "repairs"] == "parent_id 'gone' removed: no caption has that id"
    assert (corpus.loc["r419", "parent_id"], corpus.loc["r419", "thread_id"]) == ("r418", "r0")
    assert ws.verify() == {}


def test_workspace_failed_ingest_leaves_no_files_behind(tmp_path, monkeypatch):
    import neco.corpus.build as build

    monkeypatch.setattr(build, "CHUNK_RECORDS", 2)
    ws = Workspace(tmp_path / "ws")
    ws.ingest([READERS / "basic.csv"])
    before = sorted(p.relative_to(ws.path) for p in ws.path.rglob("*") if p.is_file())
    bad = tmp_path / "bad.json"
    bad.write_text("[" * 10 + "1", encoding="utf-8")
    with pytest.raises(NecoError, match="not valid JSON"):
        ws.ingest([READERS / "posts.jsonl", bad])  # the first is written, the second fails
    after = sorted(p.relative_to(ws.path) for p in ws.path.rglob("*") if p.is_file())
    assert after == before


def test_workspace_readers_during_an_ingest_see_the_old_state(tmp_path, monkeypatch):
    import neco.workspace as workspace

    monkeypatch.setattr("neco.corpus.build.CHUNK_RECORDS", 1)
    ws = Workspace(tmp_path / "ws")
    ws.ingest([READERS / "basic.csv"])
    seen: list[int] = []
    real = workspace._PartSink.append

    def append(self, key, table, rows):
        real(self, key, table, rows)
        other = Workspace(ws.path)  # another process, in effect
        seen.append(other.sql("SELECT count(*) AS n FROM corpus").column("n")[0].as_py())

    monkeypatch.setattr(workspace._PartSink, "append", append)
    ws.ingest([READERS / "tabs.tsv"])
    assert seen and set(seen) == {3}
    assert len(ws.corpus()) == 5


def test_workspace_image_roots_are_the_sources_folders(tmp_path):
    ws = Workspace(tmp_path / "ws")
    ws.ingest([READERS / "basic.csv", SourceSpec(READERS / "tabs.tsv", image_root=tmp_path)])
    assert ws.image_roots() == sorted([READERS.resolve(), tmp_path.resolve()])
    ws.ingest([SourceSpec(READERS / "posts.jsonl", allow_outside_root=True)])
    assert ws.image_roots() is None


_KILL_INGEST = """
import os, signal, sys
sys.path.insert(0, {repo!r})
import neco.corpus.build as build
import neco.workspace as workspace
build.CHUNK_RECORDS = 100
real = workspace._PartSink.append
calls = []
def append(self, key, table, rows):
    real(self, key, table, rows)
    calls.append(1)
    if len(calls) == int(sys.argv[3]):
        os.kill(os.getpid(), signal.SIGKILL)
workspace._PartSink.append = append
workspace.Workspace(sys.argv[1]).ingest([sys.argv[2]])
"""


@pytest.mark.parametrize("after_chunks", [1, 5])
def test_workspace_sigkill_during_a_streamed_ingest_leaves_the_previous_state(
    tmp_path, after_chunks
):
    import subprocess
    import sys

    from tests.conftest import REPO

    ws = Workspace(tmp_path / "ws")
    ws.ingest([READERS / "basic.csv"])
    before = ws.manifest_path.read_bytes()
    src = tmp_path / "many.jsonl"
    src.write_text(
        "\n".join(json.dumps({"id": f"m{i}", "text": f"caption {i}"}) for i in range(1000)),
        encoding="utf-8",
    )
    script = tmp_path / "kill.py"
    script.write_text(_KILL_INGEST.format(repo=str(REPO)), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(script), str(ws.path), str(src), str(after_chunks)],
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    assert ws.manifest_path.read_bytes() == before
    assert ws.verify() == {}
    assert ws.sql("SELECT count(*) AS n FROM corpus").column("n").to_pylist() == [3]
    leftovers = [p.name for p in (ws.path / "corpus.parquet").iterdir()]
    assert any(name.endswith(".tmp") for name in leftovers)  # the killed writer's part
    report = ws.ingest([src])  # the next write removes it and ingests exactly once
    assert (report.accepted, len(ws.corpus())) == (1000, 1003)
    assert sorted(p.name for p in (ws.path / "corpus.parquet").iterdir()) == sorted(
        ws.manifest()["tables"]["corpus"]["parts"]
    )


def test_workspace_sql_reads_half_float_vectors(sql_ws):
    import numpy as np
    import pyarrow as pa

    # Embeddings may be stored as float16; DuckDB reads Arrow float16 only widened.
    vectors = np.array([[0.5, -1.25], [2.0, 0.125]], dtype=np.float16)
    pooled = pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), 2)
    sql_ws.write_table(
        "neural/text_pooled",
        pa.table({"id": ["a", "b"], "community": ["x", "x"], "pooled": pooled}),
    )
    rows = sql_ws.sql("SELECT id, pooled[2] AS second FROM neural_text_pooled ORDER BY id")
    assert rows.to_pylist() == [{"id": "a", "second": -1.25}, {"id": "b", "second": 0.125}]


def test_workspace_language_column_can_also_be_the_community(tmp_path):
    source = tmp_path / "two_languages.csv"
    source.write_text(
        "text,lang\nEin Reiher im Nebel,de\nA heron in the fog,en\n", encoding="utf-8"
    )
    ws = Workspace(tmp_path / "ws")
    ws.ingest([SourceSpec.from_options(source, community_col="lang")])
    rows = ws.sql("SELECT text, community, lang FROM corpus ORDER BY text").to_pylist()
    assert rows == [
        {"text": "A heron in the fog", "community": "en", "lang": "en"},
        {"text": "Ein Reiher im Nebel", "community": "de", "lang": "de"},
    ]


def test_workspace_numbers_in_delimited_meta_keep_their_type(tmp_path):
    source = tmp_path / "posts.csv"
    source.write_text("title,score,ups,code\nA kite,4431,1.5,007\n", encoding="utf-8")
    ws = Workspace(tmp_path / "ws")
    ws.ingest([source])
    meta = json.loads(ws.sql("SELECT meta FROM corpus").column("meta")[0].as_py())
    assert meta == {"score": 4431, "ups": 1.5, "code": "007"}  # a leading zero stays text
    found = ws.sql("SELECT count(*) AS n FROM corpus WHERE (meta->'score')::INT > 4000")
    assert found.column("n")[0].as_py() == 1


def test_workspace_warns_when_no_image_path_resolves(tmp_path):
    (tmp_path / "pics").mkdir()
    (tmp_path / "pics" / "a.png").write_bytes(b"not really a png")
    source = tmp_path / "captions.csv"
    source.write_text("caption,image\nA kite,a.png\nA heron,b.png\n", encoding="utf-8")
    ws = Workspace(tmp_path / "ws")
    report = ws.ingest([source])  # forgot --image-root pics
    assert any("none of the 2 image paths in column 'image'" in n for n in report.sources[0].notes)
    again = Workspace(tmp_path / "ws2").ingest(
        [SourceSpec.from_options(source, image_root=tmp_path / "pics")]
    )
    assert not any("none of the" in n for n in again.sources[0].notes)  # one of two resolves
