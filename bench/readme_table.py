"""Regenerate the README's GPU tables (section "Running on a GPU machine") from bench/results JSON.

python bench/readme_table.py            # rewrites the blocks between the decode-bench and issue25 markers in README.md

Blocks: issue 13's decode and end-to-end tables (bench/results/decode_bench_h200.json, e2e_bench_h200.json) and
issue 25's figures (bench/results/issue25/: the decode bench with fused and unfused projections at 448x448 and at the
real size, the prefill profile, the end-to-end bench and the real run through lmms-eval).
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- decode-bench:begin (bench/readme_table.py) -->", "<!-- decode-bench:end -->"
BEGIN25, END25 = "<!-- issue25:begin (bench/readme_table.py) -->", "<!-- issue25:end -->"
ISSUE25 = "bench/results/issue25"
# Measured in the issue (2026-12-01, same machine kind and geometry), not re-run: its warm-up compiles for minutes.
STATIC_GENERATE = {1: 3.7, 8: 427.0}


def _cell(row: dict | None, batch: int) -> str:
    if row is None:
        return "–"
    v = row["steps_per_s_per_row"] if batch == 1 else row["row_steps_per_s"]
    of = row.get("of_floor")
    return f"{v:,.1f} ({of:.2f})" if of is not None else f"{v:,.1f}"


def table(decode: dict, e2e: dict) -> str:
    rows = decode["rows"]
    meta, mem = decode["meta"], decode["memory"]
    batches = sorted({r["batch"] for r in rows})
    methods = list(dict.fromkeys(r["method"] for r in rows))
    by = {(r["method"], r["batch"]): r for r in rows}
    gen = {b: by.get(("transformers generate (dynamic cache, no latents)", b)) for b in batches}
    head = "| decode step | " + " | ".join(
        f"batch {b}: {'steps/s' if b == 1 else 'row-steps/s'} (of floor)" for b in batches) + " |"  # fmt: skip
    lines = [
        f"{meta['device']}, Qwen3-VL-8B geometry ({meta['params'] / 1e9:.2f}B params, random bf16 weights), one "
        f"{meta['frames']}-frame {meta['size']}x{meta['size']} video ({rows[0]['prompt_tokens']:,} prompt tokens), "
        f"{meta['steps']} decode steps with latent spans (fast path; {meta['ref_steps']} for generate and eager), torch "
        f"{meta['torch']}, transformers {meta['transformers']}; copy bandwidth measured in the same process "
        f"{meta['copy_bandwidth_Bps'] / 1e12:.2f} TB/s. `python bench/decode.py` "
        "(results: `bench/results/decode_bench_h200.json`).",
        "",
        head,
        "|---|" + "---:|" * len(batches),
    ]
    for m in methods:
        label = m.replace(
            "floor (LM weights + KV reads / copy bandwidth)", "floor: LM weights + KV reads at copy bandwidth"
        )
        lines.append(f"| {label} | " + " | ".join(_cell(by.get((m, b)), b) for b in batches) + " |")
        if m.startswith("transformers generate"):
            lines.append("| transformers generate (static cache, compiled; issue 13's figures, not re-run) | "
                         + " | ".join(f"{STATIC_GENERATE[b]:,.1f}" if b in STATIC_GENERATE else "–" for b in batches)
                         + " |")  # fmt: skip
    best = {b: max((r for r in rows if r["method"].startswith("FastLatent") and r["batch"] == b and r.get("decode_steps")),
                   key=lambda r: r["row_steps_per_s"], default=None) for b in batches}  # fmt: skip
    ratios = ", ".join(f"batch {b}: {best[b]['row_steps_per_s'] / gen[b]['row_steps_per_s']:.0f}x generate"
                       for b in batches if best[b] and gen.get(b))  # fmt: skip
    lines += [
        "",
        f"Best fast path against `generate` in the same process: {ratios}. KV cache per row "
        f"{mem['kv_bytes_per_token']:,} B/token, {mem['kv_bytes_per_row_at_prompt_plus_steps'] / 1e9:.2f} GB at "
        f"{rows[0]['prompt_tokens'] + meta['steps']:,} tokens; largest batch that fits in 140 GB beside the weights "
        f"({mem['weights_bytes'] / 1e9:.1f} GB) and 8 GiB of headroom: {mem['largest_batch_fitting_140GB']}.",
        "",
    ]
    em = e2e["meta"]
    lines += [
        f"End to end (`python bench/e2e.py`, `bench/results/e2e_bench_h200.json`): FutureBench-shaped samples "
        f"({em['prompt_tokens']:,} prompt tokens, spans of {em['latent_tokens']} latents every {em['span_every']} "
        f"tokens, EOS after {em['eos_after']}+ tokens) through the adapter's continuous-batching scheduler; "
        f"goal {em['goal_s_per_sample']} s/sample, paper {em['paper_s_per_sample_h200']} s/sample on H200.",
        "",
        "| scheduler | slots | samples | s/sample (compile + capture excluded / included) | tokens/sample | peak GB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in e2e["runs"]:
        with_cap = r.get("s_per_sample_with_capture", r["s_per_sample"])
        lines.append(f"| {r['method']} | {r['slots']} | {r['samples']} | {r['s_per_sample']:.3f} / {with_cap:.3f} | "
                     f"{r['tokens_per_sample']:.1f} | {r.get('peak_memory_bytes', 0) / 1e9:.1f} |")  # fmt: skip
    return "\n".join(lines)


def _decode_rows(decode: dict) -> list[str]:
    meta, rows = decode["meta"], decode["rows"]
    floors = {r["batch"]: r for r in rows if r["method"].startswith("floor")}
    out = []
    for b in sorted(floors):
        fused = next((r for r in rows if r.get("variant") == "compiled-matmul" and r["batch"] == b), None)
        unfused = next((r for r in rows if r.get("variant") == "compiled-matmul-unfused" and r["batch"] == b), None)
        unit = "steps/s" if b == 1 else "row-steps/s"
        cells = [f"{r['row_steps_per_s']:,.1f} ({r['of_floor']:.2f})" if r else "–" for r in (unfused, fused)]
        goal = "≥ 200 steps/s" if b == 1 else "≥ 0.80 of floor"
        out.append(f"| {meta['size']}x{meta['size']} ({rows[0]['prompt_tokens']:,} tokens) | {b} | "
                   f"{floors[b]['row_steps_per_s']:,.1f} {unit} | {cells[0]} | {cells[1]} | {goal} |")  # fmt: skip
    return out


def issue25_table(d448: dict, d864: dict, prefill: dict, e2e: list[dict], real: dict) -> str:
    peak = prefill["matmul_peak_flops"]
    sec, fl = prefill["seconds"], prefill["flops"]
    lines = [
        f"Decode step, {d448['meta']['device']}, 8B geometry with random bf16 weights, decode layer compiled, matmul "
        f"attention, {d448['meta']['steps']} steps with latent spans; copy bandwidth measured in the same process "
        f"{d448['meta']['copy_bandwidth_Bps'] / 1e12:.2f} / {d864['meta']['copy_bandwidth_Bps'] / 1e12:.2f} TB/s "
        f"(`{ISSUE25}/run1/decode_bench_{{448,864}}.json`). Before = q/k/v and gate/up as separate GEMVs (issue 13), "
        "after = one fused GEMV each, measured in one process.",
        "",
        "| video | batch | floor | before (of floor) | after (of floor) | goal |",
        "|---|---:|---:|---:|---:|---|",
        *_decode_rows(d448),
        *_decode_rows(d864),
        "",
        f"Prefill of one real-size prompt ({prefill['meta']['prompt_tokens']:,} tokens, {prefill['meta']['frames']} "
        f"frames of {prefill['meta']['size']}x{prefill['meta']['size']}; `{ISSUE25}/run1/prefill_bench_864.json`), "
        f"against the bf16 matmul peak measured in the same process ({peak / 1e12:.0f} TFLOP/s):",
        "",
        "| part | TFLOP | seconds | TFLOP/s | of peak | at peak |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for part, label in (("vision", "vision tower"), ("lm", "language model"), ("total", "prefill")):
        lines.append(f"| {label} | {fl[part] / 1e12:.1f} | {sec[part]:.3f} | {fl[part] / sec[part] / 1e12:.0f} | "
                     f"{fl[part] / sec[part] / peak:.2f} | {fl[part] / peak:.3f} s |")  # fmt: skip
    kinds = prefill["profile"]["by_kind_ms"]
    full = sum(r["device_ms"] for r in prefill["profile"]["top"] if r["name"] == "Command Buffer Full")
    lines += [
        "",
        "Variants of the whole prefill: " + "; ".join(
            f"{v['what'].removeprefix('prefill, ')}: " + (f"{v['s_per_row']:.3f} s per prompt" if "s_per_row" in v
                                                         else "no kernel for these shapes")
            for v in prefill["variants"]) + ". Device time by kind (one prefill, torch.profiler): "
        + ", ".join(f"{k} {v:.0f} ms" for k, v in kinds.items()) + f" (\"other\" includes {full:.0f} ms the profiler "
        "records as \"Command Buffer Full\": host launches waiting for the GPU, not kernel time).",
        "",
        f"End to end (`python bench/e2e.py --slots auto`, `{ISSUE25}/run2/e2e_bench_{{448,864}}.json`): FutureBench-"
        "shaped samples through the continuous-batching scheduler, inputs synthesised before the clock starts, "
        "batch_size 256 asked and capped by the slot planner:",
        "",
        "| video | slots (asked) | samples | s/sample (compile excl. / incl.) | prefill s/sample | decode s/sample | "
        "peak GB allocated / reserved | OOM retries |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]  # fmt: skip
    for doc in e2e:
        m = doc["meta"]
        for r in doc["runs"]:
            lines.append(f"| {m['size']}x{m['size']} ({m['prompt_tokens']:,} tokens) | {r['slots']} "
                         f"({r['slots_requested']}) | {r['samples']} | {r['s_per_sample']:.3f} / "
                         f"{r['s_per_sample_with_capture']:.3f} | {r['prefill_s_per_sample']:.3f} | "
                         f"{r['decode_s_per_sample']:.3f} | {r['peak_allocated_bytes'] / 1e9:.1f} / "
                         f"{r['peak_reserved_bytes'] / 1e9:.1f} | {r['oom_retries']} |")  # fmt: skip
    fb, sched = real["futurebench"], next(s for s in real["schedule"] if s["task"] == "futurebench_future_l1")
    task = real["tasks"]["futurebench_future_l1"]
    shares = ", ".join(f"{k} {v:.0%}" for k, v in fb["shares"].items())
    lines += [
        "",
        f"The real run (`bench/real_run.py`, `{ISSUE25}/run2/real_run.json`): `future-l1 run` through lmms-eval "
        f"{real['versions']['lmms-eval']} on {real['machine']['device']} (torch {real['versions']['torch']}, "
        f"transformers {real['versions']['transformers']}), an 8B-geometry checkpoint with random bf16 weights in the "
        f"Future-L1 layout ({real['checkpoint']['bytes'] / 1e9:.1f} GB), FutureBench-layout data of "
        f"{real['futurebench_data']['width']}x{real['futurebench_data']['height']} mp4 clips "
        f"({real['futurebench_data']['frames']} frames, 32 sampled, {sched['prefill_tokens'] // sched['answered']:,} "
        f"prompt tokens), `decoder: fast`, `batch_size: {real['suite']['models'][0]['args']['batch_size']}`, "
        f"195 new tokens a sample, TwiFF-Bench with the embedded rubric judge on loopback: "
        f"**{fb['s_per_sample']:.2f} s/sample** over {fb['samples']} FutureBench samples, media decoding included "
        f"({fb['s_per_sample_without_capture']:.2f} s without the one-off compilation and graph capture); "
        f"{sched['plan']}; peak {real['peak_memory_allocated_bytes'] / 1e9:.1f} GB allocated, "
        f"{real['peak_memory_reserved_bytes'] / 1e9:.1f} GB reserved, no out-of-memory; media "
        f"{fb['media_s_per_sample']:.2f} thread-seconds per sample on the media threads. Shares of the task's "
        f"{task['wall_s']:.0f} s: {shares}.",
    ]
    return "\n".join(lines)


def _replace(text: str, begin: str, end: str, block: str) -> str:
    start, stop = text.index(begin) + len(begin), text.index(end)
    return text[:start] + "\n" + block + "\n" + text[stop:]


def main() -> int:
    res = ROOT / "bench" / "results"
    block = table(json.loads((res / "decode_bench_h200.json").read_text()),
                  json.loads((res / "e2e_bench_h200.json").read_text()))  # fmt: skip
    i25 = ROOT / ISSUE25

    def load(name):
        return json.loads((i25 / name).read_text())

    block25 = issue25_table(load("run1/decode_bench_448.json"), load("run1/decode_bench_864.json"),
                            load("run1/prefill_bench_864.json"),
                            [load("run2/e2e_bench_448.json"), load("run2/e2e_bench_864.json")],
                            load("run2/real_run.json"))  # fmt: skip
    readme = ROOT / "README.md"
    text = _replace(readme.read_text(), BEGIN, END, block)
    if BEGIN25 in text:
        text = _replace(text, BEGIN25, END25, block25)
    readme.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
