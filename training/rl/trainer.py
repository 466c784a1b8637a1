"""`LADAPOTrainer`: TRL's `GRPOTrainer` with latent rollouts, latent substitution, video inputs, the LA-DAPO reward
and DAPO dynamic sampling (paper §3.3, App. B Table 9). trl is pinned exactly (requirements.lock); the private
methods overridden here are checked against their TRL signatures by tests/training/rl/test_trl_contract.py.

Overrides (rl-engine.md):
- `_generate_and_score_completions`: rollouts with our `LatentDecoder` (`rollout.py`), rewards (`rewards.py`),
  dynamic sampling (`sampling.py`), group-normalised advantages, old-policy / reference log-probs; the batch also
  carries each sample's recorded latents and vision tensors (list fields stay aligned when TRL shuffles and splits).
- `_get_per_token_logps_and_entropies`: the forward with the recorded latents substituted at `<|latent|>` positions
  (`latent_hook.py`) and the video / image tensors passed (TRL wires only images); optionally the latent log-prob.
- `compute_loss`: makes the current batch's latents and vision visible to the override above.

Latent positions, done right. The authors' RL (`RL_v2/verl/workers/actor/dp_actor.py`) has three alignment defects
we do not copy:
1. its actor recomputation fed the `<|latent|>` token embedding instead of the recorded vector, so every text token
   after a span was scored under a context never sampled (here: substitution, parity test ≤ 1e-5);
2. its latent log-prob values were written one slot late (into the next token's slot, the last one landing on
   `<|latent_end|>`);
3. its recorded z for latent k (the hidden state at k−1, the vector fed at k) was paired with the hidden state at k.
Here the latent log-prob of latent step k is κ·⟨μ_k, z_k⟩ (the authors' vMF-style score, κ 0.01), where μ_k is
the current policy's post-norm hidden state h_{k−1} at the position that produced z_k (projected by the head when
the checkpoint has one, as the decoder does), stored in slot k: the slot whose text-token log-prob is computed from
the same hidden state.

How the rewards reach the latents. The recorded latents are the latent policy's actions, as sampled token ids are
the text policy's: they enter the recomputation detached (`latent_hook.py`), and the gradient reaches the hidden
states they came from through their log-prob, which joins the DAPO loss at the latent slots (ratio, clip, KL). Each
rollout's advantage, which carries R_ctr and R_div through Eq. 7, thus moves μ towards the recorded latents of
better-than-average rollouts and away from the others'. With κ = 0 the latent slots are out of the loss (env_mask)
and no gradient reaches the latent path: R_ctr and R_div could only move the text tokens sampled before a span.
Forced `<|latent_end|>` tokens are always out of the loss.

Advantages (`advantages.py`): group-normalised, single-outcome groups at 0; groups that dynamic sampling dropped but
kept as padding (`sampling.py`) are out of the loss altogether.
"""

from __future__ import annotations

import logging
import math
import random
from collections import defaultdict

import torch
from trl import GRPOTrainer
from trl.models import unwrap_model_for_generation

from future_l1.training.rl import rewards as R
from future_l1.training.rl.advantages import group_advantages
from future_l1.training.rl.config import LADAPOConfig
from future_l1.training.rl.judge import JudgeFallback
from future_l1.training.rl.latent_hook import LatentSubstitution
from future_l1.training.rl.rollout import LatentRollout, RolloutSettings, cat_vision
from future_l1.training.rl.sampling import DynamicSampler

log = logging.getLogger(__name__)


def _pad(seqs: list[torch.Tensor], value, side: str) -> torch.Tensor:
    width = max(len(s) for s in seqs)
    out = torch.full((len(seqs), width), value, dtype=seqs[0].dtype)
    for i, s in enumerate(seqs):
        if side == "left":
            out[i, width - len(s) :] = s
        else:
            out[i, : len(s)] = s
    return out


