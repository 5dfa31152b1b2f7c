"""Stage 1 of the neural economy: CLIP's tokenizer, and what it cuts off.

Before Stable Diffusion sees a caption, CLIP's tokenizer (Radford et al. 2021, "Learning
Transferable Visual Models From Natural Language Supervision") turns it into at most 77 ids:

- the vocabulary is a byte-level BPE of **49,408** tokens: the 256 byte characters, the same
  256 with the end-of-word mark ``</w>``, **48,894** merges read from OpenAI's
  ``bpe_simple_vocab_16e6.txt.gz``, then ``<|startoftext|>`` (id 49406) and ``<|endoftext|>``
  (id 49407);
- the context is **77** tokens including the start and end tokens; Stable Diffusion 1.x (which
  uses the tokenizer of ``openai/clip-vit-large-patch14``, the same vocabulary) truncates to 77
  and keeps the end token, so only the first **75** content tokens reach the text encoder. A
  word whose first BPE piece falls past token 75 never reaches the model: it is *lost*.

Text is cleaned as OpenAI's CLIP cleans it: ``ftfy.fix_text``, ``html.unescape`` twice,
whitespace collapsed, lowercased (:func:`clean_text`). This matters with transformers 5: its
``CLIPTokenizer`` is backed by the ``tokenizers`` library only (there is no "slow" Python class
any more), and its normaliser (NFC, whitespace, lowercase) applies neither ftfy nor HTML
unescaping, so ``"&amp;"`` becomes the three tokens ``& amp ;`` instead of CLIP's single ``&``,
and curly quotes or mojibake are not repaired. neco therefore cleans the text itself and then
uses the tokenizer's vocabulary, merges, special tokens and word split, without its normaliser.
The ids then equal those of OpenAI's tokenizer (checked against an independent plain BPE in
the tests, on hand-picked captions and random strings of mixed scripts; a one-off run on
20,000 such strings found no difference outside the edge case below).

:func:`tokenize_captions` gives one row per caption (tokens, truncation, words lost, where the
cut falls) and one per word occurrence (pieces, position, lost); :func:`community_summary`
aggregates them per community, with the share of each community's social-graph terms that the
cut drops or that BPE splits into several pieces.

Words are CLIP's pre-tokenization units, split by the tokenizer's own pattern (read from the
tokenizer at run time; :data:`CLIP_WORD_PATTERN` is its value for CLIP)
``<|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+``:
runs of letters, single digits, runs of other non-space characters (punctuation, emoji), and
the contractions ``'s 't 're 've 'm 'll 'd``. So ``"it's 2024!"`` has the words
``it 's 2 0 2 4 !``. BPE never crosses a word and only a word's last piece carries ``</w>``, so
each token belongs to exactly one word and words end where ``</w>`` is.

One edge case differs from OpenAI's code: a literal ``<|endoftext|>`` (or ``<|startoftext|>``)
directly after punctuation or an emoji (``".<|endoftext|>"``) is split off as the special token
by transformers, whereas OpenAI's regex reads ``.<|`` as one punctuation run. Captions
practically never contain these strings.
"""

from __future__ import annotations

import difflib
import gzip
import html
import importlib.util
import json
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from neco._lazy import require
from neco.errors import NecoError

if TYPE_CHECKING:
    from transformers import CLIPTokenizer

__all__ = [
    "BOS_ID",
    "BOS_TOKEN",
    "CLIP_WORD_PATTERN",
    "CONTEXT_LENGTH",
    "EOS_ID",
    "EOS_TOKEN",
    "N_MERGES",
    "VOCAB_SIZE",
    "TokenizedCorpus",
    "build_clip_tokenizer_files",
    "clean_text",
    "clip_vocab_path",
    "community_summary",
    "encode_texts",
    "load_clip_tokenizer",
    "tokenize_captions",
]

