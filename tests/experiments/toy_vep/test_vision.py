"""The toy encoder's pretraining (`toy_vep.vision`): its targets, that it teaches the encoder where the ball is in
each frame of a clip, and that it is deterministic."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from future_l1.harness.experiments.toy_vep import vision as toy_vision


def test_token_targets_mark_the_cells_that_hold_the_ball_in_each_frame_in_raster_order():
    from future_l1.harness.experiments.toy_vep.task import COLOUR, RADIUS
    from future_l1.tasks.scenes import Ball, _render

    # 2x2 merged tokens over the 64x64 frame. Clip 1: the ball moves from the top-right cell to the bottom-left one;
    # clip 2: a still on the centre cross
    centres = np.array([[[48.0, 16.0], [16.0, 48.0]], [[32.0, 32.0], [32.0, 32.0]]])
    t = toy_vision.token_targets(centres, (2, 2)).numpy()
    assert t.shape == (8, toy_vision.FEATURES)
    moving, still = t[:4], t[4:]
    ball_pixels = (_render(np.array([[48.0, 16.0]]), [Ball(COLOUR, RADIUS)], 64)[:32, 32:].sum(-1) > 3 * 24).sum()
    assert moving[1, 0] == pytest.approx(4 * ball_pixels / 32**2)  # ×4 scaled share of the cell's rendered pixels
    assert moving[1, 0] == pytest.approx(4 * math.pi * RADIUS**2 / 32**2, rel=0.1)
    assert moving[[0, 2, 3], 0].tolist() == [0, 0, 0]
    assert moving[2, 3] == moving[1, 0] and moving[[0, 1, 3], 3].tolist() == [0, 0, 0]  # second frame: bottom left
    assert np.allclose(moving[:, [1, 2, 4, 5]], [0.5, -0.5, -0.5, 0.5])  # both centres, in [-1, 1], in every token
    assert np.allclose(still[:, 0], still[0, 0]) and still[0, 0] > 0  # shared equally by the four cells
    assert np.allclose(still[:, :3], still[:, 3:]) and np.allclose(still[:, [1, 2]], 0.0)


def test_question_clips_are_fed_as_evaluation_feeds_them():
    """A two-frame clip goes through `model.inputs`' sizing and the video processor: one temporal patch, and the
    patches equal those of the evaluation path for the same frames."""
    from future_l1.model.inputs import Sample, collate
    from future_l1.model.processor import build_processor

    processor = build_processor()
    clips, _ = toy_vision.random_clips(np.random.default_rng(0), 2, still=False)
    patches, grid = toy_vision.encode_clips(processor, clips, 128 * 128, still=False)
    assert grid.tolist() == [[1, 8, 8]] * 2
    from transformers.video_utils import VideoMetadata

    from future_l1.model.inputs import resize_video

    meta = VideoMetadata(total_num_frames=2, fps=8.0, frames_indices=[0, 1])
    sample = Sample(text="<|video_pad|>", videos=[resize_video(clips[0], 128 * 128, 128 * 128)],
                    video_metadata=[meta], images=[])  # fmt: skip
    batch = collate(processor, [sample])
    assert torch.equal(batch["pixel_values_videos"], patches[:64])


@pytest.mark.integration
def test_pretraining_teaches_the_encoder_where_the_ball_is_and_is_deterministic():
    from future_l1.model.processor import build_processor
    from future_l1.model.tiny import build_tiny_model

    processor = build_processor()
    cfg = toy_vision.VisionPretraining(steps=400, n_frames=512, batch_size=32, question_pixels=64 * 64)
    models = [build_tiny_model(0), build_tiny_model(0)]
    before = toy_vision.probe_r2(models[0], processor, 64 * 64, still=True)
    for model in models:
        toy_vision.pretrain_vision(model, processor, cfg, progress=False)
    after = toy_vision.probe_r2(models[0], processor, 64 * 64, still=True)
    assert after > before + 0.15, (before, after)
    first, second = (m.model.visual.state_dict() for m in models)
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert not any(p.requires_grad for p in models[0].model.visual.parameters())  # frozen again, as SFT expects


def test_load_toy_vision_puts_the_cached_encoder_into_any_tiny_model(monkeypatch, tmp_path):
    from future_l1.model.processor import build_processor
    from future_l1.model.tiny import build_tiny_model

    monkeypatch.setenv("FUTURE_L1_CACHE", str(tmp_path))
    cfg = toy_vision.VisionPretraining(steps=3, n_frames=16, batch_size=4, question_pixels=64 * 64)
    saved = toy_vision.pretrained_toy_vision(cfg)
    info = (saved / "pretraining.json").read_text()
    assert "linear_probe_r2" in info and "random_encoder" in info
    model = build_tiny_model(1)  # another seed: its language model stays, its encoder is replaced
    text_before = model.model.language_model.embed_tokens.weight.clone()
    toy_vision.load_toy_vision(model, cfg)
    reference = build_tiny_model(0)
    toy_vision.pretrain_vision(reference, build_processor(), cfg, progress=False)
    loaded, expected = model.model.visual.state_dict(), reference.model.visual.state_dict()
    assert all(torch.equal(v, expected[k]) for k, v in loaded.items())
    assert torch.equal(model.model.language_model.embed_tokens.weight, text_before)
