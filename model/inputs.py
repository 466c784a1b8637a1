"""Chat messages with videos/images -> a left-padded Qwen3-VL batch, sized exactly as the official adapter sizes them.

The authors' adapter (`lmms-eval/lmms_eval/models/future_l1.py`) hands every visual to `qwen_vl_utils.process_vision_info` 0.0.14
(`image_patch_size=16`, so the resize factor is 32) and then calls the processor with `do_resize=False`; the video
and image *sizes* therefore come from qwen-vl-utils, not from the `max_pixels` the adapter passes. We apply the same
rules, using qwen-vl-utils' own functions and constants (`smart_nframes`, `smart_resize`, `fetch_image`,
`VIDEO_MAX_TOKEN_NUM`, `MODEL_SEQ_LEN`, `FRAME_FACTOR`), so parity holds by construction; the only lines we restate
are the four of `fetch_video`'s inline pixel budget (`video_pixel_bounds`), pinned against `fetch_video` itself in
tests/model/test_model_input_parity.py. Parity is established for qwen-vl-utils 0.0.14 (pinned in pyproject.toml),
torchvision 0.28, Pillow 13 and decord 0.6.

Videos (FutureBench):
- Frames: the adapter asks for `nframes = max_num_frames` (32) capped at the clip's frame count and floored to an
  even number; qwen-vl-utils rounds it to `FRAME_FACTOR` and samples `torch.linspace(0, total-1, n).round()`.
- Size: each frame is resized with `smart_resize(factor 32)` between `min_pixels` (200,704) and
  `min(max_pixels, max(min(VIDEO_MAX_TOKEN_NUM·32², MODEL_SEQ_LEN·32²·0.9 / n · 2), ⌊1.05·min_pixels⌋))`: a per-frame
  cap of 768·32² = 786,432 pixels and a total-pixel budget across the n frames, whatever `max_pixels` says
  (1,605,632 by default). A 1280×720 clip becomes 1152×640 (720 tokens per 2-frame group), 1920×1080 too.
- Resampling: torchvision bicubic with antialias on the uint8 frames, as `fetch_video`.
- Timestamps: `VideoMetadata(fps = the decoder's average fps, frames_indices, total_num_frames)`.

Images (TwiFF-Bench): `qwen_vl_utils.fetch_image` itself: RGBA composited onto white (other modes converted to
RGB), `smart_resize(factor 32)` within `min_pixels`/`max_pixels` (no video cap), PIL bicubic resize.

Text: every literal `<image>` is deleted from the user turn's text, as the official adapter deletes it from the task
context (`"\\n<image>What next?"` -> `"\\nWhat next?"`); the whitespace around it stays.

Deviations, on purpose (README "Where we deviate"):
- Decoding: decord (the backend qwen-vl-utils picks when torchcodec is absent, with the same `get_batch` call);
  for files decord cannot open (AV1, some broken files) PyAV, where qwen-vl-utils falls back to torchvision's
  reader. A clip of a single frame gives that frame twice (qwen-vl-utils raises, aborting the official run).
- Frames handed in as an array (tests, demos) are not re-sampled: an odd count is padded with the last frame, then
  the video size rules above apply.
- Unreadable media raise `MediaError`, which the adapter turns into a per-sample error answer.

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
DEFAULT_MIN_PIXELS = 256 * 28 * 28  # 200,704, the official adapter's default
DEFAULT_MAX_PIXELS = 1_605_632  # the official adapter's default; videos are capped lower by qwen-vl-utils
IMAGE_PATCH_SIZE = 16  # Qwen3-VL; the official adapter passes image_patch_size=16 to process_vision_info
WRAPPED_VIDEO = "<|vision_start|><|video_pad|><|vision_end|>"
IMAGE_MARKER = "<image>"


class MediaError(RuntimeError):
    """A video or image could not be read; the message names the file."""


@dataclass
class Sample:
    """One request made ready for the processor."""

    text: str
    videos: list[np.ndarray]  # (T, H, W, 3) uint8, already resized
    video_metadata: list[Any]
    images: list[np.ndarray]  # (H, W, 3) uint8, already resized


def qwen_vision():
    """`qwen_vl_utils.vision_process` (0.0.14), imported after the CPU torchvision hook."""
    from qwen_vl_utils import vision_process

    return vision_process


def resize_factor() -> int:
    """Pixels per merged token side: patch 16 × spatial merge 2 = 32."""
    return IMAGE_PATCH_SIZE * qwen_vision().SPATIAL_MERGE_SIZE


def num_frames(total: int, max_num_frames: int) -> int:
    """Frames sampled from a clip of `total` frames: the adapter's cap, then qwen-vl-utils' `smart_nframes`."""
    n = max(2, (min(int(max_num_frames), int(total)) // 2) * 2)  # the adapter: capped at the clip, floored to even
    if total < n:  # a one-frame clip: qwen-vl-utils raises; we repeat the frame (module docstring)
        return n
    return qwen_vision().smart_nframes({"nframes": n}, total_frames=int(total), video_fps=1.0)


def frame_indices(total: int, max_num_frames: int) -> list[int]:
    """The 0-based frames qwen-vl-utils' readers pick: `torch.linspace(0, total-1, n).round()`."""
    n = num_frames(total, max_num_frames)
    return torch.linspace(0, max(int(total) - 1, 0), n).round().long().tolist()


