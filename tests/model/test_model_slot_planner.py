"""The slot planner's arithmetic (`model/slot_planner.py`): per-slot and per-chunk bytes, and the plan they give."""

from __future__ import annotations

import pytest
from static_cases import bench_module

from future_l1.model.slot_planner import GiB, ModelShape, plan_slots, prefill_bytes, round_up, slot_bytes
from future_l1.model.static_decoder import kv_bytes_per_token

BENCH = bench_module()
SHAPE_8B = ModelShape.from_config(BENCH.build_config(tiny=False))
REAL_PROMPT, REAL_PATCHES = 11_851, 16 * 54 * 54  # 32 frames of 864x864: the issue's real-size measurement


def test_shape_from_config_reads_the_8b_geometry():
    import torch

    cfg = BENCH.build_config(tiny=False)
    assert (SHAPE_8B.layers, SHAPE_8B.hidden, SHAPE_8B.intermediate) == (36, 4096, 12288)
    assert (SHAPE_8B.heads, SHAPE_8B.kv_heads, SHAPE_8B.head_dim, SHAPE_8B.vocab) == (32, 8, 128, 151936)
    assert (SHAPE_8B.vision_hidden, SHAPE_8B.vision_intermediate, SHAPE_8B.patch_dim, SHAPE_8B.deepstack) == (
        1152, 4304, 1536, 3)  # fmt: skip
    assert SHAPE_8B.kv_bytes_per_token == kv_bytes_per_token(cfg.text_config, torch.bfloat16) == 147_456
    text_only = ModelShape.from_config(cfg.text_config, dtype_bytes=4)
    assert text_only.vision_hidden == 0 and text_only.kv_bytes_per_token == 2 * 147_456


def test_slot_bytes_grow_by_the_kv_row_and_the_step_scores_per_cache_column():
    base = slot_bytes(SHAPE_8B, 4096, 256)
    # one more cache column: K+V of all layers, its validity flag, and 3 fp32 attention scores per query head
    assert slot_bytes(SHAPE_8B, 4097, 256) - base == 147_456 + 1 + 3 * 32 * 4
    # one more generated position: id (8 B) + latent flag (1 B), + 4 B with log-probs, + an fp32 hidden with latents
    assert slot_bytes(SHAPE_8B, 4096, 257) - base == 9
    assert slot_bytes(SHAPE_8B, 4096, 257, logprobs=True, latents=True) - slot_bytes(
        SHAPE_8B, 4096, 256, logprobs=True, latents=True) == 9 + 4 + 4 * 4096  # fmt: skip
    assert 2.0e9 < slot_bytes(SHAPE_8B, round_up(REAL_PROMPT + 2048, 256), 2048) < 2.2e9  # 14,080 columns x 147 KB


def test_prefill_bytes_take_the_larger_tower_and_a_mask_only_for_padded_chunks():
    one = prefill_bytes(SHAPE_8B, 1, 1000)
    two = prefill_bytes(SHAPE_8B, 2, 1000)
    assert two - 2 * one == 3 * 2 * 1000 * 1000  # linear in tokens, plus the padded chunk's mask
    text = prefill_bytes(SHAPE_8B, 1, REAL_PROMPT)
    video = prefill_bytes(SHAPE_8B, 1, REAL_PROMPT, REAL_PATCHES)
    merged = REAL_PATCHES // 4
    tower = REAL_PATCHES * (8 * 1152 + 2 * 4304) * 2 + REAL_PATCHES * 1536 * 6
    lm = REAL_PROMPT * (6 * 4096 + 2 * 6144 + 3 * 12288) * 2
    assert video - text == merged * 4096 * 2 * 4 + max(0, tower - lm)


def _exact_free(k: int, rows: int = 1, requested: int = 64) -> int:
    """Free bytes that hold exactly k slots (reserve fixed at 2 GiB)."""
    plan = plan_slots(SHAPE_8B, 10**15, 3323, 512, requested, prefill_rows=rows, reserve_bytes=2 * GiB)
    return 2 * GiB + plan.prefill_bytes + k * plan.slot_bytes


@pytest.mark.parametrize("k", [1, 7, 40])
def test_plan_gives_exactly_the_slots_that_fit(k):
    free = _exact_free(k)
    plan = plan_slots(SHAPE_8B, free, 3323, 512, 64, reserve_bytes=2 * GiB)
    assert plan.slots == k and plan.capped and plan.cache_len == round_up(3323 + 512, 256) == 3840
    assert plan_slots(SHAPE_8B, free - 1, 3323, 512, 64, reserve_bytes=2 * GiB).slots == k - 1
    assert f"batch_size 64 capped to {k} slot" in plan.message()
    uncapped = plan_slots(SHAPE_8B, free, 3323, 512, k, reserve_bytes=2 * GiB)
    assert uncapped.slots == k and not uncapped.capped and "capped" not in uncapped.message()


def test_the_prefill_chunk_shrinks_before_the_slots_do():
    free = _exact_free(16, rows=1)
    plan = plan_slots(SHAPE_8B, free, 3323, 512, 16, prefill_rows=8, reserve_bytes=2 * GiB)
    assert plan.slots == 16 and plan.prefill_rows == 1  # 8 prompts per chunk would cost slots
    roomy = plan_slots(SHAPE_8B, free + 10**12, 3323, 512, 16, prefill_rows=8, reserve_bytes=2 * GiB)
    assert roomy.slots == 16 and roomy.prefill_rows == 8


def test_nothing_fits_says_so():
    plan = plan_slots(SHAPE_8B, 3 * GiB, REAL_PROMPT, 2048, 8, patches_per_row=REAL_PATCHES)
    assert plan.slots == 0 and "not even 1 slot" in plan.message()


def test_the_issues_measurements_at_the_real_size():
    """H200 (143,771 MiB), 8B bf16 weights (17.5 GB): 16 slots with 8-prompt chunks ran; 32 with them did not."""
    free = 143_771 * 2**20 - 17_534_247_392
    ran = plan_slots(SHAPE_8B, free, REAL_PROMPT, 2048, 16, prefill_rows=8, patches_per_row=REAL_PATCHES)
    assert (ran.slots, ran.prefill_rows) == (16, 8)
    failed = plan_slots(SHAPE_8B, free, REAL_PROMPT, 2048, 32, prefill_rows=8, patches_per_row=REAL_PATCHES)
    assert not (failed.slots >= 32 and failed.prefill_rows == 8)
    one_prompt = plan_slots(SHAPE_8B, free, REAL_PROMPT, 2048, 128, prefill_rows=1, patches_per_row=REAL_PATCHES)
    assert one_prompt.capped and 40 <= one_prompt.slots <= 60  # the adapter's real-size chunks: one prompt each
