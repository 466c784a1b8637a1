"""CPU pytest-benchmark of decoding (run with --benchmark-enable): transformers' generate vs LatentDecoder, same
model and batch in one process, so the two rows of the "decode" group compare directly. The GPU figures come from
bench/decode.py."""

from __future__ import annotations

import pytest
from model_media import video_messages

from future_l1.model.decoder import GenerationSettings, LatentBudget, LatentDecoder
from future_l1.model.inputs import collate, prepare_sample
from future_l1.model.tokens import LatentIds

STEPS = 24


@pytest.fixture(scope="module")
def batch(tiny_processor):
    samples = [prepare_sample(tiny_processor, video_messages(i, f), min_pixels=4096, max_pixels=4096)
               for i, f in enumerate((4, 8))]  # fmt: skip
    return collate(tiny_processor, samples)


@pytest.mark.benchmark(group="decode")
def test_bench_transformers_generate(benchmark, sharp_model, batch):
    def run():
        return sharp_model.generate(**batch, max_new_tokens=STEPS, min_new_tokens=STEPS, do_sample=False)

    out = benchmark(run)
    assert out.shape[1] == batch["input_ids"].shape[1] + STEPS


@pytest.mark.benchmark(group="decode")
def test_bench_latent_decoder(benchmark, sharp_model, tiny_processor, batch):
    ids = LatentIds.from_tokenizer(tiny_processor.tokenizer)
    decoder = LatentDecoder(sharp_model, tiny_processor.tokenizer, ids, LatentBudget(max_latent_token=4, fixed=True),
                            eos_token_ids=[-1])  # fmt: skip

    def force(generated, scores):
        if generated.shape[1] % 10 == 1:
            scores[:, ids.start] += 1e4
        return scores

    outs = benchmark(lambda: decoder.generate(batch, GenerationSettings(max_new_tokens=STEPS), force))
    assert all(len(o.token_ids) == STEPS and o.latent_steps > 0 for o in outs)