CONTEXT_LENGTH = 77
VOCAB_SIZE = 49408
N_MERGES = 48894
BOS_TOKEN = "<|startoftext|>"  # noqa: S105 (a token, not a password)
EOS_TOKEN = "<|endoftext|>"  # noqa: S105
BOS_ID = 49406
EOS_ID = 49407
END_OF_WORD = "</w>"
VOCAB_FILENAME = "bpe_simple_vocab_16e6.txt.gz"
#: CLIP's pre-tokenization pattern (the one transformers' CLIPTokenizer and OpenAI's code use).
CLIP_WORD_PATTERN = (
    r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"
)
TOKENIZER_FILES = ("vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json")

# Text that is printable ASCII without "&" is left unchanged by ftfy and html.unescape, so it
# skips them (ftfy costs ~20 µs a caption). Anything else takes the full cleaning.
_NEEDS_FIXING = re.compile(r"[^ -~]|&")
_WHITESPACE = re.compile(r"\s")
_WHITESPACE_RUN = re.compile(r"\s+")
_CAPTION_COLUMNS = ("id", "community", "n_tokens", "truncated", "n_words")
_WORD_COLUMNS = ("id", "community", "word_index", "word", "n_pieces", "first_token_index", "lost")


# ---------------------------------------------------------------------------------------------
# The vocabulary file and the tokenizer files built from it


