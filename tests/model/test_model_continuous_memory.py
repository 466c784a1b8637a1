"""Memory-safe continuous batching (`model/continuous.py`): the planner caps the slots, and out-of-memory errors (injected
on the CPU, real on the GPU under a per-process memory cap) shrink the prefill chunk or the session and retry the
affected samples: every sample is answered once, with the answer it gets without any failure.
"""

from __future__ import annotations

import logging
from collections import Counter

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
FRAMES = [4, 2, 6, 4, 2, 6]
SETTINGS = GenerationSettings(max_new_tokens=12)


@pytest.fixture(scope="module")
def model():
    return sharp_tiny(BENCH)


def _decoder(model, device="cpu", **kw):
    model = model.to(device, torch.float32)
    return FastLatentDecoder(model, FakeTokenizer(), IDS, LatentBudget(max_latent_token=3, fixed=True), poll_every=4,
                             kv_bucket=16, **kw)  # fmt: skip


def _items(device="cpu"):
    # keys repeat on purpose (two requests may share a key); the scheduler must still answer each item once
    rows = rows_batch(BENCH, FRAMES, device, torch.float32, seeds=list(range(len(FRAMES))))
    return [(f"k{i % 5}", r) for i, r in enumerate(rows)]


def _forcer():
    return StepForcer(BENCH, every=5, eos_at=9)


def _run(dec, items, slots, **kw):
    return list(continuous_decode(dec, items, lambda rows: collate_rows(BENCH, rows), SETTINGS, slots, _forcer(), **kw))


def _by_sample(results):
    """(key, answer) pairs with their counts: order-free, and a sample answered twice counts twice."""
    return Counter((r.key, tuple(r.output.token_ids)) for r in results if r.output is not None)


@pytest.fixture(scope="module")
def reference(model):
    dec = _decoder(model)
    expected = Counter((k, tuple(dec.generate(r, SETTINGS, _forcer())[0].token_ids)) for k, r in _items())
    assert len(expected) == len(FRAMES)  # distinct answers: a lost or doubled sample shows
    return expected


class Inject:
    """Raise torch.OutOfMemoryError from chosen calls of DecodeSession methods (and from session creation)."""

    def __init__(self, monkeypatch, admit=(), step=(), session_over: int | None = None):
        self.admit_calls, self.step_calls = 0, 0
        self.admitted_rows: list[int] = []
        admit_fail = admit if callable(admit) else (lambda sess, batch, calls=set(admit): self.admit_calls in calls)
        step_fail = set(step)
        real_admit, real_step, real_init = DecodeSession.admit, DecodeSession.step, DecodeSession.__init__

        def admit_(sess, batch, keys, slots=None):
            self.admit_calls += 1
            if admit_fail(sess, batch):
                raise torch.OutOfMemoryError("CUDA out of memory (injected)")
            self.admitted_rows.append(len(keys))
            return real_admit(sess, batch, keys, slots)

        def step_(sess):
            self.step_calls += 1
            if self.step_calls in step_fail:
                raise torch.OutOfMemoryError("CUDA out of memory (injected)")
            return real_step(sess)

        def init_(sess, decoder, slots, *a, **k):
            if session_over is not None and slots > session_over:
                raise torch.OutOfMemoryError(f"CUDA out of memory (injected): {slots} slots")
            return real_init(sess, decoder, slots, *a, **k)

        monkeypatch.setattr(DecodeSession, "admit", admit_)
        monkeypatch.setattr(DecodeSession, "step", step_)
        monkeypatch.setattr(DecodeSession, "__init__", init_)


CASES = {
    # a chunk of 3 prompts fails: chunks of 1 from then on, the 3 prompts retried
    "prefill-chunk": (dict(admit=[2]), dict(slots=4, prefill_rows=3), 1),
    # a single prompt fails beside running rows: stop admitting, rebuild with half the slots
    "prefill-beside-running": (dict(admit=lambda s, b: s.active == 2), dict(slots=4, prefill_rows=1), 1),
    # the session itself does not fit: 8 -> 4 -> 2 slots
    "session": (dict(session_over=2), dict(slots=8, prefill_rows=2), 2),
    # a decode step fails: its unfinished rows are decoded again in a session of half the slots
    "decode-step": (dict(step=[6]), dict(slots=4, prefill_rows=2), 1),
}


@pytest.mark.parametrize("case", list(CASES))
def test_injected_out_of_memory_loses_nothing_and_answers_once(model, reference, monkeypatch, case):
    inject_kw, run_kw, retries = CASES[case]
    inj = Inject(monkeypatch, **inject_kw)
    dec = _decoder(model)
    results = _run(dec, _items(), **run_kw)
    stats = dec.last_stats
    assert len(results) == len(FRAMES) and all(r.output is not None for r in results)
    assert _by_sample(results) == reference  # the same answers, each sample once
    assert stats.oom_retries == retries and len(stats.events) == retries and stats.errors == 0
    assert stats.answered == len(FRAMES)
    if case == "prefill-chunk":
        assert inj.admitted_rows[0] == 1 and max(inj.admitted_rows[1:]) == 1 and "chunks of 1" in stats.events[0]
    elif case in ("prefill-beside-running", "decode-step"):
        assert stats.slots == 2 and "2 slots" in stats.events[0]
    elif case == "session":
        assert stats.slots == 2 and "retrying with 4" in stats.events[0] and "retrying with 2" in stats.events[1]


