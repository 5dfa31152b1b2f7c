"""Named sets of model components, found on disk and loaded offline.

The neural stages use the parts of Stable Diffusion v1.5 (Rombach et al. 2022, "High-Resolution
Image Synthesis with Latent Diffusion Models") — its CLIP tokenizer and text encoder, the
U-Net, the VAE, the noise scheduler — and the full two-tower CLIP ViT-L/14 (Radford et al.
2021, "Learning Transferable Visual Models From Natural Language Supervision") as an
independent judge of images. :data:`COMPONENT_SETS` names them:

- ``sd15`` — ``stable-diffusion-v1-5/stable-diffusion-v1-5``: tokenizer, text_encoder, vae,
  unet, scheduler (one sub-folder each);
- ``clip-l14`` — ``openai/clip-vit-large-patch14``: clip (the two-tower ``CLIPModel``) and
  clip_processor (image processor + tokenizer);
- ``sd-vae-ft-mse`` — ``stabilityai/sd-vae-ft-mse``: vae (the fine-tuned decoder);
- ``taesd`` — ``madebyollin/taesd``: vae, the Tiny AutoEncoder for Stable Diffusion (Ollin
  Boer Bohan 2023, github.com/madebyollin/taesd, MIT), distilled into SD 1.x's latent space
  and loaded as diffusers' ``AutoencoderTiny``. It is read from a diffusers layout
  (``config.json`` + ``diffusion_pytorch_model.safetensors``, as on the hub) or from the
  original layout (``taesd_encoder.safetensors`` + ``taesd_decoder.safetensors``, keys of
  ``taesd.py``), see :func:`load_taesd_original`. :func:`load_vae` loads any of the VAEs.

Rules:

- **Offline first.** :func:`locate` looks in a local folder (``--components``), then in the
  Hugging Face cache (``HF_HUB_CACHE``, ``HF_HOME/hub`` or ``~/.cache/huggingface/hub``),
  without any network access: every hub and ``from_pretrained`` call gets
  ``local_files_only=True``. The process environment is left alone (no ``HF_HUB_OFFLINE``),
  so :func:`pull`, the only function that downloads, still works later in the same process.
- **safetensors only** (``use_safetensors=True``); pickled ``.bin``/``.ckpt`` weights are
  never loaded or downloaded; remote code is never trusted.
- **SDPA attention**: transformers models get ``attn_implementation="sdpa"``; diffusers'
  U-Net and VAE get ``AttnProcessor2_0`` (diffusers 0.42's default — checked, and set
  where a module carries another processor). :func:`attention_implementation` reports it.
- **Provenance.** Every loaded component carries a record of what it is and where its
  weights came from: :func:`component_info` (for :func:`load_set`'s result) and
  :func:`info_of` (for one object) return :class:`ComponentInfo` — the component's name,
  source, class, the weight files' SHA-256 and whether the weights are a known release
  (``"pretrained"``), random test weights (``"random"``), files neco cannot vouch for
  (``"unverified"``) or absent (``"none"``: tokenizers, schedulers, processors).

A local directory laid out like a diffusers pipeline (``model_index.json`` plus sub-folders),
or holding one model at its root (a ``CLIPModel`` with its processor, a VAE), can stand in
for a registered name: ``load_set("/path/to/pipeline")``.

>>> sorted(COMPONENT_SETS)
['clip-l14', 'sd-vae-ft-mse', 'sd15', 'taesd']
>>> COMPONENT_SETS["sd15"]["unet"].name
'sd15/unet'
>>> weight_patterns(COMPONENT_SETS["sd15"]["scheduler"])
['scheduler/scheduler_config.json']
>>> weight_patterns(COMPONENT_SETS["taesd"]["vae"])[-2:]
['taesd_encoder.safetensors', 'taesd_decoder.safetensors']
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from neco._lazy import require
from neco.errors import NecoError
from neco.neural.device import DeviceChoice, choose_device, torch_dtype

KINDS = ("tokenizer", "text_encoder", "vae", "unet", "scheduler", "clip", "clip_processor")
"""Kinds of component neco knows how to load."""
PIPELINE_KINDS = ("tokenizer", "text_encoder", "vae", "unet", "scheduler")
"""Kinds read from a Stable-Diffusion-layout directory."""

SCHEDULERS = (
    "DDIMScheduler",
    "DDPMScheduler",
    "PNDMScheduler",
    "LMSDiscreteScheduler",
    "EulerDiscreteScheduler",
    "EulerAncestralDiscreteScheduler",
    "DPMSolverMultistepScheduler",
    "UniPCMultistepScheduler",
    "HeunDiscreteScheduler",
)
"""Scheduler classes a ``scheduler_config.json`` may name (SD v1.5's own is PNDM)."""

VAE_CLASSES = ("AutoencoderKL", "AutoencoderTiny")
"""diffusers classes a ``vae`` component may be: SD's KL autoencoder, or TAESD."""

TAESD_FILES = ("taesd_encoder.safetensors", "taesd_decoder.safetensors")
"""TAESD's weights in the layout of its original ``taesd.py`` (github.com/madebyollin/taesd)."""

# Classes a pipeline's model_index.json must name for each kind neco loads.
_PIPELINE_CLASSES = {
    "tokenizer": ("CLIPTokenizer", "CLIPTokenizerFast"),
    "text_encoder": ("CLIPTextModel",),
    "vae": VAE_CLASSES,
    "unet": ("UNet2DConditionModel",),
    "scheduler": SCHEDULERS,
}

_TOKENIZER_FILES = (
    "tokenizer.json",
    "vocab.json",
    "merges.txt",
    "tokenizer_config.json",
    "special_tokens_map.json",
)
_TRANSFORMERS_WEIGHTS = (
    "config.json",
    "model.safetensors",
    "model.safetensors.index.json",
    "model-*-of-*.safetensors",
)
_DIFFUSERS_WEIGHTS = (
    "config.json",
    "diffusion_pytorch_model.safetensors",
    "diffusion_pytorch_model.safetensors.index.json",
    "diffusion_pytorch_model-*-of-*.safetensors",
)
# Exactly the files each kind needs: no pickles, no fp16/non-EMA variants, no root checkpoints.
_FILES = {
    "tokenizer": _TOKENIZER_FILES,
    "text_encoder": _TRANSFORMERS_WEIGHTS,
    "clip": _TRANSFORMERS_WEIGHTS,
    "vae": _DIFFUSERS_WEIGHTS,
    "unet": _DIFFUSERS_WEIGHTS,
    "scheduler": ("scheduler_config.json",),
    "clip_processor": ("preprocessor_config.json", *_TOKENIZER_FILES),
}
_PICKLES = ("*.bin", "*.ckpt", "*.pt", "*.pth")


@dataclass(frozen=True)
class Component:
    """One loadable part of a model: where it lives on the Hub and what it is.

    ``name`` is ``"<set>/<component>"`` (``"sd15/unet"``); ``subfolder`` is the folder inside
    the repository (``None`` when the files sit at its root); ``kind`` is one of :data:`KINDS`;
    ``model_class`` is the diffusers class the component must be where a kind admits several
    (a ``vae``: one of :data:`VAE_CLASSES`), ``None`` where any of them will do.
    """

    name: str
    repo_id: str
    subfolder: str | None
    kind: str
    model_class: str | None = None


SD15_REPO = "stable-diffusion-v1-5/stable-diffusion-v1-5"
CLIP_L14_REPO = "openai/clip-vit-large-patch14"
VAE_FT_MSE_REPO = "stabilityai/sd-vae-ft-mse"
TAESD_REPO = "madebyollin/taesd"
BUNDLED: dict[str, Path] = {"taesd/vae": Path(__file__).resolve().parent / "weights" / "taesd"}
"""Weights that ship with neco (TAESD, MIT, 5 MB): found after local folders and the Hugging
Face cache, so the latents stage runs on real weights on every machine."""

COMPONENT_SETS: dict[str, dict[str, Component]] = {
    "sd15": {
        kind: Component(
            f"sd15/{kind}", SD15_REPO, kind, kind, "AutoencoderKL" if kind == "vae" else None
        )
        for kind in ("tokenizer", "text_encoder", "vae", "unet", "scheduler")
    },
    "clip-l14": {
        "clip": Component("clip-l14/clip", CLIP_L14_REPO, None, "clip"),
        "clip_processor": Component(
            "clip-l14/clip_processor", CLIP_L14_REPO, None, "clip_processor"
        ),
    },
    "sd-vae-ft-mse": {
        "vae": Component("sd-vae-ft-mse/vae", VAE_FT_MSE_REPO, None, "vae", "AutoencoderKL")
    },
    "taesd": {"vae": Component("taesd/vae", TAESD_REPO, None, "vae", "AutoencoderTiny")},
}
"""The registered component sets, by name."""


# --------------------------------------------------------------------------- finding files


def weight_patterns(component: Component) -> list[str]:
    """The repository paths (glob patterns) a component needs: safetensors, JSON, text.

    A TAESD component (``model_class="AutoencoderTiny"``) also lists the two files of its
    original layout, either of which layouts is enough.
    """
    prefix = f"{component.subfolder}/" if component.subfolder else ""
    names = list(_FILES[component.kind])
    if component.model_class == "AutoencoderTiny":
        names.extend(TAESD_FILES)
    return [prefix + name for name in names]


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache, read from the environment at call time.

    ``HF_HUB_CACHE`` (or the older ``HUGGINGFACE_HUB_CACHE``), else ``HF_HOME/hub``, else
    ``$XDG_CACHE_HOME/huggingface/hub`` (``~/.cache/huggingface/hub``).
    """
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(var):
            return Path(os.environ[var]).expanduser()
    home = os.environ.get("HF_HOME")
    if not home:
        home = str(Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache") / "huggingface")
    return Path(home).expanduser() / "hub"


def _has_tokenizer(folder: Path) -> bool:
    return (folder / "tokenizer.json").is_file() or (
        (folder / "vocab.json").is_file() and (folder / "merges.txt").is_file()
    )


def _has_weights(folder: Path, stem: str) -> bool:
    return (
        (folder / f"{stem}.safetensors").is_file()
        or (folder / f"{stem}.safetensors.index.json").is_file()
        or any(folder.glob(f"{stem}-*-of-*.safetensors"))
    )


def _has_taesd_pair(folder: Path) -> bool:
    return all((folder / name).is_file() for name in TAESD_FILES)


# What config.json says for each model kind (a CLIPModel folder is not a text encoder folder).
_CONFIG_TYPES: dict[str, tuple[str, tuple[str, ...]]] = {
    "text_encoder": ("model_type", ("clip_text_model",)),
    "clip": ("model_type", ("clip",)),
    "vae": ("_class_name", VAE_CLASSES),
    "unet": ("_class_name", ("UNet2DConditionModel",)),
}


def _read_config(folder: Path) -> dict[str, Any] | None:
    try:
        config = json.loads((folder / "config.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return config if isinstance(config, dict) else None


def _config_fits(folder: Path, kind: str, model_class: str | None = None) -> bool:
    """Whether ``folder/config.json`` exists and does not name another kind of model (nor,
    where ``model_class`` is given, another class)."""
    try:
        config = json.loads((folder / "config.json").read_text("utf-8"))
    except (OSError, ValueError):
        return False
    key, expected = _CONFIG_TYPES[kind]
    found = config.get(key) if isinstance(config, dict) else None
    if found is None:
        return True
    return found in expected and (model_class is None or found == model_class)


def _diffusers_vae_fits(folder: Path, model_class: str | None) -> bool:
    return _has_weights(folder, "diffusion_pytorch_model") and _config_fits(
        folder, "vae", model_class
    )


def is_complete(folder: Path, kind: str, model_class: str | None = None) -> bool:
    """Whether ``folder`` holds every file a component of ``kind`` needs (safetensors only).

    A ``vae`` folder is complete with diffusers' files (``config.json`` naming one of
    :data:`VAE_CLASSES`, or ``model_class`` when given, and ``diffusion_pytorch_model``
    safetensors) or, for TAESD (``model_class`` ``None`` or ``"AutoencoderTiny"``), with the
    two files of its original layout (:data:`TAESD_FILES`).
    """
    if not folder.is_dir():
        return False
    if kind == "tokenizer":
        return _has_tokenizer(folder)
    if kind in ("text_encoder", "clip"):
        return _has_weights(folder, "model") and _config_fits(folder, kind)
    if kind == "vae":
        if _diffusers_vae_fits(folder, model_class):
            return True
        return model_class in (None, "AutoencoderTiny") and _has_taesd_pair(folder)
    if kind == "unet":
        return _has_weights(folder, "diffusion_pytorch_model") and _config_fits(folder, kind)
    if kind == "scheduler":
        return (folder / "scheduler_config.json").is_file()
    if kind == "clip_processor":
        return (folder / "preprocessor_config.json").is_file() and _has_tokenizer(folder)
    raise NecoError(f"Unknown component kind {kind!r}. Expected one of: {', '.join(KINDS)}.")


def _repo_cache_folder(cache: Path, repo_id: str) -> Path:
    return cache / ("models--" + repo_id.replace("/", "--"))


def _from_cache(component: Component, cache: Path) -> Path | None:
    """The component's folder inside a hub cache, or ``None``; never touches the network."""
    repo_folder = _repo_cache_folder(cache, component.repo_id)
    if not repo_folder.is_dir():
        return None
    sub = component.subfolder or ""
    hub = require("huggingface_hub", "models")
    try:
        snapshot = hub.snapshot_download(
            component.repo_id,
            cache_dir=cache,
            local_files_only=True,
            allow_patterns=weight_patterns(component),
        )
        candidate = Path(snapshot) / sub
        if is_complete(candidate, component.kind, component.model_class):
            return candidate
    except (OSError, ValueError):  # LocalEntryNotFoundError, IncompleteSnapshotError, ...
        pass
    # No usable refs/main (a copied cache, a pinned revision): scan the snapshots, newest first.
    snapshots = sorted(
        (p for p in (repo_folder / "snapshots").glob("*") if p.is_dir()),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for snap in snapshots:
        if is_complete(snap / sub, component.kind, component.model_class):
            return snap / sub
    return None


def _local_candidates(root: Path, component: Component) -> list[Path]:
    repo_name = component.repo_id.split("/")[-1]
    set_name = component.name.split("/")[0]
    bases = [root, root / repo_name, root / set_name]
    candidates: list[Path] = []
    for base in bases:
        if component.subfolder:
            candidates.append(base / component.subfolder)
        candidates.append(base)
    return candidates


def _pickles_in(folders: Iterable[Path]) -> list[Path]:
    found: list[Path] = []
    for folder in folders:
        if folder.is_dir():
            for pattern in _PICKLES:
                found.extend(sorted(folder.glob(pattern)))
    return found


def locate(component: Component, local: str | Path | None = None) -> Path:
    """The folder holding ``component``'s files, without touching the network.

    Looks in ``local`` (the component's sub-folder of it, or ``local`` itself, or
    ``local/<repository name>[/<subfolder>]``, or a hub cache inside ``local``), then in the
    Hugging Face cache. Raises a :class:`~neco.errors.NecoError` that names the places looked
    and the command that fetches the files.
    """
    looked: list[Path] = []
    searched: list[Path] = []
    if local is not None:
        root = Path(local).expanduser()
        looked.append(root)
        candidates = _local_candidates(root, component)
        searched.extend(candidates)
        for candidate in candidates:
            if is_complete(candidate, component.kind, component.model_class):
                return candidate
        in_local_cache = _from_cache(component, root)
        if in_local_cache is not None:
            return in_local_cache
    cache = hf_cache_dir()
    looked.append(cache)
    found = _from_cache(component, cache)
    if found is not None:
        return found
    bundled = BUNDLED.get(component.name)
    if bundled is not None and is_complete(bundled, component.kind, component.model_class):
        return bundled
    raise NecoError(_not_found_message(component, looked, _pickles_in(searched)))


def _not_found_message(component: Component, looked: list[Path], pickles: list[Path]) -> str:
    set_name = component.name.split("/")[0]
    where = component.repo_id
    if component.subfolder:
        where += f", subfolder {component.subfolder}"
    include = " ".join(f"'{p}'" for p in weight_patterns(component))
    message = (
        f"Weights for {component.name} ({where}) not found. "
        f"Looked in: {', '.join(str(p) for p in looked)}. "
        f"On a machine with internet run: neco models pull {set_name} "
        f"(or: hf download {component.repo_id} --include {include}), "
        "then copy the Hugging Face cache or pass --components <dir>."
    )
    if pickles:
        message += (
            f" Found pickled weights ({', '.join(p.name for p in pickles[:3])}), which neco does "
            "not load: it needs the .safetensors files."
        )
    return message


# --------------------------------------------------------------------------- provenance

WEIGHTS_STATES = ("pretrained", "random", "unverified", "none")
"""What :attr:`ComponentInfo.weights` can say about a component's weights."""

RANDOM_WEIGHTS_MARKER = "neco_random_weights.json"
"""A file in a model folder that marks its weights as random (see :func:`mark_random_weights`)."""

KNOWN_WEIGHTS: dict[str, str] = {
    "a6b8c0fda4aad50784e543389e0239c72c5e31e9775c9e612ea8333bf3a77dcb": (
        "TAESD encoder for SD 1.x (madebyollin/taesd, MIT), original layout, bfloat16"
    ),
    "d903e7cc3ae58f21d985a3498a841fa8b230edccff7ac5d27607b0c557945c6f": (
        "TAESD decoder for SD 1.x (madebyollin/taesd, MIT), original layout, bfloat16"
    ),
}
"""SHA-256 of released weight files neco recognises, and what each file is.

The two TAESD files are the bfloat16 copies in the original ``taesd.py`` layout that ComfyUI
ships as ``models/vae_approx/taesd_{encoder,decoder}.safetensors``; neco ships them
(``neco/neural/weights/taesd``, see :data:`BUNDLED`)."""

_HEX64 = re.compile(r"[0-9a-f]{64}")
_PROVENANCE_ATTRIBUTE = "_neco_provenance"


@dataclass(frozen=True)
class ComponentInfo:
    """What a loaded component is and where its weights came from, for a stage's record.

    - ``name``: ``"<set>/<kind>"`` (``"taesd/vae"``, or ``"<folder name>/unet"`` for a
      local folder);
    - ``kind``: one of :data:`KINDS`;
    - ``source``: the hub repository of a registered set, else the local folder given;
    - ``cls``: the loaded object's class (``"AutoencoderTiny"``, ``"CLIPTextModel"``...);
    - ``path``: the folder its files were read from (``None`` for neco's bundled tokenizer);
    - ``layout``: ``"diffusers"``, ``"transformers"``, ``"taesd-original"`` or ``"bundled"``;
    - ``weights``: ``"pretrained"`` (every weight file's SHA-256 is in :data:`KNOWN_WEIGHTS`,
      or every file is a Hugging Face cache blob named by its own SHA-256, i.e. byte for byte
      the file the hub served), ``"random"`` (the folder holds
      :data:`RANDOM_WEIGHTS_MARKER`: test weights), ``"unverified"`` (real files neco cannot
      vouch for: a local copy, a fine-tune) or ``"none"`` (tokenizers, schedulers,
      processors);
    - ``evidence``: one sentence saying why ``weights`` says so;
    - ``sha256``: ``(file name, hex digest)`` of each weight file read, sorted by name.
    """

    name: str
    kind: str
    source: str
    cls: str
    path: str | None
    layout: str
    weights: str
    evidence: str
    sha256: tuple[tuple[str, str], ...]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``sha256`` as ``{file name: digest}``)."""
        out = asdict(self)
        out["sha256"] = dict(self.sha256)
        return out


@dataclass(frozen=True)
class _Provenance:
    """What loading knew about a component; hashed into a :class:`ComponentInfo` on demand."""

    name: str
    kind: str
    source: str
    path: Path | None
    layout: str
    files: tuple[Path, ...]


_DIGESTS: dict[tuple[str, int, int], str] = {}
_DIGESTS_LOCK = threading.Lock()


def _sha256(path: Path) -> str:
    """SHA-256 of a file, remembered per (real path, size, mtime) for the process."""
    real = path.resolve()
    st = real.stat()
    key = (str(real), st.st_size, st.st_mtime_ns)
    with _DIGESTS_LOCK:
        known = _DIGESTS.get(key)
    if known is not None:
        return known
    digest = hashlib.sha256()
    with real.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    hexdigest = digest.hexdigest()
    with _DIGESTS_LOCK:
        _DIGESTS[key] = hexdigest
    return hexdigest


def _hub_repo_of(path: Path) -> str | None:
    """``org/name`` when ``path`` lies in a hub cache (``models--org--name/snapshots/...``)."""
    for part in path.parts:
        if part.startswith("models--"):
            return part.removeprefix("models--").replace("--", "/")
    return None


def _judge_weights(record: _Provenance, digests: list[tuple[Path, str]]) -> tuple[str, str]:
    """``(weights, evidence)`` for a component whose weight files have these digests."""
    if not record.files:
        return "none", f"a {record.kind} has no weights"
    if record.path is not None and (record.path / RANDOM_WEIGHTS_MARKER).is_file():
        return "random", f"{RANDOM_WEIGHTS_MARKER} in {record.path} marks them as random weights"
    known = [KNOWN_WEIGHTS.get(digest) for _, digest in digests]
    if all(known):
        return "pretrained", "SHA-256 in neco's table of released files: " + "; ".join(
            str(k) for k in known
        )
    # The hub cache stores each large (LFS) file as blobs/<its SHA-256>, the digest the hub
    # states for it; a file whose digest is its blob's name is the hub's file, byte for byte.
    blobs = [(path.resolve(), digest) for path, digest in digests]
    if all(
        blob.parent.name == "blobs" and _HEX64.fullmatch(blob.name) and blob.name == digest
        for blob, digest in blobs
    ):
        repo = _hub_repo_of(blobs[0][0]) or "its repository"
        return "pretrained", f"byte-identical to the files the Hugging Face hub served for {repo}"
    return "unverified", (
        "not in neco's table of released files and not Hugging Face cache blobs, so their "
        "origin is unknown"
    )


def _attach(obj: Any, record: _Provenance) -> Any:
    # An attribute, not a side table: it follows the object into any dict or pipeline.
    setattr(obj, _PROVENANCE_ATTRIBUTE, record)
    return obj


def info_of(component: Any) -> ComponentInfo:
    """The :class:`ComponentInfo` of one object returned by :func:`load_set`,
    :func:`load_component` or :func:`load_vae` (hashing its weight files once per process)."""
    record = getattr(component, _PROVENANCE_ATTRIBUTE, None)
    if not isinstance(record, _Provenance):
        raise NecoError(
            "Expected a component loaded by neco (load_set, load_component or load_vae), which "
            f"carries its provenance; found a {type(component).__name__} without it. Load it "
            "through neco.neural.components to record where it came from."
        )
    digests = [(path, _sha256(path)) for path in record.files]
    weights, evidence = _judge_weights(record, digests)
    return ComponentInfo(
        name=record.name,
        kind=record.kind,
        source=record.source,
        cls=type(component).__name__,
        path=str(record.path) if record.path is not None else None,
        layout=record.layout,
        weights=weights,
        evidence=evidence,
        sha256=tuple(sorted((path.name, digest) for path, digest in digests)),
    )


def component_info(loaded: Mapping[str, Any]) -> dict[str, ComponentInfo]:
    """``{kind: ComponentInfo}`` for the result of :func:`load_set` (see :func:`info_of`)."""
    return {kind: info_of(obj) for kind, obj in loaded.items()}


def mark_random_weights(folder: str | Path, note: str = "") -> Path:
    """Mark a model folder's weights as random (for test and benchmark components).

    Writes :data:`RANDOM_WEIGHTS_MARKER` into ``folder``, so that :class:`ComponentInfo` says
    ``weights="random"`` for what is loaded from it. Returns the marker's path.
    """
    marker = Path(folder) / RANDOM_WEIGHTS_MARKER
    marker.write_text(json.dumps({"weights": "random", "note": note}, indent=2) + "\n", "utf-8")
    return marker


def _weight_files(folder: Path, stem: str) -> tuple[Path, ...]:
    """The safetensors files ``from_pretrained`` reads for ``stem`` (one file, or shards)."""
    single = folder / f"{stem}.safetensors"
    if single.is_file():
        return (single,)
    return tuple(sorted(folder.glob(f"{stem}-*-of-*.safetensors")))


# A safetensors file starts with the length of its JSON header (8 bytes, little-endian) and
# then the header itself; a pickle (torch.save's zip, or a bare pickle) cannot look like that.
_MAX_HEADER = 100 * 2**20


def _check_safetensors_file(path: Path) -> None:
    """Refuse ``path`` unless it begins as a safetensors file does (before any loader opens
    it: transformers falls back to ``torch.load`` for what is not safetensors)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(9)
        size = path.stat().st_size
    except OSError as exc:
        raise NecoError(f"Cannot read the weights {path}: {exc.strerror or exc}.") from exc
    length = int.from_bytes(head[:8], "little") if len(head) == 9 else -1
    if not (0 < length <= min(_MAX_HEADER, size - 8)) or head[8:9] != b"{":
        kind = "a zip archive (torch.save)" if head.startswith(b"PK") else "not safetensors"
        raise NecoError(
            f"{path} is named .safetensors but is {kind}: its first bytes are {head[:9]!r}. "
            "neco loads safetensors only and never unpickles weights. Expected the "
            "safetensors file from the model's repository (neco models pull NAME)."
        )