def clip_vocab_path() -> Path:
    """The path of OpenAI's BPE file ``bpe_simple_vocab_16e6.txt.gz`` shipped with open_clip.

    open_clip is located without importing it (its import pulls in torchvision).

    >>> clip_vocab_path().name
    'bpe_simple_vocab_16e6.txt.gz'
    """
    hint = "Install it with: pip install --no-deps open_clip_torch"
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        raise NecoError(
            "CLIP's BPE vocabulary comes from the package open_clip_torch: expected the "
            f"importable package 'open_clip', found none. {hint}"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / VOCAB_FILENAME
    if not path.is_file():
        raise NecoError(f"Expected CLIP's BPE vocabulary at {path}, found no such file. {hint}")
    return path


def _byte_alphabet() -> list[tuple[int, str]]:
    """(byte, stand-in character) for the 256 bytes, in CLIP's vocabulary order.

    Printable Latin-1 bytes (``!``..``~``, ``¡``..``¬``, ``®``..``ÿ``) stand for themselves and
    come first; the other 68 bytes (controls, space, soft hyphen...) follow, standing for
    U+0100, U+0101, ... in byte order.
    """
    printable = [*range(33, 127), *range(161, 173), *range(174, 256)]
    kept = set(printable)
    rest = [b for b in range(256) if b not in kept]
    return [(b, chr(b)) for b in printable] + [(b, chr(256 + i)) for i, b in enumerate(rest)]


def _read_merges(path: Path) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        lines = handle.read().split("\n")
    merges = lines[1 : N_MERGES + 1]
    bad = next((m for m in merges if len(m.split(" ")) != 2), None)
    if len(merges) != N_MERGES or bad is not None:
        found = f"{len(merges)} lines" if bad is None else f"the malformed line {bad!r}"
        raise NecoError(
            f"{path} is not CLIP's BPE file: expected {N_MERGES} merge lines of the form "
            f"'a b' after the header, found {found}. Reinstall with: "
            "pip install --no-deps --force-reinstall open_clip_torch"
        )
    return merges


def _tokenizer_file_contents(vocab_path: Path) -> dict[str, str]:
    merges = _read_merges(vocab_path)
    base = [char for _, char in _byte_alphabet()]
    tokens = [*base, *(c + END_OF_WORD for c in base), *(m.replace(" ", "") for m in merges)]
    tokens += [BOS_TOKEN, EOS_TOKEN]
    vocab = {token: i for i, token in enumerate(tokens)}
    if len(vocab) != VOCAB_SIZE:
        raise NecoError(
            f"Building CLIP's vocabulary from {vocab_path}: expected {VOCAB_SIZE} distinct "
            f"tokens, found {len(vocab)}"
        )
    specials = {
        "bos_token": BOS_TOKEN,
        "eos_token": EOS_TOKEN,
        "unk_token": EOS_TOKEN,
        "pad_token": EOS_TOKEN,
    }
    config = {
        "tokenizer_class": "CLIPTokenizer",
        "model_max_length": CONTEXT_LENGTH,
        "do_lower_case": True,
        "errors": "replace",
        **specials,
    }
    return {
        "vocab.json": json.dumps(vocab, ensure_ascii=False),
        "merges.txt": "#version: 0.2\n" + "\n".join(merges) + "\n",
        "tokenizer_config.json": json.dumps(config, indent=2) + "\n",
        "special_tokens_map.json": json.dumps(specials, indent=2) + "\n",
    }


def build_clip_tokenizer_files(folder: Path) -> Path:
    """Write CLIP's tokenizer files into ``folder`` and return it.

    Writes ``vocab.json`` (49,408 tokens), ``merges.txt`` (48,894 merges),
    ``tokenizer_config.json`` and ``special_tokens_map.json`` from :func:`clip_vocab_path`,
    readable by ``transformers.CLIPTokenizer.from_pretrained(folder)``. Idempotent: a file whose
    content is already right is not rewritten (its mtime is kept); others are replaced
    atomically.

    >>> import tempfile
    >>> folder = build_clip_tokenizer_files(Path(tempfile.mkdtemp()) / "clip")
    >>> sorted(p.name for p in folder.iterdir())
    ['merges.txt', 'special_tokens_map.json', 'tokenizer_config.json', 'vocab.json']
    >>> len(json.loads((folder / "vocab.json").read_text(encoding="utf-8")))
    49408
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NecoError(f"Expected a folder for CLIP's tokenizer files, found a file: {folder}")
    contents = _tokenizer_file_contents(clip_vocab_path())
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in contents.items():
        target = folder / name
        data = text.encode("utf-8")
        if target.is_file() and target.read_bytes() == data:
            continue
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{name}.", delete=False) as tmp:
            tmp.write(data)
        os.replace(tmp.name, target)
    return folder


def _cache_folder() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "neco" / "clip-tokenizer"


def _has_tokenizer_files(folder: Path) -> bool:
    has_bpe = (folder / "vocab.json").is_file() and (folder / "merges.txt").is_file()
    return has_bpe or (folder / "tokenizer.json").is_file()


def load_clip_tokenizer(path: str | Path | None = None) -> CLIPTokenizer:
    """A ``transformers.CLIPTokenizer`` with CLIP's vocabulary, loaded offline.

    ``None`` builds the files from open_clip's BPE file into the user cache
    (``$XDG_CACHE_HOME/neco/clip-tokenizer``, default ``~/.cache/neco/clip-tokenizer``) and
    reuses them afterwards. A path loads a saved tokenizer folder, e.g. the ``tokenizer/``
    subfolder of a Stable Diffusion checkpoint (the checkpoint folder itself works too).

    >>> tok = load_clip_tokenizer(build_clip_tokenizer_files(Path(tempfile.mkdtemp())))
    >>> tok("a photo of a cat").input_ids
    [49406, 320, 1125, 539, 320, 2368, 49407]
    """
    transformers = require("transformers", "models")
    if path is None:
        folder = build_clip_tokenizer_files(_cache_folder())
    else:
        folder = Path(path)
        if not folder.is_dir():
            raise NecoError(f"Expected a tokenizer folder at {folder}, found nothing there")
        if not _has_tokenizer_files(folder) and _has_tokenizer_files(folder / "tokenizer"):
            folder = folder / "tokenizer"
        if not _has_tokenizer_files(folder):
            found = sorted(p.name for p in folder.iterdir()) or "an empty folder"
            raise NecoError(
                f"Expected a tokenizer folder with vocab.json + merges.txt (or tokenizer.json) "
                f"at {folder}, found: {found}"
            )
    tokenizer: CLIPTokenizer = transformers.CLIPTokenizer.from_pretrained(str(folder))
    return tokenizer


# ---------------------------------------------------------------------------------------------
# Cleaning and encoding


def clean_text(text: str) -> str:
    """CLIP's text cleaning: ftfy, HTML unescaped twice, whitespace collapsed, lowercased.

    >>> clean_text("  Fish &amp;amp;  CHIPS\\n")
    'fish & chips'
    """
    cleaned, _ = _prepare_one(text)
    return _WHITESPACE_RUN.sub(" ", cleaned).strip()


def _prepare_one(text: str) -> tuple[str, bool]:
    """(cleaned text with each whitespace character kept as one space, aligned with ``text``).

    Keeping whitespace one-for-one tokenizes the same (whitespace only separates words) and
    keeps character offsets equal to the input's whenever ftfy and HTML unescaping changed
    nothing and lowercasing kept the length (``aligned``).
    """
    if _NEEDS_FIXING.search(text) is None:
        return text.lower(), True
    ftfy = require("ftfy", "models")
    fixed = html.unescape(html.unescape(ftfy.fix_text(text)))
    cleaned = _WHITESPACE.sub(" ", fixed).lower()
    return cleaned, fixed == text and len(cleaned) == len(text)


def _clip_split_pattern(pre_tokenizer: Any) -> str | None:
    """The regex when the pre-tokenizer is CLIP's (Split on the pattern, then ByteLevel)."""
    try:
        state = json.loads(pre_tokenizer.__getstate__())
        split, byte_level = state["pretokenizers"]
        pattern = split["pattern"]["Regex"]
        is_clip = (
            state["type"] == "Sequence"
            and split["type"] == "Split"
            and split["behavior"] == "Removed"
            and split["invert"] is True
            and byte_level["type"] == "ByteLevel"
            and not byte_level["add_prefix_space"]
        )
    except (AttributeError, KeyError, TypeError, ValueError):
        return None
    return pattern if is_clip and isinstance(pattern, str) else None


def _backend(tokenizer: Any) -> tuple[Any, str]:
    """(an encoder sharing the tokenizer's BPE model and word split, CLIP's word pattern).

    The encoder has no normaliser (neco cleans the text as OpenAI's CLIP does) and keeps the
    special tokens. Its ByteLevel step skips GPT-2's second regex split: every piece of CLIP's
    split is a run of one character class, which that regex never splits further, so the ids
    are the same and encoding is ~40% faster.
    """
    tk = require("tokenizers", "models")
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise NecoError(
            "Expected a fast tokenizer (with .backend_tokenizer), e.g. from "
            f"load_clip_tokenizer(); found {type(tokenizer).__name__}"
        )
    pattern = _clip_split_pattern(backend.pre_tokenizer)
    suffix = getattr(backend.model, "end_of_word_suffix", None)
    if pattern is None or suffix != END_OF_WORD:
        raise NecoError(
            "Expected a CLIP tokenizer (BPE with '</w>' word ends, pre-tokenizer Split + "
            f"ByteLevel), found {type(tokenizer).__name__} with word-end suffix {suffix!r} and "
            f"pre-tokenizer {backend.pre_tokenizer!r}"
        )
    encoder = tk.Tokenizer(backend.model)
    encoder.pre_tokenizer = tk.pre_tokenizers.Sequence(
        [
            tk.pre_tokenizers.Split(tk.Regex(pattern), behavior="removed", invert=True),
            tk.pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    encoder.add_special_tokens(
        [
            tk.AddedToken(t.content, special=True, normalized=False)
            for t in backend.get_added_tokens_decoder().values()
        ]
    )
    return encoder, pattern


def encode_texts(texts: Iterable[str], tokenizer: CLIPTokenizer) -> list[list[int]]:
    """Content ids (without start/end tokens) of each text, cleaned as CLIP cleans it.

    >>> tok = load_clip_tokenizer(build_clip_tokenizer_files(Path(tempfile.mkdtemp())))
    >>> encode_texts(["A photo of a cat", "Fish &amp; chips"], tok)
    [[320, 1125, 539, 320, 2368], [2759, 261, 8855]]
    """
    encoder, _ = _backend(tokenizer)
    prepared = [_prepare_one(t)[0] for t in texts]
    return [e.ids for e in encoder.encode_batch(prepared, add_special_tokens=False)]


# ---------------------------------------------------------------------------------------------
# Tokenizing a corpus


@dataclass
class TokenizedCorpus:
    """CLIP tokenization of a caption corpus: one table per caption, one per word occurrence.

    ``captions``: id, community, n_tokens, truncated, n_words, n_words_lost, lost_words, cut_char.
    ``words``: id, community, word_index, word, n_pieces, pieces, first_token_index, lost
    (rows in caption order, then word order). ``context_length`` is the context the tables were
    computed for and ``word_pattern`` the tokenizer's pre-tokenization regex.
    """

    captions: pa.Table
    words: pa.Table
    context_length: int = CONTEXT_LENGTH
    word_pattern: str = CLIP_WORD_PATTERN


def _as_array(values: Any, name: str) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks()
    if isinstance(values, pa.Array):
        return values
    try:
        return pa.array(values if isinstance(values, np.ndarray) else list(values))
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise NecoError(f"{name}: expected values of one type, found a mix ({exc})") from exc


def _texts_list(texts: Any) -> list[str]:
    if isinstance(texts, pa.ChunkedArray | pa.Array):
        texts = texts.to_pylist()
    out = []
    for i, text in enumerate(texts):
        if text is None:
            out.append("")
        elif isinstance(text, str):
            out.append(text)
        else:
            raise NecoError(f"texts[{i}]: expected a string, found {type(text).__name__}")
    return out


def _original_offset(cleaned: str, original: str, offset: int) -> int:
    """Map a character offset in the cleaned text back to the original text.

    The two are aligned with difflib (whitespace and case ignored), after trimming their common
    prefix and suffix; an offset inside a changed span maps to the start of the original span.
    """
    a = list(cleaned)
    b = [" " if c.isspace() else c.lower() for c in original]
    head = 0
    while head < min(len(a), len(b)) and a[head] == b[head]:
        head += 1
    if offset < head:
        return offset
    tail = 0
    while tail < min(len(a), len(b)) - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    if offset >= len(a) - tail:
        return offset + len(b) - len(a)
    matcher = difflib.SequenceMatcher(None, a[head : len(a) - tail], b[head : len(b) - tail], False)
    for tag, i1, i2, j1, _ in matcher.get_opcodes():
        if i1 <= offset - head < i2:
            return head + (j1 + (offset - head - i1) if tag == "equal" else j1)
    return len(b) - tail


def _token_tables(encoder: Any) -> tuple[pa.Array, pa.Array, np.ndarray]:
    """For every token id: its bytes (``</w>`` dropped), its vocabulary string, ends a word."""
    vocab: dict[str, int] = encoder.get_vocab(with_added_tokens=True)
    size = max(vocab.values()) + 1
    strings = [""] * size
    for token, i in vocab.items():
        strings[i] = token
    byte_of = {char: bytes([b]) for b, char in _byte_alphabet()}
    special = set(encoder.get_added_tokens_decoder())
    raw = []
    ends_word = np.zeros(size, dtype=bool)
    for i, token in enumerate(strings):
        if i in special:
            raw.append(token.encode("utf-8"))
            ends_word[i] = True
            continue
        body = token.removesuffix(END_OF_WORD)
        ends_word[i] = len(body) < len(token)
        raw.append(b"".join(byte_of.get(c) or c.encode("utf-8") for c in body))
    return pa.array(raw, pa.binary()), pa.array(strings, pa.string()), ends_word


def _encode_unique(
    encoder: Any, texts: list[str], keep: int, batch_size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(all content ids, ids per text, cut offset in the original text or -1) of each text.

    Ids come from the fast batch call without offsets; only texts longer than ``keep`` tokens
    are encoded again with offsets, to find where the cut falls.
    """
    encode_fast = getattr(encoder, "encode_batch_fast", None) or encoder.encode_batch
    id_chunks: list[np.ndarray] = []
    lengths = np.zeros(len(texts), dtype=np.int64)
    cut = np.full(len(texts), -1, dtype=np.int64)
    for start in range(0, len(texts), batch_size):
        batch = texts[start : start + batch_size]
        prepared = [_prepare_one(t) for t in batch]
        cleaned = [p[0] for p in prepared]
        token_ids = [e.ids for e in encode_fast(cleaned, add_special_tokens=False)]
        batch_lengths = np.fromiter(map(len, token_ids), dtype=np.int64, count=len(batch))
        lengths[start : start + len(batch)] = batch_lengths
        count = int(batch_lengths.sum())
        id_chunks.append(np.fromiter(chain.from_iterable(token_ids), np.int64, count=count))
        long = np.flatnonzero(batch_lengths > keep).tolist()
        if not long:
            continue
        with_offsets = encoder.encode_batch([cleaned[k] for k in long], add_special_tokens=False)
        for k, encoding in zip(long, with_offsets, strict=True):
            offset = int(encoding.offsets[keep][0])
            if not prepared[k][1]:
                offset = _original_offset(cleaned[k], batch[k], offset)
            cut[start + k] = offset
    all_ids = np.concatenate(id_chunks) if id_chunks else np.zeros(0, dtype=np.int64)
    return all_ids, lengths, cut


def tokenize_captions(
    ids: Sequence[Any] | pa.Array | np.ndarray,
    texts: Sequence[str | None] | pa.Array,
    communities: Sequence[Any] | pa.Array | np.ndarray,
    tokenizer: CLIPTokenizer,
    *,
    context_length: int = CONTEXT_LENGTH,
    batch_size: int = 4096,
) -> TokenizedCorpus:
    """Tokenize captions as CLIP does and record which words fall past the 77-token cut.

    Each text is cleaned (:func:`clean_text`; ``None`` counts as empty) and encoded in batches
    with the tokenizer's fast batch call. ``context_length`` includes the start and end tokens,
    so ``context_length - 2`` content tokens are kept.

    captions: ``n_tokens`` content tokens (no start/end); ``truncated`` if n_tokens >
    context_length - 2; ``n_words``; ``n_words_lost`` (words whose *first* piece is past the
    cut); ``lost_words`` (space-joined, in order, ``""`` if none); ``cut_char``, the character
    offset in the original text where the first dropped token starts (null if not truncated; a
    word cut in its middle is not lost). For texts changed by ftfy/HTML unescaping the offset is
    mapped back by aligning cleaned and original text.

    words: ``word`` as CLIP sees it (cleaned, lowercased, split by the tokenizer's own
    pre-tokenizer), ``n_pieces``, ``pieces`` (space-joined vocabulary strings, e.g.
    ``"sd</w>"``), ``first_token_index`` (0-based among content tokens), ``lost``.

    >>> tok = load_clip_tokenizer(build_clip_tokenizer_files(Path(tempfile.mkdtemp())))
    >>> out = tokenize_captions(["c1"], ["A corgi, it's 2024"], ["pets"], tok, context_length=8)
    >>> out.words.column("word").to_pylist()
    ['a', 'corgi', ',', 'it', "'s", '2', '0', '2', '4']
    >>> out.words.column("pieces").to_pylist()[1]
    'corgi</w>'
    >>> row = out.captions.to_pylist()[0]
    >>> row["n_tokens"], row["truncated"], row["lost_words"], row["cut_char"]
    (9, True, '0 2 4', 15)
    """
    if context_length < 3:
        raise NecoError(
            f"context_length: expected at least 3 (start + end + 1), found {context_length}"
        )
    if batch_size < 1:
        raise NecoError(f"batch_size: expected at least 1, found {batch_size}")
    id_array = _as_array(ids, "ids")
    community_array = _as_array(communities, "communities")
    text_list = _texts_list(texts)
    n = len(text_list)
    if len(id_array) != n or len(community_array) != n:
        raise NecoError(
            f"Expected ids, texts and communities of equal length, found {len(id_array)} ids, "
            f"{n} texts and {len(community_array)} communities"
        )
    keep = context_length - 2
    encoder, word_pattern = _backend(tokenizer)
    token_bytes, token_strings, ends_word = _token_tables(encoder)

    # Identical texts are cleaned and encoded once.
    unique: dict[str, int] = {}
    text_unique = np.fromiter(
        (unique.setdefault(t, len(unique)) for t in text_list), dtype=np.int64, count=n
    )
    unique_texts = list(unique)
    u_ids, u_lengths, u_cut = _encode_unique(encoder, unique_texts, keep, batch_size)

    n_tokens = u_lengths[text_unique]
    cut_char = u_cut[text_unique]
    total = int(n_tokens.sum())
    token_start = np.concatenate([[0], np.cumsum(n_tokens)[:-1]]).astype(np.int64)
    token_caption = np.repeat(np.arange(n, dtype=np.int64), n_tokens)
    token_pos = np.arange(total, dtype=np.int64) - token_start[token_caption]
    if len(unique_texts) == n:
        token_ids_all = u_ids
    else:
        u_start = np.concatenate([[0], np.cumsum(u_lengths)[:-1]]).astype(np.int64)
        token_ids_all = u_ids[u_start[text_unique][token_caption] + token_pos]

    # A word ends with the piece that carries "</w>" (or is a special token): BPE never
    # crosses the tokenizer's pre-tokenized words, and only a word's last piece has "</w>".
    new_word = np.ones(total, dtype=bool)
    if total:
        new_word[1:] = ends_word[token_ids_all[:-1]] | (token_pos[1:] == 0)
    word_first = np.flatnonzero(new_word)
    n_pieces = np.diff(np.append(word_first, total))
    word_caption = token_caption[word_first]
    first_token_index = token_pos[word_first]
    lost = first_token_index >= keep
    n_words = np.bincount(word_caption, minlength=n).astype(np.int64)
    n_lost = np.bincount(word_caption[lost], minlength=n).astype(np.int64)
    word_start = np.concatenate([[0], np.cumsum(n_words)[:-1]]).astype(np.int64)
    word_index = np.arange(len(word_first), dtype=np.int64) - word_start[word_caption]

    token_taker = pa.array(token_ids_all, pa.int64())
    word_offsets = pa.array(np.append(word_first, total).astype(np.int32), pa.int32())
    word_bytes = pc.binary_join(
        pa.ListArray.from_arrays(word_offsets, token_bytes.take(token_taker)), b""
    )
    words_text = word_bytes.cast(pa.string())
    pieces = pc.binary_join(
        pa.ListArray.from_arrays(word_offsets, token_strings.take(token_taker)), " "
    )
    lost_offsets = pa.array(np.concatenate([[0], np.cumsum(n_lost)]).astype(np.int32), pa.int32())
    lost_words = pc.binary_join(
        pa.ListArray.from_arrays(lost_offsets, words_text.filter(pa.array(lost))), " "
    )

    word_taker = pa.array(word_caption, pa.int64())
    words = pa.table(
        {
            "id": id_array.take(word_taker),
            "community": community_array.take(word_taker),
            "word_index": pa.array(word_index, pa.int32()),
            "word": words_text,
            "n_pieces": pa.array(n_pieces, pa.int32()),
            "pieces": pieces,
            "first_token_index": pa.array(first_token_index, pa.int32()),
            "lost": pa.array(lost, pa.bool_()),
        }
    )
    captions = pa.table(
        {
            "id": id_array,
            "community": community_array,
            "n_tokens": pa.array(n_tokens, pa.int32()),
            "truncated": pa.array(n_tokens > keep, pa.bool_()),
            "n_words": pa.array(n_words, pa.int32()),
            "n_words_lost": pa.array(n_lost, pa.int32()),
            "lost_words": lost_words,
            "cut_char": pa.array(cut_char, pa.int64(), mask=cut_char < 0),
        }
    )
    return TokenizedCorpus(captions, words, context_length, word_pattern)


# ---------------------------------------------------------------------------------------------
# Per-community summary


def _share(numerator: np.ndarray, denominator: np.ndarray) -> pa.Array:
    """numerator / denominator, null where the denominator is 0."""
    empty = denominator == 0
    values = numerator / np.where(empty, 1, denominator)
    return pa.array(values.astype(np.float64), pa.float64(), mask=empty)


def _p95(values: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """95th percentile of ``values`` in each group (numpy's default, linear interpolation)."""
    order = np.lexsort((values, groups))
    ordered = values[order].astype(np.float64)
    sizes = np.bincount(groups, minlength=n_groups)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    position = 0.95 * np.maximum(sizes - 1, 0)
    low = np.floor(position).astype(np.int64)
    high = np.ceil(position).astype(np.int64)
    out = np.full(n_groups, np.nan)
    has = sizes > 0
    lo_v = ordered[(starts + low)[has]]
    hi_v = ordered[(starts + high)[has]]
    out[has] = lo_v + (hi_v - lo_v) * (position - low)[has]
    return out


def community_summary(tok: TokenizedCorpus) -> pa.Table:
    """One row per community: how CLIP's tokenizer treats its captions and its graph terms.

    Columns: community, captions, truncation_rate, mean_tokens, p95_tokens (numpy's linear
    percentile of n_tokens), words (word occurrences), pieces_per_word (mean n_pieces),
    share_words_split (n_pieces > 1), share_words_lost. Shares over zero words are null.
    Rows are sorted by community (null last).

    How many of a community's social-graph terms the cut and the BPE split is a measure that
    joins both layers, so it lives in the survival ledger (``neco.survival.ledger``).

    >>> tok = load_clip_tokenizer(build_clip_tokenizer_files(Path(tempfile.mkdtemp())))
    >>> corpus = tokenize_captions(["1", "2"], ["a red kite", "a dog"], ["birds", "pets"], tok)
    >>> table = community_summary(corpus)
    >>> table.select(["community", "words", "share_words_lost"]).to_pylist()[0]
    {'community': 'birds', 'words': 3, 'share_words_lost': 0.0}
    """
    missing = [c for c in _CAPTION_COLUMNS if c not in tok.captions.column_names]
    missing += [c for c in _WORD_COLUMNS if c not in tok.words.column_names]
    if missing:
        raise NecoError(
            f"Expected the tables of tokenize_captions(), found them missing columns {missing}"
        )
    community = tok.captions.column("community").combine_chunks()
    encoded = pc.dictionary_encode(community, null_encoding="encode")
    keys_array = encoded.dictionary
    caption_group = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    word_group_raw = pc.index_in(
        tok.words.column("community").combine_chunks(), value_set=keys_array, skip_nulls=False
    )
    if word_group_raw.null_count:
        raise NecoError(
            "Expected every word's community among the captions' communities, found "
            f"{word_group_raw.null_count} words of other communities"
        )
    word_group = word_group_raw.to_numpy(zero_copy_only=False).astype(np.int64)
    k = len(keys_array)

    n_tokens = tok.captions.column("n_tokens").to_numpy().astype(np.int64)
    truncated = tok.captions.column("truncated").to_numpy(zero_copy_only=False).astype(bool)
    n_pieces = tok.words.column("n_pieces").to_numpy().astype(np.int64)
    lost = tok.words.column("lost").to_numpy(zero_copy_only=False).astype(bool)
    captions = np.bincount(caption_group, minlength=k)
    words = np.bincount(word_group, minlength=k)

    columns: dict[str, Any] = {
        "community": keys_array,
        "captions": pa.array(captions, pa.int64()),
        "truncation_rate": _share(np.bincount(caption_group, truncated.astype(float), k), captions),
        "mean_tokens": _share(np.bincount(caption_group, n_tokens, k), captions),
        "p95_tokens": pa.array(_p95(n_tokens, caption_group, k), pa.float64()),
        "words": pa.array(words, pa.int64()),
        "pieces_per_word": _share(np.bincount(word_group, n_pieces, k), words),
        "share_words_split": _share(np.bincount(word_group, (n_pieces > 1) * 1.0, k), words),
        "share_words_lost": _share(np.bincount(word_group, lost * 1.0, k), words),
    }
    table = pa.table(columns)
    order = pc.array_sort_indices(keys_array, null_placement="at_end")
    return table.take(order)
