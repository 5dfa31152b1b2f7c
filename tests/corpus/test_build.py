"""read_sources: the one ingest loop, and the corpus package's place below the workspace."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import neco.corpus
from neco.corpus import Corpus, SourceSpec
from neco.corpus.build import read_sources, source_key
from neco.corpus.report import source_report
from neco.errors import SourceError
from neco.progress import Progress


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


class RecordingProgress(Progress):
    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def task(self, description: str, total: float | None = None) -> Any:
        self.events.append(("task", description))
        return description

    def finish(self, handle: Any) -> None:
        self.events.append(("finish", handle))


def test_build_source_key_counts_past_taken_keys():
    assert source_key(Path("x/a.csv"), set()) == "a.csv"
    assert source_key(Path("x/a.csv"), {"a.csv"}) == "a.csv#2"
    assert source_key(Path("x/a.csv"), {"a.csv", "a.csv#2", "b.csv"}) == "a.csv#3"


def test_build_read_sources_keys_ids_and_cross_source_replies(tmp_path):
    first = _write(tmp_path / "one" / "a.csv", "id,text,reply_to\n1,a kite,\n2,a heron,\n")
    # same file name in another folder; replies to the first source; id 1 is taken
    second = _write(tmp_path / "two" / "a.csv", "id,text,reply_to\n3,nice kite,1\n1,again,\n")
    ids = {"0"}
    progress = RecordingProgress()
    results = read_sources(
        [
            SourceSpec(first, columns={"parent": "reply_to"}),
            SourceSpec(second, columns={"parent": "reply_to"}),
        ],
        existing_ids=ids,
        keys={"a.csv"},
        progress=progress,
    )
    assert [r.key for r in results] == ["a.csv#2", "a.csv#3"]
    assert ids == {"0", "1", "2", "3"}
    assert results[1].accepted.column("parent_id").to_pylist() == ["1"]
    assert results[1].accepted.column("thread_id").to_pylist() == ["1"]
    assert results[0].accepted.column("thread_id").to_pylist() == ["1", None]
    assert results[1].rejected_by_reason == {"duplicate_id": 1}
    assert progress.events == [
        ("task", "reading a.csv#2"),
        ("finish", "reading a.csv#2"),
        ("task", "reading a.csv#3"),
        ("finish", "reading a.csv#3"),
    ]


def test_build_read_sources_asks_for_known_links_only_when_needed(tmp_path):
    calls: list[int] = []

    def known() -> dict[str, tuple[str | None, str | None]]:
        calls.append(1)
        return {"old": (None, "thread-of-old")}

    plain = _write(tmp_path / "plain.csv", "id,text\n1,a kite\n")
    read_sources([plain], existing_ids=set(), known_links=known)
    assert calls == []  # no reply links: the workspace need not be read
    replies = _write(tmp_path / "replies.csv", "id,text,parent\n2,nice,old\n3,who?,gone\n")
    [result] = read_sources([replies], existing_ids=set(), known_links=known)
    assert calls == [1]
    # a parent read earlier is kept (its thread is inherited); an unknown one is removed
    assert result.accepted.column("parent_id").to_pylist() == ["old", None]
    assert result.accepted.column("thread_id").to_pylist() == ["thread-of-old", None]
    assert dict(result.repairs) == {"dangling_parent": 1}
    # a mapping works as well as a function
    [again] = read_sources([replies], known_links={"old": (None, None), "gone": (None, None)})
    assert again.accepted.column("parent_id").to_pylist() == ["old", "gone"]


def test_build_read_sources_missing_source_is_a_source_error(tmp_path):
    with pytest.raises(SourceError, match=r"^Source not found: .*nowhere\.csv"):
        read_sources([tmp_path / "nowhere.csv"])


def test_build_source_report_counts(tmp_path):
    path = _write(tmp_path / "c.csv", "text,group\nb kite,z\n,z\na heron,a\nc owl,z\n")
    [result] = read_sources([SourceSpec(path, columns={"community": "group"})])
    report = source_report(result, "abc", "/x/c.csv")
    assert (report.key, report.path, report.sha256, report.status) == (
        "c.csv",
        "/x/c.csv",
        "abc",
        "ingested",
    )
    assert (report.rows_read, report.accepted, report.rejected) == (4, 3, 1)
    assert report.communities == {"a": 1, "z": 2}
    assert list(report.communities) == ["a", "z"]  # sorted by name
    assert report.rejected_by_reason == {"empty_text": 1}


def test_corpus_from_sources_uses_read_sources(tmp_path):
    # two sources of one file name get distinct keys, as in a workspace
    first = _write(tmp_path / "one" / "a.csv", "id,text\n1,a kite\n")
    second = _write(tmp_path / "two" / "a.csv", "id,text\n2,a heron\n")
    corpus = Corpus.from_sources([first, second])
    assert corpus.rows["source"].tolist() == ["a.csv", "a.csv#2"]
    assert [s.key for s in corpus.report.sources] == ["a.csv", "a.csv#2"]
    assert corpus.report.sources[0].path == str(first)


# --------------------------------------------------------------------------- layering


def _imported_modules(path: Path) -> list[str]:
    """Modules a file imports, including ``importlib.import_module("...")`` by name."""
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            names += [base] + [f"{base}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Call) and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                func = ast.unparse(node.func)
                if func.endswith(("import_module", "__import__")):
                    names.append(first.value)
    return names


def test_corpus_package_never_imports_the_workspace():
    files = sorted(Path(neco.corpus.__file__).parent.glob("*.py"))
    assert len(files) >= 8
    offenders = {
        f"{path.name}: {name}"
        for path in files
        for name in _imported_modules(path)
        if name == "neco.workspace" or name.startswith("neco.workspace.")
    }
    assert offenders == set()


def test_corpus_reads_without_loading_the_workspace(tmp_path):
    source = _write(tmp_path / "a.csv", "id,text,parent\n1,a kite,\n2,nice,1\n")
    code = (
        "import sys\n"
        "from neco.corpus import Corpus\n"
        f"corpus = Corpus.from_source({str(source)!r}, parent_col='parent')\n"
        "assert len(corpus) == 2\n"
        "print(sorted(m for m in sys.modules if m.startswith('neco.workspace')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]"
