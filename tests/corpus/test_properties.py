"""Property-based tests of every reader: whatever the bytes, either a clear NecoError or
``accepted + rejected == rows read``, each rejected row with a known reason and a sentence.

Inputs are drawn by hypothesis from the shapes that broke readers before (byte-order marks
mid-file, lone carriage returns, NULs, CESU-8 and stray bytes, lone surrogate escapes, deep
nesting, ids that are lists, symbolic links) mixed with random bytes. The runs are seeded
(``derandomize=True``: the same examples on every machine), bounded (``max_examples``) and keep
no example database, so a failure reproduces from the test alone.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neco.cli import main
from neco.corpus import REJECT_REASONS, Corpus
from neco.errors import NecoError

BOUNDED = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Pieces that broke readers before, as bytes; random bytes are mixed in between.
PIECES = [
    b",",
    b"\t",
    b";",
    b'"',
    b"\n",
    b"\r",
    b"\r\n",
    b"\xef\xbb\xbf",  # a byte-order mark, also mid-file
    b"\x00",
    b"text",
    b"id",
    b"text,id\n",
    b"caf\xc3\xa9",
    b"\xed\xa0\xbd\xed\xb8\x80",  # CESU-8
    b"\xff\xfe",
    b"\xe9",  # cp1252 e-acute
    b"=1+1",
    b"\\ud800",
    b"[[[[[[[[",
    b"{",
    b"}",
]

texts = st.text(
    alphabet=st.characters(codec=None, exclude_categories=()),  # surrogates included
    max_size=12,
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), texts)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(texts | st.just("text"), inner, max_size=4)
    ),
    max_leaves=12,
)
# Records that look like captions often enough for rows to be accepted, and not otherwise.
records = st.one_of(
    st.fixed_dictionaries(
        {"text": json_values},
        optional={"id": json_values, "community": json_values, "image": json_values},
    ),
    json_values,
)


def _dumps(value: Any, ascii_only: bool) -> str:
    # ensure_ascii writes lone surrogates as \ud800 escapes; without it they cannot be encoded
    return json.dumps(value, ensure_ascii=ascii_only)


def _lines(values: list[Any], ascii_only: bool, garbage: list[bytes]) -> bytes:
    lines = [_dumps(v, True).encode() for v in values] if ascii_only else []
    if not ascii_only:
        lines = [_dumps(v, False).encode("utf-8", "surrogatepass") for v in values]
    for i, junk in enumerate(garbage):
        lines.insert(i % (len(lines) + 1), junk)
    return b"\n".join(lines)


def _holds(path: Path, **options: Any) -> None:
    """The property: a NecoError with a short message, or every row read accounted for."""
    try:
        corpus = Corpus.from_source(path, **options)
    except NecoError as exc:
        assert 0 < len(str(exc)) < 2000
        return
    [source] = corpus.report.sources
    assert source.accepted + source.rejected == source.rows_read
    assert (len(corpus.rows), len(corpus.rejected)) == (source.accepted, source.rejected)
    assert set(corpus.rejected["reason"]) <= set(REJECT_REASONS)
    assert all(isinstance(d, str) and d for d in corpus.rejected["detail"])
    assert corpus.rows["id"].is_unique


def _in_tmp(write: Callable[[Path], Path], **options: Any) -> None:
    with tempfile.TemporaryDirectory() as folder:
        _holds(write(Path(folder)), **options)


# --------------------------------------------------------------------------- delimited


@pytest.mark.parametrize("fmt", ["csv", "tsv"])
@BOUNDED
@given(pieces=st.lists(st.sampled_from(PIECES) | st.binary(max_size=8), max_size=60))
def test_properties_delimited(fmt: str, pieces: list[bytes]) -> None:
    def write(folder: Path) -> Path:
        path = folder / f"f.{fmt}"
        path.write_bytes(b"text,id\n" + b"".join(pieces))
        return path

    _in_tmp(write, format=fmt)


@BOUNDED
@given(data=st.binary(max_size=400))
def test_properties_random_bytes_any_format(data: bytes) -> None:
    for fmt in ("csv", "jsonl", "json", "coco", "visdial", "reddit"):
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "f.dat"
            path.write_bytes(data)
            _holds(path, format=fmt)


# --------------------------------------------------------------------------- JSON


@pytest.mark.parametrize("fmt", ["jsonl", "visdial", "reddit"])
@BOUNDED
@given(
    values=st.lists(records, max_size=8),
    ascii_only=st.booleans(),
    garbage=st.lists(st.sampled_from(PIECES), max_size=3),
)
def test_properties_json_lines(
    fmt: str, values: list[Any], ascii_only: bool, garbage: list[bytes]
) -> None:
    if fmt == "visdial":
        values = [{"caption": v, "dialog": v, "image_id": 1} for v in values]
    elif fmt == "reddit":
        values = [{"subreddit": "s", "body": v, "url": v, "id": v} for v in values]

    def write(folder: Path) -> Path:
        path = folder / "f.jsonl"
        path.write_bytes(_lines(values, ascii_only, garbage))
        return path

    _in_tmp(write, format=fmt)


@pytest.mark.parametrize("fmt", ["json", "coco", "visdial"])
@BOUNDED
@given(values=st.lists(records, max_size=8), wrap=st.booleans())
def test_properties_json_documents(fmt: str, values: list[Any], wrap: bool) -> None:
    doc: Any = values
    if fmt == "coco":
        images = [{"id": v, "file_name": v} for v in values]
        doc = {"images": images, "annotations": values, "licenses": values}
    elif fmt == "visdial":
        doc = {"data": {"dialogs": values, "questions": values, "answers": values}}
    elif wrap:
        doc = {"records": values}

    def write(folder: Path) -> Path:
        path = folder / "f.json"
        path.write_text(_dumps(doc, True), encoding="utf-8")
        return path

    _in_tmp(write, format=fmt)


# --------------------------------------------------------------------------- Arrow


cells = st.one_of(st.none(), st.text(max_size=10), st.just(""), st.just("NA"))


@BOUNDED
@given(text=st.lists(cells, max_size=10), ids=st.lists(cells, max_size=10))
def test_properties_parquet(text: list[str | None], ids: list[str | None]) -> None:
    n = min(len(text), len(ids))

    def write(folder: Path) -> Path:
        path = folder / "f.parquet"
        pq.write_table(pa.table({"text": text[:n], "id": ids[:n]}, schema=_SCHEMA), path)
        return path

    _in_tmp(write)


_SCHEMA = pa.schema([("text", pa.string()), ("id", pa.string())])


@BOUNDED
@given(
    text=st.lists(cells, max_size=10), names=st.lists(st.sampled_from(["a", "../x"]), max_size=2)
)
def test_properties_hf_folders(text: list[str | None], names: list[str]) -> None:
    def write(folder: Path) -> Path:
        dataset = folder / "ds"
        dataset.mkdir()
        table = pa.table({"text": text}, schema=pa.schema([("text", pa.string())]))
        files = []
        for i, name in enumerate(names or ["a"]):
            filename = f"{name}-{i}.arrow"
            target = (dataset / filename).resolve()
            target.parent.mkdir(parents=True, exist_ok=True)
            with pa.ipc.new_stream(target, table.schema) as writer:
                writer.write_table(table)
            files.append({"filename": filename})
        (dataset / "state.json").write_text(json.dumps({"_data_files": files}), "utf-8")
        (dataset / "dataset_info.json").write_text("{}", "utf-8")
        return dataset

    _in_tmp(write)


# --------------------------------------------------------------------------- image folders


stems = st.text(alphabet="abc", min_size=1, max_size=3)


@BOUNDED
@given(
    files=st.dictionaries(
        st.tuples(stems, st.sampled_from([".txt", ".png", ".caption"])),
        st.binary(max_size=30) | st.sampled_from(PIECES),
        max_size=8,
    ),
    links=st.lists(st.tuples(stems, st.sampled_from([".txt", ".png"])), max_size=2),
    allow=st.booleans(),
)
def test_properties_image_folders(
    files: dict[tuple[str, str], bytes], links: list[tuple[str, str]], allow: bool
) -> None:
    def write(folder: Path) -> Path:
        images = folder / "images"
        images.mkdir()
        outside = folder / "outside.txt"
        outside.write_text("a secret outside the folder", encoding="utf-8")
        for (stem, suffix), data in files.items():
            (images / f"{stem}{suffix}").write_bytes(data)
        (images / "z.png").write_bytes(b"\x89PNG")  # at least one image: an image folder
        for stem, suffix in links:
            link = images / f"link{stem}{suffix}"
            if not link.exists():
                os.symlink(outside, link)
        return images

    with tempfile.TemporaryDirectory() as folder:
        images = write(Path(folder))
        _holds(images, allow_outside_root=allow)
        try:
            corpus = Corpus.from_source(images, allow_outside_root=allow)
        except NecoError:
            return
        if not allow:  # the secret beside the folder is never read as a caption
            assert "a secret outside the folder" not in corpus.rows["text"].tolist()


# --------------------------------------------------------------------------- the command


@settings(BOUNDED, max_examples=10)
@given(pieces=st.lists(st.sampled_from(PIECES) | st.binary(max_size=8), max_size=40))
def test_properties_cli_ingest_exits_0_or_2(pieces: list[bytes]) -> None:
    # A traceback would be an exception out of main(); a user error is exit code 2.
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "f.csv"
        path.write_bytes(b"text,id\n" + b"".join(pieces))
        code = main(["ingest", str(path), "-w", str(Path(folder) / "ws"), "--json"])
        assert code in (0, 2)
        if code == 0:
            info = json.loads((Path(folder) / "ws" / "manifest.json").read_text(encoding="utf-8"))
            [source] = info["sources"]
            assert source["accepted"] + source["rejected"] == source["rows_read"]
