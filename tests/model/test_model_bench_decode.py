"""bench/decode.py runs end to end on CPU with --tiny (so GPU time is never spent on a broken script).

Structure and finite values only: a measured time or rate is never asserted (it depends on the machine's load)."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "decode.py"


def test_decode_bench_tiny(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("fl1_bench_decode", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--tiny", "--out", str(tmp_path), "--steps", "8"]) == 0
    result = json.loads((tmp_path / "decode_bench_tiny.json").read_text())
    methods = {(r["method"], r["batch"]) for r in result["rows"]}
    names = ("transformers generate (dynamic cache, no latents)", "LatentDecoder (eager reference)",
             "FastLatentDecoder (graph, GQA matmul)", "floor (LM weights + KV reads / copy bandwidth)")  # fmt: skip
    assert methods == {(m, b) for m in names for b in (1, 2)}
    for row in result["rows"]:
        if row["method"].startswith("floor"):
            continue
        assert "error" not in row, row
        assert row["decode_steps"] >= 7
        assert all(math.isfinite(row[k]) for k in ("prefill_s", "decode_s", "steps_per_s_per_row")), row
        # prefill and decode are read off one timed region (not a difference of two runs): never negative
        assert row["prefill_s"] >= 0 and row["decode_s"] >= 0, row
        if "Decoder" in row["method"]:
            assert row["latent_steps_per_row"] > 0 and row["spans_per_row"] >= 1
    assert result["memory"]["kv_bytes_per_token"] == 2 * 2 * 2 * 16 * 4  # K+V, 2 layers, 2 KV heads, dim 16, fp32
    assert "| FastLatentDecoder (graph, GQA matmul) | 2 |" in capsys.readouterr().out
