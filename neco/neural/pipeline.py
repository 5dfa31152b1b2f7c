"""The model layer as stages on a workspace (see :mod:`neco.stages` for the contract).

:func:`run_neural` runs the requested stages. Every stage except ``tokens`` measures the
workspace's item sample (:mod:`neco.sample`), the same captions the social layer's reference
vectors describe. A stage whose weights are not on this machine is recorded as skipped with a
message naming what is missing and how to get it, and the other stages go on. The tokenizer
stage needs no weights (CLIP's BPE vocabulary ships with an installed package), so it always
runs, on every caption. Models are loaded once per run and shared by the stages that use them.

=========  =======================================  =========================================
stage      needs                                    tables written
=========  =======================================  =========================================
tokens     nothing (CLIP BPE vocabulary)            neural/token_captions, neural/token_words,
                                                    neural/token_summary
text       text encoder (``--components``)          neural/text_pooled (+ neural/text_hidden)
probes     text encoder; social/relations           neural/probes, neural/probe_summary
           (``neco social --mode full``)
latents    VAE (``--vae``); CLIP (``--clip``);      neural/latents
           sampled captions with images
attention  tokenizer, text encoder, U-Net, VAE,     neural/attention_words,
           scheduler (POS from neco social)         neural/attention_pos
guidance   as attention, plus CLIP                  neural/guidance, neural/guidance_diversity
=========  =======================================  =========================================
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from neco.errors import NecoError
from neco.progress import Progress
from neco.sample import SAMPLE_STAGE, sample_params
from neco.stages import (
    Input,
    Stage,
    StageContext,
    StageOutput,
    StageReport,
    StageSkipped,
    run_stages,
)

if TYPE_CHECKING:
    from neco.workspace import Workspace

STAGES = ("tokens", "text", "probes", "latents", "attention", "guidance")


@dataclass
class NeuralConfig:
    """Parameters of the model layer: the one place their defaults live (the CLI reads them)."""

    stages: tuple[str, ...] = ("tokens",)
    components: str = "sd15"
    clip: str = "clip-l14"
    vae: str | None = None  # None: the pipeline's own VAE (``components``)
    device: str | None = None
    dtype: str | None = None
    batch_size: int = 32
    sample: int = 16
    seed: int = 0
    steps: int = 20
    image_size: int = 512
    guidance_scales: tuple[float, ...] = (1.0, 3.0, 5.0, 7.5, 10.0, 15.0)
    guidance_seeds: tuple[int, ...] = (0, 1, 2, 3)
    hidden_states: bool = False

    def __post_init__(self) -> None:
        unknown = sorted(set(self.stages) - set(STAGES))
        if unknown:
            raise NecoError(f"Unknown stage(s) {unknown}. Stages: {', '.join(STAGES)}.")
        for name in ("sample", "batch_size", "steps", "image_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise NecoError(
                    f"The '{name}' parameter of the model layer must be an int >= 1. "
                    f"Got {value!r} instead."
                )
        from neco.neural.components import COMPONENT_SETS
        from neco.neural.guidance import check_scales

        check_scales(self.guidance_scales)
        # A set name neco does not know and no such folder is a typo, not missing weights:
        # stop here instead of skipping every stage with exit code 0.
        for option, value in (
            ("components", self.components),
            ("clip", self.clip),
            ("vae", self.vae),
        ):
            if value is not None and value not in COMPONENT_SETS and not Path(value).exists():
                raise NecoError(
                    f"--{option} {value!r} is neither a registered set "
                    f"({', '.join(sorted(COMPONENT_SETS))}) nor an existing folder. "
                    "Check the path, or list what is here with: neco models list"
                )
        if self.image_size % 8:
            raise NecoError(
                f"The 'image_size' parameter must be divisible by 8 (the VAE's factor). "
                f"Got {self.image_size}."
            )

    def params(self) -> dict[str, Any]:
        """Run parameters as the stages read them; device and dtype resolved."""
        out = asdict(self)
        out.pop("stages")
        out["guidance_scales"] = list(self.guidance_scales)
        out["guidance_seeds"] = list(self.guidance_seeds)
        return out


@dataclass
class NeuralResult:
    """How each stage went (``ran``, ``unchanged``, ``skipped`` with its reason)."""

    reports: list[StageReport] = field(default_factory=list)

    @property
    def stages(self) -> dict[str, dict[str, Any]]:
        """Per stage (without the ``neural.`` prefix): status, seconds, summary or reason."""
        return {
            r.name.removeprefix("neural."): r.to_dict()
            for r in self.reports
            if r.name.startswith("neural.")
        }

    def to_dict(self) -> dict[str, Any]:
        return {"stages": {r.name: r.to_dict() for r in self.reports}}


def vector_column(values: np.ndarray) -> pa.Array:
    """Rows of a 2-D array as a fixed-size list column of float16 (model outputs)."""
    flat = pa.array(values.astype(np.float16).ravel())
    return pa.FixedSizeListArray.from_arrays(flat, values.shape[1])


# --------------------------------------------------------------------------- shared parts


def _device(ctx: StageContext) -> Any:
    from neco.neural.device import choose_device

    return ctx.cached("device", lambda: choose_device(ctx.params["device"], ctx.params["dtype"]))


def _models(ctx: StageContext, spec: str, kinds: Sequence[str]) -> dict[str, Any]:
    """Components of set ``spec``, each loaded once per run and shared between stages."""
    from neco.neural.components import load_set

    device = _device(ctx)
    out = {}
    for kind in kinds:

        def load(kind: str = kind) -> Any:
            return load_set(spec, kinds=[kind], device=device)[kind]

        out[kind] = ctx.cached(f"{spec}:{kind}", load)
    return out


def _infos(models: dict[str, Any]) -> list[dict[str, Any]]:
    from neco.neural.components import info_of

    out = []
    for obj in models.values():
        try:
            out.append(info_of(obj).as_dict())
        except NecoError:
            out.append({"cls": type(obj).__name__, "weights": "unknown"})
    return out


def _requires(spec_key: str, kinds: Sequence[str]) -> Any:
    """A stage's component check: identifiers of what it would load, or StageSkipped."""

    def check(params: dict[str, Any]) -> list[str]:
        from neco.neural.components import availability, load_set

        spec = params[spec_key]
        try:
            rows = {r["component"]: r for r in availability(spec)}
        except NecoError as exc:
            raise StageSkipped(str(exc)) from exc
        ids = []
        # The tokenizer last: when it alone is absent, neco's bundled CLIP tokenizer (the
        # same vocabulary) stands in, so the message should name the missing weights.
        for kind in sorted(kinds, key=lambda k: k == "tokenizer"):
            row = rows.get(kind)
            if kind == "tokenizer" and (row is None or not row["available"]):
                ids.append(f"{spec}:tokenizer@bundled")
                continue
            if row is None or not row["available"]:
                try:  # the loader's own message names what is missing and how to get it
                    load_set(spec, kinds=[kind])
                except NecoError as exc:
                    raise StageSkipped(str(exc)) from exc
                raise StageSkipped(f"{spec} has no {kind}")
            ids.append(f"{spec}:{kind}@{row['where']}")
        return ids

    return check


