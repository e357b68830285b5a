"""torch.nn.functional.scaled_dot_product_attention, as dispatched and pinned to each backend.

`sdpa` lets torch pick the kernel. The three pinned variants run on CUDA only and force one
backend with `torch.nn.attention.sdpa_kernel`: math (the reference composite), memory-efficient
(xFormers-style) and flash (FlashAttention-2 kernels, float16 and bfloat16 only, so it is planned
only on the half-precision CUDA task).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from theorybench.suites.attention_io import AttentionImplementation


class SDPA(AttentionImplementation):
    """scaled_dot_product_attention with torch's own choice of backend."""

    name = "sdpa"
    version = torch.__version__
    authors = ("PyTorch developers",)
    reference = "https://pytorch.org/docs/stable/generated/torch.nn.functional.scaled_dot_product_attention.html"
    devices = ("cpu", "cuda")

    def attention(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool) -> torch.Tensor:
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal)


class _PinnedSDPA(AttentionImplementation):
    backend: SDPBackend = SDPBackend.MATH

    def attention(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool) -> torch.Tensor:
        with sdpa_kernel(self.backend):
            return F.scaled_dot_product_attention(q, k, v, is_causal=causal)


class SDPAMath(_PinnedSDPA):
    """scaled_dot_product_attention pinned to the math backend."""

    name = "sdpa-math"
    version = torch.__version__
    authors = ("PyTorch developers",)
    reference = SDPA.reference
    devices = ("cuda",)
    backend = SDPBackend.MATH


class SDPAEfficient(_PinnedSDPA):
    """scaled_dot_product_attention pinned to the memory-efficient backend."""

    name = "sdpa-efficient"
    version = torch.__version__
    authors = ("PyTorch developers",)
    reference = SDPA.reference
    devices = ("cuda",)
    backend = SDPBackend.EFFICIENT_ATTENTION


class SDPAFlash(_PinnedSDPA):
    """scaled_dot_product_attention pinned to the flash backend (half precision only)."""

    name = "sdpa-flash"
    version = torch.__version__
    authors = ("PyTorch developers",)
    reference = SDPA.reference
    devices = ("cuda",)
    tasks = ("runtime_cuda",)
    backend = SDPBackend.FLASH_ATTENTION
