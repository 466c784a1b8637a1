"""The fast decoder's sort-free top-p (`static_decoder.top_p_keep`, issue 27) against the sort-based reference
(`decoder._top_p_filter`), and its sampler (`sampler="radix"`) against the reference sampling path.

The kept set is defined by the reference: token x is kept iff the mass of the tokens before it in the descending
order, G(x), is at most top_p. Both implementations compute G with rounding (the reference with an fp32 cumsum over
the sorted row, the radix select in 2^-48 fixed point), so they may disagree only on tokens whose exact G (fp64) is
within rounding of top_p; ties are ordered by index (a stable sort, as torch.sort on CUDA).
"""

from __future__ import annotations

import pytest
import torch
from static_cases import FakeTokenizer, StepForcer, bench_module, collate_rows, rows_batch, sharp_tiny

from future_l1.model.decoder import GenerationSettings, LatentBudget, _top_p_filter
from future_l1.model.static_decoder import FastLatentDecoder, sample_choice, top_p_filter_radix, top_p_keep
from future_l1.model.tokens import LatentIds

TOP_PS = [0.0, 1e-6, 0.1, 0.5, 0.9, 0.99, 0.999, 0.999999]
ROUNDING = 1e-5  # |G - top_p| below which the fp32 reference itself is not decided (measured: up to 3.6e-6)


