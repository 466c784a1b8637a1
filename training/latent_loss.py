"""The latent-aligned SFT forward and loss: L = L_CE + λ·L_latent (paper Eq. 1–3; the authors' forward in `src/model/future_l1.py`).

Forward, through public transformers APIs only (no monkey-patching):
1. embed the tokens; run the *frozen* vision tower + merger on the reasoning (future) frames and scatter their merged
   tokens at the `<|latent|>` positions — teacher forcing with the ground-truth future frame. DeepStack features of
   these frames are not used (as in the official code);
2. M-RoPE position ids from `get_rope_index` with the *user* image (or video) grids only, so latent spans get ordinary 1-D text
   positions, the same as at inference time;
3. `Qwen3VLModel.forward(inputs_embeds=…, pixel_values=user images, position_ids=…)`: the model scatters the user
   image features itself (found by the untouched `<|image_pad|>` embeddings) and keeps DeepStack for them.

Two options change only the work, not the maths (`LatentSFTConfig`): `frozen_features` feeds the tower's outputs
computed once per record (`training.frozen_features`) instead of pixels, and `shared_prefix` runs the text every row
starts with (the system prompt) once per batch.

Losses on the post-norm last hidden state h:
* CE: next-token cross-entropy at supervised positions only. The LM head is applied to those rows alone (the
  "selective head"): the same value as full logits, about 3x faster on CPU with the 151k vocabulary.
* latent: for each latent position t, the prediction h_{t−1} against the target e_t (the vision token fed at t).
  `mse_reduction="sum"` (default) is the paper's Eq. 3, (1/|S|) Σ_t ||h_{t−1} − e_t||²; `"mean"` is the released
  code (torch `mse_loss`, which also averages over the hidden size, i.e. d times smaller for the same λ).
  `latent_loss="cosine"` is the code's "sim" option, 1 − mean cos(h_{t−1}, e_t).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from future_l1.training.latent_batch import IGNORE, latent_frame_inputs

LATENT_LAMBDA = 0.1  # λ of Eq. 1 (paper Table 3; the released scripts use 0.2): the one default, SFT's and the toy's


@dataclass
class LatentLossOutput:
    loss: torch.Tensor
    ce: torch.Tensor
    latent: torch.Tensor
    n_ce_tokens: int
    n_latent: int
    aux: torch.Tensor | None = None  # the aux head's loss (training/aux_head.py), where there is one


def future_frame_targets(model, pixel_values: torch.Tensor, grid_thw: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The latent targets of future frames: the frozen vision tower + merger's merged tokens, one (tokens, d) tensor
    per frame (no DeepStack features, as in the official code)."""
    with torch.no_grad():
        return tuple(model.model.get_image_features(pixel_values, grid_thw).pooler_output)


def future_frame_embeddings(model, processor, frames: list, max_latent_token: int) -> list[torch.Tensor]:
    """SFT's latent targets for raw future frames (HWC uint8 arrays or images): resized as `LatentEncoder` resizes
    them, encoded as `latent_inputs_embeds` encodes them. Used wherever imagined latents are scored against the truth
    (latent diagnostics, the toy experiment's probes), so they score against what SFT aligned the latents with."""
    enc = latent_frame_inputs(processor, frames, max_latent_token)
    visual = next(model.model.visual.parameters())
    pixels = enc["pixel_values"].to(device=visual.device, dtype=visual.dtype)  # no-op for SFT's CPU float32 runs
    return list(future_frame_targets(model, pixels, enc["image_grid_thw"].to(visual.device)))


def latent_inputs_embeds(model, batch: dict) -> torch.Tensor:
    """Token embeddings with the frozen vision encoder's future-frame tokens scattered at `<|latent|>` positions."""
    inner = model.model
    embeds = inner.get_input_embeddings()(batch["input_ids"])
    if "latent_features" in batch or "latent_pixel_values" in batch:
        if "latent_features" in batch:  # `frozen_features`: the tower's outputs, computed once per record
            targets = batch["latent_features"].to(embeds.dtype)
        else:
            targets = torch.cat(future_frame_targets(model, batch["latent_pixel_values"], batch["latent_grid_thw"]))
            targets = targets.to(embeds.dtype)
        mask = batch["latent_mask"]
        if int(mask.sum()) != targets.shape[0]:
            raise ValueError(f"{int(mask.sum())} <|latent|> tokens but {targets.shape[0]} future-frame tokens")
        embeds = embeds.masked_scatter(mask.unsqueeze(-1), targets)
    return embeds


