"""GPU checks of the latent decoder (run on the device machine: `pytest -m gpu tests/model/test_model_gpu.py`).

The CPU suite proves the fast decoder equals the reference loop; here the same decoder on CUDA must give the same
tokens and fed-back vectors as on CPU (fp32, TF32 off), and bf16 must keep the span structure.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]
BENCH = Path(__file__).resolve().parents[2] / "bench" / "decode.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_decode", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _decode(bench, model, device, dtype):
    from future_l1.model.decoder import GenerationSettings, LatentBudget, LatentDecoder
    from future_l1.model.tokens import LatentIds

    model = model.to(device, dtype)
    rows = [bench.build_inputs(1, frames=4, size=64, device=device, dtype=dtype, seed=s) for s in (0, 1, 2)]
    batch = {k: torch.cat([r[k] for r in rows]) for k in rows[0]}
    ids = LatentIds(bench.LATENT, bench.LATENT_START, bench.LATENT_END)
    decoder = LatentDecoder(
        model, bench._NoTokenizer(), ids, LatentBudget(max_latent_token=3, fixed=True), eos_token_ids=[-1]
    )

    def force(generated, scores):  # a span at steps 1 and 9 of every row, ended by the cap
        if generated.shape[1] in (1, 9):
            scores[:, bench.LATENT_START] += 1e4
        return scores

    with torch.inference_mode():
        return decoder.generate(batch, GenerationSettings(max_new_tokens=20, return_latents=True), force)


@pytest.fixture(scope="module")
def sharp_tiny_model():
    from transformers import Qwen3VLForConditionalGeneration

    bench = _bench()
    gen = torch.Generator().manual_seed(0)
    model = Qwen3VLForConditionalGeneration(bench.build_config(tiny=True)).eval()
    with torch.no_grad():  # decisive argmax: any numerical slip between devices would change tokens, not vanish
        for name, p in model.model.language_model.named_parameters():
            if p.ndim == 2 and "embed" not in name:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.2)
        model.get_input_embeddings().weight.mul_(20)
    return bench, model


def test_cuda_decoder_matches_cpu_token_for_token(sharp_tiny_model) -> None:
    bench, model = sharp_tiny_model
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    cpu = _decode(bench, model, torch.device("cpu"), torch.float32)
    cuda = _decode(bench, model, torch.device("cuda"), torch.float32)
    for a, b in zip(cpu, cuda, strict=True):
        assert a.token_ids == b.token_ids
        assert a.span_lengths == b.span_lengths == [3, 3]
        torch.testing.assert_close(a.latents, b.latents.cpu(), rtol=1e-3, atol=1e-3)


def test_cuda_bf16_keeps_span_structure(sharp_tiny_model) -> None:
    bench, model = sharp_tiny_model
    outs = _decode(bench, model, torch.device("cuda"), torch.bfloat16)
    for out in outs:
        assert out.span_lengths == [3, 3]
        assert out.latent_steps == 6 and out.text_tokens + out.latent_steps == len(out.token_ids)
