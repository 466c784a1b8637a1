"""The fast latent decoder: a static KV cache, fixed-slot decode state, and a CUDA-graph-captured decode step.

`FastLatentDecoder` keeps `LatentDecoder`'s contract (`generate(batch, settings, logits_processor)` returns the same
`DecodeOutput`s, token for token in fp32) and adds `session()`, a fixed set of row *slots* that requests join and
leave while the others keep decoding (continuous batching, used by the lmms-eval adapter).

Design
- Prefill runs the model's own eager forward (vision tower, deepstack, M-RoPE positions of the prompt) on the
  admitted rows, as `LatentDecoder.prefill`. Each row's valid prompt KV is then copied to the front of its slot in a
  static cache `[layers][slots, kv_heads, L, head_dim]` (no left padding inside a slot), with a validity mask
  `[slots, L]`. A row writes its decode tokens at `prompt_len + t`; positions are its own text positions (+ its
  `rope_delta` on the t/h/w axes), exactly as the eager loop.
- The decode step is one tensor function over fixed-shape buffers: (1) choose (greedy argmax, or top-p sampling
  by the exponential race, which is how torch.multinomial draws one sample), run the span state machine, record the
  token/latent/EOS/length (and the per-token log-prob when `return_logprobs` is set); (2) run the language model for
  one token per slot: embedding or fed-back vector, the model's rotary module, then `decode_layer` per layer (the
  Qwen3-VL text layer written out over the model's own weights: RMSNorm, q/k/v with q_norm/k_norm, the new K/V
  scattered into the static cache, attention over the first `La` cache columns, SiLU MLP), final norm, lm_head. `La` is the longest live row rounded up to `kv_bucket`
  columns (so the attention reads only what is filled); one CUDA graph is captured per (slots, La) and replayed.
- Attention reads grouped-query KV without repeating heads: the query is viewed as [slots, kv_heads, group, dim]
  and multiplied with K/V as batched matmuls (`attn="matmul"`, softmax in fp32 like transformers' eager path),
  `torch.nn.functional.scaled_dot_product_attention(..., enable_gqa=True)` (`attn="sdpa"`), FlexAttention with the
  mask as a score_mod (`attn="flex"`, its decoding kernel when compiled), or broadcast products and sums that
  inductor fuses into reductions (`attn="reduce"`, meant for `compile=True`; eager it materialises the products).
  Measured on the H200 (bench/results/decode_bench_h200.json): uncompiled, cuBLAS runs the matmul form with slow
  small-M batched kernels (3 ms of a batch-1 step); with the layer compiled, the matmul form is the fastest of the
  four (attention about 0.4 ms of a 5.9 ms batch-1 step), ahead of reduce and flex.
- The host only synchronises at polling points (every `poll_every` steps): it reads the finished flags, applies stop
  strings on the tokens produced since the last poll, collects finished rows and admits waiting ones.

Deviations from `LatentDecoder` (outputs are unchanged; only wasted work differs):
- Finished rows keep their slot (emitting padding, writing nothing that is read) until the next poll instead of
  being dropped from the batch. Stop strings are checked at polls, replaying the eager loop's per-step test on the
  tokens since the last poll, so a row stops at the same step and the extra steps are discarded.
- A generic logits processor (a Python callable on the generated ids) cannot live in a graph: then only the model
  forward is captured and the choice runs eagerly ("split" mode). A processor with a `graph_call(n_generated, scores)`
  method (device tensors only) is captured with the step. Rows that joined at different steps are passed to a generic
  processor in groups of equal generated length.
- Sampling draws from the decoder's own seeded generator, but with a different random stream than the eager loop, so
  sampled outputs are reproducible run to run, not equal to the eager loop's.
- Top-p without sorting (issue 27; `sampler="radix"`, the default when compiled): `top_p_keep` finds the same kept
  set as the eager loop's sort-based `_top_p_filter` by a two-level radix select over the scores' bits with
  fixed-point mass sums, and `sample_choice` (compiled with the step) races the kept tokens' probabilities against
  the same exponential noise and returns the log-sum-exp the recorded log-probs need. The sort (a full sort of the
  vocabulary per row and step), two softmaxes, the cumsum, the scatter and the full log_softmax go; the kept set
  differs only where a token's preceding mass is within fp32 rounding (~1e-6) of top_p. `sampler="reference"` is the
  sort-based path, the default uncompiled.
- `fuse="copy"`: q|k|v and gate|up as fused copies made when the decoder is built, the model's Parameters untouched
  (for RL, where the optimiser holds them and the decoder is rebuilt for each rollout): 1.85 GB more at the 2B shape.
- Prefill chunking is by rows (the adapter admits at most `prefill_rows` prompts per prefill call), not by tokens:
  a video prompt runs through the vision tower whole.
- `torch.compile` is optional (`compile=True`, the adapter's default on CUDA) and applies to `decode_layer` only, one
  compiled graph shared by all layers and decoders (recompiled per (slots, La) shape); the choice phase, embedding,
  rotary and lm_head run as eager kernels inside the same CUDA graph. Sampling inside a graph uses the session's
  generator registered with the graph.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch.nn import functional as F

from future_l1.model.decoder import (
    DecodeOutput,
    GenerationSettings,
    LatentBudget,
    LatentDecoder,
    LogitsProcessor,
    _top_p_filter,
    check_max_new_tokens,
)
from future_l1.model.interventions import span_budget
from future_l1.model.tokens import LatentIds

log = logging.getLogger(__name__)


def kv_bytes_per_token(text_config, dtype: torch.dtype) -> int:
    """Bytes of K and V per token per row over all layers."""
    head_dim = getattr(text_config, "head_dim", None) or text_config.hidden_size // text_config.num_attention_heads
    elem = torch.finfo(dtype).bits // 8 if dtype.is_floating_point else 4
    return 2 * text_config.num_hidden_layers * text_config.num_key_value_heads * head_dim * elem


def _apply_rotary(q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor):
    """transformers' apply_rotary_pos_emb for Qwen3-VL text (rotate_half convention), written out."""

    def rotate_half(x):
        x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2 :]
        return torch.cat((-x2, x1), dim=-1)

    cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
    return q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin


