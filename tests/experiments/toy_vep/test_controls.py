"""The reviewer's controls of the toy experiment (issue 28), fast tier: the compute-matched reason (exactly L_max more
tokens), the information-matched chain of thought (what the frame-12 targets encode, from the same item, and short
enough for the evaluation's token budget), the auxiliary head's loss and mask, the seed-level interval and the arms'
checkpoint names. The arms' training runs in the integration tier (test_pipeline.py)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from future_l1.harness.experiments.toy_vep import controls
from future_l1.harness.experiments.toy_vep.settings import MODES, TRAINED, VARIANTS, Settings


@pytest.fixture(scope="module")
def toy_tokenizer():
    from transformers import AutoTokenizer

    from future_l1.harness.experiments.toy_vep.task import vocabulary_domain
    from future_l1.model.processor import qwen_tokenizer_dir

    return AutoTokenizer.from_pretrained(qwen_tokenizer_dir(domain=vocabulary_domain()))


def _answer_block(reason: str, letter: str = "A") -> str:
    return f"<reason>{reason}</reason>\n<answer>{letter}</answer><|im_end|>"


def _n_tokens(tok, text: str) -> int:
    return len(tok(text, add_special_tokens=False).input_ids)


@pytest.mark.parametrize("pauses", [1, 4, 7])
def test_the_pause_reason_adds_exactly_l_max_tokens_before_the_answer(toy_tokenizer, pauses):
    from future_l1.harness.experiments.toy_vep.task import REASON

    plain = _n_tokens(toy_tokenizer, _answer_block(REASON))
    assert _n_tokens(toy_tokenizer, _answer_block(controls.pause_reason(REASON, pauses))) == plain + pauses


def test_ball_shares_are_the_toy_encoders_cell_coverage_normalised():
    from future_l1.harness.experiments.toy_vep.vision import token_targets

    rng = np.random.default_rng(0)
    for x, y in rng.uniform(8, 56, size=(20, 2)):
        coverage = token_targets(np.array([[[x, y], [x, y]]]), (2, 2))[:, 0].numpy()  # per quadrant, raster order
        np.testing.assert_allclose(controls.ball_shares(x, y), coverage / coverage.sum(), atol=1e-6)


def test_the_chain_of_thought_states_the_asked_frames_centre_and_quadrants():
    from future_l1.harness.experiments.toy_vep.task import OPTIONS, REASON, TARGET, make_item

    for index in range(12):
        item = make_item("train", index)
        x, y = item.positions[TARGET]
        text = controls.future_reason(REASON, (x, y))
        assert text.startswith("I imagine the ball at ") and text.endswith("%.")
        assert f"x {round(x)}, y {round(y)}:" in text
        stated = text.split(": ", 1)[1].rstrip(".").split(", ")
        assert stated[0].rsplit(" ", 1)[0] == OPTIONS[item.answer]  # the largest share is the answer's quadrant
        assert 99 <= sum(int(s.rsplit(" ", 1)[1].rstrip("%")) for s in stated) <= 101
    # a ball across a border is stated in both quadrants, the larger first
    assert controls.future_reason("I see.", (33.0, 20.0)) == "I see at x 33, y 20: top right 62%, top left 38%."


def test_the_chain_of_thought_fits_the_evaluation_budget(toy_tokenizer):
    """The evaluation generates at most 40 + L_max tokens for every arm (the same generation settings pair the arms'
    items); the information-matched arm's whole answer must fit, for every training and evaluated item."""
    from future_l1.harness.experiments.toy_vep.task import (
        FPS,
        REASON,
        SEEDS_PER_ITEM,
        SPLIT_SEED0,
        TARGET,
        _fits,
        _start,
    )

    budget = 40 + MODES["full"].max_latent_token
    longest = 0
    for split, n in (("train", 1000), ("val", 300), ("test", 300)):
        for index in range(n):  # the items' centres at frame 12 without rendering them (as make_item finds them)
            base = SPLIT_SEED0[split] + SEEDS_PER_ITEM * index
            seed = next(s for s in range(base, base + SEEDS_PER_ITEM) if _fits(s, index % 4))
            pos, vel = _start(seed)
            centre = (pos + vel * TARGET / FPS)[0]
            longest = max(longest, _n_tokens(toy_tokenizer, _answer_block(controls.future_reason(REASON, centre))))
    assert longest <= budget


