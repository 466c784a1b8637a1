"""Checkpoint compatibility: our save layout, the authors' published layout (incl. dual heads), plain Qwen3-VL."""

from __future__ import annotations

import json

import pytest
import torch
from model_media import video_messages
from model_reference import reference_decode
from safetensors import safe_open
from safetensors.torch import save_file

from future_l1.model.checkpoint import load_future_l1, save_future_l1_checkpoint
from future_l1.model.decoder import GenerationSettings
from future_l1.model.heads import LVRProjectionHead, SwiGLUProjectionHead, build_head
from future_l1.model.inputs import collate, prepare_sample
from future_l1.model.tiny import build_tiny_model

PIXELS = dict(min_pixels=4 * 32 * 32, max_pixels=64 * 64)


def _keys(ckpt):
    keys = set()
    for f in ckpt.glob("*.safetensors"):
        with safe_open(str(f), framework="pt") as h:
            keys |= set(h.keys())
    return keys


def test_head_shapes_and_names():
    sw = SwiGLUProjectionHead(64, 32)
    assert sorted(sw.state_dict()) == sorted([
        "projection.0.weight", "projection.0.bias", "projection.1.weight", "projection.1.bias",
        "projection.2.w1.weight", "projection.2.w2.weight", "projection.2.w3.weight",
        "projection.3.weight", "projection.3.bias"])  # fmt: skip
    assert sw(torch.randn(3, 64)).shape == (3, 64)
    lvr = LVRProjectionHead(64)
    assert sorted(lvr.state_dict()) == sorted(["ln_q.weight", "ln_q.bias", "mlp.0.weight", "mlp.0.bias",
                                               "mlp.2.weight", "mlp.2.bias"])  # fmt: skip
    x = torch.randn(2, 64)
    expected = lvr.mlp[2](torch.nn.functional.gelu(lvr.mlp[0](torch.nn.functional.layer_norm(
        x, (64,), lvr.ln_q.weight, lvr.ln_q.bias, 1e-6))))  # fmt: skip
    torch.testing.assert_close(lvr(x), expected)
    with pytest.raises(ValueError, match="unknown projection_head_type"):
        build_head("mlp", 64)


def test_save_and_load_with_head_decodes_like_reference(tmp_path, tiny_processor):
    model = build_tiny_model(seed=1)
    torch.manual_seed(0)
    head = SwiGLUProjectionHead(64, 32)
    out = save_future_l1_checkpoint(model, tiny_processor, tmp_path / "ckpt", head=head, max_latent_token=2,
                                    latent_loss="mse", latent_lambda=0.2)  # fmt: skip
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["architectures"] == ["FutureL1_Qwen3VL"]
    assert cfg["model_type"] == "qwen3_vl"
    assert (cfg["latent_id"], cfg["latent_start_id"], cfg["latent_end_id"]) == (151669, 151670, 151671)
    assert cfg["use_projection_head"] is True and cfg["projection_head_type"] == "swiglu"
    assert cfg["projection_hidden_dim"] == 32 and cfg["max_latent_token"] == 2 and cfg["latent_lambda"] == 0.2
    assert "projection_head.projection.2.w1.weight" in _keys(out)
    assert not hasattr(model, "projection_head")  # the attribute was only attached for saving

    loaded = load_future_l1(out)
    assert loaded.latent and loaded.budget.cap == 4 and loaded.head is not None
    for k, v in head.state_dict().items():
        torch.testing.assert_close(loaded.head.state_dict()[k], v)

    # decoding with the head feeds head(h) back; the reference loop agrees token for token
    ids = loaded.latent_ids
    sample = prepare_sample(loaded.processor, video_messages(3, 4), **PIXELS)
    batch = collate(loaded.processor, [sample])

    def force(generated, scores):
        if generated.shape[1] == 1:
            scores[:, ids.start] += 1e4
        return scores

    fast = loaded.generate(batch, GenerationSettings(max_new_tokens=8, return_latents=True), force)[0]
    ref, ref_latents = reference_decode(
        loaded.backbone,
        batch,
        ids,
        cap=4,
        fixed=False,
        max_new_tokens=8,
        eos=loaded.tokenizer.eos_token_id,
        processor=force,
        head=loaded.head,
    )
    assert fast.token_ids == ref
    assert fast.latent_steps > 0
    torch.testing.assert_close(fast.latents, torch.stack(ref_latents), rtol=1e-4, atol=1e-4)
    with torch.inference_mode():  # the head really is in the loop: the fed vectors are head outputs, not raw states
        raw = reference_decode(loaded.backbone, batch, ids, cap=4, fixed=False, max_new_tokens=8,
                               eos=loaded.tokenizer.eos_token_id, processor=force)[1]  # fmt: skip
    assert not torch.allclose(fast.latents[0], raw[0])


