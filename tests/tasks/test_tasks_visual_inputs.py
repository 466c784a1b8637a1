"""What the task messages become in front of the model: the official adapter's inputs (issue 11, items 2 and 3)."""

from __future__ import annotations

import io

import numpy as np
import pytest

from future_l1.model import inputs
from future_l1.tasks.futurebench import scoring as fb
from future_l1.tasks.twiffbench import scoring as twiff


@pytest.fixture(scope="module")
def processor(tiny_ckpt):
    from transformers import AutoProcessor

    return AutoProcessor.from_pretrained(tiny_ckpt)


def png_bytes(array: np.ndarray, mode: str) -> dict:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array, mode).save(buf, format="PNG")
    return {"bytes": buf.getvalue(), "path": None}


def test_twiff_question_images_are_the_official_fetch_image_output(processor):
    """RGBA onto white, smart_resize (factor 32, 200,704–1,605,632 pixels), PIL bicubic: qwen-vl-utils' own result.

    Images have no per-frame video cap: a 720p image keeps 704×1280 (901,120 pixels > 786,432)."""
    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 256, (300, 500, 4), dtype=np.uint8)
    rgba[:40, :, 3] = 0  # a fully transparent band
    rgb = rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    doc = {"question": "frame_1: <image>\nframe_2: <image>\nWhat happens next?",
           "question_images": [png_bytes(rgba, "RGBA"), png_bytes(rgb, "RGB")]}  # fmt: skip
    sample = inputs.prepare_sample(processor, twiff.doc_to_messages(doc, {"pre_prompt": "", "post_prompt": ""}))
    qv = inputs.qwen_vision()
    expected = [
        np.asarray(qv.fetch_image({"image": im, "min_pixels": 200_704, "max_pixels": 1_605_632}, image_patch_size=16))
        for im in twiff.doc_to_visual(doc)
    ]
    assert [im.shape for im in sample.images] == [e.shape for e in expected] == [(352, 608, 3), (704, 1280, 3)]
    for ours, theirs in zip(sample.images, expected, strict=True):
        assert np.array_equal(ours, theirs)
    assert (sample.images[0][:40] == 255).all()  # the transparent band is white, not black
    assert "frame_1: frame_2: What happens next?" in sample.text and "<image>" not in sample.text


def test_futurebench_question_image_markers_are_deleted(processor):
    frames = np.zeros((4, 64, 64, 3), np.uint8)
    doc = {"video": "unused.mp4", "qa": {"Question": "<image>What happens next?",
           "Options": {k: f"option {k}" for k in "ABCD"}, "Answer": "A"}}  # fmt: skip
    messages = fb.doc_to_messages(doc, {"pre_prompt": "", "post_prompt": "Answer."})
    assert "\n<image>What happens next?" in messages[-1]["content"][-1]["text"]  # the task text keeps it, as official
    messages[-1]["content"][0] = {"type": "video", "video": frames}  # frames instead of the clip, for speed
    text = inputs.prepare_sample(processor, messages, min_pixels=4096, max_pixels=4096).text
    assert "\nWhat happens next?\nA. option A" in text and "<image>" not in text
