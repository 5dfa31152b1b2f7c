"""Where the U-Net looks in the prompt: cross-attention shares per token, word and step.

The idea
--------
A Stable Diffusion U-Net reads the prompt only through its *cross-attention* layers (the
``attn2`` modules of its transformer blocks): every latent pixel (a *query*) spreads one unit of
attention over the 77 positions of the CLIP text encoding (the *keys*). Tang et al. 2023,
"What the DAAM: Interpreting Stable Diffusion Using Cross Attention" (ACL), aggregate these
probabilities over heads, layers and denoising steps into per-word heat maps, and show that they
localise the words' referents and that some words get little attention at all. This module
keeps only what a corpus-scale analysis needs: the *total* attention each token position
receives, never the full ``(heads, pixels, 77)`` maps (unless asked).

How the numbers are made
------------------------
:class:`CrossAttentionRecorder` is a diffusers attention processor. It computes attention like
the default processor (same output, to float rounding) and, on cross-attention calls, adds up the
attention probabilities over heads and query positions: a ``(batch, 77)`` vector per layer and
per U-Net evaluation ("step"). :func:`install` puts it on the cross-attention modules of a U-Net
and returns a function that restores the original processors.

A layer's vector, divided by its number of (head, pixel) rows, is a distribution over the 77
positions. Each layer counts equally: the per-step share is the mean of these distributions over
layers. That matches DAAM, which upsamples every layer's maps to one resolution before summing,
so an 8x8 layer weighs as much as a 32x32 one (summing raw totals instead would let the
high-resolution layers, with 16 times more pixels, drown the others).

Choices to know when reading the numbers
----------------------------------------
* **Classifier-free guidance** (Ho & Salimans 2022, "Classifier-Free Diffusion Guidance"). With
  a guidance scale above 1 the pipeline runs the U-Net on a doubled batch: the unconditional
  (empty prompt) half first, the conditional half second. The recorder records both halves;
  :func:`record_generation` keeps the *conditional* half only, since the question is how the
  model attends to the prompt it was given.
* **All 77 positions.** :attr:`AttentionRecord.token_mass` and :attr:`AttentionRecord.per_step`
  are shares over *every* position: the start token, the word pieces, the end token and the
  padding (CLIP pads with copies of the end token). Padding really does get attention: its
  encodings carry a summary of the whole prompt. The start token usually soaks up most of the
  mass, which is why DAAM-style analyses leave it out.
  :meth:`AttentionRecord.word_token_mass` and :meth:`AttentionRecord.word_per_step` renormalise
  over the *word* positions only: those strictly between the start token and the first end token.
* **Neglect.** :func:`word_attention` flags a word as *neglected* when even its best step gives it
  less than half of an equal split, ``max_share_per_step < 1 / (2 * n_words)``, where ``n_words``
  counts the prompt's words inside the 77-token window. Words past the window are *lost*: the
  text encoder never sees them, so they get no attention (they are also flagged neglected).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from neco._lazy import require
from neco.errors import NecoError

if TYPE_CHECKING:
    import torch

    from neco.progress import Progress

__all__ = [
    "AttentionRecord",
    "CrossAttentionRecorder",
    "install",
    "pos_attention",
    "record_generation",
    "word_attention",
]


class CrossAttentionRecorder:
    """A diffusers attention processor that records how much attention each text token gets.

    It computes attention exactly as diffusers' default processors do (query/key/value
    projections, optional normalisations, masked softmax, output projection, residual) and, when
    ``encoder_hidden_states`` is given (cross-attention), adds the attention probabilities summed
    over heads and query positions to :attr:`totals` under ``(step, layer)``: a ``(batch, keys)``
    float32 tensor on the model's device. The batch is recorded whole; with classifier-free
    guidance its first half is the unconditional pass.

    ``step`` is the number of U-Net forward passes begun since :func:`install` (or the last
    :meth:`reset`), minus one: :func:`install` hooks the U-Net so that every forward pass starts a
    new step. Layers are named by :func:`install` after their module path.

    With ``keep_maps=True`` it also keeps, in :attr:`maps`, the head-averaged maps
    ``(batch, pixels, keys)`` as float32 on the CPU: memory grows with steps x layers x pixels,
    so use it for a few prompts at a time.

    >>> recorder = CrossAttentionRecorder()
    >>> recorder.steps, recorder.layers
    (0, [])
    """

    def __init__(self, keep_maps: bool = False) -> None:
        self.keep_maps = keep_maps
        self.step = 0
        self.totals: dict[tuple[int, str], torch.Tensor] = {}
        self.counts: dict[tuple[int, str], int] = {}
        self.maps: dict[tuple[int, str], torch.Tensor] = {}
        self._names: dict[int, str] = {}
        self._calls = 0

    def name_layer(self, module: object, name: str) -> None:
        """Record ``module``'s calls under ``name`` (done by :func:`install`)."""
        self._names[id(module)] = name

    def begin_step(self) -> None:
        """Start a new step: the next cross-attention calls are recorded under it."""
        self.step = self._calls
        self._calls += 1

    def reset(self) -> None:
        """Forget everything recorded and start again at step 0 (layer names are kept)."""
        self.step = 0
        self._calls = 0
        self.totals.clear()
        self.counts.clear()
        self.maps.clear()

    @property
    def steps(self) -> int:
        """Number of steps with at least one recorded call."""
        return len({step for step, _ in self.totals})

    @property
    def layers(self) -> list[str]:
        """Names of the layers recorded, in first-call order."""
        return list(dict.fromkeys(layer for _, layer in self.totals))

    def _layer_distributions(self) -> tuple[list[int], list[str], np.ndarray]:
        steps = sorted({step for step, _ in self.totals})
        layers = self.layers
        if not steps:
            raise NecoError(
                "Nothing was recorded: expected at least one cross-attention call, found none. "
                "Install the recorder on a U-Net with install(unet, recorder) and run it."
            )
        first = next(iter(self.totals.values()))
        batch, keys = first.shape
        out = np.full((batch, len(steps), len(layers), keys), np.nan)
        for (step, layer), total in self.totals.items():
            values = total.detach().double().cpu().numpy()
            if values.shape != (batch, keys):
                raise NecoError(
                    f"The recorded batches differ in shape: expected {(batch, keys)}, found "
                    f"{values.shape} at step {step}, layer {layer!r}. Call recorder.reset() "
                    "between generations with different batch sizes."
                )
            out[:, steps.index(step), layers.index(layer)] = values / self.counts[(step, layer)]
        return steps, layers, out

    def shares(self) -> np.ndarray:
        """Per-step shares ``(batch, steps, keys)``: mean over layers, each row summing to 1."""
        _, _, dists = self._layer_distributions()
        mean = np.nanmean(dists, axis=2)
        return mean / mean.sum(axis=-1, keepdims=True)

    def layer_shares(self) -> np.ndarray:
        """Step-averaged shares per layer ``(batch, layers, keys)``; order as :attr:`layers`."""
        _, _, dists = self._layer_distributions()
        mean = np.nanmean(dists, axis=1)
        return mean / mean.sum(axis=-1, keepdims=True)

    def __call__(
        self,
        attn: Any,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        temb: torch.Tensor | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> torch.Tensor:
        th = require("torch", "models")
        cross = encoder_hidden_states is not None
        residual = hidden_states
        if attn.spatial_norm is not None:
            hidden_states = attn.spatial_norm(hidden_states, temb)

        input_ndim = hidden_states.ndim
        if input_ndim == 4:
            batch_size, channel, height, width = hidden_states.shape
            hidden_states = hidden_states.view(batch_size, channel, height * width).transpose(1, 2)

        context = hidden_states if encoder_hidden_states is None else encoder_hidden_states
        batch_size, key_length, _ = context.shape
        attention_mask = attn.prepare_attention_mask(attention_mask, key_length, batch_size)

        if attn.group_norm is not None:
            hidden_states = attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)

        query = attn.to_q(hidden_states)
        if encoder_hidden_states is None:
            encoder_hidden_states = hidden_states
        elif attn.norm_cross:
            encoder_hidden_states = attn.norm_encoder_hidden_states(encoder_hidden_states)
        key = attn.to_k(encoder_hidden_states)
        value = attn.to_v(encoder_hidden_states)

        heads = attn.heads
        head_dim = key.shape[-1] // heads

        def split(tensor: torch.Tensor) -> torch.Tensor:  # (B, L, H*D) -> (B, H, L, D)
            return tensor.view(batch_size, -1, heads, head_dim).transpose(1, 2)

        q, k, v = split(query), split(key), split(value)
        if getattr(attn, "norm_q", None) is not None:
            q = attn.norm_q(q)
        if getattr(attn, "norm_k", None) is not None:
            k = attn.norm_k(k)
        n_queries = q.shape[2]
        q = q.reshape(batch_size * heads, n_queries, head_dim)
        k = k.reshape(batch_size * heads, -1, head_dim)
        v = v.reshape(batch_size * heads, -1, head_dim)

        probs = attn.get_attention_scores(q, k, attention_mask)  # (B*H, queries, keys)
        if cross:
            self._record(attn, probs.view(batch_size, heads, n_queries, -1))
        out = th.bmm(probs, v)
        out = out.view(batch_size, heads, n_queries, head_dim).transpose(1, 2)
        out = out.reshape(batch_size, n_queries, heads * head_dim).to(query.dtype)

        out = attn.to_out[0](out)
        out = attn.to_out[1](out)
        if input_ndim == 4:
            out = out.transpose(-1, -2).reshape(batch_size, channel, height, width)
        if attn.residual_connection:
            out = out + residual
        return out / attn.rescale_output_factor

    def _record(self, attn: Any, probs: torch.Tensor) -> None:
        name = self._names.get(id(attn), f"layer{id(attn)}")
        slot = (self.step, name)
        _, heads, n_queries, _ = probs.shape
        total = probs.detach().float().sum(dim=(1, 2))
        if slot in self.totals:
            self.totals[slot] = self.totals[slot] + total
            self.counts[slot] += heads * n_queries
        else:
            self.totals[slot] = total
            self.counts[slot] = heads * n_queries
        if self.keep_maps:
            self.maps[slot] = probs.detach().float().mean(dim=1).cpu()


