"""The one 8-frame keyframe pool shared by SFT, selection, RL and evaluation, and a cached frame decoder.

TwiFF / Future-L1-50K records refer to frames by 1-based position in a fixed 8-frame pool of the video
(the authors' `src/dataset/*.py`). The authors built that pool two different ways: their SFT loader takes frame 1, six
interval midpoints and frame L−2, while their RL loader (`RL_v2/verl/utils/dataset.py`) takes `linspace(1, L−2, 8)`. For L = 100:

    SFT (ours, everywhere): [1, 9, 25, 41, 57, 73, 89, 98]
    authors' RL:            [1, 15, 29, 43, 56, 70, 84, 98]

Deviation, on purpose: we use the SFT scheme for SFT, visual-gain selection, RL and evaluation alike, so that
"reasoning frame 3" is the same picture in every stage. `keyframe_pool` is the only place this is computed.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

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


class FrameCache:
    """Decode each video's keyframe pool once and keep the most recent `max_videos` of them in memory.

    Keyed by the resolved path, so records sharing a video (and the two probe passes of visual-gain selection)
    decode it once.
    """

    def __init__(self, max_videos: int = 256):
        self.max_videos = max_videos
        self._store: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.decoded = 0  # videos actually decoded (the rest were cache hits)

    def pool(self, video: str | Path) -> np.ndarray:
        """The (8, H, W, 3) uint8 keyframe pool of `video`; raises `MediaError` naming the file on failure."""
        key = str(Path(video).resolve())
        with self._lock:
            if key in self._store:
                self._store.move_to_end(key)
                return self._store[key]
        frames = decode_pool(key)
        with self._lock:
            self._store[key] = frames
            self.decoded += 1
            while len(self._store) > self.max_videos:
                self._store.popitem(last=False)
        return frames


def decode_pool(path: str | Path) -> np.ndarray:
    """The keyframe pool of one video, through the project's one decoder (`future_l1.model.inputs.read_frames`)."""
    from future_l1.model.inputs import read_frames

    frames, *_ = read_frames(path, keyframe_pool)
    return np.ascontiguousarray(frames, dtype=np.uint8)
