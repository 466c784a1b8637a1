"""End-to-end latent SFT on the demo set: both losses fall, and the checkpoint loads as a Future-L1 model."""

from __future__ import annotations

import json

import pytest
import torch


def _fixed_batch(trainer):
    from future_l1.training.latent_batch import collate

    ds = trainer.train_dataset
    return collate([ds[i] for i in range(4)], trainer.processing_class.tokenizer.pad_token_id)


def test_sft_lowers_ce_and_latent_mse_and_saves_a_loadable_checkpoint(tmp_path):
    from future_l1.training.latent_loss import latent_sft_loss
    from future_l1.training.sft import build_trainer, demo_config

    cfg = demo_config(tmp_path / "ckpt", max_steps=8)
    trainer, _ = build_trainer(cfg)
    assert cfg.adam_beta2 == 0.95 and cfg.latent_lambda == 0.1 and cfg.max_latent_token == 4  # paper defaults
    batch = _fixed_batch(trainer)
    with torch.no_grad():
        before = latent_sft_loss(trainer.model, batch)
    trainer.train()
    with torch.no_grad():
        after = latent_sft_loss(trainer.model, batch)
    assert after.ce < before.ce - 0.5
    assert after.latent < before.latent
    logged = [h for h in trainer.history if "ce" in h]
    assert len(logged) == 8 and all("latent_loss" in h and "span_len_mean" in h for h in logged)
    # the vision tower stayed frozen
    assert not any(p.requires_grad for p in trainer.model.model.visual.parameters())

    out = tmp_path / "ckpt"
    trainer.save_model(str(out))
    config = json.loads((out / "config.json").read_text())
    assert config["architectures"] == ["FutureL1_Qwen3VL"] and config["model_type"] == "qwen3_vl"
    assert config["latent_id"] == 151669 and config["max_latent_token"] == 4 and config["use_projection_head"] is False
    from transformers import AutoModelForImageTextToText, AutoProcessor

    model = AutoModelForImageTextToText.from_pretrained(out)
    proc = AutoProcessor.from_pretrained(out)
    assert proc.tokenizer.convert_tokens_to_ids("<|latent|>") == 151669
    with torch.no_grad():
        reloaded = latent_sft_loss(model, batch)
    assert reloaded.ce.item() == pytest.approx(after.ce.item(), rel=1e-4)


def test_unreadable_video_during_training_is_skipped_and_counted(tmp_path):
    from future_l1.training.sft import build_trainer, demo_config

    cfg = demo_config(tmp_path / "o", max_steps=1, max_records=4)
    trainer, _ = build_trainer(cfg)
    ds = trainer.train_dataset
    ds.records[1].video = tmp_path / "gone.mp4"  # disappears after validation
    ex = ds[1]
    assert ex["input_ids"].shape[0] > 0
    assert list(ds.skipped) == [ds.records[1].id] and "gone.mp4" in ds.skipped[ds.records[1].id]


def test_kept_encodings_are_the_encoder_output_reused_not_recomputed(tmp_path):
    """`encoded_cache_records`: a record is encoded once, later epochs get equal tensors, the cache holds at most N
    records, and a batch built from it is the batch built without it."""
    from future_l1.training.latent_batch import collate
    from future_l1.training.sft import build_trainer, demo_config

    plain, _ = build_trainer(demo_config(tmp_path / "a", max_steps=1, max_records=4))
    kept, _ = build_trainer(demo_config(tmp_path / "b", max_steps=1, max_records=4, encoded_cache_records=2))
    ds = kept.train_dataset
    calls: list[str] = []
    encode = ds.encoder.encode
    ds.encoder.encode = lambda rec, *frames: calls.append(rec.id) or encode(rec, *frames)
    pad = kept.processing_class.tokenizer.pad_token_id
    for _epoch in range(2):
        got = collate([ds[i] for i in range(4)], pad)
        want = collate([plain.train_dataset[i] for i in range(4)], pad)
        assert got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in want)
        got["input_ids"].zero_()  # a consumer that writes into its batch must not reach the cache
    ids = [r.id for r in ds.records]
    assert calls == ids + ids[2:] and list(ds.encoded) == [0, 1]  # records 0-1 kept, 2-3 encoded each epoch
    # kept by position, not id: a file that repeats an id still gets each record's own encoding
    twin, _ = build_trainer(demo_config(tmp_path / "c", max_steps=1, max_records=4, encoded_cache_records=4))
    twin.train_dataset.records[1].id = twin.train_dataset.records[0].id
    first, second = twin.train_dataset[0], twin.train_dataset[1]
    want = plain.train_dataset[1]
    assert all(torch.equal(second[k], want[k]) for k in want if isinstance(want[k], torch.Tensor))
    assert not torch.equal(first["pixel_values"], second["pixel_values"])


def test_sft_shows_a_step_bar_not_raw_log_dictionaries(tmp_path, capsys, monkeypatch):
    """Issue 26 item 9: the demo SFT printed a raw loss dictionary per step for minutes; now one bar with the step
    count, the ETA and the latest losses (every logged value stays in the trainer's history)."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    from future_l1.training.sft import StepProgress, build_trainer, demo_config

    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    trainer, _ = build_trainer(demo_config(tmp_path / "a", max_steps=3, max_records=4))
    kinds = {type(c) for c in trainer.callback_handler.callbacks}
    assert StepProgress in kinds and not kinds & {PrinterCallback, ProgressCallback}
    capsys.readouterr()
    trainer.train()
    stdout, stderr = capsys.readouterr()
    assert "{'loss'" not in stdout + stderr and "'ce':" not in stdout + stderr
    assert "latent SFT" in stderr and "3/3" in stderr and "loss=" in stderr
    assert len(trainer.history) == 3
