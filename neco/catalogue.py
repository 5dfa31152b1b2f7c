"""The table catalogue: every table any stage writes, declared once.

A declaration names the table (``social/keyness``), the stage that produces it, its columns
with their Arrow types, its key columns (unique together) and what one row means. Writes are
checked against it (:func:`conform`), DuckDB views are named from it (:func:`view_name`),
``neco tables`` lists it and the README's table reference is generated from it
(:func:`markdown_reference`; a test fails when the README differs).

Column types are written compactly: ``str``, ``i32``, ``i64``, ``f64``, ``bool``, ``ts``
(timestamp, microseconds, UTC), ``vec`` (a fixed-size list of floats: an embedding, any
dimension), ``list<i64>``. A trailing ``?`` marks a column that may hold nulls.

>>> spec = CATALOGUE["social/keyness"]
>>> spec.stage, spec.keys
('social.keyness', ('community', 'reference', 'term'))
>>> view_name("social/keyness")
'social_keyness'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from neco.errors import NecoError

if TYPE_CHECKING:
    import pandas as pd

_TYPES: dict[str, pa.DataType] = {
    "str": pa.string(),
    "i32": pa.int32(),
    "i64": pa.int64(),
    "f64": pa.float64(),
    "bool": pa.bool_(),
    "ts": pa.timestamp("us", tz="UTC"),
    "list<i64>": pa.list_(pa.int64()),
}
VECTOR = "vec"


@dataclass(frozen=True)
class Column:
    """One declared column: ``type`` is an Arrow type, or ``"vec"`` for an embedding."""

    name: str
    type: pa.DataType | str
    nullable: bool

    @property
    def type_name(self) -> str:
        if self.type == VECTOR:
            return "vector"
        return str(self.type)


@dataclass(frozen=True)
class TableSpec:
    """A declared table: name, producing stage, columns, key columns, meaning of a row."""

    name: str
    stage: str
    columns: tuple[Column, ...]
    keys: tuple[str, ...]
    meaning: str

    @property
    def view(self) -> str:
        return view_name(self.name)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


CATALOGUE: dict[str, TableSpec] = {}


def view_name(table: str) -> str:
    """DuckDB view name of a workspace table: ``social/vocab`` -> ``social_vocab``."""
    return table.replace("/", "_").replace("-", "_").replace(".", "_")


def declare(name: str, *, stage: str, columns: str, keys: str = "", meaning: str) -> TableSpec:
    """Declare table ``name`` (see the module docstring for the column notation)."""
    cols = []
    for item in columns.split():
        col, _, typ = item.partition(":")
        nullable = typ.endswith("?")
        typ = typ.rstrip("?")
        if typ != VECTOR and typ not in _TYPES:
            raise ValueError(f"unknown column type {typ!r} in the declaration of {name}")
        cols.append(Column(col, typ if typ == VECTOR else _TYPES[typ], nullable))
    key_cols = tuple(keys.split())
    missing = set(key_cols) - {c.name for c in cols}
    if missing:
        raise ValueError(f"keys {sorted(missing)} of {name} are not among its columns")
    spec = TableSpec(name, stage, tuple(cols), key_cols, " ".join(meaning.split()))
    CATALOGUE[name] = spec
    return spec


def spec_of(name: str) -> TableSpec:
    """The declaration of ``name``; a clear error listing the tables that exist."""
    try:
        return CATALOGUE[name]
    except KeyError:
        raise NecoError(
            f"No table {name!r} is declared. Tables: {', '.join(sorted(CATALOGUE))}."
        ) from None


def tables_of_stage(stage: str) -> list[str]:
    """Names of the tables ``stage`` writes, in declaration order."""
    return [name for name, spec in CATALOGUE.items() if spec.stage == stage]


# --------------------------------------------------------------------------- validation


def _is_vector(t: pa.DataType) -> bool:
    return (pa.types.is_fixed_size_list(t) or pa.types.is_list(t)) and pa.types.is_floating(
        t.value_type
    )


def conform(name: str, data: pa.Table | pd.DataFrame) -> pa.Table:
    """``data`` as table ``name`` declares it: columns in declared order, declared types.

    Casts that lose nothing (large_string to string, int32 to int64, ...) are applied; a
    missing or undeclared column, an impossible cast, a null in a non-null column or a
    repeated key is a :class:`NecoError` that names the table and the column.

    >>> import pyarrow as pa
    >>> t = conform("social/semantic_edges", pa.table({"target": ["b"], "source": ["a"],
    ...                                                "weight": [0.5]}))
    >>> t.column_names, str(t.schema.field("source").type)
    (['source', 'target', 'weight'], 'string')
    """
    spec = spec_of(name)
    table = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
    table = table.replace_schema_metadata(None)
    found = set(table.column_names)
    declared = spec.column_names
    missing = [c for c in declared if c not in found]
    extra = [c for c in table.column_names if c not in declared]
    if missing or extra:
        raise NecoError(
            f"Table {name} does not match its declaration: expected the columns {declared}; "
            f"missing {missing}, undeclared {extra}."
        )
    arrays, fields = [], []
    for col in spec.columns:
        array = table.column(col.name)
        if col.type == VECTOR:
            if not _is_vector(array.type) and not (array.null_count == len(array)):
                raise NecoError(
                    f"Table {name}, column {col.name}: expected a vector (list of floats), "
                    f"found {array.type}."
                )
            target = array.type
        else:
            target = col.type
            if array.type != target:
                try:
                    array = array.cast(target, safe=True)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                    raise NecoError(
                        f"Table {name}, column {col.name}: expected {col.type_name}, found "
                        f"{array.type} ({exc})."
                    ) from exc
        if not col.nullable and array.null_count:
            raise NecoError(
                f"Table {name}, column {col.name}: expected no nulls, found {array.null_count}."
            )
        arrays.append(array)
        fields.append(pa.field(col.name, target, nullable=col.nullable))
    out = pa.Table.from_arrays(arrays, schema=pa.schema(fields))
    _check_keys(spec, out)
    return out


def _check_keys(spec: TableSpec, table: pa.Table) -> None:
    if not spec.keys or table.num_rows < 2:
        return
    counts = table.select(list(spec.keys)).group_by(list(spec.keys)).aggregate([([], "count_all")])
    if counts.num_rows == table.num_rows:
        return
    dup = counts.filter(pc.greater(counts.column("count_all"), 1)).slice(0, 1)
    example = {k: dup.column(k)[0].as_py() for k in spec.keys}
    raise NecoError(
        f"Table {spec.name}: expected its key {list(spec.keys)} to be unique, found "
        f"{table.num_rows - counts.num_rows} repeated rows (e.g. {example})."
    )


def check_schema(name: str, schema: pa.Schema) -> list[str]:
    """Differences between a stored table's schema and its declaration (empty when none)."""
    spec = spec_of(name)
    problems = []
    if schema.names != spec.column_names:
        problems.append(f"columns {schema.names} != declared {spec.column_names}")
        return problems
    for col in spec.columns:
        found = schema.field(col.name).type
        ok = _is_vector(found) if col.type == VECTOR else found == col.type
        if not ok:
            problems.append(f"{col.name}: {found} != declared {col.type_name}")
    return problems