_RADIX = 1 << 16  # bins per radix level: top_p_keep resolves a 32-bit float key in two levels of 16 bits
_MASS_ONE = 2**48  # probability mass in fixed point: integer sums are exact, so the kept set is reproducible


def _cumsum(x: torch.Tensor, chunk: int) -> torch.Tensor:
    """Inclusive cumsum along the last dim of a 2-D integer tensor as two short scans (within chunks of `chunk`, then
    over the chunks' totals): ATen's scan of a few long rows takes 0.19 ms for 16 x 151,936 on an H100 (issue 27's
    profile), and inductor's split scan of such rows fails to compile (torch 2.11); integer sums are exact, so the
    result is the one long scan's."""
    B, N = x.shape
    pad = -N % chunk
    y = (F.pad(x, (0, pad)) if pad else x).view(B, -1, chunk).cumsum(-1)
    totals = y[..., -1]
    return (y + (totals.cumsum(-1) - totals)[..., None]).view(B, -1)[:, :N]


def top_p_keep(scores: torch.Tensor, top_p: float, probs: torch.Tensor | None = None) -> torch.Tensor:
    """The tokens `decoder._top_p_filter` keeps, as a bool mask [B, V], found without sorting the vocabulary.

    The kept set of the sort-based filter is the smallest prefix of the descending order whose mass reaches `top_p`:
    token x is kept iff the mass of the tokens before it, G(x), is at most `top_p`. Here G is computed by a radix
    select over an order-preserving integer key of each fp32 score: level 1 sums the mass per bin of the key's high
    16 bits (65,536 bins a row; a bf16 logit is exactly one bin) and finds the boundary bin, where the mass above
    reaches `top_p`; level 2 does the same with the low 16 bits inside that bin, which gives the boundary score;
    tokens with a higher score are kept, and of the tokens equal to the boundary score the first ones in index order
    whose G stays within `top_p` (a stable descending sort's order, which torch.sort gives on CUDA). Masses are
    summed in 2^-48 fixed point with integer adds (exact and order-independent, so the set is reproducible although
    the bins are filled by atomic adds on CUDA). The set equals the sort-based one except where G(x) is within fp32
    rounding (~1e-6) of `top_p` (the reference sums an fp32 cumsum over the sorted row) and, with torch.sort's
    unstable CPU sort, at ties of the boundary score. Static shapes, no host sync: capturable in a CUDA graph.

    `probs`: softmax(scores) if already computed (scores must not be NaN; -inf is fine)."""
    B, V = scores.shape
    dev = scores.device
    s = scores.float()
    s = torch.where(s == 0, torch.zeros_like(s), s)  # -0.0 and +0.0 are one value: one key
    p = s.softmax(-1) if probs is None else probs
    q = torch.round(p * _MASS_ONE).to(torch.int64)
    bits = s.view(torch.int32)
    key = bits ^ ((bits >> 31) & 0x7FFFFFFF)  # order-preserving: signed int order == float order
    hi = (key >> 16) + (_RADIX // 2)  # [0, 65536)
    lo = key & (_RADIX - 1)
    limit = round(float(top_p) * _MASS_ONE)
    row = torch.arange(B, device=dev)[:, None] * _RADIX
    # level 1: mass per high-16-bit bin; `incl` = mass at or above each bin
    h1 = torch.zeros(B * _RADIX, dtype=torch.int64, device=dev)
    h1 = h1.scatter_add_(0, (row + hi).reshape(-1), q.reshape(-1)).view(B, _RADIX)
    incl1 = h1.sum(-1, keepdim=True) - _cumsum(h1, 256) + h1
    b = (incl1 > limit).sum(-1, keepdim=True) - 1  # boundary bin; -1: the whole row's mass is within top_p
    keep_all = b < 0
    b = b.clamp(min=0)
    above1 = (incl1 - h1).gather(-1, b)  # mass of the bins above it
    # level 2: inside the boundary bin, mass per low-16-bit value (the other tokens go to a spread scratch area)
    in_bin = hi == b
    scratch = B * _RADIX + (torch.arange(V, device=dev) & (_RADIX - 1))
    h2 = torch.zeros(B * _RADIX + _RADIX, dtype=torch.int64, device=dev)
    h2 = h2.scatter_add_(0, torch.where(in_bin, row + lo, scratch).reshape(-1), q.reshape(-1))
    h2 = h2[: B * _RADIX].view(B, _RADIX)
    incl2 = h2.sum(-1, keepdim=True) - _cumsum(h2, 256) + h2
    v = ((incl2 > limit - above1).sum(-1, keepdim=True) - 1).clamp(min=0)  # the boundary score's low bits
    base = above1 + (incl2 - h2).gather(-1, v)  # mass strictly above the boundary score
    tie = in_bin & (lo == v)
    above = (hi > b) | (in_bin & (lo > v))
    q_tie = torch.where(tie, q, torch.zeros_like(q)).amax(-1, keepdim=True)  # equal scores: equal q
    rank = _cumsum(tie.to(torch.int32), 1024) - 1  # index order among the tied tokens
    return above | (tie & (base + rank * q_tie <= limit)) | keep_all


def top_p_filter_radix(scores: torch.Tensor, top_p: float) -> torch.Tensor:
    """`decoder._top_p_filter` (removed tokens set to -inf) through `top_p_keep`."""
    return scores.masked_fill(~top_p_keep(scores, top_p), float("-inf"))


def sample_choice(scores: torch.Tensor, noise: torch.Tensor, temperature: float, top_p: float | None,
                  logits: torch.Tensor | None = None):  # fmt: skip
    """The fast decoder's sampling step (`sampler="radix"`): (choice [B], logsumexp of logits / T [B] or None).

    choice: the exponential race argmax_x p_x / E_x over the top-p set, E the caller's Exp(1) noise (drawn from the
    session's generator): the draw torch.multinomial makes, from the same distribution as the reference path
    (softmax of the filtered scores / E), whose normaliser does not change the argmax. With the same noise the two
    pick the same token unless two ratios are within fp32 rounding. `logits` (raw): their log-sum-exp at T, from
    which the recorded log-prob of the emitted token is one gather (the reference takes a full log_softmax).
    Written to be compiled with the step (`FastLatentDecoder(compile=True)`): fused, it reads the row a few times."""
    s = scores / temperature
    p = s.softmax(-1)
    if top_p is not None and top_p < 1.0:
        ratio = torch.where(top_p_keep(s, top_p, probs=p), p / noise, torch.full_like(p, -1.0))
    else:
        ratio = p / noise
    lse = torch.logsumexp(logits.float() / temperature, -1) if logits is not None else None
    return _argmax(ratio, 1024), lse


def _argmax(x: torch.Tensor, chunk: int) -> torch.Tensor:
    """argmax along the last dim of a 2-D tensor (the first maximum, as torch.argmax) in two steps, within chunks and
    over the chunks' maxima: compiled, a whole-row argmax is one program per row (16 programs over 151,936 tokens:
    0.18 ms of the 0.41 ms sampler on an H100, issue 27's profile)."""
    B, N = x.shape
    pad = -N % chunk
    y = (F.pad(x, (0, pad), value=float("-inf")) if pad else x).view(B, -1, chunk)
    inner = y.argmax(-1)  # [B, C]
    c = y.amax(-1).argmax(-1, keepdim=True)  # the first chunk holding the row's maximum
    return (c * chunk + inner.gather(-1, c)).squeeze(-1)


def sample_choice_sorted(scores: torch.Tensor, noise: torch.Tensor, temperature: float, top_p: float | None,
                         logits: torch.Tensor | None = None):  # fmt: skip
    """`sample_choice` through the sort-based filter (the reference sampler's operations): the fallback when the
    radix sampler does not compile (eager, the radix select is slower than the sort: many passes over the row)."""
    s = scores / temperature
    if top_p is not None and top_p < 1.0:
        s = _top_p_filter(s, top_p)
    lse = torch.logsumexp(logits.float() / temperature, -1) if logits is not None else None
    return (s.softmax(-1) / noise).argmax(-1), lse


SAMPLERS = ("auto", "reference", "radix")
_LABELS = {"on": False}  # bench/decode_rollout_profile.py: name the phases of an eager step in torch.profiler


def _label(name: str):
    """A torch.profiler range around a phase of the step when a bench turned labels on, else nothing."""
    if not _LABELS["on"]:
        return contextlib.nullcontext()
    return torch.profiler.record_function(name)


ATTENTION = ("matmul", "sdpa", "flex", "reduce")
_WARMUP_STREAMS: dict[int, torch.cuda.Stream] = {}


def _warmup_stream(device: torch.device) -> torch.cuda.Stream:
    """One side stream per device for the warm-up before each graph capture, reused by every session: cuBLAS keeps a
    32 MiB workspace per stream it has run on, so a new stream per capture held 32 MiB more after every RL rollout
    (measured on an H100, `tests/training/test_rl_fast_rollout_gpu.py`)."""
    index = torch.device(device).index
    index = torch.cuda.current_device() if index is None else index
    if index not in _WARMUP_STREAMS:
        _WARMUP_STREAMS[index] = torch.cuda.Stream(device=index)
    return _WARMUP_STREAMS[index]


_COMPILED: dict = {}  # one compiled decode_layer per process, shared by decoders and sessions (dynamo caches shapes)


def _rms(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """Qwen3VLTextRMSNorm.forward, written out (same operations, so fp32 results are identical)."""
    dtype = x.dtype
    x = x.to(torch.float32)
    x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
    return weight * x.to(dtype)


def decode_layer(x, cos, sin, bias, kc, vc, pos, rows, w: tuple, consts: tuple, La: int) -> torch.Tensor:
    """One Qwen3-VL text decoder layer for one token per row over the static cache (the unit that is compiled).

    x [B,1,H]; cos/sin [B,1,D]; bias [B,La] fp32 (0 or -inf); kc/vc [B,Hkv,L,D] (the new K/V are written at column
    `pos` of each row); w: (ln1, qkv, q_norm, k_norm, o, ln2, gate_up, down) weights, where qkv and gate_up are one
    fused matrix each (`fuse_projections`) or the tuples (q, k, v) and (gate, up); consts: (head_dim, kv_heads,
    scaling, eps, attn) where attn is "matmul" (GQA as batched matmuls, softmax in fp32) or "sdpa" (enable_gqa).
    """
    ln1, wqkv, qn, kn, wo, ln2, wgu, wd = w
    hd, hkv, scaling, eps, attn = consts
    B = x.shape[0]
    h = _rms(x, ln1, eps)
    if isinstance(wqkv, tuple):
        q, k, v = (F.linear(h, m) for m in wqkv)
    else:  # one GEMV for q, k and v; the split is a view
        q, k, v = F.linear(h, wqkv).split([wqkv.shape[0] - 2 * hkv * hd, hkv * hd, hkv * hd], dim=-1)
    q = _rms(q.view(B, 1, -1, hd), qn, eps).transpose(1, 2)
    k = _rms(k.view(B, 1, -1, hd), kn, eps).transpose(1, 2)
    v = v.view(B, 1, -1, hd).transpose(1, 2)
    q, k = _apply_rotary(q, k, cos, sin)
    kc[rows, :, pos] = k[:, :, 0]
    vc[rows, :, pos] = v[:, :, 0]
    K, V = kc[:, :, :La], vc[:, :, :La]
    if attn == "sdpa":
        o = F.scaled_dot_product_attention(q, K, V, attn_mask=bias[:, None, None].to(q.dtype), scale=scaling,
                                           enable_gqa=True)  # fmt: skip
    elif attn == "flex":  # FlexAttention's decoding kernel when compiled; the additive mask as a score_mod
        from torch.nn.attention.flex_attention import flex_attention

        def score_mod(score, b, h, q_idx, kv_idx):
            return score + bias[b, kv_idx]

        o = flex_attention(q, K, V, score_mod=score_mod, scale=scaling, enable_gqa=True)
    elif attn == "reduce":  # products and sums that inductor fuses into reductions reading K and V once
        qg = q.reshape(B, hkv, -1, 1, hd).float()  # [B,Hkv,G,1,D]
        s = (qg * K[:, :, None].float()).sum(-1) * scaling + bias[:, None, None]  # [B,Hkv,G,La]
        o = (s.softmax(-1)[..., None] * V[:, :, None].float()).sum(-2).to(q.dtype)  # [B,Hkv,G,D]
    else:
        qg = q.reshape(B, hkv, -1, hd)  # [B,Hkv,G,D]: grouped-query attention without repeating K/V heads
        s = torch.matmul(qg, K.transpose(-1, -2)).float() * scaling + bias[:, None, None]
        o = torch.matmul(s.softmax(-1).to(V.dtype), V)
    x = x + F.linear(o.reshape(B, 1, -1), wo)
    h = _rms(x, ln2, eps)
    if isinstance(wgu, tuple):
        gate, up = (F.linear(h, m) for m in wgu)
    else:  # one GEMV for gate and up
        gate, up = F.linear(h, wgu).chunk(2, dim=-1)
    return x + F.linear(F.silu(gate) * up, wd)


def _fused(modules: Sequence[torch.nn.Linear], owner: torch.nn.Module, name: str) -> torch.Tensor:
    """The weights of `modules` (bias-free linears of one layer) as one matrix stacked along the output dimension.

    The matrix is built once and the modules' weights become row slices (views) of it, so the fused and the
    separate forms share memory (no copy stays behind) and any later in-place update of either is seen by both.
    `owner` keeps the matrix (a plain attribute: not in the state dict); a model moved or reloaded since (its weights
    no longer views of the kept matrix) is fused again. transformers saves such disjoint views as separate tensors.
    """
    kept = getattr(owner, name, None)
    if kept is not None:
        start = 0
        fits = True
        for m in modules:
            rows = m.weight.shape[0]
            fits = (
                fits
                and m.weight.data_ptr() == kept[start : start + rows].data_ptr()
                and m.weight.shape[1:] == kept.shape[1:]
            )
            start += rows
        if fits and start == kept.shape[0]:
            return kept
    if any(m.bias is not None for m in modules):
        raise ValueError(f"{name}: fusing needs bias-free projections")
    with torch.inference_mode(False), torch.no_grad():
        fused = torch.cat([m.weight.detach() for m in modules], dim=0)
        start = 0
        for m in modules:
            rows = m.weight.shape[0]
            m.weight = torch.nn.Parameter(fused[start : start + rows], requires_grad=m.weight.requires_grad)
            start += rows
    setattr(owner, name, fused)
    return fused


def fuse_projections(layer) -> tuple[torch.Tensor, torch.Tensor]:
    """(q|k|v, gate|up) of one Qwen3-VL text layer as two fused matrices (see `_fused`)."""
    attn, mlp = layer.self_attn, layer.mlp
    qkv = _fused([attn.q_proj, attn.k_proj, attn.v_proj], attn, "_future_l1_qkv")
    gate_up = _fused([mlp.gate_proj, mlp.up_proj], mlp, "_future_l1_gate_up")
    return qkv, gate_up


@dataclass
class _Row:
    """Host-side bookkeeping of one occupied slot."""

    key: object
    prompt_len: int
    joined_at: int  # session step at admission
    started: float
    checked: int = 0  # generated steps already tested for stop strings
    stop_len: int | None = None


@dataclass
class SessionResult:
    key: object
    output: DecodeOutput
    prompt_tokens: int
    latency_s: float
    extra: dict = field(default_factory=dict)


class DecodeSession:
    """Fixed slots of decoding state on the device; rows are admitted (prefilled) and leave when finished."""

    def __init__(self, decoder: FastLatentDecoder, slots: int, max_len: int, settings: GenerationSettings,
                 logits_processor: LogitsProcessor | None = None):  # fmt: skip
        self.dec = decoder
        self.settings = settings
        self.processor = logits_processor
        self.graph_processor = logits_processor is not None and hasattr(logits_processor, "graph_call")
        model = decoder.model
        tc = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config.text_config
        dev, dtype = decoder.device, model.lm_head.weight.dtype
        self.device, self.dtype = dev, dtype
        self.slots, self.max_new = int(slots), check_max_new_tokens(settings.max_new_tokens, model)
        self.L = int(max_len)
        self.kv_heads = tc.num_key_value_heads
        self.head_dim = getattr(tc, "head_dim", None) or tc.hidden_size // tc.num_attention_heads
        hidden = tc.hidden_size
        n_layers = tc.num_hidden_layers
        B = self.slots
        shape = (B, self.kv_heads, self.L, self.head_dim)
        self.k_cache = [torch.zeros(shape, dtype=dtype, device=dev) for _ in range(n_layers)]
        self.v_cache = [torch.zeros(shape, dtype=dtype, device=dev) for _ in range(n_layers)]
        self.kv_valid = torch.zeros(B, self.L, dtype=torch.bool, device=dev)
        long = dict(dtype=torch.long, device=dev)
        self.arange = torch.arange(B, **long)
        # choice-side state
        self.hidden = torch.zeros(B, hidden, dtype=dtype, device=dev)
        self.logits = torch.zeros(B, model.lm_head.weight.shape[0], dtype=dtype, device=dev)
        self.last_token = torch.zeros(B, **long)
        self.in_latent = torch.zeros(B, dtype=torch.bool, device=dev)
        self.span_len = torch.zeros(B, **long)
        self.finished = torch.ones(B, dtype=torch.bool, device=dev)  # empty slots count as finished
        self.eos_hit = torch.zeros(B, dtype=torch.bool, device=dev)
        self.n_gen = torch.zeros(B, **long)
        self.prompt_len = torch.zeros(B, **long)
        self.rope_delta = torch.zeros(B, **long)
        self.generated = torch.full((B, self.max_new), decoder.pad_token_id, **long)
        self.latent_flags = torch.zeros(B, self.max_new, dtype=torch.bool, device=dev)
        self.lat_store = (torch.zeros(B, self.max_new, hidden, dtype=torch.float32, device=dev)
                          if settings.return_latents else None)  # fmt: skip
        self.logprob_store = (torch.zeros(B, self.max_new, dtype=torch.float32, device=dev)
                              if getattr(settings, "return_logprobs", False) else None)  # fmt: skip
        # forward-side inputs, written by the choice phase
        self.tok_in = torch.zeros(B, **long)
        self.lat_in = torch.zeros(B, hidden, dtype=dtype, device=dev)
        self.lat_row = torch.zeros(B, dtype=torch.bool, device=dev)
        self.pos_in = torch.zeros(B, **long)  # text position == cache column of the step's input
        self.eos = torch.tensor(decoder.eos_token_ids, **long)
        self.all_true = torch.ones(B, dtype=torch.bool, device=dev)
        # latent intervention (issue 29): its run state is made here, before any graph capture holds its addresses
        self.intervention = settings.intervention
        self.cap, self.fixed = span_budget(decoder.budget.cap, decoder.budget.fixed, self.intervention)
        if self.intervention is not None:
            fed = decoder.feedback(self.hidden[:1])  # the head's output dtype and width
            self.intervention.state(dev, fed.shape[-1], fed.dtype)
        self.generator = None
        if settings.sampling:
            self.generator = torch.Generator(device=dev)
            self.generator.manual_seed(settings.seed if settings.seed is not None else 0)
        self.rows: dict[int, _Row] = {}
        self.step_count = 0
        self.graphs: dict[int, torch.cuda.CUDAGraph] = {}
        self.graph_pool = None
        self.capture_s = 0.0
        self.prefill_s = 0.0  # wall time of admissions (prefill and cache copy; admit ends with a device sync)
        self.prefill_rows = 0
        self.prefill_tokens = 0
        self.use_graphs = decoder.use_graphs and dev.type == "cuda"
        self.sampler = decoder.sampler if decoder.sampler != "auto" else ("radix" if decoder.compile else "reference")
        self.split = self.processor is not None and not self.graph_processor
        self.mutable = [self.hidden, self.logits, self.last_token, self.in_latent, self.span_len, self.finished,
                        self.eos_hit, self.n_gen, self.tok_in, self.lat_in, self.lat_row, self.pos_in]  # fmt: skip

    # -- occupancy ------------------------------------------------------------------------------------------------
    def free_slots(self) -> list[int]:
        return [s for s in range(self.slots) if s not in self.rows]

    @property
    def active(self) -> int:
        return len(self.rows)

    @torch.inference_mode()
    def admit(self, batch: Mapping[str, torch.Tensor], keys: Sequence[object], slots: Sequence[int] | None = None):
        """Prefill a left-padded batch and place its rows into free slots (all of them start at the next step)."""
        dec, dev = self.dec, self.device
        n = batch["input_ids"].shape[0]
        slots = list(slots) if slots is not None else self.free_slots()[:n]
        if len(slots) != n or len(keys) != n or any(s in self.rows for s in slots):
            raise ValueError("admit needs one free slot and one key per row")
        started = time.perf_counter()
        batch = {k: (v.to(dev) if isinstance(v, torch.Tensor) else v) for k, v in batch.items()}
        hidden, logits, cache, _, deltas = dec.prefill(batch)
        mask = batch["attention_mask"]
        plen = mask.sum(-1)
        plist = plen.tolist()
        if max(plist) + self.max_new > self.L and self.dec.kv_bucket:
            b = self.dec.kv_bucket
            self.grow(int(math.ceil((max(plist) + self.max_new) / b) * b))
        if max(plist) + self.max_new > self.L:
            raise ValueError(f"prompt of {max(plist)} tokens + {self.max_new} new tokens exceeds the cache ({self.L})")
        width = mask.shape[1]
        layers = cache.layers if hasattr(cache, "layers") else None
        idx = torch.tensor(slots, device=dev)
        for layer in range(len(self.k_cache)):
            if layers is not None:
                k, v = layers[layer].keys, layers[layer].values
            else:  # older caches
                k, v = cache.key_cache[layer], cache.value_cache[layer]
            for i, s in enumerate(slots):  # left padding: the valid tokens are the last plen of each row
                p = plist[i]
                self.k_cache[layer][s, :, :p] = k[i, :, width - p :]
                self.v_cache[layer][s, :, :p] = v[i, :, width - p :]
        del cache
        self.kv_valid[idx] = False
        for i, s in enumerate(slots):
            self.kv_valid[s, : plist[i]] = True
        self.hidden[idx] = hidden.to(self.dtype)
        self.logits[idx] = logits.to(self.dtype)
        self.last_token[idx] = batch["input_ids"][:, -1]
        self.in_latent[idx] = False
        self.span_len[idx] = 0
        self.finished[idx] = False
        self.eos_hit[idx] = False
        self.n_gen[idx] = 0
        self.prompt_len[idx] = plen.to(torch.long)
        self.rope_delta[idx] = deltas.to(torch.long)
        self.generated[idx] = dec.pad_token_id
        self.latent_flags[idx] = False
        for i, s in enumerate(slots):
            self.rows[s] = _Row(keys[i], plist[i], self.step_count, started)
        self.prefill_s += time.perf_counter() - started
        self.prefill_rows += n
        self.prefill_tokens += int(sum(plist))

    @torch.inference_mode()
    def admit_copy(self, src: int, slots: Sequence[int], keys: Sequence[object]) -> None:
        """Place copies of the row in slot `src` (admitted at this step) into free slots, without another prefill
        (benches: a large batch of one prompt)."""
        if src not in self.rows or self.rows[src].joined_at != self.step_count:
            raise ValueError("admit_copy copies a row admitted at the current step")
        idx = torch.tensor(list(slots), device=self.device)
        for kc, vc in zip(self.k_cache, self.v_cache, strict=True):
            kc[idx] = kc[src].clone()
            vc[idx] = vc[src].clone()
        for t in (self.kv_valid, self.generated, self.latent_flags, *self.mutable, self.prompt_len, self.rope_delta):
            t[idx] = t[src].clone()
        r = self.rows[src]
        for s, key in zip(slots, keys, strict=True):
            self.rows[s] = _Row(key, r.prompt_len, r.joined_at, r.started)

    def grow(self, max_len: int) -> None:
        """Enlarge the cache to `max_len` columns (a longer prompt arrived); captured graphs are dropped. All new
        tensors are allocated before any is swapped in, so an out-of-memory error leaves the session as it was."""
        if max_len <= self.L:
            return
        grown = [[torch.zeros((*c.shape[:2], max_len, c.shape[3]), dtype=c.dtype, device=c.device) for c in caches]
                 for caches in (self.k_cache, self.v_cache)]  # fmt: skip
        valid = torch.zeros(self.slots, max_len, dtype=torch.bool, device=self.device)
        for caches, new in zip((self.k_cache, self.v_cache), grown, strict=True):
            for i, c in enumerate(caches):
                new[i][:, :, : self.L] = c
                caches[i] = new[i]
        valid[:, : self.L] = self.kv_valid
        self.kv_valid, self.L = valid, int(max_len)
        self.graphs.clear()
        self.graph_pool = None

    def memory_bytes(self) -> int:
        """Bytes held by this session's cache and state (the per-row figure is this over `slots`)."""
        tensors = [*self.k_cache, *self.v_cache, self.kv_valid, self.generated, self.latent_flags, *self.mutable]
        tensors += [t for t in (self.lat_store, self.logprob_store) if t is not None]
        return sum(t.numel() * t.element_size() for t in tensors)

    # -- the step -------------------------------------------------------------------------------------------------
    def _choose(self, scores: torch.Tensor) -> None:
        """Phase 1 (device only): pick the token, run the span state machine, record, prepare the forward inputs."""
        dec, st = self.dec, self.settings
        feed = dec.feedback(self.hidden)
        lse = None  # log-sum-exp of the raw logits / T, when the radix sampler computed it
        if st.sampling and self.sampler == "radix":
            with _label("sample (radix top-p, race, log-sum-exp)"):
                noise = torch.empty_like(scores).exponential_(generator=self.generator)
                choice, lse = dec.sampler_fn()(scores, noise, max(st.temperature, 1e-6), st.top_p,
                                               self.logits if self.logprob_store is not None else None)  # fmt: skip
        elif st.sampling:
            scores = scores / max(st.temperature, 1e-6)
            if st.top_p is not None and st.top_p < 1.0:
                with _label("top-p (sort)"):
                    scores = _top_p_filter(scores, st.top_p)
            with _label("sample (race)"):
                noise = torch.empty_like(scores).exponential_(generator=self.generator)
                choice = (scores.softmax(-1) / noise).argmax(-1)
        else:
            choice = scores.argmax(-1)
        token = choice
        emit = torch.zeros_like(self.in_latent)
        ids = dec.latent_ids
        if st.latent and ids is not None:
            entering = (self.last_token == ids.start) & ~self.in_latent
            active = self.in_latent | entering
            span_len = torch.where(entering, torch.zeros_like(self.span_len), self.span_len)
            end = active & (span_len >= self.cap)
            if not self.fixed:
                end = end | (active & (choice == ids.end))
            emit = active & ~end
            token = torch.where(emit, torch.full_like(choice, ids.latent), token)
            token = torch.where(end, torch.full_like(choice, ids.end), token)
            self.span_len.copy_(span_len + emit.long())
            self.in_latent.copy_(emit)
        done = self.finished
        token = torch.where(done, torch.full_like(token, dec.pad_token_id), token)
        emit = emit & ~done
        t = self.n_gen.clamp(max=self.max_new - 1)
        if self.intervention is not None and st.latent and ids is not None:
            feed = self.intervention.apply(feed, emit, ~done, t, self.prompt_len)
        self.generated[self.arange, t] = torch.where(done, self.generated[self.arange, t], token)
        self.latent_flags[self.arange, t] = torch.where(done, self.latent_flags[self.arange, t], emit)
        if self.lat_store is not None:
            self.lat_store[self.arange, t] = torch.where(done[:, None], self.lat_store[self.arange, t], feed.float())
        if self.logprob_store is not None:  # as the eager loop: raw logits / temperature, before top-p
            temp = max(st.temperature, 1e-6) if st.sampling else 1.0
            with _label("log-prob"):
                if lse is not None:  # the same quantity from the sampler's log-sum-exp: one gather, not a pass
                    logp = self.logits.gather(1, token[:, None]).squeeze(1).float() / temp - lse
                else:
                    logp = (self.logits.float() / temp).log_softmax(-1).gather(1, token[:, None]).squeeze(1)
            self.logprob_store[self.arange, t] = torch.where(done, self.logprob_store[self.arange, t], logp)
        newly = ~done & ~emit & torch.isin(token, self.eos)
        self.eos_hit.copy_(self.eos_hit | newly)
        live = ~done
        self.n_gen.copy_(self.n_gen + live.long())
        self.finished.copy_(done | newly | (self.n_gen >= self.max_new))
        # forward inputs: the step's input sits at text position / cache column prompt_len + t
        self.tok_in.copy_(token)
        self.lat_in.copy_(feed.to(self.dtype))
        self.lat_row.copy_(emit)
        self.last_token.copy_(token)
        self.pos_in.copy_((self.prompt_len + t).clamp(max=self.L - 1))

    def _forward(self, La: int) -> None:
        """Phase 2 (device only): one token per slot through the language model over the static cache."""
        dec = self.dec
        lm = dec.model.model.language_model
        B = self.slots
        embeds = lm.embed_tokens(self.tok_in)
        x = torch.where(self.lat_row[:, None], self.lat_in.to(embeds.dtype), embeds)[:, None]  # [B,1,H]
        pos3 = (self.pos_in + self.rope_delta)[None, :, None].expand(3, B, 1)
        cos, sin = lm.rotary_emb(x, pos3)
        self.kv_valid.index_put_((self.arange, self.pos_in), self.all_true)  # a device tensor: graph-safe
        valid = self.kv_valid[:, :La]
        bias = torch.zeros(valid.shape, dtype=torch.float32, device=x.device).masked_fill(~valid, float("-inf"))
        layer_fn = dec.compiled_layer()
        with _label("layers"):
            for i in range(len(lm.layers)):
                x = layer_fn(x, cos, sin, bias, self.k_cache[i], self.v_cache[i], self.pos_in, self.arange,
                             dec.layer_weights[i], dec.layer_consts, La)  # fmt: skip
        with _label("lm_head"):
            h = lm.norm(x)[:, 0]
            self.hidden.copy_(h)
            self.logits.copy_(dec.model.lm_head(h))

    def _scores(self) -> torch.Tensor:
        with _label("processor"):
            scores = self.logits.float()
            if self.graph_processor:
                scores = self.processor.graph_call(self.n_gen, scores)
        return scores

    def _body(self, La: int) -> None:
        with _label("choose"):
            self._choose(self._scores())
        with _label("forward"):
            self._forward(La)

    def _bucket(self) -> int:
        """Cache columns the next forward must attend: the longest live row, rounded up to kv_bucket."""
        need = max((r.prompt_len + (self.step_count - r.joined_at) + 1 for r in self.rows.values()), default=1)
        b = self.dec.kv_bucket
        return self.L if not b else min(self.L, int(math.ceil(need / b) * b))

    def _replay(self, La: int) -> None:
        fn = self._forward if self.split else self._body
        if not self.use_graphs:
            fn(La)
            return
        graph = self.graphs.get(La)
        if graph is None:
            t0 = time.perf_counter()
            state = self.mutable + (self.intervention.mutable() if self.intervention is not None else [])
            saved = [t.clone() for t in state]
            side = _warmup_stream(self.logits.device)
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                fn(La)  # warm-up (also triggers compilation)
            torch.cuda.current_stream().wait_stream(side)
            for t, s in zip(state, saved, strict=True):
                t.copy_(s)
            graph = torch.cuda.CUDAGraph()
            if self.generator is not None and hasattr(graph, "register_generator_state"):
                graph.register_generator_state(self.generator)
            try:
                with torch.cuda.graph(graph, pool=self.graph_pool):
                    fn(La)
            except BaseException:  # e.g. out of memory during capture: no half-captured graph is kept or replayed
                for t, s in zip(state, saved, strict=True):
                    t.copy_(s)
                raise
            self.graph_pool = graph.pool()
            self.graphs[La] = graph
            torch.cuda.synchronize()
            self.capture_s += time.perf_counter() - t0
        graph.replay()

    @torch.inference_mode()
    def step(self) -> None:
        La = self._bucket()
        if self.split:
            scores = self.logits.float().clone()  # the processor's edits must not reach the raw logits
            groups: dict[int, list[int]] = {}
            for s, r in self.rows.items():
                groups.setdefault(self.step_count - r.joined_at, []).append(s)
            for t, members in groups.items():
                idx = torch.tensor(members, device=self.device)
                scores[idx] = self.processor(self.generated[idx, :t], scores[idx])
            self._choose(scores)
        self._replay(La)
        self.step_count += 1

    # -- polling --------------------------------------------------------------------------------------------------
    @torch.inference_mode()
    def poll(self) -> list[SessionResult]:
        """Sync with the device: apply stop strings, return finished rows and free their slots."""
        if not self.rows:
            return []
        dec = self.dec
        stops = [s for s in self.settings.stop if s]
        finished = self.finished.tolist()
        n_gen = self.n_gen.tolist()
        eos_hit = self.eos_hit.tolist()
        if stops:
            window = max(len(s) for s in stops) + 8
            gen_cpu = None
            for s, r in self.rows.items():
                if r.stop_len is not None:
                    continue
                n = n_gen[s]
                if n <= r.checked:
                    continue
                if gen_cpu is None:
                    gen_cpu = self.generated.cpu()
                row = gen_cpu[s]
                for t in range(r.checked + 1, n + 1):
                    if eos_hit[s] and t == n:  # the EOS step is not tested, as in the eager loop
                        break
                    if dec._has_stop(row[max(0, t - window) : t], stops):
                        r.stop_len = t
                        break
                r.checked = n
            hit = [s for s, r in self.rows.items() if r.stop_len is not None and not finished[s]]
            if hit:
                self.finished[torch.tensor(hit, device=self.device)] = True
                for s in hit:
                    finished[s] = True
        done = [s for s in self.rows if finished[s]]
        if not done:
            return []
        now = time.perf_counter()
        idx = torch.tensor(done, device=self.device)
        gen = self.generated[idx].cpu()
        flags = self.latent_flags[idx].cpu()
        lat = self.lat_store[idx].cpu() if self.lat_store is not None else None
        logp_rows = self.logprob_store[idx].cpu().tolist() if self.logprob_store is not None else None
        results = []
        for j, s in enumerate(done):
            r = self.rows.pop(s)
            if r.stop_len is not None:  # found before any EOS (the scan stops at the EOS step)
                n, reason = r.stop_len, "stop"
            else:
                n, reason = n_gen[s], "eos" if eos_hit[s] else "length"
            out = dec._collect(gen[j : j + 1, :n], flags[j : j + 1, :n], lat[j : j + 1, :n] if lat is not None else None,
                               [reason], [n], stops)[0]  # fmt: skip
            if self.logprob_store is not None:
                out.logprobs = logp_rows[j][:n]
            out.extra["latency_s"] = now - r.started
            results.append(SessionResult(r.key, out, r.prompt_len, now - r.started))
        return results

    @torch.inference_mode()
    def run(self, max_steps: int | None = None) -> list[SessionResult]:
        """Decode until at least one row finishes (or max_steps), polling every poll_every steps."""
        results: list[SessionResult] = []
        steps = 0
        while self.rows and not results:
            for _ in range(self.dec.poll_every):
                self.step()
                steps += 1
            results = self.poll()
            if max_steps is not None and steps >= max_steps:
                break
        return results


class FastLatentDecoder(LatentDecoder):
    """`LatentDecoder` with a static KV cache and a captured decode step (see the module docstring)."""

    def __init__(self, model, tokenizer, latent_ids: LatentIds | None, budget: LatentBudget,
                 head: torch.nn.Module | None = None, eos_token_ids: Sequence[int] | None = None, *,
                 use_graphs: bool | None = None, compile: bool = False, attn: str = "matmul", kv_bucket: int = 256,
                 poll_every: int = 16, prefill_rows: int = 8, prefill_tokens: int = 16384,
                 fuse: bool | str = True, sampler: str = "auto"):  # fmt: skip
        super().__init__(model, tokenizer, latent_ids, budget, head=head, eos_token_ids=eos_token_ids)
        if attn not in ATTENTION:
            raise ValueError(f"attn must be one of {ATTENTION}")
        if sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {SAMPLERS}")
        if fuse not in (True, False, "copy"):
            raise ValueError("fuse must be True, False or 'copy'")
        self.sampler = sampler
        self.use_graphs = torch.cuda.is_available() if use_graphs is None else bool(use_graphs)
        self.compile = bool(compile)
        self.attn = attn
        self.kv_bucket = int(kv_bucket)
        self.poll_every = int(poll_every)
        self.prefill_rows = int(prefill_rows)
        self.prefill_tokens = int(prefill_tokens)
        self.last_session: DecodeSession | None = None  # set by model.continuous (benches read it)
        self.last_stats = None  # model.continuous.ScheduleStats of the last continuous_decode
        lm = model.model.language_model
        tc = lm.config
        if getattr(tc, "hidden_act", "silu") != "silu":
            raise ValueError("the fast decoder implements the SiLU MLP of Qwen3-VL")
        self.fuse = fuse
        self.layer_weights = []
        for L in lm.layers:
            a, m = L.self_attn, L.mlp
            if fuse == "copy":  # fused copies; the modules keep their own Parameters (RL: the optimiser holds them)
                with torch.no_grad():
                    qkv = torch.cat([a.q_proj.weight, a.k_proj.weight, a.v_proj.weight]).detach()
                    gate_up = torch.cat([m.gate_proj.weight, m.up_proj.weight]).detach()
            elif fuse:
                qkv, gate_up = fuse_projections(L)
            else:
                qkv, gate_up = (
                    (a.q_proj.weight, a.k_proj.weight, a.v_proj.weight),
                    (m.gate_proj.weight, m.up_proj.weight),
                )
            self.layer_weights.append((L.input_layernorm.weight, qkv, a.q_norm.weight, a.k_norm.weight,
                                       a.o_proj.weight, L.post_attention_layernorm.weight, gate_up,
                                       m.down_proj.weight))  # fmt: skip
        first = lm.layers[0]
        self.layer_consts = (first.self_attn.head_dim, tc.num_key_value_heads, first.self_attn.scaling,
                             first.input_layernorm.variance_epsilon, attn)  # fmt: skip

    def compiled_layer(self):
        """`decode_layer`, compiled once per shape when `compile=True` (the 36 layers share one compiled graph)."""
        if not self.compile:
            return decode_layer
        if "layer" not in _COMPILED:
            import torch._dynamo

            torch._dynamo.config.cache_size_limit = max(64, torch._dynamo.config.cache_size_limit)
            _COMPILED["layer"] = torch.compile(decode_layer, dynamic=False, fullgraph=True)
        return _COMPILED["layer"]

    def sampler_fn(self):
        """`sample_choice`, compiled once per process when `compile=True` (one compiled graph per settings)."""
        if not self.compile:
            return sample_choice
        if "sample" not in _COMPILED:
            compiled = torch.compile(sample_choice, dynamic=False, fullgraph=True)

            def sample(*args):
                fn = _COMPILED.get("sample_fallback") or compiled
                try:
                    return fn(*args)
                except Exception as exc:  # first called at a warm-up, outside any capture
                    if fn is not compiled or torch.cuda.is_current_stream_capturing():
                        raise
                    log.warning("future_l1 fast decoder: the sampler did not compile (%s: %s); the sort-based "
                                "sampler runs instead", type(exc).__name__, str(exc).splitlines()[0][:200])  # fmt: skip
                    _COMPILED["sample_fallback"] = sample_choice_sorted
                    return sample_choice_sorted(*args)

            _COMPILED["sample"] = sample
        return _COMPILED["sample"]

    @torch.inference_mode()
    def session(self, slots: int, max_len: int, settings: GenerationSettings | None = None,
                logits_processor: LogitsProcessor | None = None) -> DecodeSession:  # fmt: skip
        return DecodeSession(self, slots, max_len, settings or GenerationSettings(), logits_processor)

    @torch.inference_mode()
    def generate(self, batch: Mapping[str, torch.Tensor], settings: GenerationSettings | None = None,
                 logits_processor: LogitsProcessor | None = None) -> list[DecodeOutput]:  # fmt: skip
        settings = settings or GenerationSettings()
        bsz = batch["input_ids"].shape[0]
        prompt = int(batch["attention_mask"].sum(-1).max())
        length = prompt + int(settings.max_new_tokens)
        if self.kv_bucket:
            length = int(math.ceil(length / self.kv_bucket) * self.kv_bucket)
        sess = self.session(bsz, length, settings, logits_processor)
        sess.admit(batch, list(range(bsz)))  # one prefill of the whole batch, as the eager loop
        outputs: list[DecodeOutput | None] = [None] * bsz
        while sess.rows:
            for r in sess.run():
                outputs[r.key] = r.output
        return outputs  # type: ignore[return-value]
