"""The text-encoder stage on a tiny random CLIP text encoder with the real CLIP tokenizer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from neco.errors import NecoError  # noqa: E402
from neco.neural.components import attention_implementation, load_set  # noqa: E402
from neco.neural.device import DeviceChoice, choose_device  # noqa: E402
from neco.neural.text import (  # noqa: E402
    MAX_LENGTH,
    TextEmbeddings,
    embeddings_table,
    encode_texts,
    hidden_from_table,
    hidden_table,
    iter_encode,
    pooled_from_table,
    tokenize,
    write_embeddings,
)
from tests.neural import tiny  # noqa: E402

CPU = DeviceChoice("cpu", "float32")
CAPTIONS = [
    "a dog chases a ball",
    "a ball chases a dog",
    "A red mug and a blue plate on the grass.",
    "two people shaking hands in an office",
    "",
    "a photograph of an astronaut riding a horse",
    "close-up portrait of a nurse, soft light, 35mm",
    "a mug in the grass",
    "an old man reading a newspaper on a park bench",
]


@pytest.fixture(scope="module", autouse=True)
def _restore_environment() -> Iterator[None]:
    """Loading sets HF_HUB_OFFLINE=1 in the process; put the environment back afterwards."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        yield


@pytest.fixture(scope="module")
def text_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny.save_tiny_pipeline(
        tmp_path_factory.mktemp("tiny-text"), kinds=("tokenizer", "text_encoder")
    )


@pytest.fixture(scope="module")
def parts(text_dir: Path) -> dict[str, Any]:
    return load_set(text_dir, device=CPU)


def _encode(parts: dict[str, Any], texts: list[str], **kwargs: Any) -> TextEmbeddings:
    return encode_texts(texts, parts["tokenizer"], parts["text_encoder"], device=CPU, **kwargs)


def test_text_encode_texts_shapes_and_dtype(parts: dict[str, Any]) -> None:
    emb = _encode(parts, CAPTIONS, hidden_states=True)
    n = len(CAPTIONS)
    assert emb.pooled.shape == (n, tiny.HIDDEN) and emb.pooled.dtype == np.float16
    assert emb.hidden is not None
    assert emb.hidden.shape == (n, MAX_LENGTH, tiny.HIDDEN) and emb.hidden.dtype == np.float16
    assert emb.lengths.tolist()[:2] == [7, 7]  # <|startoftext|> a dog chases a ball <|endoftext|>
    assert emb.lengths[4] == 2  # the empty caption: the two special tokens
    assert _encode(parts, CAPTIONS[:2]).hidden is None
    empty = _encode(parts, [], hidden_states=True)
    assert empty.pooled.shape == (0, tiny.HIDDEN) and empty.hidden is not None


def test_text_encode_texts_is_deterministic(parts: dict[str, Any]) -> None:
    first = _encode(parts, CAPTIONS, hidden_states=True)
    second = _encode(parts, CAPTIONS, hidden_states=True)
    assert np.array_equal(first.pooled, second.pooled)
    assert first.hidden is not None and second.hidden is not None
    assert np.array_equal(first.hidden, second.hidden)


def test_text_encode_texts_batch_size_invariant(parts: dict[str, Any]) -> None:
    one = _encode(parts, CAPTIONS, batch_size=1, hidden_states=True)
    seven = _encode(parts, CAPTIONS, batch_size=7, hidden_states=True)
    np.testing.assert_allclose(one.pooled, seven.pooled, rtol=1e-3, atol=1e-3)
    assert one.hidden is not None and seven.hidden is not None
    np.testing.assert_allclose(one.hidden, seven.hidden, rtol=1e-3, atol=1e-3)
    assert np.array_equal(one.lengths, seven.lengths)


def test_text_pooled_is_eos_state_after_final_layer_norm(parts: dict[str, Any]) -> None:
    emb = _encode(parts, CAPTIONS, hidden_states=True)
    assert emb.hidden is not None
    rows = np.arange(len(CAPTIONS))
    eos = emb.lengths - 1
    # The pooled vector is the last hidden state at the (first) EOS token...
    assert np.array_equal(emb.pooled, emb.hidden[rows, eos])
    # ...and that is the final encoder layer's output passed through the final layer norm.
    model = parts["text_encoder"]
    ids = tokenize(CAPTIONS, parts["tokenizer"])["input_ids"]
    assert (ids[torch.from_numpy(rows), torch.from_numpy(eos)] == tiny.EOS_ID).all()
    with torch.inference_mode():
        out = model(input_ids=ids, output_hidden_states=True)
        normed = model.final_layer_norm(out.hidden_states[-1])
    expected = normed[torch.from_numpy(rows), torch.from_numpy(eos)].numpy()
    np.testing.assert_allclose(emb.pooled.astype(np.float32), expected, rtol=2e-3, atol=2e-3)


def test_text_truncates_at_77_tokens(parts: dict[str, Any]) -> None:
    long_caption = " ".join(["word"] * 200)
    emb = _encode(parts, [long_caption, "a dog"])
    assert emb.lengths.tolist() == [MAX_LENGTH, 4]
    assert emb.truncated.tolist() == [True, False]
    ids = tokenize([long_caption], parts["tokenizer"])["input_ids"]
    assert ids.shape == (1, MAX_LENGTH)
    assert int(ids[0, 0]) == tiny.BOS_ID and int(ids[0, -1]) == tiny.EOS_ID


