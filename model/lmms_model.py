"""The `future_l1` lmms-eval chat model: batched latent-interleaved decoding of Future-L1 / Qwen3-VL checkpoints.

Model args (`--model_args k=v,...`, plus lmms-eval's batch_size / max_batch_size / device): one typed object,
`future_l1.model.adapter_args.FutureL1ModelArgs`, holds them all with their types, defaults and descriptions:
pretrained (required), latent, max_latent_token, fixed_latent_budget (false | true | K), latent_multiplier,
loose_latent_budget, head_prefer, dtype, attn_implementation, max_num_frames (32), min_pixels (200,704), max_pixels
(1,605,632), max_new_tokens (8192), seed, save_latents=DIR (npz sidecar per sample), latent_intervention (none |
zero | mean | noise:SIGMA | random | shuffle | budget:K) and latent_intervention_seed, decoder (auto | fast | eager),
compile, attn (matmul), batch_size, max_batch_size, device. An unknown key or a bad value is a ValueError
(`ModelArgsError`) that names it and says what is expected.

Behaviour, as the authors' lmms-eval adapter (`lmms-eval/lmms_eval/models/future_l1.py` in OpenGVLab/Future-L1 at
a91add2) unless said otherwise:
- The messages come from the task's doc_to_messages (the *_future_l1 tasks include the official system prompt).
  A request without a system message gets FUTURE_L1_SYSTEM_PROMPT when latent decoding is on.
- Media and text go through `model.inputs.prepare_sample`: frames sampled and sized by qwen-vl-utils 0.0.14's
  rules (videos are capped at 786,432 pixels per frame whatever max_pixels says), and every literal `<image>` is
  deleted from the user text, as the official adapter does.
- Generation defaults: greedy (temperature 0), `until` stop strings applied by the decoder; "\\n\\n" is dropped
  from `until` like the official adapter does (a reasoning trace contains blank lines).
- The response keeps special tokens, so the tasks recover latent spans from the text; TokenCounts carry
  output_tokens = text tokens and reasoning_tokens = latent steps.
- Deviation: a corrupt/missing video or image becomes the answer "[future-l1 error] <message>" for that sample only
  (the official adapter aborts the run); a failing batch is retried sample by sample so one bad input never takes
  the batch down.
- Media of the next batch are decoded in a background thread while the current batch decodes (as the official
  adapter does).
- Fast decoder (issue 13; `model/static_decoder.py`, `model/continuous.py`): continuous batching over `batch_size`
  slots per gen_kwargs group: when a row finishes, the next waiting request is prefilled (in chunks of at most 8
  prompts and 16,384 prompt tokens) and takes its slot, so the batch stays full across a task. `batch_size` is capped
  to what fits in GPU memory (`model/slot_planner.py`; one log line says so) and an out-of-memory error shrinks the
  chunk or the slots and retries the affected requests (issue 25). Answers are those of the eager decoder (token
  for token in fp32); only their order of completion differs. A failing prefill chunk is retried row by row.
- Data parallel (torchrun / accelerate launch): one device per local rank; lmms-eval's padding requests
  (metadata "__padding_only__") are answered with "" without running the model.
"""

from __future__ import annotations

import copy
import json
import os
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import torch
from lmms_eval.api.instance import GenerationResult, Instance, TokenCounts
from lmms_eval.api.model import lmms

from future_l1.model.adapter_args import FutureL1ModelArgs
from future_l1.model.checkpoint import load_future_l1
from future_l1.model.decoder import GenerationSettings
from future_l1.model.distributed import place
from future_l1.model.inputs import collate, merge_batches, prepare_sample
from future_l1.model.interventions import LatentIntervention
from future_l1.model.protocol import ERROR_PREFIX, FUTURE_L1_SYSTEM_PROMPT