def install(unet: Any, recorder: CrossAttentionRecorder) -> Callable[[], None]:
    """Put ``recorder`` on ``unet``'s cross-attention modules; return a function undoing it.

    Self-attention modules keep their processors; custom processors on cross-attention modules
    (IP-Adapter, for instance) are replaced while recording, so record plain pipelines. A forward
    pre-hook on ``unet`` makes every U-Net evaluation a new recorder step. The returned
    ``restore()`` removes the hook and puts back every original processor; calling it twice is
    harmless.
    """
    originals = dict(unet.attn_processors)
    replaced = dict(originals)
    found = 0
    for name, module in unet.named_modules():
        key = f"{name}.processor"
        if getattr(module, "is_cross_attention", False) is True and key in replaced:
            replaced[key] = recorder
            recorder.name_layer(module, name)
            found += 1
    if not found:
        raise NecoError(
            "Expected a U-Net with cross-attention layers (attn2 modules); found none in "
            f"{type(unet).__name__}. Pass the denoiser of a text-conditioned pipeline (pipe.unet)."
        )
    unet.set_attn_processor(replaced)  # diffusers pops entries: always pass a fresh dict
    handle = unet.register_forward_pre_hook(lambda _module, _args: recorder.begin_step())

    def restore() -> None:
        handle.remove()
        unet.set_attn_processor(dict(originals))

    return restore


