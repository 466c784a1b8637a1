"""GPU smoke test of the latent SFT step: a few optimizer steps of a Qwen3-VL-2B-shaped model with random weights.

Runs the exact loss code of `future-l1 train sft` (`future_l1.training.latent_loss.latent_sft_loss`) on a synthetic
batch laid out like a real one (user image, `<reason>` text, latent spans fed by the frozen vision tower), in bf16 with
gradient checkpointing, and writes peak memory and step times as JSON.

    python bench/sft_smoke.py --tiny                      # CPU, seconds: checks the script itself
    python bench/sft_smoke.py --out $OUT/sft_smoke.json   # GPU: 2B geometry
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

IMAGE_PAD, VIDEO_PAD, VISION_START, VISION_END = 151655, 151656, 151652, 151653
LATENT, LATENT_START, LATENT_END = 151669, 151670, 151671


def qwen3vl_2b_config(tiny: bool):
    """Qwen3-VL-2B geometry (from its published config.json as we recall it; `--tiny` shrinks everything)."""
    from transformers import Qwen3VLConfig

    if tiny:
        text = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                    intermediate_size=128, mrope=[4, 2, 2])  # fmt: skip
        vision = dict(depth=2, hidden_size=64, num_heads=4, intermediate_size=128, deepstack_visual_indexes=[0, 1],
                      num_position_embeddings=256)  # fmt: skip
    else:
        text = dict(hidden_size=2048, num_hidden_layers=28, num_attention_heads=16, num_key_value_heads=8, head_dim=128,
                    intermediate_size=6144, mrope=[24, 20, 20])  # fmt: skip
        vision = dict(depth=24, hidden_size=1024, num_heads=16, intermediate_size=4096,
                      deepstack_visual_indexes=[5, 11, 17], num_position_embeddings=2304)  # fmt: skip
    mrope = text.pop("mrope")
    cfg = Qwen3VLConfig(
        text_config=dict(vocab_size=151936, max_position_embeddings=32768, tie_word_embeddings=True,
                         rope_parameters={"rope_type": "default", "rope_theta": 5e6, "mrope_section": mrope,
                                          "mrope_interleaved": True}, **text),
        vision_config=dict(patch_size=16, spatial_merge_size=2, temporal_patch_size=2, in_channels=3,
                           out_hidden_size=text["hidden_size"], **vision),
        image_token_id=IMAGE_PAD, video_token_id=VIDEO_PAD, vision_start_token_id=VISION_START,
        vision_end_token_id=VISION_END, tie_word_embeddings=True,
    )  # fmt: skip
    cfg.latent_id, cfg.latent_start_id, cfg.latent_end_id = LATENT, LATENT_START, LATENT_END
    return cfg


def synthetic_batch(batch: int, seq_len: int, image_side: int, n_spans: int, latent_side: int, device, seed=0):
    """Token layout of a real example: prompt with one user image, then reason text and latent spans."""
    g = torch.Generator().manual_seed(seed)
    grid_user = (1, image_side // 16, image_side // 16)
    n_user = grid_user[1] * grid_user[2] // 4
    grid_lat = (1, latent_side // 16, latent_side // 16)
    n_lat = grid_lat[1] * grid_lat[2] // 4
    ids, types, labels, lmask = [], [], [], []
    for _ in range(batch):
        prompt = (
            [VISION_START] + [IMAGE_PAD] * n_user + [VISION_END] + torch.randint(0, 150000, (40,), generator=g).tolist()
        )
        answer: list[int] = []
        text_len = max(8, (seq_len - len(prompt) - n_spans * (n_lat + 2)) // (n_spans + 1))
        for s in range(n_spans + 1):
            answer += torch.randint(0, 150000, (text_len,), generator=g).tolist()
            if s < n_spans:
                answer += [LATENT_START] + [LATENT] * n_lat + [LATENT_END]
        seq = torch.tensor(prompt + answer)
        lab = seq.clone()
        lab[: len(prompt)] = -100
        lab[seq == LATENT] = -100
        ids.append(seq), labels.append(lab), lmask.append(seq == LATENT), types.append((seq == IMAGE_PAD).long())
    px_user = torch.randn(batch * grid_user[1] * grid_user[2], 3 * 2 * 16 * 16, generator=g)
    px_lat = torch.randn(batch * n_spans * grid_lat[1] * grid_lat[2], 3 * 2 * 16 * 16, generator=g)
    out = {
        "input_ids": torch.stack(ids), "attention_mask": torch.ones(batch, len(ids[0]), dtype=torch.long),
        "mm_token_type_ids": torch.stack(types), "labels": torch.stack(labels), "latent_mask": torch.stack(lmask),
        "pixel_values": px_user, "image_grid_thw": torch.tensor([grid_user] * batch),
        "latent_pixel_values": px_lat, "latent_grid_thw": torch.tensor([grid_lat] * (batch * n_spans)),
    }  # fmt: skip
    return {k: v.to(device) for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--seq-len", type=int, default=2048)
    ap.add_argument("--image-side", type=int, default=448)
    ap.add_argument("--spans", type=int, default=4)
    ap.add_argument("--latent-side", type=int, default=64, help="64x64 = 4 latent tokens (L_max = 4)")
    ap.add_argument("--no-selective-head", action="store_true")
    ap.add_argument("--out", default="sft_smoke.json")
    args = ap.parse_args()

    from transformers import Qwen3VLForConditionalGeneration

    from future_l1.training.latent_loss import latent_sft_loss

    cuda = torch.cuda.is_available() and not args.tiny
    device = torch.device("cuda" if cuda else "cpu")
    dtype = torch.bfloat16 if cuda else torch.float32
    torch.manual_seed(0)
    cfg = qwen3vl_2b_config(args.tiny)
    cfg._attn_implementation = "sdpa"
    model = Qwen3VLForConditionalGeneration(cfg).to(device=device, dtype=dtype).train()
    model.model.visual.requires_grad_(False)
    if cuda:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-5, betas=(0.9, 0.95), weight_decay=0.1, fused=cuda)
    batch = synthetic_batch(args.batch, args.seq_len, args.image_side, args.spans, args.latent_side, device)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    times, losses = [], []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        out = latent_sft_loss(model, batch, latent_lambda=0.1, selective_head=not args.no_selective_head)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
        losses.append({"ce": round(out.ce.item(), 4), "latent": round(out.latent.item(), 4)})
    result = {
        "device": torch.cuda.get_device_name() if cuda else "cpu",
        "tiny": args.tiny, "dtype": str(dtype), "gradient_checkpointing": cuda,
        "params_total": sum(p.numel() for p in model.parameters()), "params_trainable": sum(p.numel() for p in params),
        "batch": args.batch, "seq_len": int(batch["input_ids"].shape[1]), "latent_tokens": int(batch["latent_mask"].sum()),
        "selective_head": not args.no_selective_head,
        "step_s": [round(t, 4) for t in times], "step_s_median_after_first": round(statistics.median(times[1:] or times), 4),
        "peak_mem_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None,
        "losses": losses, "torch": torch.__version__,
    }  # fmt: skip
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