def _all_of(*checks: Any) -> Any:
    def check(params: dict[str, Any]) -> list[str]:
        return [i for c in checks for i in c(params)]

    return check


def _items(ctx: StageContext, columns: Sequence[str], first: int | None = None) -> pd.DataFrame:
    """The item sample joined with corpus ``columns``, in sample order."""
    items = ctx.frame("sample/items").sort_values("order")
    if first is not None:
        items = items.head(first)
    corpus = ctx.frame("corpus", ["id", *[c for c in columns if c not in ("id", "community")]])
    return items.merge(corpus, on="id", how="left", validate="one_to_one").reset_index(drop=True)


# --------------------------------------------------------------------------- stages


def _run_tokens(ctx: StageContext) -> StageOutput:
    from neco.neural.components import load_set
    from neco.neural.tokenizer import community_summary, load_clip_tokenizer, tokenize_captions

    frame = ctx.frame("corpus", ["id", "text", "community"])
    try:
        tokenizer = load_set(
            ctx.params["components"], kinds=["tokenizer"], fallback_tokenizer=False
        )["tokenizer"]
        source = ctx.params["components"]
    except NecoError:
        tokenizer = load_clip_tokenizer(None)
        source = "CLIP BPE vocabulary (open_clip package)"
    tok = tokenize_captions(
        frame["id"].tolist(), frame["text"].tolist(), frame["community"].tolist(), tokenizer
    )
    summary = community_summary(tok)
    rows = summary.to_pylist()
    info: dict[str, Any] = {"tokenizer": source, "captions": tok.captions.num_rows}
    worst = max(rows, key=lambda r: r["truncation_rate"] or 0) if rows else None
    if worst is not None:
        info["most_truncated"] = f"{worst['community']} ({worst['truncation_rate']:.1%})"
    return StageOutput(
        {
            "neural/token_captions": tok.captions,
            "neural/token_words": tok.words,
            "neural/token_summary": summary,
        },
        info,
        components=[{"name": "tokenizer", "source": source, "weights": "none"}],
    )


