"""Relation probes: minimal pairs, agreement, controls and calibration on hand-made inputs.

Token tables are written by hand (offsets from a regex, the parse as spaCy's small English
pipeline gives it, checked by eye), so no spaCy model is loaded. The only model is a tiny
random CLIP text tower built from a config (tests/neural/tiny.py).
"""

from __future__ import annotations

import copy
import math
import re
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from neco.catalogue import conform
from neco.errors import NecoError
from neco.neural.probes import (
    CONTROL_KINDS,
    PAIR_COLUMNS,
    SKIP_REASONS,
    SUMMARY_COLUMNS,
    MinimalPairs,
    Spread,
    article_for,
    bag_of_words_encoder,
    calibrated_score,
    minimal_pairs,
    probe_pairs,
    probe_summary,
    random_weight_twin,
    recase,
    swap_spans,
    unrelated_spread,
)
from neco.social.relations import extract_relations

TOKEN = re.compile(r"\w+|[^\w\s]")

# --------------------------------------------------------------------------- raw swaps

TEXTS = {
    "svo": "A dog chases a ball.",
    "prep": "a mug in the grass",
    "amod2": "a red mug and a blue plate",
    "amod1": "a red mug on a table",
    "same": "a dog chases a dog",
    "sameadj": "a red mug and a red plate",
    "twoadj": "a big red mug",
    "amod3": "a red mug, a blue plate and a green cup",
    "inverted": "in the grass lies a mug",
    "caps": "Dog chases ball",
}


def _tokens(texts: dict[str, str]) -> pd.DataFrame:
    """A token table as the social layer writes it, without the parse: id, position, text,
    start, end."""
    rows = [
        {"id": cid, "position": i, "text": m.group(), "start": m.start(), "end": m.end()}
        for cid, text in texts.items()
        for i, m in enumerate(TOKEN.finditer(text))
    ]
    return pd.DataFrame(rows)


def _position(text: str, word: str, nth: int = 0) -> int:
    words = [m.group() for m in TOKEN.finditer(text)]
    return [i for i, w in enumerate(words) if w == word][nth]


def _rel(cid: str, kind: str, a: str, rel: str, b: str, *, nth_a: int = 0, nth_b: int = 0) -> dict:
    text = TEXTS[cid]
    pos_a = _position(text, a, nth_a)
    pos_b = _position(text, b, nth_b)
    return {
        "id": cid,
        "community": "north" if cid in ("svo", "prep", "amod2") else "south",
        "kind": kind,
        "term_a": a.lower(),
        "relation": rel,
        "term_b": b.lower(),
        "position_a": pos_a,
        "position_b": pos_b,
        "position_relation": pos_a
        if kind == "amod"
        else _position(text, rel)
        if rel in text
        else -1,
    }


RELATIONS = pd.DataFrame(
    [
        _rel("svo", "svo", "dog", "chases", "ball"),
        _rel("prep", "prep", "mug", "in", "grass"),
        _rel("amod2", "amod", "red", "amod", "mug"),
        _rel("amod2", "amod", "blue", "amod", "plate"),
        _rel("amod1", "amod", "red", "amod", "mug"),
        _rel("amod1", "prep", "mug", "on", "table"),
        _rel("same", "svo", "dog", "chases", "dog", nth_b=1),
        _rel("sameadj", "amod", "red", "amod", "mug"),
        _rel("sameadj", "amod", "red", "amod", "plate", nth_a=1),
        _rel("twoadj", "amod", "big", "amod", "mug"),
        _rel("twoadj", "amod", "red", "amod", "mug"),
        _rel("amod3", "amod", "red", "amod", "mug"),
        _rel("amod3", "amod", "blue", "amod", "plate"),
        _rel("amod3", "amod", "green", "amod", "cup"),
        _rel("inverted", "prep", "mug", "in", "grass"),
        _rel("caps", "svo", "Dog", "chases", "ball"),
    ]
)


@pytest.fixture(scope="module")
def raw() -> MinimalPairs:
    return minimal_pairs(RELATIONS, _tokens(TEXTS), TEXTS, agreement=False)


@pytest.fixture(scope="module")
def pairs(raw: MinimalPairs) -> pd.DataFrame:
    return raw.pairs


def _swapped(pairs: pd.DataFrame, cid: str) -> list[str]:
    return pairs.loc[pairs["id"] == cid, "swapped"].tolist()


