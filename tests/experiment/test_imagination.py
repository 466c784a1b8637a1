"""`harness.imagination.imagining`: the probe scores a perfect imagination as perfect and a wrong one as wrong."""

from __future__ import annotations

import numpy as np
import torch


def _true_latents(ckpt, split: str, n: int) -> np.ndarray:
    from transformers import AutoProcessor, Qwen3VLForConditionalGeneration

    from future_l1.tasks.toy_vep import TARGET, make_item

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


def test_imagining_scores_the_true_frame_as_perfect_and_another_clips_as_worse(tiny_ckpt, tmp_path):
    from future_l1.harness.imagination import imagining

    true = _true_latents(tiny_ckpt, "val", 40)
    _save(true, tmp_path / "perfect")
    np.savez(tmp_path / "perfect" / "notes.npz", latents=true[0])  # not the adapter's layout: ignored
    perfect = imagining(tiny_ckpt, tmp_path / "perfect", "val")
    assert perfect["items"] == 40 and perfect["squared_error_per_step"] == [0.0] * 4
    assert perfect["quadrant_from_imagined_frame"] == perfect["quadrant_from_true_frame"]
    assert min(perfect["squared_error_of_the_step_mean"]) > 0
    _save(np.roll(true, 1, axis=0), tmp_path / "shifted")  # every item gets its neighbour's future frame
    shifted = imagining(tiny_ckpt, tmp_path / "shifted", "val")
    assert min(shifted["squared_error_per_step"]) > 0
    assert shifted["quadrant_from_true_frame"] == perfect["quadrant_from_true_frame"]  # same read-out, same truth
    _save(true[:5], tmp_path / "few")
    assert imagining(tiny_ckpt, tmp_path / "few", "val") is None  # too few items to fit and score a read-out