# --------------------------------------------------------------------------- documentation


def markdown_reference() -> str:
    """The README's table reference, generated from the catalogue."""
    lines = [
        "| table (DuckDB view) | stage | key | one row is |",
        "| --- | --- | --- | --- |",
    ]
    for spec in CATALOGUE.values():
        lines.append(
            f"| `{spec.name}` (`{spec.view}`) | `{spec.stage}` | "
            f"{', '.join(spec.keys) or '—'} | {spec.meaning} |"
        )
    return "\n".join(lines)


def describe(name: str) -> dict[str, Any]:
    """A declaration as a plain dict (for ``--json`` output)."""
    spec = spec_of(name)
    return {
        "name": spec.name,
        "view": spec.view,
        "stage": spec.stage,
        "keys": list(spec.keys),
        "meaning": spec.meaning,
        "columns": {c.name: c.type_name + ("?" if c.nullable else "") for c in spec.columns},
    }


def declared(names: Mapping[str, Any] | None = None) -> list[str]:
    """Declared table names (in declaration order), optionally only those in ``names``."""
    return [n for n in CATALOGUE if names is None or n in names]


# --------------------------------------------------------------------------- declarations
# Ingestion (neco.corpus) ------------------------------------------------------------------

declare(
    "corpus",
    stage="ingest",
    keys="id",
    columns="id:str text:str text_raw:str community:str parent_id:str? thread_id:str? "
    "author:str? timestamp:ts? image:str? lang:str? source:str record:i64 line:i64? meta:str? "
    "repairs:str?",
    meaning="an accepted caption: normalised and raw text, community, discourse links, "
    "image, language, where it was read, other columns as JSON, repairs made",
)
declare(
    "rejected",
    stage="ingest",
    columns="source:str record:i64 line:i64? reason:str detail:str id:str? raw:str?",
    meaning="a record that could not be used, with its reason code, a sentence and the raw record",
)
declare(
    "sample/items",
    stage="sample",
    keys="id",
    columns="id:str community:str rank:i64 order:i64",
    meaning="a caption of the workspace's item sample (seeded, stratified by community): "
    "`rank` within its community, `order` across communities (the first n in `order` are a "
    "stratified sample of n); every caption-level stage of both layers measures these items",
)