def latent_hidden_states(model, batch: dict, embeds: torch.Tensor, *, all_layers: bool = False,
                         share_prefix: bool = False):  # fmt: skip
    """The language model's last hidden state (batch, seq, d) over `embeds`; with `all_layers`, the tuple of every
    layer's (embeddings first), for probes. With `share_prefix`, the leading text every row shares (the system
    prompt) runs once and its KV cache is repeated for the rows (`shared_prefix_length`): same maths, less compute."""
    inner = model.model
    positions = batch.get("position_ids")
    if positions is None:
        positions, _ = inner.get_rope_index(
            batch["input_ids"],
            batch["mm_token_type_ids"],
            image_grid_thw=batch.get("image_grid_thw"),
            video_grid_thw=batch.get("video_grid_thw"),
            attention_mask=batch["attention_mask"],
        )
    precomputed = encoder_outputs(batch)
    visual = {"mm_encoder_outputs": precomputed} if precomputed else {
        "pixel_values": batch.get("pixel_values"), "image_grid_thw": batch.get("image_grid_thw"),
        "pixel_values_videos": batch.get("pixel_values_videos"), "video_grid_thw": batch.get("video_grid_thw"),
    }  # fmt: skip
    prefix = shared_prefix_length(batch, embeds, positions) if share_prefix and not all_layers else 0
    if prefix:
        return _hidden_with_shared_prefix(inner, batch, embeds, positions, visual, prefix)
    out = inner(
        inputs_embeds=embeds,
        attention_mask=batch["attention_mask"],
        position_ids=positions,
        use_cache=False,
        output_hidden_states=all_layers,
        **visual,
    )
    return out.hidden_states if all_layers else out.last_hidden_state


def encoder_outputs(batch: dict) -> dict | None:
    """The batch's precomputed question features as Qwen3-VL's `mm_encoder_outputs`, or None if it carries pixels."""
    from transformers.models.qwen3_vl.modeling_qwen3_vl import BaseModelOutputWithDeepstackFeatures

    outputs = {}
    for name in ("image", "video"):  # `frozen_features` keys: <name>_features, <name>_deepstack
        if f"{name}_features" in batch:
            deepstack = batch[f"{name}_deepstack"]
            outputs[name] = BaseModelOutputWithDeepstackFeatures(
                pooler_output=(batch[f"{name}_features"],), deepstack_features=[(layer,) for layer in deepstack]
            )
    return outputs or None


MIN_SHARED_PREFIX = 16  # a shorter shared prefix saves less than its own forward costs


def shared_prefix_length(batch: dict, embeds: torch.Tensor, positions: torch.Tensor) -> int:
    """Leading positions where every row holds the same attended text token (no image, video or latent), embedding
    and position alike; 0 if fewer than `MIN_SHARED_PREFIX`, for one row, or if it is the whole sequence."""
    ids = batch["input_ids"]
    rows, length = ids.shape
    if rows < 2:
        return 0
    same = (ids == ids[:1]).all(0) & batch["attention_mask"].bool().all(0) & (batch["mm_token_type_ids"] == 0).all(0)
    same &= ~batch["latent_mask"].any(0) & (positions == positions[:, :1]).all(0).all(0)
    n = int(same.int().cumprod(0).sum())
    if n < MIN_SHARED_PREFIX or n >= length or not torch.equal(embeds[:, :n], embeds[:1, :n].expand(rows, -1, -1)):
        return 0
    return n


def _cache_argument(module) -> str:
    """The name this transformers gives the KV cache argument (`cache` in 5.24, `past_key_values` before)."""
    import inspect

    return "cache" if "cache" in inspect.signature(type(module).forward).parameters else "past_key_values"


