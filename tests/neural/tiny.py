"""Tiny random Stable Diffusion and CLIP components for tests and device checks.

Built from configs and seeded, like diffusers' own ``get_dummy_components()``: the shapes
and classes are those of Stable Diffusion v1.5 (Rombach et al. 2022) and CLIP (Radford et al.
2021), the sizes are minute (hidden size 32), the weights are random. Only the tokenizer is
real: the CLIP byte-level BPE with its 49,408 entries, so token ids, truncation at 77 and
the EOS position behave exactly as with the released models.

Stable API (other test modules and ``benchmarks/gpu_check.py`` import it):

- constants :data:`HIDDEN`, :data:`MAX_LENGTH`, :data:`VOCAB_SIZE`, :data:`BOS_ID`,
  :data:`EOS_ID`, :data:`IMAGE_SIZE`, :data:`PIPELINE_KINDS`;
- :func:`clip_tokenizer` — the real CLIP tokenizer (cached per process; do not mutate it);
- :func:`save_clip_tokenizer` — write it into a folder;
- :func:`tiny_text_config`, :func:`tiny_text_encoder`, :func:`tiny_unet`, :func:`tiny_vae`,
  :func:`tiny_scheduler`, :func:`tiny_clip` — single components, in memory;
- :func:`save_tiny_pipeline` — a diffusers-layout folder (``model_index.json`` and
  ``tokenizer/ text_encoder/ unet/ vae/ scheduler/``, or the ``kinds`` asked for; the text
  encoder's config can be enlarged with ``text_overrides``), loadable with
  ``neco.neural.components.load_set(folder)``;
- :func:`save_tiny_clip` — a folder with a tiny two-tower ``CLIPModel``, its image
  processor and the tokenizer, loadable with ``CLIPModel.from_pretrained(folder)``;
- :func:`tiny_autoencoder_tiny` — a random, minute ``AutoencoderTiny`` (TAESD's class,
  downsampling factor 2);
- :func:`random_taesd` and :func:`save_random_taesd` — TAESD's full architecture
  (diffusers' default ``AutoencoderTiny``) with random weights, in memory or written in the
  diffusers layout or in the original ``taesd_{encoder,decoder}.safetensors`` layout.

Everything is written with ``save_pretrained(safe_serialization=True)`` (safetensors only), and
every model folder gets ``neco.neural.components.RANDOM_WEIGHTS_MARKER``, so that what is
loaded from it is recorded as random weights.
torch and transformers are imported at module level; diffusers only inside the functions that
build diffusers components, so the text-only parts work where diffusers is not installed.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
import transformers
from safetensors.torch import save_file
from transformers import (
    CLIPConfig,
    CLIPModel,
    CLIPTextConfig,
    CLIPTextModel,
    CLIPTokenizer,
    CLIPVisionConfig,
)

HIDDEN = 32
"""Hidden size (and projection size, and U-Net cross-attention size) of every tiny model."""
MAX_LENGTH = 77
"""CLIP's context length."""
VOCAB_SIZE = 49408
"""Size of the real CLIP vocabulary: 256 bytes, 256 bytes + ``</w>``, 48,894 merges, 2 specials."""
BOS_ID = 49406
"""Id of ``<|startoftext|>``."""
EOS_ID = 49407
"""Id of ``<|endoftext|>`` (also used as padding, as in Stable Diffusion's tokenizer)."""
IMAGE_SIZE = 32
"""Side of the tiny CLIP vision tower's input image."""
PIPELINE_KINDS = ("tokenizer", "text_encoder", "unet", "vae", "scheduler")
"""Sub-folders written by :func:`save_tiny_pipeline` by default."""


def _mark_random(folder: Path, what: str) -> None:
    from neco.neural.components import mark_random_weights

    mark_random_weights(folder, f"{what}: random weights from tests/neural/tiny.py")


def _build_clip_tokenizer() -> CLIPTokenizer:
    from neco.neural.tokenizer import load_clip_tokenizer

    tokenizer: CLIPTokenizer = load_clip_tokenizer(None)
    return tokenizer


@functools.cache
def clip_tokenizer() -> CLIPTokenizer:
    """The real CLIP tokenizer (cached per process; treat it as read-only).

    Built by ``neco.neural.tokenizer.load_clip_tokenizer(None)`` from open_clip's BPE file.
    """
    tokenizer = _build_clip_tokenizer()
    assert len(tokenizer) == VOCAB_SIZE and tokenizer.eos_token_id == EOS_ID
    return tokenizer


