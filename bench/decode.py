"""Decode throughput: transformers' generate (no latents) vs our LatentDecoder (latent spans forced).

A Qwen3-VL-8B-shaped model with random bf16 weights decodes from one 32-frame 448×448 video (3,136 video tokens)
at batch 1 and 8. Reported per configuration: prefill seconds and decode steps per second (per row and over the
batch), as a Markdown table on stdout and JSON under $OUT (or --out).

    python bench/decode.py                 # GPU, the 8B geometry
    python bench/decode.py --tiny          # CPU smoke run with a tiny model (used by the tests)

Inputs are built directly (token layout of the Qwen3-VL processor: per 2-frame group `<t seconds><|vision_start|>
196×<|video_pad|><|vision_end|>`, random pixel patches), so no tokenizer or processor files are needed on the GPU box.
Latent spans: `<|latent_start|>` is forced every `--span-every` generated tokens; fixed budget `--latent-tokens`.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

VIDEO_PAD, VISION_START, VISION_END, IM_END, PAD = 151656, 151652, 151653, 151645, 151643
LATENT, LATENT_START, LATENT_END = 151669, 151670, 151671


def build_config(tiny: bool):
    from transformers import Qwen3VLConfig

    if tiny:
        text = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                    num_key_value_heads=2, head_dim=16,
                    rope_parameters={"rope_type": "default", "rope_theta": 5e6, "mrope_section": [4, 2, 2],
                                     "mrope_interleaved": True})  # fmt: skip
        vision = dict(depth=2, hidden_size=64, intermediate_size=128, num_heads=4, out_hidden_size=64,
                      num_position_embeddings=256, deepstack_visual_indexes=[0, 1])  # fmt: skip
    else:  # Qwen3-VL-8B geometry
        text = dict(hidden_size=4096, intermediate_size=12288, num_hidden_layers=36, num_attention_heads=32,
                    num_key_value_heads=8, head_dim=128,
                    rope_parameters={"rope_type": "default", "rope_theta": 5e6, "mrope_section": [24, 20, 20],
                                     "mrope_interleaved": True})  # fmt: skip
        vision = dict(depth=27, hidden_size=1152, intermediate_size=4304, num_heads=16, out_hidden_size=4096,
                      num_position_embeddings=2304, deepstack_visual_indexes=[8, 16, 24])  # fmt: skip
    return Qwen3VLConfig(
        text_config=dict(vocab_size=151936, max_position_embeddings=32768, tie_word_embeddings=False,
                         eos_token_id=IM_END, pad_token_id=PAD, **text),
        vision_config=dict(patch_size=16, spatial_merge_size=2, temporal_patch_size=2, **vision),
        image_token_id=151655, video_token_id=VIDEO_PAD, vision_start_token_id=VISION_START,
        vision_end_token_id=VISION_END, tie_word_embeddings=False,
    )  # fmt: skip


def build_inputs(batch: int, frames: int, size: int, device, dtype, seed: int = 0) -> dict[str, torch.Tensor]:
    """The processor's layout for one video, repeated `batch` times, with random pixel patches."""
    gen = torch.Generator().manual_seed(seed)
    groups, side = frames // 2, size // 16
    per_group = (side // 2) ** 2
    prefix = [151644, 8948, 198, 2610, 525, 264, 10950, 17847, 13, IM_END, 198, 151644, 872, 198]
    ids = list(prefix)
    for g in range(groups):
        ids += [27, 15 + g % 10, 13, 20, 6486, 29] + [VISION_START] + [VIDEO_PAD] * per_group + [VISION_END]
    ids += [*torch.randint(1000, 50000, (40,), generator=gen).tolist(), IM_END, 198, 151644, 77091, 198]
    input_ids = torch.tensor([ids] * batch)
    patches = torch.randn(groups * side * side, 3 * 2 * 16 * 16, generator=gen)
    return {
        "input_ids": input_ids.to(device),
        "attention_mask": torch.ones_like(input_ids).to(device),
        "mm_token_type_ids": (input_ids == VIDEO_PAD).long().mul(2).to(device),
        "pixel_values_videos": patches.repeat(batch, 1).to(device, dtype),
        "video_grid_thw": torch.tensor([[groups, side, side]] * batch).to(device),
    }


class _NoTokenizer:
    """The decoder only needs ids and a decode() for the result text; the bench does not read text."""

    pad_token_id, eos_token_id = PAD, IM_END

    def decode(self, ids, skip_special_tokens=False):
        return ""


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def bench_generate(model, inputs, steps: int, device) -> dict:
    def run(n):
        _sync(device)
        t = time.perf_counter()
        model.generate(**inputs, max_new_tokens=n, min_new_tokens=n, do_sample=False)
        _sync(device)
        return time.perf_counter() - t

    run(2)  # warm-up
    prefill = run(1)
    total = run(steps)
    return {"prefill_s": prefill, "decode_steps": steps - 1, "decode_s": total - prefill}


def _import_future_l1() -> None:
    """Make `future_l1.model` importable from this checkout when the project is not pip-installed (GPU box)."""
    try:
        import future_l1.model.decoder  # noqa: F401
    except ModuleNotFoundError:
        import sys
        import types

        root = Path(__file__).resolve().parents[1]
        pkg, sub = types.ModuleType("future_l1"), types.ModuleType("future_l1.model")
        pkg.__path__, sub.__path__ = [], [str(root / "model")]
        sys.modules["future_l1"], sys.modules["future_l1.model"] = pkg, sub


def bench_latent(model, inputs, steps: int, device, latent_tokens: int, span_every: int) -> dict:
    _import_future_l1()
    from future_l1.model.decoder import GenerationSettings, LatentBudget, LatentDecoder
    from future_l1.model.tokens import LatentIds

    decoder = LatentDecoder(model, _NoTokenizer(), LatentIds(LATENT, LATENT_START, LATENT_END),
                            LatentBudget(max_latent_token=latent_tokens, fixed=True), eos_token_ids=[-1])  # fmt: skip

    def force(generated, scores):
        if generated.shape[1] % span_every == 1:
            scores[:, LATENT_START] += 1e4
        return scores

    def run(n):
        _sync(device)
        t = time.perf_counter()
        out = decoder.generate(inputs, GenerationSettings(max_new_tokens=n), force)
        _sync(device)
        return time.perf_counter() - t, out

    run(2)
    with torch.inference_mode():
        _sync(device)
        t = time.perf_counter()
        decoder.prefill(inputs)
        _sync(device)
        prefill = time.perf_counter() - t
    total, out = run(steps)
    return {"prefill_s": prefill, "decode_steps": steps - 1, "decode_s": total - prefill,
            "latent_steps_per_row": out[0].latent_steps, "spans_per_row": len(out[0].span_lengths)}  # fmt: skip


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true", help="tiny random model on CPU (smoke test)")
    ap.add_argument("--batches", default=None, help="comma-separated batch sizes (default 1,8; tiny 1,2)")
    ap.add_argument("--steps", type=int, default=None, help="new tokens per run (default 256; tiny 12)")
    ap.add_argument("--frames", type=int, default=None)
    ap.add_argument("--size", type=int, default=None)
    ap.add_argument("--latent-tokens", type=int, default=32)
    ap.add_argument("--span-every", type=int, default=48)
    ap.add_argument("--attn", default="sdpa")
    ap.add_argument("--out", default=os.environ.get("OUT", "."))
    args = ap.parse_args(argv)
    tiny = args.tiny
    device = torch.device("cpu" if tiny or not torch.cuda.is_available() else "cuda")
    dtype = torch.float32 if device.type == "cpu" else torch.bfloat16
    batches = [int(b) for b in (args.batches or ("1,2" if tiny else "1,8")).split(",")]
    steps = args.steps or (12 if tiny else 256)
    frames, size = args.frames or (4 if tiny else 32), args.size or (64 if tiny else 448)
    latent_tokens, span_every = (3, 6) if tiny else (args.latent_tokens, args.span_every)

    from transformers import Qwen3VLForConditionalGeneration

    torch.manual_seed(0)
    config = build_config(tiny)
    config._attn_implementation = args.attn
    t = time.perf_counter()
    with torch.device(device):
        model = Qwen3VLForConditionalGeneration._from_config(config, dtype=dtype).to(dtype).eval()
    model.generation_config.eos_token_id, model.generation_config.pad_token_id = IM_END, PAD
    build_s = time.perf_counter() - t
    n_params = sum(p.numel() for p in model.parameters())

    rows = []
    for b in batches:
        inputs = build_inputs(b, frames, size, device, dtype)
        for name, fn in (("transformers generate (no latents)", lambda i=inputs: bench_generate(model, i, steps, device)),
                         ("LatentDecoder (latent spans)",
                          lambda i=inputs: bench_latent(model, i, steps, device, latent_tokens, span_every))):  # fmt: skip
            try:
                r = fn()
            except Exception as exc:  # keep the other measurements
                r = {"error": f"{type(exc).__name__}: {exc}", "prefill_s": float("nan"), "decode_steps": 0,
                     "decode_s": float("nan")}  # fmt: skip
            r.update(method=name, batch=b, prompt_tokens=int(inputs["input_ids"].shape[1]))
            r["steps_per_s_per_row"] = r["decode_steps"] / r["decode_s"] if r["decode_steps"] else float("nan")
            r["row_steps_per_s"] = r["steps_per_s_per_row"] * b
            rows.append(r)
            print(json.dumps(r), flush=True)

    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    import transformers

    meta = {"device": device_name, "dtype": str(dtype), "params": n_params, "build_s": build_s, "steps": steps,
            "frames": frames, "size": size, "latent_tokens": latent_tokens, "span_every": span_every,
            "torch": torch.__version__, "model_dtype": str(model.dtype), "transformers": transformers.__version__, "attn": args.attn}  # fmt: skip
    lines = [f"Device: {device_name}, {n_params / 1e9:.2f}B params, {dtype}, {frames} frames {size}x{size}, "
             f"{steps} new tokens, transformers {transformers.__version__}", "",
             "| method | batch | prompt tokens | prefill (s) | decode steps/s per row | decode row-steps/s |",
             "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in rows:
        lines.append(f"| {r['method']} | {r['batch']} | {r['prompt_tokens']} | {r['prefill_s']:.3f} | "
                     f"{r['steps_per_s_per_row']:.1f} | {r['row_steps_per_s']:.1f} |")  # fmt: skip
    table = "\n".join(lines)
    print(table)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / ("decode_bench_tiny.json" if tiny else "decode_bench.json")).write_text(
        json.dumps({"meta": meta, "rows": rows, "table": table}, indent=2)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