def _hidden_with_shared_prefix(inner, batch: dict, embeds: torch.Tensor, positions: torch.Tensor, visual: dict,
                               prefix: int) -> torch.Tensor:  # fmt: skip
    """Last hidden states with the first `prefix` positions run for one row; the rest attends to its repeated cache
    (gradients flow through it, summed over the rows, as they would from each row's own copy)."""
    from transformers import DynamicCache

    text = inner.language_model
    rows = embeds.shape[0]
    cache = DynamicCache(config=text.config)
    head = text(inputs_embeds=embeds[:1, :prefix], attention_mask=batch["attention_mask"][:1, :prefix],
                position_ids=positions[:, :1, :prefix], use_cache=True,
                **{_cache_argument(text): cache}).last_hidden_state  # fmt: skip
    if cache.get_seq_length() != prefix:  # gradient checkpointing turns the cache off during training
        raise RuntimeError("shared_prefix: the prefix's KV cache was not kept; turn gradient checkpointing off")
    cache.batch_repeat_interleave(rows)
    tail = inner(inputs_embeds=embeds[:, prefix:], attention_mask=batch["attention_mask"],
                 position_ids=positions[:, :, prefix:], use_cache=True, **{_cache_argument(inner): cache},
                 **visual).last_hidden_state  # fmt: skip
    return torch.cat([head.expand(rows, -1, -1), tail], dim=1)


def latent_sft_loss(
    model,
    batch: dict,
    *,
    latent_lambda: float = LATENT_LAMBDA,
    latent_loss: str = "mse",
    mse_reduction: str = "sum",
    selective_head: bool = True,
    aux_head: torch.nn.Module | None = None,
    share_prefix: bool = False,
) -> LatentLossOutput:
    """L = L_CE + λ·L_latent; with `aux_head` and aux targets in the batch (text-only SFT with the aux head), the
    latent term is the aux head's loss instead (`training.aux_head`), with the same λ."""
    embeds = latent_inputs_embeds(model, batch)
    hidden = latent_hidden_states(model, batch, embeds, share_prefix=share_prefix)

    labels = batch["labels"][:, 1:]
    prev = hidden[:, :-1]
    supervised = labels != IGNORE
    if selective_head:
        logits = model.lm_head(prev[supervised]).float()
        ce = F.cross_entropy(logits, labels[supervised])
    else:
        logits = model.lm_head(prev).float()
        ce = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=IGNORE)

    at_latent = batch["latent_mask"][:, 1:]
    n_latent = int(at_latent.sum())
    if n_latent:
        pred = prev[at_latent].float()
        target = embeds[:, 1:][at_latent].detach().float()
        if latent_loss == "mse":
            sq = (pred - target).pow(2)
            lat = sq.sum(-1).mean() if mse_reduction == "sum" else sq.mean()
        elif latent_loss == "cosine":
            lat = 1 - F.cosine_similarity(pred, target, dim=-1).mean()
        else:
            raise ValueError(f"latent_loss must be 'mse' or 'cosine', not {latent_loss!r}")
    else:
        lat = hidden.new_zeros((), dtype=torch.float32)
    loss = ce + latent_lambda * lat if latent_lambda else ce
    aux = None
    if aux_head is not None and ("aux_pixel_values" in batch or "aux_features" in batch):
        from future_l1.training.aux_head import aux_latent_loss

        if "aux_features" in batch:  # `frozen_features`
            targets = batch["aux_features"]
        else:  # the frozen encoder's tokens of the reasoning frame, as latent SFT's targets
            targets = torch.cat(future_frame_targets(model, batch["aux_pixel_values"], batch["aux_grid_thw"]))
        aux = aux_latent_loss(aux_head, hidden, batch["aux_mask"], targets)
        loss = loss + latent_lambda * aux
        aux = aux.detach()
    return LatentLossOutput(loss, ce.detach(), lat.detach(), int(supervised.sum()), n_latent, aux)
