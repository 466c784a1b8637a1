"""The true future frames of a task's documents, for the latent diagnostic that scores imagined latents against them
(issue 29; `reports.latent_diagnostics`).

- TwiFF-Bench layout: a row's `reasoning_images` (the frames its reference chain shows, one per reasoning step).
- FutureBench layout: the observed clip `first_part_video/<name>` may have a sibling `future_part_video/<name>`, a
  clip whose frames are the future frames in order, one per reasoning step. The demo set and the toy experiment's
  sets write one; NEP's release has none, so its documents have no future frames.

A document without future frames gives None (the metric is absent, not 0); one whose set has future frames but whose
own are missing or unreadable raises, and the diagnostic counts that sample as an error.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

FUTURE_DIR = "future_part_video"  # beside FutureBench's first_part_video/

FutureFrames = Callable[[int], "list[np.ndarray] | None"]


def future_clip(video: str | Path) -> Path:
    """Where the future clip of the observed clip `video` lives (whether or not it exists)."""
    video = Path(video)
    return video.parent.parent / FUTURE_DIR / video.name


def _image_array(image: Any) -> np.ndarray:
    """An RGB uint8 array from a decoded PIL image or a `datasets` Image dict ({"bytes", "path"})."""
    from PIL import Image

    if isinstance(image, dict):
        data, path = image.get("bytes"), image.get("path")
        image = Image.open(io.BytesIO(data)) if data else Image.open(path) if path else None
        if image is None:
            raise ValueError("a reasoning image without bytes or a path")
    if not isinstance(image, Image.Image):
        raise ValueError(f"a reasoning image of type {type(image).__name__}")
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def doc_future_frames(doc: dict) -> list[np.ndarray] | None:
    """The future frames of one document (HWC uint8), None when its set has none."""
    if "reasoning_images" in doc:
        images = doc["reasoning_images"] or []
        return [_image_array(im) for im in images] or None
    video = doc.get("video")
    if not isinstance(video, str) or not video.strip():
        return None
    clip = future_clip(video)
    if not clip.parent.is_dir():
        return None
    from future_l1.model.inputs import read_frames

    frames, *_ = read_frames(clip, lambda n: list(range(n)))  # raises MediaError naming a missing or broken clip
    return list(np.asarray(frames, dtype=np.uint8))


def future_frames_of(docs: Sequence[dict] | None) -> FutureFrames | None:
    """doc_id → that document's future frames, for a task's documents as lmms-eval numbers them (doc_id = position);
    None without documents (or for a streamed set, which cannot be indexed). Documents are read one at a time, so
    image columns decode only for the asked ones."""
    if docs is None or not (hasattr(docs, "__len__") and hasattr(docs, "__getitem__")):
        return None

    def frames(doc_id: int) -> list[np.ndarray] | None:
        if not 0 <= doc_id < len(docs):
            raise IndexError(f"doc_id {doc_id} is not among the task's {len(docs)} documents")
        return doc_future_frames(docs[doc_id])

    return frames
