"""Decode throughput of the latent decoder against the memory-bandwidth floor and transformers' generate.

A Qwen3-VL-8B-shaped model with random bf16 weights decodes from one 32-frame 448x448 video (3,323 prompt tokens)
at batch 1, 8 and a large batch (`--big`, default: the largest that fits in memory, capped at 128). Rows, all in one
process so ratios compare directly:
- floor: language-model weight bytes (and the KV bytes read at the mean context) over the copy bandwidth measured
  here (a device-to-device copy, bytes read + written);
- transformers generate (dynamic cache; `--static-generate` adds cache_implementation="static", which compiles);
- LatentDecoder (eager reference) and FastLatentDecoder (static cache + CUDA graph per (batch, KV bucket); variants
  (`--variants`): attention as GQA batched matmuls, SDPA with enable_gqa, FlexAttention or fused reductions, the
  decoder layer compiled with torch.compile, and q/k/v and gate/up as one fused GEMV each (the default) or apart
  (the "-unfused" variants: the decoder before issue 25, for before/after figures in one process);
- a kernel-time profile of the fast step run without graphs (where the time goes), and memory per row.
Latent spans are forced every `--span-every` generated tokens, fixed budget `--latent-tokens`.

    python bench/decode.py --out bench/results         # GPU, the 8B geometry (writes decode_bench.json)
    python bench/decode.py --tiny                      # CPU smoke run with a tiny model (used by the tests)

Inputs are built directly (token layout of the Qwen3-VL processor: per 2-frame group `<t seconds><|vision_start|>
196x<|video_pad|><|vision_end|>`, random pixel patches), so no tokenizer or processor files are needed on the GPU box.
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


def device_and_dtype(tiny: bool) -> tuple[torch.device, torch.dtype]:
    """The benches' device (CUDA when there is one, the CPU for --tiny) and weight dtype (bf16 on CUDA, fp32 on CPU)."""
    device = torch.device("cpu" if tiny or not torch.cuda.is_available() else "cuda")
    return device, torch.float32 if device.type == "cpu" else torch.bfloat16


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def bench_generate(model, inputs, steps: int, device, **kwargs) -> dict:
    def run(n):
        _sync(device)
        t = time.perf_counter()
        model.generate(**inputs, max_new_tokens=n, min_new_tokens=n, do_sample=False, **kwargs)
        _sync(device)
        return time.perf_counter() - t

    warm = run(2)  # warm-up (compiles with a static cache)
    prefill = run(1)
    total = run(steps)
    return {"prefill_s": prefill, "decode_steps": steps - 1, "decode_s": total - prefill, "warmup_s": warm}


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


class SpanForcer:
    """Forces `<|latent_start|>` when a row has generated n = 1 (mod every) tokens, as the eager bench's processor.
    `graph_call` (device tensors only) is captured with the fast decoder's step; `__call__` serves the eager loop."""

    def __init__(self, every: int, eos_after: int | None = None, eos_rate: float = 0.0):
        self.every, self.eos_after, self.eos_rate = every, eos_after, eos_rate

    def graph_call(self, n, scores):
        scores = scores.clone()
        scores[:, LATENT_START] += 1e4 * (n % self.every == 1).float()
        if self.eos_after is not None:  # e2e bench: EOS after eos_after tokens with a per-step chance eos_rate
            draw = torch.rand(n.shape, device=scores.device) < self.eos_rate
            scores[:, IM_END] += 1e4 * ((n >= self.eos_after) & draw).float()
        return scores

    def __call__(self, generated, scores):
        return self.graph_call(torch.full((scores.shape[0],), generated.shape[1], device=scores.device), scores)


