"""Each format read from a small hand-made file, with exact accepted/rejected counts."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from neco.corpus import Corpus, SourceSpec
from neco.corpus.sources import detect_encoding, detect_format
from neco.errors import SourceError
from tests.conftest import READERS


def _none(value):
    """pandas shows missing strings as NaN; compare them as None."""
    return None if value is None or value != value else value


def _col(corpus: Corpus, name: str) -> list:
    return [_none(v) for v in corpus.rows[name].tolist()]


def _by_id(corpus: Corpus) -> dict[str, dict]:
    return {
        row["id"]: {k: _none(v) for k, v in row.items()}
        for row in corpus.rows.to_dict(orient="records")
    }


def _reasons(corpus: Corpus) -> list[tuple[int, str]]:
    return sorted(zip(corpus.rejected["record"], corpus.rejected["reason"], strict=True))


def _balanced(corpus: Corpus) -> None:
    for s in corpus.report.sources:
        assert s.accepted + s.rejected == s.rows_read


# --------------------------------------------------------------------------- detection


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("basic.csv", "csv"),
        ("tabs.tsv", "tsv"),
        ("posts.jsonl", "jsonl"),
        ("array.json", "json"),
        ("wrapped.json", "json"),
        ("coco_small.json", "coco"),
        ("visdial_small.jsonl", "visdial"),
        ("imagefolder", "imagefolder"),
        ("imagefolder_meta", "imagefolder"),
    ],
)
def test_sources_detect_format(name, expected):
    assert detect_format(READERS / name) == expected


def test_sources_detect_format_missing_and_unknown(tmp_path):
    with pytest.raises(SourceError, match="Source not found"):
        detect_format(tmp_path / "nope.csv")
    odd = tmp_path / "data.xlsx"
    odd.write_bytes(b"PK\x03\x04 binary")
    with pytest.raises(SourceError, match=r"Unknown format .*'\.xlsx'"):
        detect_format(odd)


def test_sources_detect_encoding():
    assert detect_encoding((READERS / "bom_utf8.csv").read_bytes()).encoding == "utf-8-sig"
    assert detect_encoding((READERS / "utf16.csv").read_bytes()).encoding == "utf-16"
    cp = detect_encoding((READERS / "cp1252.csv").read_bytes())
    assert (cp.encoding, cp.note) == ("cp1252", "not valid UTF-8; decoded as cp1252 (fallback)")
    bare16 = detect_encoding("text,id\nabc,1\n".encode("utf-16-le"))
    assert bare16.encoding == "utf-16-le"
    # 0x81 is undefined in CP1252, so only Latin-1 can decode it
    assert detect_encoding(b"caf\xe9 \x81").encoding == "latin-1"
    with pytest.raises(SourceError, match="Unknown encoding 'klingon'"):
        detect_encoding(b"", "klingon")


# --------------------------------------------------------------------------- delimited


def test_readers_csv_basic_counts_reasons_and_repairs():
    corpus = Corpus.from_csv(READERS / "basic.csv")
    src = corpus.report.sources[0]
    assert (src.rows_read, src.accepted, src.rejected) == (6, 3, 3)
    assert src.rejected_by_reason == {"duplicate_id": 1, "empty_text": 2}
    assert src.columns == {
        "text": "caption",
        "id": "id",
        "community": "community",
        "author": "author",
        "timestamp": "created_at",
    }
    assert _reasons(corpus) == [(3, "empty_text"), (4, "empty_text"), (5, "duplicate_id")]
    rejected = corpus.rejected.set_index("record")
    assert rejected.loc[4, "detail"] == "text is a missing-value placeholder 'NA'"
    assert rejected.loc[5, "detail"] == "id 'c1' is already used by record 1 of this source"
    assert list(rejected["line"]) == [5, 6, 7]  # c2 spans lines 3-4
    rows = _by_id(corpus)
    assert rows["c2"]["text"] == "Two herons, one grey, one white, standing in reeds"
    assert rows["c2"]["text_raw"] == "Two herons, one grey, one white,\nstanding in reeds"
    assert rows["c2"]["line"] == 3
    assert rows["c5"]["text"] == "Caf\u00e9 au lait by the harbour"
    assert rows["c5"]["community"] == "unlabelled"
    assert rows["c5"]["repairs"] == (
        "community column 'community' empty; labelled 'unlabelled'; "
        "timestamp 'not a date' not understood, left empty"
    )
    assert str(rows["c1"]["timestamp"]) == "2024-03-01 10:00:00+00:00"
    assert json.loads(rows["c1"]["meta"]) == {"extra": "x"}
    assert corpus.counts == {"coast": 1, "unlabelled": 1, "wetland": 1}


def test_readers_csv_sniffs_semicolon_and_tsv():
    semi = Corpus.from_source(READERS / "semicolon.csv")
    assert semi.texts == ["Bowl; blue and white", "A lacquered box"]
    assert semi.communities == ["ceramics", "lacquer"]
    assert semi.report.sources[0].notes == ["delimiter: semicolon"]
    tabs = Corpus.from_source(READERS / "tabs.tsv", community="prompters")
    assert tabs.texts == ["castle on a hill, matte painting", "(glowing eyes:1.3), portrait"]
    assert tabs.rows["author"].tolist() == ["zed", "yan"]
    assert tabs.rows["id"].tolist() == ["prompters:1", "prompters:2"]


@pytest.mark.parametrize(
    ("name", "encoding", "texts"),
    [
        ("bom_utf8.csv", "utf-8-sig", ["Gänse am Ufer", "Überflutete Wiese"]),
        ("utf16.csv", "utf-16", ["Étang gelé au matin", "Pont sous la neige"]),
        ("cp1252.csv", "cp1252", ["Café terrace at night – oil", "Smörgåsbord on a table"]),
    ],
)
def test_readers_csv_encodings(name, encoding, texts):
    corpus = Corpus.from_source(READERS / name)
    assert corpus.texts == texts
    assert corpus.report.sources[0].encoding == encoding
    assert corpus.report.sources[0].columns["text"] == "text"  # no BOM glued to the header
    assert corpus.rows["id"].tolist()[0][0] in "gfw"


def test_readers_csv_cp1252_fallback_is_reported():
    notes = Corpus.from_source(READERS / "cp1252.csv").report.sources[0].notes
    assert "not valid UTF-8; decoded as cp1252 (fallback)" in notes


def test_readers_csv_stray_bytes_row_rejected_as_undecodable():
    corpus = Corpus.from_source(READERS / "stray_bytes.csv")
    assert corpus.rows["id"].tolist() == ["s1", "s2", "s4"]
    assert corpus.texts[0] == "Naïve painting of a ferry"
    (row,) = corpus.rejected.to_dict(orient="records")
    assert (row["record"], row["line"], row["reason"], row["id"]) == (3, 4, "undecodable", "s3")
    assert "Caf\\xe9 sign" in row["raw"]  # the original byte is kept, escaped
    _balanced(corpus)


def test_readers_csv_ragged_rows_rejected():
    corpus = Corpus.from_source(READERS / "ragged.csv")
    assert corpus.rows["id"].tolist() == ["r1", "r4"]
    assert _reasons(corpus) == [(2, "malformed_row"), (3, "malformed_row")]
    details = corpus.rejected["detail"].tolist()
    assert details == [
        "expected 3 fields as in the header, found 2",
        "expected 3 fields as in the header, found 4",
    ]
    assert corpus.rejected["raw"].tolist()[0] == "Too few fields,r2"


def test_readers_missing_text_column_lists_columns():
    with pytest.raises(SourceError) as info:
        Corpus.from_source(READERS / "no_text_column.csv")
    message = str(info.value)
    assert "No text column found" in message
    assert "Columns found: 'img', 'judge', 'response'" in message


def test_readers_given_column_not_found():
    with pytest.raises(SourceError, match=r"The text column 'body' was not found .* 'caption'"):
        Corpus.from_source(READERS / "basic.csv", columns={"text": "body"})


# --------------------------------------------------------------------------- JSON


def test_readers_jsonl_malformed_lines_and_discourse_repairs():
    corpus = Corpus.from_source(READERS / "posts.jsonl")
    src = corpus.report.sources[0]
    assert (src.rows_read, src.accepted, src.rejected) == (12, 8, 4)
    assert src.rejected_by_reason == {
        "malformed_json": 1,
        "missing_field": 1,
        "not_an_object": 1,
        "not_text": 1,
    }
    lines = dict(zip(corpus.rejected["reason"], corpus.rejected["line"], strict=True))
    assert lines == {"malformed_json": 8, "not_an_object": 9, "missing_field": 11, "not_text": 12}
    assert src.repairs == {"dangling_parent": 1, "reply_cycle": 2}
    rows = _by_id(corpus)
    assert rows["p2"]["parent_id"] == "p1"
    assert rows["p4"]["parent_id"] is None
    assert rows["p4"]["repairs"] == "parent_id 'p99' removed: no caption has that id"
    # In the cycle p5 <-> p6 the row read first (p5) loses its link and becomes the root.
    assert rows["p5"]["parent_id"] is None
    assert rows["p5"]["repairs"] == "parent_id 'p6' removed: reply cycle of 2 rows"
    assert rows["p6"]["parent_id"] == "p5"
    assert rows["p7"]["repairs"] == "parent_id 'p7' removed: reply cycle of 1 rows"
    # Threads: an explicit thread id is kept; reply chains get their root's thread.
    assert [rows[i]["thread_id"] for i in ("p1", "p2", "p3", "p11")] == ["T1"] * 4
    assert (rows["p5"]["thread_id"], rows["p6"]["thread_id"]) == ("p5", "p5")
    assert rows["p4"]["thread_id"] is None and rows["p7"]["thread_id"] is None
    assert corpus.rows["author"].tolist() == ["ana", "ben", "cy", "dee", "eve", "fay", "gus", "jo"]


def test_readers_json_array_and_wrapped():
    arr = Corpus.from_source(READERS / "array.json")
    assert arr.rows["id"].tolist() == ["1", "2"]
    assert arr.rows["lang"].tolist() == ["en", "de"]
    assert _reasons(arr) == [(3, "empty_text"), (4, "not_an_object")]
    wrapped = Corpus.from_source(READERS / "wrapped.json")
    assert wrapped.texts == ["Wrapped record one", "Wrapped record two"]
    assert wrapped.report.sources[0].notes == ["records read from the key 'data'"]


def test_readers_coco():
    corpus = Corpus.from_source(READERS / "coco_small.json", community="coco")
    assert corpus.rows["id"].tolist() == ["100", "101", "102"]
    assert corpus.rows["image"].tolist() == ["000010.jpg", "000010.jpg", "000011.jpg"]
    assert json.loads(corpus.rows["meta"][2]) == {
        "image_id": 11,
        "coco_url": None,
        "flickr_url": None,
        "width": 500,
        "height": 375,
        "license": "CC BY 4.0",
        "date_captured": None,
    }
    assert _reasons(corpus) == [(4, "empty_text"), (5, "duplicate_id")]


def test_readers_visdial_turns_linked_in_order():
    corpus = Corpus.from_source(READERS / "visdial_small.jsonl")
    assert corpus.rows["id"].tolist() == ["vd7", "vd7-t1", "vd7-t2", "vd8", "vd8-t1"]
    assert corpus.texts == [
        "a cat sleeping on a red sofa",
        "is the cat black? no, ginger",
        "is there a cushion? yes",
        "two boats on a lake",
        "are they sailing boats? rowing boats",
    ]
    assert _col(corpus, "parent_id") == [None, "vd7", "vd7-t1", None, "vd8"]
    assert corpus.rows["thread_id"].tolist() == ["vd7"] * 3 + ["vd8"] * 2
    assert _reasons(corpus) == [(6, "malformed_json")]
    assert corpus.rejected["line"].tolist() == [3]


def test_readers_visdial_per_utterance():
    corpus = Corpus.from_source(READERS / "visdial_small.jsonl", dialog_rows="utterance")
    first = corpus.rows[corpus.rows["thread_id"] == "vd7"]
    assert first["text"].tolist() == [
        "a cat sleeping on a red sofa",
        "is the cat black",
        "no, ginger",
        "is there a cushion?",
        "yes",
    ]
    assert first["author"].tolist() == [
        "captioner",
        "questioner",
        "answerer",
        "questioner",
        "answerer",
    ]
    assert [_none(v) for v in first["parent_id"]] == [None, "vd7", "vd7-t1q", "vd7-t1a", "vd7-t2q"]


# --------------------------------------------------------------------------- binary formats


def test_readers_parquet(tmp_path):
    table = pa.table(
        {
            "caption": ["a lily pond", None, "a stone bridge"],
            "score": [0.5, 0.25, 1.0],
            "tags": [["water"], [], ["stone", "arch"]],
        }
    )
    path = tmp_path / "prompts.parquet"
    pq.write_table(table, path)
    corpus = Corpus.from_source(path)
    assert corpus.report.sources[0].format == "parquet"
    assert corpus.texts == ["a lily pond", "a stone bridge"]
    assert corpus.rows["id"].tolist() == ["prompts:1", "prompts:3"]
    assert json.loads(corpus.rows["meta"][1]) == {"score": 1.0, "tags": ["stone", "arch"]}
    assert _reasons(corpus) == [(2, "empty_text")]


def test_readers_hf_dataset_and_dataset_dict(tmp_path):
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_dict(
        {"text": ["a red bicycle", "a blue door", ""], "label": [1, 0, 1]}
    )
    ds.save_to_disk(str(tmp_path / "single"))
    corpus = Corpus.from_source(tmp_path / "single")
    assert corpus.report.sources[0].format == "hf"
    assert corpus.texts == ["a red bicycle", "a blue door"]
    assert [json.loads(m) for m in corpus.rows["meta"]] == [{"label": 1}, {"label": 0}]
    assert _reasons(corpus) == [(3, "empty_text")]

    dd = datasets.DatasetDict({"train": ds.select([0, 1]), "test": ds.select([1])})
    dd.save_to_disk(str(tmp_path / "dict"))
    both = Corpus.from_source(tmp_path / "dict", id_prefix="hf-")
    assert both.texts == ["a red bicycle", "a blue door", "a blue door"]
    assert [json.loads(m)["split"] for m in both.rows["meta"]] == ["train", "train", "test"]
    assert both.rows["id"].tolist() == ["hf-dict:1", "hf-dict:2", "hf-dict:3"]


def test_readers_image_folder_sidecars():
    corpus = Corpus.from_source(READERS / "imagefolder")
    assert corpus.rows["id"].tolist() == ["a", "sub/d"]
    assert corpus.texts == ["a watercolour of a fox", "a pencil sketch of a heron"]
    assert all(Path(p).is_file() and Path(p).is_absolute() for p in corpus.rows["image"])
    assert _reasons(corpus) == [(2, "no_caption"), (3, "no_image")]
    no_image = corpus.rejected.set_index("reason").loc["no_image"]
    assert no_image["raw"] == "caption without image"
    assert no_image["detail"] == "caption file c.txt has no image beside it"


def test_readers_image_folder_metadata_jsonl():
    corpus = Corpus.from_source(READERS / "imagefolder_meta")
    assert corpus.texts == ["a fox in snow", "a hare at dusk"]
    assert [Path(p).name for p in corpus.rows["image"]] == ["x.png", "y.png"]


# --------------------------------------------------------------------------- constructors


def test_corpus_from_df_and_several_sources():
    import pandas as pd

    df = pd.DataFrame({"text": ["one", None, "three"], "id": [1, 2, 3], "when": [1, 2, 3]})
    corpus = Corpus.from_df(df, name="frame", community="tests")
    assert corpus.rows["id"].tolist() == ["1", "3"]
    assert corpus.counts == {"tests": 2}
    combined = Corpus.from_sources(
        [SourceSpec(READERS / "semicolon.csv"), SourceSpec(READERS / "tabs.tsv", community="p")]
    )
    assert len(combined) == 4
    assert combined.communities == ["ceramics", "lacquer", "p"]
    assert combined.community("p").texts[0] == "castle on a hill, matte painting"
    with pytest.raises(SourceError, match="No community 'zzz'"):
        combined.community("zzz")


def test_corpus_balances_for_every_fixture():
    for name in (
        "basic.csv",
        "posts.jsonl",
        "array.json",
        "coco_small.json",
        "visdial_small.jsonl",
        "imagefolder",
        "ragged.csv",
        "stray_bytes.csv",
    ):
        _balanced(Corpus.from_source(READERS / name))


# --------------------------------------------------------------------------- more layouts


def test_readers_reddit_posts_and_comments():
    corpus = Corpus.from_source(READERS / "reddit_small.jsonl")
    src = corpus.report.sources[0]
    assert src.format == "reddit"
    assert (src.rows_read, src.accepted, src.rejected) == (5, 4, 1)
    assert corpus.rejected["detail"].tolist() == ["text is a missing-value placeholder '[removed]'"]
    rows = _by_id(corpus)
    assert list(rows) == ["t3_abc1", "t1_c1", "t1_c2", "t3_def2"]
    assert rows["t3_abc1"]["text"] == (
        "First roll of Portra 400 through my dad's old Pentax Shot at box speed, lab scans. "
        "The greens came out warmer than I expected."
    )
    assert rows["t3_def2"]["text"] == "ITAP of a heron at dawn"  # the [deleted] body is dropped
    assert rows["t3_def2"]["author"] is None
    assert rows["t1_c2"]["parent_id"] == "t1_c1"
    assert {rows[i]["thread_id"] for i in ("t3_abc1", "t1_c1", "t1_c2")} == {"t3_abc1"}
    assert rows["t3_abc1"]["image"] == "https://i.example.org/abc1.jpg"
    assert rows["t3_def2"]["image"] is None
    assert corpus.counts == {"analog": 3, "itookapicture": 1}
    assert str(rows["t1_c1"]["timestamp"]) == "2023-11-14 22:23:20+00:00"


def test_readers_compressed_sources(tmp_path):
    import gzip

    import zstandard

    raw = (READERS / "reddit_small.jsonl").read_bytes()
    zst = tmp_path / "RC_2023-11.zst"
    zst.write_bytes(zstandard.ZstdCompressor().compress(raw))
    assert len(Corpus.from_source(zst)) == 4
    gz = tmp_path / "basic.csv.gz"
    gz.write_bytes(gzip.compress((READERS / "basic.csv").read_bytes()))
    corpus = Corpus.from_source(gz)
    assert corpus.report.sources[0].format == "csv"
    assert len(corpus) == 3


def test_readers_headerless_tsv(tmp_path):
    path = tmp_path / "Train_GCC-training.tsv"
    path.write_text(
        "a dog runs on the beach\thttp://img.example.org/1.jpg\n"
        "sunset over the old harbour\thttp://img.example.org/2.jpg\n",
        encoding="utf-8",
    )
    corpus = Corpus.from_source(
        path, header=False, columns={"text": "column_1", "image": "column_2"}
    )
    assert corpus.texts == ["a dog runs on the beach", "sunset over the old harbour"]
    assert corpus.rows["image"].tolist()[1] == "http://img.example.org/2.jpg"
    assert corpus.rows["line"].tolist() == [1, 2]


def test_readers_relative_image_paths_resolved_when_present(tmp_path):
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.jpg").write_bytes(b"\xff\xd8\xff")
    src = tmp_path / "captions.csv"
    src.write_text(
        "text,image\nhas a file,img/a.jpg\nno file,img/missing.jpg\nremote,https://x.org/b.jpg\n",
        encoding="utf-8",
    )
    images = Corpus.from_source(src).rows["image"].tolist()
    assert images == [
        str((tmp_path / "img" / "a.jpg").resolve()),
        "img/missing.jpg",
        "https://x.org/b.jpg",
    ]
    other_root = Corpus.from_source(src, image_root=tmp_path / "img").rows["image"].tolist()
    assert other_root[0] == "img/a.jpg"  # not under that root