def check_weight_files(folder: Path, stem: str) -> tuple[Path, ...]:
    """The safetensors files a loader will read for ``stem`` in ``folder``, checked first.

    One ``{stem}.safetensors``, or the shards that ``{stem}.safetensors.index.json`` names,
    each a ``.safetensors`` file in ``folder``; every file must begin as safetensors does.
    Anything else -- an index naming ``.bin`` shards (which transformers would hand to
    ``torch.load``), a pickle renamed ``.safetensors``, shards without their index -- is a
    :class:`NecoError` before any file is handed to transformers or diffusers.
    """
    single = folder / f"{stem}.safetensors"
    index = folder / f"{stem}.safetensors.index.json"
    if single.is_file():
        files: tuple[Path, ...] = (single,)
    elif index.is_file():
        try:
            weight_map = json.loads(index.read_text("utf-8")).get("weight_map")
        except (OSError, ValueError, AttributeError) as exc:
            raise NecoError(f"{index} is not a safetensors index: {exc}.") from exc
        names = sorted(set(weight_map.values())) if isinstance(weight_map, dict) else []
        bad = [
            n
            for n in names
            if not isinstance(n, str) or not n.endswith(".safetensors") or Path(n).name != n
        ]
        if not names or bad:
            raise NecoError(
                f"{index} names {', '.join(map(repr, bad[:3])) or 'no shards'}. Expected "
                "shards that are .safetensors files beside it; neco never loads pickled "
                "(.bin, .pt, .ckpt) weights."
            )
        missing = [n for n in names if not (folder / n).is_file()]
        if missing:
            raise NecoError(
                f"{index} names shards that are not in {folder}: {', '.join(missing[:3])}. "
                "Copy the complete folder (neco models pull NAME)."
            )
        files = tuple(folder / n for n in names)
    else:
        shards = sorted(folder.glob(f"{stem}-*-of-*.safetensors"))
        if shards:
            raise NecoError(
                f"{folder} holds the shards {shards[0].name}, ... without their index "
                f"{index.name}, which says which tensor is in which shard. Copy the index "
                "from the model's repository too."
            )
        raise NecoError(
            f"{folder} has no {single.name} (nor {index.name} with its shards). Expected "
            "the safetensors weights; neco never loads pickled weights."
        )
    for file in files:
        _check_safetensors_file(file)
    return files


