"""Regenerate the README's decode table (section "Running on a GPU machine") from bench/results JSON.

python bench/readme_table.py            # rewrites the block between the decode-bench markers in README.md
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- decode-bench:begin (bench/readme_table.py) -->", "<!-- decode-bench:end -->"
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


def main() -> int:
    res = ROOT / "bench" / "results"
    block = table(json.loads((res / "decode_bench_h200.json").read_text()),
                  json.loads((res / "e2e_bench_h200.json").read_text()))  # fmt: skip
    readme = ROOT / "README.md"
    text = readme.read_text()
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    readme.write_text(text[:start] + "\n" + block + "\n" + text[end:])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
