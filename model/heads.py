"""The optional latent projection heads (the authors' `src/model/projection_head.py`), off by default.

A head maps the final post-norm hidden state to the vector fed back as the next latent step's input embedding.
Parameter names follow the published layout so that the authors' head weights load unchanged:

- `swiglu` (RoT-style): `projection.0` LayerNorm(H, eps 1e-6), `projection.1` Linear(H->P, bias),
  `projection.2.{w1,w2,w3}` bias-free SwiGLU P->P->P computing w3(silu(w1 x) * w2 x), `projection.3` Linear(P->H).
- `lvr`: `ln_q` LayerNorm(H, eps 1e-6), `mlp.0` Linear(H,H), `mlp.1` GELU, `mlp.2` Linear(H,H).

In a checkpoint the head sits under the prefix `projection_head.` (or `projection_head_orig.` /
`projection_head_render.` for the experimental dual heads).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

HEAD_TYPES = ("swiglu", "lvr")
DEFAULT_PROJECTION_HIDDEN_DIM = 2048
HEAD_PREFIX = "projection_head."
DUAL_HEAD_PREFIXES = {"orig": "projection_head_orig.", "render": "projection_head_render."}


class SwiGLU(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.w1 = nn.Linear(dim, hidden, bias=False)
        self.w2 = nn.Linear(dim, hidden, bias=False)
        self.w3 = nn.Linear(hidden, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w3(F.silu(self.w1(x)) * self.w2(x))


class SwiGLUProjectionHead(nn.Module):
    """LayerNorm -> Linear(H->P) -> SwiGLU(P) -> Linear(P->H)."""

    def __init__(self, hidden_size: int, projection_hidden_dim: int = DEFAULT_PROJECTION_HIDDEN_DIM):
        super().__init__()
        p = projection_hidden_dim
        self.projection = nn.Sequential(
            nn.LayerNorm(hidden_size, eps=1e-6), nn.Linear(hidden_size, p), SwiGLU(p, p), nn.Linear(p, hidden_size)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.projection(x)


class LVRProjectionHead(nn.Module):
    """LayerNorm -> Linear(H,H) -> GELU -> Linear(H,H)."""

    def __init__(self, hidden_size: int):
        super().__init__()
        self.ln_q = nn.LayerNorm(hidden_size, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(hidden_size, hidden_size), nn.GELU(), nn.Linear(hidden_size, hidden_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.ln_q(x))


def build_head(head_type: str, hidden_size: int, projection_hidden_dim: int | None = None) -> nn.Module:
    head_type = (head_type or "swiglu").lower()
    if head_type == "swiglu":
        return SwiGLUProjectionHead(hidden_size, projection_hidden_dim or DEFAULT_PROJECTION_HIDDEN_DIM)
    if head_type == "lvr":
        return LVRProjectionHead(hidden_size)
    raise ValueError(f"unknown projection_head_type {head_type!r}; expected one of {HEAD_TYPES}")