def test_probes_minimal_pairs_exact_swaps(pairs: pd.DataFrame) -> None:
    assert list(pairs.columns) == PAIR_COLUMNS
    assert _swapped(pairs, "svo") == ["A ball chases a dog."]
    assert _swapped(pairs, "prep") == ["a grass in the mug"]
    assert _swapped(pairs, "amod2") == ["a blue mug and a red plate"]
    assert _swapped(pairs, "inverted") == ["in the mug lies a grass"]
    assert _swapped(pairs, "caps") == ["Ball chases dog"]
    row = pairs[pairs["id"] == "svo"].iloc[0]
    assert (row["community"], row["kind"], row["original"]) == ("north", "svo", TEXTS["svo"])
    assert (row["term_a"], row["relation"], row["term_b"]) == ("dog", "chases", "ball")
    assert row["distance"] == 3 and pd.isna(row["reinflected"])


def test_probes_minimal_pairs_amod_needs_two_nouns_two_adjectives(pairs: pd.DataFrame) -> None:
    amod = pairs[pairs["kind"] == "amod"]
    assert set(amod["id"]) == {"amod2", "amod3"}  # not amod1 (one amod), sameadj, twoadj
    assert _swapped(pairs, "amod1") == ["a red table on a mug"]  # its prep relation pairs
    assert sorted(_swapped(pairs, "amod3")) == sorted(
        [
            "a blue mug, a red plate and a green cup",
            "a green mug, a blue plate and a red cup",
            "a red mug, a green plate and a blue cup",
        ]
    )
    row = amod[amod["id"] == "amod2"].iloc[0]
    assert (row["term_a"], row["relation"], row["term_b"]) == ("red mug", "amod", "blue plate")


def test_probes_minimal_pairs_skips_identical_words_and_counts_them(raw: MinimalPairs) -> None:
    assert "same" not in set(raw.pairs["id"])
    assert "sameadj" not in set(raw.pairs["id"])
    assert (raw.pairs["original"] != raw.pairs["swapped"]).all()
    assert raw.skipped[["id", "reason"]].values.tolist() == [
        ["same", "identical"],
        ["sameadj", "identical"],
    ]
    assert raw.skip_counts() == {**dict.fromkeys(SKIP_REASONS, 0), "identical": 2}


def test_probes_minimal_pairs_keeps_everything_but_the_two_spans() -> None:
    text = "  A  dog\tchases\u00a0a ball!! "
    tokens = _tokens({"x": text})
    relations = pd.DataFrame(
        [
            {
                "id": "x",
                "community": 0,
                "kind": "svo",
                "term_a": "dog",
                "relation": "chase",
                "term_b": "ball",
                "position_a": 1,
                "position_b": 4,
                "position_relation": 2,
            }
        ]
    )
    out = minimal_pairs(relations, pa.Table.from_pandas(tokens), {"x": text}, agreement=False)
    assert out.pairs["swapped"].tolist() == ["  A  ball\tchases\u00a0a dog!! "]


def test_probes_minimal_pairs_kinds_and_sampling() -> None:
    texts = {f"c{i}": f"a dog{i} chases a ball{i}" for i in range(20)}
    texts["p"] = "a mug in the grass"
    relations = pd.DataFrame(
        [
            {
                "id": cid,
                "community": 1,
                "kind": "svo",
                "term_a": f"dog{i}",
                "relation": "chase",
                "term_b": f"ball{i}",
                "position_a": 1,
                "position_b": 4,
                "position_relation": 2,
            }
            for i, cid in enumerate(list(texts)[:20])
        ]
        + [
            {
                "id": "p",
                "community": 1,
                "kind": "prep",
                "term_a": "mug",
                "relation": "in",
                "term_b": "grass",
                "position_a": 1,
                "position_b": 4,
                "position_relation": 2,
            }
        ]
    )
    tokens = _tokens(texts)

    def make(**kwargs: Any) -> pd.DataFrame:
        return minimal_pairs(relations, tokens, texts, agreement=False, **kwargs).pairs

    assert make()["kind"].value_counts().to_dict() == {"svo": 20, "prep": 1}
    sample = make(max_per_kind=5, seed=3)
    assert sample["kind"].value_counts().to_dict() == {"svo": 5, "prep": 1}
    pd.testing.assert_frame_equal(sample, make(max_per_kind=5, seed=3))
    assert make(kinds=("prep",))["id"].tolist() == ["p"]
    with pytest.raises(NecoError, match="Expected some of: svo, prep, amod"):
        make(kinds=("nsubj",))