def test_t_interval_is_the_students_t_interval_over_seeds():
    from future_l1.reports.stats import t_interval

    low, high = t_interval([1.0, 2.0, 3.0])
    assert math.isclose(low, 2 - 4.303 / math.sqrt(3), rel_tol=1e-9) and math.isclose(high, 2 + 4.303 / math.sqrt(3))
    five = [80.0, 79.0, 91.0, 84.0, 70.0]
    low, high = t_interval(five)
    half = 2.776 * np.std(five, ddof=1) / math.sqrt(5)
    assert math.isclose(low, np.mean(five) - half) and math.isclose(high, np.mean(five) + half)
    assert t_interval([3.0]) is None and t_interval([2.0, 2.0]) == (2.0, 2.0)


def test_aux_loss_is_latent_sfts_loss_on_the_heads_predictions():
    from future_l1.training.aux_head import aux_latent_loss

    torch.manual_seed(0)
    d, steps = 6, 4
    head = torch.nn.Linear(d, steps * d)
    hidden = torch.randn(2, 5, d, requires_grad=True)
    mask = torch.zeros(2, 5, dtype=torch.bool)
    mask[0, 3] = mask[1, 1] = True
    targets = torch.randn(2 * steps, d)
    loss = aux_latent_loss(head, hidden, mask, targets)
    pred = torch.cat([head(hidden[0, 3]), head(hidden[1, 1])]).reshape(-1, d)
    assert torch.allclose(loss, ((pred - targets) ** 2).sum(-1).mean())  # Eq. 3's "sum" reduction, as (a)'s loss
    loss.backward()
    assert hidden.grad[mask].abs().sum() > 0 and hidden.grad[~mask].abs().sum() == 0  # only the marked state learns
    exact = aux_latent_loss(head, hidden, mask, pred.detach())
    assert exact.item() < 1e-10
    with pytest.raises(ValueError, match="target vectors"):
        aux_latent_loss(head, hidden, mask, targets[:-1])


def test_attaching_the_aux_head_leaves_the_global_rng_alone():
    from types import SimpleNamespace

    from future_l1.training.aux_head import AUX_HEAD, attach_aux_head, detached_aux_head

    class Tiny(torch.nn.Module):
        config = SimpleNamespace(text_config=SimpleNamespace(hidden_size=8))
        device, dtype = torch.device("cpu"), torch.float32

    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    model = Tiny()
    head = attach_aux_head(model, 4, seed=1)
    assert torch.equal(torch.rand(3), expected)
    assert head.out_features == 32 and getattr(model, AUX_HEAD) is head
    assert torch.equal(attach_aux_head(Tiny(), 4, seed=1).weight, head.weight)  # seeded: the same head every run
    assert detached_aux_head(model) is head and not hasattr(model, AUX_HEAD) and detached_aux_head(model) is None


