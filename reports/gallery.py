"""The figures of a report: which plots are drawn, with the heading and caption each gets in the HTML page.

Imported only when plots are asked for (matplotlib). Split bars per leaderboard, accuracy against tokens and against latency (one panel per hardware), latent-span usage
for models that opened spans (none for a model without latents), latent maps of runs that saved latents, and
training curves (`--trainer-state`); a training history that cannot be drawn is a named problem, not a silence.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from future_l1.reports import plots
from future_l1.reports.formats import Figure
from future_l1.reports.inputs import ReportInputError
from future_l1.reports.latent_maps import maps_for_results, slug
from future_l1.reports.leaderboard import Leaderboard
from future_l1.reports.measured import latent_spans_ok
from future_l1.reports.published import CostPoint, inference_cost_points
from future_l1.reports.readers import RunResult
from future_l1.reports.records import FUTUREBENCH, MEASURED, OVERALL, PUBLISHED, Record
from future_l1.reports.training_curves import load_history, render_history


def draw_figures(
    results: Sequence[RunResult],
    records: Sequence[Record],
    boards: Sequence[Leaderboard],
    trainer_states: Sequence[Path],
    plot_dir: Path,
    problems: list[str],
) -> list[Figure]:
    """Draw every figure the inputs allow into `plot_dir` (PNG and SVG); problems met are appended to `problems`."""
    figures: list[Figure] = []

    def add(files: list[Path] | None, title: str, caption: str) -> None:
        for f in files or []:
            if f.suffix == ".png":
                figures.append(Figure(f, title, caption))

    for board in boards:
        add(plots.split_bars(board, plot_dir / f"{board.benchmark}_splits"), f"{board.title}: bars per column",
            f"{board.title}: one group of bars per column, one bar per row. Measured bars carry their 95% bootstrap "
            "interval; hatched bars are published numbers, drawn for " + ", ".join(plots.PLOTTED_PUBLISHED)
            + " only. Bars of rows with different provenance (see the table) are not comparable.")  # fmt: skip
    points = _cost_points(records) + (inference_cost_points() if any(r.source == PUBLISHED for r in records) else [])
    add(plots.accuracy_vs_cost(points, "mean_output_tokens", plot_dir / "acc_vs_tokens"), "Accuracy vs output tokens",
        "FutureBench accuracy against mean output tokens per sample (text tokens; the paper does not state whether its "
        "counts include latent steps). Circles: measured; squares: published (paper Table 7). Hollow: not comparable "
        "with published numbers (demo or unknown data, a subset). Dashed: Pareto front.")  # fmt: skip
    add(plots.accuracy_vs_cost(points, "mean_latency_s", plot_dir / "acc_vs_latency"), "Accuracy vs latency",
        "FutureBench accuracy against mean latency per sample, one panel per hardware: latencies measured on "
        "different machines (a CPU run, the paper's H200) never share an axis or a Pareto front. Hollow: not "
        "comparable with published numbers.")  # fmt: skip
    for r in results:
        if r.benchmark != FUTUREBENCH:
            continue
        by_split: dict[str, list[list[int]]] = {}
        for d in r.sample_dicts():
            if latent_spans_ok(d.get("latent_spans")):
                by_split.setdefault(d.get("split"), []).append(d["latent_spans"])
        if not any(sum(s) for spans in by_split.values() for s in spans):
            continue  # a model without latents (every span list empty): nothing to draw
        title = f"Latent spans per answer: {r.model} · {r.task}"
        add(plots.latent_span_usage(by_split, title, plot_dir / f"latent_spans_{slug(r.model)}_{slug(r.task)}"),
            title, "Share of answers with 0, 1, 2, 3 or 4+ latent spans, per FutureBench split, and the mean number "
            "of spans per answer.")  # fmt: skip
    for f in maps_for_results(results, plot_dir):  # runs whose model saved latents (save_latents=DIR)
        method = "PCA" if f.stem.endswith("_pca") else "t-SNE"
        add([f], f"Latent space ({method}): {f.stem.removeprefix('latent_map_').rsplit('_', 1)[0]}",
            f"The latent vectors the model fed back to itself, projected to 2-D by {method}; each panel colours the "
            "same points by span index, step within the span, split or category, and correctness.")  # fmt: skip
    for i, state in enumerate(trainer_states):
        try:
            history = load_history(state)
        except ReportInputError as exc:
            problems.append(f"training curves not drawn: {exc}")
            continue
        name = history.source.parent.name or history.source.stem
        files = render_history(history, plot_dir, name)
        if not files:
            problems.append(f"training curves not drawn: {history.source} has no logged step with a loss")
            continue
        stem = plot_dir / f"training_{slug(f'{name}_{i}')}"
        moved = [f.rename(stem.with_suffix(f.suffix)) for f in files]
        add(
            moved,
            f"Training curves: {history.source}",
            f"{'LA-DAPO' if history.kind == 'rl' else 'SFT'} training logged in {history.source}, per step.",
        )
    return figures


def _cost_points(records: Sequence[Record]) -> list[CostPoint]:
    """Measured FutureBench runs with a valid overall accuracy, as points on the accuracy/cost plane."""
    by_run: dict[tuple[str, str, str], dict[str, Record]] = {}
    for r in records:
        if r.source == MEASURED and r.benchmark == FUTUREBENCH and r.split == OVERALL and not r.invalid:
            by_run.setdefault((r.model, r.task, r.origin), {})[r.metric] = r
    out = []
    for (model, task, origin), m in by_run.items():
        if "acc" not in m:
            continue
        prov = m["acc"].provenance
        tokens, latency = (m[k].value if k in m else None for k in ("mean_output_tokens", "mean_latency_s"))
        out.append(CostPoint(
            model=f"{model} · {task}", acc=m["acc"].value, mean_output_tokens=tokens,
            mean_latency_s=latency, source=MEASURED, origin=origin,
            hardware=prov.hardware if prov else "unknown", comparable=bool(prov and prov.comparable),
        ))  # fmt: skip
    return out