def test_probes_minimal_pairs_offsets_must_match_texts() -> None:
    shifted = {cid: "  " + text for cid, text in TEXTS.items()}
    with pytest.raises(NecoError, match="normalised texts"):
        minimal_pairs(RELATIONS, _tokens(TEXTS), shifted, agreement=False)
    with pytest.raises(NecoError, match="lacks column"):
        minimal_pairs(RELATIONS.drop(columns=["position_b"]), _tokens(TEXTS), TEXTS)
    # agreement needs the parse, and says how to get it or how to do without
    with pytest.raises(NecoError, match=r"lemma, pos, dep, head.*agreement=False"):
        minimal_pairs(RELATIONS, _tokens(TEXTS), TEXTS)
    one_off = dict(TEXTS, prep="a mug  in the grass")  # one caption's offsets no longer agree
    made = minimal_pairs(RELATIONS, _tokens(TEXTS), one_off, agreement=False)
    assert "prep" not in set(made.pairs["id"])
    assert made.skipped.loc[made.skipped["id"] == "prep", "reason"].tolist() == ["offsets"]


def test_probes_recase_and_swap_spans() -> None:
    assert recase("ball", "Dog") == "Ball"
    assert recase("Dog", "ball") == "dog"
    assert recase("iPhone", "ball") == "iPhone"
    assert recase("ball", "DOG") == "BALL"
    # An all-capitals word keeps its capitals in a capitalised slot (it may be an acronym).
    assert swap_spans("Dog chases a BALL", (0, 3), (13, 17)) == "BALL chases a DOG"
    assert swap_spans("dog chases a BALL", (0, 3), (13, 17)) == "BALL chases a DOG"
    with pytest.raises(ValueError, match="overlap"):
        swap_spans("a dog", (0, 3), (2, 5))


# --------------------------------------------------------------------------- agreement

# Each caption's parse as spaCy's small English pipeline gives it (lemma/POS/dep/head per
# regex token), except "8k", which it misreads and is written here as the object it is.
PARSED = {
    "plural": ("dogs chase a ball", "dog/NOUN/nsubj/1 chase/VERB/ROOT/1 a/DET/det/3 "
               "ball/NOUN/dobj/1"),
    "the_dogs": ("the dogs chase the ball", "the/DET/det/1 dog/NOUN/nsubj/2 chase/VERB/ROOT/2 "
                 "the/DET/det/4 ball/NOUN/dobj/2"),
    "aux": ("the men are holding the kite", "the/DET/det/1 man/NOUN/nsubj/3 be/AUX/aux/3 "
            "hold/VERB/ROOT/3 the/DET/det/5 kite/NOUN/dobj/3"),
    "rides": ("the man rides the bikes", "the/DET/det/1 man/NOUN/nsubj/2 rid/VERB/ROOT/2 "
              "the/DET/det/4 bike/NOUN/dobj/2"),
    "past": ("the dogs chased the ball", "the/DET/det/1 dog/NOUN/nsubj/2 chase/VERB/ROOT/2 "
             "the/DET/det/4 ball/NOUN/dobj/2"),
    "pronoun": ("he chases her", "he/PRON/nsubj/1 chase/VERB/ROOT/1 she/PRON/dobj/1"),
    "article": ("an apple hits a man", "an/DET/det/1 apple/NOUN/nsubj/2 hit/VERB/ROOT/2 "
                "a/DET/det/4 man/NOUN/dobj/2"),
    "men": ("the man was holding the kite", "the/DET/det/1 man/NOUN/nsubj/3 be/AUX/aux/3 "
            "hold/VERB/ROOT/3 the/DET/det/5 kite/NOUN/dobj/3"),
    "the_man": ("an apple hits the man", "an/DET/det/1 apple/NOUN/nsubj/2 hit/VERB/ROOT/2 "
                "the/DET/det/4 man/NOUN/dobj/2"),
    "modal": ("the dog can chase the cats", "the/DET/det/1 dog/NOUN/nsubj/3 can/AUX/aux/3 "
              "chase/VERB/ROOT/3 the/DET/det/5 cat/NOUN/dobj/3"),
    "old": ("an old mug and a red plate", "an/DET/det/2 old/ADJ/amod/2 mug/NOUN/ROOT/2 "
            "and/CCONJ/cc/2 a/DET/det/6 red/ADJ/amod/6 plate/NOUN/conj/2"),
    "digits": ("a dog chases 8k", "a/DET/det/1 dog/NOUN/nsubj/2 chase/VERB/ROOT/2 "
               "8k/NOUN/dobj/2"),
    "coordination": ("A man rides a horse and a cow", "a/DET/det/1 man/NOUN/nsubj/2 "
                     "rid/VERB/ROOT/2 a/DET/det/4 horse/NOUN/dobj/2 and/CCONJ/cc/4 a/DET/det/7 "
                     "cow/NOUN/conj/4"),
    "brown": ("A brown dog chases a red ball across the lawn", "a/DET/det/2 brown/ADJ/amod/2 "
              "dog/NOUN/nsubj/3 chase/VERB/ROOT/3 a/DET/det/6 red/ADJ/amod/6 ball/NOUN/dobj/3 "
              "across/ADP/prep/3 the/DET/det/9 lawn/NOUN/pobj/7"),
    "far": ("a boy and a girl fly a kite", "a/DET/det/1 boy/NOUN/nsubj/5 and/CCONJ/cc/1 "
            "a/DET/det/4 girl/NOUN/conj/1 fly/VERB/ROOT/5 a/DET/det/7 kite/NOUN/dobj/5"),
}  # fmt: skip


