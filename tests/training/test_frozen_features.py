"""`frozen_features` and `shared_prefix`: the same loss and gradients as the reference SFT forward, less work."""

from __future__ import annotations

import pytest
import torch

from future_l1.training.latent_batch import LatentEncoder, collate


@pytest.fixture(scope="module")
def pieces(tiny_ckpt):
    from transformers import AutoProcessor

    from future_l1.model.protocol import FUTURE_L1_SYSTEM_PROMPT
    from future_l1.model.tiny import build_tiny_model
    from future_l1.model.tokens import LatentIds
    from future_l1.training.data import load_records
    from future_l1.training.demo_data import demo_train_file
    from future_l1.training.frames import FrameCache

    proc = AutoProcessor.from_pretrained(tiny_ckpt)
    ids = LatentIds.from_tokenizer(proc.tokenizer)
    records = load_records(demo_train_file()).records[:3]
    cache = FrameCache()
    frames = [r.load_frames(cache) for r in records]
    model = build_tiny_model(0)
    model.model.visual.requires_grad_(False)  # frozen, as SFT keeps it
    return proc, ids, records, frames, FUTURE_L1_SYSTEM_PROMPT, model


# (name, LatentEncoder arguments): latent SFT with question images or video, text-only with the aux head's targets
LAYOUTS = [
    ("latent-images", {}),
    ("latent-video", {"question_video_fps": 2.0}),
    ("text-aux-video", {"text_only": True, "aux_targets": True, "question_video_fps": 2.0}),
]


def _examples(pieces, **kwargs) -> list[dict]:
    proc, ids, records, frames, system, _ = pieces
    enc = LatentEncoder(proc, ids, system_prompt=system, **kwargs)
    return [enc.encode(r, *f) for r, f in zip(records, frames, strict=True)]


def _loss_and_grads(model, batch, **kwargs):
    from future_l1.training.aux_head import AUX_HEAD
    from future_l1.training.latent_loss import latent_sft_loss

    model.zero_grad()
    out = latent_sft_loss(model, batch, aux_head=getattr(model, AUX_HEAD, None), **kwargs)
    out.loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    return out, grads


@pytest.mark.parametrize("name,kwargs", LAYOUTS, ids=[n for n, _ in LAYOUTS])
def test_features_and_shared_prefix_match_the_reference(pieces, name, kwargs):
    from future_l1.training.aux_head import attach_aux_head, detached_aux_head
    from future_l1.training.frozen_features import featurize

    proc, *_, model = pieces
    pad = proc.tokenizer.pad_token_id
    examples = _examples(pieces, **kwargs)
    if kwargs.get("aux_targets"):
        attach_aux_head(model, 4, 0)
    try:
        ref, ref_grads = _loss_and_grads(model, collate(examples, pad))
        featured = collate(featurize(model, examples), pad)
        assert not any(k.startswith("pixel_values") or k.endswith("_pixel_values") for k in featured)
        for kw in ({}, {"share_prefix": True}):
            out, grads = _loss_and_grads(model, featured, **kw)
            torch.testing.assert_close(out.loss, ref.loss, rtol=1e-5, atol=1e-6)
            torch.testing.assert_close(out.latent, ref.latent, rtol=1e-5, atol=1e-6)
            if ref.aux is not None:
                torch.testing.assert_close(out.aux, ref.aux, rtol=1e-5, atol=1e-6)
            assert grads.keys() == ref_grads.keys()
            for key, grad in grads.items():
                torch.testing.assert_close(grad, ref_grads[key], rtol=1e-4, atol=1e-6, msg=key)
        # pixels and a shared prefix together (the option works without features too)
        shared, _ = _loss_and_grads(model, collate(examples, pad), share_prefix=True)
        torch.testing.assert_close(shared.loss, ref.loss, rtol=1e-5, atol=1e-6)
    finally:
        detached_aux_head(model)


def test_shared_prefix_length_stops_at_the_first_difference(pieces):
    from future_l1.training.latent_loss import MIN_SHARED_PREFIX, shared_prefix_length

    proc, *_, model = pieces
    batch = collate(_examples(pieces, question_video_fps=2.0), proc.tokenizer.pad_token_id)
    embeds = model.model.get_input_embeddings()(batch["input_ids"])
    positions, _ = model.model.get_rope_index(batch["input_ids"], batch["mm_token_type_ids"],
                                              video_grid_thw=batch["video_grid_thw"],
                                              attention_mask=batch["attention_mask"])  # fmt: skip
    n = shared_prefix_length(batch, embeds, positions)
    first_visual = int((batch["mm_token_type_ids"] != 0).any(0).int().argmax())
    assert MIN_SHARED_PREFIX <= n <= first_visual  # the system prompt, never a visual token
    assert (batch["input_ids"][:, :n] == batch["input_ids"][:1, :n]).all()

    one_row = {k: v[:1] for k, v in batch.items() if isinstance(v, torch.Tensor) and v.dim() == 2}
    assert shared_prefix_length(one_row, embeds[:1], positions[:, :1]) == 0

    edited = dict(batch, input_ids=batch["input_ids"].clone())
    edited["input_ids"][1, 5] += 1  # rows differ early: too short a prefix to be worth it
    assert shared_prefix_length(edited, embeds, positions) == 0

    masked = dict(batch, attention_mask=batch["attention_mask"].clone())
    masked["attention_mask"][2, n - 1] = 0  # a masked position ends the shared prefix
    assert shared_prefix_length(masked, embeds, positions) == n - 1

    changed = embeds.clone()
    changed[1, 3] += 1.0  # same ids but other embeddings (something was scattered): not shared
    assert shared_prefix_length(batch, changed, positions) == 0


