"""Frozen vision features computed once per record (`LatentSFTConfig.frozen_features`).

SFT keeps the vision tower frozen (paper §4), so what it makes of a record never changes: the question's merged
tokens and DeepStack features, the latent targets of the reasoning frames and the aux head's targets. `featurize`
runs the tower on encoded records (a fixed chunk of them per call, in data order: `LatentSFTDataset.encode_all`) and
returns them with those outputs in place of their pixels, plus their M-RoPE positions; `collate` batches them and the
SFT forward skips the tower (`latent_loss`). Same maths as running the tower on every batch; the float rounding
differs, so a run's numbers move slightly.

The features live on the CPU with the encoded record (the loader pins CPU memory), so this suits data that fits in
memory, as the toy experiment's 1,000 records do; a real Future-L1-50K run keeps the default, pixels per batch.
"""

from __future__ import annotations

import inspect

import torch

from future_l1.training.latent_loss import future_frame_targets

# (pixel key, grid key, feature key): the question's images or video, through the tower's merger and DeepStack
QUESTION_VISUALS = (("pixel_values", "image_grid_thw", "image"), ("pixel_values_videos", "video_grid_thw", "video"))
# (pixel key, grid key, feature key): targets, merged tokens only (as `future_frame_targets`)
TARGET_VISUALS = (("latent_pixel_values", "latent_grid_thw", "latent_features"),
                  ("aux_pixel_values", "aux_grid_thw", "aux_features"))  # fmt: skip


def supports_precomputed(model) -> bool:
    """Whether this transformers' Qwen3-VL forward takes precomputed encoder outputs (`mm_encoder_outputs`)."""
    return "mm_encoder_outputs" in inspect.signature(type(model.model).forward).parameters


@torch.no_grad()
def featurize(model, examples: list[dict]) -> list[dict]:
    """`examples` (encoded records) with their pixels replaced by the frozen tower's outputs, one tower call per kind
    of visual for the whole list, and with their M-RoPE positions."""
    inner = model.model
    visual = next(inner.visual.parameters())
    out = [dict(e) for e in examples]

    def question(kind: str):
        encode = inner.get_video_features if kind == "video" else inner.get_image_features

        def run(pixels: torch.Tensor, grid: torch.Tensor):
            got = encode(pixels, grid, return_dict=True)
            return got.pooler_output, got.deepstack_features

        return run

    for pixels, grid, name in QUESTION_VISUALS:
        for e, tokens, deepstack in _per_example([e for e in out if pixels in e], pixels, grid, visual, question(name)):
            e[f"{name}_features"], e[f"{name}_deepstack"] = tokens, torch.stack(deepstack)
    for pixels, grid, name in TARGET_VISUALS:
        targets = lambda px, g: (future_frame_targets(model, px, g), [])  # noqa: E731
        for e, tokens, _ in _per_example([e for e in out if pixels in e], pixels, grid, visual, targets):
            e[name] = tokens
    for e in out:
        grids = {k: e[k].to(visual.device) for k in ("image_grid_thw", "video_grid_thw") if k in e}
        positions, _ = inner.get_rope_index(e["input_ids"][None].to(visual.device),
                                            e["mm_token_type_ids"][None].to(visual.device),
                                            attention_mask=e["attention_mask"][None].to(visual.device), **grids)  # fmt: skip
        e["position_ids"] = positions[:, 0].cpu()
    return out


def _per_example(examples: list[dict], pixels: str, grid: str, visual: torch.Tensor, encode):
    """(example, its merged tokens, its DeepStack layers) for each example, from one `encode(pixels, grids)` call on
    all their pixels (which returns per-item tuples); the pixels are dropped from the examples."""
    if not examples:
        return []
    tokens, deepstack = encode(torch.cat([e.pop(pixels) for e in examples]).to(visual.device, visual.dtype),
                               torch.cat([e[grid] for e in examples]).to(visual.device))  # fmt: skip
    result, at = [], 0
    for e in examples:
        n = len(e[grid])  # the example's images (or clips), in order
        result.append((e, torch.cat(tokens[at : at + n]).cpu(), [torch.cat(d[at : at + n]).cpu() for d in deepstack]))
        at += n
    return result