def _as_bool(value) -> bool | None:
    """A gen_kwargs flag (do_sample) as lmms-eval passes it: a bool, a number or a word."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return bool(value)
    return str(value).strip().lower() in ("1", "true", "yes", "on")


class FutureL1(lmms):
    is_simple = False

    def __init__(self, **model_args: Any) -> None:
        """`model_args`: lmms-eval's `--model_args` pairs plus its batch_size / max_batch_size / device, parsed and
        checked by `FutureL1ModelArgs` (a ModelArgsError, a ValueError, names an unknown key or a bad value)."""
        super().__init__()
        args = FutureL1ModelArgs.from_model_args(**model_args)
        self.args = args
        here = place()
        rank, world, local = here.rank, here.world_size, here.local_rank
        self._rank, self._world_size = rank, world
        device = args.device
        if device is None or device in ("cuda", "auto") or (world > 1 and device.startswith("cuda")):
            device = f"cuda:{local}" if torch.cuda.is_available() else "cpu"  # data parallel: one GPU per local rank
        self._device = torch.device(device)
        if self._device.type == "cuda":
            torch.cuda.set_device(self._device)
        dtype = args.dtype
        if self._device.type == "cpu":
            dtype = "fp32"  # bf16 matmuls on CPU are slow and change greedy outputs
        self.model = load_future_l1(
            args.pretrained,
            latent=args.latent,
            max_latent_token=args.max_latent_token,
            fixed_latent_budget=args.fixed_latent_budget,
            latent_multiplier=args.latent_multiplier,
            loose_latent_budget=args.loose_latent_budget,
            head_prefer=args.head_prefer,
            dtype=None if dtype in (None, "auto") else dtype,
            device=self._device,
            attn_implementation=args.attn_implementation,
        )
        self.batch_size_per_gpu = args.batch_size
        self.media = dict(max_num_frames=args.max_num_frames, min_pixels=args.min_pixels, max_pixels=args.max_pixels)
        self.max_new_tokens = args.max_new_tokens
        self.save_latents = args.save_latents
        self.seed = args.seed
        # issue 29: one intervention (and its run state: mean latent, shuffle donor bank) for every request of the run
        self.intervention = (LatentIntervention(args.latent_intervention, args.latent_intervention_seed)
                             if args.latent_intervention != "none" else None)  # fmt: skip
        self.pretrained = args.pretrained
        # Optional hook (tests, experiments): a decoder LogitsProcessor, (generated ids [B,t], logits [B,V]) -> logits.
        self.logits_processor = None
        # Decoder: "fast" (static KV cache, CUDA-graph step, continuous batching over batch_size slots), "eager"
        # (LatentDecoder, fixed batches), "auto" = fast on CUDA, eager on CPU.
        self.fast = args.decoder == "fast" or (args.decoder == "auto" and self._device.type == "cuda")
        compile_flag = self._device.type == "cuda" if args.compile is None else args.compile
        self.fast_options = dict(compile=compile_flag, attn=args.attn)
        self._fast_decoder = None

    # -- lmms-eval plumbing ----------------------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return self._device

    @property
    def batch_size(self) -> int:
        return self.batch_size_per_gpu

    def clean(self) -> None:
        """Free cached memory but keep the model, so a harness can reuse this instance (lmms.clean deletes it)."""
        import gc

        gc.collect()
        if self._device.type == "cuda":
            torch.cuda.empty_cache()

    def loglikelihood(self, requests):
        raise NotImplementedError("future_l1 is a generation model; loglikelihood tasks are not supported")

    def generate_until_multi_round(self, requests):
        raise NotImplementedError("future_l1 does not implement multi-round generation")

    # -- generation ------------------------------------------------------------------------------------------------
    def _settings(self, gen_kwargs: dict) -> GenerationSettings:
        until = gen_kwargs.get("until") or []
        until = [until] if isinstance(until, str) else list(until)
        temperature = float(gen_kwargs.get("temperature", 0.0) or 0.0)
        do_sample = gen_kwargs.get("do_sample")
        return GenerationSettings(
            max_new_tokens=int(gen_kwargs.get("max_new_tokens") or self.max_new_tokens),
            temperature=temperature,
            top_p=gen_kwargs.get("top_p"),
            do_sample=(_as_bool(do_sample) and temperature > 0) if do_sample is not None else None,
            seed=int(gen_kwargs.get("seed", self.seed)),
            stop=tuple(s for s in until if s and s != "\n\n"),
            latent=self.model.latent,
            return_latents=self.save_latents is not None,
            intervention=self.intervention,
        )

    def _messages(self, request: Instance) -> list[dict]:
        args = request.args
        doc_id, task, split = args[-3:]
        doc_to_messages = next(a for a in args if callable(a))
        messages = doc_to_messages(self.task_dict[task][split][doc_id])
        if hasattr(messages, "model_dump"):
            messages = messages.model_dump()
        messages = [dict(m) for m in (messages.get("messages", messages) if isinstance(messages, dict) else messages)]
        if self.model.latent and not any(m.get("role") == "system" for m in messages):
            messages.insert(0, {"role": "system", "content": FUTURE_L1_SYSTEM_PROMPT})
        return messages

    def _run_batch(self, samples, settings) -> list:
        batch = collate(self.model.processor, samples)
        input_tokens = batch["attention_mask"].sum(-1).tolist()
        # A prompt longer than the model's context makes it answer garbage silently; raising here makes the batch be
        # retried sample by sample (_generate_chunk), so only the over-long sample gets an error answer.
        context = getattr(getattr(self.model.backbone.config, "text_config", None), "max_position_embeddings", None)
        if context and max(input_tokens) > context:
            raise ValueError(
                f"prompt has {max(input_tokens)} tokens, more than the model's context of {context}; "
                "shorten the question (future-l1 data check names it) or lower max_num_frames / max_pixels"
            )
        outputs = self.model.generate(batch, settings, self.logits_processor)
        return [(o, int(n)) for o, n in zip(outputs, input_tokens, strict=True)]

    def _write_latents(self, request: Instance, output) -> None:
        doc_id, task, split = request.args[-3:]
        self.save_latents.mkdir(parents=True, exist_ok=True)
        latents = output.latents if output.latents is not None else torch.zeros(0)
        np.savez(
            self.save_latents / f"{task}__{split}__{doc_id}__rank{self.rank}.npz",
            latents=latents.numpy().astype(np.float16),
            span_lengths=np.asarray(output.span_lengths, dtype=np.int32),
            next_embeds=self._next_embeds(output.token_ids, latents.shape[-1] if latents.ndim == 2 else 0),
        )

    def _next_embeds(self, token_ids: list[int], hidden: int) -> np.ndarray:
        """Per span, the input embedding of the first text token after its `<|latent_end|>` (NaN when the answer ends
        in or right after the span): what reports.latent_diagnostics compares the span's last latent with (issue 29). A table lookup, no
        forward pass."""
        ids = self.model.latent_ids
        if ids is None or not hidden:
            return np.zeros((0, hidden), dtype=np.float16)
        after: list[int] = []  # one per span (as span_lengths counts them); -1: the answer ends in or at the span
        inside = False
        for i, t in enumerate(token_ids):
            if t == ids.start and not inside:
                after.append(-1)
                inside = True
            elif inside and t == ids.end:
                after[-1] = token_ids[i + 1] if i + 1 < len(token_ids) else -1
                inside = False
        table = self.model.backbone.get_input_embeddings().weight
        rows = [table[t].detach().float().cpu() if t >= 0 else torch.full((hidden,), float("nan")) for t in after]
        return torch.stack(rows).numpy().astype(np.float16) if rows else np.zeros((0, hidden), dtype=np.float16)

    def generate_until(self, requests: list[Instance]) -> list[GenerationResult]:
        from tqdm import tqdm

        results: list[GenerationResult | None] = [None] * len(requests)
        groups: OrderedDict[str, list[int]] = OrderedDict()
        for i, req in enumerate(requests):
            if req.metadata and req.metadata.get("__padding_only__"):
                results[i] = GenerationResult("", TokenCounts(0, 0, 0))  # discarded by lmms-eval; don't compute it
                continue
            gen_kwargs = next(a for a in req.args if isinstance(a, dict))
            groups.setdefault(json.dumps(gen_kwargs, sort_keys=True, default=str), []).append(i)

        if self.fast:
            bar = tqdm(total=sum(len(v) for v in groups.values()), disable=self.rank != 0, desc="future_l1")
            for key, indices in groups.items():
                self._generate_continuous(requests, indices, self._settings(json.loads(key)), results, bar)
            bar.close()
            return results  # type: ignore[return-value]

        chunks = [(self._settings(json.loads(key)), indices[start : start + self.batch_size_per_gpu])
                  for key, indices in groups.items()
                  for start in range(0, len(indices), self.batch_size_per_gpu)]  # fmt: skip
        bar = tqdm(total=sum(len(c) for _, c in chunks), disable=self.rank != 0, desc="future_l1")
        # Media of the next chunk are decoded in a background thread while the current chunk runs on the model. The
        # thread only renders the chat template (Jinja) and decodes media; tokenising stays on this thread, because a
        # Rust tokenizer used from two threads at once fails ("Already borrowed").
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(self._prepare, requests, chunks[0][1], results) if chunks else None
            for k, (settings, chunk) in enumerate(chunks):
                prepared = pending.result()
                if k + 1 < len(chunks):
                    pending = pool.submit(self._prepare, requests, chunks[k + 1][1], results)
                self._generate_chunk(requests, prepared, settings, results)
                bar.update(len(chunk))
        bar.close()
        return results  # type: ignore[return-value]

    def _prepare(self, requests, chunk: list[int], results: list) -> list[tuple[int, Any]]:
        """Decode media and render prompts; a sample whose media fail gets its error answer here."""
        prepared = []
        for i in chunk:
            try:
                prepared.append((i, prepare_sample(self.model.processor, self._messages(requests[i]), **self.media)))
            except Exception as exc:
                results[i] = GenerationResult(ERROR_PREFIX + str(exc), TokenCounts(0, 0, 0))
        return prepared

    def _generate_chunk(self, requests, prepared, settings, results) -> None:
        if not prepared:
            return
        try:
            outs = self._run_batch([s for _, s in prepared], settings)
        except Exception:
            if len(prepared) == 1:
                i = prepared[0][0]
                import traceback

                msg = traceback.format_exc(limit=1).strip().splitlines()[-1]
                results[i] = GenerationResult(ERROR_PREFIX + msg, TokenCounts(0, 0, 0))
                return
            for item in prepared:  # isolate the failing sample; the others still get answers
                self._generate_chunk(requests, [item], settings, results)
            return
        for (i, _), (out, n_in) in zip(prepared, outs, strict=True):
            results[i] = GenerationResult(out.text, TokenCounts(n_in, out.text_tokens, out.latent_steps))
            if self.save_latents is not None:
                self._write_latents(requests[i], out)

    # -- continuous batching (the fast decoder) ----------------------------------------------------------------------
    def fast_decoder(self):
        if self._fast_decoder is None:
            from future_l1.model.static_decoder import FastLatentDecoder

            m = self.model
            self._fast_decoder = FastLatentDecoder(m.backbone, m.tokenizer, m.latent_ids, m.budget, head=m.head,
                                                   **self.fast_options)  # fmt: skip
        return self._fast_decoder

    def _generate_continuous(self, requests, indices: list[int], settings, results: list, bar) -> None:
        """One gen_kwargs group through `continuous_decode`: `batch_size` slots (at most: the decoder caps them to what
        fits in memory) stay full across the group; the media of the next requests are decoded and run through the
        processor on media threads (`model.prefetch`) while the GPU decodes; this thread only pads them into a batch."""
        from future_l1.model.continuous import continuous_decode
        from future_l1.model.prefetch import Prefetch

        dec = self.fast_decoder()

        def prepare_collated(i, processor):
            """One request's media and processor work, on a media thread: its one-sample batch (None when its media
            failed: `_prepare` has answered it), or the collation error (raised again by collate_rows)."""
            ready = self._prepare(requests, [i], results)
            return collate(processor, [ready[0][1]]) if ready else None

        workers = max(1, min(4, (os.cpu_count() or 1) // 4))  # 4 threads on the H200 machine's 16 cores

        def collate_rows(batches):
            for b in batches:
                if isinstance(b, Exception):
                    raise b
            batch = merge_batches(batches, self.model.tokenizer.pad_token_id)
            context = getattr(getattr(self.model.backbone.config, "text_config", None), "max_position_embeddings", 0)
            longest = int(batch["attention_mask"].sum(-1).max())
            if context and longest > context:  # as _run_batch: only the over-long sample gets an error answer
                raise ValueError(f"prompt has {longest} tokens, more than the model's context of {context}")
            return batch

        done = 0
        media = Prefetch(indices, prepare_collated, workers=workers, ahead=workers + dec.prefill_rows,
                         state=lambda: copy.deepcopy(self.model.processor), drop=lambda batch: batch is None)  # fmt: skip
        with media:
            for r in continuous_decode(dec, media, collate_rows, settings, self.batch_size_per_gpu,
                                       self.logits_processor):  # fmt: skip
                i, out = r.key, r.output
                if out is None:
                    err = r.extra.get("error")
                    results[i] = GenerationResult(f"{ERROR_PREFIX}{type(err).__name__}: {err}", TokenCounts(0, 0, 0))
                else:
                    out.extra["prompt_tokens"] = r.prompt_tokens
                    counts = TokenCounts(r.prompt_tokens, out.text_tokens, out.latent_steps)
                    results[i] = GenerationResult(out.text, counts)
                    if self.save_latents is not None:
                        self._write_latents(requests[i], out)
                done += 1
                bar.update(1)
        bar.update(len(indices) - done)  # samples whose media failed were answered by _prepare
