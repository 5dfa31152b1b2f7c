"""Model-layer throughput per stage on this machine (CPU; GPU numbers: gpu_check.py).

Run on demand::

    python benchmarks/bench_neural.py [--captions 100000]

Prints captions/s (or images/s) for: the CLIP tokenizer stage on N captions; the text encoder
with random weights of CLIP ViT-L/14's text size (768 wide, 12 layers — the cost of the real
one) at batch sizes 8, 32, 64; the VAE round trip of the tiny test VAE (64 px) — real SD VAE
costs need weights and a GPU.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from neco.neural.components import load_set  # noqa: E402
from neco.neural.device import choose_device  # noqa: E402
from neco.neural.latents import vae_round_trip  # noqa: E402
from neco.neural.text import encode_texts  # noqa: E402
from neco.neural.tokenizer import load_clip_tokenizer, tokenize_captions  # noqa: E402
from tests.neural import tiny  # noqa: E402

SUBJECTS = [
    "a heron",
    "two cyclists",
    "an old tram",
    "a bowl of figs",
    "the harbour wall",
    "a knight in armour",
    "a red kite",
    "three children",
]
PLACES = [
    "at dawn",
    "in the rain",
    "under a bridge",
    "on a market day",
    "near the dunes",
    "in a museum",
    "by candlelight",
]


def caption(i: int) -> str:
    extra = ", highly detailed, 8k, cinematic lighting" * (i % 5 == 0) * 10
    return f"{SUBJECTS[i % 8]} {PLACES[(i // 8) % 7]}, photographed on day {i % 365}{extra}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--captions", type=int, default=100_000)
    args = parser.parse_args()
    rows = []
    texts = [caption(i) for i in range(args.captions)]
    tokenizer = load_clip_tokenizer(None)
    t = time.perf_counter()
    tok = tokenize_captions(
        [str(i) for i in range(len(texts))], texts, ["c"] * len(texts), tokenizer
    )
    rows.append((f"tokens ({len(texts):,} captions)", len(texts), time.perf_counter() - t))
    truncated = float(np.mean(tok.captions.column("truncated").to_numpy(zero_copy_only=False)))

    device = choose_device()
    with tempfile.TemporaryDirectory() as tmp:
        large = tiny.save_tiny_pipeline(
            Path(tmp) / "large",
            kinds=("tokenizer", "text_encoder"),
            text_overrides={
                "hidden_size": 768,
                "intermediate_size": 3072,
                "num_attention_heads": 12,
                "num_hidden_layers": 12,
            },
        )
        models = load_set(str(large), kinds=["tokenizer", "text_encoder"], device=device)
        sample = texts[:256]
        for batch in (8, 32, 64):
            t = time.perf_counter()
            encode_texts(
                sample, models["tokenizer"], models["text_encoder"], device=device, batch_size=batch
            )
            rows.append(
                (f"text encoder CLIP-L size, batch {batch}", len(sample), time.perf_counter() - t)
            )
        vae_dir = tiny.save_tiny_pipeline(Path(tmp) / "vae", kinds=("vae",))
        vae = load_set(str(vae_dir), kinds=["vae"], device=device)["vae"]
        images = np.random.default_rng(0).uniform(-1, 1, (64, 3, 64, 64)).astype(np.float32)
        t = time.perf_counter()
        vae_round_trip(vae, images, batch_size=16)
        rows.append(("VAE round trip, tiny VAE, 64 px", len(images), time.perf_counter() - t))
    print(f"device: {device.describe()}; {truncated:.1%} of the benchmark captions truncated\n")
    print(f"{'stage':<42}{'items':>8}{'seconds':>10}{'items/s':>12}")
    for name, n, seconds in rows:
        print(f"{name:<42}{n:>8,}{seconds:>10.2f}{n / seconds:>12,.0f}")


if __name__ == "__main__":
    main()
