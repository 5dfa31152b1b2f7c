"""The model layer end to end: each stage of a latent diffusion model as workspace tables.

:func:`run_neural` runs the requested stages on a workspace's corpus. A stage whose weights
are not on this machine stops with a message naming what is missing and how to get it, is
recorded as skipped, and the other stages go on. The tokenizer stage needs no weights (CLIP's
BPE vocabulary ships with an installed package), so it always runs.

=========  =======================================  =========================================
stage      needs                                    tables written
=========  =======================================  =========================================
tokens     nothing (CLIP BPE vocabulary)            neural/token_captions, neural/token_words,
                                                    neural/token_summary
text       text encoder (``--components``)          neural/text_pooled (+ neural/text_hidden)
probes     text encoder; social/relations           neural/probes, neural/probe_summary
           (``neco social --mode full``)
latents    VAE; CLIP (``--clip``); captions with    neural/latents
           images
attention  tokenizer, text encoder, U-Net, VAE,     neural/attention_words,
           scheduler (POS from neco social)         neural/attention_pos
guidance   as attention, plus CLIP                  neural/guidance, neural/guidance_diversity
=========  =======================================  =========================================
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from neco.errors import NecoError
from neco.progress import NullProgress, Progress

if TYPE_CHECKING:
    from neco.workspace import Workspace

STAGES = ("tokens", "text", "probes", "latents", "attention", "guidance")


@dataclass
class NeuralConfig:
    """Parameters of the model layer (recorded in the manifest)."""

    stages: tuple[str, ...] = ("tokens",)
    components: str = "sd15"
    clip: str = "clip-l14"
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
        if self.sample < 1 or self.batch_size < 1:
            raise NecoError(
                f"--sample and --batch-size must be >= 1. Got {self.sample} and {self.batch_size}."
            )


@dataclass
class NeuralResult:
    """Per stage: ``status`` (ran / skipped), seconds, and a short summary or the reason."""

    stages: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"stages": self.stages}


def _sample(frame: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """Up to ``n`` captions, spread over communities as evenly as possible (seeded)."""
    if len(frame) <= n:
        return frame
    groups = frame.groupby("community", sort=True)
    per = max(1, n // groups.ngroups)
    picked = groups.sample(frac=1.0, random_state=seed).groupby("community").head(per)
    if len(picked) < n:
        rest = frame.drop(picked.index).sample(n - len(picked), random_state=seed)
        picked = pd.concat([picked, rest])
    return picked.head(n).sort_index()


def _graph_terms(ws: Workspace) -> dict[str, list[str]] | None:
    """Each community's terms in its social co-occurrence graph, if the NLP layer ran."""
    if "social/cooc_nodes" not in ws.tables():
        return None
    nodes = ws.read_table("social/cooc_nodes", ["node", "scope"]).to_pandas()
    return {
        str(scope): group["node"].astype(str).tolist()
        for scope, group in nodes.groupby("scope")
        if scope != "all"
    }


def _vectors(values: np.ndarray) -> pa.Array:
    """Rows of a 2-D array as a fixed-size list column of float16."""
    flat = pa.array(values.astype(np.float16).ravel())
    return pa.FixedSizeListArray.from_arrays(flat, values.shape[1])


# --------------------------------------------------------------------------- stages


def _stage_tokens(ws: Workspace, frame: pd.DataFrame, config: NeuralConfig) -> dict[str, Any]:
    from neco.neural.components import load_set
    from neco.neural.tokenizer import community_summary, load_clip_tokenizer, tokenize_captions

    try:
        tokenizer = load_set(config.components, kinds=["tokenizer"], fallback_tokenizer=False)[
            "tokenizer"
        ]
        source = config.components
    except NecoError:
        tokenizer = load_clip_tokenizer(None)
        source = "CLIP BPE vocabulary (open_clip package)"
    tok = tokenize_captions(
        frame["id"].tolist(), frame["text"].tolist(), frame["community"].tolist(), tokenizer
    )
    summary = community_summary(tok, _graph_terms(ws))
    ws.write_table("neural/token_captions", tok.captions)
    ws.write_table("neural/token_words", tok.words)
    ws.write_table(
        "neural/token_summary", summary, stage="neural.tokens", stage_info={"tokenizer": source}
    )
    rows = summary.to_pylist()
    worst = max(rows, key=lambda r: r["truncation_rate"]) if rows else None
    info: dict[str, Any] = {"tokenizer": source, "captions": tok.captions.num_rows}
    if worst is not None:
        info["most_truncated"] = f"{worst['community']} ({worst['truncation_rate']:.1%})"
    return info


def _load(config: NeuralConfig, kinds: Sequence[str]) -> dict[str, Any]:
    from neco.neural.components import load_set
    from neco.neural.device import choose_device

    return load_set(
        config.components, kinds=list(kinds), device=choose_device(config.device, config.dtype)
    )


def _encoder(config: NeuralConfig) -> tuple[Any, Any, Any]:
    from neco.neural.device import choose_device

    models = _load(config, ["tokenizer", "text_encoder"])
    return models["tokenizer"], models["text_encoder"], choose_device(config.device, config.dtype)