# --------------------------------------------------------------------------- loading


def _transformers_kwargs(choice: DeviceChoice) -> dict[str, Any]:
    return {
        "dtype": torch_dtype(choice),
        "attn_implementation": choice.attention,
        "use_safetensors": True,
        "local_files_only": True,
    }


def _diffusers_kwargs(choice: DeviceChoice) -> dict[str, Any]:
    utils = require("diffusers.utils", "models")
    return {
        "dtype": torch_dtype(choice),
        "use_safetensors": True,
        "local_files_only": True,
        # Said explicitly: without accelerate, diffusers would log a warning on every load.
        "low_cpu_mem_usage": bool(utils.is_accelerate_available()),
    }


def _use_sdpa_processors(model: Any) -> Any:
    """Make every attention module of a diffusers model use ``AttnProcessor2_0`` (SDPA)."""
    processors = require("diffusers.models.attention_processor", "models")
    sdpa = processors.AttnProcessor2_0
    current = getattr(model, "attn_processors", {})
    if current and not all(isinstance(p, sdpa) for p in current.values()):
        model.set_attn_processor(sdpa())
    return model


def attention_implementation(model: Any) -> str:
    """How a loaded model computes attention: ``"sdpa"`` when all of it goes through
    ``scaled_dot_product_attention``; otherwise the implementation or processor names
    (``"none"`` for a model without attention, such as TAESD)."""
    config = getattr(model, "config", None)
    implementation = getattr(config, "_attn_implementation", None)
    if isinstance(implementation, str):
        return implementation
    processors = getattr(model, "attn_processors", None)
    if processors:
        names = sorted({type(p).__name__ for p in processors.values()})
        return "sdpa" if names == ["AttnProcessor2_0"] else ",".join(names)
    return "none"


