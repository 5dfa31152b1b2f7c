"""Parsing with real spaCy pipelines: exact tokens, lemmas, offsets, heads, languages."""

from __future__ import annotations

import pytest

from neco.errors import NecoError
from neco.social.parse import ParseConfig, corpus_digest, parse_texts
from tests.social.conftest import TEXTS


def _caption(result, caption_id):
    frame = result.tokens.to_pandas()
    return frame[frame["id"] == caption_id].reset_index(drop=True)


def test_parse_lexical_tokens_lemmas_and_offsets(lexical):
    a = _caption(lexical, "a")
    assert a["text"].tolist() == ["A", "red", "kite", "hovers", "over", "the", "dunes", "."]
    assert a["lemma"].tolist()[3] == "hover" and a["lemma"].tolist()[6] == "dune"
    assert a["position"].tolist() == list(range(8))
    text = TEXTS["a"][0]
    assert [text[s:e] for s, e in zip(a["start"], a["end"], strict=True)] == a["text"].tolist()
    assert a["is_stop"].tolist()[:2] == [True, False]
    assert a["is_punct"].tolist()[-1]
    assert set(a["pos"]) == {""}  # no tagger in lexical mode
    assert a["head"].isna().all()
    assert set(a["pipeline"]) == {"blank:en+lookup-lemmas"}
    assert lexical.chunks.num_rows == 0 and lexical.entities.num_rows == 0


def test_parse_non_english_rows_use_their_language(lexical, full):
    for result in (lexical, full):
        f = _caption(result, "f")
        assert f["lemma"].tolist() == ["Möwe", "über", "der", "Hafen"]
        assert set(f["pipeline"]) == {"blank:de+lookup-lemmas"}
    assert full.pipelines["de"] == "blank:de+lookup-lemmas"
    assert full.pipelines["en"].endswith(":full")


def test_parse_full_heads_chunks_entities(full):
    d = _caption(full, "d")
    assert d["pos"].tolist() == ["DET", "ADJ", "NOUN", "VERB", "DET", "ADJ", "NOUN", "PUNCT"]
    assert d["dep"].tolist()[2:4] == ["nsubj", "ROOT"]
    assert d["head"].tolist()[2] == 3 and d["head"].tolist()[6] == 3  # dog, ball -> chases
    chunks = full.chunks.to_pandas()
    assert chunks[chunks["id"] == "d"]["text"].tolist() == ["A brown dog", "a red ball"]
    assert chunks[chunks["id"] == "d"]["lemma"].tolist() == ["a brown dog", "a red ball"]
    ents = full.entities.to_pandas()
    assert ents[ents["id"] == "b"][["text", "label"]].values.tolist()[0] == ["Two", "CARDINAL"]


def test_parse_config_errors_and_digest():
    with pytest.raises(NecoError, match="'mode' parameter must be one of lexical, fast, full"):
        ParseConfig(mode="deep")
    with pytest.raises(NecoError, match="'processes' parameter must be an int >= 1"):
        ParseConfig(processes=0)
    with pytest.raises(NecoError, match="No spaCy English pipeline could be loaded"):
        parse_texts(["x"], ["a cat"], ["c"], ["en"], ParseConfig(mode="fast", model="nope_sm"))
    assert corpus_digest(["a", "b"], ["x", "y"], ["en", None]) != corpus_digest(
        ["a", "b"], ["x", "y"], ["en", "en"]
    )


def test_parse_empty_corpus():
    result = parse_texts([], [], [], [], ParseConfig(mode="lexical"))
    assert result.tokens.num_rows == 0


@pytest.mark.slow
def test_parse_two_processes_give_the_same_table():
    texts = [
        f"A red kite number {i} hovers over the dunes near harbour {i % 7}" for i in range(2500)
    ]
    ids = [f"r{i}" for i in range(len(texts))]
    one = parse_texts(ids, texts, ["c"] * len(ids), ["en"] * len(ids), ParseConfig(mode="lexical"))
    two = parse_texts(
        ids, texts, ["c"] * len(ids), ["en"] * len(ids), ParseConfig(mode="lexical", processes=2)
    )
    assert one.tokens.num_rows == 2500 * 12
    assert one.tokens.equals(two.tokens)