def _stage_text(
    ws: Workspace, frame: pd.DataFrame, config: NeuralConfig, progress: Progress
) -> dict[str, Any]:
    from neco.neural.text import encode_texts

    tokenizer, encoder, device = _encoder(config)
    emb = encode_texts(
        frame["text"].tolist(),
        tokenizer,
        encoder,
        device=device,
        batch_size=config.batch_size,
        hidden_states=config.hidden_states,
        progress=progress,
    )
    table = pa.table(
        {
            "id": frame["id"].tolist(),
            "community": frame["community"].tolist(),
            "pooled": _vectors(emb.pooled),
        }
    )
    ws.write_table(
        "neural/text_pooled",
        table,
        stage="neural.text",
        stage_info={
            "components": config.components,
            "device": device.device,
            "dtype": device.dtype,
        },
    )
    if config.hidden_states and emb.hidden is not None:
        hidden = emb.hidden.reshape(len(frame), -1)
        ws.write_table(
            "neural/text_hidden", pa.table({"id": frame["id"].tolist(), "hidden": _vectors(hidden)})
        )
    return {
        "captions": len(frame),
        "dim": int(emb.pooled.shape[1]),
        "device": device.device,
        "dtype": device.dtype,
    }


def _stage_probes(
    ws: Workspace, frame: pd.DataFrame, config: NeuralConfig, progress: Progress
) -> dict[str, Any]:
    from neco.neural.probes import minimal_pairs, probe_pairs, probe_summary
    from neco.neural.text import encode_texts

    if "social/relations" not in ws.tables():
        raise NecoError(
            "Relation probes need the social layer's relations. Run: neco social --mode full"
        )
    relations = ws.read_table("social/relations").to_pandas()
    tokens = ws.read_table("social/tokens", ["id", "position", "text", "start", "end"]).to_pandas()
    texts = dict(zip(frame["id"], frame["text"], strict=True))
    pairs = minimal_pairs(relations, tokens, texts, seed=config.seed)
    if pairs.empty:
        return {"pairs": 0, "note": "no minimal pairs could be made from this corpus"}
    tokenizer, encoder, device = _encoder(config)

    def encode(batch: list[str]) -> np.ndarray:
        pooled = encode_texts(
            batch, tokenizer, encoder, device=device, batch_size=config.batch_size
        ).pooled.astype(np.float32)
        norms: np.ndarray = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.maximum(norms, 1e-12)

    probed = probe_pairs(pairs, encode)
    summary = probe_summary(probed)
    ws.write_table("neural/probes", pa.Table.from_pandas(probed, preserve_index=False))
    ws.write_table(
        "neural/probe_summary",
        pa.Table.from_pandas(summary, preserve_index=False),
        stage="neural.probes",
    )
    return {"pairs": len(probed), "mean_sensitivity": round(float(1 - probed["cosine"].mean()), 4)}


def _clip(config: NeuralConfig) -> tuple[Any, Any, Any]:
    from neco.neural.components import load_set
    from neco.neural.device import choose_device

    device = choose_device(config.device, config.dtype)
    models = load_set(config.clip, kinds=["clip", "clip_processor"], device=device)
    return models["clip"], models["clip_processor"], device


def _stage_latents(
    ws: Workspace, frame: pd.DataFrame, config: NeuralConfig, progress: Progress
) -> dict[str, Any]:
    from neco.neural.images import psnr, read_images, ssim
    from neco.neural.latents import clip_image_embeddings, latent_round_trip_table, vae_round_trip

    with_images = frame[frame["image"].notna()]
    if with_images.empty:
        return {"captions_with_images": 0, "note": "no caption has an image"}
    images = with_images.drop_duplicates("image")
    pixels, results = read_images(images["image"].tolist(), size=config.image_size)
    vae = _load(config, ["vae"])["vae"]
    clip, processor, device = _clip(config)
    _, recon = vae_round_trip(
        vae,
        pixels,
        device=device.device,
        dtype=device.dtype,
        batch_size=config.batch_size,
        seed=config.seed,
    )
    emb_a = clip_image_embeddings(pixels, clip, processor, device=device.device, dtype=device.dtype)
    emb_b = clip_image_embeddings(recon, clip, processor, device=device.device, dtype=device.dtype)
    table = latent_round_trip_table(
        images["id"].tolist(), results, psnr(pixels, recon), ssim(pixels, recon), emb_a, emb_b
    )
    ws.write_table("neural/latents", table, stage="neural.latents")
    ok = sum(r.ok for r in results)
    return {"images": len(results), "readable": ok, "unreadable": len(results) - ok}


