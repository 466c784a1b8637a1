"""Latent rollouts for LA-DAPO: our `LatentDecoder` sampling n completions per prompt, with what RL needs per sample.

Per rollout: prompt ids (unpadded), completion ids, per-token sampling log-probs (log softmax(logits/T) of the
emitted id, TRL's convention), the vectors fed at each latent step (the recorded latents, [T_i, H]), span lengths,
and `env_mask` (TRL's name): 0 for `<|latent|>` fillers (their id is forced, the model chose nothing) and for
forced `<|latent_end|>` (at the span cap, and every end in fixed-budget mode), 1 elsewhere. With the optional latent
log-prob term the fillers stay in the loss (`keep_latent_positions`). The vision tensors are kept once per prompt
and shared by its n rollouts, so the policy, old-policy and reference forwards see the same video.

The returned dict carries TRL's `rollout_func` keys (`prompt_ids`, `completion_ids`, `logprobs`, `env_mask`) plus
ours; the trainer calls it directly (dynamic sampling needs groups, see `sampling.py`).

Engines (`engine`, issue 27): on CUDA the rollouts run on `FastLatentDecoder` (static KV cache, CUDA-graph-captured
decode step, continuous batching through `model.continuous`: a finished rollout's slot takes the next one); the eager
`LatentDecoder` stays the CPU engine and the reference (`engine="eager"`). Both record the same quantities the same
way (log-probs of the raw logits / T before top-p, the fed vector at each step), so the trainer's parity holds for
either (tests/training/test_rl_fast_rollout_gpu.py checks it on the GPU in fp32).

Why the fast decoder reads the live policy:
- it is built for each rollout over the model's own parameter tensors (`fuse=False`: fusing q|k|v and gate|up
  would replace the modules' Parameters by views of a new matrix, so the optimiser, which holds the old Parameter
  objects, would update tensors the model no longer uses). The optimiser's in-place updates keep storage, so even a
  graph kept across steps would see them; we nevertheless capture per rollout (below), which also covers anything
  that reallocates parameters between steps;
- what can reallocate: ZeRO-3 / FSDP gather full parameters only inside the trainer's
  `unwrap_model_for_generation` / `summon_full_params` context, and the decoder, its session and its graphs are
  created and dropped inside that context; mixed precision (bf16 autocast) does not cast the stored weights, and the
  rollout runs outside autocast in the weights' own dtype, as the eager decoder does; gradient checkpointing wraps
  the layers' forward, which the decode step does not call (it runs `decode_layer` over the layers' weights), and
  the prefill runs the model's forward under no_grad with checkpointing disabled by `unwrap_model_for_generation`.
Memory: the session (KV cache, decode state, graph pool) lives only for one rollout; it is released and torch's
cached blocks are returned (`empty_cache`) before the training step, so the rollout's cache and the step's
activations never coexist. The cost is a graph capture per KV bucket per rollout (`last_stats["capture_s"]`).
A group's n rollouts share one sample object, so the scheduler prefills each prompt once and copies it into the
group's slots (`model/continuous.py`, "Groups"; `last_stats["copied_rows"]`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from future_l1.model.decoder import DecodeOutput, GenerationSettings, LatentBudget, LatentDecoder
from future_l1.model.inputs import collate, prepare_sample
from future_l1.model.tokens import LatentIds

ENGINES = ("auto", "fast", "eager")
VISION_KEYS = ("pixel_values", "image_grid_thw", "pixel_values_videos", "video_grid_thw")
MC_SUFFIX = "Please provide only the single option letter within the <answer> </answer> tags."


def row_messages(row: dict, system_prompt: str | None) -> list[dict]:
    """Chat messages of an RL row (`problem`, JSON `media`): `<image>` / `<video>` markers bind the media in order;
    without markers the media go before the text (EasyR1's rule, the authors' `RL_v2/verl/utils/dataset.py`)."""
    media = json.loads(row.get("media") or "[]")
    text = row["problem"]
    content: list[dict] = []
    pieces = _split_markers(text)
    if not any(p in ("<image>", "<video>") for p in pieces):
        content = [_media_item(m) for m in media] + [{"type": "text", "text": text}]
    else:
        queue = list(media)
        for piece in pieces:
            if piece in ("<image>", "<video>"):
                if not queue:
                    raise ValueError(f"row {row.get('id')}: more {piece} markers than media")
                content.append(_media_item(queue.pop(0)))
            elif piece:
                content.append({"type": "text", "text": piece})
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return [*messages, {"role": "user", "content": content}]


def _split_markers(text: str) -> list[str]:
    import re

    return re.split(r"(<image>|<video>)", text)


_POOLS = None


def _media_item(m: dict) -> dict:
    """A chat content item; a pool frame (`video` + `slot`) is decoded from the shared 8-frame keyframe pool."""
    global _POOLS
    kind = m["type"]
    if "slot" in m:
        from future_l1.training.frames import FrameCache

        _POOLS = _POOLS or FrameCache(64)
        return {"type": "image", "image": _POOLS.pool(m["video"])[int(m["slot"])]}
    return {"type": kind, kind: m["path"]}


@dataclass
class RolloutSettings:
    num_generations: int = 8
    temperature: float = 0.9
    top_p: float = 0.99
    max_new_tokens: int = 2048
    batch_size: int = 64  # rows decoded together
    keep_latent_positions: bool = False  # True with the latent log-prob term: fillers stay in the loss
    max_num_frames: int = 32
    min_pixels: int | None = None
    max_pixels: int | None = None
    engine: str = "auto"  # ENGINES: "auto" = fast on CUDA, eager elsewhere
    compile: bool = False  # fast engine: torch.compile the decode layer


class _NoStrayLatent:
    """Bans the `<|latent|>` id (and `also`: the vision placeholders) from sampling, after the user's processor, if
    any. Inside a span the decoder forces `<|latent|>` itself; one sampled as text (a barely trained model does it:
    seen in the toy RL experiment) would have no recorded vector, and the trainer's substitution could not score the
    rollout. A sampled `<|image_pad|>` / `<|video_pad|>` (seen at temperature 1.5 in the toy RL experiment) would make
    the trainer's forward count one more vision token than it has features and fail the whole step. Only sampling
    changes: the recorded log-probs stay the model's own, as the trainer recomputes them."""

    def __init__(self, latent_id: int, inner=None, also: Sequence[int] = ()):
        self.latent_id, self.inner = int(latent_id), inner
        self.banned = sorted({int(latent_id), *(int(i) for i in also)})
        self._mask: torch.Tensor | None = None

    def _ban(self, scores: torch.Tensor) -> torch.Tensor:
        if self._mask is None or self._mask.device != scores.device or self._mask.numel() != scores.shape[-1]:
            self._mask = torch.zeros(scores.shape[-1], dtype=torch.bool, device=scores.device)  # before capture
            self._mask[[i for i in self.banned if i < scores.shape[-1]]] = True
        return scores.masked_fill(self._mask, float("-inf"))  # out of place: the raw logits stay untouched

    def __call__(self, generated: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        return self._ban(self.inner(generated, scores) if self.inner is not None else scores)


class _NoStrayLatentGraph(_NoStrayLatent):
    """The same, capturable with the fast decoder's step (`graph_call`: device tensors only)."""

    def graph_call(self, n_generated: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        return self._ban(self.inner.graph_call(n_generated, scores) if self.inner is not None else scores)


def no_stray_latent(latent_id: int, inner=None, also: Sequence[int] = ()) -> _NoStrayLatent:
    if inner is None or hasattr(inner, "graph_call"):
        return _NoStrayLatentGraph(latent_id, inner, also)
    return _NoStrayLatent(latent_id, inner, also)


def vision_placeholder_ids(tokenizer) -> list[int]:
    """The ids of `<|image_pad|>` and `<|video_pad|>` in `tokenizer` (those it has)."""
    ids = [tokenizer.convert_tokens_to_ids(t) for t in ("<|image_pad|>", "<|video_pad|>")]
    return [int(i) for i in ids if i is not None and i != tokenizer.unk_token_id]


def select_engine(engine: str, device: torch.device) -> str:
    """ "fast" or "eager" for a model on `device`: "auto" picks the fast decoder on CUDA only (on CPU it has no graphs
    to replay and the eager loop is the reference)."""
    if engine not in ENGINES:
        raise ValueError(f"rollout engine must be one of {ENGINES}, not {engine!r}")
    if engine == "auto":
        return "fast" if device.type == "cuda" else "eager"
    return engine


class LatentRollout:
    def __init__(self, processor, latent_ids: LatentIds, budget: LatentBudget, settings: RolloutSettings,
                 head: torch.nn.Module | None = None, system_prompt: str | None = None):  # fmt: skip
        self.processor, self.latent_ids, self.budget = processor, latent_ids, budget
        self.settings, self.head, self.system_prompt = settings, head, system_prompt
        # Optional `(generated ids, logits) -> logits` applied before sampling, e.g. a logit bias (the authors biased
        # the image pad token by −100); the recorded log-probs stay the model's own, as TRL recomputes them.
        self.logits_processor = None
        self.last_engine: str | None = None
        self.processor_in_use = None  # logits_processor behind the ban of stray `<|latent|>` ids (no_stray_latent)
        self.last_stats: dict = {}  # the fast engine's schedule and memory figures of the last rollout

    def encode(self, row: dict) -> dict:
        """One prompt: its unpadded ids, mm_token_type_ids and vision tensors."""
        kw = {"max_num_frames": self.settings.max_num_frames}
        if self.settings.min_pixels:
            kw["min_pixels"] = self.settings.min_pixels
        if self.settings.max_pixels:
            kw["max_pixels"] = self.settings.max_pixels
        sample = prepare_sample(self.processor, row_messages(row, self.system_prompt), **kw)
        enc = collate(self.processor, [sample])
        keep = enc["attention_mask"][0].bool()
        return {
            "prompt_ids": enc["input_ids"][0][keep],
            "mm_token_type_ids": enc["mm_token_type_ids"][0][keep],
            "vision": {k: enc[k] for k in VISION_KEYS if k in enc},
        }

    def __call__(self, model, rows: Sequence[dict], seed: int = 0) -> dict:
        """Sample `num_generations` completions for each row (rows are distinct prompts); outputs are group-major."""
        n = self.settings.num_generations
        t0 = time.perf_counter()
        encoded = [self.encode(r) for r in rows]
        encode_s = time.perf_counter() - t0
        flat = [(g, e) for g, e in enumerate(encoded) for _ in range(n)]
        gen = GenerationSettings(
            max_new_tokens=self.settings.max_new_tokens, temperature=self.settings.temperature,
            top_p=self.settings.top_p, do_sample=True, seed=seed, return_latents=True, return_logprobs=True,
        )  # fmt: skip
        device = next(model.parameters()).device
        self.last_engine = select_engine(self.settings.engine, device)
        self.processor_in_use = no_stray_latent(self.latent_ids.latent, self.logits_processor,
                                                also=vision_placeholder_ids(self.processor.tokenizer))  # fmt: skip
        self.last_stats = {}
        outs = self._fast(model, flat, gen) if self.last_engine == "fast" else self._eager(model, flat, gen, seed)
        self.last_stats["encode_s"] = encode_s
        result: dict[str, list] = {k: [] for k in (
            "prompt_ids", "completion_ids", "logprobs", "env_mask", "latents", "span_lengths", "text",
            "finish_reason", "group", "prompt_mm_token_type_ids", "vision",
        )}  # fmt: skip
        for (g, e), out in zip(flat, outs, strict=True):
            result["prompt_ids"].append(e["prompt_ids"].tolist())
            result["completion_ids"].append(list(out.token_ids))
            result["logprobs"].append(list(out.logprobs))
            result["env_mask"].append(self.env_mask(out.token_ids))
            result["latents"].append(out.latents if out.latents is not None else torch.zeros(0, 1))
            result["span_lengths"].append(list(out.span_lengths))
            result["text"].append(out.text)
            result["finish_reason"].append(out.finish_reason)
            result["group"].append(g)
            result["prompt_mm_token_type_ids"].append(e["mm_token_type_ids"])
            result["vision"].append(e["vision"])
        return result

    def _eager(self, model, flat: list, gen: GenerationSettings, seed: int) -> list[DecodeOutput]:
        """The reference engine: chunks of `batch_size` rows, one `LatentDecoder.generate` each."""
        decoder = LatentDecoder(model, self.processor.tokenizer, self.latent_ids, self.budget, head=self.head)
        outs = []
        step = max(1, self.settings.batch_size)
        for start in range(0, len(flat), step):
            chunk = flat[start : start + step]
            batch = self._batch([e for _, e in chunk])
            gen.seed = seed + start
            outs.extend(decoder.generate(batch, gen, self.processor_in_use))
        return outs

    def _fast(self, model, flat: list, gen: GenerationSettings) -> list[DecodeOutput]:
        """`FastLatentDecoder` with continuous batching over `batch_size` slots; its session is freed before return
        (module doc: live parameters, memory)."""
        from future_l1.model.continuous import _release, continuous_decode
        from future_l1.model.static_decoder import FastLatentDecoder

        decoder = FastLatentDecoder(model, self.processor.tokenizer, self.latent_ids, self.budget, head=self.head,
                                    fuse=False, compile=self.settings.compile)  # fmt: skip
        cuda = decoder.device.type == "cuda"
        before = torch.cuda.memory_allocated(decoder.device) if cuda else 0
        outs: list[DecodeOutput | None] = [None] * len(flat)
        items = ((i, e) for i, (_, e) in enumerate(flat))
        try:
            for r in continuous_decode(decoder, items, self._batch, gen, max(1, self.settings.batch_size),
                                       self.processor_in_use):  # fmt: skip
                if r.output is None:
                    raise RuntimeError(f"rollout {r.key} failed in the fast decoder: {r.extra.get('error')!r}")
                out = r.output
                if out.latents is not None:  # outside inference mode: the trainer's autograd may use them
                    out.latents = out.latents.clone()
                outs[r.key] = out  # type: ignore[index]
        finally:
            st = decoder.last_stats
            decoder.last_session = None
            t0 = time.perf_counter()
            _release(decoder.device)  # the KV cache and graph pool go back before the training step
            release_s = time.perf_counter() - t0
        self.last_stats = {
            "slots": st.slots, "session_gib": st.session_bytes / 2**30, "capture_s": st.capture_s,
            "collate_s": st.collate_s, "prefill_s": st.prefill_s, "copied_rows": st.copied_rows,
            "decode_s": st.decode_s, "decode_steps": st.decode_steps, "release_s": release_s,
            "oom_retries": st.oom_retries,
            "held_after_gib": ((torch.cuda.memory_allocated(decoder.device) - before) / 2**30) if cuda else 0.0,
        }  # fmt: skip
        return outs  # type: ignore[return-value]

    def _batch(self, encoded: Sequence[dict]) -> dict[str, torch.Tensor]:
        pad = self.processor.tokenizer.pad_token_id
        width = max(len(e["prompt_ids"]) for e in encoded)
        ids = torch.full((len(encoded), width), pad, dtype=torch.long)
        mask = torch.zeros(len(encoded), width, dtype=torch.long)
        mm = torch.zeros(len(encoded), width, dtype=torch.long)
        for i, e in enumerate(encoded):
            k = len(e["prompt_ids"])
            ids[i, width - k :], mask[i, width - k :], mm[i, width - k :] = e["prompt_ids"], 1, e["mm_token_type_ids"]
        batch = {"input_ids": ids, "attention_mask": mask, "mm_token_type_ids": mm}
        batch.update(cat_vision([e["vision"] for e in encoded]))
        return batch

    def env_mask(self, token_ids: Sequence[int]) -> list[int]:
        """0 at latent fillers (unless kept for the latent log-prob term) and at forced span ends, 1 elsewhere."""
        ids, cap, fixed = self.latent_ids, self.budget.cap, self.budget.fixed
        mask, run, prev = [], 0, None
        for tok in token_ids:
            if tok == ids.latent:
                run += 1
                mask.append(1 if self.settings.keep_latent_positions else 0)
            else:
                in_span = prev in (ids.latent, ids.start)
                mask.append(0 if tok == ids.end and in_span and (fixed or run >= cap) else 1)
                run = 0
            prev = tok
        return mask


def cat_vision(items: Sequence[dict]) -> dict[str, torch.Tensor]:
    """Concatenate per-sample vision tensors in row order (Qwen3-VL scatters them in that order)."""
    out = {}
    for key in VISION_KEYS:
        present = [v[key] for v in items if key in v]
        if present:
            out[key] = torch.cat(present)
    return out
