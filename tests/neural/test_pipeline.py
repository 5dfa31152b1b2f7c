"""The model layer end to end on a small workspace with tiny random components.

Every stage goes through the real loading code (save_pretrained -> load_set on a folder);
absent weights make a stage skip with the command that fetches them.
"""

from __future__ import annotations

import json
import shutil

import pytest

from neco.cli import main
from neco.neural.pipeline import NeuralConfig, run_neural
from neco.social.parse import ParseConfig
from neco.social.pipeline import SocialConfig, run_social
from neco.workspace import Workspace
from tests.conftest import DATA
from tests.neural.tiny import save_tiny_clip, save_tiny_pipeline

CAPTIONS = [
    ("m1", "museum", "A red mug and a blue plate on a carved oak table", "solid_rgb.png"),
    ("m2", "museum", "A brown dog chases a red ball across the lawn", "palette.png"),
    ("m3", "museum", "A mug in the grass next to a sleeping cat", "missing.png"),
    ("p1", "prompts", "castle on a hill, matte painting, masterpiece, 8k " * 12, None),
    ("p2", "prompts", "red kite over dunes, (dramatic sky:1.3), watercolor", None),
    ("p3", "prompts", "a knight holds a lantern in the fog, cinematic lighting", None),
]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("neural")
    images = root / "images"
    shutil.copytree(DATA / "images", images)
    rows = [{"id": i, "community": c, "text": t, "image": img} for i, c, t, img in CAPTIONS]
    source = images / "captions.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    ws = Workspace(root / "ws")
    ws.ingest([source])
    run_social(ws, SocialConfig(parse=ParseConfig(mode="full"), skip=("semantic",), min_count=1))
    pipeline = save_tiny_pipeline(root / "tiny-sd")
    clip = save_tiny_clip(root / "tiny-clip")
    return ws, pipeline, clip


def test_pipeline_every_stage_with_tiny_components(setup):
    ws, pipeline, clip = setup
    config = NeuralConfig(
        stages=("tokens", "text", "probes", "latents", "attention", "guidance"),
        components=str(pipeline),
        clip=str(clip),
        image_size=32,
        steps=2,
        sample=2,
        guidance_scales=(1.0, 5.0),
        guidance_seeds=(0, 1),
        batch_size=4,
    )
    result = run_neural(ws, config)
    assert {name: s["status"] for name, s in result.stages.items()} == dict.fromkeys(
        ("tokens", "text", "probes", "latents", "attention", "guidance"), "ran"
    )
    captions = ws.sql("SELECT id, n_tokens, truncated FROM neural_token_captions ORDER BY id")
    by_id = {r["id"]: r for r in captions.to_pylist()}
    assert by_id["p1"]["truncated"] and not by_id["m1"]["truncated"]
    assert by_id["m1"]["n_tokens"] == 12  # twelve single-token words
    summary = ws.sql("SELECT community, truncation_rate FROM neural_token_summary ORDER BY 1")
    assert summary.to_pylist() == [
        {"community": "museum", "truncation_rate": 0.0},
        {"community": "prompts", "truncation_rate": pytest.approx(1 / 3)},
    ]
    pooled = ws.read_table("neural/text_pooled")
    assert pooled.num_rows == 6 and pooled.schema.field("pooled").type.list_size == 32
    probes = ws.read_table("neural/probes").to_pandas()
    swaps = set(zip(probes["kind"], probes["swapped"], strict=True))
    assert ("svo", "A brown ball chases a red dog across the lawn") in swaps or (
        "amod",
        "A blue mug and a red plate on a carved oak table",
    ) in swaps
    for column in ("cosine", "control_cosine", "floor_cosine", "floor_control_cosine"):
        assert ((probes[column] > -1.0001) & (probes[column] < 1.0001)).all(), column
    brown = probes[probes["swapped"] == "A brown ball chases a red dog across the lawn"]
    if len(brown):  # the constructed control: same words, same token distance, nothing rebound
        control = "A brown dog and a brown ball across the lawn"
        assert brown["control_original"].tolist() == [control]
        assert brown["control_distance"].tolist() == brown["distance"].tolist() == [4]
    probe_summary = ws.read_table("neural/probe_summary").to_pandas()
    assert probe_summary["pairs"].sum() == len(probes)
    measured = probe_summary[probe_summary["pairs"] > 0]
    assert (measured["spread"] > 0).all() and measured["calibrated"].notna().all()
    assert measured["floor_calibrated"].notna().all()
    controls = measured["caption_controls"] + measured["constructed_controls"]
    assert (controls == measured["pairs"]).all()
    probe_report = result.stages["probes"]
    assert probe_report["pairs"] == len(probes) and "random weights" in probe_report["floor"]
    latents = ws.read_table("neural/latents").to_pandas().set_index("id")
    assert latents.loc["m1", "ok"] and latents.loc["m2", "ok"]
    assert latents.loc["m3", "reason"] == "file not found"
    assert latents.loc["m1", "psnr"] > 0
    words = ws.read_table("neural/attention_words").to_pandas()
    assert set(words["id"]) <= {c[0] for c in CAPTIONS} and len(set(words["id"])) == 2
    shares = words.groupby("id")["share"].sum()
    assert shares.round(6).eq(1.0).all()  # word shares of a prompt sum to 1
    # words are the social layer's spaCy tokens, tagged with its parts of speech
    assert {"NOUN", "DET"} <= set(words["pos"])
    by_pos = ws.read_table("neural/attention_pos").to_pandas()
    totals = by_pos.groupby("community")["total_share"].sum()
    assert totals.round(6).eq(1.0).all()  # no word of these short captions is lost
    guidance = ws.read_table("neural/guidance").to_pandas()
    assert len(guidance) == 2 * 2 * 2  # prompts x scales x seeds
    diversity = ws.read_table("neural/guidance_diversity").to_pandas()
    assert len(diversity) == 4 and (diversity["vendi"] >= 1.0 - 1e-9).all()
    recorded = ws.manifest()["stages"]
    assert {f"neural.{s}" for s in config.stages} <= set(recorded)
    # components are recorded with where their weights came from (tiny test weights here)
    weights = {c.get("weights") for c in recorded["neural.text"]["components"]}
    assert weights <= {"random", "none", "unverified", "pretrained"} and weights - {"none"}