def _pipeline(config: NeuralConfig) -> Any:
    diffusers = __import__("neco._lazy", fromlist=["require"]).require("diffusers", "models")
    models = _load(config, ["tokenizer", "text_encoder", "unet", "vae", "scheduler"])
    pipe = diffusers.StableDiffusionPipeline(
        vae=models["vae"],
        text_encoder=models["text_encoder"],
        tokenizer=models["tokenizer"],
        unet=models["unet"],
        scheduler=models["scheduler"],
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _stage_attention(
    ws: Workspace, frame: pd.DataFrame, config: NeuralConfig, progress: Progress
) -> dict[str, Any]:
    from neco.neural.attention import record_generation, word_attention

    sample = _sample(frame, config.sample, config.seed)
    pipe = _pipeline(config)
    prompts = sample["text"].tolist()
    record = record_generation(
        pipe,
        prompts,
        seed=config.seed,
        steps=config.steps,
        height=config.image_size,
        width=config.image_size,
    )
    tagged = _spacy_words(ws, sample["id"].tolist())
    word_lists = [tagged[i][0] for i in sample["id"]] if tagged else None
    words = word_attention(record, pipe.tokenizer, prompts, words=word_lists)
    words.insert(0, "id", [sample["id"].iloc[int(i)] for i in words["prompt_index"]])
    words.insert(1, "community", [sample["community"].iloc[int(i)] for i in words["prompt_index"]])
    info: dict[str, Any] = {
        "captions": len(sample),
        "words": len(words),
        "neglected_share": round(float(words["neglected"].mean()), 4),
    }
    if tagged:
        from neco.neural.attention import pos_attention

        words.insert(
            4,
            "pos",
            [tagged[i][1][int(j)] for i, j in zip(words["id"], words["word_index"], strict=True)],
        )
        by_pos = [
            pos_attention(group, group["pos"].tolist()).assign(community=community)
            for community, group in words.groupby("community", sort=True)
        ]
        table = pd.concat(by_pos, ignore_index=True)
        ws.write_table("neural/attention_pos", pa.Table.from_pandas(table, preserve_index=False))
        info["pos_tags"] = int(table["pos"].nunique())
    ws.write_table(
        "neural/attention_words",
        pa.Table.from_pandas(words, preserve_index=False),
        stage="neural.attention",
    )
    return info


def _spacy_words(ws: Workspace, ids: list[str]) -> dict[str, tuple[list[str], list[str]]] | None:
    """Each caption's spaCy tokens and part-of-speech tags, if the social layer tagged them."""
    if "social/tokens" not in ws.tables():
        return None
    tokens = ws.read_table("social/tokens", ["id", "position", "text", "pos"]).to_pandas()
    tokens = tokens[tokens["id"].isin(set(ids))].sort_values(["id", "position"])
    if tokens.empty or (tokens["pos"] == "").all() or set(tokens["id"]) != set(ids):
        return None
    return {
        caption_id: (group["text"].tolist(), group["pos"].tolist())
        for caption_id, group in tokens.groupby("id", sort=False)
    }


def _stage_guidance(
    ws: Workspace, frame: pd.DataFrame, config: NeuralConfig, progress: Progress
) -> dict[str, Any]:
    from neco.neural.guidance import diversity_table, guidance_sweep
    from neco.neural.images import from_uint8
    from neco.neural.latents import clip_image_embeddings

    sample = _sample(frame, config.sample, config.seed)
    pipe = _pipeline(config)
    clip, processor, device = _clip(config)

    def embed(images: np.ndarray) -> np.ndarray:
        return clip_image_embeddings(
            from_uint8(images), clip, processor, device=device.device, dtype=device.dtype
        )

    result = guidance_sweep(
        pipe,
        sample["text"].tolist(),
        scales=config.guidance_scales,
        seeds=config.guidance_seeds,
        steps=config.steps,
        height=config.image_size,
        width=config.image_size,
        embed=embed,
        progress=progress,
    )
    table = result.table.copy()
    table.insert(0, "id", [sample["id"].iloc[int(i)] for i in table["prompt_index"]])
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    if result.embeddings is not None:
        arrow = arrow.append_column("embedding", _vectors(result.embeddings))
    ws.write_table("neural/guidance", arrow)
    diversity = diversity_table(result)
    ws.write_table(
        "neural/guidance_diversity",
        pa.Table.from_pandas(diversity, preserve_index=False),
        stage="neural.guidance",
    )
    return {"captions": len(sample), "samples": len(table)}


_RUNNERS = {
    "text": _stage_text,
    "probes": _stage_probes,
    "latents": _stage_latents,
    "attention": _stage_attention,
    "guidance": _stage_guidance,
}


def run_neural(
    ws: Workspace, config: NeuralConfig | None = None, progress: Progress | None = None
) -> NeuralResult:
    """Run the requested stages; a stage that cannot run is skipped with its reason."""
    config = config or NeuralConfig()
    progress = progress or NullProgress()
    ws.require()
    frame = ws.corpus(["id", "text", "community", "image"])
    result = NeuralResult()
    for stage in STAGES:
        if stage not in config.stages:
            continue
        start = time.perf_counter()
        try:
            if stage == "tokens":
                info = _stage_tokens(ws, frame, config)
            else:
                info = _RUNNERS[stage](ws, frame, config, progress)
            status = "ran"
        except NecoError as exc:
            info, status = {"reason": str(exc)}, "skipped"
        result.stages[stage] = {
            "status": status,
            "seconds": round(time.perf_counter() - start, 2),
            **info,
        }
    ws.record_stage("neural", {"config": dict(config.__dict__), "stages": result.stages})
    return result
