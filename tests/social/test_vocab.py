"""neco vocab, kwic and collocates on a small workspace: filters, slices, frequency lists,
ranking, tags, stop-lists and figures, through the library, the API and the CLI."""

from __future__ import annotations

import csv
import json
import re

import pytest
from rich.console import Console

import neco
from neco import cli
from neco.cli import main
from neco.errors import NecoError
from neco.social import vocab
from neco.social.parse import ParseConfig
from neco.social.pipeline import SocialConfig, run_social
from neco.workspace import Workspace

# (id, title, community, date, score): hand-written titles in the shape of image-forum posts
POSTS = [
    ("r1", "Abandoned mill at dusk [OC] (1200x800)(OC)", "ruins", "2020-03-01", 12),
    ("r2", "Old church in the fog [1968 x 1310]", "ruins", "2020-05-02", 300),
    ("r3", "Rusty mill and rusty train yard [OC][4032x3024]", "ruins", "2021-01-09", 40),
    ("r4", "Empty mill hallway (OC)", "ruins", "2021-07-19", 5),
    ("l1", "Sunset over the lake [OC]", "lakes", "2020-06-01", 88),
    ("l2", "Calm lake at dawn [4000x3000]", "lakes", "2021-02-02", 999),
    ("l3", "Misty lake with a red canoe", "lakes", "2021-08-08", 3),
    ("l4", "Frozen lake under a red sky", "lakes", "", 7),
    ("p1", "a ruined mill, by sachin teng:4, (fog:1.2), masterpiece", "prompts", "2021-01-01", 1),
    ("p2", "a lake at dawn, by monet, renoir and degas, masterpiece", "prompts", "2021-02-01", 1),
]


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Workspace:
    folder = tmp_path_factory.mktemp("vocab")
    path = folder / "posts.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "title", "sub", "created", "score"])
        writer.writerows(POSTS)
    study = neco.open_study(folder / "ws")
    study.add(path, text_col="title", community_col="sub", time_col="created", id_col="id")
    workspace = study.workspace
    skip = ("keyness", "cooccurrence", "discourse", "semantic", "relations")
    run_social(workspace, SocialConfig(parse=ParseConfig(mode="lexical"), skip=skip))
    return workspace


def test_vocab_where_filters_on_columns_and_meta(ws):
    assert vocab.where_ids(ws, "TRY_CAST(meta->>'score' AS INTEGER) > 50") == ["r2", "l1", "l2"]
    assert vocab.where_ids(ws, "year(timestamp) = 2020 AND community = 'ruins'") == ["r1", "r2"]
    lines = vocab.concordance(ws, "lake", where="year(timestamp) = 2021")
    assert sorted(lines["id"]) == ["l2", "l3", "p2"]
    with pytest.raises(NecoError) as caught:
        vocab.keyness(ws, where="scroe > 3")
    message = str(caught.value)
    assert "'scroe > 3' cannot be run" in message and '"scroe" not found' in message
    assert "Columns: id, text, text_raw, community" in message
    assert "Fields of meta (read them as meta->>'field'" in message and ": score." in message
    with pytest.raises(NecoError, match="No caption of ruins satisfies"):
        vocab.select(ws, communities=["ruins"], where="community = 'lakes'")


def test_vocab_by_year_compares_slices(ws):
    table = vocab.keyness(ws, communities=["ruins", "lakes"], by="year", min_count=2)
    frame = table.to_pandas()
    assert sorted(frame["community"].unique()) == ["2020", "2021"]
    assert set(frame["reference"]) == {"rest"}
    # ruins and lakes only: 2020 has r1, r2, l1; 2021 has r3, r4, l2, l3; l4 has no date
    assert table.schema.metadata[b"slices"].decode() == (
        "slices by year: 2020 (3), 2021 (4); 1 caption without a year left out"
    )
    mill = frame[(frame["community"] == "2021") & (frame["term"] == "mill")].iloc[0]
    assert (mill["count"], mill["doc_count"], mill["rest_count"]) == (2, 2, 1)
    against = vocab.keyness(ws, by="year", against="2020", min_count=1).to_pandas()
    assert set(against["community"]) == {"2021"} and set(against["reference"]) == {"2020"}
    month = vocab.frequencies(ws, communities=["lakes"], by="month")
    assert month.column("community").unique().to_pylist() == [
        "2020-06", "2021-02", "2021-08",
    ]  # fmt: skip
    with pytest.raises(NecoError, match="No slice by year '2019'"):
        vocab.keyness(ws, by="year", against="2019")
    with pytest.raises(NecoError, match="expected year, month, a corpus column or a meta field"):
        vocab.keyness(ws, by="decade")


