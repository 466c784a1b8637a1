"""LA-DAPO on the tiny demo model (CPU): log-prob parity with latent substitution, the clip, the latent gradient,
padded and single-outcome groups, and two optimiser steps from one rollout batch end to end.

One trainer is built for the module (2 prompts x 4 rollouts, 2 mini-batches, short completions, 64x64 frames, κ at
its default 0.01). A logits processor opens a second latent span right after the model's own first one, so every
rollout has two spans and both latent rewards (R_ctr, R_div) are exercised on real latents.
"""

from __future__ import annotations

import json

import pytest
import torch

pytestmark = pytest.mark.integration  # an RL trainer on the demo model: rollouts and one full training step

SETTINGS = {
    "max_steps": 2, "per_device_train_batch_size": 4, "num_generations": 4, "mini_batches": 2,
    "max_completion_length": 40, "max_sampling_tries": 2, "oversample_factor": 1.0, "rollout_batch_size": 8,
    "save_strategy": "no", "temperature": 0.9, "top_p": 1.0, "beta": 0.01, "learning_rate": 1e-3,
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
    assert trainer.la_args.latent_logprob_kappa == 0.01  # the default: latent steps are in the loss
    assert len(ro["completion_ids"]) == 8 and ro["group"] == [0] * 4 + [1] * 4
    for comp, lps, mask, lat, spans in zip(ro["completion_ids"], ro["logprobs"], ro["env_mask"], ro["latents"],
                                           ro["span_lengths"], strict=True):  # fmt: skip
        assert len(lps) == len(comp) == len(mask)
        assert len(spans) >= 2 and lat.shape == (sum(spans), 64)
        assert sum(t == ids.latent for t in comp) == lat.shape[0]
        for tok, m in zip(comp, mask, strict=True):
            # forced (fixed-budget) ends are out of the loss; the fillers carry the latent log-prob (κ > 0)
            assert m == (0 if tok == ids.end else 1)


def _batch(trainer, ro, kappa: float | None = None):
    """The loss inputs of a rollout, as `_generate_and_score_completions` lays them out (no old / ref log-probs):
    latent slots in the loss iff κ > 0, as the rollout's env_mask would put them."""
    kappa = trainer.la_args.latent_logprob_kappa if kappa is None else kappa
    t = trainer.batch_tensors(ro)
    tool = t["tool_mask"].clone()
    tool[t["completion_ids"] == trainer.latent_ids.latent] = int(kappa > 0)
    return {
        "prompt_ids": t["prompt_ids"], "prompt_mask": t["prompt_mask"], "completion_ids": t["completion_ids"],
        "completion_mask": t["completion_mask"], "tool_mask": tool,
        "num_items_in_batch": (t["completion_mask"] * tool).sum(), "latents": ro["latents"], "vision": ro["vision"],
        "prompt_mm": ro["prompt_mm_token_type_ids"],
    }  # fmt: skip


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
    # the sampled text tokens: latent slots carry κ⟨μ, z⟩ instead of a token log-prob (checked below)
    text = (t["completion_mask"] * t["tool_mask"]).bool() & (comp != trainer.latent_ids.latent)
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


def test_latent_slots_carry_kappa_times_mu_dot_z(trainer, rollout):
    """At a `<|latent|>` slot the log-prob is κ·⟨head(h_{k−1}), z_k⟩; at recording time μ_k is the vector the decoder
    fed, so the score equals κ·|z_k|² up to fp32 recomputation."""
    _, ro = rollout
    logps, _, _, _, _ = _logps(trainer, ro, substitute=True)
    comp = trainer.batch_tensors(ro)["completion_ids"]
    z = torch.cat([lat for lat in ro["latents"] if lat.shape[0]])
    expected = 0.01 * (z * z).sum(-1)
    got = logps[comp == trainer.latent_ids.latent]
    assert torch.allclose(got, expected, rtol=1e-4, atol=1e-5), (got[:4], expected[:4])


def _grads(trainer, inputs, old_shift=None, advantages=1.0, delta="keep"):
    """Backward of TRL's DAPO loss on `inputs` with β = 0 (the policy term alone) and old log-probs = the current
    ones minus `old_shift` (ratio e^shift); returns the gradients and the logged clip ratios."""
    model = trainer.model
    batch = dict(inputs, advantages=torch.full((inputs["prompt_ids"].size(0),), float(advantages)))
    if old_shift is not None:
        trainer._extras = {k: inputs[k] for k in ("latents", "vision", "prompt_mm")}
        try:
            with torch.no_grad():
                ids = torch.cat([inputs["prompt_ids"], inputs["completion_ids"]], 1)
                mask = torch.cat([inputs["prompt_mask"], inputs["completion_mask"]], 1)
                now, _, _ = trainer._get_per_token_logps_and_entropies(model, ids, mask, ids.size(1) - inputs[
                    "prompt_ids"].size(1), batch_size=8)  # fmt: skip
        finally:
            trainer._extras = None
        batch["old_per_token_logps"] = now - old_shift
    beta, saved_delta = trainer.beta, trainer.args.delta
    trainer.beta = 0.0
    trainer.current_gradient_accumulation_steps = 1  # set by the Trainer's loop; one micro-batch here
    if delta != "keep":
        trainer.args.delta = delta
    trainer._metrics["train"].clear()
    try:
        model.zero_grad()
        trainer.compute_loss(model, batch).backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    finally:
        trainer.beta, trainer.args.delta = beta, saved_delta
        model.zero_grad()
    clip = {k.split("/")[1]: v[-1] for k, v in trainer._metrics["train"].items() if k.startswith("clip_ratio/")}
    trainer._metrics["train"].clear()
    return grads, clip


def _norm(grads) -> float:
    return float(sum((g.float().pow(2).sum() for g in grads.values()), torch.tensor(0.0)).sqrt())


def test_the_asymmetric_clip_acts_when_the_ratio_moves(trainer, rollout):
    """DAPO's clip-higher (ε_low 0.2, ε_high 0.28) and the dual clip (δ 3) on TRL's loss, through our trainer: a ratio
    past the clip on the side of its advantage stops the gradient and is counted; inside, the gradient flows."""
    _, ro = rollout
    inputs = _batch(trainer, ro)
    on_policy, clip = _grads(trainer, inputs)  # ratio 1: nothing clipped
    assert _norm(on_policy) > 0 and clip["region_mean"] == 0.0
    grads, clip = _grads(trainer, inputs, old_shift=0.5)  # ratio e^0.5 = 1.65 > 1.28, A > 0: clipped
    assert _norm(grads) == 0.0 and clip["high_mean"] == 1.0 and clip["low_mean"] == 0.0
    grads, clip = _grads(trainer, inputs, old_shift=0.22)  # ratio 1.25: inside 1 + ε_high (a symmetric 0.2 clips it)
    assert _norm(grads) > 0 and clip["region_mean"] == 0.0
    grads, clip = _grads(trainer, inputs, old_shift=-0.25, advantages=-1.0)  # ratio 0.78 < 0.8, A < 0: clipped
    assert _norm(grads) == 0.0 and clip["low_mean"] == 1.0
    grads, clip = _grads(trainer, inputs, old_shift=-0.22, advantages=-1.0)  # ratio 0.80 > 1 - ε_low: flows
    assert _norm(grads) > 0 and clip["region_mean"] == 0.0
    # A < 0 and a ratio above δ = 3: the dual clip caps the loss (no gradient); without it the gradient flows
    assert trainer.args.delta == 3.0
    assert _norm(_grads(trainer, inputs, old_shift=1.5, advantages=-1.0)[0]) == 0.0
    assert _norm(_grads(trainer, inputs, old_shift=1.5, advantages=-1.0, delta=None)[0]) > 0


@pytest.mark.parametrize("kappa", [0.01, 0.0])
def test_gradient_reaches_the_latent_path_iff_kappa_positive(trainer, rollout, kappa):
    """The latent path: the final hidden states that become the fed-back latents (the positions before each
    `<|latent|>` slot). With κ > 0 the loss reaches them through κ⟨head(h), z⟩; with κ = 0 their gradient is exactly
    zero (the latents enter detached, the latent slots are out of the loss), the text tokens still train."""
    _, ro = rollout
    inputs = _batch(trainer, ro, kappa)
    norm = trainer.model.model.language_model.norm
    seen = {}

    def keep(module, args, out):
        out.retain_grad()
        seen["h"] = out

    saved = trainer.la_args.latent_logprob_kappa
    trainer.la_args.latent_logprob_kappa = kappa
    handle = norm.register_forward_hook(keep)
    try:
        grads, _ = _grads(trainer, inputs)
        h_grad = seen["h"].grad
    finally:
        handle.remove()
        trainer.la_args.latent_logprob_kappa = saved
    comp = inputs["completion_ids"]
    # index j of the last width+1 positions but one is the hidden state predicting completion slot j: for a latent
    # slot, the state whose (projected) value was fed there
    at_latent = h_grad[:, -comp.size(1) - 1 : -1][comp == trainer.latent_ids.latent]
    assert at_latent.shape[0] > 0
    assert _norm(grads) > 0  # the text tokens train either way
    if kappa > 0:
        assert at_latent.abs().sum(-1).gt(0).all(), "a latent-producing hidden state got no gradient"
    else:
        assert at_latent.abs().max().item() == 0.0


@pytest.mark.parametrize("padded", [[True, False], [False, False]])
def test_single_outcome_groups_get_zero_advantage_and_padded_ones_no_loss(trainer, rollout, monkeypatch, padded):
    """Group 0: every rollout wrong (R_ctr still spreads its totals); group 1: two right, two wrong. Group 0's
    advantage is 0 (the plain formula's value is logged); padded by dynamic sampling, it also leaves the loss."""
    from future_l1.training.rl import rewards as R
    from future_l1.training.rl.sampling import SampledBatch

    rows, ro = rollout
    comps = trainer.score(ro, rows)
    comps["accuracy"] = torch.tensor([0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0])
    comps["ctr"] = torch.tensor([0.30, 0.31, 0.33, 0.36, 0.5, 0.4, 0.5, 0.4])  # latent noise in an all-wrong group
    comps["total"] = R.total_reward(comps["accuracy"], comps["format"], comps["ctr"], comps["div"])
    stats = {"groups_padded": float(sum(padded)), "tries": 1.0}
    means = {k: float(v.float().mean()) for k, v in comps.items()}
    monkeypatch.setattr(trainer.sampler, "fill", lambda *a, **k: SampledBatch(ro, comps, rows, padded, stats, means))
    trainer._metrics["train"].clear()
    out = trainer._generate_and_score_completions([dict(rows[g]) for g in (0, 1) for _ in range(4)])
    m = {k: v[-1] for k, v in trainer._metrics["train"].items()}
    trainer._metrics["train"].clear()
    adv = out["advantages"]
    assert adv[:4].tolist() == [0.0] * 4
    total = comps["total"][4:]
    assert adv[4:].tolist() == pytest.approx(((total - total.mean()) / (total.std() + 1e-4)).tolist(), abs=1e-5)
    assert m["advantages/single_outcome_groups"] == 1.0
    raw = comps["total"][:4]
    assert m["advantages/single_outcome_raw_abs_max"] == pytest.approx(((raw - raw.mean()) / (raw.std() + 1e-4))
                                                                       .abs().max().item(), rel=1e-4)  # fmt: skip
    assert m["advantages/single_outcome_raw_abs_max"] > 1.0  # what standardising latent noise used to give
    loss_tokens = out["completion_mask"] * out["tool_mask"]
    if padded[0]:
        assert loss_tokens[:4].sum() == 0 and m["sampling/groups_padded"] == 1.0
        assert int(out["num_items_in_batch"]) == int(loss_tokens[4:].sum())
        assert m["rewards/accuracy/mean"] == 0.5  # the logged rewards are the trained groups'
    else:
        assert bool((loss_tokens[:4].sum(1) > 0).all())  # single outcome, kept (filtering off): in the loss
        assert int(out["num_items_in_batch"]) == int(loss_tokens.sum())


def test_two_optimiser_steps_from_one_rollout_batch(trainer):
    """mini_batches 2: one rollout batch, two optimiser steps; the second sees old log-probs of the policy before the
    first step (so its ratios move); every logged key is there."""
    calls = []
    generate = trainer._generate_and_score_completions

    def counted(inputs):
        out = generate(inputs)
        calls.append(sorted(out))
        return out

    trainer._generate_and_score_completions = counted
    trainer._metrics["train"].clear()
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters() if p.requires_grad}
    try:
        trainer.train()
    finally:
        del trainer._generate_and_score_completions
    changed = [n for n, p in trainer.model.named_parameters() if p.requires_grad and not torch.equal(p, before[n])]
    assert changed, "no parameter moved"
    assert len(calls) == 1 and "old_per_token_logps" in calls[0]
    rows = [r for r in trainer.history if "loss" in r]
    assert [r["step"] for r in rows] == [1, 2]
    h = rows[0]
    for key in ("rewards/accuracy/mean", "rewards/format/mean", "rewards/ctr/mean", "rewards/div/mean", "kl",
                "sampling/tries", "sampling/kept_ratio", "sampling/groups_padded", "latent/span_len_mean",
                "advantages/single_outcome_groups", "advantages/abs_mean", "latent/kappa_logprob_mean"):  # fmt: skip
        assert key in h, key
    for r in rows:
        assert "clip_ratio/region_mean" in r and 0.0 <= r["clip_ratio/region_mean"] <= 1.0
    assert h["latent/spans_per_sample"] >= 2.0
    assert h["rewards_all/div/mean"] < 0.0  # two spans per rollout: R_div is live
    assert h["rewards_all/ctr/mean"] > 0.0
    assert h["sampling/groups_kept"] + h["sampling/groups_padded"] == 2


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


def test_progress_is_one_step_bar_not_raw_log_dictionaries(trainer):
    """Issue 26: the RL demo printed no step counter or ETA (disable_tqdm) and Trainer's raw log dictionaries."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    from future_l1.training.sft import StepProgress

    kinds = [type(c) for c in trainer.callback_handler.callbacks]
    assert PrinterCallback not in kinds and ProgressCallback not in kinds
    (bar,) = [c for c in trainer.callback_handler.callbacks if isinstance(c, StepProgress)]
    assert bar.desc == "LA-DAPO" and "rewards/total/mean" in bar.shown
    from future_l1.training.rl.run import DEMO_RL

    assert DEMO_RL["disable_tqdm"] is False  # the bar shows unless TQDM_DISABLE=1
