"""Groups in continuous batching (`model/continuous.py`, issue 27): items that share one sample object (LA-DAPO's n
rollouts of a prompt) are prefilled once and copied into their slots, decode as if each had its own prefill, and
keep every guarantee of the scheduler (capped sessions, out-of-memory retries); a finished session is freed by
reference counting alone, without the cycle collector.
"""

from __future__ import annotations

import gc
import weakref

import pytest
import torch
from static_cases import FakeTokenizer, StepForcer, bench_module, collate_rows, rows_batch, sharp_tiny

from future_l1.model.continuous import continuous_decode
from future_l1.model.decoder import GenerationSettings, LatentBudget
from future_l1.model.slot_planner import ModelShape, plan_slots
from future_l1.model.static_decoder import DecodeSession, FastLatentDecoder
from future_l1.model.tokens import LatentIds

BENCH = bench_module()
IDS = LatentIds(BENCH.LATENT, BENCH.LATENT_START, BENCH.LATENT_END)
FRAMES = [4, 2, 6]
GREEDY = GenerationSettings(max_new_tokens=12)


@pytest.fixture(scope="module")
def model():
    return sharp_tiny(BENCH)


def _decoder(model):
    return FastLatentDecoder(model.to("cpu", torch.float32), FakeTokenizer(), IDS,
                             LatentBudget(max_latent_token=3, fixed=True), poll_every=4, kv_bucket=16)  # fmt: skip


def _samples():
    return rows_batch(BENCH, FRAMES, "cpu", torch.float32, seeds=list(range(len(FRAMES))))


def _grouped(samples, n):
    """n items per sample, all of them holding the very same object (as `training/rl/rollout.py` builds them)."""
    return [(f"s{g}-r{j}", sample) for g, sample in enumerate(samples) for j in range(n)]


def _cloned(samples, n):
    """The same items, each with its own copy of the sample: every one is prefilled."""
    return [(f"s{g}-r{j}", {k: v.clone() for k, v in sample.items()}) for g, sample in enumerate(samples)
            for j in range(n)]  # fmt: skip


def _run(dec, items, settings=GREEDY, slots=8, **kw):
    forcer = StepForcer(BENCH, every=5, eos_at=9)
    rows = lambda chunk: collate_rows(BENCH, chunk)  # noqa: E731
    return {r.key: r for r in continuous_decode(dec, items, rows, settings, slots, forcer, **kw)}


def _prefilled_rows(monkeypatch) -> list[int]:
    """Rows of every prefill (`DecodeSession.admit` call), recorded."""
    rows: list[int] = []
    real = DecodeSession.admit

    def admit(sess, batch, keys, slots=None):
        rows.append(len(keys))
        return real(sess, batch, keys, slots)

    monkeypatch.setattr(DecodeSession, "admit", admit)
    return rows


@pytest.mark.parametrize("slots", [8, 6])
def test_a_group_is_prefilled_once_and_answers_as_separate_prefills(model, monkeypatch, slots):
    n = 4
    expected = _run(_decoder(model), _cloned(_samples(), n), slots=slots)
    prefilled = _prefilled_rows(monkeypatch)
    dec = _decoder(model)
    got = _run(dec, _grouped(_samples(), n), slots=slots)
    assert sorted(got) == sorted(expected)
    assert {k: r.output.token_ids for k, r in got.items()} == {k: r.output.token_ids for k, r in expected.items()}
    assert dec.last_stats.copied_rows + sum(prefilled) == len(FRAMES) * n == dec.last_stats.answered
    if slots % n == 0:  # whole groups fit: one prefill row per sample, not per item
        assert sum(prefilled) == len(FRAMES)
    else:  # a group split over two admissions is prefilled once in each
        assert len(FRAMES) < sum(prefilled) < len(FRAMES) * n


