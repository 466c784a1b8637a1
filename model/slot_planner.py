"""How many decode slots fit on the GPU: the memory arithmetic behind `FastLatentDecoder`'s continuous batching.

Pure arithmetic (no device, no torch tensors), so it is unit-tested on the CPU. `plan_slots` takes the free device
memory, the model's geometry, the longest prompt, `max_new_tokens` and the user's `batch_size`, and returns how many
slots and how many prompts per prefill chunk fit, with the figures that decided it:

- per slot (held for the whole session): the static KV cache row (`cache_len` x 2 x layers x kv_heads x head_dim),
  the logits row and the choice phase's fp32 copies of it (scores, softmax, noise/argmax temporaries), the generated
  ids, flags, log-probs and, when requested, the fed-back latents; plus what one decode step allocates per row inside
  its CUDA-graph pool (one layer's activations and the fp32 attention scores over `cache_len` columns);
- per prefill chunk (transient, while a chunk of new prompts runs through the model's eager forward): the chunk's
  DynamicCache (all layers), one layer's language-model activations over the chunk's tokens (hidden states, q/k/v,
  the three MLP intermediates), the visual embeddings and DeepStack features, the padding mask (batched chunks only),
  and the vision tower's activations over the chunk's patches; the larger of the two towers counts, not both;
- a reserve for the allocator's fragmentation, cuBLAS/compile workspaces and graph pools (`reserve_bytes`, default
  the larger of 2 GiB and 3% of the free memory).

Estimates are conservative: `margin` (1.05) on the slots, whose tensors are allocated once and known exactly, and
`prefill_margin` (1.75) on the prefill chunk, whose transient blocks of many sizes fragment the caching allocator.
That factor is calibrated on issue 25's measurement at the real size (8B, 11,851-token prompts, 2,048 new tokens):
32 slots with 8-prompt chunks ran out of memory at 138 GiB reserved, about 65 GB above the weights and the slots,
1.7x this module's count of the chunk's live tensors (38 GB); 16 slots with the same chunks ran. They only have to
be close:
an allocation that still fails is caught by the scheduler (`model/continuous.py`), which halves its prefill chunk or
its slots and retries the affected samples.
"""

from __future__ import annotations

from dataclasses import dataclass

GiB = 1 << 30


@dataclass(frozen=True)
class ModelShape:
    """The sizes that decide memory: the language model, the vision tower and the element size of the weights."""

    layers: int
    hidden: int
    intermediate: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    vision_hidden: int = 0
    vision_intermediate: int = 0
    patch_dim: int = 3 * 2 * 16 * 16  # channels x temporal patch x patch x patch (Qwen3-VL)
    deepstack: int = 0
    dtype_bytes: int = 2

    @classmethod
    def from_config(cls, config, dtype_bytes: int = 2) -> ModelShape:
        """From a Qwen3-VL config (or its text config alone: no vision tower)."""
        text = config.get_text_config() if hasattr(config, "get_text_config") else config
        vision = getattr(config, "vision_config", None)
        head_dim = getattr(text, "head_dim", None) or text.hidden_size // text.num_attention_heads
        kw = {}
        if vision is not None:
            kw = dict(vision_hidden=vision.hidden_size, vision_intermediate=vision.intermediate_size,
                      patch_dim=vision.in_channels * vision.temporal_patch_size * vision.patch_size**2,
                      deepstack=len(getattr(vision, "deepstack_visual_indexes", None) or ()))  # fmt: skip
        return cls(layers=text.num_hidden_layers, hidden=text.hidden_size, intermediate=text.intermediate_size,
                   heads=text.num_attention_heads, kv_heads=text.num_key_value_heads, head_dim=head_dim,
                   vocab=text.vocab_size, dtype_bytes=dtype_bytes, **kw)  # fmt: skip

    @property
    def kv_bytes_per_token(self) -> int:
        """K and V of one token, all layers."""
        return 2 * self.layers * self.kv_heads * self.head_dim * self.dtype_bytes


@dataclass(frozen=True)
class SlotPlan:
    """What `plan_slots` decided, and the figures it decided from (bytes)."""

    slots: int  # 0: not even one slot fits
    requested: int
    prefill_rows: int
    cache_len: int
    free_bytes: int
    slot_bytes: int
    prefill_bytes: int
    reserve_bytes: int

    @property
    def capped(self) -> bool:
        return self.slots < self.requested

    def message(self) -> str:
        """One line for the log: what was asked, what fits, and why."""
        gb = 1e9
        fits = (f"{self.slots} slot{'s' if self.slots != 1 else ''}" if self.slots
                else "not even 1 slot")  # fmt: skip
        head = (f"batch_size {self.requested} capped to {fits}" if self.capped
                else f"{fits} (batch_size {self.requested})")  # fmt: skip
        return (f"future_l1 fast decoder: {head}: {self.slot_bytes / gb:.2f} GB per slot ({self.cache_len:,}-token KV "
                f"cache), {self.prefill_bytes / gb:.2f} GB for a prefill chunk of {self.prefill_rows} prompt"
                f"{'s' if self.prefill_rows != 1 else ''}, {self.reserve_bytes / gb:.1f} GB reserve, "
                f"{self.free_bytes / gb:.1f} GB free")  # fmt: skip


