"""The toy experiment's probes (`toy_vep.probes`): each scores a perfect imagination as perfect and a wrong one as
wrong, and feeds what it should where it should."""

from __future__ import annotations

import numpy as np
import pytest
import torch


@pytest.fixture(scope="module")
def toy_ckpt():
    """The toy experiment's untrained tiny model (seed 0, the toy vocabulary): the probes' teacher-forced passes
    would spend most of their time in the full vocabulary's output head, 130 times larger."""
    from future_l1.harness.experiments.toy_vep.task import vocabulary_domain
    from future_l1.model.tiny import tiny_checkpoint_dir

    return tiny_checkpoint_dir(0, vocabulary_domain())


def _true_latents(ckpt, split: str, n: int) -> np.ndarray:
    from transformers import AutoProcessor, Qwen3VLForConditionalGeneration

    from future_l1.harness.experiments.toy_vep.task import TARGET, make_item

    model = Qwen3VLForConditionalGeneration.from_pretrained(ckpt).eval()
    processor = AutoProcessor.from_pretrained(ckpt)
    frames = [make_item(split, i).frames[TARGET] for i in range(n)]
    enc = processor.image_processor(images=frames, size={"shortest_edge": 2048, "longest_edge": 4096},
                                    return_tensors="pt")  # fmt: skip
    with torch.no_grad():
        return torch.stack(list(model.model.get_image_features(enc["pixel_values"], enc["image_grid_thw"])
                                .pooler_output)).numpy()  # fmt: skip


def _save(latents: np.ndarray, out, split: str = "test") -> None:
    out.mkdir(parents=True, exist_ok=True)
    for i, x in enumerate(latents):  # the adapter's layout: <task>__<split>__<doc_id>__rank<k>.npz
        np.savez(out / f"futurebench_future_l1__{split}__{i}__rank0.npz", latents=x, span_lengths=np.array([len(x)]))


def test_imagining_scores_the_true_frame_as_perfect_and_another_clips_as_worse(toy_ckpt, tmp_path):
    from future_l1.harness.experiments.toy_vep.probes import imagining

    true = _true_latents(toy_ckpt, "val", 40)
    _save(true, tmp_path / "perfect")
    np.savez(tmp_path / "perfect" / "notes.npz", latents=true[0])  # not the adapter's layout: ignored
    perfect = imagining(toy_ckpt, tmp_path / "perfect", "val")
    assert perfect["items"] == 40 and perfect["squared_error_per_step"] == [0.0] * 4
    assert perfect["answer_from_imagined_frame"] == perfect["answer_from_true_frame"]
    assert perfect["centre_error_px_imagined_frame"] == perfect["centre_error_px_true_frame"]
    assert min(perfect["squared_error_of_the_step_mean"]) > 0
    _save(np.roll(true, 1, axis=0), tmp_path / "shifted")  # every item gets its neighbour's future frame
    shifted = imagining(toy_ckpt, tmp_path / "shifted", "val")
    assert min(shifted["squared_error_per_step"]) > 0
    assert shifted["answer_from_true_frame"] == perfect["answer_from_true_frame"]  # same read-out, same truth
    # the neighbour's ball is elsewhere: its centre reads further off (the tiny model's random encoder reads even
    # true frames roughly; test_vision.py covers the pretrained one)
    assert shifted["centre_error_px_imagined_frame"] > perfect["centre_error_px_true_frame"] + 5
    _save(true[:5], tmp_path / "few")
    assert imagining(toy_ckpt, tmp_path / "few", "val") is None  # too few items to fit and score a read-out