def _run_text(ctx: StageContext) -> StageOutput:
    from neco.neural.text import encode_texts

    frame = _items(ctx, ["text"])
    models = _models(ctx, ctx.params["components"], ["tokenizer", "text_encoder"])
    device = _device(ctx)
    emb = encode_texts(
        frame["text"].tolist(),
        models["tokenizer"],
        models["text_encoder"],
        device=device,
        batch_size=ctx.params["batch_size"],
        hidden_states=ctx.params["hidden_states"],
        progress=ctx.progress,
    )
    tables: dict[str, Any] = {
        "neural/text_pooled": pa.table(
            {
                "id": frame["id"].tolist(),
                "community": frame["community"].tolist(),
                "pooled": vector_column(emb.pooled),
            }
        )
    }
    if ctx.params["hidden_states"] and emb.hidden is not None:
        hidden = emb.hidden.reshape(len(frame), -1)
        tables["neural/text_hidden"] = pa.table(
            {"id": frame["id"].tolist(), "hidden": vector_column(hidden)}
        )
    return StageOutput(
        tables,
        {
            "captions": len(frame),
            "dim": int(emb.pooled.shape[1]),
            "device": device.device,
            "dtype": device.dtype,
        },
        components=_infos(models),
    )


def _run_probes(ctx: StageContext) -> StageOutput:
    from neco.neural.probes import (
        calibrated_score,
        minimal_pairs,
        probe_pairs,
        probe_summary,
        random_weight_twin,
        unrelated_spread,
    )
    from neco.neural.text import MAX_LENGTH, encode_texts

    frame = _items(ctx, ["text"])
    ids = set(frame["id"])
    relations = ctx.frame("social/relations")
    relations = relations[relations["id"].isin(ids)]
    tokens = ctx.frame("social/tokens", _PROBE_TOKEN_COLUMNS)
    tokens = tokens[tokens["id"].isin(ids)]
    texts = dict(zip(frame["id"], frame["text"], strict=True))
    seed = ctx.params["seed"]
    models = _models(ctx, ctx.params["components"], ["tokenizer", "text_encoder"])
    device = _device(ctx)

    def fits(prefix: str) -> bool:  # within the 77 tokens the text encoder reads
        ids = models["tokenizer"](prefix, truncation=False, verbose=False)["input_ids"]
        return len(ids) <= MAX_LENGTH

    # 1. minimal pairs, agreement kept (or skipped, by reason), each with its control swap
    made = minimal_pairs(relations, tokens, texts, seed=seed, fits=fits)
    skips = {reason: n for reason, n in made.skip_counts().items() if n}
    if made.pairs.empty:
        raise StageSkipped(
            "no minimal pairs could be made from the sampled captions' relations "
            f"(candidates skipped, by reason: {skips or 'none'})"
        )
    # 2. the floor: the same architecture with seeded random weights, what position
    # embeddings alone give; described in the summary, not a component of the run
    floor = random_weight_twin(models["text_encoder"], seed=seed)

    def encoder(model: Any) -> Any:
        def encode(batch: list[str]) -> np.ndarray:
            return encode_texts(
                batch,
                models["tokenizer"],
                model,
                device=device,
                batch_size=ctx.params["batch_size"],
            ).pooled

        return encode

    # 3. pairs and controls through both encoders; unrelated sampled captions as the scale
    probed = probe_pairs(made.pairs, encoder(models["text_encoder"]))
    probed = probe_pairs(probed, encoder(floor), prefix="floor_")
    captions = [str(t) for t in frame["text"]]
    spread = unrelated_spread(captions, encoder(models["text_encoder"]), seed=seed)
    floor_spread = unrelated_spread(captions, encoder(floor), seed=seed)
    del floor
    summary = probe_summary(probed, spread=spread, floor_spread=floor_spread, skipped=made.skipped)

    def mean_distance(column: str) -> float:
        return float(1.0 - probed[column].mean())

    sensitivity, control = mean_distance("cosine"), mean_distance("control_cosine")
    floor_sensitivity = mean_distance("floor_cosine")
    floor_control = mean_distance("floor_control_cosine")
    info = {
        "pairs": len(probed),
        "skipped": skips,
        "controls": probed["control_kind"].value_counts().sort_index().to_dict(),
        "mean_sensitivity": round(sensitivity, 4),
        "mean_control": round(control, 4),
        "spread": round(spread.mean, 4),
        "calibrated": round(calibrated_score(sensitivity, control, spread.mean), 4),
        "floor_calibrated": round(
            calibrated_score(floor_sensitivity, floor_control, floor_spread.mean), 4
        ),
        "floor": f"{type(models['text_encoder']).__name__} from its config, random weights "
        f"(seed {seed})",
    }
    return StageOutput(
        {"neural/probes": probed, "neural/probe_summary": summary},
        info,
        components=_infos(models),
    )