def test_encode_all_features_do_not_depend_on_the_order(pieces, tmp_path):
    from functools import partial

    from future_l1.training.frames import FrameCache
    from future_l1.training.frozen_features import featurize
    from future_l1.training.sft import LatentSFTDataset

    proc, ids, records, _, system, model = pieces
    enc = LatentEncoder(proc, ids, system_prompt=system, question_video_fps=2.0)

    def dataset():
        return LatentSFTDataset(
            records, enc, FrameCache(), keep_encoded=len(records), featurize=partial(featurize, model)
        )

    ahead = dataset()
    ahead.encode_all(chunk=2, progress=False)
    assert sorted(ahead.encoded) == list(range(len(records)))
    lazy = dataset()
    for at in reversed(range(len(records))):  # one at a time, in another order
        lazy[at]
    for at in range(len(records)):
        a, b = ahead[at], lazy[at]
        assert a.keys() == b.keys() and "pixel_values_videos" not in a
        torch.testing.assert_close(a["video_features"], b["video_features"], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(a["latent_features"], b["latent_features"], rtol=1e-5, atol=1e-6)
        assert torch.equal(a["position_ids"], b["position_ids"])
    again = dataset()
    again.encode_all(chunk=2, progress=False)  # same chunks, same bits
    assert all(torch.equal(again[at]["video_features"], ahead[at]["video_features"]) for at in range(len(records)))


def test_encode_all_skips_and_counts_a_bad_record(pieces):
    from functools import partial

    from future_l1.training.frozen_features import featurize
    from future_l1.training.sft import LatentSFTDataset

    proc, ids, records, _, system, model = pieces

    assert len({r.video for r in records}) == len(records)

    class Frames:  # the second record's video is unreadable
        def __init__(self):
            from future_l1.training.frames import FrameCache

            self.inner = FrameCache()

        def pool(self, video):
            if video == records[1].video:
                raise OSError(f"cannot decode {video}")
            return self.inner.pool(video)

    enc = LatentEncoder(proc, ids, system_prompt=system)
    data = LatentSFTDataset(records, enc, Frames(), keep_encoded=len(records), featurize=partial(featurize, model))
    data.encode_all(chunk=2, progress=False)
    assert list(data.skipped) == [records[1].id] and "cannot decode" in data.skipped[records[1].id]
    assert sorted(data.encoded) == [0, 2]


def test_shared_prefix_refuses_a_dropped_cache(pieces):
    from future_l1.training.latent_loss import latent_sft_loss

    proc, *_, model = pieces
    batch = collate(_examples(pieces), proc.tokenizer.pad_token_id)
    model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    model.train()
    try:
        with pytest.raises(RuntimeError, match="gradient checkpointing"):
            latent_sft_loss(model, batch, share_prefix=True)
    finally:
        model.activation_checkpointing_disable()
        model.eval()


def test_config_refuses_the_options_where_they_cannot_work(tmp_path):
    from future_l1.training.config import ConfigError
    from future_l1.training.sft import demo_config

    with pytest.raises(ConfigError, match="dataloader_num_workers 0"):
        demo_config(tmp_path, frozen_features=True, dataloader_num_workers=2)
    with pytest.raises(ConfigError, match="gradient checkpointing"):
        demo_config(tmp_path, shared_prefix=True, gradient_checkpointing=True)
    config = demo_config(tmp_path, frozen_features=True, shared_prefix=True)
    assert config.frozen_features and config.shared_prefix


def test_an_old_transformers_is_named(tmp_path, monkeypatch):
    from future_l1.training import frozen_features
    from future_l1.training.config import ConfigError
    from future_l1.training.sft import build_trainer, demo_config

    monkeypatch.setattr(frozen_features, "supports_precomputed", lambda model: False)
    with pytest.raises(ConfigError, match="mm_encoder_outputs"):
        build_trainer(demo_config(tmp_path, frozen_features=True))