def test_a_prompt_that_never_fits_is_one_error_result(model, reference, monkeypatch):
    big = _items()[2][1]
    Inject(monkeypatch, admit=lambda s, b: b["input_ids"].shape[1] == big["input_ids"].shape[1] and
           b["input_ids"].shape[0] == 1 and torch.equal(b["input_ids"], big["input_ids"]))  # fmt: skip
    dec = _decoder(model)
    results = _run(dec, _items(), slots=2, prefill_rows=1)
    failed = [r for r in results if r.output is None]
    assert len(results) == len(FRAMES) and len(failed) == 1 and failed[0].key == _items()[2][0]
    assert isinstance(failed[0].extra["error"], torch.OutOfMemoryError)
    answered = _by_sample(results)
    assert sum(answered.values()) == len(FRAMES) - 1 and not answered - reference
    assert dec.last_stats.errors == 1 and dec.last_stats.oom_retries == 2  # 2 slots -> 1 slot -> alone: error


def test_planner_caps_the_batch_size_and_says_so(model, reference, caplog):
    dec = _decoder(model)
    shape = ModelShape.from_config(dec.model.config, 4)
    probe = collate_rows(BENCH, [_items()[0][1]])
    prompt = probe["attention_mask"].shape[1]
    patches = probe["pixel_values_videos"].shape[0]
    plan = plan_slots(shape, 10**15, prompt, 12, 64, patches_per_row=patches, kv_bucket=16, reserve_bytes=0)
    free = 2 * 1024**3 + plan.prefill_bytes + 3 * plan.slot_bytes  # three slots beside the default 2 GiB reserve
    with caplog.at_level(logging.WARNING, logger="future_l1.model.continuous"):
        results = _run(dec, _items(), slots=64, free_memory=free)
    assert dec.last_stats.slots == 3 and dec.last_stats.plan.capped
    assert dec.last_session is None and dec.last_stats.session_bytes > 0  # released at the end
    assert [r.getMessage() for r in caplog.records if "capped" in r.getMessage()] == [dec.last_stats.plan.message()]
    assert "batch_size 64 capped to 3 slots" in caplog.text
    assert _by_sample(results) == reference


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_real_out_of_memory_under_a_memory_cap(model):
    """A per-process memory cap makes the 256-slot session fail for real; the scheduler halves it until it fits."""
    dec = _decoder(model, "cuda")
    expected = Counter((k, tuple(dec.generate(r, SETTINGS, _forcer())[0].token_ids)) for k, r in _items("cuda"))
    dec.last_session = None
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    total = torch.cuda.get_device_properties(0).total_memory
    # 256 MiB beside what is allocated: room for cuBLAS workspaces and some slots (a slot's logits and the step's
    # fp32 copies of them take about 2.5 MB), not for 256 of them
    cap = torch.cuda.memory_allocated() + 256 * 2**20
    torch.cuda.set_per_process_memory_fraction(cap / total)
    try:
        results = _run(dec, _items("cuda"), slots=256, prefill_rows=2, free_memory=10**15)  # planner bypassed
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0)
    stats = dec.last_stats
    assert stats.oom_retries >= 1 and stats.slots < 256 and stats.errors == 0
    assert any("out of memory" in e.lower() for e in stats.events)
    assert _by_sample(results) == expected and len(results) == len(FRAMES)
    model.to("cpu")


class _Items:
    """Inputs with a `ready()` (like model.prefetch.Prefetch): not ready while `hold` says so."""

    def __init__(self, items, hold):
        self.items, self.hold, self.asked = list(items), hold, 0

    def __iter__(self):
        return self

    def __next__(self):
        if not self.items:
            raise StopIteration
        return self.items.pop(0)

    def ready(self):
        self.asked += 1
        return not self.hold()


def test_free_slots_are_filled_at_each_poll_and_unready_media_are_not_waited_for(model, reference, monkeypatch):
    active, runs = [], []
    real_run = DecodeSession.run

    def run(sess, max_steps=None):
        active.append(sess.active)
        runs.append(max_steps)
        return real_run(sess, max_steps)

    monkeypatch.setattr(DecodeSession, "run", run)
    dec = _decoder(model)
    results = _run(dec, _items(), slots=4, prefill_rows=1)
    assert active[0] == 4  # one prompt per chunk, but every free slot filled before the first step
    assert _by_sample(results) == reference
    # media not ready while rows decode: the scheduler steps instead of waiting, and admits them later
    active.clear()
    items = _Items(_items(), hold=lambda: len(active) < 3)
    results = _run(dec, items, slots=4, prefill_rows=1)
    assert active[:2] == [1, 1] and max(active) == 4 and items.asked >= 2
    assert _by_sample(results) == reference
