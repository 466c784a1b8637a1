"""Report figures with matplotlib (Agg), written as PNG and SVG with deterministic bytes.

Determinism: a fixed style (rc_context below), `svg.hashsalt`, and no date/software metadata in either format.
Figures: grouped bars per split (measured with 95% intervals, published hatched and grey-edged), accuracy against
mean output tokens and against latency with the Pareto front (higher accuracy at lower cost), latent-span count
distributions per FutureBench split (the paper's Figure 4 shows the same as donuts), and training curves read from
a HF Trainer `trainer_state.json` log_history.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from future_l1.reports.leaderboard import Leaderboard
from future_l1.reports.published import CostPoint
from future_l1.reports.records import FUTUREBENCH_SPLITS, MEASURED

RC = {
    "svg.hashsalt": "future-l1",
    "svg.fonttype": "path",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "path.simplify": False,
}
SPLIT_LABELS = {"hop1": "1-Hop", "hop2": "2-Hop", "hop3": "3-Hop", "interp": "Interp."}
_COLOURS = plt.get_cmap("tab10").colors


def save(fig: plt.Figure, stem: Path) -> list[Path]:
    """Write stem.png and stem.svg without timestamps or version strings; returns both paths."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    png, svg = stem.with_suffix(".png"), stem.with_suffix(".svg")
    fig.savefig(png, metadata={"Software": None})
    fig.savefig(svg, metadata={"Date": None, "Creator": None})
    plt.close(fig)
    return [png, svg]


# Published rows drawn beside measured bars (the tables list them all): the previous SOTA, the backbone, the paper.
PLOTTED_PUBLISHED = (
    "Video-CoE",
    "Qwen3-VL-Instruct",
    "Qwen3-VL zero-shot",
    "TwiFF-2.7M",
    "Future-L1-SFT",
    "Future-L1-RL",
)


