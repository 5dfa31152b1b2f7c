"""The bundled demo corpus meets its datasheet, and `neco demo` runs and re-runs cleanly."""

from __future__ import annotations

import json
import re

import pytest

from neco.corpus import Corpus
from neco.corpus.recipe import read_recipe
from neco.demo import demo_recipe, run_demo


@pytest.fixture(scope="module")
def demo_corpus() -> Corpus:
    return Corpus.from_sources(read_recipe(demo_recipe()))


def test_demo_corpus_has_five_plus_communities_of_300(demo_corpus):
    counts = demo_corpus.counts
    assert len(counts) >= 5
    assert min(counts.values()) >= 300
    assert demo_corpus.n_rejected == 0


def test_demo_corpus_has_few_exact_duplicates(demo_corpus):
    texts = demo_corpus.rows["text"]
    assert 1 - texts.nunique() / len(texts) < 0.02


def test_demo_corpus_has_a_non_english_community(demo_corpus):
    langs = demo_corpus.rows.groupby("community")["lang"].agg(lambda s: set(s.dropna()))
    assert langs["fotogruppe_de"] == {"de"}
    german = " ".join(demo_corpus.community("fotogruppe_de").texts)
    assert re.search(r"[äöüß]", german)


def test_demo_corpus_forum_threads_are_nested(demo_corpus):
    forum = demo_corpus.community("photoforum").rows.set_index("id")
    replies = forum["parent_id"].notna()
    assert replies.sum() > 250
    assert forum["repairs"].isna().all()  # no dangling parents, no cycles

    def depth(post_id: str) -> int:
        parent = forum.loc[post_id, "parent_id"]
        return 0 if not isinstance(parent, str) else 1 + depth(parent)

    assert max(depth(i) for i in forum.index) >= 3
    assert forum["thread_id"].nunique() >= 50


def test_demo_corpus_prompts_look_like_prompts(demo_corpus):
    prompts = demo_corpus.community("prompts").rows
    assert prompts["text"].str.contains(r"\(\w[\w ]*:\d\.\d+\)").sum() >= 20  # (word:1.3)
    negatives = [json.loads(m).get("negative_prompt") for m in prompts["meta"]]
    assert sum(bool(n) for n in negatives) >= 150
    assert prompts["text"].str.contains(r"\bby [a-z]+ [a-z]+", case=False).sum() >= 20


def test_demo_run_is_idempotent(tmp_path):
    # The quick path (lexical parse, no embeddings); the full demo runs in test_demo_full.
    first = run_demo(
        tmp_path / "ws", mode="lexical", skip=("semantic", "relations"), neural_stages=("tokens",)
    )
    ingest = first["ingest"]
    assert ingest["accepted"] == ingest["rows_read"] >= 1800
    assert first["stages"][0]["name"] == "ingest"
    status = {s["name"]: s["status"] for s in first["stages"]}
    assert status["social.parse"] == status["social.keyness"] == status["neural.tokens"] == "ran"
    again = run_demo(
        tmp_path / "ws", mode="lexical", skip=("semantic", "relations"), neural_stages=("tokens",)
    )
    assert {s["status"] for s in again["ingest"]["sources"]} == {"unchanged"}
    assert again["ingest"]["accepted"] == 0
    ran_again = [s["name"] for s in again["stages"] if s["status"] == "ran"]
    assert ran_again == []


@pytest.mark.slow
def test_demo_full(tmp_path):
    result = run_demo(tmp_path / "ws")
    status = {s["name"]: s["status"] for s in result["stages"]}
    for name in (
        "social.parse",
        "social.semantic",
        "social.relations",
        "neural.tokens",
        "neural.latents",  # TAESD on the alt-text charts
        "survival",
    ):
        assert status[name] == "ran", result["stages"]


def _chart_script():
    import importlib.util

    from neco.demo import DEMO_DIR

    spec = importlib.util.spec_from_file_location(
        "make_chart_images", DEMO_DIR / "make_chart_images.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_demo_alt_text_charts_have_their_images(tmp_path):
    import csv

    from PIL import Image

    from neco.demo import DEMO_DIR

    with open(DEMO_DIR / "alt_text.tsv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    assert len(rows) == 381
    with_images = {r["alt_id"]: r["image"] for r in rows if r["image"]}
    assert len(with_images) >= 15
    for alt_id, rel in with_images.items():
        assert rel == f"images/{alt_id}.png"
        path = DEMO_DIR / rel
        assert path.is_file(), path
        with Image.open(path) as img:
            assert (img.format, img.mode, img.size) == ("PNG", "RGB", (512, 512))
            img.load()
    assert not [p.name for p in (DEMO_DIR / "images").iterdir() if p.stem not in with_images]

    # The committed PNGs are what the script draws: same pixels, up to font rasterising
    # differences between Pillow/FreeType builds (bytes differ with zlib versions).
    import numpy as np

    script = _chart_script()
    assert set(script.CHARTS) == set(with_images)
    alt_id = "alt-0004"
    drawn = script.save_chart(alt_id, tmp_path)
    with Image.open(drawn) as a, Image.open(DEMO_DIR / with_images[alt_id]) as b:
        diff = np.abs(np.asarray(a, dtype=float) - np.asarray(b, dtype=float))
    assert diff.mean() < 2.0, (
        "the chart no longer matches its committed PNG: rerun "
        "python corpora/demo/make_chart_images.py and commit the images"
    )