def _parsed_tokens(parsed: dict[str, tuple[str, str]]) -> pd.DataFrame:
    """``social/tokens`` columns for hand-parsed captions (community "c" for even ids' order)."""
    rows = []
    for n, (cid, (text, parse)) in enumerate(parsed.items()):
        words = list(TOKEN.finditer(text))
        analyses = parse.split()
        assert len(words) == len(analyses), cid
        for i, (m, analysis) in enumerate(zip(words, analyses, strict=True)):
            lemma, pos, dep, head = analysis.split("/")
            rows.append(
                {
                    "id": cid,
                    "community": "even" if n % 2 == 0 else "odd",
                    "position": i,
                    "text": m.group(),
                    "lower": m.group().lower(),
                    "lemma": lemma,
                    "pos": pos,
                    "dep": dep,
                    "head": int(head),
                    "start": m.start(),
                    "end": m.end(),
                }
            )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def parsed() -> MinimalPairs:
    tokens = _parsed_tokens(PARSED)
    relations = extract_relations(pa.Table.from_pandas(tokens))
    return minimal_pairs(relations, tokens, {k: v[0] for k, v in PARSED.items()})


def _row(made: MinimalPairs, cid: str, kind: str = "svo") -> dict[str, Any]:
    """The one pair of caption ``cid`` and ``kind``, missing values as None."""
    rows = made.pairs[(made.pairs["id"] == cid) & (made.pairs["kind"] == kind)]
    assert len(rows) == 1, (cid, rows)
    return {str(k): None if pd.isna(v) else v for k, v in rows.iloc[0].items()}


def test_probes_agreement_keeps_agreeing_swaps_and_exchanges_articles(parsed: MinimalPairs) -> None:
    expected = {
        "past": ("the ball chased the dogs", None),  # a past form carries no agreement
        "modal": ("the cats can chase the dog", None),  # nor does a modal
        "article": ("a man hits an apple", "an->a; a->an"),  # articles exchanged
        "coordination": ("A horse rides a man and a cow", None),
        "men": ("the kite was holding the man", None),  # same number: nothing to repair
    }
    for cid, (swapped, repairs) in expected.items():
        row = _row(parsed, cid)
        assert (row["swapped"], row["reinflected"]) == (swapped, repairs), cid
    amod = _row(parsed, "old", "amod")
    assert (amod["swapped"], amod["reinflected"]) == ("a red mug and an old plate", "an->a; a->an")


def test_probes_agreement_skips_are_counted_by_reason(parsed: MinimalPairs) -> None:
    reasons = dict(zip(parsed.skipped["id"], parsed.skipped["reason"], strict=True))
    assert reasons == {
        "plural": "number",  # "ball chase a dogs": the determiner "a" marks the number
        "the_dogs": "verb",  # "the ball chase the dogs": "chase" agrees with "dogs"
        "aux": "verb",  # "the kite are holding the men": the auxiliary agrees
        "rides": "verb",  # "the bikes rides the man"
        "pronoun": "pronoun",  # "she chases he" would need case re-inflection
        "digits": "article",  # "a 8k"/"an 8k": spelling does not tell
        "the_man": "article",  # "a man hits the apple": the repair would change a word
    }
    assert parsed.skip_counts() == {
        **dict.fromkeys(SKIP_REASONS, 0),
        "number": 1,
        "verb": 3,
        "pronoun": 1,
        "article": 2,
    }
    assert not set(reasons) & set(parsed.pairs["id"])  # each candidate in exactly one table


