"""Chat messages with videos/images -> a left-padded Qwen3-VL batch (official-code-spec §3.2 preprocessing).

Videos are decoded with decord, falling back to PyAV. `max_num_frames` frames (default 32) are sampled uniformly,
capped at the clip's length and floored to an even number (Qwen3-VL's temporal patch is 2). Each frame (and each
image) is resized once with Qwen's `smart_resize` (factor 32) inside per-frame pixel bounds `min_pixels` /
`max_pixels` (defaults 256·28² = 200,704 and 1,605,632, as the official adapter), then handed to transformers'
Qwen3-VL processor with `do_resize=False` and `do_sample_frames=False` + `VideoMetadata`.

Chat template: the checkpoint's own. Templates that wrap videos as `<|vision_start|><|video_pad|><|vision_end|>`
(the stock and the official Future-L1 ones) are unwrapped to a bare `<|video_pad|>` after rendering, because
transformers 5.x adds the per-frame `<t seconds><|vision_start|>…<|vision_end|>` wrapper itself; the resulting
token layout is the one Qwen3-VL was trained with (tiny-models-offline.md §2, pitfall 6).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

DEFAULT_MAX_NUM_FRAMES = 32
DEFAULT_MIN_PIXELS = 256 * 28 * 28  # 200,704
DEFAULT_MAX_PIXELS = 1_605_632
WRAPPED_VIDEO = "<|vision_start|><|video_pad|><|vision_end|>"


class MediaError(RuntimeError):
    """A video or image could not be read; the message names the file."""


@dataclass
class Sample:
    """One request made ready for the processor."""

    text: str
    videos: list[np.ndarray]  # (T, H, W, 3) uint8, already resized
    video_metadata: list[Any]
    images: list[np.ndarray]  # (H, W, 3) uint8, already resized


def frame_indices(total: int, max_num_frames: int) -> list[int]:
    n = min(int(max_num_frames), int(total))
    n = max(2, n - n % 2)
    return np.linspace(0, total - 1, n).round().astype(int).tolist()


def _read_decord(path: str, pick: Callable[[int], list[int]]) -> tuple[np.ndarray, float, list[int], int]:
    import decord

    vr = decord.VideoReader(path, num_threads=1)
    total = len(vr)
    if total == 0:
        raise MediaError(f"video {path} has no frames")
    idx = pick(total)
    return vr.get_batch(idx).asnumpy(), float(vr.get_avg_fps() or 1.0), idx, total


def _read_pyav(path: str, pick: Callable[[int], list[int]]) -> tuple[np.ndarray, float, list[int], int]:
    import av

    with av.open(path) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or 1.0)
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    if not frames:
        raise MediaError(f"video {path} has no decodable frames")
    idx = pick(len(frames))
    return np.stack([frames[i] for i in idx]), fps, idx, len(frames)


def read_frames(path: str | Path, pick: Callable[[int], list[int]]) -> tuple[np.ndarray, float, list[int], int]:
    """The RGB frames (T,H,W,3) uint8 at `pick(total_frames)`, with fps, the indices and the total.

    decord first (it seeks), PyAV for what decord cannot open (AV1, some broken files). Raises MediaError naming the
    file. The one video decoder of the project: evaluation inputs and the training keyframe pool both use it.
    """
    path = str(path)
    if not Path(path).is_file():
        raise MediaError(f"video file not found: {path}")
    errors = []
    for reader in (_read_decord, _read_pyav):
        try:
            return reader(path, pick)
        except Exception as exc:  # a broken file, or a codec decord lacks (AV1): try the next backend
            errors.append(f"{reader.__name__[6:]}: {exc}".strip())
    raise MediaError(f"cannot decode video {path} ({'; '.join(errors)}); re-encode it as H.264 mp4")


def read_video(path: str | Path, max_num_frames: int = DEFAULT_MAX_NUM_FRAMES):
    """Uniformly sampled RGB frames (T,H,W,3) uint8 and their `VideoMetadata`. Raises MediaError naming the file."""
    from transformers.video_utils import VideoMetadata

    frames, fps, idx, total = read_frames(path, lambda n: frame_indices(n, max_num_frames))
    if len(frames) % 2:  # a short clip with an odd frame count: repeat the last frame
        frames = np.concatenate([frames, frames[-1:]])
        idx = [*idx, idx[-1]]
    meta = VideoMetadata(total_num_frames=total, fps=fps, frames_indices=idx)
    return frames, meta


def resized_shape(height: int, width: int, min_pixels: int, max_pixels: int, factor: int = 32) -> tuple[int, int]:
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

    return smart_resize(height, width, factor=factor, min_pixels=min_pixels, max_pixels=max_pixels)


def resize_frames(frames: np.ndarray, min_pixels: int, max_pixels: int) -> np.ndarray:
    """Resize (T,H,W,3) uint8 frames to the smart_resize shape (bicubic, antialiased), as qwen-vl-utils does."""
    h, w = resized_shape(frames.shape[1], frames.shape[2], min_pixels, max_pixels)
    if (h, w) == frames.shape[1:3]:
        return frames
    x = torch.from_numpy(np.array(frames, copy=True)).permute(0, 3, 1, 2).float()
    x = torch.nn.functional.interpolate(x, size=(h, w), mode="bicubic", antialias=True, align_corners=False)
    return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def _load_image(item) -> np.ndarray:
    from PIL import Image

    if isinstance(item, np.ndarray):
        return item
    if isinstance(item, Image.Image):
        return np.asarray(item.convert("RGB"))
    path = str(item)
    if not Path(path).is_file():
        raise MediaError(f"image file not found: {path}")
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except Exception as exc:
        raise MediaError(f"cannot read image {path}: {exc}") from exc


def _media_of(item: dict, kind: str):
    for key in (kind, "url", "path", f"{kind}_url"):
        value = item.get(key)
        if isinstance(value, dict):
            value = value.get("url")
        if value is not None:
            return value
    raise MediaError(f"{kind} item without a payload: {sorted(item)}")


def prepare_sample(
    processor,
    messages: Sequence[dict],
    *,
    max_num_frames: int = DEFAULT_MAX_NUM_FRAMES,
    min_pixels: int = DEFAULT_MIN_PIXELS,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Sample:
    """Decode the media of one chat and render its prompt. Raises MediaError for unreadable media."""
    from transformers.video_utils import VideoMetadata

    videos, metas, images, rendered = [], [], [], []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            rendered.append({"role": message["role"], "content": content})
            continue
        parts = []
        for item in content or []:
            kind = item.get("type")
            if kind == "video" or (kind is None and "video" in item):
                media = _media_of(item, "video")
                if isinstance(media, np.ndarray):  # frames given directly (tests, demos)
                    frames = media
                    meta = VideoMetadata(total_num_frames=len(frames), fps=1.0, frames_indices=list(range(len(frames))))
                else:
                    frames, meta = read_video(media, max_num_frames)
                videos.append(resize_frames(frames, min_pixels, max_pixels))
                metas.append(meta)
                parts.append({"type": "video"})
            elif kind in ("image", "image_url") or (kind is None and "image" in item):
                image = _load_image(_media_of(item, "image"))
                images.append(resize_frames(image[None], min_pixels, max_pixels)[0])
                parts.append({"type": "image"})
            elif "text" in item:
                parts.append({"type": "text", "text": item["text"]})
        rendered.append({"role": message["role"], "content": parts})
    text = processor.apply_chat_template(rendered, tokenize=False, add_generation_prompt=True)
    return Sample(text=text.replace(WRAPPED_VIDEO, "<|video_pad|>"), videos=videos, video_metadata=metas, images=images)


def collate(processor, samples: Sequence[Sample]) -> dict[str, torch.Tensor]:
    """A left-padded batch: input_ids, attention_mask, mm_token_type_ids and the vision tensors present."""
    tokenizer = processor.tokenizer
    tokenizer.padding_side = "left"
    kwargs: dict[str, Any] = {"text": [s.text for s in samples], "padding": True, "return_tensors": "pt"}
    videos = [v for s in samples for v in s.videos]
    images = [im for s in samples for im in s.images]
    if videos:
        kwargs.update(
            videos=videos,
            video_metadata=[m for s in samples for m in s.video_metadata],
            do_sample_frames=False,
            videos_kwargs={"do_resize": False},
        )
    if images:
        kwargs.update(images=images, images_kwargs={"do_resize": False})
    vp = getattr(processor, "video_processor", None)
    if vp is not None and hasattr(vp, "cap_pixels_per_frame") and vp.cap_pixels_per_frame is None:
        vp.cap_pixels_per_frame = False  # we resized already; silences a transformers deprecation warning
    enc = processor(**kwargs)
    batch = {k: v for k, v in enc.items() if isinstance(v, torch.Tensor)}
    if "mm_token_type_ids" not in batch:
        batch["mm_token_type_ids"] = torch.zeros_like(batch["input_ids"])
    return batch