def split_bars(board: Leaderboard, stem: Path, *, published_models: Sequence[str] = PLOTTED_PUBLISHED) -> list[Path]:
    """Grouped bars: one group per column (split), one bar per row; measured rows carry their interval.

    Published rows are drawn only for models whose label starts with one of `published_models`, so the figure stays
    readable.
    """
    measured = [r for r in board.rows if r.source == MEASURED]
    published = [r for r in board.rows if r.source != MEASURED and r.model.startswith(tuple(published_models))]
    rows = measured + published
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(10, 4.2))
        width = 0.8 / max(len(rows), 1)
        for j, row in enumerate(rows):
            xs, ys, err = [], [], [[], []]
            for i, cell in enumerate(row.cells):
                if cell.value is None:
                    continue
                xs.append(i - 0.4 + width * (j + 0.5))
                ys.append(cell.value)
                lo, hi = cell.ci if cell.ci else (cell.value, cell.value)
                err[0].append(cell.value - lo)
                err[1].append(hi - cell.value)
            is_measured = row.source == MEASURED
            label = f"{row.model} · {row.task}" if is_measured else f"{row.model} (published)"
            ax.bar(
                xs,
                ys,
                width,
                label=label,
                color=_COLOURS[j % 10],
                alpha=1.0 if is_measured else 0.45,
                hatch=None if is_measured else "//",
                edgecolor="black" if is_measured else "grey",
                linewidth=0.5,
                yerr=err if is_measured else None,
                capsize=2,
            )
        ax.set_xticks(range(len(board.columns)), [c.header for c in board.columns])
        ax.set_title(board.title)
        ax.legend(fontsize=7, ncol=2, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
        fig.tight_layout()
        return save(fig, stem)


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of points not dominated by another (cost x lower-or-equal and accuracy y higher-or-equal, one strict)."""
    front = []
    for i, (x, y) in enumerate(points):
        dominated = any((x2 <= x and y2 >= y) and (x2 < x or y2 > y) for j, (x2, y2) in enumerate(points) if j != i)
        if not dominated:
            front.append(i)
    return sorted(front, key=lambda i: points[i][0])


def accuracy_vs_cost(points: Sequence[CostPoint], cost: str, stem: Path) -> list[Path] | None:
    """Scatter accuracy against `cost` ("mean_output_tokens" or "mean_latency_s"); None when no point has it."""
    usable = [p for p in points if getattr(p, cost) is not None]
    if not usable:
        return None
    xy = [(float(getattr(p, cost)), p.acc) for p in usable]
    front = pareto_front(xy)
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for p, (x, y) in zip(usable, xy, strict=True):
            measured = p.source == MEASURED
            ax.scatter(
                [x], [y], marker="o" if measured else "s", s=40, color="#1f77b4" if measured else "#9e9e9e", zorder=3
            )
            ax.annotate(
                p.model + ("" if measured else " (published)"),
                (x, y),
                fontsize=7,
                xytext=(4, 3),
                textcoords="offset points",
            )
        ax.plot([xy[i][0] for i in front], [xy[i][1] for i in front], "--", color="#d62728", label="Pareto front")
        if cost == "mean_latency_s":
            ax.set_xscale("log")
        ax.set_xlabel(
            {"mean_output_tokens": "mean output tokens per sample", "mean_latency_s": "mean latency (s)"}[cost]
        )
        ax.set_ylabel("FutureBench accuracy (%)")
        ax.set_title(f"Accuracy vs {'tokens' if cost == 'mean_output_tokens' else 'latency'} (circles: measured)")
        ax.legend(loc="lower right")
        fig.tight_layout()
        return save(fig, stem)


def latent_span_usage(spans_by_split: dict[str, list[list[int]]], title: str, stem: Path) -> list[Path] | None:
    """Per FutureBench split: share of answers with 0, 1, 2, 3, 4+ latent spans, and the mean span count."""
    if not any(spans_by_split.get(s) for s in FUTUREBENCH_SPLITS):
        return None
    bins = ["0", "1", "2", "3", "4+"]
    with plt.rc_context(RC):
        fig, axes = plt.subplots(1, 4, figsize=(11, 3), sharey=True)
        for ax, split in zip(axes, FUTUREBENCH_SPLITS, strict=True):
            counts = Counter(min(len(s), 4) for s in spans_by_split.get(split, []))
            n = sum(counts.values())
            shares = [100.0 * counts.get(k, 0) / n if n else 0.0 for k in range(5)]
            ax.bar(bins, shares, color=_COLOURS[FUTUREBENCH_SPLITS.index(split)], edgecolor="black", linewidth=0.5)
            mean = sum(len(s) for s in spans_by_split.get(split, [])) / n if n else 0.0
            ax.set_title(f"{SPLIT_LABELS[split]} (n={n}, mean {mean:.2f})")
            ax.set_xlabel("latent spans per answer")
        axes[0].set_ylabel("% of answers")
        fig.suptitle(title)
        fig.tight_layout()
        return save(fig, stem)


CURVE_KEYS = ("loss", "ce_loss", "latent_mse", "reward", "grad_norm", "learning_rate")


def load_log_history(path: Path) -> list[dict]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return [e for e in data.get("log_history", []) if isinstance(e, dict)]


def training_curves(log_history: list[dict], title: str, stem: Path) -> list[Path] | None:
    """One panel per logged series: loss, ce_loss, latent_mse, any key containing "reward", grad_norm, lr."""
    keys = sorted(
        {k for e in log_history for k, v in e.items() if isinstance(v, (int, float)) and _is_curve(k)},
        key=lambda k: (CURVE_KEYS.index(k) if k in CURVE_KEYS else len(CURVE_KEYS), k),
    )
    if not keys:
        return None
    with plt.rc_context(RC):
        ncols = min(3, len(keys))
        nrows = (len(keys) + ncols - 1) // ncols
        fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 2.6 * nrows), squeeze=False)
        for ax, key in zip(axes.flat, keys, strict=False):
            pts = [
                (e.get("step", i), e[key]) for i, e in enumerate(log_history) if isinstance(e.get(key), (int, float))
            ]
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=".", markersize=3, linewidth=1)
            ax.set_title(key)
            ax.set_xlabel("step")
        for ax in list(axes.flat)[len(keys) :]:
            ax.set_visible(False)
        fig.suptitle(title)
        fig.tight_layout()
        return save(fig, stem)


def _is_curve(key: str) -> bool:
    if key in ("step", "epoch") or key.startswith(("train_", "eval_runtime", "total_flos")):
        return False
    return any(c in key for c in CURVE_KEYS)