def _finish(model: Any, choice: DeviceChoice) -> Any:
    return model.to(choice.device).eval()


def _load_scheduler(path: Path) -> Any:
    diffusers = require("diffusers", "models")
    config_file = path / "scheduler_config.json"
    try:
        class_name = json.loads(config_file.read_text("utf-8")).get("_class_name")
    except (OSError, ValueError) as exc:
        raise NecoError(
            f"Cannot read the scheduler config {config_file} ({exc}). Expected a JSON file "
            "written by diffusers; fetch the component again (neco models pull)."
        ) from exc
    if class_name not in SCHEDULERS:
        raise NecoError(
            f"The scheduler in {config_file} is {class_name!r}, which neco does not load. "
            f"Expected one of: {', '.join(SCHEDULERS)}. Use a pipeline whose scheduler is one "
            "of them, or replace scheduler/scheduler_config.json."
        )
    return getattr(diffusers, class_name).from_pretrained(path, local_files_only=True)


def _quiet_progress_bars(library: str) -> None:
    """neco draws its own progress; the libraries' per-load tqdm bars only clutter stderr."""
    require(f"{library}.utils", "models").logging.disable_progress_bar()


_TAESD_DECODER_KEY = re.compile(r"(\d+)\.(.+)")


def _taesd_state_dict(encoder: Mapping[str, Any], decoder: Mapping[str, Any]) -> dict[str, Any]:
    """Keys of taesd.py's two ``nn.Sequential`` halves onto diffusers' ``AutoencoderTiny``.

    taesd.py's decoder begins with a weightless ``Clamp`` at index 0, which diffusers'
    ``DecoderTiny`` applies in ``forward`` instead (``tanh(x / 3) * 3``), so decoder layer
    ``N`` is diffusers' ``layers.{N - 1}``; the encoder's indices are the same in both.
    """
    state = {f"encoder.layers.{key}": value for key, value in encoder.items()}
    for key, value in decoder.items():
        found = _TAESD_DECODER_KEY.fullmatch(key)
        if found is None or int(found[1]) == 0:
            raise NecoError(
                f"Unexpected key {key!r} in the TAESD decoder. Expected keys of taesd.py's "
                "Decoder, numbered from 1 ('1.weight', '3.conv.0.weight', ...): index 0 is its "
                "weightless Clamp. Use taesd_decoder.safetensors from github.com/madebyollin/taesd."
            )
        state[f"decoder.layers.{int(found[1]) - 1}.{found[2]}"] = value
    return state