def _published_layout(tmp_path, tiny_processor, *, arch, dual):
    """A checkpoint written by hand the way the authors' code saves one (not through our save function)."""
    model = build_tiny_model(seed=2)
    model.save_pretrained(tmp_path)
    tiny_processor.save_pretrained(tmp_path)
    cfg = json.loads((tmp_path / "config.json").read_text())
    cfg.update(architectures=[arch], latent_id=151669, latent_start_id=151670, latent_end_id=151671,
               max_latent_token=32, use_projection_head=True, projection_head_type="lvr", projection_hidden_dim=2048,
               train_fixed_latent_budget=None, latent_loss="mse", latent_lambda=0.2, force_initial_latent_mode=False,
               use_dual_projection_heads=dual)  # fmt: skip
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    heads = {}
    prefixes = ["projection_head_orig.", "projection_head_render."] if dual else ["projection_head."]
    for i, prefix in enumerate(prefixes):
        torch.manual_seed(10 + i)
        heads[prefix] = build_head("lvr", 64)
        save_file({prefix + k: v.contiguous() for k, v in heads[prefix].state_dict().items()},
                  str(tmp_path / f"head{i}.safetensors"))  # fmt: skip
    return heads


@pytest.mark.parametrize("arch", ["FutureL1_Qwen3VL", "SwimBird_Qwen3VL"])
def test_published_layout_single_head(tmp_path, tiny_processor, arch):
    heads = _published_layout(tmp_path, tiny_processor, arch=arch, dual=False)
    loaded = load_future_l1(tmp_path, fixed_latent_budget=4)
    assert loaded.latent and loaded.budget.fixed and loaded.budget.cap == 4
    torch.testing.assert_close(loaded.head.mlp[0].weight, heads["projection_head."].mlp[0].weight)


@pytest.mark.parametrize(("prefer", "expected"), [(None, "projection_head_render."), ("orig", "projection_head_orig.")])
def test_published_layout_dual_heads(tmp_path, tiny_processor, prefer, expected):
    heads = _published_layout(tmp_path, tiny_processor, arch="FutureL1_Qwen3VL", dual=True)
    loaded = load_future_l1(tmp_path, head_prefer=prefer)
    assert loaded.budget.cap == 64  # loose: round(32 × 2.0)
    torch.testing.assert_close(loaded.head.ln_q.weight, heads[expected].ln_q.weight)
    torch.testing.assert_close(loaded.head.mlp[2].weight, heads[expected].mlp[2].weight)


def test_missing_head_weights_is_an_error(tmp_path, tiny_processor):
    _published_layout(tmp_path, tiny_processor, arch="FutureL1_Qwen3VL", dual=False)
    (tmp_path / "head0.safetensors").unlink()
    with pytest.raises(ValueError, match="no weights named projection_head"):
        load_future_l1(tmp_path)


def test_plain_qwen3vl_loads_with_latent_off(tmp_path, tiny_processor):
    model = build_tiny_model(seed=0)
    for key in ("latent_id", "latent_start_id", "latent_end_id", "max_latent_token"):
        delattr(model.config, key)
    model.save_pretrained(tmp_path)
    tiny_processor.save_pretrained(tmp_path)
    loaded = load_future_l1(tmp_path)
    assert loaded.latent is False and loaded.latent_ids is None and loaded.head is None
    # the user may still switch latents on, since this tokenizer has the tokens
    assert load_future_l1(tmp_path, latent=True).latent


def test_missing_checkpoint_offline_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match="offline"):
        load_future_l1("no-such-org/no-such-model")
