"""LA-DAPO on the tiny demo model (CPU): log-prob parity with latent substitution, and one full step end to end.

One trainer is built for the module (2 prompts x 4 rollouts, short completions, 64x64 frames). A logits processor
opens a second latent span right after the model's own first one, so every rollout has two spans and both latent
rewards (R_ctr, R_div) are exercised on real latents.
"""

from __future__ import annotations

import json

import pytest
import torch

pytestmark = pytest.mark.integration  # an RL trainer on the demo model: rollouts and one full training step

SETTINGS = {
    "max_steps": 1, "per_device_train_batch_size": 8, "num_generations": 4, "max_completion_length": 40,
    "max_sampling_tries": 2, "oversample_factor": 1.0, "rollout_batch_size": 8, "save_strategy": "no",
    "temperature": 0.9, "top_p": 1.0, "beta": 0.01, "learning_rate": 1e-3, "format_mode": "any",
}  # fmt: skip


def second_span(latent_ids):
    def processor(generated: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if generated.shape[1] == 0:
            return scores
        spans = (generated == latent_ids.start).sum(1)
        force = (generated[:, -1] == latent_ids.end) & (spans == 1)
        if bool(force.any()):
            scores = scores.clone()
            scores[force] = float("-inf")
            scores[force, latent_ids.start] = 0.0
        return scores

    return processor


@pytest.fixture(scope="module")
def sft_with_head(tmp_path_factory):
    """The demo SFT checkpoint plus a (random) SwiGLU projection head, saved by the one checkpoint writer."""
    from future_l1.model.checkpoint import load_future_l1, save_future_l1_checkpoint
    from future_l1.model.heads import build_head
    from future_l1.training import demo_checkpoint

    torch.manual_seed(0)
    fl1 = load_future_l1(demo_checkpoint())
    head = build_head("swiglu", fl1.backbone.config.text_config.hidden_size, 32)
    out = tmp_path_factory.mktemp("sft-head")
    save_future_l1_checkpoint(fl1, fl1.processor, out, head=head)
    return out


@pytest.fixture(scope="module")
def trainer(tmp_path_factory, sft_with_head):
    from future_l1.training.rl.run import build_trainer, demo_config

    torch.manual_seed(0)
    cfg = demo_config(tmp_path_factory.mktemp("rl"), model_name_or_path=str(sft_with_head), **SETTINGS)
    tr, _ = build_trainer(cfg)
    assert tr.head is not None  # rollouts feed the projected hidden state, as the SFT checkpoint says
    tr.rollout.logits_processor = second_span(tr.latent_ids)
    return tr


@pytest.fixture(scope="module")
def rollout(trainer):
    from future_l1.training.rl.data import demo_rl_rows

    rows = demo_rl_rows(2)
    return rows, trainer._rollout(rows)


def test_rollout_records_latents_logprobs_and_env_mask(trainer, rollout):
    _, ro = rollout
    ids = trainer.latent_ids
    assert len(ro["completion_ids"]) == 8 and ro["group"] == [0] * 4 + [1] * 4
    for comp, lps, mask, lat, spans in zip(ro["completion_ids"], ro["logprobs"], ro["env_mask"], ro["latents"],
                                           ro["span_lengths"], strict=True):  # fmt: skip
        assert len(lps) == len(comp) == len(mask)
        assert len(spans) >= 2 and lat.shape == (sum(spans), 64)
        assert sum(t == ids.latent for t in comp) == lat.shape[0]
        for tok, m in zip(comp, mask, strict=True):
            if tok in (ids.latent, ids.end):  # fillers and (fixed-budget) forced ends are out of the loss
                assert m == 0
            else:
                assert m == 1


def _logps(trainer, ro, substitute: bool):
    t = trainer.batch_tensors(ro)
    ids = torch.cat([t["prompt_ids"], t["completion_ids"]], 1)
    mask = torch.cat([t["prompt_mask"], t["completion_mask"]], 1)
    trainer._extras = {"latents": ro["latents"] if substitute else None, "vision": ro["vision"],
                       "prompt_mm": ro["prompt_mm_token_type_ids"]}  # fmt: skip
    try:
        with torch.no_grad():
            logps, _, _ = trainer._get_per_token_logps_and_entropies(
                trainer.model, ids, mask, t["completion_ids"].size(1), batch_size=4
            )
    finally:
        trainer._extras = None
    comp = t["completion_ids"]
    text = (t["completion_mask"] * t["tool_mask"]).bool()
    # the second span's <|latent_start|> is forced by the test's logits processor: a token the model itself finds
    # very unlikely (log-prob ~ -15), where fp32 rounding of the log-softmax alone is ~1e-5; parity is checked on
    # the tokens the model sampled, the forced ones only to 1e-4
    forced = torch.zeros_like(text)
    forced[:, 1:] = (comp[:, 1:] == trainer.latent_ids.start) & (comp[:, :-1] == trainer.latent_ids.end)
    after_span = text & (torch.cumsum((comp == trainer.latent_ids.latent).long(), 1) > 0)
    return logps, t["sampling_logps"], text & ~forced, after_span, forced & text


def test_logprob_parity_needs_latent_substitution(trainer, rollout):
    _, ro = rollout
    logps, sampled, text, after, forced = _logps(trainer, ro, substitute=True)
    diff = (logps - sampled).abs()
    # a near-certain token's log-prob is its logit minus the log-sum-exp, two nearly equal fp32 numbers: the rounding
    # is a few ulps of the logits, not of the log-prob (2.5e-5 at log-prob -3.5e-4 on one AVX-512 CPU, under 1e-5 on others),
    # still 20 times below the gap without substitution checked below
    assert diff[text].max().item() <= 5e-5, (diff[text].max().item(), sampled[forced].tolist())
    assert diff[forced].max().item() <= 1e-4
    logps_plain, _, _, _, _ = _logps(trainer, ro, substitute=False)
    off = (logps_plain - sampled).abs()[after]
    assert off.numel() > 0 and off.max().item() > 1e-3, off.max().item()  # the <|latent|> embedding is not the context
    print(
        f"parity: max |diff| {diff[text].max().item():.2e} with substitution (forced tokens "
        f"{diff[forced].max().item():.2e}), {off.max().item():.2e} without it after a span"
    )


def test_one_full_la_dapo_step(trainer):
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters() if p.requires_grad}
    trainer.train()
    changed = [n for n, p in trainer.model.named_parameters() if p.requires_grad and not torch.equal(p, before[n])]
    assert changed, "no parameter moved"
    (h,) = [r for r in trainer.history if "loss" in r]
    for key in ("rewards/accuracy/mean", "rewards/format/mean", "rewards/ctr/mean", "rewards/div/mean", "kl",
                "sampling/tries", "sampling/kept_ratio", "latent/span_len_mean"):  # fmt: skip
        assert key in h, key
    assert h["latent/spans_per_sample"] >= 2.0
    assert h["rewards/div/mean"] < 0.0  # two spans per rollout: R_div is live
    assert h["rewards/ctr/mean"] > 0.0
    assert h["sampling/groups_kept"] + h["sampling/filled_unfiltered"] == 2


def test_checkpoint_is_in_the_published_layout_with_its_head(trainer, tmp_path):
    """The RL checkpoint goes through the one writer: the published layout, the SFT checkpoint's latent fields, and
    the projection head, which loads back through `load_future_l1` unchanged (the Trainer's checkpoint-N too)."""
    from future_l1.model.checkpoint import load_future_l1

    trainer.save_model(str(tmp_path))
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["architectures"] == ["FutureL1_Qwen3VL"] and config["use_projection_head"] is True
    assert config["use_cache"] is True
    assert trainer.model.config.architectures == ["Qwen3VLForConditionalGeneration"]  # the live model untouched
    model = load_future_l1(tmp_path)
    assert model.latent_ids == trainer.latent_ids and model.budget == trainer.budget
    assert model.head is not None
    for (name, a), (_, b) in zip(model.head.state_dict().items(), trainer.head.state_dict().items(), strict=True):
        assert torch.equal(a, b.to(a.dtype)), name
    for name, p in trainer.model.named_parameters():  # the trained policy's weights, not the SFT ones
        assert torch.equal(model.backbone.get_parameter(name), p.detach()), name