def test_text_iter_encode_yields_batches_in_order(parts: dict[str, Any]) -> None:
    batches = list(
        iter_encode(CAPTIONS, parts["tokenizer"], parts["text_encoder"], device=CPU, batch_size=4)
    )
    assert [start for start, _ in batches] == [0, 4, 8]
    assert [len(emb) for _, emb in batches] == [4, 4, 1]
    whole = _encode(parts, CAPTIONS, batch_size=4)
    assert np.array_equal(TextEmbeddings.concat([e for _, e in batches]).pooled, whole.pooled)


def test_text_tables_round_trip(parts: dict[str, Any]) -> None:
    emb = _encode(parts, CAPTIONS[:3], hidden_states=True)
    ids = ["c1", "c2", "c3"]
    table = embeddings_table(ids, emb)
    assert table.column_names == ["id", "length", "pooled"]
    assert (
        str(table.schema.field("pooled").type) == f"fixed_size_list<item: halffloat>[{tiny.HIDDEN}]"
    )
    assert np.array_equal(pooled_from_table(table), emb.pooled)
    hidden = hidden_table(ids, emb)
    assert hidden.schema.field("hidden").type.list_size == MAX_LENGTH * tiny.HIDDEN
    assert emb.hidden is not None and np.array_equal(hidden_from_table(hidden), emb.hidden)
    with pytest.raises(NecoError, match="one id per text"):
        embeddings_table(ids[:2], emb)
    with pytest.raises(NecoError, match="hidden_states=True"):
        hidden_table(ids, _encode(parts, CAPTIONS[:3]))


def test_text_write_embeddings_streams_hidden_parts(parts: dict[str, Any], tmp_path: Path) -> None:
    ids = [f"c{i}" for i in range(len(CAPTIONS))]
    result = write_embeddings(
        tmp_path / "emb",
        ids,
        CAPTIONS,
        parts["tokenizer"],
        parts["text_encoder"],
        device=CPU,
        batch_size=2,
        hidden_states=True,
        rows_per_part=4,
    )
    part_files = sorted((tmp_path / "emb" / "hidden").glob("part-*.parquet"))
    assert [p.name for p in part_files] == [
        "part-00000.parquet",
        "part-00001.parquet",
        "part-00002.parquet",
    ]
    whole = _encode(parts, CAPTIONS, hidden_states=True)
    pooled = pq.read_table(tmp_path / "emb" / "pooled.parquet")
    assert pooled.column("id").to_pylist() == ids
    assert np.array_equal(pooled_from_table(pooled), whole.pooled)
    assert np.array_equal(result.pooled, whole.pooled) and result.hidden is None
    hidden = pq.read_table(tmp_path / "emb" / "hidden")
    order = np.argsort(hidden.column("id").to_pylist())
    expected_order = np.argsort(ids)
    assert whole.hidden is not None
    assert np.array_equal(hidden_from_table(hidden)[order], whole.hidden[expected_order])


def test_text_device_mismatch_and_bad_batch_size(parts: dict[str, Any]) -> None:
    with pytest.raises(NecoError, match="the device choice says cuda"):
        encode_texts(
            CAPTIONS,
            parts["tokenizer"],
            parts["text_encoder"],
            device=DeviceChoice("cuda", "bfloat16"),
        )
    with pytest.raises(NecoError, match="batch_size"):
        _encode(parts, CAPTIONS, batch_size=0)


def test_text_bfloat16_close_to_float32_on_cpu(parts: dict[str, Any]) -> None:
    reference = _encode(parts, CAPTIONS).pooled.astype(np.float64)
    half = encode_texts(
        CAPTIONS,
        parts["tokenizer"],
        parts["text_encoder"],
        device=DeviceChoice("cpu", "bfloat16"),  # float32 weights: runs under autocast
    ).pooled.astype(np.float64)
    cosine = (
        (reference * half).sum(1) / np.linalg.norm(reference, axis=1) / np.linalg.norm(half, axis=1)
    )
    assert cosine.min() > 0.99


@pytest.mark.gpu
def test_text_cuda_bfloat16_matches_cpu(text_dir: Path, parts: dict[str, Any]) -> None:
    if not torch.cuda.is_available():
        pytest.skip("CUDA is not available")
    choice = choose_device()
    assert choice.device == "cuda"
    gpu = load_set(text_dir, device=choice)
    assert attention_implementation(gpu["text_encoder"]) == "sdpa"
    on_gpu = encode_texts(CAPTIONS, gpu["tokenizer"], gpu["text_encoder"], device=choice)
    reference = _encode(parts, CAPTIONS).pooled.astype(np.float64)
    got = on_gpu.pooled.astype(np.float64)
    cosine = (
        (reference * got).sum(1) / np.linalg.norm(reference, axis=1) / np.linalg.norm(got, axis=1)
    )
    assert cosine.min() > 0.99
