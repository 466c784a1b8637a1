"""Report figures with matplotlib (Agg), written as PNG and SVG with deterministic bytes.

Determinism: a fixed style (rc_context below), `svg.hashsalt`, and no date/software metadata in either format.
Figures: grouped bars per split (measured with 95% intervals, published hatched and grey-edged), accuracy against
mean output tokens and against latency with the Pareto front (higher accuracy at lower cost; latency in one panel per
hardware), latent-span count distributions per FutureBench split (the paper's Figure 4 shows the same as donuts),
and training curves from a logged history (`reports.training_curves.load_history`).
"""

from __future__ import annotations

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


def split_bars(
    board: Leaderboard, stem: Path, *, published_models: Sequence[str] = PLOTTED_PUBLISHED
) -> list[Path] | None:
    """Grouped bars: one group per column (split), one bar per row; measured rows carry their interval.

    Published rows are drawn only for models whose label starts with one of `published_models`, so the figure stays
    readable.
    """
    measured = [r for r in board.rows if r.source == MEASURED]
    published = [r for r in board.rows if r.source != MEASURED and r.model.startswith(tuple(published_models))]
    rows = [r for r in measured + published if any(c.value is not None for c in r.cells)]
    if not rows:
        return None  # every score missing (e.g. every judgement failed): no empty figure
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
    """Scatter accuracy against `cost` ("mean_output_tokens" or "mean_latency_s"); None when no point has it.

    Latency depends on the machine, so the latency figure has one panel per hardware (a CPU-measured latency and the
    paper's H200 latencies never share an axis or a Pareto front); tokens do not, so that figure has one panel.
    Within a panel the Pareto front runs through the points that may stand together: the published ones and the
    comparable measured ones, or, where a panel holds only non-comparable measured points (demo data), those.
    Non-comparable points are drawn hollow."""
    usable = [p for p in points if getattr(p, cost) is not None]
    if not usable:
        return None
    latency = cost == "mean_latency_s"
    panels: dict[str, list[CostPoint]] = {}
    for p in usable:  # the paper's H200 shares the panel of an H200 measured here
        panels.setdefault(p.hardware.removesuffix(" (paper)") if latency else "", []).append(p)
    with plt.rc_context(RC):
        fig, axes = plt.subplots(1, len(panels), figsize=(7 * len(panels), 4.5), squeeze=False)
        for ax, (hardware, members) in zip(axes[0], panels.items(), strict=True):
            _cost_panel(ax, members, cost)
            what = "latency" if latency else "tokens"
            where = f" on {hardware}" + (" hardware" if hardware == "unknown" else "") if hardware else ""
            ax.set_title(f"Accuracy vs {what}{where} (circles: measured)")
        fig.tight_layout()
        return save(fig, stem)


def _cost_panel(ax, members: Sequence[CostPoint], cost: str) -> None:
    xy = [(float(getattr(p, cost)), p.acc) for p in members]
    ranked = [i for i, p in enumerate(members) if p.comparable] or list(range(len(members)))
    front = [ranked[i] for i in pareto_front([xy[i] for i in ranked])]
    for p, (x, y) in zip(members, xy, strict=True):
        measured = p.source == MEASURED
        colour = "#1f77b4" if measured else "#9e9e9e"
        ax.scatter([x], [y], marker="o" if measured else "s", s=40, zorder=3, color=colour if p.comparable else "none",
                   edgecolors=colour)  # fmt: skip
        note = "" if measured else " (published)"
        ax.annotate(p.model + note, (x, y), fontsize=7, xytext=(4, 3), textcoords="offset points")
    ax.plot([xy[i][0] for i in front], [xy[i][1] for i in front], "--", color="#d62728", label="Pareto front")
    if any(not p.comparable for p in members):
        ax.scatter([], [], marker="o", s=40, color="none", edgecolors="#1f77b4", label="not comparable (hollow)")
    if cost == "mean_latency_s":
        ax.set_xscale("log")
    ax.set_xlabel({"mean_output_tokens": "mean output tokens per sample", "mean_latency_s": "mean latency (s)"}[cost])
    ax.set_ylabel("FutureBench accuracy (%)")
    ax.legend(loc="best", fontsize=7)


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
