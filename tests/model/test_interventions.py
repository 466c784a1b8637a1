"""Latent interventions (issue 29) in the eager decoder on CPU: each one changes exactly what it names.

A forward pre-hook on the language model sees every step's input embeddings, so the tests check what the model was
really fed, not only what the decoder reports.
"""

from __future__ import annotations

import pytest
import torch
from static_cases import FakeTokenizer, StepForcer, bench_module, collate_rows, rows_batch, sharp_tiny

from future_l1.model.adapter_args import FutureL1ModelArgs, ModelArgsError
from future_l1.model.decoder import GenerationSettings, LatentBudget, LatentDecoder
from future_l1.model.interventions import InterventionError, InterventionSpec, LatentIntervention
from future_l1.model.tokens import LatentIds

BENCH = bench_module()
IDS = LatentIds(BENCH.LATENT, BENCH.LATENT_START, BENCH.LATENT_END)
STEPS = 16


@pytest.fixture(scope="module")
def model():
    return sharp_tiny(BENCH)


@pytest.fixture(scope="module")
def batch():
    return collate_rows(BENCH, rows_batch(BENCH, [4, 2, 6], "cpu", torch.float32))


def decode(model, batch, intervention=None, fixed=True, forcer=None):
    """Greedy decoding with spans forced at steps 1 and 9 of every row (cap 3); returns outputs and the inputs the
    language model saw at each step ([B, H] per step after the prefill)."""
    seen: list[torch.Tensor] = []

    def hook(module, args, kwargs):
        embeds = kwargs.get("inputs_embeds")
        if embeds is not None and embeds.shape[1] == 1:
            seen.append(embeds[:, 0].clone())

    handle = model.model.language_model.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        dec = LatentDecoder(model, FakeTokenizer(), IDS, LatentBudget(max_latent_token=3, fixed=fixed))
        dec.poll_every = 10**6  # keep every row in the batch, so `seen` rows are batch rows
        settings = GenerationSettings(max_new_tokens=STEPS, return_latents=True, intervention=intervention)
        outs = dec.generate(batch, settings, forcer or StepForcer(BENCH, every=8))
    finally:
        handle.remove()
    return outs, seen


def latent_inputs(outs, seen, row):
    """The vectors the model was fed at `row`'s latent steps (the input of step t+1 is the choice of step t)."""
    flags = [t for t, tok in enumerate(outs[row].token_ids) if tok == IDS.latent]
    return torch.stack([seen[t][row] for t in flags])


def test_parse_and_adapter_argument():
    assert str(InterventionSpec.parse("noise:0.50")) == "noise:0.5"
    assert InterventionSpec.parse("budget:0") == InterventionSpec("budget", k=0)
    assert InterventionSpec.parse("Random") == InterventionSpec("random")
    for bad in ("noise", "noise:-1", "budget:x", "zero:1", "swap", "random:1"):
        with pytest.raises(InterventionError):
            InterventionSpec.parse(bad)
    args = FutureL1ModelArgs.from_model_args(pretrained="x", latent_intervention="NOISE:0.25")
    assert args.latent_intervention == "noise:0.25" and args.latent_intervention_seed == 0
    assert FutureL1ModelArgs.from_model_args(pretrained="x").latent_intervention == "none"
    with pytest.raises(ModelArgsError, match=r"latent_intervention='budget:-1'.*budget:K"):
        FutureL1ModelArgs.from_model_args(pretrained="x", latent_intervention="budget:-1")


def test_none_is_bit_for_bit(model, batch):
    plain, _ = decode(model, batch)
    same, _ = decode(model, batch, LatentIntervention("none"))
    for a, b in zip(plain, same, strict=True):
        assert a.token_ids == b.token_ids and torch.equal(a.latents, b.latents)
    assert all(o.latent_steps == 6 for o in plain)


def test_zero_feeds_zeros(model, batch):
    plain, _ = decode(model, batch)
    outs, seen = decode(model, batch, LatentIntervention("zero"))
    for row in range(len(outs)):
        fed = latent_inputs(outs, seen, row)
        assert fed.shape[0] == 6 and torch.count_nonzero(fed) == 0
        assert torch.count_nonzero(outs[row].latents) == 0  # the saved latents are what was fed back
    assert any(a.token_ids != b.token_ids for a, b in zip(plain, outs, strict=True))  # and it matters


