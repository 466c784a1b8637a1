"""A slow, obviously-correct latent decoder: one sample, no KV cache, the whole sequence recomputed every step.

It shares no code with future_l1.model.decoder. Positions come from transformers' own `get_rope_index` over the full
sequence (generated tokens are text, so latent steps get sequential positions), and latent inputs are written into
`inputs_embeds` at their positions before every forward.
"""

from __future__ import annotations

import torch


@torch.inference_mode()
def reference_decode(
    model, sample: dict, ids, *, cap: int, fixed: bool, max_new_tokens: int, eos: int, processor=None, head=None
) -> tuple[list[int], list[torch.Tensor]]:
    """Greedy decode of one unpadded sample; returns (generated ids, fed-back vectors of the latent steps)."""
    prompt = sample["input_ids"][0].tolist()
    n_prompt = len(prompt)
    tokens: list[int] = []
    fed: dict[int, torch.Tensor] = {}  # absolute position -> input vector
    in_span, span_len = False, 0
    embed = model.get_input_embeddings()
    for _ in range(max_new_tokens):
        seq = torch.tensor([prompt + tokens])
        embeds = embed(seq).clone()
        for pos, vec in fed.items():
            embeds[0, pos] = vec
        mm = torch.cat([sample["mm_token_type_ids"], torch.zeros(1, len(tokens), dtype=torch.long)], 1)
        rope, _ = model.model.get_rope_index(
            seq,
            mm_token_type_ids=mm,
            video_grid_thw=sample.get("video_grid_thw"),
            image_grid_thw=sample.get("image_grid_thw"),
        )
        pos4 = torch.cat([torch.arange(seq.shape[1])[None, None], rope], 0)
        out = model.model(
            inputs_embeds=embeds,
            position_ids=pos4,
            pixel_values_videos=sample.get("pixel_values_videos"),
            video_grid_thw=sample.get("video_grid_thw"),
            pixel_values=sample.get("pixel_values"),
            image_grid_thw=sample.get("image_grid_thw"),
        )
        hidden = out.last_hidden_state[0, -1]
        logits = model.lm_head(hidden).float()
        if processor is not None:
            logits = processor(torch.tensor([tokens], dtype=torch.long), logits[None])[0]
        choice = int(logits.argmax())
        last = (prompt + tokens)[-1]
        if last == ids.start and not in_span:
            in_span, span_len = True, 0
        token = choice
        if in_span:
            if span_len >= cap or (not fixed and choice == ids.end):
                token, in_span = ids.end, False
            else:
                token, span_len = ids.latent, span_len + 1
                fed[n_prompt + len(tokens)] = head(hidden) if head is not None else hidden
        tokens.append(token)
        if token == eos and token != ids.latent:
            break
    latents = [fed[p] for p in sorted(fed)]
    return tokens, latents