def test_probes_article_for_spelling() -> None:
    assert [article_for(w) for w in ("apple", "Hour", "European", "one", "horse", "")] == [
        "an",
        "an",
        "a",
        "a",
        "a",
        None,
    ]


# --------------------------------------------------------------------------- controls


def test_probes_control_is_the_captions_own_coordination(parsed: MinimalPairs) -> None:
    row = _row(parsed, "coordination")
    assert row["control_kind"] == "caption"
    assert row["control_original"] == "A man rides a horse and a cow"
    assert row["control_swapped"] == "A man rides a cow and a horse"
    assert row["distance"] == row["control_distance"] == 3


def test_probes_control_constructed_frame_is_symmetric_and_position_matched(
    parsed: MinimalPairs,
) -> None:
    brown = _row(parsed, "brown")
    # the second noun gets the first one's modifiers, so the swap rebinds no adjective
    assert (brown["control_original"], brown["control_swapped"]) == (
        "A brown dog and a brown ball across the lawn",
        "A brown ball and a brown dog across the lawn",
    )
    assert brown["control_kind"] == "constructed"
    assert brown["distance"] == brown["control_distance"] == 4
    article = _row(parsed, "article")  # articles follow the words in the frame too
    assert (article["control_original"], article["control_swapped"]) == (
        "an apple and a man",
        "a man and an apple",
    )
    men = _row(parsed, "men")  # padded with "also" to the pair's token distance
    assert (men["control_original"], men["control_swapped"], men["control_distance"]) == (
        "the man and also the kite",
        "the kite and also the man",
        4,
    )
    old = _row(parsed, "old", "amod")  # two adjectives of one noun, each with its article
    assert (old["control_original"], old["control_swapped"]) == (
        "an old and also a red plate",
        "a red and also an old plate",
    )
    # the coordination "a red mug and a blue plate" differs in its adjectives: not a control
    assert old["control_kind"] == "constructed"


def test_probes_control_distance_gap_decides_caption_or_constructed() -> None:
    tokens = _parsed_tokens({"far": PARSED["far"]})
    relations = extract_relations(pa.Table.from_pandas(tokens))
    texts = {"far": PARSED["far"][0]}
    near = minimal_pairs(relations, tokens, texts).pairs.iloc[0]
    assert (near["distance"], near["control_kind"]) == (6, "constructed")
    assert near["control_original"] == "a boy and also also also a kite"
    wide = minimal_pairs(relations, tokens, texts, max_distance_gap=3).pairs.iloc[0]
    assert (wide["control_kind"], wide["control_distance"]) == ("caption", 3)
    assert wide["control_swapped"] == "a girl and a boy fly a kite"
    with pytest.raises(NecoError, match="max_distance_gap must be 0 or more, got -1"):
        minimal_pairs(relations, tokens, texts, max_distance_gap=-1)


def test_probes_swaps_past_what_the_encoder_reads_are_skipped_as_truncated() -> None:
    parsed = {k: PARSED[k] for k in ("coordination", "brown", "article")}
    tokens = _parsed_tokens(parsed)
    relations = extract_relations(pa.Table.from_pandas(tokens))
    texts = {k: v[0] for k, v in parsed.items()}

    def fits(prefix: str) -> bool:  # an encoder that reads 5 words
        return len(prefix.split()) <= 5

    made = minimal_pairs(relations, tokens, texts, fits=fits)
    # "A man rides a horse": seen; its coordination "... a horse and a cow" is not, so the
    # control falls back to the constructed frame
    row = _row(made, "coordination")
    assert (row["control_kind"], row["control_original"]) == ("constructed", "A man and a horse")
    assert _row(made, "article")["swapped"] == "a man hits an apple"
    # "A brown dog chases a red ball" ends at word 7: the svo and the amod pair are skipped
    reasons = made.skipped.loc[made.skipped["id"] == "brown", ["kind", "reason"]]
    assert sorted(map(tuple, reasons.to_numpy())) == [("amod", "truncated"), ("svo", "truncated")]
    assert made.skip_counts()["truncated"] == 2


def test_probes_every_swap_and_control_is_a_permutation_of_its_words(
    parsed: MinimalPairs,
) -> None:
    def words(text: str) -> list[str]:
        return sorted(re.findall(r"\w+", text.lower()))

    assert set(parsed.pairs["control_kind"]) <= set(CONTROL_KINDS)
    columns = ["original", "swapped", "control_original", "control_swapped"]
    for original, swapped, control, control_swapped in parsed.pairs[columns].to_numpy():
        assert original != swapped and control != control_swapped
        # moved words and exchanged articles only: what a bag-of-words encoder cannot see
        assert words(original) == words(swapped)
        assert words(control) == words(control_swapped)


