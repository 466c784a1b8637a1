"""Latent diagnostics (issue 29): what a model's fed-back vectors look like, from the files `save_latents=DIR` wrote
(no forward pass of the language model). Per sample: the span count and the mean span length; per fed-back vector
its norm; the cosine between consecutive latent steps of a span; and the cosine between a span's last latent and the
input embedding of the first text token after the span's `<|latent_end|>` (`next_embeds` in the file, saved by the
adapter; older files lack it and the figure is left out). Averaged per split (FutureBench hop1-3 / interp,
TwiFF-Bench category, and "all").

Where the task has true future frames (`tasks.future_frames`: TwiFF-Bench's reasoning images, the demo and toy
sets' future clips), also the cosine between each latent step and the future frame's embedding it would be trained
toward: span j against future frame j, step i against that frame's merged token i, as latent SFT pairs them
(`training.latent_loss.future_frame_embeddings`, SFT's own target: the frozen vision encoder, once per sample).
Samples without future frames have no value (the metric is absent, "n/a" in the table, never 0); a sample whose
future frames cannot be read counts in `future_frame_errors` and the others go on.
"""

from __future__ import annotations

import re
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from future_l1.reports.formats import md_text

_FILE = re.compile(r"^(?P<task>.+?)__(?P<split>.+?)__(?P<doc>\d+)__rank\d+\.npz$")
METRICS = ("samples", "spans_per_sample", "span_length", "latent_norm", "cos_consecutive", "cos_last_next_token",
           "cos_future_frame")  # fmt: skip
FUTURE_ERRORS = "future_frame_errors"  # samples whose future frames could not be read or encoded
FutureTargets = Callable[[int], "list[np.ndarray] | None"]  # doc_id -> per future frame its (tokens, d) target


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    num = (a * b).sum(-1)
    den = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def sample_diagnostics(latents: np.ndarray, spans: np.ndarray, next_embeds: np.ndarray | None,
                       future: list[np.ndarray] | None = None) -> dict[str, list]:  # fmt: skip
    """Per-sample values (lists: one entry per sample, vector or span as the metric counts). `future`: per future
    frame its (tokens, d) embedding, or None when the sample has none."""
    latents = np.asarray(latents, dtype=np.float64).reshape(-1, latents.shape[-1] if latents.ndim == 2 else 1)
    spans = [int(n) for n in np.asarray(spans).ravel()]
    out: dict[str, list] = {"spans_per_sample": [len(spans)], "span_length": spans, "latent_norm": [],
                            "cos_consecutive": [], "cos_last_next_token": [], "cos_future_frame": []}  # fmt: skip
    if len(latents) and latents.shape[-1] > 1:
        out["latent_norm"] = np.linalg.norm(latents, axis=-1).tolist()
    start = 0
    for i, n in enumerate(spans):
        block = latents[start : start + n]
        start += n
        if len(block) >= 2:
            out["cos_consecutive"] += _cos(block[1:], block[:-1]).tolist()
        if len(block) and next_embeds is not None and i < len(next_embeds):
            nxt = np.asarray(next_embeds[i], dtype=np.float64)
            if nxt.shape == block[-1].shape and np.isfinite(nxt).all():
                out["cos_last_next_token"].append(float(_cos(block[-1], nxt)))
        if future is not None and i < len(future) and len(block):
            # step k against merged token k, the pairing of latent SFT's loss; a span longer or shorter than the
            # frame's token count is scored on the steps both have
            target = np.asarray(future[i], dtype=np.float64).reshape(-1, block.shape[-1])
            k = min(len(block), len(target))
            out["cos_future_frame"] += _cos(block[:k], target[:k]).tolist()
    return out


def _future_of(future_targets: FutureTargets | None, doc: int, path: Path) -> tuple[list[np.ndarray] | None, bool]:
    """(the sample's future-frame targets or None, whether reading them failed). A failure is reported and counted,
    never fatal: one broken clip must not cost the run its other diagnostics."""
    if future_targets is None:
        return None, False
    try:
        return future_targets(doc), False
    except Exception as exc:  # a missing or corrupt future clip or image, or an encoder error on it
        print(f"warning: future frames of {path.name} left out: {type(exc).__name__}: {exc}"[:500], file=sys.stderr)
        return None, True


