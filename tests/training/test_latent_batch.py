"""Latent spans, label masking and the one-step shift of the latent target; the golden first-step losses."""

from __future__ import annotations

import pytest
import torch

from future_l1.training.latent_batch import IGNORE, LatentEncoder, collate


@pytest.fixture(scope="module")
def pieces(tiny_ckpt):
    from transformers import AutoProcessor

    from future_l1.model.tokens import LatentIds
    from future_l1.training.data import load_records
    from future_l1.training.demo_data import demo_train_file
    from future_l1.training.frames import FrameCache

    proc = AutoProcessor.from_pretrained(tiny_ckpt)
    ids = LatentIds.from_tokenizer(proc.tokenizer)
    records = load_records(demo_train_file()).records[:2]
    cache = FrameCache()
    return proc, ids, records, [r.load_frames(cache) for r in records]


def test_masking_and_one_step_shift(pieces):
    from future_l1.model.tiny import build_tiny_model
    from future_l1.training.latent_loss import latent_hidden_states, latent_inputs_embeds

    proc, ids, records, frames = pieces
    enc = LatentEncoder(proc, ids, max_latent_token=4, system_prompt=None)
    ex = enc.encode(records[0], *frames[0])
    tok, labels, input_ids = proc.tokenizer, ex["labels"], ex["input_ids"]
    # 64x64 frames at L_max=4: 4 latent tokens per reasoning frame, one span per frame
    assert ex["span_lengths"] == [4] * len(records[0].reasoning_frames)
    # the prompt (through "<|im_start|>assistant\n") is masked; the answer and control tokens are supervised
    first = int((labels != IGNORE).nonzero()[0])
    assert tok.decode(input_ids[first - 3 : first]) == "<|im_start|>assistant\n"
    assert (labels[:first] == IGNORE).all()
    sup = set(labels[labels != IGNORE].tolist())
    assert ids.start in sup and ids.end in sup and ids.latent not in sup
    assert tok.convert_tokens_to_ids("<|im_end|>") in sup
    assert (labels[ex["latent_mask"]] == IGNORE).all()

    # teacher forcing: the input at latent position t is the vision token; the prediction is h at t-1
    batch = collate([ex], tok.pad_token_id)
    model = build_tiny_model(0)
    embeds = latent_inputs_embeds(model, batch)
    vis = torch.cat(
        model.model.get_image_features(batch["latent_pixel_values"], batch["latent_grid_thw"]).pooler_output
    )
    pos = batch["latent_mask"][0].nonzero().flatten()
    assert torch.equal(embeds[0, pos], vis)
    assert input_ids[pos[0] - 1] == ids.start  # the first target is predicted from the <|latent_start|> state
    hidden = latent_hidden_states(model, batch, embeds)
    from future_l1.training.latent_loss import latent_sft_loss

    out = latent_sft_loss(model, batch, mse_reduction="sum")
    manual = (hidden[0, pos - 1] - vis).pow(2).sum(-1).mean()
    assert out.latent.item() == pytest.approx(manual.item(), rel=1e-5)
    mean = latent_sft_loss(model, batch, mse_reduction="mean").latent
    assert mean.item() == pytest.approx(manual.item() / hidden.shape[-1], rel=1e-5)


def test_text_only_baseline_has_no_latents(pieces):
    proc, ids, records, frames = pieces
    ex = LatentEncoder(proc, ids, text_only=True).encode(records[0], *frames[0])
    assert not ex["latent_mask"].any() and "latent_pixel_values" not in ex
    assert ids.start not in ex["input_ids"].tolist()


def test_selective_head_equals_full_logits(pieces):
    from future_l1.model.tiny import build_tiny_model
    from future_l1.training.latent_loss import latent_sft_loss

    proc, ids, records, frames = pieces
    enc = LatentEncoder(proc, ids)
    batch = collate([enc.encode(r, *f) for r, f in zip(records, frames, strict=True)], proc.tokenizer.pad_token_id)
    model = build_tiny_model(0)
    a = latent_sft_loss(model, batch, selective_head=True)
    b = latent_sft_loss(model, batch, selective_head=False)
    assert a.ce.item() == pytest.approx(b.ce.item(), rel=1e-5)


# Regression guard, not a correctness oracle: first-step CE and latent MSE of the seed-0 tiny model on the first two
# demo records with the default encoder (Future-L1 system prompt, L_max 4). Computed once with this code; a change
# means the batch layout, masking, targets or loss changed — recompute only when that change is intended.
GOLDEN_CE, GOLDEN_MSE, GOLDEN_COUNTS = 11.93048, 59.273, (63, 8)


def test_golden_first_step_losses(pieces):
    from future_l1.model.tiny import build_tiny_model
    from future_l1.training.config import LatentSFTConfig
    from future_l1.training.latent_loss import latent_sft_loss

    proc, ids, records, frames = pieces
    prompt = LatentSFTConfig(output_dir="/tmp/unused", use_cpu=True).resolved_system_prompt()
    enc = LatentEncoder(proc, ids, system_prompt=prompt)
    batch = collate([enc.encode(r, *f) for r, f in zip(records, frames, strict=True)], proc.tokenizer.pad_token_id)
    out = latent_sft_loss(build_tiny_model(0), batch)
    assert (out.n_ce_tokens, out.n_latent) == GOLDEN_COUNTS
    assert out.ce.item() == pytest.approx(GOLDEN_CE, abs=1e-3)
    assert out.latent.item() == pytest.approx(GOLDEN_MSE, abs=1e-2)