# --------------------------------------------------------------------------- encoders

RELATION_WORDS = frozenset({"chases", "chased", "chase", "hits", "rides", "fly", "holding", "in"})


def role_encoder(texts: Sequence[str], dim: int = 4096) -> np.ndarray:
    """A hand-made order-aware encoder: a word hashed with its side of the first relation word.

    Swapping subject and object moves words across the relation word (sensitivity > 0); a
    coordination has no relation word between its conjuncts, so its swap changes nothing.
    """
    out = np.zeros((len(texts), dim))
    for row, text in enumerate(texts):
        side = "L"
        for word in re.findall(r"\w+", text.lower()):
            if word in RELATION_WORDS and side == "L":
                side = "R"
                continue
            out[row, zlib.crc32(f"{side}:{word}".encode()) % dim] += 1.0
    return out


def position_encoder(texts: Sequence[str], dim: int = 64) -> np.ndarray:
    """Seeded random word vectors weighted by position: order-aware by position alone (as
    position embeddings make a random-weight transformer)."""
    out = np.zeros((len(texts), dim))
    for row, text in enumerate(texts):
        for i, word in enumerate(re.findall(r"\w+", text.lower())):
            rng = np.random.default_rng(zlib.crc32(word.encode()))
            out[row] += (1.0 + 0.5 * i) * rng.standard_normal(dim)
    return out


UNRELATED = [
    "a kite over the dunes",
    "two horses graze in a field",
    "castle on a hill at dawn",
    "a bowl of ripe figs",
    "children play football in the rain",
    "an empty train platform at night",
]


def test_probes_bag_of_words_scores_exactly_zero_sensitivity_and_calibrated(
    parsed: MinimalPairs, pairs: pd.DataFrame
) -> None:
    probed = probe_pairs(parsed.pairs, bag_of_words_encoder)
    assert (probed["cosine"] == 1.0).all() and (probed["control_cosine"] == 1.0).all()
    spread = unrelated_spread(UNRELATED, bag_of_words_encoder, seed=0)
    assert spread.mean > 0.5 and spread.pairs == 15  # all 15 pairs of 6 captions
    summary = probe_summary(probed, spread=spread, skipped=parsed.skipped)
    assert list(summary.columns) == SUMMARY_COLUMNS
    measured = summary[summary["pairs"] > 0]
    assert (measured["sensitivity"] == 0.0).all() and (measured["control"] == 0.0).all()
    assert (measured["calibrated"] == 0.0).all()
    assert summary["pairs"].sum() == len(parsed.pairs)
    assert summary["skipped"].sum() == len(parsed.skipped)
    # raw pairs without control columns still score
    raw = probe_pairs(pairs[["community", "kind", "original", "swapped"]], bag_of_words_encoder)
    assert (raw["cosine"] == 1.0).all() and "control_cosine" not in raw.columns


def test_probes_order_aware_encoder_scores_above_zero_and_above_its_control(
    parsed: MinimalPairs,
) -> None:
    probed = probe_pairs(parsed.pairs, role_encoder)
    svo = probed[probed["kind"] == "svo"]
    dog = svo[svo["id"] == "brown"].iloc[0]
    # L{a, brown, dog} R{a, red, ball, across, the, lawn}: 7 of 9 features shared
    assert dog["cosine"] == pytest.approx(7 / 9)
    assert (svo["cosine"] < 1.0).all() and (svo["control_cosine"] == 1.0).all()
    spread = unrelated_spread(UNRELATED, role_encoder, seed=0)
    summary = probe_summary(probed, spread=spread).set_index(["community", "kind"])
    svo_rows = summary.xs("svo", level="kind")
    assert (svo_rows["sensitivity"] > svo_rows["control"]).all()
    assert (svo_rows["control"] == 0.0).all() and (svo_rows["calibrated"] > 0).all()
    # position weighting alone makes controls move too: the reason controls are needed
    positional = probe_pairs(parsed.pairs, position_encoder)
    assert (positional["cosine"] < 1.0).all() and (positional["control_cosine"] < 1.0).all()


