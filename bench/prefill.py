"""Prefill profile (issue 25): vision tower and language model, time and achieved FLOP rate against the bf16 peak.

One FutureBench-shaped prompt (`--frames` frames of `--size`x`--size`: 32 frames of 864x864 is the real size, 11,851
prompt tokens) on the Qwen3-VL-8B geometry with random bf16 weights, prefilled as `LatentDecoder.prefill` does (the
model's eager forward with sdpa attention). Reported, all measured in one process:
- FLOPs counted from the geometry (`prefill_flops`: matmuls 2mnk; attention QK^T and PV, causal (halved) in the
  language model, per frame group in the vision tower as Qwen3-VL's cu_seqlens; patch embedding and the mergers);
- time of the vision tower alone and of the whole prefill (CUDA events, median of `--repeat`); the language model is
  their difference (it includes the embedding scatter and DeepStack additions); achieved TFLOP/s of each against the
  bf16 matmul peak measured here (an 8192^3 GEMM on random data);
- the whole prefill under each SDPA backend (PyTorch's choice, flash, cuDNN, memory-efficient) and with two prompts
  in one batch (does batching rows raise the rate?);
- a kernel profile of one prefill (torch.profiler): device time by kind (GEMM, attention, the rest) and the top kernels.

    python bench/prefill.py --out bench/results                  # GPU (writes prefill_bench.json)
    python bench/prefill.py --tiny                               # CPU smoke run
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import time
from pathlib import Path

import torch

GEMM_MARKERS = ("gemm", "nvjet", "cutlass", "xmma", "cublas", "matmul", "sm90_")
ATTENTION_MARKERS = ("flash", "fmha", "attention", "cudnn", "sdpa", "mha")


def _decode_bench():
    spec = importlib.util.spec_from_file_location("fl1_bench_decode", Path(__file__).with_name("decode.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def prefill_flops(config, grid_thw: list[tuple[int, int, int]], tokens: int) -> dict[str, float]:
    """FLOPs of one prefill of a `tokens`-token prompt whose videos have patch grids `grid_thw` (t, h, w)."""
    v, t = config.vision_config, config.text_config
    dv, iv, merge = v.hidden_size, v.intermediate_size, v.spatial_merge_size**2
    patch_in = v.in_channels * v.temporal_patch_size * v.patch_size**2
    patches = sum(gt * gh * gw for gt, gh, gw in grid_thw)
    merged = patches // merge
    vision_mm = 2 * patches * patch_in * dv  # patch embedding (a Conv3d with stride = kernel: one matmul)
    vision_mm += v.depth * 2 * patches * (3 * dv * dv + dv * dv + 2 * dv * iv)  # qkv, proj, MLP
    mergers = 1 + len(getattr(v, "deepstack_visual_indexes", None) or ())
    vision_mm += mergers * 2 * merged * (merge * dv) * (merge * dv + v.out_hidden_size)
    vision_attn = v.depth * sum(gt * 4 * (gh * gw) ** 2 * dv for gt, gh, gw in grid_thw)  # per frame group
    hd = getattr(t, "head_dim", None) or t.hidden_size // t.num_attention_heads
    h, q, kv = t.hidden_size, t.num_attention_heads * hd, t.num_key_value_heads * hd
    lm_mm = t.num_hidden_layers * 2 * tokens * (h * (q + 2 * kv) + q * h + 3 * h * t.intermediate_size)
    lm_mm += 2 * h * t.vocab_size  # the last position's logits
    lm_attn = t.num_hidden_layers * 2 * tokens * tokens * q  # QK^T and PV, causal: half of 4·N²·q
    return {"vision_matmul": float(vision_mm), "vision_attention": float(vision_attn), "vision": float(vision_mm +
            vision_attn), "lm_matmul": float(lm_mm), "lm_attention": float(lm_attn), "lm": float(lm_mm + lm_attn),
            "total": float(vision_mm + vision_attn + lm_mm + lm_attn)}  # fmt: skip


def _timed(fn, device, repeat: int) -> float:
    """Median seconds of `fn()` (after one warm-up): CUDA events on the GPU, the host clock elsewhere."""
    fn()
    times = []
    for _ in range(repeat):
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end) / 1e3)
        else:
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def matmul_peak(device) -> float:
    """bf16 FLOP/s of an 8192^3 matmul on random data (median of 10)."""
    if device.type != "cuda":
        return float("nan")
    a = torch.randn(8192, 8192, device=device, dtype=torch.bfloat16)
    b = torch.randn(8192, 8192, device=device, dtype=torch.bfloat16)
    seconds = _timed(lambda: a @ b, device, 10)
    return 2 * 8192**3 / seconds


def _backends():
    from torch.nn.attention import SDPBackend

    return {"flash": [SDPBackend.FLASH_ATTENTION], "cudnn": [SDPBackend.CUDNN_ATTENTION],
            "efficient": [SDPBackend.EFFICIENT_ATTENTION]}  # fmt: skip


def kernel_profile(fn, device, top: int = 15) -> dict:
    from torch.profiler import ProfilerActivity, profile

    fn()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize()
    kinds = {"gemm": 0.0, "attention": 0.0, "other": 0.0}
    rows = []
    for e in prof.key_averages():
        us = getattr(e, "self_device_time_total", None) or getattr(e, "self_cuda_time_total", 0)
        if not us or e.key.startswith(("aten::", "cuda", "Memcpy", "Memset")):
            continue
        name = e.key.lower()
        kind = ("attention" if any(m in name for m in ATTENTION_MARKERS)
                else "gemm" if any(m in name for m in GEMM_MARKERS) else "other")  # fmt: skip
        kinds[kind] += us / 1e3
        rows.append({"name": e.key[:110], "kind": kind, "calls": e.count, "device_ms": us / 1e3})
    rows.sort(key=lambda r: -r["device_ms"])
    total = sum(kinds.values())
    return {"device_ms": total, "by_kind_ms": kinds, "by_kind_share": {k: v / total for k, v in kinds.items()} if total
            else {}, "top": rows[:top]}  # fmt: skip


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--frames", type=int, default=None, help="default 32 (tiny 4)")
    ap.add_argument("--size", type=int, default=None, help="default 864, the real size (tiny 64)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-variants", action="store_true", help="skip the SDPA backend and batched-rows variants")
    ap.add_argument("--out", default=os.environ.get("OUT", "."))
    args = ap.parse_args(argv)
    bench = _decode_bench()
    bench._import_future_l1()
    from transformers import Qwen3VLForConditionalGeneration

    from future_l1.model.decoder import LatentBudget, LatentDecoder

    tiny = args.tiny
    device, dtype = bench.device_and_dtype(tiny)
    frames, size = args.frames or (4 if tiny else 32), args.size or (64 if tiny else 864)
    repeat = 1 if tiny else args.repeat
    began = time.perf_counter()
    peak = matmul_peak(device)
    config = bench.build_config(tiny)
    config._attn_implementation = "sdpa"
    torch.manual_seed(0)
    with torch.device(device):
        model = Qwen3VLForConditionalGeneration._from_config(config, dtype=dtype).to(dtype).eval()
    decoder = LatentDecoder(model, bench._NoTokenizer(), None, LatentBudget(), eos_token_ids=[bench.IM_END])
    one = bench.build_inputs(1, frames, size, device, dtype)
    tokens = int(one["input_ids"].shape[1])
    grid = [tuple(int(x) for x in row) for row in one["video_grid_thw"].tolist()]
    flops = prefill_flops(config, grid, tokens)

    @torch.inference_mode()
    def vision():
        model.model.visual(one["pixel_values_videos"].to(dtype), grid_thw=one["video_grid_thw"])

    @torch.inference_mode()
    def prefill(batch=one):
        decoder.prefill(batch)

    t_vision = _timed(vision, device, repeat)
    t_total = _timed(prefill, device, repeat)
    t_lm = max(t_total - t_vision, 1e-9)
    rate = {"vision": flops["vision"] / t_vision, "lm": flops["lm"] / t_lm, "total": flops["total"] / t_total}
    rows = [{"what": "prefill, PyTorch's SDPA choice", "rows": 1, "s_per_row": t_total,
             "tflops": rate["total"] / 1e12, "of_peak": rate["total"] / peak}]  # fmt: skip
    if not args.no_variants and device.type == "cuda":
        from torch.nn.attention import sdpa_kernel

        for name, backends in _backends().items():
            try:
                with sdpa_kernel(backends):
                    s = _timed(prefill, device, repeat)
                rows.append({"what": f"prefill, SDPA {name}", "rows": 1, "s_per_row": s,
                             "tflops": flops["total"] / s / 1e12, "of_peak": flops["total"] / s / peak})  # fmt: skip
            except Exception as exc:  # a backend that cannot run these shapes
                rows.append({"what": f"prefill, SDPA {name}", "rows": 1, "error": f"{type(exc).__name__}: {exc}"[:300]})
            torch.cuda.empty_cache()
        two = bench.build_inputs(2, frames, size, device, dtype)
        try:
            s = _timed(lambda: prefill(two), device, max(1, repeat // 2)) / 2
            rows.append({"what": "prefill, 2 prompts in one batch", "rows": 2, "s_per_row": s,
                         "tflops": flops["total"] / s / 1e12, "of_peak": flops["total"] / s / peak})  # fmt: skip
        except Exception as exc:
            rows.append(
                {"what": "prefill, 2 prompts in one batch", "rows": 2, "error": f"{type(exc).__name__}: {exc}"[:300]}
            )
        del two
        torch.cuda.empty_cache()
    profile = kernel_profile(prefill, device) if device.type == "cuda" else {}
    import transformers

    result = {
        "meta": {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu", "dtype": str(dtype),
                 "frames": frames, "size": size, "prompt_tokens": tokens, "video_grid_thw": grid,
                 "torch": torch.__version__, "transformers": transformers.__version__, "cuda": torch.version.cuda,
                 "wall_s": time.perf_counter() - began},
        "matmul_peak_flops": peak,
        "flops": flops,
        "seconds": {"vision": t_vision, "lm": t_lm, "total": t_total},
        "achieved_flops": rate,
        "of_peak": {k: v / peak for k, v in rate.items()},
        "floor_s_at_peak": flops["total"] / peak,
        "variants": rows,
        "profile": profile,
        "peak_memory_bytes": torch.cuda.max_memory_allocated(device) if device.type == "cuda" else 0,
    }  # fmt: skip
    lines = [f"prefill of {tokens:,} tokens ({frames} frames {size}x{size}), matmul peak {peak / 1e12:.0f} TFLOP/s",
             "| part | TFLOP | s | TFLOP/s | of peak |", "|---|---:|---:|---:|---:|"]  # fmt: skip
    for part in ("vision", "lm", "total"):
        lines.append(f"| {part} | {flops[part] / 1e12:.1f} | {result['seconds'][part]:.3f} | {rate[part] / 1e12:.0f} | "
                     f"{rate[part] / peak:.2f} |")  # fmt: skip
    for r in rows[1:]:
        lines.append(f"| {r['what']} | | {r.get('s_per_row', float('nan')):.3f} | {r.get('tflops', float('nan')):.0f} | "
                     f"{r.get('of_peak', float('nan')):.2f} |")  # fmt: skip
    result["table"] = "\n".join(lines)
    print(result["table"])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = "prefill_bench_tiny.json" if tiny else f"prefill_bench_{size}.json"
    (out / name).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