def load_taesd_original(folder: str | Path, device: DeviceChoice | None = None) -> Any:
    """TAESD from its original layout, as diffusers' ``AutoencoderTiny`` in eval mode.

    ``folder`` holds ``taesd_encoder.safetensors`` and ``taesd_decoder.safetensors``, the
    state dicts of the ``Encoder()`` and ``Decoder()`` of ``taesd.py`` (Ollin Boer Bohan,
    github.com/madebyollin/taesd). Their keys are mapped as :func:`_taesd_state_dict` says,
    and loaded strictly (every key, every shape) into ``AutoencoderTiny()`` with its default
    config, which is TAESD's (64 channels, 4 latent channels, 8x down-sampling), on ``device``
    in its dtype (default: :func:`choose_device`). safetensors only.
    """
    torch = require("torch", "models")
    diffusers = require("diffusers", "models")
    safetensors_torch = require("safetensors.torch", "models")
    safetensors = require("safetensors", "models")
    choice = device or choose_device()
    folder = Path(folder)
    halves: list[dict[str, Any]] = []
    for name in TAESD_FILES:
        path = folder / name
        try:
            halves.append(safetensors_torch.load_file(str(path), device="cpu"))
        except (OSError, safetensors.SafetensorError) as exc:
            raise NecoError(
                f"Cannot read {path} ({exc}). Expected TAESD's safetensors file "
                f"({', '.join(TAESD_FILES)} from github.com/madebyollin/taesd)."
            ) from exc
    tdtype = torch_dtype(choice)
    # Widened to float32 first (exact from bfloat16), then to the device's dtype.
    state = {
        key: value.to(torch.float32).to(device=choice.device, dtype=tdtype)
        for key, value in _taesd_state_dict(*halves).items()
    }
    # Built on the meta device and filled with assign=True: no random initialisation to throw
    # away, and no dtype cast afterwards (diffusers warns on every ModelMixin.to(dtype)).
    with torch.device("meta"):
        model = diffusers.AutoencoderTiny()
    try:
        model.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as exc:
        detail = " ".join(str(exc).split()).rstrip(".")  # torch's message spans several lines
        raise NecoError(
            f"The TAESD files in {folder} do not fit diffusers' AutoencoderTiny (SD 1.x TAESD: "
            f"4 latent channels, 67 tensors per half; found {len(halves[0])} encoder and "
            f"{len(halves[1])} decoder tensors): {detail}. Use taesd_encoder/decoder.safetensors "
            "(not taesdxl, taesd3 or taef1, which are other latent spaces)."
        ) from exc
    left = [name for name, t in model.state_dict().items() if t.is_meta]
    if left:  # pragma: no cover - a diffusers release with buffers TAESD's files lack
        raise NecoError(
            f"AutoencoderTiny has tensors TAESD's files do not fill: {', '.join(left[:5])}. "
            "Expected the diffusers release neco was tested with (0.42)."
        )
    return model.eval()