UNFUSED = "unfused q/k/v and gate/up"
# --variants: name -> (row label, FastLatentDecoder kwargs). Projections are fused (one GEMV for q/k/v, one for
# gate/up) unless the variant says otherwise; "-unfused" variants are the decoder before issue 25, for before/after.
VARIANTS = {
    "graph": ("FastLatentDecoder (graph, GQA matmul)", dict(attn="matmul")),
    "graph-unfused": (f"FastLatentDecoder (graph, GQA matmul, {UNFUSED})", dict(attn="matmul", fuse=False)),
    "sdpa": ("FastLatentDecoder (graph, SDPA enable_gqa)", dict(attn="sdpa")),
    "compiled-matmul": ("FastLatentDecoder (graph + compiled layer, matmul attention)", dict(attn="matmul", compile=True)),
    "compiled-matmul-unfused": (f"FastLatentDecoder (graph + compiled layer, matmul attention, {UNFUSED})",
                                dict(attn="matmul", compile=True, fuse=False)),
    "compiled-flex": ("FastLatentDecoder (graph + compiled layer, flex attention)", dict(attn="flex", compile=True)),
    "compiled-reduce": ("FastLatentDecoder (graph + compiled layer, reduce attention)", dict(attn="reduce", compile=True)),
}  # fmt: skip
DEFAULT_VARIANTS = "graph,compiled-matmul,compiled-flex,compiled-reduce"


def fast_decoder(model, latent_tokens: int, **kwargs):
    _import_future_l1()
    from future_l1.model.decoder import LatentBudget
    from future_l1.model.static_decoder import FastLatentDecoder
    from future_l1.model.tokens import LatentIds

    return FastLatentDecoder(model, _NoTokenizer(), LatentIds(LATENT, LATENT_START, LATENT_END),
                             LatentBudget(max_latent_token=latent_tokens, fixed=True), eos_token_ids=[-1],
                             **kwargs)  # fmt: skip


