"""Cross-attention recording on a tiny, randomly initialised Stable Diffusion pipeline.

The pipeline is built here from configs (seeded, like diffusers' own ``get_dummy_components``)
with the real CLIP BPE tokenizer, assembled offline from the vocabulary file that open_clip
ships. Nothing is downloaded.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from neco.errors import NecoError
from neco.neural.attention import (
    AttentionRecord,
    CrossAttentionRecorder,
    _pieces_by_offsets,
    _pieces_by_words,
    install,
    pos_attention,
    record_generation,
    word_attention,
)

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("transformers")

SIZE = 64  # pixels: an 8x8 latent
STEPS = 3


def build_clip_tokenizer(folder: Path) -> Any:
    """The real CLIP BPE tokenizer (49,408 entries), built by neco from open_clip's file."""
    from transformers import CLIPTokenizer

    from neco.neural.tokenizer import build_clip_tokenizer_files

    return CLIPTokenizer.from_pretrained(build_clip_tokenizer_files(folder), model_max_length=77)


def build_tiny_pipeline(folder: Path) -> Any:
    """A seeded tiny StableDiffusionPipeline, saved as safetensors and loaded back."""
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    tokenizer = build_clip_tokenizer(folder / "bpe")
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=2,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
    )
    torch.manual_seed(0)
    vae = AutoencoderKL(
        block_out_channels=(32, 64),
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D"] * 2,
        up_block_types=["UpDecoderBlock2D"] * 2,
        latent_channels=4,
    )
    torch.manual_seed(0)
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            bos_token_id=49406,
            eos_token_id=49407,
            pad_token_id=49407,
            hidden_size=32,
            intermediate_size=37,
            layer_norm_eps=1e-05,
            num_attention_heads=4,
            num_hidden_layers=5,
            vocab_size=49408,
        )
    )
    # steps_offset=1 as in the real Stable Diffusion configs: diffusers 0.42's pipeline raises a
    # FutureWarning for the class default (0).
    scheduler: Any = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    saved = folder / "pipe"
    models: dict[str, Any] = {"unet": unet, "vae": vae, "text_encoder": text_encoder}
    for name, model in models.items():
        model.save_pretrained(saved / name, safe_serialization=True)
    tokenizer.save_pretrained(saved / "tokenizer")
    scheduler.save_pretrained(saved / "scheduler")
    pipe: Any = StableDiffusionPipeline(
        unet=UNet2DConditionModel.from_pretrained(saved / "unet", use_safetensors=True),
        vae=AutoencoderKL.from_pretrained(saved / "vae", use_safetensors=True),
        text_encoder=CLIPTextModel.from_pretrained(saved / "text_encoder", use_safetensors=True),
        tokenizer=CLIPTokenizer.from_pretrained(saved / "tokenizer"),
        scheduler=DDIMScheduler.from_pretrained(saved / "scheduler"),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


_BUILT: dict[str, Any] = {}


def tiny_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The tiny pipeline, built once per test session (test_guidance.py shares it).

    Tests that change it (install a recorder) put it back as they found it.
    """
    if "pipe" not in _BUILT:
        _BUILT["pipe"] = build_tiny_pipeline(tmp_path_factory.mktemp("tiny_sd"))
    return _BUILT["pipe"]


@pytest.fixture(scope="module")
def pipe(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return tiny_pipeline(tmp_path_factory)


def _unet_inputs(batch: int = 2, seed: int = 0) -> dict[str, Any]:
    generator = torch.Generator("cpu").manual_seed(seed)
    return {
        "sample": torch.randn(batch, 4, 8, 8, generator=generator),
        "timestep": torch.tensor(500),
        "encoder_hidden_states": torch.randn(batch, 77, 32, generator=generator),
    }


def test_attention_recorder_output_equals_default_processor(pipe: Any) -> None:
    inputs = _unet_inputs()
    with torch.no_grad():
        expected = pipe.unet(**inputs).sample
        restore = install(pipe.unet, CrossAttentionRecorder())
        try:
            found = pipe.unet(**inputs).sample
        finally:
            restore()
    assert found.shape == expected.shape
    torch.testing.assert_close(found, expected, atol=1e-5, rtol=1e-5)


def test_attention_install_touches_cross_attention_only_and_restore_undoes_it(pipe: Any) -> None:
    before = dict(pipe.unet.attn_processors)
    recorder = CrossAttentionRecorder()
    restore = install(pipe.unet, recorder)
    during = pipe.unet.attn_processors
    assert {k for k, v in during.items() if v is recorder} == {
        k for k in before if k.endswith("attn2.processor")
    }
    assert all(during[k] is before[k] for k in before if k.endswith("attn1.processor"))
    with torch.no_grad():
        pipe.unet(**_unet_inputs())
    assert recorder.steps == 1
    assert len(recorder.layers) == 6  # 2 down + 1 mid + 3 up transformer blocks
    restore()
    after = pipe.unet.attn_processors
    assert after.keys() == before.keys()
    assert all(after[k] is before[k] for k in before)
    with torch.no_grad():
        pipe.unet(**_unet_inputs())  # the hook is gone: nothing more is recorded
    assert recorder.steps == 1
    restore()  # twice is harmless
    assert all(pipe.unet.attn_processors[k] is before[k] for k in before)


def test_attention_identical_keys_give_uniform_shares_exactly(pipe: Any) -> None:
    inputs = _unet_inputs(batch=2)
    row = torch.randn(2, 1, 32, generator=torch.Generator("cpu").manual_seed(3))
    inputs["encoder_hidden_states"] = row.expand(2, 77, 32).contiguous()
    recorder = CrossAttentionRecorder()
    restore = install(pipe.unet, recorder)
    try:
        with torch.no_grad():
            pipe.unet(**inputs)
            pipe.unet(**inputs)
    finally:
        restore()
    shares = recorder.shares()
    assert shares.shape == (2, 2, 77)
    np.testing.assert_allclose(shares, 1 / 77, atol=1e-6)
    np.testing.assert_allclose(recorder.layer_shares(), 1 / 77, atol=1e-6)


def test_attention_keep_maps_stores_head_averaged_maps(pipe: Any) -> None:
    recorder = CrossAttentionRecorder(keep_maps=True)
    restore = install(pipe.unet, recorder)
    try:
        with torch.no_grad():
            pipe.unet(**_unet_inputs(batch=1))
    finally:
        restore()
    assert set(recorder.maps) == set(recorder.totals)
    for slot, attention_map in recorder.maps.items():
        assert attention_map.shape[0] == 1 and attention_map.shape[2] == 77
        np.testing.assert_allclose(attention_map.sum(dim=-1).numpy(), 1.0, atol=1e-5)
        per_token = attention_map.mean(dim=1).numpy()
        np.testing.assert_allclose(
            per_token, recorder.totals[slot].numpy() / recorder.counts[slot], atol=1e-6
        )


PROMPTS = ["a photo of a nurse", "a flibbertigibbet zyxwvut riding a horse"]


@pytest.fixture(scope="module")
def record(pipe: Any) -> AttentionRecord:
    return record_generation(pipe, PROMPTS, seed=0, steps=STEPS, height=SIZE, width=SIZE)


def test_attention_per_step_shares_sum_to_one_per_prompt_and_step(record: AttentionRecord) -> None:
    assert record.per_step.shape == (2, STEPS, 77)
    np.testing.assert_allclose(record.per_step.sum(axis=-1), 1.0, atol=1e-9)
    assert (record.per_step >= 0).all()
    np.testing.assert_allclose(record.token_mass.sum(axis=-1), 1.0, atol=1e-9)
    np.testing.assert_allclose(record.token_mass, record.per_step.mean(axis=1), atol=1e-9)
    assert record.input_ids.shape == (2, 77)
    assert record.per_layer is not None and record.per_layer.shape == (2, 6, 77)
    assert len(record.layers) == 6
    np.testing.assert_allclose(record.per_layer.sum(axis=-1), 1.0, atol=1e-9)


def test_attention_padding_gets_attention_and_word_shares_sum_to_one(
    record: AttentionRecord,
) -> None:
    mask = record.word_mask()
    assert mask.sum(axis=1).tolist() == [5, 14]  # "flibbertigibbet zyxwvut" are 6 + 4 pieces
    padding = np.zeros_like(mask)
    padding[0, 7:] = True  # start, 5 words, end at 6, padding from 7
    assert (record.token_mass[padding] > 0).all()  # padding is attended, with all 77 counted
    words = record.word_token_mass()
    np.testing.assert_allclose(words.sum(axis=1), 1.0, atol=1e-12)
    assert (words[~mask] == 0).all()
    per_step = record.word_per_step()
    np.testing.assert_allclose(per_step.sum(axis=-1), 1.0, atol=1e-12)
    assert (per_step[~np.broadcast_to(mask[:, None, :], per_step.shape)] == 0).all()


def test_attention_record_keeps_the_conditional_half_of_guided_batches(
    pipe: Any, record: AttentionRecord
) -> None:
    recorder = CrossAttentionRecorder()
    restore = install(pipe.unet, recorder)
    try:
        generators = [torch.Generator("cpu").manual_seed(0) for _ in PROMPTS]
        pipe(
            PROMPTS,
            height=SIZE,
            width=SIZE,
            num_inference_steps=STEPS,
            guidance_scale=7.5,
            generator=generators,
            output_type="latent",
        )
    finally:
        restore()
    both = recorder.shares()
    assert both.shape == (4, STEPS, 77)  # [unconditional x 2, conditional x 2]
    np.testing.assert_allclose(record.per_step, both[2:], atol=1e-12)
    assert not np.allclose(both[:2], both[2:], atol=1e-4)


def test_attention_record_of_a_prompt_does_not_depend_on_its_batch(
    pipe: Any, record: AttentionRecord
) -> None:
    alone = record_generation(pipe, PROMPTS[1:], seed=0, steps=STEPS, height=SIZE, width=SIZE)
    np.testing.assert_allclose(alone.per_step[0], record.per_step[1], atol=1e-5)


def test_attention_unguided_record_and_images(pipe: Any) -> None:
    out = record_generation(
        pipe, PROMPTS, steps=2, guidance_scale=1.0, height=SIZE, width=SIZE, keep_images=True
    )
    assert out.per_step.shape == (2, 2, 77)
    np.testing.assert_allclose(out.per_step.sum(axis=-1), 1.0, atol=1e-9)
    assert out.images is not None and out.images.shape == (2, SIZE, SIZE, 3)
    assert out.images.dtype == np.uint8


def test_attention_word_attention_sums_bpe_pieces(pipe: Any, record: AttentionRecord) -> None:
    table = word_attention(record, pipe.tokenizer, PROMPTS)
    assert table["word"].tolist() == [*PROMPTS[0].split(), *PROMPTS[1].split()]
    second = table[table["prompt_index"] == 1].set_index("word")
    assert second.loc["flibbertigibbet", "positions"] == [2, 3, 4, 5, 6, 7]
    assert second.loc["zyxwvut", "positions"] == [8, 9, 10, 11]
    assert second.loc["horse", "positions"] == [14]
    words = record.word_token_mass()
    assert second.loc["flibbertigibbet", "share"] == pytest.approx(words[1, 2:8].sum(), abs=1e-12)
    per_step = record.word_per_step()
    assert second.loc["zyxwvut", "max_share_per_step"] == pytest.approx(
        per_step[1, :, 8:12].sum(axis=1).max(), abs=1e-12
    )
    sums = table.groupby("prompt_index")["share"].sum()
    np.testing.assert_allclose(sums.to_numpy(), 1.0, atol=1e-9)
    assert not table["lost"].any()
    assert table["threshold"].tolist() == [0.1] * 5 + [1 / 12] * 6


def _hand_made(tokenizer: Any, prompt: str, per_step: list[list[float]]) -> AttentionRecord:
    """A one-prompt record whose per-step shares are given for the first len(row) positions."""
    ids = tokenizer([prompt], padding="max_length", max_length=77, truncation=True)["input_ids"]
    steps = np.zeros((1, len(per_step), 77))
    for s, values in enumerate(per_step):
        steps[0, s, : len(values)] = values
    steps[0] /= steps[0].sum(axis=-1, keepdims=True)
    return AttentionRecord(token_mass=steps.mean(axis=1), per_step=steps, input_ids=np.asarray(ids))


def test_attention_neglected_flag_on_a_hand_made_record(pipe: Any) -> None:
    # "a red zyxwvut": start, a, red, zy x wv ut, end. Word shares per step (over words only):
    # step 0: a 0.1, red 0.5, zyxwvut 0.4; step 1: a 0.2, red 0.76, zyxwvut 0.04.
    prompt = "a red zyxwvut"
    record = _hand_made(
        pipe.tokenizer,
        prompt,
        [
            [5.0, 0.1, 0.5, 0.1, 0.1, 0.1, 0.1, 2.0],
            [6.0, 0.2, 0.76, 0.01, 0.01, 0.01, 0.01, 1.0],
        ],
    )
    table = word_attention(record, pipe.tokenizer, [prompt]).set_index("word")
    assert table.loc["zyxwvut", "positions"] == [3, 4, 5, 6]
    assert table.loc["a", "share"] == pytest.approx(0.15)
    assert table.loc["red", "share"] == pytest.approx(0.63)
    assert table.loc["zyxwvut", "share"] == pytest.approx(0.22)
    assert table.loc["a", "max_share_per_step"] == pytest.approx(0.2)
    assert table.loc["zyxwvut", "max_share_per_step"] == pytest.approx(0.4)
    # default threshold 1 / (2 * 3) = 0.1667: "a" peaks at 0.2, so no word is neglected
    assert table["threshold"].tolist() == pytest.approx([1 / 6] * 3)
    assert not table["neglected"].any()
    strict = word_attention(record, pipe.tokenizer, [prompt], threshold=0.25).set_index("word")
    assert strict["neglected"].to_dict() == {"a": True, "red": False, "zyxwvut": False}


def test_attention_words_past_the_window_are_lost(pipe: Any) -> None:
    prompt = " ".join(["cat"] * 74 + ["flibbertigibbet", "dog", "horse"])
    record = _hand_made(pipe.tokenizer, prompt, [[1.0] * 77])
    table = word_attention(record, pipe.tokenizer, [prompt])
    assert len(table) == 77
    last = table.set_index("word_index").loc[74:]
    assert last["positions"].tolist() == [[75], [], []]  # only the first piece fits
    assert last["lost"].tolist() == [False, True, True]
    assert last["share"].tolist()[1:] == [0.0, 0.0]
    assert last["neglected"].tolist()[1:] == [True, True]
    assert table.loc[0, "threshold"] == pytest.approx(1 / (2 * 75))
    assert table["share"].sum() == pytest.approx(1.0)


def test_attention_word_alignment_by_offsets_and_by_words_agree(pipe: Any) -> None:
    tokenizer = pipe.tokenizer
    prompt = "A  Flibbertigibbet's   hat, red-orange!"
    words = prompt.split()
    by_offsets = _pieces_by_offsets(tokenizer, prompt, words)
    assert by_offsets == _pieces_by_words(tokenizer, prompt, words)
    assert [len(p) for p in by_offsets] == [1, 7, 2, 4]  # ...gib bet 's | hat , | red - orange !
    spacy_like = ["A", "Flibbertigibbet", "'s", "hat", ",", "red", "-", "orange", "!"]
    pieces = _pieces_by_offsets(tokenizer, prompt, spacy_like)
    assert [len(p) for p in pieces] == [1, 6, 1, 1, 1, 1, 1, 1, 1]
    with pytest.raises(NecoError, match="not found"):
        _pieces_by_offsets(tokenizer, prompt, ["hat", "A"])


def test_attention_word_attention_rejects_a_mismatched_prompt(
    pipe: Any, record: AttentionRecord
) -> None:
    with pytest.raises(NecoError, match="does not match the record"):
        word_attention(record, pipe.tokenizer, ["a photo of a doctor", PROMPTS[1]])
    with pytest.raises(NecoError, match="one prompt per recorded row"):
        word_attention(record, pipe.tokenizer, PROMPTS[:1])


def test_attention_pos_attention_aggregates_by_tag() -> None:
    words = pd.DataFrame(
        {
            "prompt_index": [0, 0, 0, 1, 1],
            "share": [0.1, 0.6, 0.3, 0.2, 0.8],
            "neglected": [True, False, False, False, False],
            "lost": [False] * 5,
        }
    )
    table = pos_attention(words, ["DET", "NOUN", "ADJ", "DET", "NOUN"]).set_index("pos")
    assert table.index.tolist() == ["NOUN", "DET", "ADJ"]
    assert table.loc["NOUN", "total_share"] == pytest.approx(0.7)
    assert table.loc["DET", "mean_share"] == pytest.approx(0.15)
    assert table.loc["DET", "neglected_rate"] == pytest.approx(0.5)
    assert table["total_share"].sum() == pytest.approx(1.0)
    with pytest.raises(NecoError, match="one part-of-speech tag per word"):
        pos_attention(words, ["DET"])


def test_attention_user_errors_say_how_to_fix(pipe: Any) -> None:
    with pytest.raises(NecoError, match="multiple of 8"):
        record_generation(pipe, ["a cat"], height=60, width=64, steps=1)
    with pytest.raises(NecoError, match="sequence of prompt strings"):
        record_generation(pipe, "a cat", height=64, width=64, steps=1)
    with pytest.raises(NecoError, match="Nothing was recorded"):
        CrossAttentionRecorder().shares()
    with pytest.raises(NecoError, match="cross-attention layers"):
        install(pipe.vae, CrossAttentionRecorder())


def test_attention_modules_do_not_import_torch() -> None:
    code = (
        "import sys, neco.neural.attention, neco.neural.guidance; "
        "bad = [m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
