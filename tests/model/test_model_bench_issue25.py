"""The issue-25 GPU scripts run end to end on the CPU with --tiny (GPU time is never spent on a broken script), and
the prefill bench's FLOP count is exact."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"fl1_bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_prefill_flops_match_torchs_flop_counter():
    """Our count against torch's FlopCounterMode over one eager prefill of the tiny geometry. Eager attention computes
    the whole square; our count (like flash attention) the causal half of the language model's attention."""
    from torch.utils.flop_counter import FlopCounterMode
    from transformers import Qwen3VLForConditionalGeneration

    from future_l1.model.decoder import LatentBudget, LatentDecoder

    decode, prefill = _load("decode"), _load("prefill")
    config = decode.build_config(tiny=True)
    config._attn_implementation = "eager"
    torch.manual_seed(0)
    model = Qwen3VLForConditionalGeneration._from_config(config).eval()
    x = decode.build_inputs(1, frames=6, size=96, device="cpu", dtype=torch.float32)
    dec = LatentDecoder(model, decode._NoTokenizer(), None, LatentBudget(), eos_token_ids=[1])
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        dec.prefill(x)
    ours = prefill.prefill_flops(config, [tuple(x["video_grid_thw"][0].tolist())], x["input_ids"].shape[1])
    assert counter.get_total_flops() == ours["total"] + ours["lm_attention"]
    assert ours["vision"] == ours["vision_matmul"] + ours["vision_attention"] > 0


def test_prefill_bench_tiny(tmp_path):
    assert _load("prefill").main(["--tiny", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "prefill_bench_tiny.json").read_text())
    assert result["meta"]["prompt_tokens"] > 0 and result["flops"]["total"] > 0
    assert set(result["seconds"]) == {"vision", "lm", "total"} and result["seconds"]["total"] > 0


def test_e2e_bench_tiny_with_the_before_configuration(tmp_path):
    assert _load("e2e").main(["--tiny", "--before", "2", "--eager-samples", "0", "--out", str(tmp_path)]) == 0
    runs = json.loads((tmp_path / "e2e_bench_tiny.json").read_text())["runs"]
    assert [r["method"].startswith("issue 13's settings") for r in runs] == [False, True]
    for r in runs:
        assert "error" not in r, r
        assert r["answered_once"] and r["errors"] == 0 and r["oom_retries"] == 0
        assert r["prefill_s_per_sample"] > 0 and r["decode_s_per_sample"] > 0
    assert (runs[0]["fused"], runs[1]["fused"]) == (True, False)


def test_decode_bench_fused_and_unfused_rows(tmp_path):
    bench = _load("decode")
    args = ["--tiny", "--out", str(tmp_path), "--steps", "6", "--batches", "1", "--skip-reference",
            "--variants", "graph,graph-unfused"]  # fmt: skip
    assert bench.main(args) == 0
    rows = json.loads((tmp_path / "decode_bench_tiny.json").read_text())["rows"]
    fast = {r["variant"]: r for r in rows if "variant" in r}
    assert set(fast) == {"graph", "graph-unfused"} and "unfused" in fast["graph-unfused"]["method"]
    assert all(r["decode_steps"] >= 5 and "error" not in r for r in fast.values())
    assert not any(r["method"].startswith(("transformers", "LatentDecoder")) for r in rows)


@pytest.mark.integration
def test_real_run_tiny(tmp_path):
    """bench/real_run.py on the CPU: data in both layouts, a checkpoint in the Future-L1 layout, `future-l1 run`
    through lmms-eval with the fast decoder and the rubric judge, and the leaderboard."""
    assert _load("real_run").main(["--tiny", "--work", str(tmp_path / "w"), "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "real_run_tiny.json").read_text())
    assert report["run_exit_code"] == 0 and report["report_exit_code"] == 0
    metrics = {Path(k).stem: v["metrics"] for k, v in report["results"].items()}
    assert metrics["futurebench_future_l1"]["n_errors"] == 0 and metrics["twiffbench_future_l1"]["n_failed"] == 0
    data = {Path(k).stem: v["provenance"]["data"] for k, v in report["results"].items()}  # named in the suite
    assert {v["kind"] for v in data.values()} == {"folder"} and all(v["path"] for v in data.values())
    assert report["futurebench"]["samples"] == 4 and report["futurebench"]["s_per_sample"] > 0
    assert all(s["errors"] == 0 for s in report["schedule"]) and "TwiFF-Bench" in report["leaderboard_md"]
