"""The reviewer's controls of the toy experiment (issue 28): what each control arm trains on, as pure functions.

The latent arm (a) differs from text-only SFT (b) in three ways at once: extra supervision (its latent loss regresses
the frozen encoder's 4 tokens of frame 12, which encode where the ball will be), feedback (those predictions are fed
back as inputs before the answer) and compute (L_max extra positions before the answer). Each control adds one of
them to (b):

- `pause` (compute): (b) with L_max filler tokens at the end of its reason, so it has as many extra positions
  before the answer as (a)'s latent budget (`pause_reason`);
- `cot` (information): (b) whose reason states, in words and numbers, what the latent targets encode: the ball's
  centre at frame 12 and its share in each quadrant (`future_reason`), from the same item and renderer that make the
  frame-12 targets; supervised as text, so the model must generate it before answering;
- `aux` (supervision without feedback): (b) plus a linear head that regresses the frame-12 tokens from the hidden
  state before `<answer>`, with (a)'s λ and loss, nothing fed back (`training.aux_head`);
- `latent_noise`, `latent_mean`, `latent_random` (content at inference): (a)'s checkpoint decoded with perturbed or
  uninformative latents (`model.interventions`: noise of the vector's own norm added, the run's mean fed-back vector,
  and a Gaussian draw of the vector's norm instead of it), next to the swap probe.
"""

from __future__ import annotations

import numpy as np

PAUSE = "."  # one token per pause in the toy vocabulary: '.' has no merge with itself there (tested)
NOISE_SIGMA = 1.0  # noise:σ adds noise of σ times the fed-back vector's norm (model/interventions.py)
COT_VERSION = 1  # bump when `future_reason` changes: it names the data folder and the checkpoints
QUADRANT_WORDS = ("top left", "top right", "bottom left", "bottom right")  # the options' words (task.QUADRANTS)


def pause_reason(reason: str, pauses: int) -> str:
    """The reason with `pauses` filler tokens appended (the compute-matched arm)."""
    return reason + PAUSE * pauses


def ball_shares(x: float, y: float) -> np.ndarray:
    """The ball's share (0-1) in each quadrant, option order, for a centre at (x, y): the per-cell coverage the toy
    encoder's tokens are pretrained to encode (`vision.token_targets`, same pixel grid and radius), divided by the
    ball's area, so the four shares sum to 1."""
    from future_l1.harness.experiments.toy_vep.task import RADIUS, SIZE

    pixel = np.arange(SIZE) + 0.5
    inside = ((pixel[None, :] - x) ** 2 + (pixel[:, None] - y) ** 2) <= RADIUS**2
    half = SIZE // 2
    cells = inside.reshape(2, half, 2, half).sum(axis=(1, 3)).reshape(-1)  # raster order = option order
    return cells / cells.sum()


def future_reason(reason: str, centre: tuple[float, float]) -> str:
    """The information-matched chain of thought: `reason` + where the ball is at the asked frame (centre in px,
    rounded) and the quadrants it covers with their share in %, largest first, e.g. "I imagine the ball at x 41,
    y 22: top right 96%, top left 4%." Short enough for the evaluation's token budget (tested)."""
    x, y = centre
    shares = ball_shares(x, y)
    order = [int(i) for i in np.argsort(-shares, kind="stable") if round(100 * shares[i]) >= 1]
    parts = ", ".join(f"{QUADRANT_WORDS[i]} {round(100 * shares[i])}%" for i in order)
    return f"{reason.removesuffix('.')} at x {round(x)}, y {round(y)}: {parts}."