class _DropTinyConfigNotice(logging.Filter):
    """diffusers' ``AutoencoderTiny`` writes ``block_out_channels`` into its own config.json
    (it registers it for the pipelines' scale factor) and then, on every load, warns that it
    ignores it. Nothing is wrong, so the notice is dropped rather than shown to users."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "were passed to AutoencoderTiny, but are not expected" not in record.getMessage()


def _load_vae(path: Path, choice: DeviceChoice, model_class: str | None) -> tuple[Any, str]:
    """A VAE from a diffusers folder (``AutoencoderKL``/``AutoencoderTiny``, as its config says)
    or from TAESD's original layout; returns the model and the layout read."""
    if _diffusers_vae_fits(path, model_class):
        diffusers = require("diffusers", "models")
        check_weight_files(path, "diffusion_pytorch_model")
        config = _read_config(path) or {}
        class_name = config.get("_class_name") or model_class or "AutoencoderKL"
        notices = logging.getLogger("diffusers.configuration_utils")
        quiet = _DropTinyConfigNotice()
        notices.addFilter(quiet)
        try:
            model = getattr(diffusers, class_name).from_pretrained(
                path, **_diffusers_kwargs(choice)
            )
        finally:
            notices.removeFilter(quiet)
        return _finish(_use_sdpa_processors(model), choice), "diffusers"
    if model_class in (None, "AutoencoderTiny") and _has_taesd_pair(path):
        return load_taesd_original(path, choice), "taesd-original"
    wanted = model_class or " or ".join(VAE_CLASSES)
    raise NecoError(
        f"{path} holds no {wanted} weights neco can load. Expected config.json naming it plus "
        "diffusion_pytorch_model.safetensors"
        + (f", or TAESD's {' + '.join(TAESD_FILES)}" if model_class != "AutoencoderKL" else "")
        + "."
    )


def _load_from(
    kind: str, path: Path, choice: DeviceChoice, model_class: str | None = None
) -> tuple[Any, str, tuple[Path, ...]]:
    """Load one component from its folder: ``(object, layout, weight files read)``."""
    _quiet_progress_bars("diffusers" if kind in ("vae", "unet", "scheduler") else "transformers")
    if kind == "tokenizer":
        transformers = require("transformers", "models")
        tokenizer = transformers.CLIPTokenizer.from_pretrained(path, local_files_only=True)
        return tokenizer, "transformers", ()
    if kind in ("text_encoder", "clip"):
        transformers = require("transformers", "models")
        cls = transformers.CLIPTextModel if kind == "text_encoder" else transformers.CLIPModel
        files = check_weight_files(path, "model")
        model = cls.from_pretrained(path, **_transformers_kwargs(choice))
        return _finish(model, choice), "transformers", files
    if kind == "clip_processor":
        transformers = require("transformers", "models")
        # transformers 5: CLIPImageProcessor is the torchvision backend and logs a warning when
        # it falls back to PIL; ask for the PIL backend directly where it exists.
        image_cls = getattr(transformers, "CLIPImageProcessorPil", None)
        if image_cls is None:  # pragma: no cover - older transformers
            image_cls = transformers.CLIPImageProcessor
        processor = transformers.CLIPProcessor(
            image_processor=image_cls.from_pretrained(path, local_files_only=True),
            tokenizer=transformers.CLIPTokenizer.from_pretrained(path, local_files_only=True),
        )
        return processor, "transformers", ()
    if kind == "vae":
        model, layout = _load_vae(path, choice, model_class)
        if layout == "taesd-original":
            return model, layout, tuple(path / name for name in TAESD_FILES)
        return model, layout, _weight_files(path, "diffusion_pytorch_model")
    if kind == "unet":
        diffusers = require("diffusers", "models")
        files = check_weight_files(path, "diffusion_pytorch_model")
        model = diffusers.UNet2DConditionModel.from_pretrained(path, **_diffusers_kwargs(choice))
        return _finish(_use_sdpa_processors(model), choice), "diffusers", files
    if kind == "scheduler":
        return _load_scheduler(path), "diffusers", ()
    raise NecoError(f"Unknown component kind {kind!r}. Expected one of: {', '.join(KINDS)}.")


