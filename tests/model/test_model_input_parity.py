"""Evaluation inputs against the rules that define them: qwen-vl-utils 0.0.14, executed, and the official adapter.

The official adapter sends every visual through `qwen_vl_utils.process_vision_info(..., image_patch_size=16)`. Here
its `fetch_video` runs for real on the same frames (through a registered in-memory reader, or on a real file with
decord) and `fetch_image` / PIL bicubic on the same images, and our `model.inputs` must give the same sizes and the
same pixels.
"""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
import torch

from future_l1.model import inputs

MIN, MAX = inputs.DEFAULT_MIN_PIXELS, inputs.DEFAULT_MAX_PIXELS  # the adapter's 200,704 and 1,605,632


@pytest.fixture(scope="module")
def qv():
    return inputs.qwen_vision()


def official_video(qv, frames: np.ndarray, monkeypatch, **ele) -> torch.Tensor:
    """`fetch_video` on `frames` (already sampled), with the element the adapter builds. Returns (T,C,H,W) float."""
    clip = torch.from_numpy(frames).permute(0, 3, 1, 2)
    meta = {"fps": 1.0, "frames_indices": list(range(len(clip))), "total_num_frames": len(clip)}
    monkeypatch.setitem(qv.VIDEO_READER_BACKENDS, "in_memory", lambda _ele: (clip, meta, 1.0))
    monkeypatch.setattr(qv, "get_video_reader_backend", lambda: "in_memory")
    ele = {"type": "video", "video": "clip.mp4", "min_pixels": MIN, "max_pixels": MAX, "nframes": len(clip), **ele}
    return qv.fetch_video(ele, image_patch_size=16, return_video_metadata=True)[0]


def ours_as_official(frames: np.ndarray, min_pixels: int = MIN, max_pixels: int = MAX) -> torch.Tensor:
    return torch.from_numpy(inputs.resize_video(frames, min_pixels, max_pixels)).permute(0, 3, 1, 2).float()


def noise(n: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, 3), dtype=np.uint8)


RESOLUTIONS = {
    "480p_4:3": (480, 640),
    "480p_16:9": (480, 854),
    "720p": (720, 1280),
    "1080p": (1080, 1920),
    "4K": (2160, 3840),
    "portrait_1080x1920": (1920, 1080),
    "square_1024": (1024, 1024),
    "odd_333x1001": (333, 1001),
    "odd_ultrawide_97x1203": (97, 1203),
    "odd_tall_1203x131": (1203, 131),
    "tiny_64_upscaled": (64, 64),
}


@pytest.mark.parametrize("name", list(RESOLUTIONS))
def test_video_frames_match_fetch_video(qv, name, monkeypatch):
    h, w = RESOLUTIONS[name]
    frames = noise(2, h, w)
    theirs = official_video(qv, frames, monkeypatch)
    ours = ours_as_official(frames)
    assert ours.shape == theirs.shape
    assert torch.equal(ours, theirs)  # same size and the same bicubic pixels
    assert ours.shape[2] * ours.shape[3] <= qv.VIDEO_MAX_TOKEN_NUM * 32 * 32  # 786,432, not the 1,605,632 passed