# Offsets to cut the swaps, and the parse that keeps them grammatical (agreement rules).
_PROBE_TOKEN_COLUMNS = (
    "id",
    "position",
    "text",
    "lower",
    "lemma",
    "pos",
    "dep",
    "head",
    "start",
    "end",
)


def _run_latents(ctx: StageContext) -> StageOutput:
    from neco.neural.images import psnr, read_images, ssim
    from neco.neural.latents import (
        PIXEL_DESCRIPTOR,
        clip_image_embeddings,
        latent_round_trip_table,
        pixel_descriptors,
        vae_round_trip,
    )

    frame = _items(ctx, ["image"])
    with_images = frame[frame["image"].notna()].drop_duplicates("image")
    if with_images.empty:
        raise StageSkipped("no sampled caption has an image")
    pixels, results = read_images(
        with_images["image"].tolist(), size=ctx.params["image_size"], roots=ctx.ws.image_roots()
    )
    if not any(r.ok for r in results):
        raise StageSkipped(f"none of the {len(results)} sampled images could be read")
    vae_spec = ctx.params["vae"] or ctx.params["components"]
    vae = _models(ctx, vae_spec, ["vae"])["vae"]
    device = _device(ctx)
    _, recon = vae_round_trip(
        vae,
        pixels,
        device=device.device,
        dtype=device.dtype,
        batch_size=ctx.params["batch_size"],
        seed=ctx.params["seed"],
    )
    used = {"vae": vae}
    try:  # CLIP's image embeddings when its weights are here, else a pixel descriptor
        clip_models = _models(ctx, ctx.params["clip"], ["clip", "clip_processor"])
    except NecoError:
        clip_models = {}
    if clip_models:
        clip, processor = clip_models["clip"], clip_models["clip_processor"]
        kw = {"device": device.device, "dtype": device.dtype}
        emb_a = clip_image_embeddings(pixels, clip, processor, **kw)
        emb_b = clip_image_embeddings(recon, clip, processor, **kw)
        descriptor = f"CLIP image embedding ({ctx.params['clip']})"
        used.update(clip_models)
    else:
        emb_a, emb_b = pixel_descriptors(pixels), pixel_descriptors(recon)
        descriptor = PIXEL_DESCRIPTOR
    table = latent_round_trip_table(
        with_images["id"].tolist(),
        results,
        psnr(pixels, recon),
        ssim((pixels + 1) / 2, (recon + 1) / 2, data_range=1.0),
        emb_a,
        emb_b,
    )
    table = table.rename_columns(
        {
            "clip_cosine": "cosine",
            "clip_original": "descriptor_original",
            "clip_reconstruction": "descriptor_reconstruction",
        }
    )
    table = table.add_column(6, "descriptor", pa.array([descriptor] * table.num_rows))
    table = table.append_column(
        "reconstruction", pa.array(_save_round_trips(ctx, results, pixels, recon), pa.string())
    )
    ok = sum(r.ok for r in results)
    return StageOutput(
        {"neural/latents": table},
        {
            "images": len(results),
            "readable": ok,
            "unreadable": len(results) - ok,
            "descriptor": descriptor,
        },
        components=_infos(used),
    )