def test_vocab_by_meta_field(ws):
    table = vocab.frequencies(ws, communities=["lakes"], by="score", unit="tag")
    assert table.to_pandas()[["community", "term", "count"]].values.tolist() == [
        ["88", "[oc]", 1], ["999", "[WxH]", 1],
    ]  # fmt: skip


def test_vocab_tags_out_of_lemmas_and_compared_as_a_unit(ws):
    lemmas = vocab.frequencies(ws, communities=["ruins"]).to_pandas()
    assert not {"oc", "x", "1200x800)(oc", "1968", "1310"} & set(lemmas["term"])
    kept = vocab.frequencies(ws, communities=["ruins"], keep_tags=True).to_pandas()
    assert {"oc", "x"} <= set(kept["term"])
    tags = vocab.keyness(ws, unit="tag", communities=["ruins"], min_count=1).to_pandas()
    rows = tags.set_index("term")[["count", "doc_count", "rest_count"]]
    assert rows.to_dict("index") == {
        "[oc]": {"count": 4, "doc_count": 3, "rest_count": 1},  # r1 has two
        "[WxH]": {"count": 3, "doc_count": 3, "rest_count": 1},
    }


def test_vocab_prompt_brackets_are_weights_not_tags(ws):
    tags = vocab.frequencies(ws, communities=["prompts"], unit="tag")
    assert tags.num_rows == 0  # "(fog:1.2)" is a weight


def test_vocab_frequency_list_of_one_prompt_community(ws):
    with pytest.raises(NecoError, match=r"only prompts has any.*add --freq"):
        vocab.keyness(ws, unit="specifier", min_count=1)
    table = vocab.frequencies(ws, unit="specifier").to_pandas()
    assert set(table["community"]) == {"prompts"}
    assert table.iloc[0][["term", "count", "doc_count", "doc_share"]].tolist() == [
        "masterpiece", 2, 2, 1.0,
    ]  # fmt: skip
    # the weight suffix ":4" is a weight, not part of the specifier or its artist
    assert "by sachin teng" in set(table["term"])
    specs = ws.read_table("social/specifiers").to_pandas()
    assert set(specs["artist"].dropna()) >= {"sachin teng", "monet"}


def test_vocab_communities_in_the_order_asked_and_stop_list(ws, tmp_path):
    table = vocab.keyness(ws, communities=["ruins", "lakes"], min_count=1)
    assert list(dict.fromkeys(table.column("community").to_pylist())) == ["ruins", "lakes"]
    stop = tmp_path / "stop.txt"
    stop.write_text("# places\nMill\n\nlake\n", encoding="utf-8")
    assert vocab.read_stop_file(stop) == ["mill", "lake"]
    filtered = vocab.keyness(
        ws, min_count=1, stop_terms=vocab.read_stop_file(stop), exclude=["^rust"]
    ).to_pandas()
    assert not {"mill", "lake", "rusty"} & set(filtered["term"])
    with pytest.raises(NecoError, match=r"stop-list file .* does not exist"):
        vocab.read_stop_file(tmp_path / "missing.txt")


def test_vocab_collocates_sort_filters_and_tags(ws):
    table = vocab.collocates(ws, "mill", min_count=1, sort="count")
    assert table["term"].tolist()[:1] == ["rusty"]  # twice next to "mill" in r3
    assert table.iloc[0]["count"] == 2
    assert "oc" not in set(table["term"])  # inside tags: no position
    kept = vocab.collocates(ws, "mill", min_count=1, keep_tags=True)
    assert "oc" in set(kept["term"])
    assert "rusty" not in set(
        vocab.collocates(ws, "mill", min_count=1, stop_terms=["rusty"])["term"]
    )
    by_g2 = vocab.collocates(ws, "mill", min_count=1, sort="g2")
    assert by_g2["g2"].is_monotonic_decreasing
    only_2020 = vocab.collocates(ws, "mill", min_count=1, where="year(timestamp) = 2020")
    assert set(only_2020["term"]) == {"abandoned", "dusk"}
    with pytest.raises(NecoError, match="'sort' parameter must be one of npmi, g2, count"):
        vocab.collocates(ws, "mill", sort="z")


