"""Latent rollouts for LA-DAPO: our `LatentDecoder` sampling n completions per prompt, with what RL needs per sample.

Per rollout: prompt ids (unpadded), completion ids, per-token sampling log-probs (log softmax(logits/T) of the
emitted id, TRL's convention), the vectors fed at each latent step (the recorded latents, [T_i, H]), span lengths,
and `env_mask` (TRL's name): 0 for `<|latent|>` fillers (their id is forced, the model chose nothing) and for
forced `<|latent_end|>` (at the span cap, and every end in fixed-budget mode), 1 elsewhere. With the optional latent
log-prob term the fillers stay in the loss (`keep_latent_positions`). The vision tensors are kept once per prompt
and shared by its n rollouts, so the policy, old-policy and reference forwards see the same video.

The returned dict carries TRL's `rollout_func` keys (`prompt_ids`, `completion_ids`, `logprobs`, `env_mask`) plus
ours; the trainer calls it directly (dynamic sampling needs groups, see `sampling.py`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from future_l1.model.decoder import GenerationSettings, LatentBudget, LatentDecoder
from future_l1.model.inputs import collate, prepare_sample
from future_l1.model.tokens import LatentIds

VISION_KEYS = ("pixel_values", "image_grid_thw", "pixel_values_videos", "video_grid_thw")
MC_SUFFIX = "Please provide only the single option letter within the <answer> </answer> tags."


def row_messages(row: dict, system_prompt: str | None) -> list[dict]:
    """Chat messages of an RL row (`problem`, JSON `media`): `<image>` / `<video>` markers bind the media in order;
    without markers the media go before the text (EasyR1's rule, the authors' `RL_v2/verl/utils/dataset.py`)."""
    media = json.loads(row.get("media") or "[]")
    text = row["problem"]
    content: list[dict] = []
    pieces = _split_markers(text)
    if not any(p in ("<image>", "<video>") for p in pieces):
        content = [_media_item(m) for m in media] + [{"type": "text", "text": text}]
    else:
        queue = list(media)
        for piece in pieces:
            if piece in ("<image>", "<video>"):
                if not queue:
                    raise ValueError(f"row {row.get('id')}: more {piece} markers than media")
                content.append(_media_item(queue.pop(0)))
            elif piece:
                content.append({"type": "text", "text": piece})
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return [*messages, {"role": "user", "content": content}]


def _split_markers(text: str) -> list[str]:
    import re

    return re.split(r"(<image>|<video>)", text)


_POOLS = None


def _media_item(m: dict) -> dict:
    """A chat content item; a pool frame (`video` + `slot`) is decoded from the shared 8-frame keyframe pool."""
    global _POOLS
    kind = m["type"]
    if "slot" in m:
        from future_l1.training.frames import FrameCache

        _POOLS = _POOLS or FrameCache(64)
        return {"type": "image", "image": _POOLS.pool(m["video"])[int(m["slot"])]}
    return {"type": kind, kind: m["path"]}


@dataclass
class RolloutSettings:
    num_generations: int = 8
    temperature: float = 0.9
    top_p: float = 0.99
    max_new_tokens: int = 2048
    batch_size: int = 64  # rows decoded together
    keep_latent_positions: bool = False  # True with the latent log-prob term: fillers stay in the loss
    max_num_frames: int = 32
    min_pixels: int | None = None
    max_pixels: int | None = None


class LatentRollout:
    def __init__(self, processor, latent_ids: LatentIds, budget: LatentBudget, settings: RolloutSettings,
                 head: torch.nn.Module | None = None, system_prompt: str | None = None):  # fmt: skip
        self.processor, self.latent_ids, self.budget = processor, latent_ids, budget
        self.settings, self.head, self.system_prompt = settings, head, system_prompt
        # Optional `(generated ids, logits) -> logits` applied before sampling, e.g. a logit bias (the authors biased
        # the image pad token by −100); the recorded log-probs stay the model's own, as TRL recomputes them.
        self.logits_processor = None

    def encode(self, row: dict) -> dict:
        """One prompt: its unpadded ids, mm_token_type_ids and vision tensors."""
        kw = {"max_num_frames": self.settings.max_num_frames}
        if self.settings.min_pixels:
            kw["min_pixels"] = self.settings.min_pixels
        if self.settings.max_pixels:
            kw["max_pixels"] = self.settings.max_pixels
        sample = prepare_sample(self.processor, row_messages(row, self.system_prompt), **kw)
        enc = collate(self.processor, [sample])
        keep = enc["attention_mask"][0].bool()
        return {
            "prompt_ids": enc["input_ids"][0][keep],
            "mm_token_type_ids": enc["mm_token_type_ids"][0][keep],
            "vision": {k: enc[k] for k in VISION_KEYS if k in enc},
        }

    def __call__(self, model, rows: Sequence[dict], seed: int = 0) -> dict:
        """Sample `num_generations` completions for each row (rows are distinct prompts); outputs are group-major."""
        n = self.settings.num_generations
        encoded = [self.encode(r) for r in rows]
        flat = [(g, e) for g, e in enumerate(encoded) for _ in range(n)]
        decoder = LatentDecoder(model, self.processor.tokenizer, self.latent_ids, self.budget, head=self.head)
        gen = GenerationSettings(
            max_new_tokens=self.settings.max_new_tokens, temperature=self.settings.temperature,
            top_p=self.settings.top_p, do_sample=True, seed=seed, return_latents=True, return_logprobs=True,
        )  # fmt: skip
        outs = []
        step = max(1, self.settings.batch_size)
        for start in range(0, len(flat), step):
            chunk = flat[start : start + step]
            batch = self._batch([e for _, e in chunk])
            gen.seed = seed + start
            outs.extend(decoder.generate(batch, gen, self.logits_processor))
        result: dict[str, list] = {k: [] for k in (
            "prompt_ids", "completion_ids", "logprobs", "env_mask", "latents", "span_lengths", "text",
            "finish_reason", "group", "prompt_mm_token_type_ids", "vision",
        )}  # fmt: skip
        for (g, e), out in zip(flat, outs, strict=True):
            result["prompt_ids"].append(e["prompt_ids"].tolist())
            result["completion_ids"].append(list(out.token_ids))
            result["logprobs"].append(list(out.logprobs))
            result["env_mask"].append(self.env_mask(out.token_ids))
            result["latents"].append(out.latents if out.latents is not None else torch.zeros(0, 1))
            result["span_lengths"].append(list(out.span_lengths))
            result["text"].append(out.text)
            result["finish_reason"].append(out.finish_reason)
            result["group"].append(g)
            result["prompt_mm_token_type_ids"].append(e["mm_token_type_ids"])
            result["vision"].append(e["vision"])
        return result

    def _batch(self, encoded: Sequence[dict]) -> dict[str, torch.Tensor]:
        pad = self.processor.tokenizer.pad_token_id
        width = max(len(e["prompt_ids"]) for e in encoded)
        ids = torch.full((len(encoded), width), pad, dtype=torch.long)
        mask = torch.zeros(len(encoded), width, dtype=torch.long)
        mm = torch.zeros(len(encoded), width, dtype=torch.long)
        for i, e in enumerate(encoded):
            k = len(e["prompt_ids"])
            ids[i, width - k :], mask[i, width - k :], mm[i, width - k :] = e["prompt_ids"], 1, e["mm_token_type_ids"]
        batch = {"input_ids": ids, "attention_mask": mask, "mm_token_type_ids": mm}
        batch.update(cat_vision([e["vision"] for e in encoded]))
        return batch

    def env_mask(self, token_ids: Sequence[int]) -> list[int]:
        """0 at latent fillers (unless kept for the latent log-prob term) and at forced span ends, 1 elsewhere."""
        ids, cap, fixed = self.latent_ids, self.budget.cap, self.budget.fixed
        mask, run, prev = [], 0, None
        for tok in token_ids:
            if tok == ids.latent:
                run += 1
                mask.append(1 if self.settings.keep_latent_positions else 0)
            else:
                in_span = prev in (ids.latent, ids.start)
                mask.append(0 if tok == ids.end and in_span and (fixed or run >= cap) else 1)
                run = 0
            prev = tok
        return mask


def cat_vision(items: Sequence[dict]) -> dict[str, torch.Tensor]:
    """Concatenate per-sample vision tensors in row order (Qwen3-VL scatters them in that order)."""
    out = {}
    for key in VISION_KEYS:
        present = [v[key] for v in items if key in v]
        if present:
            out[key] = torch.cat(present)
    return out
