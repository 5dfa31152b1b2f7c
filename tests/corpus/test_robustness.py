"""Garbage in: every reader either reads (with accepted + rejected == rows read) or stops with
a NecoError — never another exception. Every byte comes from ``random.Random(seed)``, so a
failure reproduces from its seed. Then the hostile files of issue 12, each built here: formats
read wrongly before, inputs that ended in tracebacks, and inputs that exhausted memory."""

from __future__ import annotations

import gzip
import json
import random
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import neco.corpus.build as build
import neco.corpus.sources as sources
from neco.corpus import Corpus, SourceSpec
from neco.errors import NecoError, SourceError
from tests.conftest import REPO

LINES_CSV = ["a,1", '"unterminated,2', "x,y,z", "", "\x00,3", "é,4", "a\rb,5", "ok,6"]
LINES_JSON = [
    '{"text": "a"}',
    '{"text": 1}',
    "[1,2]",
    "{",
    "null",
    '{"text": null}',
    '{"text": {"a":1}}',
    '"str"',
    '{"dialog": 3}',
    '{"subreddit": 1, "body": null}',
]


def _garbage(rng: random.Random) -> bytes:
    kind = rng.random()
    if kind < 0.3:
        # random bytes of any value, drawn from the seeded generator (not os.urandom)
        return rng.randbytes(rng.randint(0, 2000))
    if kind < 0.6:
        rows = "\n".join(rng.choice(LINES_CSV) for _ in range(20))
        return ("text,id\n" + rows).encode(rng.choice(["utf-8", "latin-1", "utf-16"]))
    return "\n".join(rng.choice(LINES_JSON) for _ in range(10)).encode()


@pytest.mark.parametrize("seed", range(4))
def test_robustness_random_inputs_never_crash(tmp_path, seed):
    rng = random.Random(seed)
    for i in range(40):
        ext = rng.choice([".csv", ".tsv", ".jsonl", ".json", ".txt", ".parquet", ""])
        path = tmp_path / f"f{i}{ext}"
        path.write_bytes(_garbage(rng))
        try:
            corpus = Corpus.from_source(path)
        except NecoError:
            continue
        for source in corpus.report.sources:
            assert source.accepted + source.rejected == source.rows_read


def test_robustness_garbage_is_reproducible_from_its_seed():
    first = [_garbage(random.Random(seed)) for seed in range(20)]
    again = [_garbage(random.Random(seed)) for seed in range(20)]
    assert first == again
    assert len(set(first)) > 1  # and the seeds do give different inputs


def _reasons(corpus: Corpus) -> list[tuple[int, str]]:
    return list(zip(corpus.rejected["record"], corpus.rejected["reason"], strict=True))


def _balanced(corpus: Corpus) -> None:
    for source in corpus.report.sources:
        assert source.accepted + source.rejected == source.rows_read


# --------------------------------------------------------------------------- formats


def test_robustness_lone_carriage_returns_end_lines(tmp_path):
    # Old Mac files end lines with a bare CR; Python's csv reads them, so neco does.
    path = tmp_path / "mac.csv"
    path.write_bytes(b"text,id\rA red kite,1\rTwo herons,2\r\rA heron,3")
    corpus = Corpus.from_source(path)
    assert corpus.texts == ["A red kite", "Two herons", "A heron"]
    assert corpus.rows["id"].tolist() == ["1", "2", "3"]
    assert corpus.rows["line"].tolist() == [2, 3, 5]


def test_robustness_header_wider_than_the_first_64_kib(tmp_path):
    # 100,000 columns: the header alone is about 690 KB, far past the first 64 KiB.
    names = [f"col{i}" for i in range(100_000)]
    rows = [
        ["text", *names],
        ["A red kite", *("x" for _ in names)],
        ["Two herons", *("y" for _ in names)],
    ]
    path = tmp_path / "wide.csv"
    path.write_text("\n".join(",".join(r) for r in rows) + "\n", encoding="utf-8")
    corpus = Corpus.from_source(path)
    assert corpus.texts == ["A red kite", "Two herons"]
    assert corpus.n_rejected == 0
    assert json.loads(corpus.rows["meta"][1])["col99999"] == "y"