def _reference(scores: torch.Tensor, top_p: float, dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """(kept mask, G per token in fp64) of the sort-based filter with a stable sort, in `dtype`."""
    ordered, order = torch.sort(scores, descending=True, dim=-1, stable=True)
    p = ordered.to(dtype).softmax(-1)
    before = p.cumsum(-1) - p
    keep = torch.zeros_like(scores, dtype=torch.bool).scatter(-1, order, before <= top_p)
    return keep, torch.zeros_like(scores, dtype=torch.float64).scatter(-1, order, before.double())


def _cases():
    g = torch.Generator().manual_seed(0)
    out = []
    for V in (2, 7, 100, 1000, 5003):
        out.append((f"randn-{V}", torch.randn(4, V, generator=g) * 3))
        out.append((f"peaked-{V}", torch.randn(4, V, generator=g) * 20))
        out.append((f"flat-{V}", torch.randn(4, V, generator=g) * 0.01))
        out.append((f"bf16-ties-{V}", (torch.randn(4, V, generator=g) * 2).bfloat16().float()))
        out.append((f"int-ties-{V}", torch.randint(-3, 3, (4, V), generator=g).float()))
        out.append((f"uniform-{V}", torch.zeros(4, V)))
        one_hot = torch.full((4, V), float("-inf"))
        one_hot[torch.arange(4), torch.randint(0, V, (4,), generator=g)] = 0.0
        out.append((f"one-hot-{V}", one_hot))
        banned = torch.randn(4, V, generator=g) * 4
        banned[banned < -2] = float("-inf")
        banned[:, 0] = 30.0  # one dominant token, many -inf
        out.append((f"banned-{V}", banned))
        signed = torch.randn(4, V, generator=g) * 1e-3
        signed[:, ::3] = -0.0
        signed[:, 1::3] = 0.0
        out.append((f"signed-zeros-{V}", signed))
    return out


CASES = _cases()


@pytest.mark.parametrize(("name", "scores"), CASES, ids=[c[0] for c in CASES])
def test_kept_set_equals_the_sort_based_one(name, scores):
    for top_p in TOP_PS:
        ref, before = _reference(scores, top_p)
        exact, _ = _reference(scores, top_p, torch.float64)
        got = top_p_keep(scores, top_p)
        finite = torch.isfinite(scores)
        differ = (got != ref) & finite
        # only where the fp32 reference is within its own rounding of top_p
        assert bool(((before[differ] - top_p).abs() <= ROUNDING).all()), (name, top_p, int(differ.sum()))
        # and the radix select is within 2e-6 of the exact (fp64) set
        off = (got != exact) & finite
        assert bool(((before[off] - top_p).abs() <= 2e-6).all()), (name, top_p, int(off.sum()))
        assert bool(got.any(-1).all())  # the top token is always kept
        undecided = ((before - top_p).abs() <= ROUNDING) & finite
        if not bool(undecided.any()):  # no token at the boundary within rounding: the very same set
            assert torch.equal(got | ~finite, ref | ~finite), (name, top_p)


@pytest.mark.parametrize("top_p", [0.0, 0.3, 0.9, 0.99])
def test_filter_output_equals_the_reference_without_ties(top_p):
    """Without ties (where torch.sort on the CPU is unstable) the filtered scores are the reference's, bit for bit."""
    g = torch.Generator().manual_seed(1)
    for scale in (0.5, 3.0, 15.0):
        scores = torch.randn(8, 4096, generator=g, dtype=torch.float64).float() * scale
        assert all(torch.unique(row).numel() == row.numel() for row in scores)
        assert torch.equal(top_p_filter_radix(scores, top_p), _top_p_filter(scores, top_p))


def test_ties_follow_index_order():
    # 10 equal tokens of mass 0.1 each: top_p 0.35 keeps those whose mass before is <= 0.35: the first four
    scores = torch.zeros(2, 10)
    keep = top_p_keep(scores, 0.35)
    assert keep[0].tolist() == [True] * 4 + [False] * 6
    # a higher token first (index 7), then ties: order is 7, then 0, 1, 2, ...
    scores[1, 7] = 1.0
    keep = top_p_keep(scores, 0.3)
    p = scores[1].softmax(-1)
    expect = [7] + [i for i in range(10) if i != 7]
    mass, kept = 0.0, []
    for i in expect:
        if mass <= 0.3:
            kept.append(i)
        mass += float(p[i])
    assert sorted(kept) == keep[1].nonzero().flatten().tolist()


@pytest.mark.parametrize("top_p", [None, 1.0, 0.5, 0.9, 0.99])
@pytest.mark.parametrize("temperature", [0.7, 1.0, 1.5])
def test_sample_choice_matches_the_reference_draw(top_p, temperature):
    """Same noise, same token as softmax(filtered scores / T) / noise; the log-sum-exp gives log_softmax's value."""
    g = torch.Generator().manual_seed(2)
    for _ in range(5):
        logits = (torch.randn(16, 3000, generator=g) * 4).bfloat16()
        scores = logits.float()
        scores[:, 5] = float("-inf")  # a banned id (the rollout's processor)
        noise = torch.empty_like(scores).exponential_(generator=g)
        ref = scores / temperature
        if top_p is not None and top_p < 1.0:  # bf16 logits tie: the reference with a stable sort (as on CUDA)
            ref = ref.masked_fill(~_reference(ref, top_p)[0], float("-inf"))
        expect = (ref.softmax(-1) / noise).argmax(-1)
        choice, lse = sample_choice(scores, noise, temperature, top_p, logits)
        assert torch.equal(choice, expect)
        token = torch.randint(0, 3000, (16,), generator=g)
        logp = logits.gather(1, token[:, None]).squeeze(1).float() / temperature - lse
        ref_logp = (logits.float() / temperature).log_softmax(-1).gather(1, token[:, None]).squeeze(1)
        torch.testing.assert_close(logp, ref_logp, rtol=1e-6, atol=1e-6)  # fp32 rounding
    assert sample_choice(scores, noise, temperature, top_p)[1] is None


def test_sample_choice_draws_from_the_top_p_distribution():
    """Frequencies of many draws match the renormalised top-p distribution (chi-square, 5 kept tokens)."""
    g = torch.Generator().manual_seed(3)
    scores = torch.tensor([[2.0, 1.5, 1.0, 0.5, 0.0, -1.0, -2.0, -3.0]]).repeat(100, 1)  # 1 MiB of bins a row
    choice = torch.cat([
        sample_choice(scores, torch.empty_like(scores).exponential_(generator=g), 1.0, 0.9)[0] for _ in range(200)
    ])  # fmt: skip
    p = scores[0].softmax(-1)
    keep = _top_p_filter(scores[:1], 0.9).isfinite()[0]
    q = torch.where(keep, p, 0) / p[keep].sum()
    counts = torch.bincount(choice, minlength=8).double()
    assert counts[~keep].sum() == 0
    expected = q[keep].double() * choice.numel()
    chi2 = float(((counts[keep] - expected) ** 2 / expected).sum())
    assert chi2 < 20.5, chi2  # 4 degrees of freedom: p ≈ 4e-4


BENCH = bench_module()
IDS = LatentIds(BENCH.LATENT, BENCH.LATENT_START, BENCH.LATENT_END)


@pytest.fixture(scope="module")
def model():
    return sharp_tiny(BENCH).to(torch.float32)


@pytest.mark.parametrize("top_p", [0.9, 0.99, 1.0])
def test_radix_sampler_decodes_the_reference_tokens(model, top_p):
    """The decoder with `sampler="radix"` (the compiled path's function, eager here) draws the same noise as the
    reference sampler, so it emits the same tokens, with the same log-probs and latents."""
    budget = LatentBudget(max_latent_token=3, fixed=True)
    batch = collate_rows(BENCH, rows_batch(BENCH, [4, 2, 6], "cpu", torch.float32))
    forcer = StepForcer(BENCH, every=6)
    settings = GenerationSettings(max_new_tokens=16, temperature=0.9, top_p=top_p, seed=11, return_latents=True,
                                  return_logprobs=True)  # fmt: skip
    out = {}
    for sampler in ("reference", "radix"):
        dec = FastLatentDecoder(model, FakeTokenizer(), IDS, budget, poll_every=4, kv_bucket=16, sampler=sampler)
        out[sampler] = dec.generate(batch, settings, forcer)
    for a, b in zip(out["reference"], out["radix"], strict=True):
        assert a.token_ids == b.token_ids and a.span_lengths == b.span_lengths
        torch.testing.assert_close(b.latents, a.latents, rtol=0, atol=0)
        torch.testing.assert_close(torch.tensor(b.logprobs), torch.tensor(a.logprobs), rtol=0, atol=1e-5)
    assert any(o.latent_steps for o in out["radix"])


def test_sampler_argument_is_checked(model):
    with pytest.raises(ValueError, match="sampler"):
        FastLatentDecoder(model, FakeTokenizer(), IDS, LatentBudget(), sampler="fancy")
    with pytest.raises(ValueError, match="fuse"):
        FastLatentDecoder(model, FakeTokenizer(), IDS, LatentBudget(), fuse="yes")


def test_fused_copies_leave_the_parameters_alone(model):
    """`fuse="copy"` decodes with fused copies of q|k|v and gate|up and leaves the modules' Parameters in place (the
    RL optimiser holds them); the tokens are those of the unfused decoder."""
    layer = model.model.language_model.layers[0]
    before = [layer.self_attn.q_proj.weight, layer.mlp.gate_proj.weight]
    budget = LatentBudget(max_latent_token=3, fixed=True)
    batch = collate_rows(BENCH, rows_batch(BENCH, [4, 2], "cpu", torch.float32))
    settings = GenerationSettings(max_new_tokens=12, return_latents=True, return_logprobs=True)
    outs = [
        FastLatentDecoder(model, FakeTokenizer(), IDS, budget, kv_bucket=16, fuse=fuse).generate(
            batch, settings, StepForcer(BENCH, every=5)
        )
        for fuse in (False, "copy")
    ]
    assert layer.self_attn.q_proj.weight is before[0] and layer.mlp.gate_proj.weight is before[1]
    for a, b in zip(*outs, strict=True):
        assert a.token_ids == b.token_ids
        torch.testing.assert_close(b.latents, a.latents, rtol=1e-5, atol=1e-5)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_radix_select_and_compiled_sampler():
    """On CUDA at the rollout's size (16 x 151,936): the radix set is torch.sort's (stable there, so bf16 ties too),
    eager and compiled; the compiled sampler draws the eager one's tokens and log-sum-exp."""
    dev = torch.device("cuda")
    g = torch.Generator(device=dev).manual_seed(0)
    keep_c = torch.compile(top_p_keep, dynamic=False, fullgraph=True)
    sample_c = torch.compile(sample_choice, dynamic=False, fullgraph=True)
    for scale in (0.05, 1.0, 4.0, 20.0):
        logits = (torch.randn(16, 151936, device=dev, generator=g) * scale).bfloat16()
        scores = logits.float()
        scores[:, 151669] = float("-inf")
        for top_p in (0.5, 0.9, 0.99):
            s = scores / 0.9
            ref, before = _reference(s, top_p)
            for got in (top_p_keep(s, top_p), keep_c(s, top_p)):
                differ = (got != ref) & torch.isfinite(s)
                # an fp32 cumsum over 151,936 tokens: the reference's own rounding reaches ~1e-5 (CPU: 8e-6 measured)
                assert bool(((before[differ] - top_p).abs() <= 5e-5).all()), (scale, top_p, int(differ.sum()))
            sort_filter = _top_p_filter(s, top_p).isfinite()  # the decoder's own filter, unstable flag, on CUDA
            differ = (sort_filter != ref) & torch.isfinite(s)
            assert not bool(differ.any()), (scale, top_p, int(differ.sum()))
            noise = torch.empty_like(s).exponential_(generator=g)
            a, lse_a = sample_choice(scores, noise, 0.9, top_p, logits)
            b, lse_b = sample_c(scores, noise, 0.9, top_p, logits)
            assert torch.equal(a, b)
            torch.testing.assert_close(lse_b, lse_a, rtol=1e-6, atol=1e-5)
            expect = (s.masked_fill(~ref, float("-inf")).softmax(-1) / noise).argmax(-1)
            assert torch.equal(a, expect)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("top_p", [0.9, 1.0])
def test_cuda_compiled_radix_decoder_decodes_the_reference_tokens(model, top_p):
    """fp32, TF32 off, whole step captured: compile=True (the radix sampler compiled) emits the tokens of the
    reference sampler (compile=False), with log-probs within 1e-5."""
    old = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        cuda = model.to("cuda")
        budget = LatentBudget(max_latent_token=3, fixed=True)
        batch = collate_rows(BENCH, rows_batch(BENCH, [4, 2, 6], "cuda", torch.float32))
        settings = GenerationSettings(max_new_tokens=16, temperature=0.9, top_p=top_p, seed=11,
                                      return_latents=True, return_logprobs=True)  # fmt: skip
        outs = {}
        for compile_ in (False, True):
            dec = FastLatentDecoder(cuda, FakeTokenizer(), IDS, budget, poll_every=4, kv_bucket=16, compile=compile_)
            outs[compile_] = dec.generate(batch, settings, StepForcer(BENCH, every=6))
        for a, b in zip(outs[False], outs[True], strict=True):
            assert a.token_ids == b.token_ids
            torch.testing.assert_close(torch.tensor(b.logprobs), torch.tensor(a.logprobs), rtol=0, atol=1e-5)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = old
        model.to("cpu")
