"""Latent-space maps: the latent vectors a Future-L1 model fed back to itself, projected to 2-D.

The model adapter writes one `.npz` per sample when run with `save_latents=DIR` (`future_l1.model.lmms_model`):
`latents` (steps × hidden, float16) and `span_lengths`. A run's results record that model argument, so the maps
need nothing but the run directory: `maps_for_results` finds the folder, joins each file with its sample's scored
record (FutureBench split and correctness, TwiFF-Bench category) by doc id, and draws two figures per (model,
task), PCA and t-SNE (scikit-learn), each with one panel per colouring: span index, step within the span, split (or
category) and correctness. A colouring the records do not give (every point "?", e.g. correctness on TwiFF-Bench)
has no panel. Axes are labelled (PCA: the share of variance each component explains; t-SNE: arbitrary units). Used by the HTML report
(`reports.render`) for every run whose model saved latents, and by `future-l1 experiment latent-vs-text`.

Deterministic: PCA by full SVD, t-SNE with PCA initialisation and a fixed random_state, at most `MAX_POINTS`
vectors (a seeded subsample beyond that); the figures use the report style of `reports.plots`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from future_l1.reports.readers import model_arg
from future_l1.tasks.results_schema import TWIFFBENCH, benchmark_of, run_path

MAX_POINTS = 2000
_FILE = re.compile(r"^(?P<task>.+?)__(?P<split>.+?)__(?P<doc>\d+)__rank\d+\.npz$")


@dataclass
class LatentPoints:
    vectors: np.ndarray  # (n, hidden) float32
    span: np.ndarray  # (n,) 0-based span index within its answer
    step: np.ndarray  # (n,) 0-based step within its span
    split: np.ndarray  # (n,) str: FutureBench hop1/hop2/hop3/interp or TwiFF-Bench category, "?" when unknown
    correct: np.ndarray  # (n,) str: "correct" | "wrong" | "?"
    doc: np.ndarray  # (n,) int doc id
    split_name: str = "split"  # what `split` holds: "split" (FutureBench) or "category" (TwiFF-Bench)


def save_latents_dir(model_args: str, run_dir: str | Path | None = None) -> Path | None:
    """The `save_latents=DIR` folder in an lmms-eval model_args string, if any; `save_latents=run://DIR` (as the
    default demo suite writes it) is DIR inside `run_dir`, None without one."""
    value = model_arg(model_args, "save_latents")
    return run_path(value, run_dir) if value else None


def load_points(latent_dir: Path, task: str, samples: dict[int, dict] | None = None) -> LatentPoints | None:
    """Every saved latent vector of `task` under `latent_dir`, labelled from `samples` (doc id → scored record)."""
    samples = samples or {}
    vecs, span, step, split, correct, doc = [], [], [], [], [], []
    for path in sorted(Path(latent_dir).glob(f"{task}__*.npz")):
        m = _FILE.match(path.name)
        if not m or m["task"] != task:
            continue
        with np.load(path) as data:
            latents, lengths = data["latents"].astype(np.float32), data["span_lengths"].astype(int)
        if latents.ndim != 2 or not len(latents):
            continue
        doc_id = int(m["doc"])
        record = samples.get(doc_id, {})
        idx = np.repeat(np.arange(len(lengths)), lengths)[: len(latents)]
        within = np.concatenate([np.arange(n) for n in lengths])[: len(latents)] if len(lengths) else idx
        vecs.append(latents[: len(idx)])
        span.append(idx)
        step.append(within)
        split += [str(record.get("split") or record.get("category") or "?")] * len(idx)
        mark = record.get("correct")
        correct += [("correct" if mark else "wrong") if mark is not None else "?"] * len(idx)
        doc += [doc_id] * len(idx)
    if not vecs:
        return None
    return LatentPoints(np.concatenate(vecs), np.concatenate(span), np.concatenate(step), np.asarray(split),
                        np.asarray(correct), np.asarray(doc),
                        "category" if benchmark_of(task) == TWIFFBENCH else "split")  # fmt: skip


def _subsample(points: LatentPoints, limit: int) -> LatentPoints:
    n = len(points.vectors)
    if n <= limit:
        return points
    keep = np.sort(np.random.default_rng(0).choice(n, size=limit, replace=False))
    fields = ("vectors", "span", "step", "split", "correct", "doc")
    return LatentPoints(*(getattr(points, f)[keep] for f in fields), points.split_name)


def project(vectors: np.ndarray, method: str) -> np.ndarray:
    """(n, 2) coordinates by "pca" or "tsne"."""
    x = np.asarray(vectors, dtype=np.float64)
    n = len(x)
    if n and (not np.isfinite(x).all() or float(x.var(0).sum()) == 0.0):
        return np.zeros((n, 2))  # identical vectors (e.g. latent_intervention=zero): a point; t-SNE crashes on them
    if method == "pca":
        from sklearn.decomposition import PCA

        if n < 2:
            return np.zeros((n, 2))
        coords = PCA(n_components=min(2, x.shape[1], n), svd_solver="full").fit_transform(x)
    elif method == "tsne":
        from sklearn.manifold import TSNE

        if n < 4:
            return project(vectors, "pca")
        perplexity = float(min(30.0, (n - 1) / 3))
        coords = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=0, max_iter=500).fit_transform(x)
    else:
        raise ValueError(f"method must be 'pca' or 'tsne', not {method!r}")
    if coords.shape[1] < 2:
        coords = np.concatenate([coords, np.zeros((n, 2 - coords.shape[1]))], axis=1)
    return coords


COLOURINGS = (("span", "span index"), ("step", "step within span"), ("split", "split"), ("correct", "correctness"))


def axis_labels(vectors: np.ndarray, method: str) -> tuple[str, str]:
    """PCA: each component with the share of variance it explains; t-SNE: its two (unitless) dimensions."""
    if method != "pca":
        return "t-SNE 1 (arbitrary units)", "t-SNE 2 (arbitrary units)"
    x = np.asarray(vectors, dtype=np.float64)
    x = x - x.mean(axis=0)
    var = np.linalg.svd(x, compute_uv=False) ** 2 if len(x) > 1 else np.zeros(1)
    share = var / var.sum() if var.sum() > 0 else np.zeros_like(var)
    return tuple(f"PC {k + 1} ({100 * share[k]:.0f}% of variance)" if k < len(share) else f"PC {k + 1}"
                 for k in range(2))  # fmt: skip


def draw(points: LatentPoints, title: str, stem: Path, methods=("pca", "tsne")) -> list[Path]:
    """One figure per method (stem_pca, stem_tsne), a panel per colouring the records give; PNG and SVG paths."""
    import matplotlib.pyplot as plt

    from future_l1.reports.plots import RC, save

    points = _subsample(points, MAX_POINTS)
    colourings = [
        (attr, points.split_name if attr == "split" else name)
        for attr, name in COLOURINGS
        if not all(str(v) == "?" for v in getattr(points, attr))
    ]
    files: list[Path] = []
    for method in methods:
        coords = project(points.vectors, method)
        xlabel, ylabel = axis_labels(points.vectors, method)
        with plt.rc_context(RC):
            fig, axes = plt.subplots(1, len(colourings), figsize=(3.3 * len(colourings), 3.5), squeeze=False)
            for ax, (attr, name) in zip(axes[0], colourings, strict=True):
                values = getattr(points, attr)
                cats = sorted(
                    {str(v) for v in values},
                    key=lambda v: (not v.lstrip("-").isdigit(), int(v) if v.lstrip("-").isdigit() else 0, v),
                )
                cmap = plt.get_cmap("tab10")
                index = {cat: k for k, cat in enumerate(cats)}
                colours = np.asarray([cmap(index[str(v)] % 10) for v in values])
                order = np.random.default_rng(1).permutation(len(values))  # no category hides under another
                ax.scatter(coords[order, 0], coords[order, 1], s=5, alpha=0.7, c=colours[order], linewidths=0)
                for cat in cats:
                    ax.scatter([], [], s=12, color=cmap(index[cat] % 10), label=cat)
                ax.set_title(f"by {name}")
                ax.set_xlabel(xlabel, fontsize=7)
                ax.set_ylabel(ylabel, fontsize=7)
                ax.tick_params(labelsize=6)
                ax.legend(fontsize=6, markerscale=2, loc="best", frameon=False)
            label = "PCA" if method == "pca" else "t-SNE"
            fig.suptitle(f"{title} ({label}, {len(points.vectors)} latent vectors)")
            fig.tight_layout()
            files += save(fig, stem.with_name(f"{stem.name}_{method}"))
    return files


def slug(text: str) -> str:
    """A file-name-safe form of a model or task name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "x"


def maps_for_results(results, plot_dir: Path, title_suffix: str = "") -> list[Path]:
    """Latent maps for every RunResult whose model saved latents (model_args save_latents=DIR, DIR present)."""
    files: list[Path] = []
    for r in results:
        origin = Path(r.origin)
        latent_dir = save_latents_dir(r.meta.get("model_args", ""), origin if origin.is_dir() else None)
        if latent_dir is None or not latent_dir.is_dir():
            continue
        samples = {int(d["doc_id"]): d for d in r.sample_dicts() if isinstance(d.get("doc_id"), int)}
        points = load_points(latent_dir, r.task, samples)
        if points is None:
            continue
        title = f"Latent space: {r.model} · {r.task}" + (f" · {title_suffix}" if title_suffix else "")
        files += draw(points, title, Path(plot_dir) / f"latent_map_{slug(r.model)}_{slug(r.task)}")
    return files


def latent_maps(run_dir: Path, plot_dir: Path, title_suffix: str = "") -> list[Path]:
    """Maps for one run directory (or lmms-eval output folder); [] when no model of it saved latents."""
    from future_l1.reports.readers import read_results

    return maps_for_results(read_results([Path(run_dir)]), plot_dir, title_suffix)