def test_robustness_second_byte_order_mark_header_is_rejected_not_read(tmp_path):
    # Two CSV files joined with `cat`: the second one's BOM and header sit mid-file.
    first = "\ufefftext,id\nA red kite,1\n".encode()
    second = "\ufefftext,id\nTwo herons,2\n".encode()
    (tmp_path / "joined.csv").write_bytes(first + second)
    corpus = Corpus.from_source(tmp_path / "joined.csv")
    assert corpus.texts == ["A red kite", "Two herons"]
    [row] = corpus.rejected.to_dict("records")
    assert (row["reason"], row["line"], row["record"]) == ("repeated_header", 3, 2)
    assert (
        row["detail"] == "the header row again after a byte-order mark: two files joined into one?"
    )
    _balanced(corpus)


def test_robustness_cesu8_surrogates_reject_only_their_rows(tmp_path):
    # One row holds U+1F600 written as CESU-8 (two 3-byte surrogates): six stray bytes against
    # one 2-byte "é", which used to tip the whole file into a cp1252 fallback ("cafÃ©").
    cesu = "\U0001f600".encode("utf-16-be")
    high, low = int.from_bytes(cesu[:2], "big"), int.from_bytes(cesu[2:], "big")
    surrogates = chr(high).encode("utf-8", "surrogatepass") + chr(low).encode(
        "utf-8", "surrogatepass"
    )
    data = "text,id\nun café,1\n".encode() + b"smile " + surrogates + b",2\nA kite,3\n"
    (tmp_path / "cesu.csv").write_bytes(data)
    corpus = Corpus.from_source(tmp_path / "cesu.csv")
    assert corpus.texts == ["un café", "A kite"]
    assert _reasons(corpus) == [(2, "undecodable")]
    assert (
        corpus.rejected["raw"][0] == '{"text": "smile \\xed\\xa0\\xbd\\xed\\xb8\\x80", "id": "2"}'
    )
    source = corpus.report.sources[0]
    assert source.encoding == "utf-8"
    assert "CESU-8" in " ".join(source.notes)


def test_robustness_nul_filled_file_gives_a_short_message(tmp_path):
    (tmp_path / "nul.csv").write_bytes(b"\0" * 200_000)
    with pytest.raises(SourceError) as err:
        Corpus.from_source(tmp_path / "nul.csv")
    message = str(err.value)
    assert message.startswith("No text column found")
    assert len(message) < 400
    assert "more characters)" in message


# --------------------------------------------------------------------------- tracebacks


def _deep(levels: int) -> str:
    return "[" * levels + "]" * levels


