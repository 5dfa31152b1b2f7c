"""Device check for the neural stages: load, precision, SDPA and throughput on a CUDA GPU.

Needs torch and transformers; diffusers is optional (without it only the tokenizer and text
encoder are checked). Needs no internet and no weights: it builds random components from
``tests/neural/tiny.py`` in a temporary folder and loads them through
``neco.neural.components.load_set`` exactly as real weights would be loaded.

Checks (exit code 1 when one fails, 0 when all pass or when there is no CUDA, 2 when
open_clip_torch — the source of CLIP's BPE vocabulary file — is missing):

1. ``choose_device()`` picks CUDA in bfloat16 (float16 without bf16 support);
2. the loaded models sit on the GPU in that dtype and use SDPA — both by configuration
   (``attn_implementation="sdpa"``, ``AttnProcessor2_0``) and by counting calls to
   ``torch.nn.functional.scaled_dot_product_attention`` during a forward pass;
3. pooled text embeddings on the GPU agree with float32 CPU results (cosine > 0.99 for every
   caption), are deterministic, and do not depend on the batch size beyond bf16 noise;
4. hidden states come out as ``(n, 77, d)`` and feed one U-Net step (with diffusers).

It prints captions/s of ``encode_texts`` at batch sizes 16, 64 and 256 on 256 captions, for
the tiny text encoder and (unless ``--no-large``) a random one of CLIP ViT-L/14's text size
(12 layers, width 768 — the throughput that matters for Stable Diffusion v1.5).

Run: ``python benchmarks/gpu_check.py`` (well under a minute on a GPU).
``--device cpu --dtype bfloat16 --no-large`` exercises the same code without a GPU (the
CLIP-L-sized part takes minutes on a CPU).
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

LARGE_TEXT = {
    "hidden_size": 768,
    "intermediate_size": 3072,
    "num_attention_heads": 12,
    "num_hidden_layers": 12,
    "projection_dim": 768,
}

SUBJECTS = ["a dog", "two women", "an old man", "a nurse", "a child", "a cat", "a chef", "a robot"]
VERBS = ["chases", "holds", "paints", "watches", "carries", "feeds", "photographs", "greets"]
OBJECTS = ["a ball", "a red mug", "a blue bicycle", "the newspaper", "a horse", "a small bird"]
SETTINGS = ["in the park", "on a beach at sunset", "in a busy office", "under neon lights"]
STYLE = ", highly detailed, 35mm photograph, soft light, trending on artstation"


def captions(n: int = 256) -> list[str]:
    """``n`` varied captions; every 16th is long enough to be truncated at 77 tokens."""
    out = []
    for i in range(n):
        text = (
            f"{SUBJECTS[i % len(SUBJECTS)]} {VERBS[(i // 3) % len(VERBS)]} "
            f"{OBJECTS[(i // 5) % len(OBJECTS)]} {SETTINGS[(i // 7) % len(SETTINGS)]}"
        )
        if i % 16 == 0:
            text += STYLE * 6
        out.append(text)
    return out


class Report:
    """Collects check results and throughput rows, prints them as tables."""

    def __init__(self) -> None:
        self.checks: list[tuple[str, bool, str]] = []
        self.speed: list[tuple[str, int, float, float]] = []

    def check(self, name: str, ok: bool, detail: str) -> None:
        self.checks.append((name, bool(ok), detail))
        print(f"  [{'ok' if ok else 'FAIL'}] {name}: {detail}", flush=True)

    def print(self) -> None:
        print("\nthroughput (encode_texts, pooled only)")
        print(f"  {'model':<24} {'batch':>6} {'seconds':>9} {'captions/s':>12}")
        for model, batch, seconds, rate in self.speed:
            print(f"  {model:<24} {batch:>6} {seconds:>9.4f} {rate:>12.1f}")
        print("\nchecks")
        width = max((len(name) for name, _, _ in self.checks), default=10)
        for name, ok, detail in self.checks:
            print(f"  {name:<{width}}  {'ok  ' if ok else 'FAIL'}  {detail}")
        failed = sum(not ok for _, ok, _ in self.checks)
        print(f"\n{len(self.checks) - failed} passed, {failed} failed")

    @property
    def ok(self) -> bool:
        return all(ok for _, ok, _ in self.checks)


def count_sdpa(run: Callable[[], Any]) -> int:
    """Calls of ``torch.nn.functional.scaled_dot_product_attention`` while ``run`` runs."""
    import torch.nn.functional as F

    original = F.scaled_dot_product_attention
    calls = 0

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return original(*args, **kwargs)

    F.scaled_dot_product_attention = counting
    try:
        run()
    finally:
        F.scaled_dot_product_attention = original
    return calls


def cosines(a: Any, b: Any) -> Any:
    import numpy as np

    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def throughput(
    report: Report,
    label: str,
    texts: Sequence[str],
    parts: dict[str, Any],
    choice: Any,
    batch_sizes: Sequence[int],
) -> dict[int, Any]:
    """Encode ``texts`` at each batch size (after a warm-up), record captions/s."""
    import torch

    from neco.neural.text import encode_texts

    results = {}
    for batch in batch_sizes:
        encode_texts(
            texts[:batch],
            parts["tokenizer"],
            parts["text_encoder"],
            device=choice,
            batch_size=batch,
        )
        if choice.is_cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        emb = encode_texts(
            texts, parts["tokenizer"], parts["text_encoder"], device=choice, batch_size=batch
        )
        seconds = time.perf_counter() - start  # .cpu().numpy() inside has synchronised
        report.speed.append((label, batch, seconds, len(texts) / seconds))
        results[batch] = emb.pooled
    return results


def check_model(
    report: Report,
    label: str,
    folder: Path,
    texts: Sequence[str],
    choice: Any,
    batch_sizes: Sequence[int],
    reference_count: int | None = None,
) -> None:
    """Load ``folder`` on ``choice`` and on the CPU in float32; check and time the text path.

    The float32 CPU reference covers the first ``reference_count`` captions (all by default).
    """
    import numpy as np
    import torch

    from neco.neural.components import attention_implementation, load_set
    from neco.neural.device import DeviceChoice, torch_dtype
    from neco.neural.text import MAX_LENGTH, encode_texts

    start = time.perf_counter()
    parts = load_set(folder, device=choice)
    report.check(
        f"{label}: load_set", True, f"{sorted(parts)} in {time.perf_counter() - start:.2f}s"
    )
    cpu_choice = DeviceChoice("cpu", "float32")
    cpu = load_set(folder, kinds=["tokenizer", "text_encoder"], device=cpu_choice)

    want_type = torch.device(choice.device).type
    for kind in ("text_encoder", "unet", "vae"):
        if kind not in parts:
            continue
        param = next(parts[kind].parameters())
        placed = param.device.type == want_type and param.dtype == torch_dtype(choice)
        report.check(f"{label}: {kind} device/dtype", placed, f"{param.device} {param.dtype}")
        impl = attention_implementation(parts[kind])
        report.check(f"{label}: {kind} attention", impl == "sdpa", impl)
        report.check(
            f"{label}: {kind} eval mode",
            parts[kind].training is False,
            f"training={parts[kind].training}",
        )

    def small_encode() -> Any:
        return encode_texts(texts[:4], parts["tokenizer"], parts["text_encoder"], device=choice)

    calls = count_sdpa(small_encode)
    layers = parts["text_encoder"].config.num_hidden_layers
    report.check(
        f"{label}: text encoder calls SDPA", calls >= layers, f"{calls} calls for {layers} layers"
    )

    by_batch = throughput(report, label, texts, parts, choice, batch_sizes)
    n_ref = len(texts) if reference_count is None else min(reference_count, len(texts))
    reference = encode_texts(
        texts[:n_ref], cpu["tokenizer"], cpu["text_encoder"], device=cpu_choice, batch_size=64
    ).pooled
    for batch, pooled in by_batch.items():
        cos = cosines(pooled[:n_ref], reference)
        report.check(
            f"{label}: {choice.dtype} vs CPU fp32, batch {batch}",
            bool(cos.min() > 0.99),
            f"min cosine {cos.min():.5f}, mean {cos.mean():.5f}",
        )
    first = by_batch[batch_sizes[0]]
    again = encode_texts(
        texts, parts["tokenizer"], parts["text_encoder"], device=choice, batch_size=batch_sizes[0]
    ).pooled
    report.check(f"{label}: deterministic", bool(np.array_equal(first, again)), "same input twice")
    spread = cosines(by_batch[batch_sizes[0]], by_batch[batch_sizes[-1]])
    report.check(
        f"{label}: batch-size invariance",
        bool(spread.min() > 0.999),
        f"min cosine batch {batch_sizes[0]} vs {batch_sizes[-1]}: {spread.min():.6f}",
    )

    n_hidden = min(64, len(texts))
    emb = encode_texts(
        texts[:n_hidden],
        parts["tokenizer"],
        parts["text_encoder"],
        device=choice,
        hidden_states=True,
    )
    width = parts["text_encoder"].config.hidden_size
    hidden = emb.hidden
    shape_ok = hidden is not None and hidden.shape == (n_hidden, MAX_LENGTH, width)
    finite = hidden is not None and bool(np.isfinite(hidden).all())
    report.check(
        f"{label}: hidden states",
        shape_ok and finite and bool((emb.lengths <= MAX_LENGTH).all()),
        f"shape {None if hidden is None else hidden.shape}, truncated {int(emb.truncated.sum())}",
    )

    if "unet" in parts and hidden is not None:
        unet = parts["unet"]
        dtype = torch_dtype(choice)
        context = torch.from_numpy(hidden[:8]).to(choice.device, dtype)
        latents = torch.randn(len(context), 4, 8, 8, generator=torch.Generator().manual_seed(0))
        latents = latents.to(choice.device, dtype)

        def step() -> Any:
            with torch.inference_mode():
                return unet(latents, 500, encoder_hidden_states=context).sample

        out: list[Any] = []
        unet_calls = count_sdpa(lambda: out.append(step()))
        ok = out[0].shape == latents.shape and bool(torch.isfinite(out[0]).all())
        report.check(f"{label}: U-Net step", ok and unet_calls > 0, f"{unet_calls} SDPA calls")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None, help="default: automatic (needs CUDA)")
    parser.add_argument("--dtype", default=None, help="default: bfloat16 where supported")
    parser.add_argument("--captions", type=int, default=256)
    parser.add_argument("--batch-sizes", default="16,64,256")
    parser.add_argument("--no-large", action="store_true", help="skip the CLIP-L-sized encoder")
    args = parser.parse_args(argv)

    missing = [m for m in ("torch", "transformers") if importlib.util.find_spec(m) is None]
    if missing:
        print(f"SKIP: {', '.join(missing)} not installed; nothing to check.")
        return 0
    import torch

    if args.device is None and not torch.cuda.is_available():
        print("SKIP: CUDA is not available on this machine (pass --device cpu to dry-run).")
        return 0
    if importlib.util.find_spec("open_clip") is None:
        print(
            "FAIL: the tiny components use the real CLIP tokenizer, whose BPE file ships with "
            "open_clip_torch, which is not installed. Install it without its dependencies: "
            "pip install --no-deps open_clip_torch (or carry its wheel)."
        )
        return 2

    from neco.errors import NecoError
    from neco.neural.device import choose_device
    from tests.neural import tiny

    try:
        choice = choose_device(args.device, args.dtype)
    except NecoError as exc:
        print(f"FAIL: {exc}")
        return 1
    have_diffusers = importlib.util.find_spec("diffusers") is not None
    import transformers

    print(
        f"python {platform.python_version()}, torch {torch.__version__}, "
        f"transformers {transformers.__version__}, diffusers "
        f"{__import__('diffusers').__version__ if have_diffusers else 'not installed'}"
    )
    if torch.cuda.is_available():
        print(
            f"GPU: {torch.cuda.get_device_name(0)}, CUDA {torch.version.cuda}, bf16 "
            f"{torch.cuda.is_bf16_supported()}, flash SDP {torch.backends.cuda.flash_sdp_enabled()}"
        )
    print(f"device choice: {choice.describe()}")

    report = Report()
    if args.device is None:
        expected = "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
        report.check(
            "choose_device() automatic",
            choice.device == "cuda" and choice.dtype == expected,
            choice.describe(),
        )
    texts = captions(args.captions)
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    kinds = tiny.PIPELINE_KINDS if have_diffusers else ("tokenizer", "text_encoder")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        small = tiny.save_tiny_pipeline(Path(tmp) / "tiny", kinds=kinds)
        print(f"built tiny components {list(kinds)} in {time.perf_counter() - start:.2f}s")
        check_model(report, "tiny", small, texts, choice, batch_sizes)
        if not args.no_large:
            start = time.perf_counter()
            large = tiny.save_tiny_pipeline(
                Path(tmp) / "large",
                kinds=("tokenizer", "text_encoder"),
                text_overrides=LARGE_TEXT,
            )
            print(f"built a CLIP-L-sized random text encoder in {time.perf_counter() - start:.2f}s")
            # The float32 CPU reference of a 123M-parameter encoder: 64 captions are enough.
            check_model(report, "clip-l-size", large, texts, choice, batch_sizes, 64)
    report.print()
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