def test_sampled_copies_draw_their_own_tokens_with_their_own_logprobs(model):
    settings = GenerationSettings(max_new_tokens=12, do_sample=True, temperature=3.0, top_p=1.0, seed=7,
                                  return_logprobs=True, return_latents=True)  # fmt: skip
    got = _run(_decoder(model), _grouped(_samples()[:1], 6), settings, slots=6)
    again = _run(_decoder(model), _cloned(_samples()[:1], 6), settings, slots=6)
    answers = [tuple(r.output.token_ids) for r in got.values()]
    assert len(set(answers)) > 1  # the copies share a prompt, not a random stream
    for key, r in got.items():  # a copy samples exactly what a separately prefilled row in its slot samples
        assert r.output.token_ids == again[key].output.token_ids
        torch.testing.assert_close(torch.tensor(r.output.logprobs), torch.tensor(again[key].output.logprobs))


def test_copies_beyond_the_planned_slots_wait_for_free_slots(model, monkeypatch):
    dec = _decoder(model)
    shape = ModelShape.from_config(dec.model.config, 4)
    probe = collate_rows(BENCH, [_samples()[0]])
    plan = plan_slots(shape, 10**15, probe["attention_mask"].shape[1], 12, 64,
                      patches_per_row=probe["pixel_values_videos"].shape[0], kv_bucket=16, reserve_bytes=0)  # fmt: skip
    free = 2 * 1024**3 + plan.prefill_bytes + 3 * plan.slot_bytes  # three slots
    expected = _run(_decoder(model), _cloned(_samples(), 5), slots=16)
    prefilled = _prefilled_rows(monkeypatch)
    items = _grouped(_samples(), 5)
    got = _run(dec, items, slots=16, free_memory=free)
    assert dec.last_stats.slots == 3 and sorted(got) == sorted(k for k, _ in items)
    assert {k: r.output.token_ids for k, r in got.items()} == {k: r.output.token_ids for k, r in expected.items()}
    assert dec.last_stats.copied_rows + sum(prefilled) == len(items) and sum(prefilled) < len(items)


def test_a_group_that_never_fits_is_an_error_for_each_of_its_items(model, monkeypatch):
    samples = _samples()
    big = int(samples[1]["attention_mask"].sum())  # the prompt lengths differ: this one names the sample
    real = DecodeSession.admit

    def admit(sess, batch, keys, slots=None):
        if big in batch["attention_mask"].sum(-1).tolist():
            raise torch.OutOfMemoryError("CUDA out of memory (injected)")
        return real(sess, batch, keys, slots)

    monkeypatch.setattr(DecodeSession, "admit", admit)
    got = _run(_decoder(model), _grouped(samples, 3), slots=2)
    failed = sorted(k for k, r in got.items() if r.output is None)
    assert len(got) == 9 and failed == ["s1-r0", "s1-r1", "s1-r2"]
    assert all(isinstance(got[k].extra["error"], torch.OutOfMemoryError) for k in failed)


def test_a_finished_session_is_freed_without_the_cycle_collector(model, monkeypatch):
    sessions: list[weakref.ref] = []
    real = FastLatentDecoder.session

    def session(dec, *a, **k):
        s = real(dec, *a, **k)
        sessions.append(weakref.ref(s))
        return s

    monkeypatch.setattr(FastLatentDecoder, "session", session)
    dec = _decoder(model)
    gc.collect()
    gc.disable()
    try:
        got = _run(dec, _grouped(_samples(), 2), slots=4)
        assert len(got) == 6 and sessions
        assert all(ref() is None for ref in sessions)  # reference counting freed its KV cache and state
    finally:
        gc.enable()


@pytest.mark.parametrize("shared", [True, False], ids=["group-prefilled-once", "each-prefilled"])
@pytest.mark.benchmark(group="rollout-groups")
def test_bench_rollout_groups(benchmark, model, shared):
    """8 rollouts of each of 3 prompts, 4 new tokens: the prefill's share of a short rollout, with and without
    sharing it within a group (run with --benchmark-enable; both rows in one process)."""
    settings = GenerationSettings(max_new_tokens=4, do_sample=True, seed=0)
    items = (_grouped if shared else _cloned)(_samples(), 8)
    dec = _decoder(model)
    got = benchmark(lambda: _run(dec, items, settings, slots=24))
    assert len(got) == 24 and dec.last_stats.copied_rows == (21 if shared else 0)