def test_robustness_jsonl_nested_too_deep_rejects_that_line_only(tmp_path):
    lines = ['{"text": "A red kite"}', '{"text": ' + _deep(100_000) + "}", '{"text": "A heron"}']
    (tmp_path / "deep.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    corpus = Corpus.from_source(tmp_path / "deep.jsonl")
    assert corpus.texts == ["A red kite", "A heron"]
    [row] = corpus.rejected.to_dict("records")
    assert (row["reason"], row["line"], row["detail"]) == (
        "malformed_json",
        2,
        "nested too deeply to parse",
    )


def test_robustness_json_document_nested_too_deep_is_a_source_error(tmp_path):
    (tmp_path / "deep.json").write_text(_deep(100_000), encoding="utf-8")
    with pytest.raises(SourceError, match="nested deeper than Python's parser allows"):
        Corpus.from_source(tmp_path / "deep.json")


def test_robustness_nesting_that_parses_but_is_absurd_is_too_nested(tmp_path):
    # 150 levels parse, but writing the record as JSON later would need deep recursion.
    records = [{"text": "A kite", "x": json.loads(_deep(150))}, {"text": "A heron"}]
    (tmp_path / "nested.json").write_text(json.dumps(records), encoding="utf-8")
    corpus = Corpus.from_source(tmp_path / "nested.json")
    assert corpus.texts == ["A heron"]
    assert _reasons(corpus) == [(1, "too_nested")]


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_robustness_lone_surrogate_escape_is_a_rejected_row(tmp_path, fmt):
    records = ['{"id": "a", "text": "half \\ud800 a pair"}', '{"id": "b", "text": "A kite"}']
    text = "[" + ",".join(records) + "]" if fmt == "json" else "\n".join(records)
    (tmp_path / f"s.{fmt}").write_text(text, encoding="utf-8")
    corpus = Corpus.from_source(tmp_path / f"s.{fmt}")
    assert corpus.texts == ["A kite"]
    [row] = corpus.rejected.to_dict("records")
    assert (row["reason"], row["id"]) == ("undecodable", "a")
    assert row["detail"].startswith("a lone surrogate")
    assert row["raw"] == '{"id": "a", "text": "half \\ud800 a pair"}'


# --------------------------------------------------------------------------- limits


def test_robustness_record_longer_than_the_limit_is_too_long_and_reading_goes_on(tmp_path):
    # An unclosed quote swallows the lines after it into one record until the limit stops it.
    lines = ["text,id", '"an unclosed quote,1'] + [f"caption number {i},{i + 2}" for i in range(40)]
    (tmp_path / "quote.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    corpus = Corpus.from_source(tmp_path / "quote.csv", max_record_length=200)
    [row] = corpus.rejected.to_dict("records")
    assert (row["reason"], row["record"], row["line"]) == ("too_long", 1, 2)
    # 21 characters on line 2, 19 on each of lines 3-10, 20 on lines 11 and 12: 213 > 200
    assert row["detail"] == (
        "record of 213 characters (lines 2-12) is longer than the limit of 200; "
        "pass --max-record-length to read it"
    )
    first = corpus.rows.iloc[0]  # reading goes on after the swallowed lines
    assert (first["line"], first["text"]) == (13, "caption number 10")
    assert len(corpus) == 40 - 10
    _balanced(corpus)


def test_robustness_one_huge_line_is_read_past_not_held(tmp_path):
    huge = "x" * 3_000_000
    lines = ['{"text": "A kite"}', '{"text": "' + huge + '"}', '{"text": "A heron"}']
    (tmp_path / "huge.jsonl").write_text("\n".join(lines), encoding="utf-8")
    corpus = Corpus.from_source(tmp_path / "huge.jsonl", max_record_length=10_000)
    assert corpus.texts == ["A kite", "A heron"]
    [row] = corpus.rejected.to_dict("records")
    assert (row["reason"], row["line"]) == ("too_long", 2)
    assert row["detail"].startswith("record of at least 3,000,01")
    assert len(row["raw"]) == 200  # the beginning only


def test_robustness_field_longer_than_the_limit_is_too_long(tmp_path):
    pa_rows = pa.table({"text": ["A kite", "k" * 50, "A heron"], "id": ["1", "2", "3"]})
    pq.write_table(pa_rows, tmp_path / "t.parquet")
    corpus = Corpus.from_source(tmp_path / "t.parquet", max_field_length=40)
    assert corpus.texts == ["A kite", "A heron"]
    [row] = corpus.rejected.to_dict("records")
    assert row["reason"] == "too_long"
    assert (
        row["detail"] == "'text' holds more than 40 characters; pass --max-field-length to read it"
    )


def test_robustness_json_document_too_large_is_refused(tmp_path):
    (tmp_path / "big.json").write_text(json.dumps([{"text": "kite"}] * 1000), encoding="utf-8")
    with pytest.raises(SourceError, match=r"JSON document larger than 0 MiB.*convert it to JSON"):
        Corpus.from_source(tmp_path / "big.json", max_json_bytes=10_000)
    assert len(Corpus.from_source(tmp_path / "big.json")) == 1000


def test_robustness_decompression_bomb_stops_with_a_source_error(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "_EXPANSION_FLOOR", 1 << 18)  # 256 KiB instead of 64 MiB
    path = tmp_path / "bomb.jsonl.gz"
    with gzip.open(path, "wb") as fh:
        fh.write(b'{"text": "a"}\n' * 40_000)  # 560 KB of rows, about 1 KB compressed
    assert path.stat().st_size < 2000
    with pytest.raises(SourceError, match=r"expands more than 200 times: .* decompression bomb"):
        Corpus.from_source(path)
    assert len(Corpus.from_source(path, max_expansion=0)) == 40_000


def test_robustness_limits_are_checked_and_kept_out_of_the_manifest_when_default():
    with pytest.raises(SourceError, match="'max_record_length' option of a source must be a pos"):
        SourceSpec("a.csv", max_record_length=0)
    with pytest.raises(SourceError, match="'max_expansion' option of a source must be a number"):
        SourceSpec("a.csv", max_expansion=-1)
    assert "max_record_length" not in SourceSpec("a.csv").options()
    assert SourceSpec("a.csv", max_record_length=9).options()["max_record_length"] == 9


# --------------------------------------------------------------------------- text survives


def test_robustness_hostile_captions_survive_byte_exact_in_text_raw(tmp_path):
    rng = random.Random(12)
    pieces = [
        '=HYPERLINK("http://x.example/?"&A1,"click")',
        "+1-2",
        "@SUM(A1)",
        "<script>alert(1)</script><b>bold</b>",
        "\u202eRTL override\u202c and \u05e9\u05dc\u05d5\u05dd",
        "zero\u200bwidth\u2060joiner",
        "family \U0001f468\u200d\U0001f469\u200d\U0001f467 and flag \U0001f1e9\U0001f1ea",
    ]
    captions = [f"{rng.choice(pieces)} {rng.choice(pieces)}" for _ in range(30)]
    records = [{"id": str(i), "text": c} for i, c in enumerate(captions)]
    (tmp_path / "hostile.jsonl").write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in records), encoding="utf-8"
    )
    corpus = Corpus.from_source(tmp_path / "hostile.jsonl")
    assert corpus.rows["text_raw"].tolist() == captions
    assert corpus.n_rejected == 0