def _load_at(component: Component, path: Path, choice: DeviceChoice) -> Any:
    """Load ``component`` from ``path`` and attach its provenance (see :func:`info_of`)."""
    obj, layout, files = _load_from(component.kind, path, choice, component.model_class)
    record = _Provenance(component.name, component.kind, component.repo_id, path, layout, files)
    return _attach(obj, record)


def _fallback_tokenizer(error: NecoError, name: str) -> Any:
    """The CLIP tokenizer bundled with neco, for a pipeline whose tokenizer/ is absent."""
    try:
        tokenizer_module = require("neco.neural.tokenizer", "models")
    except NecoError:
        raise error from None
    record = _Provenance(
        name, "tokenizer", "neco's CLIP BPE vocabulary (open_clip package)", None, "bundled", ()
    )
    return _attach(tokenizer_module.load_clip_tokenizer(None), record)


def load_component(
    component: Component,
    *,
    local: str | Path | None = None,
    device: DeviceChoice | None = None,
    fallback_tokenizer: bool = True,
) -> Any:
    """Locate and load one component, offline, on ``device`` (default: :func:`choose_device`).

    Models come back in eval mode, in the device's dtype, with SDPA attention. A missing
    ``tokenizer`` falls back to neco's bundled CLIP tokenizer (``neco.neural.tokenizer``: the
    same vocabulary as SD v1.5's) unless ``fallback_tokenizer=False``, which raises instead.
    :func:`info_of` tells what was loaded.
    """
    choice = device or choose_device()
    try:
        path = locate(component, local)
    except NecoError as exc:
        if component.kind == "tokenizer" and fallback_tokenizer:
            return _fallback_tokenizer(exc, component.name)
        raise
    return _load_at(component, path, choice)