@dataclass
class AttentionRecord:
    """Cross-attention shares of a set of prompts (see the module docstring for the choices).

    ``token_mass`` ``(n_prompts, 77)``: the step-averaged share of every position (start token,
    word pieces, end token, padding); each row sums to 1. ``per_step`` ``(n_prompts, steps, 77)``:
    the same per U-Net evaluation, each ``[prompt, step]`` row summing to 1. ``input_ids``
    ``(n_prompts, 77)``: the token ids (position 0 is the start token). ``bos_token_id`` and
    ``eos_token_id`` locate the word positions. ``layers`` and ``per_layer``
    ``(n_prompts, layers, 77)`` (step-averaged shares per layer) are filled by
    :func:`record_generation`; ``images`` ``(n_prompts, H, W, 3)`` uint8 when asked for.

    >>> ids = np.array([[49406, 320, 1929, 49407, 49407]])
    >>> steps = np.array([[[0.6, 0.1, 0.1, 0.1, 0.1], [0.8, 0.05, 0.15, 0.0, 0.0]]])
    >>> record = AttentionRecord(token_mass=steps.mean(axis=1), per_step=steps, input_ids=ids)
    >>> record.word_mask()
    array([[False,  True,  True, False, False]])
    >>> record.word_token_mass().round(3)
    array([[0.   , 0.375, 0.625, 0.   , 0.   ]])
    """

    token_mass: np.ndarray
    per_step: np.ndarray
    input_ids: np.ndarray
    bos_token_id: int = 49406
    eos_token_id: int = 49407
    layers: tuple[str, ...] = ()
    per_layer: np.ndarray | None = None
    images: np.ndarray | None = field(default=None, repr=False)

    def word_mask(self) -> np.ndarray:
        """Boolean ``(n_prompts, 77)``: positions strictly between the start and first end token."""
        ids = np.asarray(self.input_ids)
        length = ids.shape[1]
        is_end = ids == self.eos_token_id
        end = np.where(is_end.any(axis=1), is_end.argmax(axis=1), length)
        positions = np.arange(length)[None, :]
        return (positions >= 1) & (positions < end[:, None])

    def word_token_mass(self) -> np.ndarray:
        """``token_mass`` renormalised over word positions (0 elsewhere; rows sum to 1)."""
        return _renormalise(np.asarray(self.token_mass), self.word_mask())

    def word_per_step(self) -> np.ndarray:
        """``per_step`` renormalised over word positions, per step (0 elsewhere)."""
        return _renormalise(np.asarray(self.per_step), self.word_mask()[:, None, :])