def bench_fast(model, inputs, batch: int, steps: int, device, latent_tokens: int, span_every: int, **kwargs) -> dict:
    """Prefill `inputs` (its rows; copies fill the other slots), then time `steps` decode steps of `batch` rows.
    Graph capture (and compilation) happen on the first use of each KV bucket; their time is reported apart."""
    from future_l1.model.decoder import GenerationSettings

    dec = fast_decoder(model, latent_tokens, **kwargs)
    prompt = int(inputs["attention_mask"].sum(-1).max())
    bucket = dec.kv_bucket or 1
    length = -(-(prompt + steps + 1) // bucket) * bucket
    with torch.inference_mode():
        sess = dec.session(batch, length, GenerationSettings(max_new_tokens=steps), SpanForcer(span_every))
        _sync(device)
        t = time.perf_counter()
        n_in = inputs["input_ids"].shape[0]
        sess.admit(inputs, list(range(n_in)))
        _sync(device)
        prefill = time.perf_counter() - t
        if batch > n_in:
            sess.admit_copy(0, list(range(n_in, batch)), list(range(n_in, batch)))
        mem = sess.memory_bytes()
        _sync(device)
        t = time.perf_counter()
        outs = []
        while sess.rows:
            outs += sess.run()
        _sync(device)
        total = time.perf_counter() - t
    decode_s = total - sess.capture_s
    out = outs[0].output
    return {"prefill_s": prefill, "prefill_rows": n_in, "decode_steps": sess.step_count, "decode_s": decode_s,
            "capture_s": sess.capture_s, "graphs": len(sess.graphs), "cache_len": length,
            "session_bytes_per_row": mem / batch, "latent_steps_per_row": out.latent_steps,
            "spans_per_row": len(out.span_lengths), "tokens_per_row": len(out.token_ids)}  # fmt: skip


def profile_fast(model, inputs, device, latent_tokens: int, span_every: int, steps: int = 8, **kwargs) -> dict:
    """Where a step's time goes: kernel time per step of the given variant replayed from its CUDA graph (kernels by
    name, device time), against the wall time per step; the difference is time the GPU waits (launch gaps, syncs)."""
    from torch.profiler import ProfilerActivity, profile

    from future_l1.model.decoder import GenerationSettings

    dec = fast_decoder(model, latent_tokens, **kwargs)
    prompt = int(inputs["attention_mask"].sum(-1).max())
    with torch.inference_mode():
        length = -(-(prompt + 64) // 256) * 256  # the KV buckets the bench already compiled
        sess = dec.session(inputs["input_ids"].shape[0], length, GenerationSettings(max_new_tokens=60),
                           SpanForcer(span_every))  # fmt: skip
        sess.admit(inputs, list(range(inputs["input_ids"].shape[0])))
        for _ in range(3):  # capture (and compile) outside the profile
            sess.step()
        _sync(device)
        t = time.perf_counter()
        for _ in range(steps):
            sess.step()
        _sync(device)
        wall = (time.perf_counter() - t) / steps
        acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
        with profile(activities=acts) as prof:
            for _ in range(steps):
                sess.step()
            _sync(device)
    rows = []
    total_dev = 0.0
    for e in prof.key_averages():
        dev_us = getattr(e, "self_device_time_total", None) or getattr(e, "self_cuda_time_total", 0)
        if dev_us and not e.key.startswith(("aten::", "cuda", "Torch-Compiled", "CompiledFunction")):
            total_dev += dev_us
            rows.append({"name": e.key[:100], "calls_per_step": e.count / steps,
                         "device_ms_per_step": dev_us / 1e3 / steps})  # fmt: skip
    rows.sort(key=lambda r: -r["device_ms_per_step"])
    return {"wall_ms_per_step": wall * 1e3, "kernel_ms_per_step": total_dev / 1e3 / steps,
            "kernels_per_step": sum(r["calls_per_step"] for r in rows), "graphs": len(sess.graphs), "top": rows[:20]}  # fmt: skip


def _best(rows: list[dict], batch: int) -> dict | None:
    fast = [r for r in rows if r["method"].startswith("FastLatent") and r["batch"] == batch and r.get("decode_steps")]
    return max(fast, key=lambda r: r["row_steps_per_s"], default=None)


def _variant_kwargs(row: dict | None) -> dict:
    return dict(VARIANTS[row.get("variant", "graph")][1]) if row else dict(VARIANTS["graph"][1])


def copy_bandwidth(device) -> float:
    """Device-to-device copy bandwidth in bytes/s (bytes read + written), median of 20 copies of 2 GiB."""
    if device.type != "cuda":
        return float("nan")
    a = torch.empty(2**30, dtype=torch.int16, device=device).random_()
    b = torch.empty_like(a)
    times = []
    for _ in range(23):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        b.copy_(a)
        e.record()
        e.synchronize()
        times.append(s.elapsed_time(e) / 1e3)
    del a, b
    torch.cuda.empty_cache()
    times = sorted(times[3:])
    return 2 * 2**31 / times[len(times) // 2]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true", help="tiny random model on CPU (smoke test)")
    ap.add_argument("--batches", default=None, help="comma-separated batch sizes (default 1,8; tiny 1,2)")
    ap.add_argument("--big", type=int, default=None, help="large batch for the fast path (default: largest that fits, "
                    "at most 128; 0 to skip)")  # fmt: skip
    ap.add_argument("--steps", type=int, default=None, help="decode steps of the fast path (default 256; tiny 12)")
    ap.add_argument("--ref-steps", type=int, default=None, help="steps of generate / eager (default 64; tiny = steps)")
    ap.add_argument("--frames", type=int, default=None)
    ap.add_argument("--size", type=int, default=None)
    ap.add_argument("--latent-tokens", type=int, default=32)
    ap.add_argument("--span-every", type=int, default=48)
    ap.add_argument("--attn", default="sdpa", help="transformers attention implementation (prefill, generate)")
    ap.add_argument("--static-generate", action="store_true", help="add generate with a static cache (compiles)")
    ap.add_argument("--variants", default=DEFAULT_VARIANTS, help=f"fast-path variants, of: {', '.join(VARIANTS)} "
                    "(compiled ones run on CUDA only)")  # fmt: skip
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile variants of the fast path")
    ap.add_argument("--skip-reference", action="store_true", help="skip transformers generate and the eager decoder")
    ap.add_argument("--budget-s", type=float, default=420.0, help="skip optional rows after this many seconds")
    ap.add_argument("--out", default=os.environ.get("OUT", "."))
    args = ap.parse_args(argv)
    began = time.perf_counter()
    tiny = args.tiny
    device = torch.device("cpu" if tiny or not torch.cuda.is_available() else "cuda")
    dtype = torch.float32 if device.type == "cpu" else torch.bfloat16
    batches = [int(b) for b in (args.batches or ("1,2" if tiny else "1,8")).split(",")]
    steps = args.steps or (12 if tiny else 256)
    ref_steps = args.ref_steps or (steps if tiny else 64)
    frames, size = args.frames or (4 if tiny else 32), args.size or (64 if tiny else 448)
    latent_tokens, span_every = (3, 6) if tiny else (args.latent_tokens, args.span_every)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True

    from transformers import Qwen3VLForConditionalGeneration

    _import_future_l1()
    from future_l1.model.static_decoder import kv_bytes_per_token

    bw = copy_bandwidth(device)
    torch.manual_seed(0)
    config = build_config(tiny)
    config._attn_implementation = args.attn
    t = time.perf_counter()
    with torch.device(device):
        model = Qwen3VLForConditionalGeneration._from_config(config, dtype=dtype).to(dtype).eval()
    model.generation_config.eos_token_id, model.generation_config.pad_token_id = IM_END, PAD
    build_s = time.perf_counter() - t
    n_params = sum(p.numel() for p in model.parameters())
    lm = model.model.language_model
    lm_bytes = sum(p.numel() * p.element_size() for p in lm.parameters()) + model.lm_head.weight.nbytes
    read_bytes = lm_bytes - lm.embed_tokens.weight.nbytes  # the embedding table is gathered, not read whole
    kv_tok = kv_bytes_per_token(config.text_config, dtype)

    rows = []

    def add(name, b, prompt, fn, optional=False, variant=None):
        if optional and time.perf_counter() - began > args.budget_s:
            r = {"skipped": f"time budget ({args.budget_s:.0f} s) spent", "prefill_s": float("nan"), "decode_steps": 0,
                 "decode_s": float("nan")}  # fmt: skip
        else:
            try:
                r = fn()
            except Exception as exc:  # keep the other measurements
                import traceback

                # repo-relative paths: results JSON must not carry this machine's folders
                trace = traceback.format_exc(limit=4).replace(str(Path(__file__).resolve().parents[1]) + "/", "")
                r = {"error": f"{type(exc).__name__}: {exc}", "trace": trace[-1500:],
                     "prefill_s": float("nan"), "decode_steps": 0, "decode_s": float("nan")}  # fmt: skip
        r.update(method=name, batch=b, prompt_tokens=prompt)
        if variant is not None:
            r["variant"] = variant
        r["steps_per_s_per_row"] = r["decode_steps"] / r["decode_s"] if r["decode_steps"] else float("nan")
        r["row_steps_per_s"] = r["steps_per_s_per_row"] * b
        if b in floors:
            r["of_floor"] = r["row_steps_per_s"] / floors[b]["row_steps_per_s"]
        rows.append(r)
        print(json.dumps({k: v for k, v in r.items() if k != "trace"}), flush=True)
        if device.type == "cuda":
            torch.cuda.empty_cache()
        return r

    floors: dict[int, dict] = {}

    def floor_row(b, prompt):
        ctx = prompt + steps / 2  # mean context over the run
        step_bytes = lm_bytes + b * ctx * kv_tok
        f = {"method": "floor (LM weights + KV reads / copy bandwidth)", "batch": b, "prompt_tokens": prompt,
             "bytes_per_step": step_bytes, "copy_bandwidth_Bps": bw, "step_ms": step_bytes / bw * 1e3,
             "steps_per_s_per_row": bw / step_bytes, "row_steps_per_s": b * bw / step_bytes,
             "step_ms_without_embedding_table": (step_bytes - lm_bytes + read_bytes) / bw * 1e3}  # fmt: skip
        floors[b] = f
        rows.append(f)
        print(json.dumps(f), flush=True)

    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        ap.error(f"unknown variants {unknown}; choose from {', '.join(VARIANTS)}")
    variants = [v for v in variants if device.type == "cuda" or not VARIANTS[v][1].get("compile")]
    if args.no_compile:
        variants = [v for v in variants if not VARIANTS[v][1].get("compile")]
    small = build_inputs(1, frames, size, device, dtype)
    prompt = int(small["input_ids"].shape[1])
    for b in batches:
        inputs = build_inputs(b, frames, size, device, dtype)
        floor_row(b, prompt)
        if not args.skip_reference:
            add("transformers generate (dynamic cache, no latents)", b, prompt,
                lambda i=inputs: bench_generate(model, i, ref_steps, device))  # fmt: skip
            if args.static_generate:
                add("transformers generate (static cache, compiled, no latents)", b, prompt,
                    lambda i=inputs: bench_generate(model, i, ref_steps, device, cache_implementation="static"),
                    optional=True)  # fmt: skip
            add("LatentDecoder (eager reference)", b, prompt,
                lambda i=inputs: bench_latent(model, i, ref_steps, device, latent_tokens, span_every))  # fmt: skip
        for key in variants:
            name, kw = VARIANTS[key]
            add(name, b, prompt, lambda i=inputs, kw=kw, b=b: bench_fast(model, i, b, steps, device, latent_tokens,
                                                                         span_every, **kw),
                optional=key != variants[0], variant=key)  # fmt: skip
        del inputs

    profile = {}
    if device.type == "cuda":
        for b in batches:
            best = _best(rows, b)
            kw = _variant_kwargs(best)
            try:
                profile[str(b)] = {
                    "method": best["method"] if best else "graph",
                    **profile_fast(
                        model, build_inputs(b, frames, size, device, dtype), device, latent_tokens, span_every, **kw
                    ),
                }
            except Exception as exc:
                profile[str(b)] = {"error": f"{type(exc).__name__}: {exc}"}
            print(json.dumps({"profile_batch": b, **{k: v for k, v in profile[str(b)].items() if k != "top"}}))

    total_mem = torch.cuda.get_device_properties(device).total_memory if device.type == "cuda" else 0
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    length = prompt + steps + 64
    per_row = length * kv_tok + 4 * 151936 * 3 + (steps * 9)  # KV + fp32 logits/scores + ids/flags
    headroom = 8 * 2**30  # prefill activations of an 8-row chunk, allocator slack
    fits = int((140e9 - weights - headroom) // per_row) if device.type == "cuda" else 0
    big = args.big if args.big is not None else (min(fits, 128) if device.type == "cuda" else 0)
    if big:
        inputs = build_inputs(1, frames, size, device, dtype)
        floor_row(big, prompt)
        best = _best(rows, batches[-1])
        kw = _variant_kwargs(best)
        add(best["method"] if best else VARIANTS["graph"][0], big, prompt,
            lambda: bench_fast(model, inputs, big, steps, device, latent_tokens, span_every, **kw), True,
            variant=best.get("variant") if best else "graph")  # fmt: skip

    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    import transformers

    memory = {"total_bytes": total_mem, "weights_bytes": weights, "lm_weight_bytes": lm_bytes,
              "kv_bytes_per_token": kv_tok, "kv_bytes_per_row_at_prompt_plus_steps": (prompt + steps) * kv_tok,
              "largest_batch_fitting_140GB": fits, "per_row_bytes_assumed": per_row, "headroom_bytes": headroom,
              "peak_allocated_bytes": torch.cuda.max_memory_allocated(device) if device.type == "cuda" else 0}  # fmt: skip
    meta = {"device": device_name, "dtype": str(dtype), "params": n_params, "build_s": build_s, "steps": steps,
            "ref_steps": ref_steps, "frames": frames, "size": size, "latent_tokens": latent_tokens,
            "span_every": span_every, "torch": torch.__version__, "transformers": transformers.__version__,
            "attn": args.attn, "copy_bandwidth_Bps": bw, "cuda": torch.version.cuda,
            "wall_s": time.perf_counter() - began}  # fmt: skip
    lines = [f"Device: {device_name}, {n_params / 1e9:.2f}B params, {dtype}, {frames} frames {size}x{size}, "
             f"{prompt} prompt tokens, copy bandwidth {bw / 1e12:.2f} TB/s, torch {torch.__version__}, "
             f"transformers {transformers.__version__}", "",
             "| method | batch | prefill (s) | steps/s per row | row-steps/s | of floor |",
             "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in rows:
        note = f" ({r['error'][:60]})" if r.get("error") else " (skipped)" if r.get("skipped") else ""
        of = r.get("of_floor", 1.0 if r["method"].startswith("floor") else float("nan"))
        lines.append(f"| {r['method']}{note} | {r['batch']} | {r.get('prefill_s', float('nan')):.3f} | "
                     f"{r['steps_per_s_per_row']:.1f} | {r['row_steps_per_s']:.1f} | {of:.2f} |")  # fmt: skip
    table = "\n".join(lines)
    print(table)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / ("decode_bench_tiny.json" if tiny else "decode_bench.json")).write_text(
        json.dumps({"meta": meta, "memory": memory, "rows": rows, "profile": profile, "table": table}, indent=2)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
