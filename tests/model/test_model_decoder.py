"""The batched KV-cached latent decoder against the slow reference loop, token for token (greedy)."""

from __future__ import annotations

import pytest
import torch
from model_media import video_messages
from model_reference import reference_decode

from future_l1.model.decoder import GenerationSettings, LatentBudget, LatentDecoder
from future_l1.model.inputs import collate, prepare_sample
from future_l1.model.tokens import LatentIds

PIXELS = dict(min_pixels=4 * 32 * 32, max_pixels=64 * 64)


def span_forcer(ids: LatentIds, starts: set[int], end_after: int | None):
    """Forces `<|latent_start|>` at the given generated indices, shifted per row by its first token (so rows of one
    batch enter and leave spans at different steps: text and latent rows share steps); biases `<|latent_end|>` once
    a span holds `end_after` latents (a loose-mode early end; fixed mode must ignore it)."""

    def process(generated: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        scores = scores.clone()
        for b, row in enumerate(generated.tolist()):
            shift = row[0] % 3 if row else 0
            if len(row) - shift in starts:
                scores[b, ids.start] += 1e4
            if end_after is not None and ids.start in row:
                since = row[len(row) - 1 - row[::-1].index(ids.start) :]
                if ids.end not in since and since.count(ids.latent) >= end_after:
                    scores[b, ids.end] += 1e4
        return scores

    return process


def encode(processor, frames_per_sample):
    samples = [prepare_sample(processor, video_messages(i, f), **PIXELS) for i, f in enumerate(frames_per_sample)]
    return samples, collate(processor, samples)


CASES = [
    # batch of video lengths, fixed budget, early end after k latents (None: run to the cap)
    pytest.param((6,), False, None, id="b1-loose-cap"),
    pytest.param((4, 8), False, 1, id="b2-loose-early"),
    pytest.param((8, 4, 6), True, 1, id="b3-fixed-ignores-end"),
    pytest.param((2, 8, 4, 6), False, 2, id="b4-loose-early"),
    pytest.param((6, 2, 8, 4), True, None, id="b4-fixed-cap"),
]


@pytest.mark.parametrize(("frames", "fixed", "end_after"), CASES)
def test_fast_decoder_matches_reference(sharp_model, tiny_processor, frames, fixed, end_after):
    ids = LatentIds.from_tokenizer(tiny_processor.tokenizer)
    budget = LatentBudget(max_latent_token=2, fixed=fixed)  # cap 2 when fixed, 4 when loose
    forcer = span_forcer(ids, {1, 9}, end_after)
    samples, batch = encode(tiny_processor, frames)
    decoder = LatentDecoder(sharp_model, tiny_processor.tokenizer, ids, budget)
    fast = decoder.generate(batch, GenerationSettings(max_new_tokens=16, return_latents=True), forcer)
    eos = tiny_processor.tokenizer.eos_token_id
    for sample, out in zip(samples, fast, strict=True):
        single = collate(tiny_processor, [sample])
        ref_tokens, ref_latents = reference_decode(
            sharp_model, single, ids, cap=budget.cap, fixed=fixed, max_new_tokens=16, eos=eos, processor=forcer
        )
        assert out.token_ids == ref_tokens
        assert out.latent_steps == len(ref_latents) == out.latents.shape[0]
        torch.testing.assert_close(out.latents, torch.stack(ref_latents).float(), rtol=1e-4, atol=1e-4)
        expected_len = budget.cap if end_after is None or fixed else min(end_after, budget.cap)
        assert out.span_lengths == [expected_len, expected_len]
        assert out.text_tokens + out.latent_steps == len(out.token_ids)
    # the outputs differ between samples: the video really reaches the model
    assert len({tuple(o.token_ids) for o in fast}) == len(fast) or len(fast) == 1


def test_rows_enter_spans_at_different_steps(sharp_model, tiny_processor):
    ids = LatentIds.from_tokenizer(tiny_processor.tokenizer)
    _, batch = encode(tiny_processor, (2, 8, 4, 6))
    decoder = LatentDecoder(sharp_model, tiny_processor.tokenizer, ids, LatentBudget(max_latent_token=2))
    outs = decoder.generate(batch, GenerationSettings(max_new_tokens=16), span_forcer(ids, {1, 9}, 1))
    first_start = {o.token_ids.index(ids.start) for o in outs}
    assert len(first_start) > 1  # the forcer's per-row shift is real, so the mixed-row test above is meaningful


def test_eos_stop_strings_and_sampling(sharp_model, tiny_processor):
    ids = LatentIds.from_tokenizer(tiny_processor.tokenizer)
    tok = tiny_processor.tokenizer
    _, batch = encode(tiny_processor, (4, 6))
    decoder = LatentDecoder(sharp_model, tok, ids, LatentBudget(max_latent_token=2))
    eos = tok.eos_token_id

    def eos_at_3(generated, scores):  # EOS inside a span is overwritten; after the span it ends the row
        scores = scores.clone()
        if generated.shape[1] == 0:
            scores[:, ids.start] += 1e4
        scores[:, eos] += 1e4 * (generated.shape[1] >= 2)
        return scores

    outs = decoder.generate(batch, GenerationSettings(max_new_tokens=20), eos_at_3)
    for o in outs:
        assert o.finish_reason == "eos" and o.token_ids[-1] == eos
        assert o.token_ids[:6] == [ids.start, ids.latent, ids.latent, ids.latent, ids.latent, ids.end]
        assert len(o.token_ids) == 7 and o.latent_steps == 4 and o.text_tokens == 3

    greedy = decoder.generate(batch, GenerationSettings(max_new_tokens=10, latent=False))
    stop = tok.decode(greedy[0].token_ids[3:5])
    stopped = decoder.generate(batch, GenerationSettings(max_new_tokens=10, latent=False, stop=[stop]))
    assert stopped[0].finish_reason == "stop" and stop not in stopped[0].text
    assert greedy[0].text.startswith(stopped[0].text) and len(stopped[0].token_ids) <= 5

    sample = GenerationSettings(max_new_tokens=10, temperature=1.5, seed=7, latent=False)
    a, b = decoder.generate(batch, sample), decoder.generate(batch, sample)
    assert [o.token_ids for o in a] == [o.token_ids for o in b]  # seeded: reproducible
    c = decoder.generate(batch, GenerationSettings(max_new_tokens=10, temperature=1.5, seed=8, latent=False))
    assert [o.token_ids for o in a] != [o.token_ids for o in c]
    nucleus = GenerationSettings(max_new_tokens=10, temperature=1.0, top_p=1e-6, seed=3, latent=False)
    assert [o.token_ids for o in decoder.generate(batch, nucleus)] == [o.token_ids for o in greedy]


def _staggered_eos(ids: LatentIds, eos: int):
    """Spans forced at step 1; each row then emits EOS at a step set by its first token (3, 8 or 13)."""

    def process(generated: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        scores = scores.clone()
        for b, row in enumerate(generated.tolist()):
            if len(row) == 1:
                scores[b, ids.start] += 1e4
            if row and len(row) >= 3 + 5 * (row[0] % 3):
                scores[b, eos] += 1e4
        return scores

    return process


@pytest.mark.parametrize("poll_every", [1, 3, 8])
def test_rows_finishing_early_are_dropped_without_changing_results(sharp_model, tiny_processor, poll_every):
    ids = LatentIds.from_tokenizer(tiny_processor.tokenizer)
    eos = tiny_processor.tokenizer.eos_token_id
    samples, batch = encode(tiny_processor, (2, 8, 4, 6))
    decoder = LatentDecoder(sharp_model, tiny_processor.tokenizer, ids, LatentBudget(max_latent_token=1))
    decoder.poll_every = poll_every
    forcer = _staggered_eos(ids, eos)
    fast = decoder.generate(batch, GenerationSettings(max_new_tokens=18, return_latents=True), forcer)
    assert len({len(o.token_ids) for o in fast}) > 1  # rows really finish at different steps
    for sample, out in zip(samples, fast, strict=True):
        ref, ref_latents = reference_decode(sharp_model, collate(tiny_processor, [sample]), ids, cap=2, fixed=False,
                                            max_new_tokens=18, eos=eos, processor=forcer)  # fmt: skip
        assert out.token_ids == ref
        assert out.finish_reason == ("eos" if ref[-1] == eos else "length")
        torch.testing.assert_close(out.latents, torch.stack(ref_latents), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("tokens", [10**9, 8193, 0, "lots"])
def test_max_new_tokens_beyond_the_context_is_refused_before_anything_is_allocated(sharp_model, tiny_processor,
                                                                                   tokens):  # fmt: skip
    """Issue 31: `max_new_tokens: 1e9` allocated [B, 1e9] buffers and the OOM killer ended the run without a word."""
    ids = LatentIds.from_tokenizer(tiny_processor.tokenizer)
    _, batch = encode(tiny_processor, (2,))
    decoder = LatentDecoder(sharp_model, tiny_processor.tokenizer, ids, LatentBudget(max_latent_token=2))
    limit = sharp_model.config.text_config.max_position_embeddings
    with pytest.raises(ValueError, match=rf"max_new_tokens=.* between 1 and {limit}|not a whole number"):
        decoder.generate(batch, GenerationSettings(max_new_tokens=tokens))
    assert len(decoder.generate(batch, GenerationSettings(max_new_tokens=2))[0].token_ids) <= 2