def video_pixel_bounds(n_frames: int, min_pixels: int, max_pixels: float) -> tuple[int, float]:
    """(min, max) pixels per frame for a video of `n_frames` frames, as `fetch_video` computes them.

    The cap is the smallest of the caller's `max_pixels`, VIDEO_MAX_TOKEN_NUM·32² per frame and the total budget
    MODEL_SEQ_LEN·32²·0.9 spread over the frames (×FRAME_FACTOR), but never below ⌊1.05·min_pixels⌋.
    """
    qv = qwen_vision()
    factor = resize_factor()
    frame_cap = qv.VIDEO_MAX_TOKEN_NUM * factor * factor
    total_pixels = qv.MODEL_SEQ_LEN * factor * factor * 0.9  # fetch_video's default; the adapter passes none
    cap = max(min(frame_cap, total_pixels / n_frames * qv.FRAME_FACTOR), int(min_pixels * 1.05))
    return min_pixels, min(max_pixels, cap)


def video_size(height: int, width: int, n_frames: int, min_pixels: int, max_pixels: float) -> tuple[int, int]:
    """The (height, width) every frame of the video is resized to."""
    lo, hi = video_pixel_bounds(n_frames, min_pixels, max_pixels)
    return qwen_vision().smart_resize(height, width, factor=resize_factor(), min_pixels=lo, max_pixels=hi)


def resize_video(frames: np.ndarray, min_pixels: int, max_pixels: float) -> np.ndarray:
    """(T,H,W,3) uint8 frames resized as `fetch_video` resizes them (torchvision bicubic, antialiased)."""
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as tvf

    h, w = video_size(frames.shape[1], frames.shape[2], len(frames), min_pixels, max_pixels)
    if (h, w) == frames.shape[1:3]:
        return frames
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)
    x = tvf.resize(x, [h, w], interpolation=InterpolationMode.BICUBIC, antialias=True)
    return x.permute(0, 2, 3, 1).contiguous().numpy()


def resize_image(image, min_pixels: int, max_pixels: int) -> np.ndarray:
    """An image (PIL, HxWxC array or path) as `qwen_vl_utils.fetch_image` returns it, as an (H,W,3) uint8 array."""
    from PIL import Image

    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    elif not isinstance(image, Image.Image):
        image = _open_image(image)
    ele = {"image": image, "min_pixels": min_pixels, "max_pixels": max_pixels}
    return np.array(qwen_vision().fetch_image(ele, image_patch_size=IMAGE_PATCH_SIZE))  # a writable copy


def _open_image(item) -> Any:
    from PIL import Image

    path = str(item)
    if not Path(path).is_file():
        raise MediaError(f"image file not found: {path}")
    try:
        with Image.open(path) as im:
            im.load()
            return im.copy()
    except Exception as exc:
        raise MediaError(f"cannot read image {path}: {exc}") from exc


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
    """RGB frames (T,H,W,3) uint8 sampled as qwen-vl-utils samples them, and their `VideoMetadata`."""
    from transformers.video_utils import VideoMetadata

    frames, fps, idx, total = read_frames(path, lambda n: frame_indices(n, max_num_frames))
    meta = VideoMetadata(total_num_frames=total, fps=fps, frames_indices=idx)
    return frames, meta