@pytest.mark.parametrize(
    ("hw", "expected", "tokens"),
    [((720, 1280), (640, 1152), 720), ((1080, 1920), (640, 1152), 720), ((2160, 3840), (640, 1152), 720),
     ((480, 640), (480, 640), 300), ((1920, 1080), (1152, 640), 720)],
)  # fmt: skip
def test_issue_examples_video_size(hw, expected, tokens):
    """The issue's numbers: 720p and 1080p are fed as 640×1152, 720 merged tokens per 2-frame group."""
    size = inputs.video_size(*hw, 32, MIN, MAX)
    assert size == expected
    assert (size[0] // 32) * (size[1] // 32) == tokens


@pytest.mark.parametrize("n_frames", [2, 8, 30])
@pytest.mark.parametrize("model_seq_len", [200, 1000, 3000])
def test_total_pixel_budget_matches_fetch_video(qv, monkeypatch, n_frames, model_seq_len):
    """The budget across frames (MODEL_SEQ_LEN·32²·0.9 spread over the frames, floored at 1.05·min_pixels).

    At the default MODEL_SEQ_LEN it only binds past 300 frames, so the constant is lowered here (it is read when
    the frames are sized, by qwen-vl-utils and by us alike) to make it bind at small frame counts.
    """
    monkeypatch.setattr(qv, "MODEL_SEQ_LEN", model_seq_len)
    frames = noise(n_frames, 360, 640, seed=n_frames)
    for min_pixels in (MIN, 32 * 32 * 4):
        theirs = official_video(qv, frames, monkeypatch, min_pixels=min_pixels)
        ours = ours_as_official(frames, min_pixels=min_pixels)
        assert ours.shape == theirs.shape and torch.equal(ours, theirs)


def test_default_budget_numbers(qv):
    # per-frame cap 768·32² up to 300 frames; beyond, 128000·32²·0.9 / n · 2 (e.g. 589,824 for 400 frames)
    assert inputs.video_pixel_bounds(32, MIN, MAX) == (MIN, 786_432)
    assert inputs.video_pixel_bounds(400, MIN, MAX) == (MIN, pytest.approx(589_824))
    assert inputs.video_pixel_bounds(32, MIN, 300_000) == (MIN, 300_000)  # a smaller max_pixels still wins
    assert inputs.video_pixel_bounds(10_000, MIN, MAX)[1] == int(MIN * 1.05)  # the floor


class FakeDecordReader:
    """A decord VideoReader stand-in whose frame i is filled with i, so the picked indices can be read back."""

    def __init__(self, total: int):
        self.total = total

    def __len__(self) -> int:
        return self.total

    def get_avg_fps(self) -> float:
        return 24.0

    def get_batch(self, idx):
        frames = np.stack([np.full((2, 2, 3), i % 256, np.uint8) for i in idx])
        return types.SimpleNamespace(asnumpy=lambda: frames)


@pytest.mark.parametrize("max_num_frames", [8, 16, 32, 64])
def test_frame_sampling_matches_qwen_decord_reader(qv, monkeypatch, max_num_frames):
    """qwen-vl-utils' own decord reader, given the adapter's `nframes` (= min(max, total) floored to even)."""
    totals = [*range(2, 130), 199, 250, 333, 1000, 4801]
    for total in totals:
        monkeypatch.setitem(
            sys.modules, "decord", types.SimpleNamespace(VideoReader=lambda _p, t=total: FakeDecordReader(t))
        )
        nframes = max(2, min(max_num_frames, total) // 2 * 2)  # the adapter's `_cap_video_kwargs_to_available_frames`
        _, meta, _ = qv._read_video_decord({"video": "clip.mp4", "nframes": nframes})
        assert inputs.frame_indices(total, max_num_frames) == list(meta["frames_indices"]), total


def test_one_frame_clip_is_repeated_where_qwen_raises(qv):
    with pytest.raises(ValueError):
        qv.smart_nframes({"nframes": 2}, total_frames=1, video_fps=1.0)
    assert inputs.frame_indices(1, 32) == [0, 0]  # documented deviation: the sample is answered, not the run aborted


@pytest.fixture(scope="module")
def hd_clip(tmp_path_factory):
    from future_l1.tasks.scenes import write_video

    rng = np.random.default_rng(3)
    base = rng.integers(0, 256, (1, 45, 80, 3), dtype=np.uint8).repeat(16, 1).repeat(16, 2)  # 720x1280 blocks
    frames = np.stack([np.roll(base[0], 8 * t, axis=1) for t in range(13)])  # 13 frames: an odd count
    return str(write_video(frames, tmp_path_factory.mktemp("hd") / "hd.mp4", 8.0))


def test_real_720p_file_matches_process_vision_info(qv, hd_clip, tiny_processor, monkeypatch):
    """End to end on a file: the official message element through `process_vision_info`, against `prepare_sample`."""
    if qv.get_video_reader_backend() != "decord":
        pytest.skip("qwen-vl-utils reads with another backend here")
    nframes = 4  # the adapter with max_num_frames=4 on a 13-frame clip
    element = {"type": "video", "video": hd_clip, "min_pixels": MIN, "max_pixels": MAX, "nframes": nframes}
    _, videos, kwargs = qv.process_vision_info([[{"role": "user", "content": [element]}]], return_video_kwargs=True,
                                               image_patch_size=16, return_video_metadata=True)  # fmt: skip
    ((theirs, their_meta),) = videos
    messages = [{"role": "user", "content": [{"type": "video", "url": hd_clip}, {"type": "text", "text": "Next?"}]}]
    sample = inputs.prepare_sample(tiny_processor, messages, max_num_frames=nframes)
    (ours,) = sample.videos
    assert ours.shape == (4, 640, 1152, 3)
    assert torch.equal(torch.from_numpy(ours).permute(0, 3, 1, 2).float(), theirs)
    meta = sample.video_metadata[0]
    assert list(meta.frames_indices) == list(their_meta["frames_indices"]) == [0, 4, 8, 12]
    assert meta.total_num_frames == their_meta["total_num_frames"] and meta.fps == pytest.approx(their_meta["fps"])
    # the processor sees the same tensor values whether they arrive as our uint8 or as qwen-vl-utils' float
    official = tiny_processor.video_processor(videos=[theirs], video_metadata=[their_meta], do_resize=False,
                                              return_tensors="pt", **kwargs)  # fmt: skip
    batch = inputs.collate(tiny_processor, [sample])
    assert torch.equal(batch["video_grid_thw"], official["video_grid_thw"])
    assert torch.equal(batch["pixel_values_videos"], official["pixel_values_videos"])


IMAGE_SIZES = [(480, 640), (720, 1280), (1080, 1920), (2160, 3840), (1920, 1080), (333, 1001), (50, 70)]


@pytest.mark.parametrize("hw", IMAGE_SIZES)
def test_images_match_pil_bicubic_at_smart_resize(qv, hw):
    """TwiFF images: smart_resize (factor 32, the adapter's min/max, no video cap), then PIL bicubic."""
    from PIL import Image

    image = Image.fromarray(noise(1, *hw, seed=hw[0])[0])
    h, w = qv.smart_resize(*hw, factor=32, min_pixels=MIN, max_pixels=MAX)
    expected = np.asarray(image.resize((w, h), Image.Resampling.BICUBIC))
    ours = inputs.resize_image(image, MIN, MAX)
    assert ours.shape == (h, w, 3) and np.array_equal(ours, expected)
    assert np.array_equal(ours, np.asarray(qv.fetch_image({"image": image, "min_pixels": MIN, "max_pixels": MAX}, 16)))


def test_rgba_images_are_composited_on_white():
    from PIL import Image

    rgba = np.zeros((448, 448, 4), np.uint8)  # 448² = 200,704: no resize, so the values can be checked exactly
    rgba[:, :224] = (255, 0, 0, 0)  # transparent red -> white
    rgba[:, 224:] = (255, 0, 0, 128)  # half-transparent red over white
    ours = inputs.resize_image(Image.fromarray(rgba, "RGBA"), MIN, MAX)
    assert ours.shape == (448, 448, 3)
    assert (ours[:, :224] == 255).all()
    assert (ours[:, 224:, 0] == 255).all() and np.abs(ours[:, 224:, 1].astype(int) - 127).max() <= 1


def test_image_markers_are_deleted_from_the_user_text(tiny_processor):
    messages = [
        {"role": "system", "content": "You see <image> tags."},
        {"role": "user", "content": [{"type": "text", "text": "\n<image>What next?<image>\nA. x"}]},
    ]
    text = inputs.prepare_sample(tiny_processor, messages).text
    assert "\nWhat next?\nA. x" in text and text.count("<image>") == 1  # only the system text keeps its marker
    plain = [{"role": "user", "content": "frame_1: <image> go"}]
    assert "frame_1:  go" in inputs.prepare_sample(tiny_processor, plain).text  # spaces around it stay
    assert inputs.strip_image_markers("<image><image>x<image>") == "x"