# --------------------------------------------------------------------------- memory


def test_robustness_rows_reach_the_sink_in_bounded_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(build, "CHUNK_RECORDS", 100)
    rows = "\n".join(json.dumps({"id": str(i), "text": f"caption {i}"}) for i in range(1050))
    (tmp_path / "rows.jsonl").write_text(rows + "\n", encoding="utf-8")

    class Spy(build.MemorySink):
        def __init__(self) -> None:
            super().__init__()
            self.sizes: list[int] = []

        def append(self, key, table, rows):
            self.sizes.append(rows.num_rows)
            super().append(key, table, rows)

    spy = Spy()
    [result] = build.read_sources([tmp_path / "rows.jsonl"], sink=spy)
    assert spy.sizes == [100] * 10 + [50]
    assert result.accepted.num_rows == 0  # the rows went to the sink, not into the result
    assert (result.accepted_rows, result.rows_read) == (1050, 1050)


_PEAK = """
import resource, sys
sys.path.insert(0, {repo!r})
from neco.workspace import Workspace
Workspace(sys.argv[2]).ingest([sys.argv[1]])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _peak_kib(script, source, ws):
    proc = subprocess.run(
        [sys.executable, str(script), str(source), str(ws)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return int(proc.stdout.split()[-1])


@pytest.mark.slow
def test_robustness_peak_memory_of_ingest_does_not_grow_with_the_text(tmp_path):
    # Before rows were streamed, every accepted row stayed in memory (about 2.5 KB each here):
    # 150,000 more rows cost 375 MB more. Now they cost their ids only (about 100 B each).
    rng = random.Random(3)
    words = ["kite", "heron", "marsh", "dawn", "light", "stone", "river", "carved"]
    script = tmp_path / "peak.py"
    script.write_text(_PEAK.format(repo=str(REPO)), encoding="utf-8")
    peaks = []
    for n in (30_000, 180_000):
        path = tmp_path / f"rows{n}.jsonl.gz"
        with gzip.open(path, "wt", compresslevel=1, encoding="utf-8") as fh:
            for i in range(n):
                text = " ".join(rng.choice(words) for _ in range(160))
                fh.write(json.dumps({"id": f"r{i}", "text": text}) + "\n")
        peaks.append(_peak_kib(script, path, tmp_path / f"ws{n}"))
    grown_mib = (peaks[1] - peaks[0]) / 1024
    assert grown_mib < 60, f"peak grew by {grown_mib:.0f} MiB for 150,000 more rows"
