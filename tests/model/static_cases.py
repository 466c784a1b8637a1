"""Shared cases for the fast decoder tests: bench-shaped tiny inputs (no processor files needed, so the same cases run
on the device machine), a fake tokenizer, left-padded collation of rows with different prompt lengths, and forcers.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

BENCH = Path(__file__).resolve().parents[2] / "bench" / "decode.py"


def bench_module():
    spec = importlib.util.spec_from_file_location("bench_decode_cases", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeTokenizer:
    """One character per id, so stop strings made of decoded tokens are found exactly where they were emitted."""

    pad_token_id, eos_token_id = 151643, 151645

    def decode(self, ids, skip_special_tokens=False):
        return "".join(chr(0x4E00 + int(i) % 20000) for i in ids)


def sharp_tiny(bench, seed: int = 0):
    from transformers import Qwen3VLForConditionalGeneration

    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = Qwen3VLForConditionalGeneration(bench.build_config(tiny=True)).eval()
    with torch.no_grad():  # decisive argmax: any slip changes tokens instead of vanishing in a flat distribution
        for name, p in model.model.language_model.named_parameters():
            if p.ndim == 2 and "embed" not in name:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.2)
        model.get_input_embeddings().weight.mul_(20)
    return model


def rows_batch(bench, frames: list[int], device, dtype, seeds=None) -> list[dict]:
    seeds = seeds or list(range(len(frames)))
    return [
        bench.build_inputs(1, frames=f, size=64, device=device, dtype=dtype, seed=s)
        for f, s in zip(frames, seeds, strict=True)
    ]


def collate_rows(bench, rows: list[dict]) -> dict:
    """Left-pad single-row inputs of different lengths into one batch (the processor's layout)."""
    width = max(r["input_ids"].shape[1] for r in rows)

    def pad(t, value):
        return torch.nn.functional.pad(t, (width - t.shape[1], 0), value=value)

    return {
        "input_ids": torch.cat([pad(r["input_ids"], bench.PAD) for r in rows]),
        "attention_mask": torch.cat([pad(r["attention_mask"], 0) for r in rows]),
        "mm_token_type_ids": torch.cat([pad(r["mm_token_type_ids"], 0) for r in rows]),
        "pixel_values_videos": torch.cat([r["pixel_values_videos"] for r in rows]),
        "video_grid_thw": torch.cat([r["video_grid_thw"] for r in rows]),
    }


class StepForcer:
    """Forces `<|latent_start|>` when a row has generated n ≡ 1 (mod every) tokens, biases `<|latent_end|>` after
    `end_after` latents (n ≡ 1 + 1 + end_after), and EOS once n ≥ eos_at. Usable by both decoders: `__call__` is the
    eager processor (ids so far), `graph_call` the device-only form the fast path captures."""

    def __init__(self, bench, every: int = 7, end_after: int | None = None, eos_at: int | None = None):
        self.start, self.end, self.eos = bench.LATENT_START, bench.LATENT_END, bench.IM_END
        self.every, self.end_after, self.eos_at = every, end_after, eos_at

    def graph_call(self, n: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        scores = scores.clone()
        scores[:, self.start] += 1e4 * (n % self.every == 1).float()
        if self.end_after is not None:
            scores[:, self.end] += 1e4 * ((n % self.every) == (2 + self.end_after) % self.every).float()
        if self.eos_at is not None:
            scores[:, self.eos] += 1e4 * (n >= self.eos_at).float()
        return scores

    def __call__(self, generated: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        n = torch.full((scores.shape[0],), generated.shape[1], device=scores.device)
        return self.graph_call(n, scores)


class SplitForcer(StepForcer):
    """The same forcing without `graph_call`: the fast path must run it eagerly (split mode)."""

    def __call__(self, generated, scores):
        n = torch.full((scores.shape[0],), generated.shape[1], device=scores.device)
        return StepForcer.graph_call(self, n, scores)

    def __getattribute__(self, name):
        if name == "graph_call":
            raise AttributeError(name)
        return super().__getattribute__(name)
