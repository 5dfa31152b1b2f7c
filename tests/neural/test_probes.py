"""Relation probes: minimal pairs from hand-made relation rows and token offsets (no spaCy)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from neco.errors import NecoError
from neco.neural.probes import (
    PAIR_COLUMNS,
    bag_of_words_encoder,
    minimal_pairs,
    probe_pairs,
    probe_summary,
    recase,
    swap_spans,
)

TOKEN = re.compile(r"\w+|[^\w\s]")

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
    """A token table as the social layer writes it: id, position, text, start, end."""
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
def pairs() -> pd.DataFrame:
    return minimal_pairs(RELATIONS, _tokens(TEXTS), TEXTS)


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


def test_probes_minimal_pairs_skips_identical_words(pairs: pd.DataFrame) -> None:
    assert "same" not in set(pairs["id"])
    assert "sameadj" not in set(pairs["id"])
    assert (pairs["original"] != pairs["swapped"]).all()


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
    out = minimal_pairs(relations, pa.Table.from_pandas(tokens), {"x": text})
    assert out["swapped"].tolist() == ["  A  ball\tchases\u00a0a dog!! "]


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
    full = minimal_pairs(relations, tokens, texts)
    assert full["kind"].value_counts().to_dict() == {"svo": 20, "prep": 1}
    sample = minimal_pairs(relations, tokens, texts, max_per_kind=5, seed=3)
    assert sample["kind"].value_counts().to_dict() == {"svo": 5, "prep": 1}
    again = minimal_pairs(relations, tokens, texts, max_per_kind=5, seed=3)
    pd.testing.assert_frame_equal(sample, again)
    assert minimal_pairs(relations, tokens, texts, kinds=("prep",))["id"].tolist() == ["p"]
    with pytest.raises(NecoError, match="Expected some of: svo, prep, amod"):
        minimal_pairs(relations, tokens, texts, kinds=("nsubj",))


def test_probes_minimal_pairs_offsets_must_match_texts() -> None:
    shifted = {cid: "  " + text for cid, text in TEXTS.items()}
    with pytest.raises(NecoError, match="normalised texts"):
        minimal_pairs(RELATIONS, _tokens(TEXTS), shifted)
    with pytest.raises(NecoError, match="lacks column"):
        minimal_pairs(RELATIONS.drop(columns=["position_b"]), _tokens(TEXTS), TEXTS)


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


def test_probes_bag_of_words_scores_exactly_zero_sensitivity(pairs: pd.DataFrame) -> None:
    probed = probe_pairs(pairs, bag_of_words_encoder)
    assert len(probed) == len(pairs)
    assert (probed["cosine"] == 1.0).all()
    summary = probe_summary(probed)
    assert list(summary.columns) == ["community", "kind", "sensitivity", "count"]
    assert (summary["sensitivity"] == 0.0).all()
    assert summary["count"].sum() == len(pairs)


def test_probes_probe_pairs_encodes_each_text_once_in_batches(pairs: pd.DataFrame) -> None:
    calls: list[int] = []

    def encode(texts: list[str]) -> np.ndarray:
        calls.append(len(texts))
        return bag_of_words_encoder(texts)

    doubled = pd.concat([pairs, pairs], ignore_index=True)
    probe_pairs(doubled, encode, batch_size=3)
    distinct = len(set(pairs["original"]) | set(pairs["swapped"]))
    assert sum(calls) == distinct and max(calls) <= 3
    with pytest.raises(NecoError, match="expected \\(number of texts, dimension\\)"):
        probe_pairs(pairs, lambda texts: np.zeros(len(texts)))
    empty = probe_pairs(pairs.iloc[:0], bag_of_words_encoder)
    assert "cosine" in empty.columns and empty.empty


def test_probes_summary_means_one_minus_cosine() -> None:
    probed = pd.DataFrame(
        {
            "community": ["a", "a", "b", "a"],
            "kind": ["svo", "svo", "svo", "prep"],
            "cosine": [1.0, 0.8, 0.5, 0.9],
        }
    )
    summary = probe_summary(probed).set_index(["community", "kind"])
    assert summary.loc[("a", "svo"), "sensitivity"] == pytest.approx(0.1)
    assert summary.loc[("a", "svo"), "count"] == 2
    assert summary.loc[("b", "svo"), "sensitivity"] == pytest.approx(0.5)
    assert summary.loc[("a", "prep"), "sensitivity"] == pytest.approx(0.1)


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


def test_probes_tiny_clip_text_encoder_is_order_sensitive(
    pairs: pd.DataFrame, clip_text: dict[str, Any]
) -> None:
    from neco.neural.device import DeviceChoice
    from neco.neural.text import encode_texts

    def encode(texts: list[str]) -> np.ndarray:
        return encode_texts(
            texts,
            clip_text["tokenizer"],
            clip_text["text_encoder"],
            device=DeviceChoice("cpu", "float32"),
        ).pooled

    probed = probe_pairs(pairs, encode)
    assert (probed["cosine"] < 1.0).any()
    assert probed["cosine"].between(-1.0, 1.0).all()
    summary = probe_summary(probed)
    assert (summary["sensitivity"] > 0).any()