def save_clip_tokenizer(folder: str | Path) -> Path:
    """Write the real CLIP tokenizer into ``folder`` (vocab.json, merges.txt, tokenizer.json...)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    clip_tokenizer().save_pretrained(folder)
    return folder


def tiny_text_config(**overrides: Any) -> CLIPTextConfig:
    """A CLIP text-tower config: 2 layers, hidden 32, the real vocabulary and special ids."""
    params: dict[str, Any] = {
        "hidden_size": HIDDEN,
        "intermediate_size": 37,
        "num_attention_heads": 4,
        "num_hidden_layers": 2,
        "vocab_size": VOCAB_SIZE,
        "max_position_embeddings": MAX_LENGTH,
        "projection_dim": HIDDEN,
        "bos_token_id": BOS_ID,
        "eos_token_id": EOS_ID,
        "pad_token_id": EOS_ID,
        "hidden_act": "quick_gelu",
        "layer_norm_eps": 1e-5,
    }
    params.update(overrides)
    return CLIPTextConfig(**params)


def tiny_text_encoder(seed: int = 0, **overrides: Any) -> CLIPTextModel:
    """A random tiny ``CLIPTextModel`` (Stable Diffusion's text encoder), in eval mode.

    ``overrides`` go to :func:`tiny_text_config` (e.g. CLIP ViT-L/14's text size for a
    throughput check: ``hidden_size=768, intermediate_size=3072, num_attention_heads=12,
    num_hidden_layers=12, projection_dim=768``).
    """
    torch.manual_seed(seed)
    return CLIPTextModel(tiny_text_config(**overrides)).eval()


def tiny_unet(seed: int = 0, cross_attention_dim: int = HIDDEN) -> Any:
    """A random tiny ``UNet2DConditionModel`` with SD v1's block layout (2 levels).

    Latents are ``(batch, 4, 8, 8)``; the text context is ``(batch, 77, cross_attention_dim)``.
    """
    from diffusers import UNet2DConditionModel

    torch.manual_seed(seed)
    return UNet2DConditionModel(
        sample_size=8,
        in_channels=4,
        out_channels=4,
        layers_per_block=1,
        block_out_channels=(32, 64),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=cross_attention_dim,
        attention_head_dim=(2, 4),
        norm_num_groups=32,
    ).eval()


def tiny_vae(seed: int = 0) -> Any:
    """A random tiny ``AutoencoderKL`` (4 latent channels, downsampling factor 2)."""
    from diffusers import AutoencoderKL

    torch.manual_seed(seed)
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        block_out_channels=(32, 64),
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=32,
        sample_size=16,
    ).eval()


def tiny_scheduler() -> Any:
    """A ``DDIMScheduler`` with Stable Diffusion v1's training betas."""
    from diffusers import DDIMScheduler

    return DDIMScheduler(
        num_train_timesteps=1000,
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )


def _model_index(kinds: Iterable[str]) -> dict[str, Any]:
    classes = {
        "tokenizer": ["transformers", "CLIPTokenizer"],
        "text_encoder": ["transformers", "CLIPTextModel"],
        "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"],
        "scheduler": ["diffusers", "DDIMScheduler"],
    }
    index: dict[str, Any] = {"_class_name": "StableDiffusionPipeline"}
    try:
        import diffusers

        index["_diffusers_version"] = diffusers.__version__
    except ImportError:
        pass
    index.update({kind: classes[kind] for kind in kinds})
    index.update(
        {
            "safety_checker": [None, None],
            "feature_extractor": [None, None],
            "image_encoder": [None, None],
            "requires_safety_checker": False,
        }
    )
    return index


