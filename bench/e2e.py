"""End-to-end FutureBench-shaped decoding through the adapter's continuous-batching scheduler, on one GPU.

N synthetic samples shaped like FutureBench under the Future-L1 protocol (one 32-frame 448x448 video, 3,323 prompt
tokens; about 195 generated positions with latent spans, as the paper's Table 7: a span of `--latent-tokens` forced
every `--span-every` tokens, EOS forced after 140 tokens with probability 1/40 per step (outside spans), so lengths
vary and rows finish at different steps) run through `future_l1.model.continuous.continuous_decode`, the scheduler the lmms-eval
adapter uses, with random Qwen3-VL-8B-shaped bf16 weights. Reported per slot count: seconds per sample amortised
(wall time over N, prefill included), decode row-steps per second, tokens per sample, latency per sample, peak memory;
and, in the same process, the eager `LatentDecoder` in fixed batches of 8 (the adapter before continuous batching).

Deviation: lmms-eval itself is not installed on the device machine, so media decoding and the chat template are not
part of the figure (the adapter decodes media in a background thread while the GPU decodes).

    python bench/e2e.py --out bench/results           # GPU (writes e2e_bench.json)
    python bench/e2e.py --tiny                        # CPU smoke run
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


def _decode_bench():
    spec = importlib.util.spec_from_file_location("fl1_bench_decode", Path(__file__).with_name("decode.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--samples", type=int, default=None, help="samples per configuration (default 64; tiny 6)")
    ap.add_argument("--slots", default=None, help="comma-separated slot counts (default 16,32; tiny 2)")
    ap.add_argument("--eager-samples", type=int, default=None, help="samples for the eager baseline (default 8)")
    ap.add_argument("--latent-tokens", type=int, default=16)
    ap.add_argument("--span-every", type=int, default=48)
    ap.add_argument("--max-new", type=int, default=2048, help="max_new_tokens (futurebench_future_l1: 2048)")
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--attn", default="matmul", help="attention form of the fast decoder")
    ap.add_argument("--kv-bucket", type=int, default=512)
    ap.add_argument("--out", default=os.environ.get("OUT", "."))
    args = ap.parse_args(argv)
    bench = _decode_bench()
    bench._import_future_l1()
    from transformers import Qwen3VLForConditionalGeneration

    from future_l1.model.continuous import continuous_decode
    from future_l1.model.decoder import GenerationSettings, LatentBudget, LatentDecoder
    from future_l1.model.tokens import LatentIds

    tiny = args.tiny
    device = torch.device("cpu" if tiny or not torch.cuda.is_available() else "cuda")
    dtype = torch.float32 if device.type == "cpu" else torch.bfloat16
    frames, size = (4, 64) if tiny else (32, 448)
    n = args.samples or (6 if tiny else 64)
    n_eager = args.eager_samples if args.eager_samples is not None else (2 if tiny else 8)
    slot_counts = [int(s) for s in (args.slots or ("2" if tiny else "16,32")).split(",")]
    latent_tokens, span_every = (3, 6) if tiny else (args.latent_tokens, args.span_every)
    eos_after, eos_rate = (4, 0.3) if tiny else (140, 1 / 40)
    max_new = 24 if tiny else args.max_new
    torch.manual_seed(0)
    config = bench.build_config(tiny)
    config._attn_implementation = "sdpa"
    with torch.device(device):
        model = Qwen3VLForConditionalGeneration._from_config(config, dtype=dtype).to(dtype).eval()

    # Inputs are synthesised before the clock starts (in the adapter, media decoding overlaps decoding).
    pool = [bench.build_inputs(1, frames, size, device, dtype, seed=i) for i in range(min(n, 8))]

    def sample(i):
        return pool[i % len(pool)]

    def collate(rows):
        return {k: torch.cat([r[k] for r in rows]) for k in rows[0]}  # equal lengths: no padding needed

    settings = GenerationSettings(max_new_tokens=max_new)
    forcer = bench.SpanForcer(span_every, eos_after=eos_after, eos_rate=eos_rate)
    prompt = int(sample(0)["input_ids"].shape[1])
    runs = []
    for slots in slot_counts:
        dec = bench.fast_decoder(model, latent_tokens, compile=args.compile, attn=args.attn, kv_bucket=args.kv_bucket,
                                 poll_every=16, prefill_rows=8)  # fmt: skip
        dec.eos_token_ids = [bench.IM_END]
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
            torch.cuda.synchronize()
        t = time.perf_counter()
        results = list(continuous_decode(dec, ((i, sample(i)) for i in range(n)), collate, settings, slots, forcer))
        if device.type == "cuda":
            torch.cuda.synchronize()
        wall = time.perf_counter() - t
        sess = getattr(dec, "last_session", None)
        capture = sess.capture_s if sess is not None else 0.0  # graph capture and compilation, once per process
        outs = [r.output for r in results if r.output is not None]
        tokens = [len(o.token_ids) for o in outs]
        run = {"method": "FastLatentDecoder + continuous batching", "slots": slots, "samples": n,
               "errors": sum(r.output is None for r in results), "wall_s": wall, "capture_s": capture, "s_per_sample": (wall - capture) / n,
               "s_per_sample_with_capture": wall / n, "session_bytes": sess.memory_bytes() if sess else 0,
               "tokens_per_sample": statistics.mean(tokens), "latent_steps_per_sample":
               statistics.mean(o.latent_steps for o in outs), "text_tokens_per_sample":
               statistics.mean(o.text_tokens for o in outs), "eos_fraction":
               sum(o.finish_reason == "eos" for o in outs) / len(outs), "row_steps_per_s": sum(tokens) / wall,
               "latency_s_median": statistics.median(r.latency_s for r in results),
               "peak_memory_bytes": torch.cuda.max_memory_allocated(device) if device.type == "cuda" else 0}  # fmt: skip
        runs.append(run)
        print(json.dumps(run), flush=True)
        del dec
        if device.type == "cuda":
            torch.cuda.empty_cache()

    if n_eager:
        eager = LatentDecoder(model, bench._NoTokenizer(), LatentIds(bench.LATENT, bench.LATENT_START, bench.LATENT_END),
                              LatentBudget(max_latent_token=latent_tokens, fixed=True), eos_token_ids=[bench.IM_END])  # fmt: skip
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        outs = []
        for start in range(0, n_eager, 8):
            batch = collate([sample(i) for i in range(start, min(n_eager, start + 8))])
            outs += eager.generate(batch, settings, forcer)
        if device.type == "cuda":
            torch.cuda.synchronize()
        wall = time.perf_counter() - t
        tokens = [len(o.token_ids) for o in outs]
        run = {"method": "LatentDecoder (eager), fixed batches of 8", "slots": 8, "samples": n_eager, "wall_s": wall,
               "s_per_sample": wall / n_eager, "tokens_per_sample": statistics.mean(tokens),
               "row_steps_per_s": sum(tokens) / wall}  # fmt: skip
        runs.append(run)
        print(json.dumps(run), flush=True)

    import transformers

    meta = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu", "dtype": str(dtype),
            "frames": frames, "size": size, "prompt_tokens": prompt, "max_new_tokens": max_new,
            "latent_tokens": latent_tokens, "span_every": span_every, "eos_after": eos_after, "eos_rate": eos_rate,
            "compile": args.compile, "attn": args.attn, "kv_bucket": args.kv_bucket, "torch": torch.__version__, "transformers": transformers.__version__,
            "goal_s_per_sample": 0.45, "paper_s_per_sample_h200": 0.91}  # fmt: skip
    lines = ["| scheduler | slots | samples | s/sample | tokens/sample | row-steps/s | peak GB |",
             "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in runs:
        lines.append(f"| {r['method']} | {r['slots']} | {r['samples']} | {r['s_per_sample']:.3f} | "
                     f"{r['tokens_per_sample']:.1f} | {r['row_steps_per_s']:.0f} | "
                     f"{r.get('peak_memory_bytes', 0) / 1e9:.1f} |")  # fmt: skip
    table = "\n".join(lines)
    print(table)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / ("e2e_bench_tiny.json" if tiny else "e2e_bench.json")).write_text(
        json.dumps({"meta": meta, "runs": runs, "table": table}, indent=2)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