def test_probes_probe_pairs_encodes_each_text_once_in_batches(parsed: MinimalPairs) -> None:
    calls: list[int] = []

    def encode(texts: list[str]) -> np.ndarray:
        calls.append(len(texts))
        return bag_of_words_encoder(texts)

    made = parsed.pairs
    doubled = pd.concat([made, made], ignore_index=True)
    out = probe_pairs(doubled, encode, batch_size=3, prefix="floor_")
    columns = ["original", "swapped", "control_original", "control_swapped"]
    distinct = len(set().union(*(set(made[c]) for c in columns)))
    assert sum(calls) == distinct and max(calls) <= 3
    assert {"floor_cosine", "floor_control_cosine"} <= set(out.columns)
    with pytest.raises(NecoError, match="expected \\(number of texts, dimension\\)"):
        probe_pairs(made, lambda texts: np.zeros(len(texts)))
    empty = probe_pairs(made.iloc[:0], bag_of_words_encoder)
    assert {"cosine", "control_cosine"} <= set(empty.columns) and empty.empty


def test_probes_unrelated_spread_is_seeded_and_samples_distinct_pairs() -> None:
    texts = [f"caption number {i} about topic {i * 7 % 13}" for i in range(40)]
    a = unrelated_spread(texts, position_encoder, pairs=50, seed=1)
    b = unrelated_spread(texts, position_encoder, pairs=50, seed=1)
    c = unrelated_spread(texts, position_encoder, pairs=50, seed=2)
    assert a == b and a.pairs == 50 and a != c
    assert 0 < a.mean < 2 and a.std > 0
    # duplicates are one caption; fewer than two distinct captions give no scale
    assert unrelated_spread(["a dog", "a dog", "a cat"], bag_of_words_encoder).pairs == 1
    none = unrelated_spread(["a dog", "a dog"], bag_of_words_encoder)
    assert none.pairs == 0 and math.isnan(none.mean)
    with pytest.raises(NecoError, match=r"must be >= 1\. Got 0"):
        unrelated_spread(texts, bag_of_words_encoder, pairs=0)


def test_probes_calibrated_score_on_hand_made_numbers() -> None:
    # the random-weight CLIP numbers: swap 0.014, "X and Y" 0.003, unrelated 0.197
    assert calibrated_score(0.014, 0.003, 0.197) == pytest.approx(0.011 / 0.197)
    assert calibrated_score(0.30, 0.10, 0.40) == pytest.approx(0.5)
    assert calibrated_score(0.10, 0.30, 0.40) == pytest.approx(-0.5)  # below the control
    assert math.isnan(calibrated_score(0.1, 0.0, 0.0))  # no scale
    assert math.isnan(calibrated_score(0.1, math.nan, 0.2))


def test_probes_summary_rows_counts_and_declaration() -> None:
    probed = pd.DataFrame(
        {
            "community": ["a", "a", "b", "a"],
            "kind": ["svo", "svo", "svo", "prep"],
            "cosine": [1.0, 0.8, 0.5, 0.9],
            "control_cosine": [1.0, 0.9, 0.9, 0.9],
            "control_kind": ["caption", "constructed", "constructed", "constructed"],
            "floor_cosine": [0.99, 0.99, 0.98, 0.97],
            "floor_control_cosine": [0.995, 0.995, 0.99, 0.98],
        }
    )
    skipped = pd.DataFrame(
        {
            "id": ["x", "y", "z"],
            "community": ["a", "c", "c"],
            "kind": ["svo", "amod", "amod"],
            "term_a": ["t"] * 3,
            "relation": ["r"] * 3,
            "term_b": ["u"] * 3,
            "reason": ["number", "article", "identical"],
        }
    )
    summary = probe_summary(
        probed, spread=Spread(0.2, 0.05, 15), floor_spread=Spread(0.1, 0.01, 15), skipped=skipped
    )
    conform("neural/probe_summary", summary)  # matches its catalogue declaration

    def group(community: str, kind: str) -> dict[str, Any]:
        found = summary[(summary["community"] == community) & (summary["kind"] == kind)]
        assert len(found) == 1
        return {str(k): v for k, v in found.iloc[0].items()}

    a_svo = group("a", "svo")
    assert a_svo["sensitivity"] == pytest.approx(0.1)  # mean of 0.0 and 0.2
    assert a_svo["control"] == pytest.approx(0.05)
    assert a_svo["calibrated"] == pytest.approx((0.1 - 0.05) / 0.2)
    assert a_svo["floor_calibrated"] == pytest.approx((0.01 - 0.005) / 0.1)
    assert (a_svo["pairs"], a_svo["skipped"], a_svo["skipped_number"]) == (2, 1, 1)
    assert (a_svo["caption_controls"], a_svo["constructed_controls"]) == (1, 1)
    assert group("b", "svo")["calibrated"] == pytest.approx((0.5 - 0.1) / 0.2)
    # a group with skipped candidates only is listed with missing scores, never zeros
    c_amod = group("c", "amod")
    assert (c_amod["pairs"], c_amod["skipped_article"], c_amod["skipped_identical"]) == (0, 1, 1)
    assert math.isnan(c_amod["sensitivity"]) and math.isnan(c_amod["calibrated"])
    # without a scale, no calibrated score
    assert probe_summary(probed)["calibrated"].isna().all()