def _renormalise(shares: np.ndarray, mask: np.ndarray) -> np.ndarray:
    kept = np.where(mask, shares, 0.0)
    total = kept.sum(axis=-1, keepdims=True)
    return np.divide(kept, total, out=np.zeros_like(kept, dtype=float), where=total > 0)


def check_generation_size(height: int, width: int, steps: int) -> None:
    """Raise a NecoError unless height and width are positive multiples of 8 and steps >= 1."""
    for label, value in (("height", height), ("width", width)):
        if not isinstance(value, int) or value <= 0 or value % 8:
            raise NecoError(
                f"The {label!r} must be a positive multiple of 8 (the VAE downsamples by 8). "
                f"Got {value!r}; use e.g. 512."
            )
    if not isinstance(steps, int) or steps < 1:
        raise NecoError(f"The 'steps' parameter must be an int >= 1. Got {steps!r}; use e.g. 20.")


def _check_prompts(prompts: Sequence[str]) -> list[str]:
    if isinstance(prompts, str) or not all(isinstance(p, str) for p in prompts):
        raise NecoError(
            "Expected a sequence of prompt strings; found "
            f"{type(prompts).__name__}. Pass e.g. ['a photo of a nurse']."
        )
    if not prompts:
        raise NecoError("Expected at least one prompt; found none. Pass a non-empty list.")
    return list(prompts)


def _to_uint8(images: np.ndarray) -> np.ndarray:
    return np.clip(np.round(np.asarray(images) * 255.0), 0, 255).astype(np.uint8)


def record_generation(
    pipe: Any,
    prompts: Sequence[str],
    *,
    seed: int = 0,
    steps: int = 20,
    guidance_scale: float = 7.5,
    height: int = 512,
    width: int = 512,
    batch_size: int = 4,
    keep_images: bool = False,
    progress: Progress | None = None,
) -> AttentionRecord:
    """Generate each prompt once and record its cross-attention shares.

    Every prompt gets its own ``torch.Generator`` seeded with ``seed``, so its record does not
    depend on the other prompts. Prompts run ``batch_size`` at a time. With
    ``guidance_scale > 1`` only the conditional half of the guided batch is kept. The VAE decode
    is skipped unless ``keep_images``. ``per_step`` has one row per U-Net evaluation (``steps``
    for DDIM and other first-order schedulers). The pipeline's processors are restored even when
    generation fails.
    """
    from neco.progress import NullProgress

    th = require("torch", "models")
    prompts = _check_prompts(prompts)
    check_generation_size(height, width, steps)
    if batch_size < 1:
        raise NecoError(f"The 'batch_size' parameter must be >= 1. Got {batch_size!r}.")
    progress = progress or NullProgress()
    tokenizer = pipe.tokenizer
    length = int(tokenizer.model_max_length)
    ids = tokenizer(
        prompts, padding="max_length", max_length=length, truncation=True, return_tensors="np"
    )["input_ids"]
    device = pipe._execution_device
    recorder = CrossAttentionRecorder()
    restore = install(pipe.unet, recorder)
    per_step: list[np.ndarray] = []
    per_layer: list[np.ndarray] = []
    images: list[np.ndarray] = []
    layers: tuple[str, ...] = ()
    task = progress.task("cross-attention", total=len(prompts))
    try:
        for start in range(0, len(prompts), batch_size):
            chunk = prompts[start : start + batch_size]
            recorder.reset()
            generators = [th.Generator(device).manual_seed(seed) for _ in chunk]
            with th.no_grad():
                output = pipe(
                    prompt=chunk,
                    height=height,
                    width=width,
                    num_inference_steps=steps,
                    guidance_scale=guidance_scale,
                    generator=generators,
                    output_type="np" if keep_images else "latent",
                )
            shares = recorder.shares()
            by_layer = recorder.layer_shares()
            if shares.shape[0] == 2 * len(chunk):  # guided: [unconditional, conditional]
                shares, by_layer = shares[len(chunk) :], by_layer[len(chunk) :]
            per_step.append(shares)
            per_layer.append(by_layer)
            layers = tuple(recorder.layers)
            if keep_images:
                images.append(_to_uint8(output.images))
            progress.update(task, start + len(chunk))
    finally:
        restore()
        progress.finish(task)
    steps_array = np.concatenate(per_step)
    mass = steps_array.mean(axis=1)
    return AttentionRecord(
        token_mass=mass / mass.sum(axis=-1, keepdims=True),
        per_step=steps_array,
        input_ids=np.asarray(ids, dtype=np.int64),
        bos_token_id=int(tokenizer.bos_token_id),
        eos_token_id=int(tokenizer.eos_token_id),
        layers=layers,
        per_layer=np.concatenate(per_layer),
        images=np.concatenate(images) if keep_images else None,
    )