def round_up(n: int, multiple: int) -> int:
    return -(-int(n) // int(multiple)) * int(multiple) if multiple else int(n)


def slot_bytes(shape: ModelShape, cache_len: int, max_new_tokens: int, *, latents: bool = False,
               logprobs: bool = False) -> int:  # fmt: skip
    """Bytes one slot holds for the whole session, plus its share of one decode step's temporaries."""
    b = shape.dtype_bytes
    cache = cache_len * shape.kv_bytes_per_token + cache_len  # K/V + the validity mask
    logits = shape.vocab * (b + 4 * 4)  # logits row + fp32 scores, softmax and argmax/noise temporaries
    per_step = max_new_tokens * (8 + 1 + (4 if logprobs else 0) + (4 * shape.hidden if latents else 0))
    state = 16 * shape.hidden * b  # hidden, fed-back vector, embeddings and small per-row state
    # one decode step inside the graph pool: a layer's activations and the fp32 attention scores over the cache
    step = (6 * shape.hidden + 3 * shape.intermediate + (shape.heads + 2 * shape.kv_heads) * shape.head_dim) * b
    step += 3 * shape.heads * cache_len * 4
    return cache + logits + per_step + state + step


def prefill_bytes(shape: ModelShape, rows: int, tokens: int, patches_per_row: int = 0) -> int:
    """Peak bytes of prefilling `rows` prompts padded to `tokens` each, with `patches_per_row` vision patches each."""
    b = shape.dtype_bytes
    n = rows * tokens
    cache = n * shape.kv_bytes_per_token
    qkv = (shape.heads + 2 * shape.kv_heads) * shape.head_dim
    lm = n * (6 * shape.hidden + 2 * qkv + 3 * shape.intermediate) * b
    mask = 3 * rows * tokens * tokens if rows > 1 else 0  # padded batches: bool mask + its additive form
    patches = rows * patches_per_row
    merged = patches // 4  # spatial merge 2x2: one visual token per 4 patches
    visual = merged * shape.hidden * b * (1 + shape.deepstack)  # visual embeddings + DeepStack features
    tower = patches * (8 * shape.vision_hidden + 2 * shape.vision_intermediate) * b + patches * shape.patch_dim * (
        4 + b
    )
    return cache + max(lm, tower) + visual + n * shape.hidden * b + mask + rows * shape.vocab * 4


def plan_slots(shape: ModelShape, free_bytes: int, prompt_tokens: int, max_new_tokens: int, requested: int, *,
               prefill_rows: int = 1, patches_per_row: int = 0, kv_bucket: int = 256, latents: bool = False,
               logprobs: bool = False, reserve_bytes: int | None = None, margin: float = 1.05,
               prefill_margin: float = 1.75) -> SlotPlan:  # fmt: skip
    """The most slots (at most `requested`) whose sessions fit in `free_bytes`, with a prefill chunk of at most
    `prefill_rows` prompts of `prompt_tokens` tokens; the chunk shrinks (down to one prompt) before the slots do."""
    requested = max(1, int(requested))
    cache_len = round_up(prompt_tokens + max_new_tokens, kv_bucket or 1)
    per_slot = int(margin * slot_bytes(shape, cache_len, max_new_tokens, latents=latents, logprobs=logprobs))
    reserve = int(reserve_bytes) if reserve_bytes is not None else max(2 * GiB, int(0.03 * free_bytes))
    best = None
    for rows in range(max(1, int(prefill_rows)), 0, -1):
        chunk = int(prefill_margin * prefill_bytes(shape, rows, prompt_tokens, patches_per_row))
        fit = max(0, (int(free_bytes) - reserve - chunk) // per_slot)
        plan = SlotPlan(slots=int(min(requested, fit)), requested=requested, prefill_rows=rows, cache_len=cache_len,
                        free_bytes=int(free_bytes), slot_bytes=per_slot, prefill_bytes=chunk, reserve_bytes=reserve)  # fmt: skip
        if best is None or plan.slots > best.slots:
            best = plan
        if plan.slots >= requested:
            break
    assert best is not None
    return best