def test_noise_has_the_given_scale(model, batch):
    plain, _ = decode(model, batch)
    for sigma in (0.1, 1.0):
        outs, seen = decode(model, batch, LatentIntervention(f"noise:{sigma}", seed=3))
        for row in range(len(outs)):
            own = plain[row].latents[0]  # a span's first vector depends only on the prompt: the same in both runs
            fed = latent_inputs(outs, seen, row)[0]
            ratio = float((fed - own).norm() / own.norm())
            assert 0.6 * sigma < ratio < 1.4 * sigma, (sigma, ratio)
    again, _ = decode(model, batch, LatentIntervention("noise:1.0", seed=3))
    assert all(torch.equal(a.latents, b.latents) for a, b in zip(outs, again, strict=True))  # seeded


def test_random_replaces_the_vector_by_a_draw_of_its_norm(model, batch):
    plain, _ = decode(model, batch)
    outs, seen = decode(model, batch, LatentIntervention("random", seed=3))
    noise, _ = decode(model, batch, LatentIntervention("noise:1", seed=3))
    for row in range(len(outs)):
        own = plain[row].latents[0]  # a span's first vector depends only on the prompt: the same in every run
        fed = latent_inputs(outs, seen, row)[0]
        assert 0.6 < float(fed.norm() / own.norm()) < 1.4  # the scale the model expects
        assert abs(float(torch.nn.functional.cosine_similarity(fed, own, dim=0))) < 0.5  # none of its direction
        assert torch.allclose(fed, noise[row].latents[0] - own, atol=1e-5)  # the very draw that noise:1 adds
    again, _ = decode(model, batch, LatentIntervention("random", seed=3))
    assert all(torch.equal(a.latents, b.latents) for a, b in zip(outs, again, strict=True))  # seeded


def test_shuffle_feeds_the_next_rows_vector(model, batch):
    plain, _ = decode(model, batch)
    outs, seen = decode(model, batch, LatentIntervention("shuffle"))
    n = len(outs)
    for row in range(n):
        fed = latent_inputs(outs, seen, row)[0]
        assert torch.equal(fed, plain[(row + 1) % n].latents[0])  # the donor: the next row, at the same step


def test_shuffle_batch_of_one_uses_the_donor_bank(model):
    rows = rows_batch(BENCH, [4, 6], "cpu", torch.float32)
    inter = LatentIntervention("shuffle")
    first, _ = decode(model, rows[0], inter)
    own_first, _ = decode(model, rows[0])
    assert torch.equal(first[0].latents, own_first[0].latents)  # the run's first sample has no donor yet
    second, seen = decode(model, rows[1], inter)
    assert torch.equal(latent_inputs(second, seen, 0)[0], own_first[0].latents[0])  # the earlier sample's vector


def test_mean_feeds_the_runs_mean(model, batch):
    inter = LatentIntervention("mean")
    outs, seen = decode(model, batch, inter)
    assert torch.count_nonzero(latent_inputs(outs, seen, 0)[0]) == 0  # nothing to average yet
    st = inter._state
    count = int(st["count"])
    assert count == sum(o.latent_steps for o in outs)
    mean = (st["sum"] / st["count"]).clone()  # of the model's own vectors at every latent step of the first run
    assert float(mean.norm()) > 0
    again, seen = decode(model, batch, inter)
    for row in range(len(again)):
        torch.testing.assert_close(latent_inputs(again, seen, row)[0], mean)


@pytest.mark.parametrize("k", [0, 2, 5])
@pytest.mark.parametrize("fixed", [True, False])
def test_budget_forces_span_length(model, batch, k, fixed):
    forcer = StepForcer(BENCH, every=8, end_after=1)  # an early <|latent_end|> that the budget must override
    outs, _ = decode(model, batch, LatentIntervention(f"budget:{k}"), fixed=fixed, forcer=forcer)
    for o in outs:
        assert o.span_lengths and all(n == k for n in o.span_lengths), o.span_lengths
        assert o.latent_steps == k * len(o.span_lengths)