def save_tiny_pipeline(
    folder: str | Path,
    *,
    seed: int = 0,
    kinds: Iterable[str] = PIPELINE_KINDS,
    text_overrides: Mapping[str, Any] | None = None,
) -> Path:
    """Write a tiny Stable-Diffusion-layout folder and return it.

    ``kinds`` selects the sub-folders (default: all five). Only ``unet``, ``vae`` and
    ``scheduler`` need diffusers; ``kinds=("tokenizer", "text_encoder")`` works without it.
    ``text_overrides`` change the text encoder's config (see :func:`tiny_text_encoder`); the
    U-Net's cross-attention width follows ``hidden_size``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    kinds = tuple(kinds)
    unknown = set(kinds) - set(PIPELINE_KINDS)
    if unknown:
        raise ValueError(f"unknown kinds {sorted(unknown)}; expected some of {PIPELINE_KINDS}")
    if "tokenizer" in kinds:
        save_clip_tokenizer(folder / "tokenizer")
    overrides = dict(text_overrides or {})
    if "text_encoder" in kinds:
        text_encoder = tiny_text_encoder(seed, **overrides)
        text_encoder.save_pretrained(folder / "text_encoder", safe_serialization=True)
        _mark_random(folder / "text_encoder", "tiny CLIPTextModel")
    if "unet" in kinds:
        width = int(overrides.get("hidden_size", HIDDEN))
        tiny_unet(seed, cross_attention_dim=width).save_pretrained(
            folder / "unet", safe_serialization=True
        )
        _mark_random(folder / "unet", "tiny UNet2DConditionModel")
    if "vae" in kinds:
        tiny_vae(seed).save_pretrained(folder / "vae", safe_serialization=True)
        _mark_random(folder / "vae", "tiny AutoencoderKL")
    if "scheduler" in kinds:
        tiny_scheduler().save_pretrained(folder / "scheduler")
    (folder / "model_index.json").write_text(json.dumps(_model_index(kinds), indent=2), "utf-8")
    return folder


def tiny_clip(seed: int = 0) -> CLIPModel:
    """A random tiny two-tower ``CLIPModel`` (text as :func:`tiny_text_config`, ViT 32 px)."""
    vision = CLIPVisionConfig(
        hidden_size=HIDDEN,
        intermediate_size=37,
        num_attention_heads=4,
        num_hidden_layers=2,
        image_size=IMAGE_SIZE,
        patch_size=16,
        num_channels=3,
        projection_dim=HIDDEN,
        hidden_act="quick_gelu",
    )
    config = CLIPConfig(
        text_config=tiny_text_config().to_dict(),
        vision_config=vision.to_dict(),
        projection_dim=HIDDEN,
    )
    torch.manual_seed(seed)
    return CLIPModel(config).eval()


def save_tiny_clip(folder: str | Path, *, seed: int = 0) -> Path:
    """Write a tiny ``CLIPModel``, a ``CLIPImageProcessor`` (32 px) and the tokenizer into one
    folder, as ``openai/clip-vit-large-patch14`` is laid out, and return it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tiny_clip(seed).save_pretrained(folder, safe_serialization=True)
    _mark_random(folder, "tiny CLIPModel")
    # transformers 5: CLIPImageProcessor is the torchvision backend (absent here); the PIL one
    # writes the same preprocessor_config.json.
    image_processor = getattr(transformers, "CLIPImageProcessorPil", None)
    if image_processor is None:  # transformers 4
        image_processor = transformers.CLIPImageProcessor
    image_processor(
        size={"shortest_edge": IMAGE_SIZE},
        crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE},
    ).save_pretrained(folder)
    save_clip_tokenizer(folder)
    return folder


def tiny_autoencoder_tiny(seed: int = 0) -> Any:
    """A random, minute ``AutoencoderTiny`` (TAESD's class): 8 channels, factor 2."""
    from diffusers import AutoencoderTiny

    torch.manual_seed(seed)
    return AutoencoderTiny(
        encoder_block_out_channels=(8, 8),
        decoder_block_out_channels=(8, 8),
        num_encoder_blocks=(1, 1),
        num_decoder_blocks=(1, 1),
        latent_channels=4,
    ).eval()


def random_taesd(seed: int = 0) -> Any:
    """TAESD's architecture (diffusers' default ``AutoencoderTiny``) with random weights."""
    from diffusers import AutoencoderTiny

    torch.manual_seed(seed)
    return AutoencoderTiny().eval()


def taesd_original_state_dicts(model: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """An ``AutoencoderTiny``'s weights keyed as taesd.py's ``Encoder()`` and ``Decoder()``.

    The inverse of neco's mapping, written out independently: the decoder's index is one
    higher, because taesd.py's decoder starts with a weightless ``Clamp`` at index 0.
    """
    encoder: dict[str, Any] = {}
    decoder: dict[str, Any] = {}
    for key, value in model.state_dict().items():
        half, _, rest = key.partition(".layers.")
        index, _, tail = rest.partition(".")
        if half == "encoder":
            encoder[f"{index}.{tail}"] = value.detach().clone().contiguous()
        else:
            decoder[f"{int(index) + 1}.{tail}"] = value.detach().clone().contiguous()
    return encoder, decoder


def save_random_taesd(folder: str | Path, *, seed: int = 0, layout: str = "original") -> Path:
    """Write :func:`random_taesd` into ``folder`` in the ``"original"`` layout
    (``taesd_encoder.safetensors`` + ``taesd_decoder.safetensors``, bfloat16 like the released
    copies) or the ``"diffusers"`` one (``save_pretrained``), marked random; return ``folder``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model = random_taesd(seed)
    if layout == "diffusers":
        model.save_pretrained(folder, safe_serialization=True)
    elif layout == "original":
        encoder, decoder = taesd_original_state_dicts(model)
        save_file(
            {k: v.to(torch.bfloat16) for k, v in encoder.items()},
            folder / "taesd_encoder.safetensors",
        )
        save_file(
            {k: v.to(torch.bfloat16) for k, v in decoder.items()},
            folder / "taesd_decoder.safetensors",
        )
    else:
        raise ValueError(f"unknown layout {layout!r}; expected 'original' or 'diffusers'")
    _mark_random(folder, f"TAESD architecture, {layout} layout")
    return folder
