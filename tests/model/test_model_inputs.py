"""Media decoding and prompt building for the adapter."""

from __future__ import annotations

import numpy as np
import pytest

from future_l1.model import inputs
from future_l1.model.inputs import MediaError, collate, frame_indices, prepare_sample, read_video


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    from future_l1.tasks.scenes import simulate, write_video

    path = tmp_path_factory.mktemp("clip") / "bounce.mp4"
    return str(write_video(simulate("bounce", seed=0, n_frames=20).frames, path, 8.0))


def test_frame_indices_are_even_uniform_and_capped():
    assert frame_indices(100, 32) == np.linspace(0, 99, 32).round().astype(int).tolist()
    assert len(frame_indices(15, 32)) == 14  # capped at the clip, floored to even
    assert len(frame_indices(1, 32)) == 2


def test_decord_and_pyav_agree(clip, monkeypatch):
    frames, meta = read_video(clip, 8)
    assert frames.shape[0] == 8 and frames.dtype == np.uint8 and meta.frames_indices[-1] == 19

    def broken(*_a, **_k):
        raise RuntimeError("decord cannot open this")

    monkeypatch.setattr(inputs, "_read_decord", broken)
    fallback, meta2 = read_video(clip, 8)
    assert meta2.frames_indices == meta.frames_indices
    assert np.abs(fallback.astype(int) - frames.astype(int)).max() <= 2  # same frames, two decoders


def test_unreadable_media_names_the_file(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(MediaError, match=r"bad\.mp4"):
        read_video(bad)
    with pytest.raises(MediaError, match="not found"):
        read_video(tmp_path / "nope.mp4")


def test_per_frame_pixel_bounds_and_official_template(clip, tiny_processor):
    sample = prepare_sample(tiny_processor, [{"role": "user", "content": [{"type": "video", "url": clip}]}],
                            max_num_frames=4, min_pixels=128 * 128, max_pixels=128 * 128)  # fmt: skip
    (video,) = sample.videos
    assert video.shape == (4, 128, 128, 3)  # 64x64 frames upscaled to the per-frame minimum (factor 32)
    batch = collate(tiny_processor, [sample])
    assert batch["video_grid_thw"].tolist() == [[2, 8, 8]]
    # a checkpoint whose template wraps videos the official way is unwrapped (transformers 5 wraps per frame)
    wrapped = (
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{% for c in m['content'] %}{% if c['type'] == "
        "'video' %}<|vision_start|><|video_pad|><|vision_end|>{% endif %}{% endfor %}<|im_end|>\n{% endfor %}"
    )
    original = tiny_processor.chat_template
    tiny_processor.chat_template = wrapped
    try:
        other = prepare_sample(tiny_processor, [{"role": "user", "content": [{"type": "video", "url": clip}]}],
                               max_num_frames=4, min_pixels=128 * 128, max_pixels=128 * 128)  # fmt: skip
    finally:
        tiny_processor.chat_template = original
    assert "<|vision_start|><|video_pad|>" not in other.text and "<|video_pad|>" in other.text


def test_images_are_accepted(tmp_path, tiny_processor):
    from PIL import Image

    path = tmp_path / "frame.png"
    Image.fromarray(np.full((70, 90, 3), 120, np.uint8)).save(path)
    messages = [{"role": "user", "content": [{"type": "image", "url": str(path)}, {"type": "text", "text": "hi"}]}]
    sample = prepare_sample(tiny_processor, messages, min_pixels=64 * 64, max_pixels=96 * 96)
    assert sample.images[0].shape[0] % 32 == 0 and sample.images[0].shape[1] % 32 == 0
    batch = collate(tiny_processor, [sample])
    assert "pixel_values" in batch and batch["image_grid_thw"].shape == (1, 3)


def test_merged_one_sample_batches_equal_one_collated_batch(clip, tiny_processor):
    """The adapter collates each sample in its media thread and pads them together later (`merge_batches`)."""
    import torch
    from PIL import Image

    frames = np.stack([np.full((64, 96, 3), 40 * k, np.uint8) for k in range(4)])
    image = Image.fromarray(np.full((70, 90, 3), 120, np.uint8))
    chats = [
        [{"role": "user", "content": [{"type": "video", "url": clip}, {"type": "text", "text": "What next? " * 7}]}],
        [{"role": "user", "content": [{"type": "video", "video": frames}, {"type": "text", "text": "Next?"}]}],
        [{"role": "user", "content": [{"type": "image", "image": image}, {"type": "text", "text": "And here?"}]}],
    ]
    samples = [
        prepare_sample(tiny_processor, c, max_num_frames=4, min_pixels=64 * 64, max_pixels=96 * 96) for c in chats
    ]
    together = collate(tiny_processor, samples)
    merged = inputs.merge_batches(
        [collate(tiny_processor, [s]) for s in samples], tiny_processor.tokenizer.pad_token_id
    )
    assert set(merged) == set(together)
    for key, value in together.items():
        assert torch.equal(merged[key], value), key
    assert int(together["attention_mask"].sum(-1).min()) < together["attention_mask"].shape[1]  # padding happened
