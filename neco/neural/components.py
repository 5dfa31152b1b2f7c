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
- ``sd-vae-ft-mse`` — ``stabilityai/sd-vae-ft-mse``: vae (the fine-tuned decoder).

Rules:

- **Offline first.** :func:`locate` looks in a local folder (``--components``), then in the
  Hugging Face cache (``HF_HUB_CACHE``, ``HF_HOME/hub`` or ``~/.cache/huggingface/hub``),
  without any network access. Loading sets ``HF_HUB_OFFLINE=1`` in the process environment
  and passes ``local_files_only=True``. :func:`pull` is the only function that downloads.
- **safetensors only** (``use_safetensors=True``); pickled ``.bin``/``.ckpt`` weights are
  never loaded or downloaded; remote code is never trusted.
- **SDPA attention**: transformers models get ``attn_implementation="sdpa"``; diffusers'
  U-Net and VAE get ``AttnProcessor2_0`` (diffusers 0.42's default — checked, and set
  where a module carries another processor). :func:`attention_implementation` reports it.

A local directory laid out like a diffusers pipeline (``model_index.json`` plus sub-folders),
or holding one model at its root (a ``CLIPModel`` with its processor, a VAE), can stand in
for a registered name: ``load_set("/path/to/pipeline")``.

>>> sorted(COMPONENT_SETS)
['clip-l14', 'sd-vae-ft-mse', 'sd15']
>>> COMPONENT_SETS["sd15"]["unet"].name
'sd15/unet'
>>> weight_patterns(COMPONENT_SETS["sd15"]["scheduler"])
['scheduler/scheduler_config.json']
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
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