ROUND_TRIP_DIR = "neural/round_trips"
"""Where the latents stage keeps each image as the VAE saw it and as it came back (PNG)."""


def _save_round_trips(
    ctx: StageContext, results: Sequence[Any], pixels: np.ndarray, recon: np.ndarray
) -> list[str | None]:
    """Save the VAE's input and output side by side (one PNG per image, at most 256 px high),
    so a reader can see the round trip; returns each one's path inside the workspace."""
    import hashlib

    from PIL import Image

    from neco.neural.images import to_uint8

    folder = ctx.staging() / ROUND_TRIP_DIR
    folder.mkdir(parents=True, exist_ok=True)
    before, after = to_uint8(pixels), to_uint8(recon)
    out: list[str | None] = []
    row = 0
    for result in results:
        if not result.ok:
            out.append(None)
            continue
        pair = np.concatenate([before[row], after[row]], axis=1)
        image = Image.fromarray(pair)
        if image.height > 256:
            image = image.resize((image.width * 256 // image.height, 256), Image.Resampling.LANCZOS)
        name = hashlib.sha256(str(result.path).encode("utf-8")).hexdigest()[:16] + ".png"
        image.save(folder / name, optimize=True)
        out.append(f"{ROUND_TRIP_DIR}/{name}")
        row += 1
    return out


def _pipeline(ctx: StageContext) -> Any:
    def build() -> Any:
        from neco._lazy import require

        diffusers = require("diffusers", "models")
        models = _models(
            ctx, ctx.params["components"], ["tokenizer", "text_encoder", "unet", "vae", "scheduler"]
        )
        pipe = diffusers.StableDiffusionPipeline(
            **models, safety_checker=None, feature_extractor=None, requires_safety_checker=False
        )
        pipe.set_progress_bar_config(disable=True)
        return pipe

    return ctx.cached("pipeline", build)


def _pipeline_infos(ctx: StageContext) -> list[dict[str, Any]]:
    kinds = ["tokenizer", "text_encoder", "unet", "vae", "scheduler"]
    return _infos(_models(ctx, ctx.params["components"], kinds))


def _run_attention(ctx: StageContext) -> StageOutput:
    from neco.neural.attention import pos_attention, record_generation, word_attention

    sample = _items(ctx, ["text"], first=ctx.params["sample"])
    pipe = _pipeline(ctx)
    prompts = sample["text"].tolist()
    record = record_generation(
        pipe,
        prompts,
        seed=ctx.params["seed"],
        steps=ctx.params["steps"],
        height=ctx.params["image_size"],
        width=ctx.params["image_size"],
    )
    tagged = _spacy_words(ctx, sample["id"].tolist())
    word_lists = [tagged[i][0] for i in sample["id"]] if tagged else None
    words = word_attention(record, pipe.tokenizer, prompts, words=word_lists)
    words.insert(0, "id", [sample["id"].iloc[int(i)] for i in words["prompt_index"]])
    words.insert(1, "community", [sample["community"].iloc[int(i)] for i in words["prompt_index"]])
    info: dict[str, Any] = {
        "captions": len(sample),
        "words": len(words),
        "neglected_share": round(float(words["neglected"].mean()), 4),
    }
    tables: dict[str, Any] = {}
    if tagged:
        words.insert(
            4,
            "pos",
            [tagged[i][1][int(j)] for i, j in zip(words["id"], words["word_index"], strict=True)],
        )
        by_pos = [
            pos_attention(group, group["pos"].tolist()).assign(community=community)
            for community, group in words.groupby("community", sort=True)
        ]
        tables["neural/attention_pos"] = pd.concat(by_pos, ignore_index=True)
        info["pos_tags"] = int(tables["neural/attention_pos"]["pos"].nunique())
    else:
        words.insert(4, "pos", pd.Series([None] * len(words), dtype=object))
    tables["neural/attention_words"] = words
    return StageOutput(tables, info, components=_pipeline_infos(ctx))


def _spacy_words(
    ctx: StageContext, ids: list[str]
) -> dict[str, tuple[list[str], list[str]]] | None:
    """Each caption's spaCy tokens and part-of-speech tags, if the social layer tagged them."""
    if not ctx.has("social/tokens"):
        return None
    tokens = ctx.frame("social/tokens", ["id", "position", "text", "pos"])
    tokens = tokens[tokens["id"].isin(set(ids))].sort_values(["id", "position"])
    if tokens.empty or (tokens["pos"] == "").all() or set(tokens["id"]) != set(ids):
        return None
    return {
        str(caption_id): (group["text"].tolist(), group["pos"].tolist())
        for caption_id, group in tokens.groupby("id", sort=False)
    }


def _run_guidance(ctx: StageContext) -> StageOutput:
    from neco.neural.guidance import diversity_table, guidance_sweep
    from neco.neural.images import from_uint8
    from neco.neural.latents import clip_image_embeddings

    sample = _items(ctx, ["text"], first=ctx.params["sample"])
    pipe = _pipeline(ctx)
    clip_models = _models(ctx, ctx.params["clip"], ["clip", "clip_processor"])
    device = _device(ctx)

    def embed(images: np.ndarray) -> np.ndarray:
        return clip_image_embeddings(
            from_uint8(images),
            clip_models["clip"],
            clip_models["clip_processor"],
            device=device.device,
            dtype=device.dtype,
        )

    result = guidance_sweep(
        pipe,
        sample["text"].tolist(),
        scales=ctx.params["guidance_scales"],
        seeds=ctx.params["guidance_seeds"],
        steps=ctx.params["steps"],
        height=ctx.params["image_size"],
        width=ctx.params["image_size"],
        embed=embed,
        progress=ctx.progress,
    )
    table = result.table.copy()
    table.insert(0, "id", [sample["id"].iloc[int(i)] for i in table["prompt_index"]])
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    if result.embeddings is not None:
        arrow = arrow.append_column("embedding", vector_column(result.embeddings))
    else:
        arrow = arrow.append_column("embedding", pa.nulls(arrow.num_rows, pa.list_(pa.float16())))
    return StageOutput(
        {"neural/guidance": arrow, "neural/guidance_diversity": diversity_table(result)},
        {"captions": len(sample), "samples": len(table)},
        components=_pipeline_infos(ctx) + _infos(clip_models),
    )


_SAMPLED = Input("sample/items")
_GENERATION = ("tokenizer", "text_encoder", "unet", "vae", "scheduler")
_GEN_PARAMS = ("components", "device", "dtype", "sample", "seed", "steps", "image_size")


def _vae_check(params: dict[str, Any]) -> list[str]:
    key = "vae" if params.get("vae") else "components"
    ids = _requires(key, ["vae"])(params)
    try:  # CLIP is optional here; whether it is present changes the descriptor
        return ids + _requires("clip", ["clip", "clip_processor"])(params)
    except StageSkipped:
        return [*ids, "clip:absent (pixel descriptor)"]


NEURAL_STAGES: list[Stage] = [
    Stage(
        "neural.tokens",
        inputs=(Input("corpus", ("id", "text", "community")),),
        outputs=("neural/token_captions", "neural/token_words", "neural/token_summary"),
        run=_run_tokens,
        params=("components",),
        doc="CLIP BPE tokens per caption, truncation at 77, words lost, pieces per word",
    ),
    Stage(
        "neural.text",
        inputs=(_SAMPLED, Input("corpus", ("id", "text"))),
        outputs=("neural/text_pooled", "neural/text_hidden"),
        run=_run_text,
        params=("components", "device", "dtype", "hidden_states"),
        components=_requires("components", ["tokenizer", "text_encoder"]),
        doc="CLIP text encoder vectors of the item sample",
    ),
    Stage(
        "neural.probes",
        inputs=(
            _SAMPLED,
            Input("corpus", ("id", "text")),
            Input("social/relations"),
            Input("social/tokens", _PROBE_TOKEN_COLUMNS),
        ),
        outputs=("neural/probes", "neural/probe_summary"),
        run=_run_probes,
        params=("components", "device", "dtype", "seed"),
        version=2,
        components=_requires("components", ["tokenizer", "text_encoder"]),
        doc="minimal pairs from the corpus's own relations through the text encoder, read "
        "against meaning-preserving control swaps, unrelated captions and a random-weight floor",
    ),
    Stage(
        "neural.latents",
        inputs=(_SAMPLED, Input("corpus", ("id", "image"))),
        outputs=("neural/latents",),
        run=_run_latents,
        params=("components", "vae", "clip", "device", "dtype", "image_size", "seed"),
        components=_vae_check,
        version=2,
        doc="VAE round trip of the sampled captions' images: PSNR, SSIM, descriptor cosine",
    ),
    Stage(
        "neural.attention",
        inputs=(
            _SAMPLED,
            Input("corpus", ("id", "text")),
            Input("social/tokens", ("id", "position", "text", "pos"), optional=True),
        ),
        outputs=("neural/attention_words", "neural/attention_pos"),
        run=_run_attention,
        params=_GEN_PARAMS,
        components=_requires("components", _GENERATION),
        doc="U-Net cross-attention per word and part of speech (after DAAM)",
    ),
    Stage(
        "neural.guidance",
        inputs=(_SAMPLED, Input("corpus", ("id", "text"))),
        outputs=("neural/guidance", "neural/guidance_diversity"),
        run=_run_guidance,
        params=(*_GEN_PARAMS, "clip", "guidance_scales", "guidance_seeds"),
        components=_all_of(
            _requires("components", _GENERATION), _requires("clip", ["clip", "clip_processor"])
        ),
        doc="samples across guidance scales and seeds: CLIP embeddings, Vendi diversity",
    ),
]


def neural_stages(names: Sequence[str]) -> list[Stage]:
    """The chosen stages in running order, the item sample first when one of them needs it."""
    chosen = [s for s in NEURAL_STAGES if s.name.removeprefix("neural.") in names]
    needs_sample = any(_SAMPLED in s.inputs for s in chosen)
    return ([SAMPLE_STAGE] if needs_sample else []) + chosen


def run_neural(
    ws: Workspace,
    config: NeuralConfig | None = None,
    progress: Progress | None = None,
    *,
    force: bool = False,
) -> NeuralResult:
    """Run the requested stages; a stage that cannot run is skipped with its reason."""
    config = config or NeuralConfig()
    ws.require()
    params = {**config.params(), **sample_params(ws)}
    reports = run_stages(ws, neural_stages(config.stages), params, progress=progress, force=force)
    return NeuralResult(reports)
