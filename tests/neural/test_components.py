"""Device choice, locating and loading component sets (tiny random components, offline)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

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


@pytest.fixture(scope="module", autouse=True)
def _restore_environment() -> Iterator[None]:
    """Loading sets HF_HUB_OFFLINE=1 in the process; put the environment back afterwards."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        yield


@pytest.fixture(scope="module")
def pipeline_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny.save_tiny_pipeline(tmp_path_factory.mktemp("tiny-sd"))


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny.save_tiny_clip(tmp_path_factory.mktemp("tiny-clip"))


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
    assert set(comp.COMPONENT_SETS) == {"sd15", "clip-l14", "sd-vae-ft-mse"}
    sd15 = comp.COMPONENT_SETS["sd15"]
    assert set(sd15) == {"tokenizer", "text_encoder", "vae", "unet", "scheduler"}
    assert sd15["unet"] == comp.Component(
        "sd15/unet", "stable-diffusion-v1-5/stable-diffusion-v1-5", "unet", "unet"
    )
    assert comp.COMPONENT_SETS["clip-l14"]["clip"].repo_id == "openai/clip-vit-large-patch14"
    patterns = comp.weight_patterns(sd15["unet"])
    assert "unet/diffusion_pytorch_model.safetensors" in patterns
    assert not any(p.endswith((".bin", ".ckpt")) or "fp16" in p for p in patterns)


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
    with pytest.raises(NecoError, match=r"Registered sets: clip-l14, sd-vae-ft-mse, sd15"):
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
