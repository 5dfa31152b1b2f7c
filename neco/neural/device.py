"""Where and in which precision the neural stages run.

One :class:`DeviceChoice` travels with every model call: the device (``"cpu"``, ``"cuda"``,
``"cuda:1"``...), the floating-point type of weights and activations, and the attention
implementation (always PyTorch's ``scaled_dot_product_attention``, "sdpa": transformers'
``attn_implementation="sdpa"`` and diffusers' ``AttnProcessor2_0``).

The automatic choice is CUDA in bfloat16 where the GPU supports it (float16 otherwise) and the
CPU in float32: half precision on a CPU is slow and, for CLIP (Radford et al. 2021) and the
latent diffusion U-Net (Rombach et al. 2022), buys nothing.

>>> DeviceChoice("cpu", "float32").dtype
'float32'
>>> DeviceChoice("cpu", "float32").is_cuda
False
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from neco._lazy import require
from neco.errors import NecoError

DTYPES = ("bfloat16", "float16", "float32")
"""Floating-point types a :class:`DeviceChoice` may name."""
DEVICES = ("cpu", "cuda", "cuda:<index>")
"""Device names :func:`choose_device` accepts."""
ATTENTION = "sdpa"
"""The attention implementation: ``torch.nn.functional.scaled_dot_product_attention``."""

_DTYPE_ALIASES = {
    "bf16": "bfloat16",
    "bfloat16": "bfloat16",
    "fp16": "float16",
    "half": "float16",
    "float16": "float16",
    "fp32": "float32",
    "float": "float32",
    "float32": "float32",
}


@dataclass(frozen=True)
class DeviceChoice:
    """A device, a floating-point type and an attention implementation."""

    device: str
    dtype: str
    attention: str = ATTENTION

    @property
    def is_cuda(self) -> bool:
        """Whether the device is a CUDA GPU."""
        return self.device.startswith("cuda")

    def describe(self) -> str:
        """A short label for reports.

        >>> DeviceChoice("cuda", "bfloat16").describe()
        'cuda/bfloat16/sdpa'
        """
        return f"{self.device}/{self.dtype}/{self.attention}"


def normalise_dtype(dtype: str) -> str:
    """The canonical name of a floating-point type, accepting short aliases.

    >>> normalise_dtype("bf16")
    'bfloat16'
    >>> normalise_dtype("FP32")
    'float32'
    """
    key = dtype.strip().lower().removeprefix("torch.")
    if key not in _DTYPE_ALIASES:
        raise NecoError(
            f"Unknown dtype {dtype!r}. Expected one of: {', '.join(DTYPES)} "
            "(or bf16, fp16, fp32). Pass one of them, or leave it out for the automatic choice."
        )
    return _DTYPE_ALIASES[key]


def _check_device(device: str, torch: Any) -> str:
    name = device.strip().lower()
    if name == "cpu":
        return name
    if name == "cuda" or (name.startswith("cuda:") and name[5:].isdigit()):
        if not torch.cuda.is_available():
            raise NecoError(
                f"Device {device!r} was asked for, but CUDA is not available here (torch "
                f"{torch.__version__}, CUDA build: {torch.version.cuda or 'none'}). Run on a "
                "machine with an NVIDIA GPU and a CUDA build of torch, or pass --device cpu."
            )
        if ":" in name and int(name[5:]) >= torch.cuda.device_count():
            raise NecoError(
                f"Device {device!r} was asked for, but only {torch.cuda.device_count()} CUDA "
                "device(s) are visible. Pass cuda:0 ... or plain cuda."
            )
        return name
    raise NecoError(
        f"Unknown device {device!r}. Expected one of: {', '.join(DEVICES)}. "
        "Pass one of them, or leave it out for the automatic choice."
    )


def choose_device(device: str | None = None, dtype: str | None = None) -> DeviceChoice:
    """Pick the device and precision: CUDA in bf16 (fp16 without bf16 support), else CPU fp32.

    Either part can be forced; an unknown name, or CUDA where there is none, is a
    :class:`~neco.errors.NecoError`.
    """
    torch = require("torch", "models")
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    device = _check_device(device, torch)
    if dtype is None:
        if device.startswith("cuda"):
            dtype = "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
        else:
            dtype = "float32"
    return DeviceChoice(device=device, dtype=normalise_dtype(dtype))


def torch_dtype(choice: DeviceChoice | str) -> Any:
    """The ``torch.dtype`` of a :class:`DeviceChoice` (or of a dtype name)."""
    torch = require("torch", "models")
    name = choice.dtype if isinstance(choice, DeviceChoice) else normalise_dtype(choice)
    return getattr(torch, name)