# The NLP layer (neco.social) ----------------------------------------------------------------

declare(
    "social/tokens",
    stage="social.parse",
    keys="id position",
    columns="id:str community:str position:i32 text:str lower:str lemma:str pos:str dep:str "
    "head:i32? ent_type:str is_stop:bool is_punct:bool start:i32 end:i32 pipeline:str",
    meaning="a spaCy token of a caption: text, lemma, part of speech, dependency, entity, "
    "character offsets and the pipeline that made it",
)
declare(
    "social/chunks",
    stage="social.parse",
    keys="id start_token",
    columns="id:str community:str start_token:i32 end_token:i32 text:str lemma:str label:str",
    meaning="a noun chunk of a caption (full mode)",
)
declare(
    "social/entities",
    stage="social.parse",
    keys="id start_token",
    columns="id:str community:str start_token:i32 end_token:i32 text:str lemma:str label:str",
    meaning="a named entity of a caption (full mode)",
)
declare(
    "social/specifiers",
    stage="social.prompts",
    columns="id:str community:str position:i32 text:str weight:f64 negative:bool artist:str? "
    "kind:str",
    meaning="a specifier of a text-to-image prompt with its attention weight, negative flag "
    "and artist reference",
)
declare(
    "social/keyness",
    stage="social.keyness",
    keys="community reference term",
    columns="community:str reference:str term:str count:i64 doc_count:i64 rest_count:i64 "
    "rest_doc_count:i64 logodds_z:f64 g2:f64 g2_p:f64 log_ratio:f64",
    meaning="a lemma of a community against the rest: counts, log-odds z with informative "
    "prior, G² and its p-value, log ratio",
)
declare(
    "social/cooc_nodes",
    stage="social.cooccurrence",
    keys="scope node",
    columns="node:str doc_count:i64 community:i64 degree:i64 strength:f64 betweenness:f64 "
    "eigenvector:f64 scope:str",
    meaning="a term of a co-occurrence backbone (scope `all` or one community) with its "
    "Leiden cluster (`community`) and centralities",
)
declare(
    "social/cooc_edges",
    stage="social.cooccurrence",
    keys="scope source target",
    columns="source:str target:str weight:f64 pmi:f64 count:i64 alpha:f64 scope:str",
    meaning="an edge of a co-occurrence backbone: NPMI weight, PMI, count, disparity-filter α",
)
declare(
    "social/discourse_edges",
    stage="social.discourse",
    keys="source target",
    columns="source:str target:str source_author:str? target_author:str? community:str thread:str?",
    meaning="a reply link: the reply (`source`) to its parent (`target`), with both authors",
)
declare(
    "social/discourse_threads",
    stage="social.discourse",
    keys="thread_id",
    columns="thread_id:str root:str size:i64 depth:i64 authors:i64 communities:i64",
    meaning="a thread: its root, size, depth, number of authors and communities",
)
declare(
    "social/reference_vectors",
    stage="social.semantic",
    keys="id",
    columns="id:str community:str vector:vec model:str",
    meaning="the semantic reference vector (sentence embedding) of a sampled caption",
)
declare(
    "social/semantic_edges",
    stage="social.semantic",
    keys="source target",
    columns="source:str target:str weight:f64",
    meaning="an edge of the kNN graph of the sampled captions' reference vectors (cosine)",
)
declare(
    "social/relations",
    stage="social.relations",
    columns="id:str community:str kind:str term_a:str relation:str term_b:str position_a:i32 "
    "position_b:i32 position_relation:i32",
    meaning="a dependency triple of a caption (subject-verb-object, noun-preposition-noun, "
    "adjective-noun) with token positions (full mode)",
)
declare(
    "social/relation_counts",
    stage="social.relations",
    keys="community kind term_a relation term_b",
    columns="community:str kind:str term_a:str relation:str term_b:str count:i64",
    meaning="how often a community uses a triple",
)

