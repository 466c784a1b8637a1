"""Random test videos and chat messages for the model tests."""

from __future__ import annotations

import numpy as np


def random_video(seed: int, frames: int, size: int = 64) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 255, (frames, size, size, 3), dtype=np.uint8)


def video_messages(seed: int, frames: int, question: str = "What happens next?") -> list[dict]:
    return [
        {
            "role": "user",
            "content": [{"type": "video", "video": random_video(seed, frames)}, {"type": "text", "text": question}],
        }
    ]