def test_every_trained_arm_has_its_own_checkpoint_name_and_the_old_ones_are_unchanged():
    full = replace(MODES["full"], tuned=(), fast_sft=False)  # the untuned names: the published 600-step checkpoints
    tags = {arm: full.tag(arm) for arm in TRAINED}
    assert len(set(tags.values())) == len(TRAINED)
    assert tags["text"] == "v3-n1000-st600-b16-lr0p01-vis2-qvid-voc641f45-px16384"  # (b)'s published checkpoints
    assert tags["latent"] == full.tag()
    other = Settings(n_train=1000, n_val=300, n_test=300, seeds=(0,), steps=600, batch_size=16, max_latent_token=2,
                     latent_lambda=0.3, fast_sft=False)  # fmt: skip
    assert other.tag("pause") != tags["pause"]  # the pause count is L_max
    assert other.tag("aux") != tags["aux"]  # the aux head regresses L_max tokens with λ
    assert other.tag("cot") == tags["cot"]  # the chain of thought depends on neither
    assert set(VARIANTS) >= {
        "latent",
        "text",
        "latent_off",
        "pause",
        "cot",
        "aux",
        "latent_noise",
        "latent_mean",
        "latent_random",
    }


def test_the_aux_head_reads_the_token_before_the_answer_and_gets_the_frame_as_targets(tmp_path):
    """Text-only encoding with aux targets: the same tokens and labels as plain text-only SFT (nothing is fed back),
    one marked position, the token right before `<answer>`, and the reasoning frame as latent SFT would encode it."""
    import json

    from future_l1.harness.experiments.toy_vep.data import toy_record
    from future_l1.model.processor import build_processor
    from future_l1.model.protocol import FUTURE_L1_SYSTEM_PROMPT
    from future_l1.model.tokens import LatentIds
    from future_l1.training.data import load_records
    from future_l1.training.frames import FrameCache
    from future_l1.training.latent_batch import LatentEncoder, collate

    proc = build_processor()
    (tmp_path / "train.json").write_text(json.dumps([toy_record(i, tmp_path / "videos") for i in range(2)]))
    records = load_records(tmp_path / "train.json").records
    frames = [r.load_frames(FrameCache()) for r in records]

    def encoder(**kwargs) -> LatentEncoder:
        return LatentEncoder(proc, LatentIds.from_tokenizer(proc.tokenizer), max_latent_token=4,
                             system_prompt=FUTURE_L1_SYSTEM_PROMPT, text_only=True, **kwargs)  # fmt: skip

    plain, aux = encoder(), encoder(aux_targets=True)
    examples = []
    for record, (question, reasoning) in zip(records, frames, strict=True):
        ex, base = aux.encode(record, question, reasoning), plain.encode(record, question, reasoning)
        assert torch.equal(ex["input_ids"], base["input_ids"]) and torch.equal(ex["labels"], base["labels"])
        assert not ex["latent_mask"].any() and "aux_mask" not in base
        (at,) = ex["aux_mask"].nonzero().flatten().tolist()
        assert proc.tokenizer.decode(ex["input_ids"][at + 1 :]).startswith(f"<answer>{record.answer}</answer>")
        assert proc.tokenizer.decode(ex["input_ids"][: at + 1]).endswith("</reason>\n")
        expected = aux.latent_frames(reasoning)
        assert torch.equal(ex["aux_pixel_values"], expected["pixel_values"])
        assert ex["aux_grid_thw"].prod(-1).item() // 4 == 4  # L_max = 4 tokens, one per quadrant
        examples.append(ex)
    batch = collate(examples, proc.tokenizer.pad_token_id)
    assert batch["aux_mask"].sum(1).tolist() == [1, 1]
    assert batch["aux_pixel_values"].shape[0] == sum(e["aux_pixel_values"].shape[0] for e in examples)


def test_the_aux_head_needs_text_only_sft():
    from future_l1.training.config import LatentSFTConfig

    with pytest.raises(ValueError, match="text_only"):
        LatentSFTConfig(output_dir="x", aux_latent_head=True, use_cpu=True)
    kept = LatentSFTConfig(output_dir="x", aux_latent_head=True, text_only=True, latent_lambda=0.1, use_cpu=True)
    plain = LatentSFTConfig(output_dir="x", text_only=True, latent_lambda=0.1, use_cpu=True)
    assert kept.latent_lambda == 0.1 and plain.latent_lambda == 0.0  # the aux loss keeps λ; text-only SFT has none
