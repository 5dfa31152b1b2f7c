"""The model layer: what a latent diffusion model makes of a corpus's captions.

Modules follow Stable Diffusion's data flow (Rombach et al. 2022):

- :mod:`neco.neural.tokenizer` — CLIP's BPE tokenizer (49,408 tokens, 77-token context,
  Radford et al. 2021), built offline; truncation and fragmentation per caption, word and
  community;
- :mod:`neco.neural.components` and :mod:`neco.neural.device` — named component sets
  (``sd15``, ``clip-l14``, ``sd-vae-ft-mse``) loaded offline from a folder or the Hugging Face
  cache, safetensors only; CUDA with bf16 and SDPA when present, CPU fp32 otherwise;
- :mod:`neco.neural.text` — CLIP text embeddings (pooled and per-token hidden states);
- :mod:`neco.neural.probes` — minimal pairs from the corpus's own dependency triples;
- :mod:`neco.neural.images` and :mod:`neco.neural.latents` — safe image reading, the VAE
  round trip, PSNR, SSIM and CLIP image embeddings;
- :mod:`neco.neural.attention` — U-Net cross-attention per token and word (after DAAM);
- :mod:`neco.neural.guidance` — samples across classifier-free guidance scales, Vendi score;
- :mod:`neco.neural.pipeline` — all of it on a workspace (``neco neural``).

Importing this package imports nothing heavy; torch, transformers and diffusers are loaded by
the functions that need them.
"""
