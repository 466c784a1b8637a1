"""SFT with the question frames as a video (`question_video_fps`): the training prompt is the FutureBench evaluation
prompt token for token and pixel for pixel, and the latent SFT loss trains on it."""

from __future__ import annotations

import json

import pytest
import torch

PIXELS = 128 * 128  # the toy experiment's question size


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    from future_l1.harness.experiments.toy_vep.data import toy_record
    from future_l1.harness.experiments.toy_vep.task import build_eval_set
    from future_l1.model.processor import build_processor
    from future_l1.model.tokens import LatentIds
    from future_l1.training.data import load_records
    from future_l1.training.frames import FrameCache

    root = tmp_path_factory.mktemp("toy")
    proc = build_processor()
    proc.image_processor.size = {"shortest_edge": PIXELS, "longest_edge": PIXELS}
    eval_dir = build_eval_set(root / "eval", "val", 2, progress=False)
    records = [toy_record(i, root / "train" / "videos", split="val") for i in range(2)]
    (root / "train" / "train.json").write_text(json.dumps(records))
    loaded = load_records(root / "train" / "train.json").records
    cache = FrameCache()
    return proc, LatentIds.from_tokenizer(proc.tokenizer), eval_dir, loaded, [r.load_frames(cache) for r in loaded]


def _encoder(proc, ids, **kwargs):
    from future_l1.model.protocol import FUTURE_L1_SYSTEM_PROMPT
    from future_l1.training.latent_batch import LatentEncoder

    return LatentEncoder(proc, ids, max_latent_token=4, system_prompt=FUTURE_L1_SYSTEM_PROMPT, **kwargs)


def _eval_batch(proc, eval_dir, index: int) -> dict:
    """The adapter's inputs for toy item `index`: the futurebench_future_l1 messages through `model.inputs`."""
    from future_l1.harness.experiments.toy_vep.task import prompt_text
    from future_l1.model.inputs import collate, prepare_sample
    from future_l1.tasks.common import future_l1_messages
    from future_l1.tasks.prompts import FUTUREBENCH_FUTURE_L1_POST_PROMPT

    video = str(eval_dir / "first_part_video" / f"toy_{index:04d}.mp4")
    messages = future_l1_messages("video", [video], prompt_text(FUTUREBENCH_FUTURE_L1_POST_PROMPT))
    return collate(proc, [prepare_sample(proc, messages, max_num_frames=4, min_pixels=PIXELS, max_pixels=PIXELS)])


@pytest.mark.parametrize("index", [0, 1])
def test_training_prompt_is_the_evaluation_prompt(toy, index):
    from future_l1.harness.experiments.toy_vep.task import FPS

    proc, ids, eval_dir, records, frames = toy
    ex = _encoder(proc, ids, question_video_fps=FPS).encode(records[index], *frames[index])
    ev = _eval_batch(proc, eval_dir, index)
    prompt = ev["input_ids"][0]
    assert torch.equal(ex["input_ids"][: len(prompt)], prompt)  # everything up to "<|im_start|>assistant\n"
    assert torch.equal(ex["mm_token_type_ids"][: len(prompt)], ev["mm_token_type_ids"][0])
    assert torch.equal(ex["video_grid_thw"], ev["video_grid_thw"])
    assert torch.equal(ex["pixel_values_videos"], ev["pixel_values_videos"])
    assert "pixel_values" not in ex  # no question images
    # the image layout of Future-L1-50K (the default) is a different prompt: that mismatch is what the option removes
    images = _encoder(proc, ids).encode(records[index], *frames[index])
    assert not torch.equal(images["input_ids"][: len(prompt)], prompt)


def test_latent_sft_trains_on_video_questions(toy):
    from future_l1.harness.experiments.toy_vep.task import FPS
    from future_l1.model.tiny import build_tiny_model
    from future_l1.training.latent_batch import collate
    from future_l1.training.latent_loss import latent_sft_loss

    proc, ids, _, records, frames = toy
    enc = _encoder(proc, ids, question_video_fps=FPS)
    batch = collate([enc.encode(r, *f) for r, f in zip(records, frames, strict=True)], proc.tokenizer.pad_token_id)
    assert batch["video_grid_thw"].shape == (2, 3) and batch["latent_grid_thw"].shape == (2, 3)
    model = build_tiny_model(0).train()
    model.model.visual.requires_grad_(False)
    out = latent_sft_loss(model, batch, latent_lambda=0.1)
    assert torch.isfinite(out.loss) and out.n_latent == 8
    out.loss.backward()
    assert model.model.language_model.layers[0].self_attn.q_proj.weight.grad.abs().sum() > 0
    # the video reaches the model: other question pixels change the loss
    changed = dict(batch, pixel_values_videos=batch["pixel_values_videos"].flip(0))
    assert latent_sft_loss(model, changed, latent_lambda=0.1).ce != out.ce


def test_question_video_fps_must_be_a_positive_rate():
    from future_l1.training.config import LatentSFTConfig

    with pytest.raises(ValueError, match="question_video_fps"):
        LatentSFTConfig(output_dir="x", question_video_fps=0.0)
    assert LatentSFTConfig(output_dir="x", question_video_fps=8.0).question_video_fps == 8.0
