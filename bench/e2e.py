"""End-to-end FutureBench-shaped decoding through the adapter's continuous-batching scheduler, on one GPU.

N synthetic samples shaped like FutureBench under the Future-L1 protocol (one 32-frame video: 448x448 gives 3,323
prompt tokens, `--size 864` the real size, 11,851; about 195 generated positions with latent spans, as the paper's
Table 7: a span of `--latent-tokens` forced every `--span-every` tokens, EOS forced after 140 tokens with probability
1/40 per step (outside spans), so lengths vary and rows finish at different steps) run through
`future_l1.model.continuous.continuous_decode`, the scheduler the lmms-eval adapter uses, with random
Qwen3-VL-8B-shaped bf16 weights. Per configuration: seconds per sample amortised (wall time over N, prefill included;
graph capture and compilation reported apart), where the time went (collation, prefill, decode), decode row-steps
per second, tokens per sample, latency, peak memory (allocated and reserved), the slot plan against the memory it
predicted, and out-of-memory retries. Configurations:
- `--slots 16,32`: that many slots asked for (`auto` asks for 256: the planner caps it to what fits);
- `--before N`: issue 13's settings in the same process: N slots, prefill chunks of 8 prompts whatever their
  length, q/k/v and gate/up unfused (the admission policy, every free slot filled at each poll, is today's);
- `--eager-samples`: the eager `LatentDecoder` in fixed batches of 8 (the adapter before continuous batching).

Media decoding and the chat template are not part of this figure (inputs are synthesised before the clock starts);
bench/real_run.py measures them through lmms-eval.

    python bench/e2e.py --out bench/results                      # GPU, 448x448 (writes e2e_bench_448.json)
    python bench/e2e.py --size 864 --slots auto --before 16      # GPU, the real size
    python bench/e2e.py --tiny                                   # CPU smoke run
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


def run_config(bench, model, label: str, samples, n: int, slots: int, settings, device, *, compile: bool,
               attn: str, kv_bucket: int, span_every: int, eos_after: int, eos_rate: float, fuse: bool = True,
               prefill_rows: int = 8, prefill_tokens: int = 16384, latent_tokens: int = 16) -> dict:  # fmt: skip
    from future_l1.model.continuous import continuous_decode

    dec = bench.fast_decoder(model, latent_tokens, compile=compile, attn=attn, kv_bucket=kv_bucket, poll_every=16,
                             prefill_rows=prefill_rows, prefill_tokens=prefill_tokens, fuse=fuse)  # fmt: skip
    dec.eos_token_ids = [bench.IM_END]
    forcer = bench.SpanForcer(span_every, eos_after=eos_after, eos_rate=eos_rate)

    def collate(rows):
        return {k: torch.cat([r[k] for r in rows]) for k in rows[0]}  # equal lengths: no padding needed

    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated(device)
    t = time.perf_counter()
    results = list(continuous_decode(dec, ((i, samples(i)) for i in range(n)), collate, settings, slots, forcer))
    if device.type == "cuda":
        torch.cuda.synchronize()
    wall = time.perf_counter() - t
    stats = dec.last_stats
    outs = [r.output for r in results if r.output is not None]
    tokens = [len(o.token_ids) for o in outs] or [0]
    capture = stats.capture_s  # graph capture and compilation (once per shape and process)
    run = {"method": label, "slots_requested": slots, "slots": stats.slots, "samples": n, "prefill_rows": stats.prefill_rows,
           "fused": fuse, "errors": sum(r.output is None for r in results), "answered_once": sorted(r.key for r in results) == list(range(n)),
           "wall_s": wall, "capture_s": capture, "s_per_sample": (wall - capture) / n, "s_per_sample_with_capture": wall / n,
           "prefill_s_per_sample": stats.prefill_s / n, "decode_s_per_sample": stats.decode_s / n,
           "collate_s_per_sample": stats.collate_s / n, "decode_steps": stats.decode_steps,
           "tokens_per_sample": statistics.mean(tokens), "latent_steps_per_sample": statistics.mean(o.latent_steps for o in outs) if outs else 0,
           "row_steps_per_s": sum(tokens) / max(stats.decode_s, 1e-9), "latency_s_median": statistics.median(r.latency_s for r in results),
           "oom_retries": stats.oom_retries, "events": stats.events, "session_bytes": stats.session_bytes,
           "plan": stats.plan.message() if stats.plan else None,
           "plan_slot_bytes": stats.plan.slot_bytes if stats.plan else None,
           "plan_prefill_bytes": stats.plan.prefill_bytes if stats.plan else None}  # fmt: skip
    if device.type == "cuda":
        run["peak_allocated_bytes"] = torch.cuda.max_memory_allocated(device)
        run["peak_reserved_bytes"] = torch.cuda.max_memory_reserved(device)
        run["peak_above_weights_bytes"] = run["peak_allocated_bytes"] - base
    del dec
    return run


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--samples", type=int, default=None, help="samples per configuration (default 64; tiny 6)")
    ap.add_argument("--slots", default=None, help="comma-separated slot counts asked for, or auto (default 16,32; "
                    "tiny 2)")  # fmt: skip
    ap.add_argument("--before", type=int, default=0, help="add the pre-issue-25 scheduler with this many slots")
    ap.add_argument("--before-samples", type=int, default=None, help="samples of the --before run (default: --samples)")
    ap.add_argument("--eager-samples", type=int, default=None, help="samples for the eager baseline (default 8)")
    ap.add_argument("--frames", type=int, default=None, help="frames per video (default 32; tiny 4)")
    ap.add_argument("--size", type=int, default=None, help="frame side (default 448; 864 is the real size; tiny 64)")
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

    from future_l1.model.decoder import GenerationSettings, LatentBudget, LatentDecoder
    from future_l1.model.tokens import LatentIds

    tiny = args.tiny
    device, dtype = bench.device_and_dtype(tiny)
    frames, size = args.frames or (4 if tiny else 32), args.size or (64 if tiny else 448)
    n = args.samples or (6 if tiny else 64)
    n_eager = args.eager_samples if args.eager_samples is not None else (2 if tiny else 8)
    slot_counts = [
        256 if s.strip() == "auto" else int(s) for s in (args.slots or ("2" if tiny else "16,32")).split(",")
    ]
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

    settings = GenerationSettings(max_new_tokens=max_new)
    prompt = int(sample(0)["input_ids"].shape[1])
    common = dict(compile=args.compile, attn=args.attn, kv_bucket=args.kv_bucket, span_every=span_every,
                  eos_after=eos_after, eos_rate=eos_rate, latent_tokens=latent_tokens)  # fmt: skip
    configs = [(f"FastLatentDecoder + continuous batching ({'auto' if s == 256 else s} slots asked)", n, s, {})
               for s in slot_counts]  # fmt: skip
    if args.before:
        configs.append(("issue 13's settings: 8-prompt prefill chunks, unfused projections", args.before_samples or n,
                        args.before, dict(fuse=False, prefill_tokens=1 << 30)))  # fmt: skip
    runs = []
    for label, count, slots, extra in configs:
        try:
            run = run_config(bench, model, label, sample, count, slots, settings, device, **common, **extra)
        except Exception as exc:  # keep the other configurations (an OOM here is a finding, not a crash)
            run = {
                "method": label,
                "slots_requested": slots,
                "samples": count,
                "error": f"{type(exc).__name__}: {exc}"[:400],
            }
        runs.append(run)
        print(json.dumps(run), flush=True)
        if device.type == "cuda":
            torch.cuda.empty_cache()

    if n_eager:
        eager = LatentDecoder(model, bench._NoTokenizer(), LatentIds(bench.LATENT, bench.LATENT_START, bench.LATENT_END),
                              LatentBudget(max_latent_token=latent_tokens, fixed=True), eos_token_ids=[bench.IM_END])  # fmt: skip
        forcer = bench.SpanForcer(span_every, eos_after=eos_after, eos_rate=eos_rate)
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        outs = []
        for start in range(0, n_eager, 8):
            rows = [sample(i) for i in range(start, min(n_eager, start + 8))]
            outs += eager.generate({k: torch.cat([r[k] for r in rows]) for k in rows[0]}, settings, forcer)
        if device.type == "cuda":
            torch.cuda.synchronize()
        wall = time.perf_counter() - t
        tokens = [len(o.token_ids) for o in outs]
        run = {"method": "LatentDecoder (eager), fixed batches of 8", "slots": 8, "samples": n_eager, "wall_s": wall,
               "s_per_sample": wall / n_eager, "s_per_sample_with_capture": wall / n_eager,
               "tokens_per_sample": statistics.mean(tokens), "row_steps_per_s": sum(tokens) / wall}  # fmt: skip
        runs.append(run)
        print(json.dumps(run), flush=True)

    import transformers

    meta = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu", "dtype": str(dtype),
            "frames": frames, "size": size, "prompt_tokens": prompt, "max_new_tokens": max_new,
            "latent_tokens": latent_tokens, "span_every": span_every, "eos_after": eos_after, "eos_rate": eos_rate,
            "compile": args.compile, "attn": args.attn, "kv_bucket": args.kv_bucket, "torch": torch.__version__,
            "transformers": transformers.__version__, "cuda": torch.version.cuda,
            "memory_bytes": torch.cuda.get_device_properties(device).total_memory if device.type == "cuda" else 0,
            "goal_s_per_sample": 0.45, "paper_s_per_sample_h200": 0.91}  # fmt: skip
    lines = ["| scheduler | slots (asked) | samples | s/sample (capture excl. / incl.) | prefill s/sample | "
             "tokens/sample | row-steps/s | peak GB (alloc / reserved) | OOM retries |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in runs:
        if "error" in r:
            lines.append(f"| {r['method']} ({r['error'][:80]}) | – ({r['slots_requested']}) | {r['samples']} | "
                         "– | – | – | – | – | – |")  # fmt: skip
            continue
        lines.append(f"| {r['method']} | {r['slots']} ({r.get('slots_requested', r['slots'])}) | {r['samples']} | "
                     f"{r['s_per_sample']:.3f} / {r['s_per_sample_with_capture']:.3f} | "
                     f"{r.get('prefill_s_per_sample', float('nan')):.3f} | {r['tokens_per_sample']:.1f} | "
                     f"{r['row_steps_per_s']:.0f} | {r.get('peak_allocated_bytes', 0) / 1e9:.1f} / "
                     f"{r.get('peak_reserved_bytes', 0) / 1e9:.1f} | {r.get('oom_retries', 0)} |")  # fmt: skip
    table = "\n".join(lines)
    print(table)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / ("e2e_bench_tiny.json" if tiny else f"e2e_bench_{size}.json")).write_text(
        json.dumps({"meta": meta, "runs": runs, "table": table}, indent=2)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