def _word_spans(prompt: str, words: Sequence[str]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    cursor = 0
    for word in words:
        at = prompt.find(word, cursor)
        if not word or at < 0:
            raise NecoError(
                f"Expected the words to occur in order in the prompt; {word!r} is not found in "
                f"{prompt!r} after position {cursor}. Pass the prompt's own words, in order."
            )
        spans.append((at, at + len(word)))
        cursor = at + len(word)
    return spans


def _pieces_by_offsets(tokenizer: Any, prompt: str, words: Sequence[str]) -> list[list[int]]:
    """Piece indices (0 = first piece after the start token) of each word, from char offsets."""
    spans = _word_spans(prompt, words)
    offsets = tokenizer(
        prompt, add_special_tokens=False, return_offsets_mapping=True, verbose=False
    )["offset_mapping"]
    starts = [s for s, _ in spans]
    pieces: list[list[int]] = [[] for _ in words]
    for index, (begin, end) in enumerate(offsets):
        if end <= begin:
            continue
        word = bisect.bisect_right(starts, begin) - 1
        if word >= 0 and begin < spans[word][1]:
            pieces[word].append(index)
    return pieces


def _pieces_by_words(tokenizer: Any, prompt: str, words: Sequence[str]) -> list[list[int]]:
    """Piece indices of each word, tokenizing the words one by one (slow tokenizers)."""
    full = tokenizer(prompt, add_special_tokens=False, verbose=False)["input_ids"]
    pieces: list[list[int]] = []
    joined: list[int] = []
    for word in words:
        ids = tokenizer(word, add_special_tokens=False, verbose=False)["input_ids"]
        pieces.append(list(range(len(joined), len(joined) + len(ids))))
        joined.extend(ids)
    if joined != list(full):
        raise NecoError(
            f"Cannot align the words of {prompt!r} with its BPE pieces: tokenizing the words one "
            "by one gives other pieces than tokenizing the prompt. Split the prompt on "
            "whitespace, or use a fast tokenizer (it reports character offsets)."
        )
    return pieces


def word_attention(
    record: AttentionRecord,
    tokenizer: Any,
    prompts: Sequence[str],
    *,
    words: Sequence[Sequence[str]] | None = None,
    threshold: float | None = None,
) -> pd.DataFrame:
    """Attention share per word: the sum over the word's BPE pieces, over word tokens only.

    Words are the whitespace-separated parts of each prompt unless ``words`` gives them (one
    list per prompt, each word occurring in order in its prompt, e.g. spaCy tokens). A piece
    belongs to the word its first character falls in (fast tokenizers, by character offsets;
    otherwise words are tokenized one by one); pieces outside every word are left out.

    Columns: ``prompt_index``, ``word_index``, ``word``, ``positions`` (token positions, the
    start token being 0), ``share`` (step-averaged share over word tokens: start, end and padding
    excluded, so a prompt's in-window shares sum to 1), ``max_share_per_step`` (the largest
    per-step share), ``threshold``, ``neglected`` (``max_share_per_step < threshold``; the default
    threshold is ``1 / (2 * n_words)``, half an equal split among the prompt's ``n_words`` words
    inside the window) and ``lost`` (every piece past the 77-token window: never attended).
    """
    if len(prompts) != len(record.input_ids):
        raise NecoError(
            f"Expected one prompt per recorded row ({len(record.input_ids)}); found "
            f"{len(prompts)} prompts. Pass the prompts given to record_generation."
        )
    if words is not None and len(words) != len(prompts):
        raise NecoError(f"Expected one word list per prompt ({len(prompts)}); found {len(words)}.")
    if threshold is not None and not 0 <= threshold <= 1:
        raise NecoError(f"The 'threshold' must lie in [0, 1]. Got {threshold!r}.")
    length = record.input_ids.shape[1]
    mass = record.word_token_mass()
    steps = record.word_per_step()
    fast = bool(getattr(tokenizer, "is_fast", False))
    rows: list[dict[str, Any]] = []
    for i, prompt in enumerate(prompts):
        prompt_words = list(words[i]) if words is not None else prompt.split()
        if not prompt_words:
            continue
        align = _pieces_by_offsets if fast else _pieces_by_words
        pieces = align(tokenizer, prompt, prompt_words)
        all_ids = tokenizer(prompt, add_special_tokens=False, verbose=False)["input_ids"]
        window = length - 2  # start and end tokens always take a position
        kept = list(all_ids[:window])
        recorded = [int(t) for t in record.input_ids[i, 1 : 1 + len(kept)]]
        if recorded != kept:
            raise NecoError(
                f"Prompt {i} does not match the record: expected the token ids {kept[:8]}..., "
                f"found {recorded[:8]}.... Pass the prompts, in order, and the tokenizer used "
                "by record_generation."
            )
        positions = [[p + 1 for p in word_pieces if p < window] for word_pieces in pieces]
        lost = [
            bool(word_pieces) and not pos
            for word_pieces, pos in zip(pieces, positions, strict=True)
        ]
        n_words = sum(not flag for flag in lost)
        limit = threshold if threshold is not None else 1.0 / (2 * max(n_words, 1))
        for j, word in enumerate(prompt_words):
            pos = positions[j]
            share = float(mass[i, pos].sum()) if pos else 0.0
            best = float(steps[i][:, pos].sum(axis=1).max()) if pos else 0.0
            rows.append(
                {
                    "prompt_index": i,
                    "word_index": j,
                    "word": word,
                    "positions": pos,
                    "share": share,
                    "max_share_per_step": best,
                    "threshold": limit,
                    "neglected": best < limit,
                    "lost": lost[j],
                }
            )
    columns = [
        "prompt_index",
        "word_index",
        "word",
        "positions",
        "share",
        "max_share_per_step",
        "threshold",
        "neglected",
        "lost",
    ]
    return pd.DataFrame(rows, columns=columns)


def pos_attention(words: pd.DataFrame, pos_tags: Sequence[str]) -> pd.DataFrame:
    """Attention by part of speech, given one tag per row of :func:`word_attention`'s table.

    Columns: ``pos``, ``n_words``, ``mean_share`` (mean share of a word with this tag),
    ``total_share`` (the share of word attention a prompt gives to this tag, averaged over all
    prompts, 0 where the tag is absent: these sum to 1 over tags when no word is lost),
    ``neglected_rate`` and ``lost_rate``. Sorted by ``total_share``, largest first.

    >>> table = pd.DataFrame({"prompt_index": [0, 0, 1], "share": [0.25, 0.75, 1.0],
    ...                       "neglected": [True, False, False], "lost": [False] * 3})
    >>> pos_attention(table, ["DET", "NOUN", "NOUN"])[["pos", "n_words", "total_share"]]
        pos  n_words  total_share
    0  NOUN        2        0.875
    1   DET        1        0.125
    """
    tags = list(pos_tags)
    if len(tags) != len(words):
        raise NecoError(
            f"Expected one part-of-speech tag per word row ({len(words)}); found {len(tags)}. "
            "Pass the tags in the order of word_attention's rows."
        )
    frame = words.assign(pos=tags)
    n_prompts = max(frame["prompt_index"].nunique(), 1)
    grouped = frame.groupby("pos", sort=False)
    table = pd.DataFrame(
        {
            "n_words": grouped.size(),
            "mean_share": grouped["share"].mean(),
            "total_share": grouped["share"].sum() / n_prompts,
            "neglected_rate": grouped["neglected"].mean(),
            "lost_rate": grouped["lost"].mean(),
        }
    )
    table = table.rename_axis("pos").reset_index()
    return table.sort_values(["total_share", "pos"], ascending=[False, True], ignore_index=True)
