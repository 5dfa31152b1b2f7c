"""The text-encoder stage: captions through Stable Diffusion's CLIP text encoder.

Stable Diffusion v1.5 (Rombach et al. 2022) conditions its U-Net on the last hidden state of
the CLIP ViT-L/14 text transformer (Radford et al. 2021): 77 token vectors of width 768, for
a caption tokenised with CLIP's byte-level BPE, wrapped in ``<|startoftext|>`` and
``<|endoftext|>``, truncated and padded to 77 tokens. :func:`encode_texts` reproduces exactly
that: padding to ``max_length=77`` with truncation, no attention mask (the pipeline passes
none; the causal mask already keeps the padding out of every position up to the EOS token).

Two views are kept, both as float16:

- ``pooled`` — ``(n, d)``: the text transformer's ``pooler_output``, the hidden state at the
  first EOS token after the final layer norm. It summarises the caption; it is what CLIP
  projects into its joint space.
- ``hidden`` — ``(n, 77, d)``, optional: ``last_hidden_state``, the tensor the U-Net consumes.

Storage. Pooled vectors are small (100,000 captions x 768 x 2 bytes = 150 MB) and go in one
table (:func:`embeddings_table`: ``id``, ``length``, ``pooled`` as
``fixed_size_list<halffloat>[d]``). Hidden states are 77 times larger (11.8 GB for 100,000
captions), so they are never held whole: :func:`iter_encode` yields one batch at a time and
:func:`write_embeddings` streams them into Parquet parts (``hidden/part-00000.parquet``...,
:func:`hidden_table`: ``id``, ``hidden`` as ``fixed_size_list<halffloat>[77 * d]``, row-major
over tokens), read back with :func:`hidden_from_table`.

>>> import numpy as np
>>> emb = TextEmbeddings(np.ones((2, 3), np.float16), None, np.array([5, 7], np.int32))
>>> embeddings_table(["a", "b"], emb).schema.field("pooled").type
FixedSizeListType(fixed_size_list<item: halffloat>[3])
>>> pooled_from_table(embeddings_table(["a", "b"], emb)).shape
(2, 3)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from neco._lazy import require
from neco.errors import NecoError
from neco.neural.device import DeviceChoice, torch_dtype
from neco.progress import Progress

MAX_LENGTH = 77
"""CLIP's context length, and the number of token vectors Stable Diffusion's U-Net reads."""


@dataclass
class TextEmbeddings:
    """Encoded captions: pooled vectors, optional hidden states and token counts.

    ``pooled`` is ``(n, d)`` float16; ``hidden`` is ``(n, 77, d)`` float16 or ``None``;
    ``lengths`` is ``(n,)`` int32, tokens including ``<|startoftext|>`` and
    ``<|endoftext|>``, at most 77 (a longer caption is truncated, as Stable Diffusion does).
    """

    pooled: np.ndarray
    hidden: np.ndarray | None
    lengths: np.ndarray

    def __len__(self) -> int:
        return int(self.pooled.shape[0])

    @property
    def truncated(self) -> np.ndarray:
        """Which captions reached the 77-token limit (and so may have lost words)."""
        return np.asarray(self.lengths >= MAX_LENGTH)

    @classmethod
    def concat(cls, parts: Sequence[TextEmbeddings]) -> TextEmbeddings:
        """Join batches in order.

        >>> a = TextEmbeddings(np.zeros((1, 2), np.float16), None, np.array([3], np.int32))
        >>> len(TextEmbeddings.concat([a, a]))
        2
        """
        if not parts:
            raise ValueError("nothing to concatenate")
        hidden = None
        if all(p.hidden is not None for p in parts):
            hidden = np.concatenate([p.hidden for p in parts if p.hidden is not None])
        return cls(
            pooled=np.concatenate([p.pooled for p in parts]),
            hidden=hidden,
            lengths=np.concatenate([p.lengths for p in parts]),
        )


def tokenize(texts: Sequence[str], tokenizer: Any, *, max_length: int = MAX_LENGTH) -> Any:
    """Token ids as Stable Diffusion makes them: padded to 77, truncated, as a torch batch.

    Returns the tokenizer's ``BatchEncoding`` (``input_ids`` and ``attention_mask`` tensors).
    """
    return tokenizer(
        list(texts),
        padding="max_length",
        max_length=max_length,
        truncation=True,
        return_attention_mask=True,
        return_tensors="pt",
    )


def _model_device(model: Any) -> Any:
    return next(model.parameters()).device


def _check_placement(text_encoder: Any, device: DeviceChoice, torch: Any) -> None:
    actual = _model_device(text_encoder)
    wanted = torch.device(device.device)
    same = actual.type == wanted.type and (wanted.index is None or actual.index == wanted.index)
    if not same:
        raise NecoError(
            f"The text encoder is on {actual}, but the device choice says {device.device}. "
            "Load it with load_component(..., device=choice) or load_set(..., device=choice), "
            "or pass the DeviceChoice it was loaded with."
        )


def _autocast(text_encoder: Any, device: DeviceChoice, torch: Any) -> Any:
    """Autocast only where the device asks for half precision and the weights are float32."""
    model_dtype = next(text_encoder.parameters()).dtype
    wanted = torch_dtype(device)
    if wanted != torch.float32 and model_dtype == torch.float32:
        return torch.autocast(device_type=torch.device(device.device).type, dtype=wanted)
    return contextlib.nullcontext()


def iter_encode(
    texts: Sequence[str],
    tokenizer: Any,
    text_encoder: Any,
    *,
    device: DeviceChoice,
    batch_size: int = 64,
    hidden_states: bool = False,
    progress: Progress | None = None,
) -> Iterator[tuple[int, TextEmbeddings]]:
    """Encode ``texts`` batch by batch, yielding ``(start, embeddings of texts[start:...])``.

    Memory stays at one batch, so hidden states of any corpus can be written out in chunks.
    The model runs under ``torch.inference_mode()``, in its own dtype (or under autocast when
    ``device`` asks for half precision and the weights are float32).
    """
    if batch_size < 1:
        raise NecoError(f"batch_size must be at least 1, got {batch_size}. Pass e.g. 64.")
    torch = require("torch", "models")
    _check_placement(text_encoder, device, torch)
    texts = list(texts)
    handle = progress.task("Encoding texts", total=len(texts)) if progress is not None else None
    for start in range(0, len(texts), batch_size):
        batch = tokenize(texts[start : start + batch_size], tokenizer)
        input_ids = batch["input_ids"].to(device.device)
        with torch.inference_mode(), _autocast(text_encoder, device, torch):
            out = text_encoder(input_ids=input_ids)
        pooled = out.pooler_output.to(torch.float16).cpu().numpy()
        hidden = out.last_hidden_state.to(torch.float16).cpu().numpy() if hidden_states else None
        lengths = batch["attention_mask"].sum(dim=1).to(torch.int32).numpy()
        yield start, TextEmbeddings(pooled=pooled, hidden=hidden, lengths=lengths)
        if progress is not None:
            progress.update(handle, min(start + batch_size, len(texts)))
    if progress is not None:
        progress.finish(handle)


def encode_texts(
    texts: Sequence[str],
    tokenizer: Any,
    text_encoder: Any,
    *,
    device: DeviceChoice,
    batch_size: int = 64,
    hidden_states: bool = False,
    progress: Progress | None = None,
) -> TextEmbeddings:
    """Encode all ``texts`` at once (see :func:`iter_encode`); deterministic for a device.

    Keep ``hidden_states=False`` for large corpora and stream with :func:`write_embeddings`.
    """
    parts = [
        emb
        for _, emb in iter_encode(
            texts,
            tokenizer,
            text_encoder,
            device=device,
            batch_size=batch_size,
            hidden_states=hidden_states,
            progress=progress,
        )
    ]
    if not parts:
        width = int(text_encoder.config.hidden_size)
        return TextEmbeddings(
            pooled=np.zeros((0, width), np.float16),
            hidden=np.zeros((0, MAX_LENGTH, width), np.float16) if hidden_states else None,
            lengths=np.zeros(0, np.int32),
        )
    return TextEmbeddings.concat(parts)


def _fixed_size_list(matrix: np.ndarray) -> pa.FixedSizeListArray:
    flat = np.ascontiguousarray(matrix, dtype=np.float16).reshape(-1)
    width = int(np.prod(matrix.shape[1:])) if matrix.ndim > 1 else 1
    return pa.FixedSizeListArray.from_arrays(pa.array(flat, type=pa.float16()), width)


def _ids_array(ids: Sequence[str], n: int) -> pa.Array:
    ids = list(ids)
    if len(ids) != n:
        raise NecoError(f"Got {len(ids)} ids for {n} embeddings; pass one id per text, in order.")
    return pa.array([str(i) for i in ids], type=pa.string())


def embeddings_table(ids: Sequence[str], emb: TextEmbeddings) -> pa.Table:
    """``id``, ``length`` (int32) and ``pooled`` (``fixed_size_list<halffloat>[d]``)."""
    return pa.table(
        {
            "id": _ids_array(ids, len(emb)),
            "length": pa.array(np.asarray(emb.lengths, np.int32)),
            "pooled": _fixed_size_list(emb.pooled),
        }
    )


def hidden_table(ids: Sequence[str], emb: TextEmbeddings) -> pa.Table:
    """``id`` and ``hidden`` (``fixed_size_list<halffloat>[77 * d]``, token-major)."""
    if emb.hidden is None:
        raise NecoError("These embeddings have no hidden states; encode with hidden_states=True.")
    return pa.table({"id": _ids_array(ids, len(emb)), "hidden": _fixed_size_list(emb.hidden)})


def _matrix(table: pa.Table, column: str) -> np.ndarray:
    values = table.column(column).combine_chunks()
    width = values.type.list_size
    flat = values.flatten().to_numpy(zero_copy_only=False)
    return np.asarray(flat, np.float16).reshape(len(values), width)


def pooled_from_table(table: pa.Table) -> np.ndarray:
    """The ``(n, d)`` float16 matrix of an :func:`embeddings_table`."""
    return _matrix(table, "pooled")


def hidden_from_table(table: pa.Table, length: int = MAX_LENGTH) -> np.ndarray:
    """The ``(n, 77, d)`` float16 array of a :func:`hidden_table` (or of its parts, joined)."""
    matrix = _matrix(table, "hidden")
    return matrix.reshape(matrix.shape[0], length, matrix.shape[1] // length)


def write_embeddings(
    folder: str | Path,
    ids: Sequence[str],
    texts: Sequence[str],
    tokenizer: Any,
    text_encoder: Any,
    *,
    device: DeviceChoice,
    batch_size: int = 64,
    hidden_states: bool = False,
    rows_per_part: int = 1024,
    progress: Progress | None = None,
) -> TextEmbeddings:
    """Encode and write ``folder/pooled.parquet`` and, if asked, ``folder/hidden/part-*.parquet``.

    Hidden states are written every ``rows_per_part`` rows (1,024 rows of SD's 77 x 768 are
    about 120 MB) and never held whole. Returns the pooled vectors and lengths
    (``hidden=None``).
    """
    ids = [str(i) for i in ids]
    if len(ids) != len(texts):
        raise NecoError(f"Got {len(ids)} ids for {len(texts)} texts; pass one id per text.")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    hidden_dir = folder / "hidden"
    if hidden_states:
        hidden_dir.mkdir(exist_ok=True)
        for stale in hidden_dir.glob("part-*.parquet"):
            stale.unlink()
    pooled_parts: list[TextEmbeddings] = []
    pending: list[pa.Table] = []
    pending_rows = 0
    part = 0

    def flush() -> None:
        nonlocal pending, pending_rows, part
        if pending:
            table = pa.concat_tables(pending)
            pq.write_table(table, hidden_dir / f"part-{part:05d}.parquet", compression="zstd")
            part += 1
            pending, pending_rows = [], 0

    for start, emb in iter_encode(
        texts,
        tokenizer,
        text_encoder,
        device=device,
        batch_size=batch_size,
        hidden_states=hidden_states,
        progress=progress,
    ):
        batch_ids = ids[start : start + len(emb)]
        pooled_parts.append(TextEmbeddings(emb.pooled, None, emb.lengths))
        if hidden_states:
            pending.append(hidden_table(batch_ids, emb))
            pending_rows += len(emb)
            if pending_rows >= rows_per_part:
                flush()
    flush()
    if pooled_parts:
        result = TextEmbeddings.concat(pooled_parts)
    else:
        width = int(text_encoder.config.hidden_size)
        result = TextEmbeddings(np.zeros((0, width), np.float16), None, np.zeros(0, np.int32))
    pq.write_table(embeddings_table(ids, result), folder / "pooled.parquet", compression="zstd")
    return result
