"""Batched latent-interleaved decoding for Qwen3-VL (paper §3.1; the authors' `_future_l1_sample` in `src/model/future_l1.py`), on transformers' public API.

Semantics (same as the authors' HF loop):
- A span starts when `<|latent_start|>` has been emitted. From the next step on, the row is in latent mode: its
  input embedding is the previous step's final post-norm hidden state (or the projection head's output when the
  checkpoint has a head), and the emitted token is `<|latent|>` whatever the model chose.
- Per-span cap: `max_latent_token` in fixed-budget mode, else `loose_latent_budget` when set, else
  `max(1, round(max_latent_token * multiplier))` with multiplier 2.0.
- Loose mode: the span ends early when the model's own choice at a latent step is `<|latent_end|>` (a span can be
  empty, as in the HF loop). Fixed mode ignores that choice. At the cap, `<|latent_end|>` is forced.
- `max_new_tokens` counts every decoding step, latent steps included (as HF's generate in the official loop).
- Latent steps use ordinary sequential text positions: all three M-RoPE axes equal, continuing from the prompt's
  `rope_deltas`, exactly like text tokens (as in the official code).

Design: `LatentDecoder.step` takes one input per row (a token id, or a fed-back vector for rows in latent mode) and
returns the post-norm hidden state and logits; text and latent rows share one batched forward. Position ids are
passed explicitly (4 rows: text row + t/h/w rows), computed per row from the left-padded prompt, so no state is kept
on the transformers model (its `rope_deltas` attribute is neither read nor relied on).

Deviations from the official loop: stop strings are applied inside the loop (a row stops as soon as its text
contains one, and the text is cut there) instead of only after generation; sampling uses a seeded
`torch.Generator` so runs are reproducible; without stop strings the loop does not synchronise with the GPU every
step: every 8 steps it drops finished rows from the batch and the KV cache (the official loop keeps decoding them
as padding until the whole batch is done).

This eager loop (DynamicCache) is the reference and the CPU path. `model/static_decoder.py` (`FastLatentDecoder`)
is the GPU fast path with the same contract: a static KV cache, the step captured in CUDA graphs, continuous batching.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import torch

from future_l1.model.tokens import LatentIds

# A logits processor sees the ids generated so far ([B, t], without the prompt) and the next-token logits [B, V].
LogitsProcessor = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class LatentBudget:
    """How long a latent span may be (the authors' `src/model/future_l1.py` and lmms-eval adapter)."""

    max_latent_token: int = 32
    fixed: bool = False
    multiplier: float = 2.0
    loose_budget: int | None = None

    @property
    def cap(self) -> int:
        if self.fixed:
            return max(1, int(self.max_latent_token))
        if self.loose_budget is not None and int(self.loose_budget) > 0:
            return int(self.loose_budget)
        return max(1, round(self.max_latent_token * self.multiplier))


@dataclass
class GenerationSettings:
    max_new_tokens: int = 256
    temperature: float = 0.0  # 0 means greedy
    top_p: float | None = None
    do_sample: bool | None = None  # None: sample iff temperature > 0
    seed: int | None = None
    stop: Sequence[str] = ()
    latent: bool = True  # False: plain text decoding (zero-shot baseline); latent tokens are ordinary tokens
    return_latents: bool = False
    # Per generated token, log softmax(logits / temperature) of the emitted id (temperature 1 when greedy), before
    # top-p, the convention TRL's GRPO recomputation uses; forced ids (latent fillers, forced ends) get theirs too.
    return_logprobs: bool = False

    @property
    def sampling(self) -> bool:
        return bool(self.do_sample) if self.do_sample is not None else self.temperature > 0


@dataclass
class DecodeOutput:
    text: str  # special tokens kept, cut at the first stop string
    token_ids: list[int]  # generated ids (the EOS included when emitted)
    text_tokens: int  # generated tokens that are not latent steps
    latent_steps: int  # number of `<|latent|>` steps fed back
    span_lengths: list[int]  # latent steps per span, in order
    finish_reason: str  # "eos" | "stop" | "length"
    latents: torch.Tensor | None = None  # [latent_steps, H] float32 on CPU, when requested
    logprobs: list[float] | None = None  # one per token_ids entry, when requested (GenerationSettings)
    extra: dict = field(default_factory=dict)


def max_new_tokens_limit(model) -> int | None:
    """The most decoding steps worth allocating for: the model's context length (`max_position_embeddings`), since
    positions past it are meaningless; None when the config does not say."""
    config = getattr(model, "config", None)
    context = getattr(getattr(config, "text_config", None), "max_position_embeddings", None)
    context = context or getattr(config, "max_position_embeddings", None)
    return int(context) if context else None


def check_max_new_tokens(value, model) -> int:
    """`value` as a step count, refused (ValueError naming the limit) when it is not a whole number >= 1 or exceeds
    `max_new_tokens_limit`: output buffers are allocated up front, so 1e9 would take the machine's memory first."""
    try:
        steps = int(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(
            f"max_new_tokens={value!r} is not a whole number; give one between 1 and the context"
        ) from None
    limit = max_new_tokens_limit(model)
    if steps < 1 or (limit is not None and steps > limit):
        raise ValueError(
            f"max_new_tokens={value!r} is out of range: it must be between 1 and {limit} (the model's "
            "max_position_embeddings); lower it in the task's gen_kwargs or the model's max_new_tokens argument"
        )
    return steps


def _top_p_filter(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
    cum = sorted_logits.softmax(-1).cumsum(-1)
    remove = cum - sorted_logits.softmax(-1) > top_p  # keep the smallest prefix whose mass reaches top_p
    sorted_logits = sorted_logits.masked_fill(remove, float("-inf"))
    return torch.full_like(logits, float("-inf")).scatter(-1, order, sorted_logits)


class LatentDecoder:
    """Decode a left-padded batch with latent spans. `model` is a `Qwen3VLForConditionalGeneration`."""

    def __init__(
        self,
        model,
        tokenizer,
        latent_ids: LatentIds | None,
        budget: LatentBudget,
        head: torch.nn.Module | None = None,
        eos_token_ids: Sequence[int] | None = None,
    ):
        self.model = model
        self.tokenizer = tokenizer
        self.latent_ids = latent_ids
        self.budget = budget
        self.head = head
        if eos_token_ids is None:
            eos = model.generation_config.eos_token_id
            eos_token_ids = [eos] if isinstance(eos, int) else list(eos or [tokenizer.eos_token_id])
        self.eos_token_ids = [int(e) for e in eos_token_ids]
        self.pad_token_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.eos_token_ids[0]
        self.poll_every = 8  # steps between checks for finished rows (a GPU sync), which are then dropped

    # -- the model call ------------------------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return self.model.lm_head.weight.device

    def prefill(self, batch: Mapping[str, torch.Tensor]):
        """Run the prompt. Returns (last hidden [B,H], logits [B,V], cache, next text position [B], rope delta [B])."""
        input_ids = batch["input_ids"]
        mask = batch["attention_mask"]
        mm_types = batch.get("mm_token_type_ids")
        if mm_types is None:
            mm_types = torch.zeros_like(input_ids)
        rope, deltas = self.model.model.get_rope_index(
            input_ids,
            mm_token_type_ids=mm_types,
            image_grid_thw=batch.get("image_grid_thw"),
            video_grid_thw=batch.get("video_grid_thw"),
            attention_mask=mask,
        )
        text_pos = (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 0)
        position_ids = torch.cat([text_pos[None], rope.to(text_pos)], 0)
        vision = {k: batch.get(k) for k in ("pixel_values", "pixel_values_videos", "image_grid_thw", "video_grid_thw")}
        out = self.model.model(
            input_ids=input_ids,
            attention_mask=mask,
            position_ids=position_ids,
            mm_token_type_ids=mm_types,
            use_cache=True,
            **{k: v for k, v in vision.items() if v is not None},
        )
        hidden = out.last_hidden_state[:, -1]
        return hidden, self.model.lm_head(hidden), out.past_key_values, mask.sum(-1), deltas.view(-1).to(text_pos)

    def step(
        self,
        token_ids: torch.Tensor,
        latent_vectors: torch.Tensor,
        latent_rows: torch.Tensor,
        attention_mask: torch.Tensor,
        text_positions: torch.Tensor,
        rope_deltas: torch.Tensor,
        cache,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One decoding step for every row: token rows embed their token, latent rows take their fed-back vector."""
        embeds = self.model.get_input_embeddings()(token_ids[:, None])
        embeds = torch.where(latent_rows[:, None, None], latent_vectors[:, None, :].to(embeds.dtype), embeds)
        text = text_positions[None, :, None]
        position_ids = torch.cat([text, (text + rope_deltas[None, :, None]).expand(3, -1, -1)], 0)
        out = self.model.model(
            inputs_embeds=embeds,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=cache,
            use_cache=True,
        )
        hidden = out.last_hidden_state[:, -1]
        return hidden, self.model.lm_head(hidden)

    def feedback(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.head(hidden) if self.head is not None else hidden

    # -- the loop ------------------------------------------------------------------------------------------------
    @torch.inference_mode()
    def generate(
        self,
        batch: Mapping[str, torch.Tensor],
        settings: GenerationSettings | None = None,
        logits_processor: LogitsProcessor | None = None,
    ) -> list[DecodeOutput]:
        settings = settings or GenerationSettings()
        check_max_new_tokens(settings.max_new_tokens, self.model)  # before any buffer is allocated
        dev = self.device
        batch = {k: (v.to(dev) if isinstance(v, torch.Tensor) else v) for k, v in batch.items()}
        input_ids, prompt_mask = batch["input_ids"], batch["attention_mask"]
        bsz, prompt_len = input_ids.shape
        latent_on = settings.latent and self.latent_ids is not None
        ids = self.latent_ids
        cap = self.budget.cap
        generator = None
        if settings.sampling:
            generator = torch.Generator(device=dev)
            generator.manual_seed(settings.seed if settings.seed is not None else 0)

        hidden, logits, cache, text_pos, deltas = self.prefill(batch)
        max_new = int(settings.max_new_tokens)
        mask = torch.ones(bsz, prompt_len + max_new, dtype=prompt_mask.dtype, device=dev)
        mask[:, :prompt_len] = prompt_mask
        eos = torch.tensor(self.eos_token_ids, device=dev)

        # Per-row outputs live at the original row index; the decoding state only holds the rows still running
        # (`rows` maps them back): finished rows are dropped from the batch and the KV cache at each poll.
        generated = torch.full((bsz, max_new), self.pad_token_id, dtype=torch.long, device=dev)
        latent_flags = torch.zeros(bsz, max_new, dtype=torch.bool, device=dev)
        lengths = torch.full((bsz,), max_new, dtype=torch.long, device=dev)
        eos_hit = torch.zeros(bsz, dtype=torch.bool, device=dev)
        stop_hit = [False] * bsz
        latent_store: list[tuple[torch.Tensor, torch.Tensor]] = []
        logprob_store = torch.zeros(bsz, max_new, dtype=torch.float32, device=dev)
        rows = torch.arange(bsz, device=dev)
        last_token = input_ids[:, -1]
        in_latent = torch.zeros(bsz, dtype=torch.bool, device=dev)
        span_len = torch.zeros(bsz, dtype=torch.long, device=dev)
        finished = torch.zeros(bsz, dtype=torch.bool, device=dev)
        stops = [s for s in settings.stop if s]
        stop_window = max((len(s) for s in stops), default=0) + 8
        # Without stop strings nothing forces a GPU->CPU sync per step; finished rows are polled every few steps
        # so the host can queue the next step while the GPU runs this one (until then they only emit padding).
        poll_every = 1 if stops else self.poll_every
        steps = 0
        for t in range(max_new):
            feed = self.feedback(hidden)
            scores = logits.float()
            if logits_processor is not None:
                scores = logits_processor(generated[rows, :t], scores)
            if settings.sampling:
                scores = scores / max(settings.temperature, 1e-6)
                if settings.top_p is not None and settings.top_p < 1.0:
                    scores = _top_p_filter(scores, settings.top_p)
                choice = torch.multinomial(scores.softmax(-1), 1, generator=generator).squeeze(1)
            else:
                choice = scores.argmax(-1)

            token = choice
            emit_latent = torch.zeros_like(in_latent)
            if latent_on:
                entering = (last_token == ids.start) & ~in_latent
                active = in_latent | entering
                span_len = torch.where(entering, torch.zeros_like(span_len), span_len)
                end = active & (span_len >= cap)
                if not self.budget.fixed:
                    end = end | (active & (choice == ids.end))
                emit_latent = active & ~end
                token = torch.where(emit_latent, torch.full_like(choice, ids.latent), token)
                token = torch.where(end, torch.full_like(choice, ids.end), token)
                span_len = span_len + emit_latent.long()
                in_latent = emit_latent
            token = torch.where(finished, torch.full_like(token, self.pad_token_id), token)
            emit_latent = emit_latent & ~finished
            generated[rows, t] = token
            latent_flags[rows, t] = emit_latent
            steps = t + 1
            if settings.return_latents:
                latent_store.append((rows, feed.float()))
            if settings.return_logprobs:
                temp = max(settings.temperature, 1e-6) if settings.sampling else 1.0
                logp = (logits.float() / temp).log_softmax(-1).gather(1, token[:, None]).squeeze(1)
                logprob_store[rows, t] = logp

            newly_done = ~finished & ~emit_latent & torch.isin(token, eos)  # EOS inside a span was overwritten
            eos_hit[rows] = eos_hit[rows] | newly_done
            if stops:
                live = (~finished & ~newly_done).nonzero().flatten().tolist()
                hits = [
                    i for i in live if self._has_stop(generated[rows[i], max(0, steps - stop_window) : steps], stops)
                ]
                if hits:
                    newly_done = newly_done.clone()
                    newly_done[hits] = True
                    for i in hits:
                        stop_hit[int(rows[i])] = True
            lengths[rows] = lengths[rows].masked_fill(newly_done, steps)
            finished = finished | newly_done
            if t == max_new - 1:
                break
            if steps % poll_every == 0 and bool(finished.any()):
                keep = (~finished).nonzero().flatten()
                if keep.numel() == 0:
                    break
                cache.batch_select_indices(keep)
                rows, token, feed, emit_latent = rows[keep], token[keep], feed[keep], emit_latent[keep]
                in_latent, span_len, finished = in_latent[keep], span_len[keep], finished[keep]
                mask, text_pos, deltas = mask[keep], text_pos[keep], deltas[keep]
            last_token = token
            mask_now = mask[:, : prompt_len + t + 1]
            hidden, logits = self.step(token, feed, emit_latent, mask_now, text_pos + t, deltas, cache)

        reasons = ["eos" if e else "stop" if s else "length" for e, s in zip(eos_hit.tolist(), stop_hit, strict=True)]
        latents = None
        if settings.return_latents:
            latents = torch.zeros(bsz, steps, hidden.shape[-1])
            for t, (r, vec) in enumerate(latent_store):
                latents[r.cpu(), t] = vec.cpu()
        outputs = self._collect(
            generated[:, :steps], latent_flags[:, :steps], latents, reasons, lengths.tolist(), stops
        )
        if settings.return_logprobs:
            logprob_rows = logprob_store[:, :steps].cpu().tolist()
            for b, out in enumerate(outputs):
                out.logprobs = logprob_rows[b][: len(out.token_ids)]
        return outputs

    def _has_stop(self, ids: torch.Tensor, stops: Sequence[str]) -> bool:
        tail = self.tokenizer.decode(ids.tolist(), skip_special_tokens=False)
        return any(s in tail for s in stops)

    def _collect(self, generated, latent_flags, latents_all, reasons, lengths, stops) -> list[DecodeOutput]:
        outputs = []
        gen = generated.cpu().tolist()
        flags = latent_flags.cpu()
        n_steps = generated.shape[1]
        for b, row in enumerate(gen):
            n = min(lengths[b], n_steps)
            row_ids = row[:n]
            row_flags = flags[b, :n]
            text = self.tokenizer.decode(row_ids, skip_special_tokens=False)
            for s in stops:
                if s in text:
                    text = text[: text.index(s)]
            latent_steps = int(row_flags.sum())
            outputs.append(
                DecodeOutput(
                    text=text,
                    token_ids=row_ids,
                    text_tokens=n - latent_steps,
                    latent_steps=latent_steps,
                    span_lengths=self._span_lengths(row_ids),
                    finish_reason=reasons[b],
                    latents=latents_all[b, :n][row_flags] if latents_all is not None else None,
                )
            )
        return outputs

    def _span_lengths(self, row: list[int]) -> list[int]:
        if self.latent_ids is None:
            return []
        spans: list[int] = []
        inside = False
        for tok in row:
            if tok == self.latent_ids.start and not inside:
                spans.append(0)
                inside = True
            elif inside and tok == self.latent_ids.latent:
                spans[-1] += 1
            elif inside and tok == self.latent_ids.end:
                inside = False
        return spans
