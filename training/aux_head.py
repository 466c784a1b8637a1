"""An auxiliary latent head for text-only SFT: the future frame as extra supervision, with no feedback (issue 28).

Latent SFT both supervises the hidden states with the future frame's embedding (the latent loss) and feeds those
predictions back as inputs before the answer. This head keeps the first and drops the second: a linear map from the
hidden state at the token before `<answer>` (`aux_mask`) to the frame's L merged vision tokens, trained with latent
SFT's loss and λ (mean over vectors of the squared error norm, Eq. 3), its output used nowhere else. It lives on the
model during training only (`AUX_HEAD`) and is not saved: the checkpoint is a plain text-only model.
"""

from __future__ import annotations

import torch
from torch import nn

AUX_HEAD = "aux_latent_head"  # the model attribute holding the head during training


def attach_aux_head(model, steps: int, seed: int) -> nn.Linear:
    """A fresh head (hidden -> steps × hidden) on `model`, initialised from `seed` without touching the global RNG
    (the rest of the run draws the same numbers as without it)."""
    hidden = model.config.text_config.hidden_size
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        head = nn.Linear(hidden, steps * hidden)
    head.to(device=model.device, dtype=model.dtype)
    model.add_module(AUX_HEAD, head)
    return head


def aux_latent_loss(head: nn.Linear, hidden: torch.Tensor, aux_mask: torch.Tensor,
                    targets: torch.Tensor) -> torch.Tensor:  # fmt: skip
    """Mean over target vectors of ||head(h)_k − e_k||²: `hidden` (batch, seq, d), `aux_mask` (batch, seq) marks one
    position per row, `targets` (rows × steps, d) the frame's tokens in batch order (as the encoder emits them)."""
    states = hidden[aux_mask]  # (rows, d)
    d = hidden.shape[-1]
    steps = head.out_features // d
    if targets.shape[0] != states.shape[0] * steps:
        raise ValueError(f"{states.shape[0]} aux positions × {steps} steps but {targets.shape[0]} target vectors")
    pred = head(states).float().reshape(-1, d)
    return (pred - targets.detach().float()).pow(2).sum(-1).mean()


def detached_aux_head(model) -> nn.Module | None:
    """Remove the head from `model` (before saving) and return it; None where there is none."""
    return model._modules.pop(AUX_HEAD, None)
