"""The fast decoder (static KV cache, fixed slots, captured step) against the eager `LatentDecoder`, token for token.

Every case runs on the CPU (no graphs: the same step function, eager) and, marked `gpu`, on CUDA in fp32 with TF32
off, where the step is captured in CUDA graphs (and, in one case, compiled). Inputs are bench-shaped tiny videos, so
the device machine needs no tokenizer or processor files.
"""

from __future__ import annotations

import pytest
import torch
from static_cases import FakeTokenizer, SplitForcer, StepForcer, bench_module, collate_rows, rows_batch, sharp_tiny

from future_l1.model.decoder import GenerationSettings, LatentBudget, LatentDecoder
from future_l1.model.static_decoder import FastLatentDecoder
from future_l1.model.tokens import LatentIds

BENCH = bench_module()
IDS = LatentIds(BENCH.LATENT, BENCH.LATENT_START, BENCH.LATENT_END)
DEVICES = [
    pytest.param("cpu", id="cpu"),
    pytest.param(
        "cuda",
        id="cuda",
        marks=[pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")],
    ),
]


@pytest.fixture(scope="module")
def model():
    return sharp_tiny(BENCH)


@pytest.fixture(autouse=True)
def _no_tf32():
    old = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old


def _decoders(model, device, fixed: bool, **fast_kwargs):
    model = model.to(device, torch.float32)
    budget = LatentBudget(max_latent_token=3, fixed=fixed)  # cap 3 fixed, 6 loose
    eager = LatentDecoder(model, FakeTokenizer(), IDS, budget)
    fast = FastLatentDecoder(model, FakeTokenizer(), IDS, budget, poll_every=4, kv_bucket=16, **fast_kwargs)
    return eager, fast


def _same(a, b, latents=True):
    assert a.token_ids == b.token_ids
    assert (a.text, a.finish_reason, a.span_lengths) == (b.text, b.finish_reason, b.span_lengths)
    assert (a.text_tokens, a.latent_steps) == (b.text_tokens, b.latent_steps)
    if latents:
        # Relative to the norm, per fed-back vector. The paths differ only in fp32 reduction order (attention over a
        # padded vs an unpadded cache, batched matmuls): ~5e-7 on a span's first vector, then the error compounds
        # through the feedback loop of this deliberately sharp model (about x1.5 per latent step), so the mean over
        # vectors must be <= 1e-5 and the worst (the end of a 6-long span) <= 5e-5.
        assert b.latents.shape == a.latents.shape
        err = (b.latents - a.latents).norm(dim=-1) / a.latents.norm(dim=-1)
        assert float(err.mean()) <= 1e-5 and float(err.max()) <= 5e-5, err
    if a.logprobs is not None:
        torch.testing.assert_close(torch.tensor(b.logprobs), torch.tensor(a.logprobs), rtol=1e-4, atol=1e-4)


CASES = [
    # frames per row, fixed budget, forcer kwargs, processor kind
    pytest.param([4], True, dict(every=9), "graph", id="b1-fixed"),
    pytest.param([2, 6, 4], False, dict(every=9, end_after=1), "graph", id="b3-loose-early-end"),
    pytest.param([6, 2, 4, 8, 2, 6, 4, 2], True, dict(every=8, eos_at=13), "graph", id="b8-fixed-eos"),
    pytest.param([4, 8], False, dict(every=8), "split", id="b2-loose-cap-split"),
    pytest.param([8, 2, 6, 4], False, dict(every=7, end_after=2, eos_at=17), "split", id="b4-loose-eos-split"),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(("frames", "fixed", "force", "kind"), CASES)
def test_fast_equals_eager(model, device, frames, fixed, force, kind):
    eager, fast = _decoders(model, device, fixed)
    batch = collate_rows(BENCH, rows_batch(BENCH, frames, device, torch.float32))
    forcer = (StepForcer if kind == "graph" else SplitForcer)(BENCH, **force)
    settings = GenerationSettings(max_new_tokens=24, return_latents=True)
    if hasattr(settings, "return_logprobs"):
        settings.return_logprobs = True
    ref = eager.generate(batch, settings, forcer)
    out = fast.generate(batch, settings, forcer)
    for a, b in zip(ref, out, strict=True):
        _same(a, b)
    assert all(o.latent_steps > 0 for o in ref)  # the spans are real
    if "eos_at" in force:
        assert {o.finish_reason for o in ref} == {"eos"}
    assert len({tuple(o.token_ids) for o in ref}) == len(ref) or len(ref) == 1  # the videos reach the model


@pytest.mark.parametrize("device", DEVICES)
def test_stop_strings_and_text_mode(model, device):
    eager, fast = _decoders(model, device, fixed=False)
    batch = collate_rows(BENCH, rows_batch(BENCH, [4, 6, 2], device, torch.float32))
    plain = eager.generate(batch, GenerationSettings(max_new_tokens=14, latent=False))
    # a stop string made of tokens 5-6 of row 0 and another of tokens 9-10 of row 2
    stops = (FakeTokenizer().decode(plain[0].token_ids[5:7]), FakeTokenizer().decode(plain[2].token_ids[9:11]))
    settings = GenerationSettings(max_new_tokens=14, latent=False, stop=stops)
    ref = eager.generate(batch, settings)
    out = fast.generate(batch, settings)
    for a, b in zip(ref, out, strict=True):
        _same(a, b, latents=False)
    assert ref[0].finish_reason == "stop" and len(ref[0].token_ids) <= 7
    forcer = StepForcer(BENCH, every=5)
    settings = GenerationSettings(max_new_tokens=14, stop=stops, return_latents=True)
    for a, b in zip(eager.generate(batch, settings, forcer), fast.generate(batch, settings, forcer), strict=True):
        _same(a, b)


@pytest.mark.parametrize("device", DEVICES)
def test_rows_join_mid_batch(model, device):
    """Continuous batching: rows admitted into free slots while others decode give their single-row results."""
    eager, fast = _decoders(model, device, fixed=False)
    rows = rows_batch(BENCH, [4, 8, 2, 6, 4], device, torch.float32, seeds=[0, 1, 2, 3, 4])
    forcer = StepForcer(BENCH, every=6, end_after=1)
    settings = GenerationSettings(max_new_tokens=20, return_latents=True)
    refs = [eager.generate(r, settings, forcer)[0] for r in rows]
    eos_rows = [eager.generate(r, settings, StepForcer(BENCH, every=6, eos_at=9))[0] for r in rows[:1]]
    sess = fast.session(slots=3, max_len=512, settings=settings, logits_processor=forcer)
    sess.admit(collate_rows(BENCH, rows[:2]), keys=[0, 1])
    got = {}
    for _ in range(5):  # rows 0 and 1 decode alone for 5 steps
        sess.step()
    sess.admit(collate_rows(BENCH, rows[2:3]), keys=[2])  # joins at step 5 in the free slot
    pending = [3, 4]
    while sess.rows or pending:
        for r in sess.run():
            got[r.key] = r.output
            assert r.latency_s > 0 and r.prompt_tokens == int(rows[r.key]["attention_mask"].sum())
        free = sess.free_slots()
        if pending and free:
            key = pending.pop(0)
            sess.admit(collate_rows(BENCH, rows[key : key + 1]), keys=[key])
    assert sorted(got) == [0, 1, 2, 3, 4]
    for k, ref in enumerate(refs):
        _same(ref, got[k])
    assert eos_rows[0].finish_reason == "eos"


@pytest.mark.parametrize("device", DEVICES)
def test_sampling_is_seeded_and_top_p_tiny_is_greedy(model, device):
    eager, fast = _decoders(model, device, fixed=False)
    batch = collate_rows(BENCH, rows_batch(BENCH, [4, 2], device, torch.float32))
    forcer = StepForcer(BENCH, every=6)
    sample = GenerationSettings(max_new_tokens=12, temperature=1.5, seed=7)
    a, b = fast.generate(batch, sample, forcer), fast.generate(batch, sample, forcer)
    assert [o.token_ids for o in a] == [o.token_ids for o in b]
    c = fast.generate(batch, GenerationSettings(max_new_tokens=12, temperature=1.5, seed=8), forcer)
    assert [o.token_ids for o in a] != [o.token_ids for o in c]
    greedy = eager.generate(batch, GenerationSettings(max_new_tokens=12), forcer)
    nucleus = GenerationSettings(max_new_tokens=12, temperature=1.0, top_p=1e-6, seed=3)
    assert [o.token_ids for o in fast.generate(batch, nucleus, forcer)] == [o.token_ids for o in greedy]
    assert all(o.span_lengths for o in a)


@pytest.mark.parametrize("attn", ["matmul", "sdpa", "flex", "reduce"])
def test_attention_variants_agree(model, attn):
    eager, fast = _decoders(model, "cpu", fixed=True, attn=attn)
    batch = collate_rows(BENCH, rows_batch(BENCH, [2, 6], "cpu", torch.float32))
    settings = GenerationSettings(max_new_tokens=16, return_latents=True)
    forcer = StepForcer(BENCH, every=7)
    for a, b in zip(eager.generate(batch, settings, forcer), fast.generate(batch, settings, forcer), strict=True):
        _same(a, b)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize(
    ("compile", "attn"),
    [(False, "matmul"), (True, "flex"), (True, "reduce")],
    ids=["graph", "compiled-flex", "compiled-reduce"],
)
def test_cuda_graphs_bf16_keep_span_structure(model, compile, attn):
    model = model.to("cuda", torch.bfloat16)
    budget = LatentBudget(max_latent_token=3, fixed=True)
    fast = FastLatentDecoder(model, FakeTokenizer(), IDS, budget, compile=compile, attn=attn, kv_bucket=128)
    batch = collate_rows(BENCH, rows_batch(BENCH, [4, 6, 2], "cuda", torch.bfloat16))
    outs = fast.generate(batch, GenerationSettings(max_new_tokens=20), StepForcer(BENCH, every=10))
    for o in outs:
        assert o.span_lengths == [3, 3]
        assert o.latent_steps == 6 and o.text_tokens + o.latent_steps == len(o.token_ids) == 20
    model.to(torch.float32)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("attn", ["flex", "reduce"])
def test_cuda_compiled_fp32_equals_eager(model, attn):
    """The compiled step (inductor kernels, the attention variants the bench prefers) in fp32 against the eager loop."""
    eager, fast = _decoders(model, "cuda", fixed=False, compile=True, attn=attn)
    fast.kv_bucket = 128
    batch = collate_rows(BENCH, rows_batch(BENCH, [2, 6, 4], "cuda", torch.float32))
    forcer = StepForcer(BENCH, every=9, end_after=1, eos_at=20)
    settings = GenerationSettings(max_new_tokens=24, return_latents=True)
    for a, b in zip(eager.generate(batch, settings, forcer), fast.generate(batch, settings, forcer), strict=True):
        _same(a, b)


def test_fused_projections_are_views_that_save_and_reload(model, tmp_path):
    """q/k/v and gate/up become row slices of one matrix each (no copy kept), reused by later decoders, seen by
    in-place updates, and saved by transformers as ordinary separate tensors."""
    from safetensors.torch import load_file

    model = model.to("cpu", torch.float32)
    fast = FastLatentDecoder(model, FakeTokenizer(), IDS, LatentBudget(max_latent_token=3))
    layer = model.model.language_model.layers[1]
    attn, mlp = layer.self_attn, layer.mlp
    qkv, gate_up = fast.layer_weights[1][1], fast.layer_weights[1][6]
    nq, nk = attn.q_proj.weight.shape[0], attn.k_proj.weight.shape[0]
    assert qkv.data_ptr() == attn.q_proj.weight.data_ptr() and qkv[nq].data_ptr() == attn.k_proj.weight.data_ptr()
    assert qkv[nq + nk].data_ptr() == attn.v_proj.weight.data_ptr()
    assert gate_up[mlp.gate_proj.weight.shape[0]].data_ptr() == mlp.up_proj.weight.data_ptr()
    again = FastLatentDecoder(model, FakeTokenizer(), IDS, LatentBudget(max_latent_token=3))
    assert again.layer_weights[1][1] is qkv and again.layer_weights[1][6] is gate_up
    unfused = FastLatentDecoder(model, FakeTokenizer(), IDS, LatentBudget(max_latent_token=3), fuse=False)
    assert isinstance(unfused.layer_weights[1][1], tuple) and len(unfused.layer_weights[1][6]) == 2
    with torch.no_grad():  # an in-place update through the module is an update of the fused matrix
        before = float(qkv[nq + nk, 0])
        attn.v_proj.weight[0, 0] += 1.0
        assert float(qkv[nq + nk, 0]) == float(attn.v_proj.weight[0, 0]) != before
        attn.v_proj.weight[0, 0] -= 1.0
    state = {k: v.clone() for k, v in model.state_dict().items()}
    model.save_pretrained(tmp_path)
    saved = {}
    for f in tmp_path.glob("*.safetensors"):
        saved.update(load_file(f))
    prefix = "model.language_model.layers.1."
    for name in ("self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight",
                 "mlp.gate_proj.weight", "mlp.up_proj.weight"):  # fmt: skip
        assert torch.equal(saved[prefix + name], state[prefix + name]), name
    moved = model.to(torch.float64)  # new storage: the next decoder fuses again
    fresh = FastLatentDecoder(moved, FakeTokenizer(), IDS, LatentBudget(max_latent_token=3))
    assert fresh.layer_weights[1][1].dtype == torch.float64 and fresh.layer_weights[1][1] is not qkv
    model.to(torch.float32)