def test_vocab_study_passes_the_options(ws):
    study = neco.open_study(ws.path)
    frame = study.keyness(["lakes", "ruins"], min_count=1, rank="doc_count", stop_terms=["Red"])
    assert list(dict.fromkeys(frame["community"])) == ["lakes", "ruins"]
    assert "red" not in set(frame["term"])
    assert frame.iloc[0]["term"] == "lake"
    freq = study.frequencies("prompts", unit="specifier", where="id = 'p1'")
    assert freq["term"].tolist() == ["a ruined mill", "by sachin teng", "fog", "masterpiece"]
    assert study.kwic("fog", where="community = 'ruins'")["id"].tolist() == ["r2"]
    assert study.collocates("mill", sort="count", min_count=2)["term"].tolist() == ["rusty"]


def test_vocab_cli_freq_rank_where_by(ws, tmp_path, capsys):
    w = str(ws.path)
    code = main(["vocab", "-w", w, "--freq", "--community", "ruins", "--json", "--top", "2"])
    assert code == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["term"], r["count"], r["doc_count"]) for r in rows] == [
        ("mill", 3, 3),
        ("rusty", 2, 1),
    ]
    assert main(["vocab", "-w", w, "--freq", "--community", "ruins", "--json", "--top", "2",
                 "--rank", "doc_count"]) == 0  # fmt: skip
    # "rusty" (twice in r3) and "abandoned" (once in r1) are in one caption each; the count
    # breaks the tie
    assert [r["term"] for r in json.loads(capsys.readouterr().out)] == ["mill", "rusty"]
    assert main(["vocab", "-w", w, "--community", "ruins", "--community", "lakes",
                 "--min-count", "1", "--top", "1"]) == 0  # fmt: skip
    text = capsys.readouterr().out
    assert text.index("ruins vs rest") < text.index("lakes vs rest")
    assert main(["vocab", "-w", w, "--by", "year", "--min-count", "1", "--json"]) == 0
    captured = capsys.readouterr()
    assert {r["community"] for r in json.loads(captured.out)} == {"2020", "2021"}
    assert main(["vocab", "-w", w, "--by", "year", "--min-count", "1", "--top", "1"]) == 0
    assert "slices by year: 2020 (3), 2021 (6); 1 caption" in capsys.readouterr().err
    assert main(["vocab", "-w", w, "--where", "nonsense(", "--json"]) == 2
    assert "cannot be run on the corpus" in capsys.readouterr().err
    assert main(["vocab", "-w", w, "--freq", "--against", "lakes"]) == 2
    assert "Choose one" in capsys.readouterr().err
    stop = tmp_path / "stop.txt"
    stop.write_text("mill\n", encoding="utf-8")
    assert main(["vocab", "-w", w, "--freq", "--community", "ruins", "--json", "--stop-file",
                 str(stop), "--exclude", "^rust", "--top", "1"]) == 0  # fmt: skip
    assert json.loads(capsys.readouterr().out)[0]["term"] == "abandoned"


def test_vocab_cli_collocates_sort_min_count_out(ws, tmp_path, capsys):
    out = tmp_path / "mill.tsv"
    args = ["collocates", "mill", "-w", str(ws.path), "--sort", "count", "--min-count", "2",
            "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    assert "by count" in capsys.readouterr().out
    lines = out.read_text().splitlines()
    assert lines[0] == '"term"\t"count"\t"term_count"\t"npmi"\t"g2"'
    assert len(lines) == 2 and lines[1].startswith('"rusty"\t2\t2\t')


def test_vocab_cli_kwic_keeps_the_match_visible_in_80_columns(ws, monkeypatch, capsys):
    monkeypatch.setattr(cli, "out", Console(width=80, soft_wrap=True))
    assert main(["kwic", "mill", "-w", str(ws.path), "--width", "70"]) == 0
    lines = capsys.readouterr().out.splitlines()
    body = [line for line in lines[1:] if line.strip()]
    assert lines[0] == "4 lines for 'mill'" and len(body) == 4
    for line in body:
        assert len(line) <= 80
        assert re.search(r"\S  mill  ", line)  # the match whole, in its own column
    assert any("…" in line for line in body)  # the contexts were shortened instead
    monkeypatch.setattr(cli, "out", Console(width=40, soft_wrap=True))
    assert main(["kwic", "rusty mill", "-w", str(ws.path)]) == 0
    (line,) = [x for x in capsys.readouterr().out.splitlines()[1:] if x.strip()]
    assert "Rusty mill" in line and len(line) <= 40


def test_vocab_cli_help_lists_out_suffixes(capsys):
    for command in ("vocab", "kwic", "collocates"):
        assert main([command, "--help"]) == 0
        text = " ".join(capsys.readouterr().out.replace("│", " ").split())
        assert "Write the full table (.csv, .tsv or .parquet)" in text