def test_pipeline_missing_weights_skip_with_instructions(setup, tmp_path, monkeypatch):
    ws, _, _ = setup
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-home"))
    result = run_neural(ws, NeuralConfig(stages=("tokens", "text"), components="sd15"))
    assert result.stages["tokens"]["status"] == "ran"
    assert result.stages["tokens"]["tokenizer"] == "CLIP BPE vocabulary (open_clip package)"
    text = result.stages["text"]
    assert text["status"] == "skipped"
    assert "stable-diffusion-v1-5/stable-diffusion-v1-5" in text["reason"]
    assert "neco models pull sd15" in text["reason"]


def test_pipeline_cli_neural_and_models(setup, tmp_path, monkeypatch, capsys):
    ws, pipeline, _ = setup
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    code = main(
        [
            "neural",
            "-w",
            str(ws.path),
            "--stages",
            "tokens,text",
            "--components",
            str(pipeline),
            "--json",
        ]
    )
    assert code == 0
    stages = json.loads(capsys.readouterr().out)["stages"]
    text = stages["neural.text"]
    assert text["status"] in ("ran", "unchanged") and text["device"] == "cpu"
    assert main(["neural", "-w", str(ws.path), "--stages", "tokens,colour"]) == 2
    assert "Unknown stage(s) ['colour']" in capsys.readouterr().err
    assert main(["models", "list", "sd15", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["component"] for r in rows} >= {"unet", "vae", "text_encoder"}
    assert not any(r["available"] for r in rows if r["component"] == "unet")
    assert main(["models", "check", str(pipeline)]) == 0
    assert "UNet2DConditionModel" in capsys.readouterr().out


def test_pipeline_latents_with_bundled_taesd_and_no_clip_use_pixel_descriptors(setup, monkeypatch):
    ws, _, _ = setup
    monkeypatch.setenv("HF_HUB_CACHE", str(ws.path / "no-cache"))  # no CLIP anywhere
    config = NeuralConfig(stages=("latents",), vae="taesd", clip="clip-l14", image_size=64)
    result = run_neural(ws, config)
    assert result.stages["latents"]["status"] == "ran", result.stages
    assert result.stages["latents"]["descriptor"] == "pixels 16x16"
    latents = ws.read_table("neural/latents").to_pandas().set_index("id")
    assert set(latents["descriptor"]) == {"pixels 16x16"}
    assert latents.loc["m1", "psnr"] > 15  # real weights on a flat colour image
    components = ws.manifest()["stages"]["neural.latents"]["components"]
    assert [(c["name"], c["weights"]) for c in components] == [("taesd/vae", "pretrained")]
