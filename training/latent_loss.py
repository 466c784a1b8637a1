"""The latent-aligned SFT forward and loss: L = L_CE + λ·L_latent (paper Eq. 1–3; the authors' forward in `src/model/future_l1.py`).

Forward, through public transformers APIs only (no monkey-patching):
1. embed the tokens; run the *frozen* vision tower + merger on the reasoning (future) frames and scatter their merged
   tokens at the `<|latent|>` positions — teacher forcing with the ground-truth future frame. DeepStack features of
   these frames are not used (as in the official code);
2. M-RoPE position ids from `get_rope_index` with the *user* image (or video) grids only, so latent spans get ordinary 1-D text
   positions, the same as at inference time;
3. `Qwen3VLModel.forward(inputs_embeds=…, pixel_values=user images, position_ids=…)`: the model scatters the user
   image features itself (found by the untouched `<|image_pad|>` embeddings) and keeps DeepStack for them.

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
    if "latent_pixel_values" in batch:
        feats = future_frame_targets(model, batch["latent_pixel_values"], batch["latent_grid_thw"])
        targets = torch.cat(feats).to(embeds.dtype)
        mask = batch["latent_mask"]
        if int(mask.sum()) != targets.shape[0]:
            raise ValueError(f"{int(mask.sum())} <|latent|> tokens but {targets.shape[0]} future-frame tokens")
        embeds = embeds.masked_scatter(mask.unsqueeze(-1), targets)
    return embeds


def latent_hidden_states(model, batch: dict, embeds: torch.Tensor, *, all_layers: bool = False):
    """The language model's last hidden state (batch, seq, d) over `embeds`; with `all_layers`, the tuple of every
    layer's (embeddings first), for probes."""
    inner = model.model
    position_ids, _ = inner.get_rope_index(
        batch["input_ids"],
        batch["mm_token_type_ids"],
        image_grid_thw=batch.get("image_grid_thw"),
        video_grid_thw=batch.get("video_grid_thw"),
        attention_mask=batch["attention_mask"],
    )
    out = inner(
        inputs_embeds=embeds,
        attention_mask=batch["attention_mask"],
        position_ids=position_ids,
        pixel_values=batch.get("pixel_values"),
        image_grid_thw=batch.get("image_grid_thw"),
        pixel_values_videos=batch.get("pixel_values_videos"),
        video_grid_thw=batch.get("video_grid_thw"),
        use_cache=False,
        output_hidden_states=all_layers,
    )
    return out.hidden_states if all_layers else out.last_hidden_state


def latent_sft_loss(
    model,
    batch: dict,
    *,
    latent_lambda: float = LATENT_LAMBDA,
    latent_loss: str = "mse",
    mse_reduction: str = "sum",
    selective_head: bool = True,
    aux_head: torch.nn.Module | None = None,
) -> LatentLossOutput:
    """L = L_CE + λ·L_latent; with `aux_head` and aux targets in the batch (text-only SFT with the aux head), the
    latent term is the aux head's loss instead (`training.aux_head`), with the same λ."""
    embeds = latent_inputs_embeds(model, batch)
    hidden = latent_hidden_states(model, batch, embeds)

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
    if aux_head is not None and "aux_pixel_values" in batch:
        from future_l1.training.aux_head import aux_latent_loss

        with torch.no_grad():  # the frozen encoder's tokens of the reasoning frame, as latent SFT's targets
            feats = model.model.get_image_features(batch["aux_pixel_values"], batch["aux_grid_thw"]).pooler_output
        aux = aux_latent_loss(aux_head, hidden, batch["aux_mask"], torch.cat(feats))
        loss = loss + latent_lambda * aux
        aux = aux.detach()
    return LatentLossOutput(loss, ce.detach(), lat.detach(), int(supervised.sum()), n_latent, aux)