# Classes a pipeline's model_index.json must name for each kind neco loads.
_PIPELINE_CLASSES = {
    "tokenizer": ("CLIPTokenizer", "CLIPTokenizerFast"),
    "text_encoder": ("CLIPTextModel",),
    "vae": ("AutoencoderKL",),
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
    the repository (``None`` when the files sit at its root); ``kind`` is one of :data:`KINDS`.
    """

    name: str
    repo_id: str
    subfolder: str | None
    kind: str


SD15_REPO = "stable-diffusion-v1-5/stable-diffusion-v1-5"
CLIP_L14_REPO = "openai/clip-vit-large-patch14"
VAE_FT_MSE_REPO = "stabilityai/sd-vae-ft-mse"

COMPONENT_SETS: dict[str, dict[str, Component]] = {
    "sd15": {
        kind: Component(f"sd15/{kind}", SD15_REPO, kind, kind)
        for kind in ("tokenizer", "text_encoder", "vae", "unet", "scheduler")
    },
    "clip-l14": {
        "clip": Component("clip-l14/clip", CLIP_L14_REPO, None, "clip"),
        "clip_processor": Component(
            "clip-l14/clip_processor", CLIP_L14_REPO, None, "clip_processor"
        ),
    },
    "sd-vae-ft-mse": {"vae": Component("sd-vae-ft-mse/vae", VAE_FT_MSE_REPO, None, "vae")},
}
"""The registered component sets, by name."""


# --------------------------------------------------------------------------- finding files


def weight_patterns(component: Component) -> list[str]:
    """The repository paths (glob patterns) a component needs: safetensors, JSON, text."""
    prefix = f"{component.subfolder}/" if component.subfolder else ""
    return [prefix + name for name in _FILES[component.kind]]


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


# What config.json says for each model kind (a CLIPModel folder is not a text encoder folder).
_CONFIG_TYPES = {
    "text_encoder": ("model_type", "clip_text_model"),
    "clip": ("model_type", "clip"),
    "vae": ("_class_name", "AutoencoderKL"),
    "unet": ("_class_name", "UNet2DConditionModel"),
}


def _config_fits(folder: Path, kind: str) -> bool:
    """Whether ``folder/config.json`` exists and does not name another kind of model."""
    try:
        config = json.loads((folder / "config.json").read_text("utf-8"))
    except (OSError, ValueError):
        return False
    key, expected = _CONFIG_TYPES[kind]
    found = config.get(key) if isinstance(config, dict) else None
    return found is None or found == expected


def is_complete(folder: Path, kind: str) -> bool:
    """Whether ``folder`` holds every file a component of ``kind`` needs (safetensors only)."""
    if not folder.is_dir():
        return False
    if kind == "tokenizer":
        return _has_tokenizer(folder)
    if kind in ("text_encoder", "clip"):
        return _has_weights(folder, "model") and _config_fits(folder, kind)
    if kind in ("vae", "unet"):
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
        if is_complete(candidate, component.kind):
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
        if is_complete(snap / sub, component.kind):
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
            if is_complete(candidate, component.kind):
                return candidate
        in_local_cache = _from_cache(component, root)
        if in_local_cache is not None:
            return in_local_cache
    cache = hf_cache_dir()
    looked.append(cache)
    found = _from_cache(component, cache)
    if found is not None:
        return found
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


# --------------------------------------------------------------------------- loading


def _go_offline() -> None:
    """No network from here on: the hub libraries read this when first imported."""
    os.environ["HF_HUB_OFFLINE"] = "1"


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
    ``scaled_dot_product_attention``; otherwise the implementation or processor names."""
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


def _load_from(kind: str, path: Path, choice: DeviceChoice) -> Any:
    _go_offline()
    _quiet_progress_bars("diffusers" if kind in ("vae", "unet", "scheduler") else "transformers")
    if kind == "tokenizer":
        transformers = require("transformers", "models")
        return transformers.CLIPTokenizer.from_pretrained(path, local_files_only=True)
    if kind == "text_encoder":
        transformers = require("transformers", "models")
        model = transformers.CLIPTextModel.from_pretrained(path, **_transformers_kwargs(choice))
        return _finish(model, choice)
    if kind == "clip":
        transformers = require("transformers", "models")
        model = transformers.CLIPModel.from_pretrained(path, **_transformers_kwargs(choice))
        return _finish(model, choice)
    if kind == "clip_processor":
        transformers = require("transformers", "models")
        # transformers 5: CLIPImageProcessor is the torchvision backend and logs a warning when
        # it falls back to PIL; ask for the PIL backend directly where it exists.
        image_cls = getattr(transformers, "CLIPImageProcessorPil", None)
        if image_cls is None:  # pragma: no cover - older transformers
            image_cls = transformers.CLIPImageProcessor
        return transformers.CLIPProcessor(
            image_processor=image_cls.from_pretrained(path, local_files_only=True),
            tokenizer=transformers.CLIPTokenizer.from_pretrained(path, local_files_only=True),
        )
    if kind in ("vae", "unet"):
        diffusers = require("diffusers", "models")
        cls = diffusers.AutoencoderKL if kind == "vae" else diffusers.UNet2DConditionModel
        model = cls.from_pretrained(path, **_diffusers_kwargs(choice))
        return _finish(_use_sdpa_processors(model), choice)
    if kind == "scheduler":
        return _load_scheduler(path)
    raise NecoError(f"Unknown component kind {kind!r}. Expected one of: {', '.join(KINDS)}.")


def _fallback_tokenizer(error: NecoError) -> Any:
    """The CLIP tokenizer bundled with neco, for a pipeline whose tokenizer/ is absent."""
    try:
        tokenizer_module = require("neco.neural.tokenizer", "models")
    except NecoError:
        raise error from None
    return tokenizer_module.load_clip_tokenizer(None)


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
    """
    choice = device or choose_device()
    try:
        path = locate(component, local)
    except NecoError as exc:
        if component.kind == "tokenizer" and fallback_tokenizer:
            return _fallback_tokenizer(exc)
        raise
    return _load_from(component.kind, path, choice)


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


def _pipeline_kinds(folder: Path) -> list[str]:
    """The kinds a pipeline folder's model_index.json lists (and neco loads), checked."""
    index = _read_model_index(folder)
    kinds: list[str] = []
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
        kinds.append(kind)
    return kinds


def _local_set(folder: Path) -> dict[str, Component]:
    """Components of a local pipeline folder, as if it were a registered set."""
    return {
        kind: Component(f"{folder.name}/{kind}", str(folder), kind, kind)
        for kind in _pipeline_kinds(folder)
    }


def _model_folder_kinds(folder: Path) -> list[str]:
    """Kinds held by a single-model folder (files at its root), read from its config.json."""
    try:
        config = json.loads((folder / "config.json").read_text("utf-8"))
    except (OSError, ValueError):
        config = {}
    if not isinstance(config, dict):
        config = {}
    architectures = config.get("architectures") or []
    diffusers_class = config.get("_class_name")
    if "CLIPModel" in architectures or config.get("model_type") == "clip":
        extra = ["clip_processor"] if is_complete(folder, "clip_processor") else []
        return ["clip", *extra]
    if "CLIPTextModel" in architectures or config.get("model_type") == "clip_text_model":
        return ["text_encoder", *(["tokenizer"] if _has_tokenizer(folder) else [])]
    if diffusers_class == "AutoencoderKL":
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
    return {
        kind: Component(f"{folder.name}/{kind}", str(folder), None, kind)
        for kind in _model_folder_kinds(folder)
    }


def _in_folder(folder: Path, component: Component) -> Path:
    """A local folder's component, checked complete."""
    path = folder / (component.subfolder or "")
    if is_complete(path, component.kind):
        return path
    expected = ", ".join(_FILES[component.kind])
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
        "(a diffusers pipeline with model_index.json, or a single model with config.json). "
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
    model with its files at the root (a ``CLIPModel`` with its processor, a VAE...). Returns
    ``{kind: object}``. ``kinds`` restricts what is loaded (default: every component of the
    set, or every kind the folder holds). ``local`` is a folder searched before the hub cache
    for a registered set. Only kinds that need diffusers import it. A set without its tokenizer
    gets neco's bundled CLIP tokenizer, unless ``fallback_tokenizer=False`` (then the
    :class:`~neco.errors.NecoError` saying where it looked is raised).
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
            loaded[kind] = _fallback_tokenizer(exc)
            continue
        loaded[kind] = _load_from(kind, path, choice)
    return loaded


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