# --------------------------------------------------------------------------- a transformer


@pytest.fixture(scope="module")
def _restore_environment() -> Iterator[None]:
    """Loading sets HF_HUB_OFFLINE=1 in the process; put the environment back afterwards."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        yield


@pytest.fixture(scope="module")
def clip_text(tmp_path_factory: pytest.TempPathFactory, _restore_environment: None) -> Any:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from neco.neural.components import load_set
    from neco.neural.device import DeviceChoice
    from tests.neural import tiny

    folder: Path = tiny.save_tiny_pipeline(
        tmp_path_factory.mktemp("tiny-probe"), kinds=("tokenizer", "text_encoder")
    )
    return load_set(folder, device=DeviceChoice("cpu", "float32"))


def _clip_encoder(clip_text: dict[str, Any], model: Any) -> Any:
    from neco.neural.device import DeviceChoice
    from neco.neural.text import encode_texts

    def encode(texts: list[str]) -> np.ndarray:
        return encode_texts(
            texts, clip_text["tokenizer"], model, device=DeviceChoice("cpu", "float32")
        ).pooled

    return encode


def test_probes_random_weight_floor_is_built_from_the_config_and_deterministic(
    clip_text: dict[str, Any],
) -> None:
    import torch

    encoder = clip_text["text_encoder"]
    before = torch.random.get_rng_state()
    twin = random_weight_twin(encoder, seed=0)
    again = random_weight_twin(encoder, seed=0)
    other = random_weight_twin(encoder, seed=1)
    assert torch.equal(torch.random.get_rng_state(), before)  # the caller's RNG is untouched
    assert type(twin) is type(encoder) and not twin.training
    assert twin.config.to_dict() == encoder.config.to_dict()
    assert twin.config is not encoder.config
    ours, theirs = twin.state_dict(), again.state_dict()
    assert ours.keys() == encoder.state_dict().keys()
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)
    # seeded initialisation from the config, as tests/neural/tiny.py builds the encoder it
    # saved: seed 0 gives back exactly those weights, seed 1 others
    saved = encoder.state_dict()
    assert all(torch.equal(ours[k], saved[k]) for k in ours)
    key = "embeddings.token_embedding.weight"
    assert not torch.equal(other.state_dict()[key], saved[key])
    half = random_weight_twin(copy.deepcopy(encoder).to(torch.float16), seed=0)
    assert next(half.parameters()).dtype == torch.float16  # the encoder's dtype
    with pytest.raises(NecoError, match=r"without `\.config`"):
        random_weight_twin(object())


def test_probes_tiny_clip_text_encoder_with_controls_and_floor(
    parsed: MinimalPairs, clip_text: dict[str, Any]
) -> None:
    encode = _clip_encoder(clip_text, clip_text["text_encoder"])
    probed = probe_pairs(parsed.pairs, encode)
    assert (probed["cosine"] < 1.0).any()
    assert probed["cosine"].between(-1.0, 1.0).all()
    floor_a = probe_pairs(probed, _clip_encoder(clip_text, random_weight_twin(
        clip_text["text_encoder"], seed=0)), prefix="floor_")  # fmt: skip
    floor_b = probe_pairs(probed, _clip_encoder(clip_text, random_weight_twin(
        clip_text["text_encoder"], seed=0)), prefix="floor_")  # fmt: skip
    pd.testing.assert_frame_equal(floor_a, floor_b)  # the floor is deterministic
    assert (floor_a["floor_cosine"] < 1.0).any()
    captions = [text for text, _ in PARSED.values()] + UNRELATED
    spread = unrelated_spread(captions, encode, seed=0)
    summary = probe_summary(floor_a, spread=spread, floor_spread=spread, skipped=parsed.skipped)
    conform("neural/probe_summary", summary)
    measured = summary[summary["pairs"] > 0]
    assert (measured["sensitivity"] > 0).all() and measured["calibrated"].notna().all()
    assert measured["floor_calibrated"].notna().all()