# The model layer (neco.neural) --------------------------------------------------------------

declare(
    "neural/token_captions",
    stage="neural.tokens",
    keys="id",
    columns="id:str community:str n_tokens:i32 truncated:bool n_words:i32 n_words_lost:i32 "
    "lost_words:str cut_char:i64?",
    meaning="a caption under CLIP's tokenizer: tokens, truncated at 77, words lost past the cut",
)
declare(
    "neural/token_words",
    stage="neural.tokens",
    keys="id word_index",
    columns="id:str community:str word_index:i32 word:str n_pieces:i32 pieces:str "
    "first_token_index:i32 lost:bool",
    meaning="a word of a caption under CLIP's tokenizer: BPE pieces, whether it was cut off",
)
declare(
    "neural/token_summary",
    stage="neural.tokens",
    keys="community",
    columns="community:str captions:i64 truncation_rate:f64? mean_tokens:f64? p95_tokens:f64? "
    "words:i64 pieces_per_word:f64? share_words_split:f64? share_words_lost:f64?",
    meaning="a community under CLIP's tokenizer: truncation rate, tokens, pieces per word, "
    "share of words split and lost",
)
declare(
    "neural/text_pooled",
    stage="neural.text",
    keys="id",
    columns="id:str community:str pooled:vec",
    meaning="the CLIP text encoder's pooled (end-token) vector of a sampled caption",
)
declare(
    "neural/text_hidden",
    stage="neural.text",
    keys="id",
    columns="id:str hidden:vec",
    meaning="the 77 x d hidden states the U-Net reads, flattened (with --hidden-states)",
)
declare(
    "neural/probes",
    stage="neural.probes",
    columns="id:str community:str kind:str original:str swapped:str term_a:str relation:str "
    "term_b:str distance:i64 reinflected:str? control_kind:str control_original:str "
    "control_swapped:str control_distance:i64 cosine:f64 control_cosine:f64 floor_cosine:f64 "
    "floor_control_cosine:f64",
    meaning="a minimal pair made from a sampled caption's relation (articles exchanged for "
    "agreement in reinflected) and its meaning-preserving control swap (a coordination of the "
    "caption, or the constructed 'A and B' frame), with the cosines of original and swap "
    "under the encoder and under its random-weight floor",
)
declare(
    "neural/probe_summary",
    stage="neural.probes",
    keys="community kind",
    columns="community:str kind:str pairs:i64 skipped:i64 skipped_offsets:i64 "
    "skipped_overlap:i64 skipped_identical:i64 skipped_truncated:i64 skipped_pronoun:i64 "
    "skipped_number:i64 skipped_verb:i64 skipped_article:i64 caption_controls:i64 "
    "constructed_controls:i64 sensitivity:f64? control:f64? spread:f64? spread_std:f64? "
    "calibrated:f64? "
    "floor_sensitivity:f64? floor_control:f64? floor_spread:f64? floor_calibrated:f64?",
    meaning="relation sensitivity (mean 1 - cosine) of a community's pairs of one kind, its "
    "control swaps' sensitivity, the unrelated-caption spread, the calibrated score "
    "(sensitivity - control) / spread, the same for the random-weight floor, and the pairs, "
    "controls and skipped candidates (by reason) behind them",
)
declare(
    "neural/latents",
    stage="neural.latents",
    keys="id",
    columns="id:str image:str? ok:bool reason:str? psnr:f64? ssim:f64? descriptor:str "
    "cosine:f64? descriptor_original:vec? descriptor_reconstruction:vec? reconstruction:str?",
    meaning="a sampled caption's image through the VAE and back: PSNR, SSIM (on [0, 1]), and "
    "an image descriptor of original and reconstruction with their cosine (CLIP image "
    "embeddings when CLIP is here, else `pixels 16x16`, named in `descriptor`); "
    "`reconstruction` is a PNG in the workspace: the image as the VAE saw it beside what "
    "came back",
)
declare(
    "neural/attention_words",
    stage="neural.attention",
    keys="id word_index",
    columns="id:str community:str prompt_index:i64 word_index:i64 pos:str? word:str "
    "positions:list<i64> share:f64 max_share_per_step:f64 threshold:f64 neglected:bool "
    "lost:bool",
    meaning="a word of a sampled caption and the share of U-Net cross-attention it received",
)
declare(
    "neural/attention_pos",
    stage="neural.attention",
    keys="community pos",
    columns="pos:str n_words:i64 mean_share:f64 total_share:f64 neglected_rate:f64 "
    "lost_rate:f64 community:str",
    meaning="attention per part of speech in a community (when neco social tagged the captions)",
)
declare(
    "neural/guidance",
    stage="neural.guidance",
    keys="prompt_index scale seed",
    columns="id:str sample:i64 prompt_index:i64 prompt:str scale:f64 seed:i64 embedding:vec?",
    meaning="a sample generated from a sampled caption at one guidance scale and seed, with "
    "its CLIP image embedding",
)
declare(
    "neural/guidance_diversity",
    stage="neural.guidance",
    keys="prompt_index scale",
    columns="prompt_index:i64 prompt:str scale:f64 n_samples:i64 vendi:f64 mean_cosine:f64",
    meaning="diversity (Vendi score, mean cosine) of a caption's samples at one guidance scale",
)


# The survival ledger (neco.survival): the only place social meets neural ----------------------

declare(
    "survival/ledger",
    stage="survival",
    keys="stage metric community reference representation",
    columns="stage:str metric:str community:str reference:str representation:str "
    "value:f64? null_mean:f64? null_std:f64? calibrated:f64? p_value:f64? low:f64? high:f64? "
    "n_items:i64 status:str reason:str? mechanics_only:bool components:str? params:str?",
    meaning="how much of one community's relational structure (`reference`, social side) one "
    "model stage's `representation` keeps, by one metric: value, permutation-null mean and "
    "spread, calibrated score, bootstrap interval; `status` is `measured` or `not measured` "
    "(with the reason); `mechanics_only` marks random-weight components",
)
declare(
    "survival/examples",
    stage="survival",
    columns="stage:str community:str kind:str id:str text:str detail:str score:f64?",
    meaning="a caption that illustrates a ledger finding: a word cut off at 77 tokens, a word "
    "neglected by attention, a relation the encoder cannot tell from its swap",
)


if __name__ == "__main__":  # python -m neco.catalogue: the README's table reference
    print(markdown_reference())