def _pad_even(frames: np.ndarray) -> np.ndarray:
    """Pad an odd frame count with the last frame (qwen-vl-utils does this for videos given as frame lists)."""
    return np.concatenate([frames, frames[-1:]]) if len(frames) % 2 else frames


def strip_image_markers(text: str) -> str:
    """The user text without literal `<image>` markers, as the official adapter feeds it (surrounding text kept)."""
    return text.replace(IMAGE_MARKER, "")


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
        is_user = message.get("role") == "user"
        if isinstance(content, str):
            rendered.append({"role": message["role"], "content": strip_image_markers(content) if is_user else content})
            continue
        parts = []
        for item in content or []:
            kind = item.get("type")
            if kind == "video" or (kind is None and "video" in item):
                media = _media_of(item, "video")
                if isinstance(media, np.ndarray):  # frames given directly (tests, demos)
                    frames = _pad_even(media)
                    meta = VideoMetadata(total_num_frames=len(frames), fps=1.0, frames_indices=list(range(len(frames))))
                else:
                    frames, meta = read_video(media, max_num_frames)
                videos.append(resize_video(frames, min_pixels, max_pixels))
                metas.append(meta)
                parts.append({"type": "video"})
            elif kind in ("image", "image_url") or (kind is None and "image" in item):
                images.append(resize_image(_media_of(item, "image"), min_pixels, max_pixels))
                parts.append({"type": "image"})
            elif "text" in item:
                text = item["text"]
                parts.append({"type": "text", "text": strip_image_markers(text) if is_user else text})
        rendered.append({"role": message["role"], "content": parts})
    text = processor.apply_chat_template(rendered, tokenize=False, add_generation_prompt=True)
    return Sample(text=text.replace(WRAPPED_VIDEO, "<|video_pad|>"), videos=videos, video_metadata=metas, images=images)


def presized_videos(processor) -> None:
    """Tell the video processor that videos come sized already (`resize_video`), so it skips its own per-frame cap
    and its deprecation warning about that cap."""
    vp = getattr(processor, "video_processor", None)
    if vp is not None and getattr(vp, "cap_pixels_per_frame", False) is None:
        vp.cap_pixels_per_frame = False


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
    presized_videos(processor)
    enc = processor(**kwargs)
    batch = {k: v for k, v in enc.items() if isinstance(v, torch.Tensor)}
    if "mm_token_type_ids" not in batch:
        batch["mm_token_type_ids"] = torch.zeros_like(batch["input_ids"])
    return batch


SEQUENCE_PADS = {"input_ids": None, "attention_mask": 0, "mm_token_type_ids": 0, "token_type_ids": 0}


def merge_batches(batches: Sequence[dict[str, torch.Tensor]], pad_token_id: int) -> dict[str, torch.Tensor]:
    """Batches from `collate` (one sample each, typically) as one left-padded batch, equal to what `collate` returns
    for all their samples at once: token tensors left-padded (`pad_token_id`, mask 0), vision tensors concatenated.

    It lets the adapter run `collate` (the processor's pixel work: rescale, normalise, patchify) for each sample in
    its media thread, leaving only the padding to the thread that drives the GPU."""
    if len(batches) == 1:
        return dict(batches[0])
    width = max(int(b["input_ids"].shape[1]) for b in batches)
    out: dict[str, torch.Tensor] = {}
    for key in dict.fromkeys(k for b in batches for k in b):
        parts = [b[key] for b in batches if key in b]
        if key in SEQUENCE_PADS:
            if len(parts) != len(batches):
                raise ValueError(f"merge_batches: {key!r} is missing from some batches")
            value = pad_token_id if SEQUENCE_PADS[key] is None else SEQUENCE_PADS[key]
            parts = [torch.nn.functional.pad(t, (width - t.shape[1], 0), value=value) for t in parts]
        out[key] = torch.cat(parts)
    return out
