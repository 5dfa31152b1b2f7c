"""Tags of web text, and the term filters around them, on hand-made titles and tokens."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from neco.errors import NecoError
from neco.social.keyness import rank_keyness
from neco.social.tags import find_tags, inside_tags, tag_term
from neco.social.terms import build_doc_terms, frequency_table

STOP = {"the", "at", "a", "in"}


def _tokens(captions: dict[str, tuple[str, list[str]]]) -> pa.Table:
    """A token table as the parser writes it: each token found in order in its caption."""
    rows: dict[str, list] = {k: [] for k in ("id", "lemma", "lower", "is_stop", "is_punct",
                                             "start", "end")}  # fmt: skip
    for caption_id, (text, words) in captions.items():
        at = 0
        for word in words:
            start = text.index(word, at)
            at = start + len(word)
            rows["id"].append(caption_id)
            rows["lemma"].append(word.lower())
            rows["lower"].append(word.lower())
            rows["is_stop"].append(word.lower() in STOP)
            rows["is_punct"].append(all(not c.isalnum() for c in word))
            rows["start"].append(start)
            rows["end"].append(at)
    return pa.table(rows)


# The tokens are the junk a tokenizer makes of such titles: "1200x800)(oc" is one token.
TITLES = {
    "m": ("Old mill at dusk [OC] (1200x800)(OC)",
          ["Old", "mill", "at", "dusk", "[", "OC", "]", "(", "1200x800)(OC", ")"]),
    "c": ("[OC] Old church [1968 x 1310]",
          ["[", "OC", "]", "Old", "church", "[", "1968", "x", "1310", "]"]),
    "l": ("Calm lake (Self) and a mill",
          ["Calm", "lake", "(", "Self", ")", "and", "a", "mill"]),
    "p": ("John Smith (left) at the mill",
          ["John", "Smith", "(", "left", ")", "at", "the", "mill"]),
}  # fmt: skip
TEXTS = {k: v[0] for k, v in TITLES.items()}
DOCS = pa.table({"id": list(TITLES), "community": ["ruins", "ruins", "lakes", "lakes"]})


def _tags(prompt_ids: set[str] | None = None) -> pa.Table:
    return find_tags(list(TEXTS), list(TEXTS.values()), prompt_ids=prompt_ids or set())


def _counts(dtm, doc):
    row = list(dtm.doc_ids).index(doc)
    vector = dtm.matrix[row].toarray().ravel()
    return {t: int(v) for t, v in zip(dtm.terms, vector, strict=True) if v}


def test_tags_found_with_spans_and_terms():
    assert _tags().to_pylist() == [
        {"id": "m", "start": 17, "end": 21, "tag": "[oc]"},
        {"id": "m", "start": 22, "end": 32, "tag": "[WxH]"},
        {"id": "m", "start": 32, "end": 36, "tag": "[oc]"},
        {"id": "c", "start": 0, "end": 4, "tag": "[oc]"},
        {"id": "c", "start": 16, "end": 29, "tag": "[WxH]"},
    ]
    # "(Self)" and "(left)" stand mid-sentence: prose, not tags
    assert TEXTS["m"][22:32] == "(1200x800)" and TEXTS["c"][16:29] == "[1968 x 1310]"


@pytest.mark.parametrize(
    ("text", "tags"),
    [
        ("(OC) My dog", ["[oc]"]),  # at the start
        ("Lake at dawn (Canon 5D).", ["[canon 5d]"]),  # at the end, before a full stop
        ("Smith (left) with Jones (right)", ["[right]"]),  # only the one at the end
        ("A fox [Self] in snow", ["[self]"]),  # one word in square brackets: anywhere
        ("I [love this] chart", []),  # several words mid-text: prose
        ("[Album] Winter fox [4 of 10]", ["[album]", "[4 of 10]"]),  # several words at an end
        ("Mill 4032x3024 at 1920 × 1080px", ["[WxH]", "[WxH]"]),
        ("2x4 lumber, 10x zoom, 16:9, 1920x1080.5", []),  # too few digits, or a decimal
        ("[OC, 4000x3000] Dunes", ["[oc, WxH]"]),
        ("((masterpiece)), a fox", []),  # nested brackets are not a tag
    ],
)
def test_tags_rules(text: str, tags: list[str]) -> None:
    assert find_tags(["i"], [text]).column("tag").to_pylist() == tags


def test_tags_prompt_captions_keep_only_resolution_marks():
    table = find_tags(["p", "q"], ["[red] fox (OC), 1920x1080", "[red] fox (OC)"],
                      prompt_ids={"p"})  # fmt: skip
    assert table.to_pylist() == [
        {"id": "p", "start": 16, "end": 25, "tag": "[WxH]"},
        {"id": "q", "start": 0, "end": 5, "tag": "[red]"},
        {"id": "q", "start": 10, "end": 14, "tag": "[oc]"},
    ]


def test_tags_term_normalised():
    assert [tag_term(t) for t in ("(OC)", "[ Self ]", "[1968 x 1310]", "(OC 4032X3024)")] == [
        "[oc]", "[self]", "[WxH]", "[oc WxH]",
    ]  # fmt: skip


def test_tags_tokens_inside_merged_spans():
    tokens = _tokens(TITLES).to_pandas()
    inside = tokens.loc[inside_tags(tokens, _tags()), "lower"].tolist()
    # "1200x800)(oc" spans the two touching tags (1200x800)(OC): it lies inside their union
    assert inside == ["[", "oc", "]", "(", "1200x800)(oc", ")", "[", "oc", "]", "[", "1968",
                      "x", "1310", "]"]  # fmt: skip
    shuffled = tokens.sample(frac=1.0, random_state=3)  # any row order, any index
    assert shuffled.loc[inside_tags(shuffled, _tags()), "lower"].tolist().count("x") == 1


def test_tags_left_out_of_lemmas_and_ngrams_and_counted_as_unit():
    tokens = _tokens(TITLES)
    plain = build_doc_terms(DOCS, tokens, "lemma")
    assert _counts(plain, "m") == {"old": 1, "mill": 1, "dusk": 1, "oc": 1, "1200x800)(oc": 1}
    lemmas = build_doc_terms(DOCS, tokens, "lemma", tags=_tags())
    assert _counts(lemmas, "m") == {"old": 1, "mill": 1, "dusk": 1}
    assert _counts(lemmas, "c") == {"old": 1, "church": 1}
    assert _counts(lemmas, "l") == {"calm": 1, "lake": 1, "self": 1, "and": 1, "mill": 1}
    ngrams = build_doc_terms(DOCS, tokens, "ngram", ngram=(1, 2), tags=_tags())
    # "1968 x" and "x 1310" are gone with the tag; "church 1968" never forms
    assert _counts(ngrams, "c") == {"old": 1, "church": 1, "old church": 1}
    tags = build_doc_terms(DOCS, tokens, "tag", tags=_tags())
    assert _counts(tags, "m") == {"[oc]": 2, "[WxH]": 1}
    names, counts, docs = tags.by_community()
    assert names == ["lakes", "ruins"]
    oc = list(tags.terms).index("[oc]")
    assert (counts[1, oc], docs[1, oc]) == (3, 2)
    with pytest.raises(NecoError, match="'tag' unit needs the tags"):
        build_doc_terms(DOCS, tokens, "tag")


def test_terms_stop_list_and_exclusion_patterns():
    tokens = _tokens(TITLES)
    dtm = build_doc_terms(DOCS, tokens, "lemma", stop_terms=["MILL"], exclude=[r"^\d", "^o"])
    # "1200x800)(oc" starts with a digit, "old" and "oc" with o; "Mill" matches case-insensitive
    assert _counts(dtm, "m") == {"dusk": 1}
    assert "x" in dtm.terms  # not in a stop-list, not matched
    ngrams = build_doc_terms(DOCS, tokens, "ngram", ngram=(1, 2), stop_terms=["old"])
    # a listed word at either edge removes the n-gram, as a stop word does
    assert _counts(ngrams, "c") == {"oc": 1, "church": 1, "1968": 1, "x": 1, "1310": 1,
                                    "1968 x": 1, "x 1310": 1}  # fmt: skip
    with pytest.raises(NecoError, match=r"pattern '\(' is not a valid regular expression"):
        build_doc_terms(DOCS, tokens, "lemma", exclude=["("])


def test_terms_specifier_with_a_row_per_artist_counted_once():
    specs = pa.table({
        "id": ["p", "p", "p"], "community": ["pr"] * 3, "position": [0, 1, 1],
        "text": ["castle", "by monet and renoir", "by monet and renoir"],
        "weight": [1.0, 1.0, 1.0], "negative": [False] * 3,
        "artist": [None, "monet", "renoir"], "kind": ["text"] * 3,
    })  # fmt: skip
    docs = pa.table({"id": ["p"], "community": ["pr"]})
    dtm = build_doc_terms(docs, _tokens({}), "specifier", specifiers=specs)
    assert _counts(dtm, "p") == {"castle": 1, "by monet and renoir": 1}


def test_terms_frequency_table_one_community_and_order():
    tokens = _tokens(TITLES)
    dtm = build_doc_terms(DOCS, tokens, "lemma", tags=_tags())
    table = frequency_table(dtm, communities=["ruins"]).to_pandas()
    assert table.values.tolist() == [
        ["ruins", "old", 2, 2, 2 / 5, 1.0],
        ["ruins", "church", 1, 1, 1 / 5, 0.5],
        ["ruins", "dusk", 1, 1, 1 / 5, 0.5],
        ["ruins", "mill", 1, 1, 1 / 5, 0.5],
    ]
    both = frequency_table(dtm, communities=["ruins", "lakes"], min_count=2)
    assert both.column("community").to_pylist() == ["ruins", "lakes"]
    assert both.column("term").to_pylist() == ["old", "mill"]
    with pytest.raises(NecoError, match="No community 'dunes'"):
        frequency_table(dtm, communities=["dunes"])


def test_keyness_rank_by_doc_count_and_signed_g2():
    # one long caption repeats "ruin": by z it leads, by captions "mill" does; "view" is in
    # many captions but hardly distinctive (z below 1.96), so it stays in the z order
    table = pa.table({
        "community": ["a"] * 5 + ["b"] * 2,
        "term": ["ruin", "mill", "dusk", "view", "lake", "lake", "ruin"],
        "count": [9, 3, 2, 30, 1, 5, 0], "doc_count": [1, 3, 2, 25, 1, 4, 0],
        "g2": [12.0, 4.0, 3.0, 0.2, 6.0, 7.0, 12.0],
        "logodds_z": [3.1, 2.5, 2.0, 0.4, -2.0, 2.2, -3.1],
    })  # fmt: skip
    assert rank_keyness(table, "doc_count").column("term").to_pylist() == [
        "mill", "dusk", "ruin", "view", "lake", "lake", "ruin",
    ]  # fmt: skip
    assert rank_keyness(table, "count").column("term").to_pylist()[:4] == [
        "ruin", "mill", "dusk", "view",
    ]  # fmt: skip
    # G² alone does not say the side: under-used "lake" (G² 6) stays below the over-used
    assert rank_keyness(table, "g2").column("term").to_pylist()[:5] == [
        "ruin", "mill", "dusk", "view", "lake",
    ]  # fmt: skip
    assert rank_keyness(table, "z") is table
    with pytest.raises(NecoError, match="'rank' parameter must be one of z, g2"):
        rank_keyness(table, "npmi")


def test_tags_no_tokens_or_tags():
    empty = pd.DataFrame({"id": [], "start": [], "end": []})
    assert inside_tags(empty, _tags()).tolist() == []
    assert find_tags([], []).num_rows == 0