def test_future_in_hidden_probes_the_token_before_the_span_in_both_arms(toy_ckpt, tmp_path):
    import json

    from future_l1.harness.experiments.toy_vep.data import build_train_set
    from future_l1.harness.experiments.toy_vep.probes import future_in_hidden

    train = build_train_set(tmp_path / "train", 24, progress=False)
    latent = future_in_hidden(toy_ckpt, train, text_only=False, question_video_fps=8.0)
    text = future_in_hidden(toy_ckpt, train, text_only=True, question_video_fps=8.0)
    layers = json.loads((toy_ckpt / "config.json").read_text())["text_config"]["num_hidden_layers"] + 1
    for got in (latent, text):
        assert got["items"] == 24
        assert len(got["r2_last_snapshot_centre"]) == len(got["r2_future_centre"]) == layers
        # layer 0 is the probed token's embedding, the same for every item: nothing to read there
        assert got["r2_last_snapshot_centre"][0] <= 0.01 and got["r2_future_centre"][0] <= 0.01
    # both arms' sequences are the same up to the probed token, so the same weights give the same states there
    assert latent == text
    records = json.loads(train.read_text())
    for r in records:
        r["reasoning_image"] = []
        r["conversations"][1]["value"] = r["conversations"][1]["value"].replace(" <image>", "")
    bare = train.with_name("bare.json")
    bare.write_text(json.dumps(records))
    with pytest.raises(ValueError, match="no reasoning frame"):
        future_in_hidden(toy_ckpt, bare, text_only=False, question_video_fps=8.0)


def test_swapping_feeds_the_saved_latents_at_the_span_and_swaps_them_between_clips(toy_ckpt, tmp_path):
    """Fed the true future frames as "imagined" latents, the swap control gives exactly the reading probe's
    teacher-forced accuracy (the same layout, the vectors at the same positions); fed its neighbour's, the reading
    probe's other-frame accuracy; the same latents for every clip change no answer."""
    from future_l1.harness.experiments.toy_vep.data import build_train_set
    from future_l1.harness.experiments.toy_vep.probes import imagining, reading, swapping

    n = 24
    train = build_train_set(tmp_path / "train", n, progress=False)
    true = _true_latents(toy_ckpt, "train", n)
    read = reading(toy_ckpt, train, n=n, question_video_fps=8.0)
    _save(true, tmp_path / "true", "train")
    got = swapping(toy_ckpt, tmp_path / "true", "train", question_video_fps=8.0, batch_size=10)
    assert got["items"] == n and got["own_imagined"] == read["own_frame"]
    _save(np.roll(true, 1, axis=0), tmp_path / "previous", "train")  # item i gets item i-1's frame, as reading does
    previous = swapping(toy_ckpt, tmp_path / "previous", "train", question_video_fps=8.0)
    assert previous["own_imagined"] == read["another_items_frame"]
    # the random tiny model answers one letter whatever it is fed (both reading accuracies are 0.25), so these equalities
    # check the probe's plumbing, not its sensitivity; the toy experiment's trained runs show that (its README)
    assert 0 <= got["other_clips_imagined"] <= 1 and 0 <= got["other_clips_answer_given"] <= 1
    _save(np.repeat(true[:1], n, axis=0), tmp_path / "same", "train")
    same = swapping(toy_ckpt, tmp_path / "same", "train", question_video_fps=8.0)
    assert same["answer_changed"] == 0.0 and same["other_clips_imagined"] == same["own_imagined"]
    _save(true[:5], tmp_path / "few", "train")
    assert swapping(toy_ckpt, tmp_path / "few", "train") is None
    _save(np.zeros((n, 0, true.shape[-1]), np.float32), tmp_path / "no-span", "train")  # no span opened
    assert swapping(toy_ckpt, tmp_path / "no-span", "train") is None
    assert imagining(toy_ckpt, tmp_path / "no-span", "train") is None


def test_the_other_clip_is_the_next_with_another_answer():
    from future_l1.harness.experiments.toy_vep.probes import _donors

    assert _donors(list("ABCDABCD")).tolist() == [1, 2, 3, 4, 5, 6, 7, 0]  # complete sets: the next item
    assert _donors(list("AABBA")).tolist() == [2, 2, 4, 4, 2]  # items missing: skip to another answer
    assert _donors(list("AAA")).tolist() == [1, 2, 0]  # nothing differs: the next item