def _read_model_index(folder: Path) -> dict[str, Any]:
    index_file = folder / "model_index.json"
    try:
        index = json.loads(index_file.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise NecoError(
            f"Cannot read {index_file} ({exc}). Expected a diffusers pipeline folder "
            "(model_index.json plus tokenizer/ text_encoder/ vae/ unet/ scheduler/)."
        ) from exc
    if not isinstance(index, dict):
        raise NecoError(f"{index_file} is not a JSON object; expected diffusers' model_index.json.")
    return index


def _pipeline_classes(folder: Path) -> dict[str, str]:
    """``{kind: class name}`` for the kinds a pipeline folder's model_index.json lists (and
    neco loads), checked."""
    index = _read_model_index(folder)
    classes: dict[str, str] = {}
    for kind in PIPELINE_KINDS:
        entry = index.get(kind)
        if not isinstance(entry, list) or len(entry) != 2 or entry[1] is None:
            continue
        if entry[1] not in _PIPELINE_CLASSES[kind]:
            raise NecoError(
                f"{folder / 'model_index.json'} names {entry[1]} for {kind}; neco loads the "
                f"Stable Diffusion v1 layout, which has {' or '.join(_PIPELINE_CLASSES[kind])}. "
                "Use an SD v1.x pipeline folder."
            )
        classes[kind] = str(entry[1])
    return classes


def _local_set(folder: Path) -> dict[str, Component]:
    """Components of a local pipeline folder, as if it were a registered set."""
    return {
        kind: Component(
            f"{folder.name}/{kind}", str(folder), kind, kind, cls if kind == "vae" else None
        )
        for kind, cls in _pipeline_classes(folder).items()
    }


def _folder_vae_class(folder: Path, config: Mapping[str, Any]) -> str | None:
    """The VAE class a single-model folder holds: its config's, or TAESD's original layout."""
    diffusers_class = config.get("_class_name")
    if diffusers_class in VAE_CLASSES:
        return str(diffusers_class)
    if _has_taesd_pair(folder):
        return "AutoencoderTiny"
    return None


def _model_folder_kinds(folder: Path) -> list[str]:
    """Kinds held by a single-model folder (files at its root), read from its config.json."""
    config = _read_config(folder) or {}
    architectures = config.get("architectures") or []
    diffusers_class = config.get("_class_name")
    if "CLIPModel" in architectures or config.get("model_type") == "clip":
        extra = ["clip_processor"] if is_complete(folder, "clip_processor") else []
        return ["clip", *extra]
    if "CLIPTextModel" in architectures or config.get("model_type") == "clip_text_model":
        return ["text_encoder", *(["tokenizer"] if _has_tokenizer(folder) else [])]
    if _folder_vae_class(folder, config) is not None:
        return ["vae"]
    if diffusers_class == "UNet2DConditionModel":
        return ["unet"]
    if (folder / "scheduler_config.json").is_file():
        return ["scheduler"]
    if _has_tokenizer(folder):
        return ["tokenizer"]
    return []


def _model_folder_set(folder: Path) -> dict[str, Component]:
    """Components of a single-model folder (a CLIP model, a VAE...), files at its root."""
    vae_class = _folder_vae_class(folder, _read_config(folder) or {})
    return {
        kind: Component(
            f"{folder.name}/{kind}", str(folder), None, kind, vae_class if kind == "vae" else None
        )
        for kind in _model_folder_kinds(folder)
    }


def _in_folder(folder: Path, component: Component) -> Path:
    """A local folder's component, checked complete."""
    path = folder / (component.subfolder or "")
    if is_complete(path, component.kind, component.model_class):
        return path
    expected = ", ".join(_FILES[component.kind])
    if component.kind == "vae" and component.model_class != "AutoencoderKL":
        expected += f"; or, for TAESD, {', '.join(TAESD_FILES)}"
    message = (
        f"The folder {folder} should hold the {component.kind}, but {path} lacks its files. "
        f"Expected (safetensors only): {expected}. Copy the complete "
        f"{component.subfolder + '/ folder' if component.subfolder else 'files'} there."
    )
    pickles = _pickles_in([path])
    if pickles:
        message += f" Found pickled weights ({', '.join(p.name for p in pickles[:3])})."
    raise NecoError(message)


def _unknown_set(name: str) -> NecoError:
    return NecoError(
        f"Unknown component set {name!r}: not a registered name and not a model folder "
        "(a diffusers pipeline with model_index.json, or a single model with config.json, or "
        f"TAESD's {' + '.join(TAESD_FILES)}). "
        f"Registered sets: {', '.join(sorted(COMPONENT_SETS))}. Pass one of them, or such a "
        "folder."
    )


def _resolve_set(name_or_dir: str | Path) -> tuple[dict[str, Component], Path | None]:
    """A set's components and, for a local folder, the folder itself."""
    if str(name_or_dir) in COMPONENT_SETS:
        return COMPONENT_SETS[str(name_or_dir)], None
    folder = Path(name_or_dir).expanduser()
    if (folder / "model_index.json").is_file():
        return _local_set(folder), folder
    if folder.is_dir():
        components = _model_folder_set(folder)
        if components:
            return components, folder
    raise _unknown_set(str(name_or_dir))


def _select(components: dict[str, Component], kinds: Iterable[str] | None) -> list[str]:
    if kinds is None:
        return list(components)
    wanted = list(dict.fromkeys(kinds))
    unknown = [k for k in wanted if k not in KINDS]
    if unknown:
        raise NecoError(
            f"Unknown component kind(s) {', '.join(map(repr, unknown))}. "
            f"Expected some of: {', '.join(KINDS)}."
        )
    return wanted


def _locate_in(component: Component, folder: Path | None, local: str | Path | None) -> Path:
    if folder is not None:
        return _in_folder(folder, component)
    return locate(component, local)


def load_set(
    name_or_dir: str | Path,
    *,
    kinds: Iterable[str] | None = None,
    device: DeviceChoice | None = None,
    local: str | Path | None = None,
    fallback_tokenizer: bool = True,
) -> dict[str, Any]:
    """Load a registered set (``"sd15"``) or a local model folder, offline.

    A local folder is a diffusers pipeline (``model_index.json`` plus sub-folders) or a single
    model with its files at the root (a ``CLIPModel`` with its processor, a VAE, TAESD in its
    original layout...). Returns ``{kind: object}``; :func:`component_info` of it tells what
    each object is and where its weights came from. ``kinds`` restricts what is loaded
    (default: every component of the set, or every kind the folder holds). ``local`` is a
    folder searched before the hub cache for a registered set. Only kinds that need diffusers
    import it. A set without its tokenizer gets neco's bundled CLIP tokenizer, unless
    ``fallback_tokenizer=False`` (then the :class:`~neco.errors.NecoError` saying where it
    looked is raised).
    """
    components, folder = _resolve_set(name_or_dir)
    selected = _select(components, kinds)
    choice = device or choose_device()
    loaded: dict[str, Any] = {}
    for kind in selected:
        component = components.get(kind)
        if component is None and kind == "tokenizer" and folder is not None:
            component = Component(f"{folder.name}/tokenizer", str(folder), kind, kind)
        if component is None:
            raise NecoError(
                f"The set {str(name_or_dir)!r} has no {kind}. It has: "
                f"{', '.join(components) or 'nothing neco loads'}."
            )
        try:
            path = _locate_in(component, folder, local)
        except NecoError as exc:
            if kind != "tokenizer" or not fallback_tokenizer:
                raise
            loaded[kind] = _fallback_tokenizer(exc, component.name)
            continue
        loaded[kind] = _load_at(component, path, choice)
    return loaded


def load_vae(
    name_or_path: str | Path = "taesd",
    device: DeviceChoice | None = None,
    *,
    local: str | Path | None = None,
) -> tuple[Any, ComponentInfo]:
    """Load a VAE offline and say what it is: ``(model, info)``.

    ``name_or_path`` is a registered set with a VAE (``"taesd"``, ``"sd15"``,
    ``"sd-vae-ft-mse"``), a diffusers pipeline folder, or a VAE folder (diffusers'
    ``AutoencoderKL``/``AutoencoderTiny`` layout, or TAESD's original layout). ``local`` is
    searched before the hub cache for a registered set, as in :func:`load_set`. The model
    comes back in eval mode on ``device`` (default: :func:`choose_device`); pass it to
    :func:`neco.neural.latents.vae_round_trip`. ``info`` is its :class:`ComponentInfo`.
    """
    vae = load_set(name_or_path, kinds=["vae"], device=device, local=local)["vae"]
    return vae, info_of(vae)


# --------------------------------------------------------------------------- listing, pulling


def availability(name: str | None = None, *, local: str | Path | None = None) -> list[dict]:
    """Which components are on this machine, for ``neco models list``.

    One dict per component: ``set``, ``component``, ``name``, ``kind``, ``repo_id``,
    ``subfolder``, ``available`` (bool) and ``where`` (the folder, or ``None``). ``name`` is a
    registered set, a local pipeline folder, or ``None`` for every registered set.
    """
    sets: list[tuple[str, dict[str, Component], Path | None]]
    if name is None:
        sets = [(set_name, COMPONENT_SETS[set_name], None) for set_name in COMPONENT_SETS]
    else:
        components, folder = _resolve_set(name)
        sets = [(str(name), components, folder)]
    rows: list[dict] = []
    for set_name, components, folder in sets:
        for key, component in components.items():
            try:
                where: Path | None = _locate_in(component, folder, local)
            except NecoError:
                where = None
            rows.append(
                {
                    "set": set_name,
                    "component": key,
                    "name": component.name,
                    "kind": component.kind,
                    "repo_id": component.repo_id,
                    "subfolder": component.subfolder,
                    "available": where is not None,
                    "where": str(where) if where is not None else None,
                }
            )
    return rows


def pull(name: str, *, cache_dir: str | Path | None = None) -> list[Path]:
    """Download a registered set's files into the hub cache; the only networked function.

    Fetches exactly the files the components need (``.safetensors``, ``.json``, ``.txt``: no
    ``.bin``/``.ckpt`` pickles, no fp16 or non-EMA variants) and returns each component's folder.
    """
    if name not in COMPONENT_SETS:
        raise _unknown_set(name)
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        raise NecoError(
            "Pulling needs the network, but HF_HUB_OFFLINE is set in this process. Run "
            "`neco models pull` in a fresh shell without HF_HUB_OFFLINE (on a machine with "
            "internet), then copy the Hugging Face cache here."
        )
    hub = require("huggingface_hub", "models")
    components = COMPONENT_SETS[name]
    by_repo: dict[str, list[Component]] = {}
    for component in components.values():
        by_repo.setdefault(component.repo_id, []).append(component)
    cache = Path(cache_dir).expanduser() if cache_dir is not None else hf_cache_dir()
    paths: list[Path] = []
    for repo_id, members in by_repo.items():
        patterns = sorted({p for c in members for p in weight_patterns(c)})
        if any(c.subfolder for c in members):
            patterns.append("model_index.json")
        snapshot = Path(hub.snapshot_download(repo_id, cache_dir=cache, allow_patterns=patterns))
        paths.extend(snapshot / (c.subfolder or "") for c in members)
    return paths
