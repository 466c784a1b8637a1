"""The one 8-frame keyframe pool of a video, shared by SFT, selection, RL and evaluation (and the demo set's future
frames, so that its latent diagnostic scores against the frame SFT aligns with).

TwiFF / Future-L1-50K records refer to frames by 1-based position in a fixed 8-frame pool of the video
(the authors' `src/dataset/*.py`). The authors built that pool two different ways: their SFT loader takes frame 1, six
interval midpoints and frame L−2, while their RL loader (`RL_v2/verl/utils/dataset.py`) takes `linspace(1, L−2, 8)`. For L = 100:

    SFT (ours, everywhere): [1, 9, 25, 41, 57, 73, 89, 98]
    authors' RL:            [1, 15, 29, 43, 56, 70, 84, 98]

Deviation, on purpose: we use the SFT scheme for SFT, visual-gain selection, RL and evaluation alike, so that
"reasoning frame 3" is the same picture in every stage. This module is the only place it is computed.
"""

from __future__ import annotations

import numpy as np

POOL_SIZE = 8


def keyframe_pool(n_frames: int, pool_size: int = POOL_SIZE) -> list[int]:
    """0-based frame indices of the keyframe pool of a video with `n_frames` frames.

    First = frame 1 (skipping a possibly black frame 0), last = frame L−2, and between them the midpoints of
    `pool_size − 2` equal integer intervals of [2, L−2]. Very short clips repeat their last index to keep 8 entries.
    """
    if n_frames <= 0:
        raise ValueError(f"a video with {n_frames} frames has no keyframe pool")
    start = 1 if n_frames > 2 else 0
    end = n_frames - 2 if n_frames - 2 > start else n_frames - 1
    inner = min(pool_size - 2, end - start)
    if inner > 0:
        bounds = np.linspace(start + 1, end, num=inner + 1).astype(int)
        middle = [int((bounds[i] + bounds[i + 1] - 1) // 2) for i in range(inner)]
    else:
        middle = []
    pool = [start, *middle, end]
    return (pool + [pool[-1]] * pool_size)[:pool_size]
