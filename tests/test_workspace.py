"""The workspace: append, no-op re-ingest, atomic commits, DuckDB views."""

from __future__ import annotations

import fcntl
import hashlib
import json
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
