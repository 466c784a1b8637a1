"""Group-relative advantages of LA-DAPO: the GRPO / DAPO outcome advantage (the authors' `dapo` estimator is an alias
of GRPO's, `RL_v2/verl/trainer/core_algos.py`), with single-outcome groups at zero.

A_i = (R_i − mean_g R) / (std + 1e-4), R the Eq. 7 total of rollout i and g its group (the n rollouts of one
prompt). `scale`: "group" divides by the group's std (the authors', TRL's default), "batch" by the std of every
reward in the batch (gathered over processes; TRL's `scale_rewards="batch"`), "none" not at all (Dr. GRPO).

Single-outcome groups (every rollout got the same R_acc) get advantage 0. Such a group holds no outcome to contrast,
which is why DAPO's dynamic sampling drops it; when one is in the batch anyway (filtering off, or a padded group, see
`sampling.py`) its only spread is R_fmt, R_ctr and R_div. Standardising that spread turned latent-similarity noise a
few hundredths wide into advantages of −1.09 … +0.72 (the demo before issue 27); `stats["single_outcome_raw_abs_max"]`
logs what the plain formula would have given them.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

EPS = 1e-4  # TRL's; the authors' is 1e-6
SCALES = ("group", "batch", "none")


def group_advantages(
    rewards: torch.Tensor,
    accuracy: torch.Tensor,
    n: int,
    scale: str = "group",
    in_loss: torch.Tensor | None = None,
    gather: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Advantages [N] of N = G·n rewards laid out group-major, and stats for the logs.

    `accuracy` is R_acc per rollout (1, 0 or −1); `in_loss` (bool [N]) marks the rollouts that are trained on (the
    batch std of "batch" is taken over these only, so padded groups do not shift it); `gather` concatenates a tensor
    over processes (accelerate's `gather`), for "batch"."""
    if scale not in SCALES:
        raise ValueError(f"scale_rewards must be one of {SCALES}, not {scale!r}")
    if rewards.numel() % n:
        raise ValueError(f"{rewards.numel()} rewards do not form whole groups of {n}")
    grouped = rewards.float().view(-1, n)
    centred = grouped - grouped.mean(1, keepdim=True)
    if scale == "group":
        centred = centred / (grouped.std(1, keepdim=True).nan_to_num(0.0) + EPS)
    elif scale == "batch":
        keep = torch.ones_like(rewards, dtype=torch.bool) if in_loss is None else in_loss.bool()
        every, every_keep = rewards.float(), keep.float()
        if gather is not None:
            every, every_keep = gather(every), gather(every_keep)
        kept = every[every_keep.bool()]
        std = kept.std() if kept.numel() > 1 else torch.tensor(0.0, device=rewards.device)
        centred = centred / (std + EPS)
    acc = accuracy.view(-1, n)
    single = (acc == acc[:, :1]).all(1, keepdim=True).expand_as(acc)
    raw = centred[single]
    advantages = centred.masked_fill(single, 0.0).flatten()
    stats = {
        "single_outcome_groups": float(single[:, 0].sum()),
        "single_outcome_raw_abs_max": float(raw.abs().max()) if raw.numel() else 0.0,
    }
    return advantages, stats
