"""The training stages' view of the keyframe pool (`model.keyframes`: which 8 frames of a video records refer to)
and a cached decoder of it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from future_l1.model.keyframes import POOL_SIZE, keyframe_pool

__all__ = ["POOL_SIZE", "FrameCache", "decode_pool", "keyframe_pool"]


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
