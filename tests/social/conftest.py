"""Small parsed corpora shared by the NLP-layer tests (real spaCy pipelines)."""

from __future__ import annotations

import pytest

from neco.social.parse import ParseConfig, ParseResult, parse_texts

TEXTS = {
    "a": ("A red kite hovers over the dunes.", "birds", "en"),
    "b": ("Two red kites, one grey heron.", "birds", "en"),
    "c": ("The red kite again, and a red kite.", "birds", None),
    "d": ("A brown dog chases a red ball.", "pets", "en"),
    "e": ("A mug in the grass next to a sleeping cat.", "pets", None),
    "f": ("Möwen über dem Hafen", "möwen", "de"),
}


def parse(mode: str) -> ParseResult:
    ids = list(TEXTS)
    return parse_texts(
        ids, [TEXTS[i][0] for i in ids], [TEXTS[i][1] for i in ids],
        [TEXTS[i][2] for i in ids], ParseConfig(mode=mode),
    )  # fmt: skip


@pytest.fixture(scope="session")
def lexical() -> ParseResult:
    return parse("lexical")


@pytest.fixture(scope="session")
def full() -> ParseResult:
    return parse("full")