class LADAPOTrainer(GRPOTrainer):
    def __init__(self, model, args: LADAPOConfig, train_dataset, processing_class, latent_ids, budget,
                 head=None, judge=None, **kwargs):  # fmt: skip
        def la_dapo_reward(completions, **kw):  # TRL needs a reward function; ours is computed per group below
            raise RuntimeError("LADAPOTrainer scores rewards itself")

        # TRL would rebuild the reference model from the checkpoint's architecture name, which for a Future-L1
        # checkpoint (FutureL1_Qwen3VL) is no transformers class; we build it ourselves, prepared as TRL does.
        beta, args.beta = args.beta, 0.0
        try:
            super().__init__(model=model, reward_funcs=[la_dapo_reward], args=args, train_dataset=train_dataset,
                             processing_class=processing_class, **kwargs)  # fmt: skip
        finally:
            args.beta = beta
        self.beta = beta
        if beta != 0.0:
            self.ref_model = self._build_reference(model)
        self.la_args = args
        if head is not None:  # the Trainer places the policy; the head, decoded with and not trained, follows it
            head = head.to(self.accelerator.device)
        self.latent_ids, self.budget, self.head = latent_ids, budget, head
        # the optional LLM-judge fallback of R_acc (judge.py): failures and timeouts score 0 and are counted
        self.judge = None if judge is None else JudgeFallback(judge, timeout_s=args.judge_timeout_s)
        self.rollout = LatentRollout(
            processing_class, latent_ids, budget,
            RolloutSettings(num_generations=args.num_generations, temperature=args.temperature, top_p=args.top_p,
                            max_new_tokens=args.max_completion_length, batch_size=args.rollout_batch_size,
                            keep_latent_positions=args.latent_logprob_kappa > 0, max_num_frames=args.max_num_frames,
                            min_pixels=args.min_pixels, max_pixels=args.max_pixels, engine=args.rollout_engine,
                            compile=args.rollout_compile),
            head=head, system_prompt=args.resolved_system_prompt(),
        )  # fmt: skip
        unwrapped = self.accelerator.unwrap_model(self.model)
        # one substitution hook per model (policy, reference), keyed by its embedding module
        self._subs = {id(unwrapped.get_input_embeddings()): LatentSubstitution(unwrapped, latent_ids.latent)}
        if self.ref_model is not None:
            ref = self.accelerator.unwrap_model(self.ref_model)
            self._subs[id(ref.get_input_embeddings())] = LatentSubstitution(ref, latent_ids.latent)
        self.sampler = DynamicSampler(args.acc_low, args.acc_high, args.max_sampling_tries, args.oversample_factor,
                                      enabled=args.dynamic_sampling)  # fmt: skip
        self._extras: dict | None = None
        self._rng = random.Random(args.seed)
        self.history: list[dict] = []
        self._rl_metrics: dict[str, list[float]] = defaultdict(list)

    def _build_reference(self, model):
        """A frozen copy of the starting policy, loaded from its folder, prepared like TRL's own reference."""
        from transformers import Qwen3VLForConditionalGeneration
        from trl.models import prepare_deepspeed, prepare_fsdp
        from trl.trainer.utils import add_fused_lm_head, disable_dropout_in_model

        ref = Qwen3VLForConditionalGeneration.from_pretrained(
            model.config._name_or_path, dtype=model.dtype, attn_implementation=model.config._attn_implementation
        ).eval()
        ref.requires_grad_(False)
        if self.args.disable_dropout:
            disable_dropout_in_model(ref)
        add_fused_lm_head(ref, temperature=self.temperature, cast_lm_head_to_fp32=self.args.cast_lm_head_to_fp32)
        if self.is_deepspeed_enabled:
            return prepare_deepspeed(ref, self.accelerator)
        if self.is_fsdp_enabled:
            return prepare_fsdp(ref, self.accelerator)
        return self.accelerator.prepare_model(ref, evaluation_mode=True)

    # -- scoring ---------------------------------------------------------------------------------------------------
    def score(self, ro: dict, rows: list[dict]) -> dict[str, torch.Tensor]:
        """Per-sample reward components (Eq. 7) of a rollout dict whose `group` indexes `rows`."""
        a = self.la_args
        acc, rep, fmt, div = [], [], [], []
        for text, g, lat, spans in zip(ro["text"], ro["group"], ro["latents"], ro["span_lengths"], strict=True):
            row = rows[g]
            ac, rp = R.accuracy_reward(text, row["answer"], row.get("problem_type"), row["problem"],
                                       judge=self.judge, repetition_threshold=a.repetition_threshold)  # fmt: skip
            acc.append(ac)
            rep.append(rp)
            fmt.append(R.format_reward(text, a.format_mode))
            div.append(float(R.temporal_diversity_reward(lat, spans)) if sum(spans) else 0.0)
        acc_t = torch.tensor(acc)
        ctr = torch.zeros(len(acc))
        groups = torch.tensor(ro["group"])
        for g in groups.unique().tolist():
            idx = (groups == g).nonzero().flatten()
            lats = [ro["latents"][i] if sum(ro["span_lengths"][i]) else None for i in idx.tolist()]
            ctr[idx] = R.outcome_contrastive_reward(lats, acc_t[idx] >= 1, a.ctr_temperature, a.ctr_pos_only,
                                                    a.ctr_self_negative)  # fmt: skip
        comps = {"accuracy": acc_t, "format": torch.tensor(fmt), "ctr": ctr, "div": torch.tensor(div),
                 "repetition": torch.tensor(rep)}  # fmt: skip
        comps["total"] = R.total_reward(comps["accuracy"], comps["format"], ctr, comps["div"], a.reward_weights_eq7)
        return comps

    # -- generation ------------------------------------------------------------------------------------------------
    def _rollout(self, rows: list[dict]) -> dict:
        seed = self.la_args.seed + 100_003 * self.state.global_step + self._rng.randrange(1 << 20)
        with (
            unwrap_model_for_generation(self.model_wrapped, self.accelerator,
                                        gather_deepspeed3_params=self.args.ds3_gather_for_generation,
                                        gradient_checkpointing_kwargs=self.args.gradient_checkpointing_kwargs)
            as unwrapped,
            torch.no_grad(),
            self._dist.summon_full_params(self.model_wrapped, recurse=False),
        ):  # fmt: skip
            was_training = unwrapped.training
            unwrapped.eval()
            try:
                out = self.rollout(unwrapped, rows, seed=seed)
            finally:
                unwrapped.train(was_training)
        for key, value in self.rollout.last_stats.items():  # the fast engine's figures (rollout.py)
            self._rl_metrics[f"rollout/{key}"].append(float(value))
        return out

    def _draw_rows(self, k: int) -> list[dict]:
        data = self.train_dataset
        return [dict(data[self._rng.randrange(len(data))]) for _ in range(k)]

    def _generate_and_score_completions(self, inputs):
        device = self.accelerator.device
        n = self.num_generations
        rows = [dict(x) for x in inputs[::n]]
        if any(inputs[i]["id"] != inputs[(i // n) * n]["id"] for i in range(len(inputs))):
            raise ValueError("the local generation batch must hold whole groups of num_generations identical prompts")
        batch = self.sampler.fill(len(rows), rows, self._rollout, self.score, self._draw_rows)
        ro, comps, rows = batch.rollout, batch.components, batch.rows
        for key, value in batch.stats.items():
            self._rl_metrics[f"sampling/{key}"].append(value)
        if batch.stats["groups_padded"]:
            log.warning(
                "step %d: %d of %d groups had one outcome after %d sampling tries; they only pad the batch (no loss, "
                "advantage 0). More tries (max_sampling_tries) or more prompts per try (oversample_factor) fill it",
                self.state.global_step, int(batch.stats["groups_padded"]), len(rows), int(batch.stats["tries"]),
            )  # fmt: skip
        # padded groups (sampling.py) keep the batch's shape and nothing else: out of the loss, the KL and the counts
        in_loss = torch.tensor(batch.padded, device=device).logical_not().repeat_interleave(n)

        t = self.batch_tensors(ro)
        prompt_ids, prompt_mask, completion_ids = t["prompt_ids"], t["prompt_mask"], t["completion_ids"]
        completion_mask, sampling_logps = t["completion_mask"], t["sampling_logps"]
        tool_mask = t["tool_mask"] * in_loss[:, None].to(t["tool_mask"].dtype)
        truncated = t["truncated"]
        loss_mask = completion_mask * tool_mask
        num_items_in_batch = self.accelerator.gather(loss_mask.sum()).sum()

        extras = {"latents": ro["latents"], "vision": ro["vision"], "prompt_mm": ro["prompt_mm_token_type_ids"]}
        input_ids = torch.cat([prompt_ids, completion_ids], 1)
        attention_mask = torch.cat([prompt_mask, completion_mask], 1)
        logits_to_keep = completion_ids.size(1)
        bs = self.args.per_device_train_batch_size
        generate_every = self.args.steps_per_generation * self.num_iterations
        old_logps = ref_logps = None
        with torch.no_grad():
            self._extras = extras
            try:
                if self.args.gradient_accumulation_steps % generate_every != 0:
                    old_logps, _, _ = self._get_per_token_logps_and_entropies(
                        self.model, input_ids, attention_mask, logits_to_keep, batch_size=bs
                    )
                if self.beta != 0.0:
                    ref_logps, _, _ = self._get_per_token_logps_and_entropies(
                        self.ref_model, input_ids, attention_mask, logits_to_keep, batch_size=bs
                    )
            finally:
                self._extras = None

        rewards = comps["total"].to(device)
        advantages, adv_stats = group_advantages(rewards, comps["accuracy"].to(device), n, self.scale_rewards,
                                                 in_loss=in_loss, gather=self.accelerator.gather)  # fmt: skip
        m = self._metrics["train"]
        for key, value in adv_stats.items():
            m[f"advantages/{key}"].append(value)
        m["advantages/abs_mean"].append(advantages[in_loss].abs().mean().item() if bool(in_loss.any()) else 0.0)
        trained = in_loss.cpu()
        for key in ("accuracy", "format", "ctr", "div", "repetition", "total"):
            kept = comps[key].float()[trained]
            m[f"rewards/{key}/mean"].append(kept.mean().item() if kept.numel() else math.nan)  # the groups trained on
            m[f"rewards_all/{key}/mean"].append(batch.all_means[key])  # every rollout generated, kept or not
        m["reward"].append(rewards.mean().item())
        m["reward_std"].append(rewards.std().item() if len(rewards) > 1 else 0.0)
        spans = [s for row in ro["span_lengths"] for s in row]
        m["latent/spans_per_sample"].append(len(spans) / len(ro["span_lengths"]))
        m["latent/span_len_mean"].append(sum(spans) / len(spans) if spans else 0.0)
        norms = [lat.float().norm(dim=-1) for lat in ro["latents"] if lat.shape[0]]
        m["latent/norm_mean"].append(torch.cat(norms).mean().item() if norms else 0.0)  # |z|: κ⟨μ, z⟩ scales with it
        m["completions/mean_length"].append(float(completion_mask.sum(1).float().mean()))
        m["completions/clipped_ratio"].append(truncated.float().mean().item())
        if self.judge is not None:
            for key, value in self.judge.take_counts().items():
                m[f"judge/{key}"].append(float(value))
        for key, values in self._rl_metrics.items():
            m[key].append(sum(values) / len(values))
        self._rl_metrics.clear()
        self.state.num_input_tokens_seen += int(attention_mask.sum())
        m["num_tokens"] = [self.state.num_input_tokens_seen]

        out = {
            "prompt_ids": prompt_ids, "prompt_mask": prompt_mask, "completion_ids": completion_ids,
            "completion_mask": completion_mask, "advantages": advantages, "num_items_in_batch": num_items_in_batch,
            "tool_mask": tool_mask, "sampling_per_token_logps": sampling_logps, **extras,
        }  # fmt: skip
        if old_logps is not None:
            out["old_per_token_logps"] = old_logps
        if ref_logps is not None:
            out["ref_per_token_logps"] = ref_logps
        return out

    def batch_tensors(self, ro: dict) -> dict[str, torch.Tensor]:
        """Padded tensors of a rollout: prompts left-padded, completions right-padded (TRL's layout)."""
        device = self.accelerator.device
        pad_id = self._tokenizer.pad_token_id
        out = {
            "prompt_ids": _pad([torch.tensor(p) for p in ro["prompt_ids"]], pad_id, "left"),
            "prompt_mask": _pad([torch.ones(len(p), dtype=torch.long) for p in ro["prompt_ids"]], 0, "left"),
            "completion_ids": _pad([torch.tensor(c) for c in ro["completion_ids"]], pad_id, "right"),
            "completion_mask": _pad([torch.ones(len(c), dtype=torch.long) for c in ro["completion_ids"]], 0, "right"),
            "tool_mask": _pad([torch.tensor(m) for m in ro["env_mask"]], 1, "right"),
            "sampling_logps": _pad([torch.tensor(lp) for lp in ro["logprobs"]], 0.0, "right"),
            "truncated": torch.tensor([r == "length" for r in ro["finish_reason"]]),
        }
        out = {k: v.to(device) for k, v in out.items()}
        if self.mask_truncated_completions:
            keep = (~out["truncated"]).unsqueeze(1).int()
            out["completion_mask"], out["tool_mask"] = out["completion_mask"] * keep, out["tool_mask"] * keep
        return out

    # -- the forward -----------------------------------------------------------------------------------------------
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        self._extras = {k: inputs[k] for k in ("latents", "vision", "prompt_mm")}
        try:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        finally:
            self._extras = None

    def _get_per_token_logps_and_entropies(
        self,
        model,
        input_ids,
        attention_mask,
        logits_to_keep,
        batch_size=None,
        compute_entropy=False,
        compute_aux_loss=False,
        pixel_values=None,
        image_grid_thw=None,
        num_images=None,
        pixel_attention_mask=None,
        spatial_shapes=None,
        num_tiles=None,
        image_sizes=None,
        token_type_ids=None,
        mm_token_type_ids=None,
        image_position_ids=None,
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """TRL's signature; the vision inputs and latents come from the current batch (`self._extras`)."""
        ex = self._extras
        if ex is None:
            raise RuntimeError("latent batch extras are not set (call through compute_loss or the generation step)")
        batch_size = batch_size or input_ids.size(0)
        unwrapped = self.accelerator.unwrap_model(model)
        sub = self._subs[id(unwrapped.get_input_embeddings())]
        kappa = self.la_args.latent_logprob_kappa
        fused = self.la_args.fused_logprobs
        fused = input_ids.is_cuda if fused is None else fused
        norm = unwrapped.model.language_model.norm
        all_logps, all_ent = [], []
        for start in range(0, input_ids.size(0), batch_size):
            end = min(start + batch_size, input_ids.size(0))
            ids, mask = input_ids[start:end], attention_mask[start:end]
            mm = torch.zeros_like(ids)
            for i, p in enumerate(ex["prompt_mm"][start:end]):
                prompt_len = ids.size(1) - logits_to_keep
                mm[i, prompt_len - len(p) : prompt_len] = p.to(ids.device)
            vision = {k: v.to(ids.device) for k, v in cat_vision(ex["vision"][start:end]).items()}
            labels = ids.masked_fill(mask == 0, -100)
            labels[:, :-logits_to_keep] = -100
            captured = {}
            handle = None
            if kappa > 0:
                handle = norm.register_forward_hook(lambda mod, a, out, c=captured: c.__setitem__("h", out))
            try:
                rows = None if ex["latents"] is None else ex["latents"][start:end]  # None: no substitution
                with sub.vectors(rows), self.accelerator.autocast():
                    if fused:  # TRL's tiled LM head: no [B, T, V] logits (GPU)
                        outputs = model(input_ids=ids, attention_mask=mask, mm_token_type_ids=mm, labels=labels,
                                        fused_lm_head=True, **vision)  # fmt: skip
                        logps = outputs.log_probs[:, -logits_to_keep:]
                        entropy = outputs.entropy[:, -logits_to_keep:] if compute_entropy else None
                    else:  # one log-softmax over the completion's logits: faster on CPU (rl-engine.md)
                        outputs = model(input_ids=ids, attention_mask=mask, mm_token_type_ids=mm,
                                        logits_to_keep=logits_to_keep + 1, use_cache=False, **vision)  # fmt: skip
                        logp_all = (outputs.logits[:, :-1].float() / self.temperature).log_softmax(-1)
                        logps = logp_all.gather(-1, ids[:, -logits_to_keep:, None]).squeeze(-1)
                        entropy = -(logp_all.exp() * logp_all).sum(-1) if compute_entropy else None
            finally:
                if handle is not None:
                    handle.remove()
            if kappa > 0 and ex["latents"] is not None:
                logps = self._latent_logprob(logps, captured["h"], ids, ex["latents"][start:end], logits_to_keep,
                                             kappa)  # fmt: skip
            all_logps.append(logps)
            if compute_entropy:
                all_ent.append(entropy)
        logps = torch.cat(all_logps, 0)
        return logps, (torch.cat(all_ent, 0) if compute_entropy else None), None

    def _latent_logprob(self, logps, hidden, ids, latents, logits_to_keep, kappa):
        """Slot k of a `<|latent|>` token gets κ·⟨μ_k, z_k⟩: z_k the recorded latent (the vector fed at step k), μ_k
        what the current policy would feed there, i.e. its post-norm hidden state h_{k−1} at the position that
        produced z_k (through the projection head when the checkpoint has one, as the decoder does). h_{k−1} is the
        same hidden state whose logits give slot k's text log-prob. Fixes defects 2 and 3 (module doc)."""
        comp = ids[:, -logits_to_keep:]
        is_lat = comp == self.latent_ids.latent
        if not bool(is_lat.any()):
            return logps
        h_prev = hidden[:, -logits_to_keep - 1 : -1][is_lat]  # the hidden state predicting each latent slot
        mu = self.head(h_prev) if self.head is not None else h_prev
        z = torch.cat([lat for lat in latents if lat is not None and lat.shape[0]]).to(mu.device)
        score = kappa * (mu.float() * z.float()).sum(-1)
        if torch.is_grad_enabled():  # the policy's own forward (compute_loss), not the old / reference passes
            self._metrics["train"]["latent/kappa_logprob_mean"].append(score.mean().item())
        logps = logps.clone()
        logps[is_lat] = score.to(logps.dtype)
        return logps

    # -- logs and saving -------------------------------------------------------------------------------------------
    def _save(self, output_dir: str | None = None, state_dict=None):
        """Save through the project's one checkpoint writer: the published layout (architectures FutureL1_Qwen3VL,
        the SFT checkpoint's latent fields), the projection head if the SFT checkpoint had one, the processor. Used
        for the final checkpoint and every `checkpoint-N`; under ZeRO-3 / FSDP the Trainer passes the gathered
        `state_dict` (all ranks call this, only the main process writes)."""
        from future_l1.model.checkpoint import save_from_trainer

        save_from_trainer(self, output_dir, state_dict, head=self.head)

    def log(self, logs: dict, start_time: float | None = None) -> None:
        metrics = {k: (sum(v) / len(v) if v else math.nan) for k, v in self._metrics["train"].items()}
        super().log(logs, start_time)
        if "loss" in logs:
            self.history.append({**metrics, **logs, "step": self.state.global_step})
