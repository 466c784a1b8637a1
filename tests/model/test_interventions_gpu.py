"""The fast decoder applies the same latent interventions as the eager one (issue 29).

Self-contained (a tiny random Qwen3-VL built in the test, bench-shaped inputs, no files), fp32 with TF32 off. On CUDA
(`-m gpu`) the fast path's step, intervention included, is captured in CUDA graphs; the CPU case runs the same step
function without graphs. Run on the device machine with:

    .venv/bin/python -m pytest -q -m gpu tests/model/test_interventions_gpu.py
"""

from __future__ import annotations

import pytest
import torch
from static_cases import FakeTokenizer, StepForcer, bench_module, collate_rows, rows_batch, sharp_tiny

from future_l1.model.decoder import GenerationSettings, LatentBudget, LatentDecoder
from future_l1.model.interventions import LatentIntervention
from future_l1.model.static_decoder import FastLatentDecoder
from future_l1.model.tokens import LatentIds

BENCH = bench_module()
IDS = LatentIds(BENCH.LATENT, BENCH.LATENT_START, BENCH.LATENT_END)
KINDS = ["zero", "mean", "noise:0.5", "random", "shuffle", "budget:0", "budget:2"]
CPU_KINDS = ("noise:0.5", "random", "shuffle")  # the fast tier: run state and draws; the GPU run covers all
GPU = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]
CASES = [pytest.param(k, "cuda", id=f"{k}-cuda", marks=GPU) for k in KINDS]
CASES += [pytest.param(k, "cpu", id=f"{k}-cpu") for k in CPU_KINDS]


@pytest.fixture(scope="module")
def model():
    return sharp_tiny(BENCH)


@pytest.fixture(autouse=True)
def _no_tf32():
    old = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old


@pytest.mark.parametrize(("kind", "device"), CASES)
def test_fast_path_applies_the_same_intervention(model, device, kind):
    model = model.to(device, torch.float32)
    budget = LatentBudget(max_latent_token=3, fixed=False)
    eager = LatentDecoder(model, FakeTokenizer(), IDS, budget)
    fast = FastLatentDecoder(model, FakeTokenizer(), IDS, budget, poll_every=4, kv_bucket=16)
    assert fast.use_graphs == (device == "cuda")
    batch = collate_rows(BENCH, rows_batch(BENCH, [4, 2, 6, 4], device, torch.float32))
    forcer = StepForcer(BENCH, every=9, end_after=1, eos_at=21)  # rows finish at different steps via their spans
    plain = eager.generate(batch, GenerationSettings(max_new_tokens=24, return_latents=True), forcer)
    outs = {}
    for name, dec in (("eager", eager), ("fast", fast)):
        settings = GenerationSettings(max_new_tokens=24, return_latents=True, intervention=LatentIntervention(kind, 7))
        outs[name] = dec.generate(batch, settings, forcer)
    for a, b in zip(outs["eager"], outs["fast"], strict=True):
        assert a.token_ids == b.token_ids
        assert a.span_lengths == b.span_lengths
        assert a.latents.shape == b.latents.shape
        if a.latents.numel():
            err = (b.latents - a.latents).norm(dim=-1) / a.latents.norm(dim=-1).clamp(min=1e-6)
            assert float(err.max()) <= 1e-4, err
    if kind.startswith("budget:"):
        k = int(kind.split(":")[1])
        assert all(n == k for o in outs["fast"] for n in o.span_lengths)
    else:  # the intervention really changed what was fed back
        changed = [a.latents.shape != b.latents.shape or not torch.allclose(a.latents, b.latents)
                   for a, b in zip(plain, outs["fast"], strict=True)]  # fmt: skip
        assert any(changed)
    if kind == "zero":
        assert all(torch.count_nonzero(o.latents) == 0 for o in outs["fast"])
