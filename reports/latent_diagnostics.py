"""Latent diagnostics (issue 29): what a model's fed-back vectors look like, from the files `save_latents=DIR` wrote
(no forward pass). Per sample: the span count and the mean span length; per fed-back vector its norm; the cosine
between consecutive latent steps of a span; and the cosine between a span's last latent and the input embedding of
the first text token after the span's `<|latent_end|>` (`next_embeds` in the file, saved by the adapter; older files
lack it and the figure is left out). Averaged per split (FutureBench hop1-3 / interp, TwiFF-Bench category, and
"all"). Similarity to the true future frame needs the task's future frames and the vision encoder; the toy
experiment's `imagining` probe computes it for its set (README, "Does my model use its latents?").
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import numpy as np

from future_l1.reports.formats import md_text

_FILE = re.compile(r"^(?P<task>.+?)__(?P<split>.+?)__(?P<doc>\d+)__rank\d+\.npz$")
METRICS = ("samples", "spans_per_sample", "span_length", "latent_norm", "cos_consecutive", "cos_last_next_token")


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    num = (a * b).sum(-1)
    den = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def sample_diagnostics(latents: np.ndarray, spans: np.ndarray, next_embeds: np.ndarray | None) -> dict[str, list]:
    """Per-sample values (lists: one entry per sample, vector or span as the metric counts)."""
    latents = np.asarray(latents, dtype=np.float64).reshape(-1, latents.shape[-1] if latents.ndim == 2 else 1)
    spans = [int(n) for n in np.asarray(spans).ravel()]
    out: dict[str, list] = {"spans_per_sample": [len(spans)], "span_length": spans, "latent_norm": [],
                            "cos_consecutive": [], "cos_last_next_token": []}  # fmt: skip
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
    return out


def diagnostics(latent_dir: Path, task: str, split_of: dict[int, str] | None = None) -> dict[str, dict[str, float]]:
    """{split: {metric: mean}} over every file of `task` in `latent_dir` (`split_of`: doc id → split or category;
    else the file name's split). "all" covers every sample. {} when there is no file."""
    pooled: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(Path(latent_dir).glob(f"{task}__*.npz")):
        m = _FILE.match(path.name)
        if not m or m["task"] != task:
            continue
        with np.load(path) as data:
            latents, spans = data["latents"], data["span_lengths"]
            nxt = data["next_embeds"] if "next_embeds" in data.files else None
        values = sample_diagnostics(latents, spans, nxt)
        split = (split_of or {}).get(int(m["doc"]), m["split"])
        for key in ("all", str(split)):
            pooled[key]["samples"].append(1)
            for metric, vals in values.items():
                pooled[key][metric] += vals
    out = {}
    for split, metrics in pooled.items():
        row = {"samples": float(len(metrics["samples"]))}
        for metric in METRICS[1:]:
            vals = [v for v in metrics.get(metric, []) if v == v]
            if vals:
                row[metric] = float(np.mean(vals))
        out[split] = row
    return dict(sorted(out.items(), key=lambda kv: (kv[0] != "all", kv[0])))


def diagnostics_markdown(rows: list[tuple[str, str, dict[str, dict[str, float]]]]) -> str:
    """One table over (model, task, per-split diagnostics)."""
    rows = [r for r in rows if r[2]]
    if not rows:
        return ""
    lines = ["### Latent diagnostics (from saved latents)", "",
             "| Model | Task | Split | samples | spans/sample | span length | ‖latent‖ | cos(step, next step) "
             "| cos(last latent, next token) |", "|---|---|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for model, task, per_split in rows:
        for split, m in per_split.items():
            cells = [f"{m[k]:.3g}" if k in m else "" for k in METRICS]
            lines.append(f"| {md_text(model)} | {md_text(task)} | {split} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
