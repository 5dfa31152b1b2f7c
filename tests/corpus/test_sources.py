"""SourceSpec.from_options: the option names of `neco ingest` as Python keywords."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from neco.corpus import Corpus, SourceSpec
from neco.corpus.schema import ROLES
from neco.corpus.sources import COLUMN_OPTIONS, as_specs, sha256_of
from neco.errors import SourceError


def _none(value):
    """pandas shows missing strings as NaN; compare them as None."""
    return None if value is None or value != value else value


def _rows(corpus: Corpus, *columns: str) -> list[tuple]:
    return [tuple(_none(row[c]) for c in columns) for row in corpus.rows.to_dict(orient="records")]


FORUM = (
    "post;body;grp;reply;topic;who;when;pic;lg\n"
    "p1;A kite over dunes;coast;;t1;ann;2024-01-02T03:04:05Z;kite.png;en\n"
    "p2;Nice  kite;coast;p1;t1;bob;1700000000;;de\n"
    "p3;Image;coast;;t2;cy;;;\n"
    "p4;Two herons;wetland;;t3;dee;;missing.png;\n"
)


# --------------------------------------------------------------------------- from_options


def test_sources_from_options_maps_cli_names_into_columns():
    spec = SourceSpec.from_options(
        "forum.csv",
        text_col="body",
        id_col="post",
        community_col="grp",
        parent_col="reply",
        thread_col="topic",
        author_col="who",
        time_col="when",
        image_col="pic",
        lang_col="lg",
    )
    assert spec.columns == {
        "text": "body",
        "id": "post",
        "community": "grp",
        "parent": "reply",
        "thread": "topic",
        "author": "who",
        "timestamp": "when",
        "image": "pic",
        "lang": "lg",
    }
    assert spec.path == Path("forum.csv")


def test_sources_column_options_cover_every_role():
    assert sorted(COLUMN_OPTIONS.values()) == sorted(ROLES)


def test_sources_from_options_other_names_and_none_means_not_given():
    spec = SourceSpec.from_options(
        "a.tsv",
        format="tsv",
        community="museum",
        lang="de",
        encoding="cp1252",
        delimiter="tab",
        id_prefix="m:",
        na_value=["Image", "-"],
        na_values=("n.v.",),
        no_header=True,
        image_root="imgs",
        text_col=None,  # the CLI passes its unset options as None
        dialog_rows="turn",
    )
    assert (spec.format, spec.community, spec.lang, spec.encoding) == (
        "tsv",
        "museum",
        "de",
        "cp1252",
    )
    assert (spec.delimiter, spec.id_prefix, spec.header) == ("\t", "m:", False)
    assert spec.na_values == ("n.v.", "Image", "-")
    assert spec.image_root == "imgs"
    assert spec.columns == {}
    # the same spec as the dataclass fields give it
    assert spec == SourceSpec(
        "a.tsv",
        format="tsv",
        community="museum",
        lang="de",
        encoding="cp1252",
        delimiter="\t",
        id_prefix="m:",
        na_values=("n.v.", "Image", "-"),
        header=False,
        image_root="imgs",
    )


def test_sources_from_options_unknown_name_lists_accepted_names():
    with pytest.raises(SourceError) as err:
        SourceSpec.from_options("a.csv", txt_col="caption", size=3)
    assert str(err.value) == (
        "Unknown source option(s): 'size', 'txt_col' (did you mean 'text_col'?). "
        "Expected any of: allow_outside_root, author_col, columns, community, "
        "community_col, delimiter, dialog_rows, encoding, format, header, id_col, "
        "id_prefix, image_col, image_root, lang, lang_col, max_expansion, "
        "max_field_length, max_json_bytes, max_json_mb, max_record_length, na_value, na_values, "
        "no_header, parent_col, text_col, thread_col, time_col."
    )


def test_sources_from_options_community_and_community_col_conflict():
    with pytest.raises(SourceError, match=r"^Both community='museum' .* column 'grp' were given"):
        SourceSpec.from_options("a.csv", community="museum", community_col="grp")
    with pytest.raises(SourceError, match=r"column 'grp' were given\. Expected one of them"):
        SourceSpec.from_options("a.csv", community="museum", columns={"community": "grp"})


def test_sources_from_options_conflicting_values():
    with pytest.raises(SourceError, match=r"role 'text': text_col='a' and columns\['text'\]='b'"):
        SourceSpec.from_options("a.csv", text_col="a", columns={"text": "b"})
    # the same column twice is no conflict
    assert SourceSpec.from_options("a.csv", text_col="a", columns={"text": "a"}).columns == {
        "text": "a"
    }
    with pytest.raises(SourceError, match=r"header=True and no_header=True contradict"):
        SourceSpec.from_options("a.csv", header=True, no_header=True)
    assert SourceSpec.from_options("a.csv", header=False, no_header=True).header is False
    with pytest.raises(SourceError, match=r"'community' option of a source must be a str\. Got 3"):
        SourceSpec.from_options("a.csv", community=3)
    with pytest.raises(SourceError, match=r"'no_header' option .* must be a bool\. Got 'yes'"):
        SourceSpec.from_options("a.csv", no_header="yes")
    with pytest.raises(SourceError, match=r"markers must be str\. Got 5 instead"):
        SourceSpec.from_options("a.csv", na_value=["x", 5])


def test_sources_delimiter_names_and_single_na_value():
    assert SourceSpec("a.csv", delimiter="semicolon").delimiter == ";"
    assert SourceSpec("a.csv", delimiter="\\t").delimiter == "\t"
    assert SourceSpec("a.csv", delimiter="pipe").options()["delimiter"] == "|"
    with pytest.raises(SourceError, match=r"must be one character .* Got ';;' instead"):
        SourceSpec("a.csv", delimiter=";;")
    # one string is one marker, not one marker per letter
    assert SourceSpec("a.csv", na_values="Image").na_values == ("Image",)


def test_sources_cli_ingest_options_are_all_accepted():
    """Every option of `neco ingest` that describes a source has a from_options name."""
    from neco import cli

    accepted = set(COLUMN_OPTIONS) | set(SourceSpec.__dataclass_fields__) | {"na_value"}
    accepted |= {"no_header", "max_json_mb"}
    not_source = {"sources", "workspace", "recipe", "as_json"}
    options = set(inspect.signature(cli.ingest).parameters) - not_source
    assert options <= accepted, options - accepted


def test_sources_as_specs_and_sha_of_missing(tmp_path):
    spec = SourceSpec("b.jsonl", community="x")
    specs = as_specs([tmp_path / "a.csv", spec])
    assert [s.path for s in specs] == [tmp_path / "a.csv", Path("b.jsonl")]
    assert specs[1] is spec
    assert as_specs(tmp_path / "a.csv")[0].path == tmp_path / "a.csv"
    with pytest.raises(SourceError, match=r"Expected sources as SourceSpec, str or pathlib\.Path"):
        as_specs([3])
    with pytest.raises(SourceError, match=r"^Source not found: .*nowhere\.csv\. Expected a file"):
        sha256_of(tmp_path / "nowhere.csv")


# --------------------------------------------------------------------------- Corpus keywords


def test_corpus_from_csv_takes_cli_column_names(tmp_path):
    (tmp_path / "kite.png").write_bytes(b"\x89PNG")
    path = tmp_path / "forum.csv"
    path.write_text(FORUM, encoding="utf-8")
    corpus = Corpus.from_csv(
        path,
        text_col="body",
        id_col="post",
        community_col="grp",
        parent_col="reply",
        thread_col="topic",
        author_col="who",
        time_col="when",
        image_col="pic",
        lang_col="lg",
        delimiter="semicolon",
        na_value="Image",
        id_prefix="f:",
        lang="fr",
    )
    assert _rows(corpus, "id", "text", "community", "parent_id", "thread_id", "author") == [
        ("f:p1", "A kite over dunes", "coast", None, "f:t1", "ann"),
        ("f:p2", "Nice kite", "coast", "f:p1", "f:t1", "bob"),
        ("f:p4", "Two herons", "wetland", None, "f:t3", "dee"),
    ]
    assert [str(t) for t in corpus.rows["timestamp"]] == [
        "2024-01-02 03:04:05+00:00",
        "2023-11-14 22:13:20+00:00",
        "NaT",
    ]
    # an image found beside the source is stored absolute; one not found is kept as written
    assert _rows(corpus, "image", "lang") == [
        (str((tmp_path / "kite.png").resolve()), "en"),
        (None, "de"),
        ("missing.png", "fr"),  # no lang cell: the source's lang
    ]
    assert corpus.rejected[["record", "reason", "id"]].values.tolist() == [
        [3, "empty_text", "f:p3"]
    ]
    assert corpus.rejected["detail"].tolist() == ["text is a missing-value placeholder 'Image'"]
    assert corpus.report.sources[0].columns["text"] == "body"


def test_corpus_from_source_headerless_cp1252_with_community_and_image_root(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    (images / "a.jpg").write_bytes(b"\xff\xd8")
    path = tmp_path / "legacy.tsv"
    path.write_bytes("Caf\u00e9 au lait\ta.jpg\nNa\u00efve art\tb.jpg\n".encode("cp1252"))
    corpus = Corpus.from_source(
        path,
        format="tsv",
        no_header=True,
        text_col="column_1",
        image_col="column_2",
        community="museum",
        encoding="cp1252",
        image_root=images,
    )
    assert _rows(corpus, "id", "text", "community", "image") == [
        ("museum:1", "Caf\u00e9 au lait", "museum", str((images / "a.jpg").resolve())),
        ("museum:2", "Na\u00efve art", "museum", "b.jpg"),
    ]
    assert corpus.report.sources[0].encoding == "cp1252"
    assert corpus.report.sources[0].format == "tsv"


def test_corpus_from_tsv_and_from_jsonl_take_the_same_names(tmp_path):
    tsv = tmp_path / "alt.tsv"
    tsv.write_text("alt\tuid\nA heron\tx1\n", encoding="utf-8")
    assert _rows(Corpus.from_tsv(tsv, text_col="alt", id_col="uid"), "id", "text") == [
        ("x1", "A heron")
    ]
    jsonl = tmp_path / "p.jsonl"
    jsonl.write_text('{"prompt": "a cat, 4k", "by": "u1"}\n', encoding="utf-8")
    corpus = Corpus.from_jsonl(jsonl, text_col="prompt", author_col="by", community="prompts")
    assert _rows(corpus, "text", "author", "community") == [("a cat, 4k", "u1", "prompts")]


def test_corpus_from_df_takes_cli_names():
    import pandas as pd

    df = pd.DataFrame({"caption": ["A kite", "Image", "A heron"], "grp": ["c", "c", "w"]})
    corpus = Corpus.from_df(df, text_col="caption", community_col="grp", na_value="Image")
    assert _rows(corpus, "id", "text", "community") == [
        ("dataframe:1", "A kite", "c"),
        ("dataframe:3", "A heron", "w"),
    ]
    assert corpus.rejected["reason"].tolist() == ["empty_text"]
    with pytest.raises(SourceError, match=r"from_df reads a DataFrame; expected no 'format'"):
        Corpus.from_df(df, format="csv")


def test_corpus_constructors_reject_bad_keywords(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("caption,grp\nA kite,c\n", encoding="utf-8")
    with pytest.raises(SourceError, match=r"'txt_col' \(did you mean 'text_col'\?\)"):
        Corpus.from_csv(path, txt_col="caption")
    with pytest.raises(SourceError, match=r"Both community='x' .* community column 'grp'"):
        Corpus.from_csv(path, community="x", community_col="grp")
    with pytest.raises(SourceError, match=r"Corpus\.from_csv reads format 'csv'\. Got format='j"):
        Corpus.from_csv(path, format="json")
    # the format a constructor reads may be repeated
    assert Corpus.from_csv(path, format="csv", text_col="caption").texts == ["A kite"]