def diagnostics(latent_dir: Path, task: str, split_of: dict[int, str] | None = None,
                future_targets: FutureTargets | None = None) -> dict[str, dict[str, float]]:  # fmt: skip
    """{split: {metric: mean}} over every file of `task` in `latent_dir` (`split_of`: doc id → split or category;
    else the file name's split). "all" covers every sample. {} when there is no file. `future_targets` (doc id →
    the future frames' embeddings, None without any; `future_frame_targets`) adds `cos_future_frame`, and
    `future_frame_errors` where some sample's could not be read."""
    pooled: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(Path(latent_dir).glob(f"{task}__*.npz")):
        m = _FILE.match(path.name)
        if not m or m["task"] != task:
            continue
        with np.load(path) as data:
            latents, spans = data["latents"], data["span_lengths"]
            nxt = data["next_embeds"] if "next_embeds" in data.files else None
        spans_given = len(np.asarray(spans).ravel()) > 0
        future, failed = _future_of(future_targets, int(m["doc"]), path) if spans_given else (None, False)
        values = sample_diagnostics(latents, spans, nxt, future)
        split = (split_of or {}).get(int(m["doc"]), m["split"])
        for key in ("all", str(split)):
            pooled[key]["samples"].append(1)
            pooled[key][FUTURE_ERRORS].append(int(failed))
            for metric, vals in values.items():
                pooled[key][metric] += vals
    out = {}
    for split, metrics in pooled.items():
        row = {"samples": float(len(metrics["samples"]))}
        for metric in METRICS[1:]:
            vals = [v for v in metrics.get(metric, []) if v == v]
            if vals:
                row[metric] = float(np.mean(vals))
        if sum(metrics[FUTURE_ERRORS]):
            row[FUTURE_ERRORS] = float(sum(metrics[FUTURE_ERRORS]))
        out[split] = row
    return dict(sorted(out.items(), key=lambda kv: (kv[0] != "all", kv[0])))


def diagnostics_markdown(rows: list[tuple[str, str, dict[str, dict[str, float]]]]) -> str:
    """One table over (model, task, per-split diagnostics)."""
    rows = [r for r in rows if r[2]]
    if not rows:
        return ""
    lines = ["### Latent diagnostics (from saved latents)", "",
             "| Model | Task | Split | samples | spans/sample | span length | ‖latent‖ | cos(step, next step) "
             "| cos(last latent, next token) | cos(latent, true future frame) |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for model, task, per_split in rows:
        for split, m in per_split.items():
            cells = [f"{m[k]:.3g}" if k in m else "" for k in METRICS[:-1]]
            future = f"{m['cos_future_frame']:.3g}" if "cos_future_frame" in m else "n/a"  # no future frames
            if m.get(FUTURE_ERRORS):
                future += f" ({m[FUTURE_ERRORS]:.0f} unreadable)"
            lines.append(f"| {md_text(model)} | {md_text(task)} | {split} | " + " | ".join([*cells, future]) + " |")
    return "\n".join(lines) + "\n"


def future_frame_targets(model: Any, processor: Any, max_latent_token: int,
                         frames_of: Callable[[int], list[np.ndarray] | None]) -> FutureTargets:  # fmt: skip
    """doc id → the SFT latent targets of its future frames (`frames_of`: doc id → frames or None, e.g.
    `tasks.future_frames.future_frames_of`), encoded by `model`'s own frozen vision encoder, one pass per sample."""
    from future_l1.training.latent_loss import future_frame_embeddings

    def targets(doc_id: int) -> list[np.ndarray] | None:
        frames = frames_of(doc_id)
        if not frames:
            return None
        embeds = future_frame_embeddings(model, processor, frames, max_latent_token)
        return [e.detach().float().cpu().numpy() for e in embeds]

    return targets
