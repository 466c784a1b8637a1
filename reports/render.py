"""Build a whole report directory from run results: tables in every format, the long-format records and the plots.

out/leaderboard.md      Markdown leaderboards (+ a table of any other lmms-eval tasks read)
out/report.html         one self-contained page (tables, plots embedded)
out/records.csv         every record, long format (the source of truth)
out/<benchmark>.csv     wide leaderboard per benchmark; out/<benchmark>.tex (booktabs)
out/plots/*.png|svg     split bars, accuracy vs tokens / latency, latent-span usage, training curves
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from future_l1.reports.formats import html_page, latex, leaderboard_csv, markdown
from future_l1.reports.leaderboard import build_leaderboards
from future_l1.reports.measured import records_from_result
from future_l1.reports.published import CostPoint, inference_cost_points, published_records
from future_l1.reports.readers import RunResult, read_results
from future_l1.reports.records import FUTUREBENCH, MEASURED, OVERALL, TWIFFBENCH, Record, records_to_csv
from future_l1.reports.stats import DEFAULT_N_BOOT, DEFAULT_SEED
from future_l1.tasks.results_schema import ResultsSchemaError, read_results_file

FORMATS = ("md", "html", "csv", "tex", "plots")


@dataclass
class Report:
    markdown: str
    records: list[Record]
    files: list[Path] = field(default_factory=list)


def build_records(
    results: Sequence[RunResult], *, published: bool = True, seed: int = DEFAULT_SEED, n_boot: int = DEFAULT_N_BOOT
) -> list[Record]:
    measured = [rec for r in results for rec in records_from_result(r, seed=seed, n_boot=n_boot)]
    return measured + (published_records() if published else [])


def report_markdown(records: Sequence[Record]) -> str:
    text = markdown(build_leaderboards(records))
    others = [r for r in records if r.benchmark not in (FUTUREBENCH, TWIFFBENCH) and r.split == OVERALL]
    if others:
        lines = ["### Other tasks", "", "| Model | Task | Metric | Value | n |", "|---|---|---|---:|---:|"]
        lines += [
            f"| {r.model} | {r.task} | {r.metric} | {r.value:.4g} | {'' if r.count is None else r.count} |"
            for r in others
        ]
        text += "\n" + "\n".join(lines) + "\n"
    return text


def malformed_samples_note(results: Sequence[RunResult]) -> str:
    """A section naming every samples line left out because its per-sample record is malformed ('' when none)."""
    bad = [(r, r.sample_errors) for r in results if r.sample_errors]
    if not bad:
        return ""
    lines = ["", "### Malformed samples (left out of per-sample figures)", "", "| Model | Task | n | First error |",
             "|---|---|---:|---|"]  # fmt: skip
    lines += [f"| {r.model} | {r.task} | {len(errs)} | {errs[0].replace('|', '/')} |" for r, errs in bad]
    return "\n".join(lines) + "\n"


def write_report(
    paths: Iterable[Path],
    out_dir: Path,
    *,
    formats: Sequence[str] = FORMATS,
    published: bool = True,
    trainer_states: Sequence[Path] = (),
    seed: int = DEFAULT_SEED,
    n_boot: int = DEFAULT_N_BOOT,
) -> Report:
    paths = [Path(p) for p in paths]
    results = read_results(paths)
    records = build_records(results, published=published, seed=seed, n_boot=n_boot)
    boards = build_leaderboards(records)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = Report(report_markdown(records) + malformed_samples_note(results), records)

    def write(name: str, text: str) -> None:
        path = out_dir / name
        path.write_text(text, encoding="utf-8")
        report.files.append(path)

    images: list[Path] = []
    if "plots" in formats:
        states = list(trainer_states) + [s for p in paths if p.is_dir() for s in sorted(p.rglob("trainer_state.json"))]
        images = [f for f in _plots(results, records, boards, states, out_dir / "plots") if f.suffix == ".png"]
        report.files += [f for img in images for f in (img, img.with_suffix(".svg"))]
    if "md" in formats:
        write("leaderboard.md", report.markdown)
    if "csv" in formats:
        write("records.csv", records_to_csv(records))
        for board in boards:
            write(f"{board.benchmark}.csv", leaderboard_csv(board))
    if "tex" in formats:
        for board in boards:
            write(f"{board.benchmark}.tex", latex(board))
    if "html" in formats:
        write("report.html", html_page(boards, images=images))
    return report


def render_run(run_dir: Path, out_dir: Path | None = None) -> str:
    """Harness hook at the end of `future-l1 run`: write run_dir/report/ (or out_dir) and return the Markdown."""
    run_dir = Path(run_dir)
    return write_report([run_dir], Path(out_dir) if out_dir else run_dir / "report").markdown


# Metrics a plain table shows first when present (the headline numbers of each benchmark family).
HEADLINE = ("future_acc", "twiff_avg", "twiff_cot", "twiff_answer")


def plain_table(run_dir: Path) -> str:
    """One row per model, one column per task × metric: the fallback when the full report cannot be rendered.
    Counts (n_*) are left out; None is shown as "no score", never as 0."""
    rows: dict[str, dict[str, str]] = {}
    columns: list[str] = []
    for path in sorted((Path(run_dir) / "results").glob("*/*.json")):
        try:
            result = read_results_file(path)
        except ResultsSchemaError as exc:
            rows.setdefault(path.parent.name, {})[f"{path.stem}:error"] = str(exc)
            continue
        metrics = result.metrics
        keys = [k for k in HEADLINE if k in metrics] or [k for k in metrics if not k.startswith("n_")]
        for key in keys:
            column = f"{result.task}:{key}"
            if column not in columns:
                columns.append(column)
            value = metrics[key]
            text = "no score" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)
            rows.setdefault(result.model, {})[column] = text
    columns += sorted({c for cells in rows.values() for c in cells if c not in columns})
    if not rows:
        return "(no finished results)"
    header = ["model", *columns]
    table = [header] + [[model, *(cells.get(c, "-") for c in columns)] for model, cells in rows.items()]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "x"


def _plots(results, records, boards, trainer_states, plot_dir: Path) -> list[Path]:
    from future_l1.reports import plots  # matplotlib only when plots are asked for

    files: list[Path] = []
    for board in boards:
        files += plots.split_bars(board, plot_dir / f"{board.benchmark}_splits")
    points = _cost_points(records) + inference_cost_points()
    for cost, name in (("mean_output_tokens", "acc_vs_tokens"), ("mean_latency_s", "acc_vs_latency")):
        files += plots.accuracy_vs_cost(points, cost, plot_dir / name) or []
    for r in results:
        if r.benchmark != FUTUREBENCH:
            continue
        by_split: dict[str, list[list[int]]] = {}
        for d in r.sample_dicts():
            if isinstance(d.get("latent_spans"), list):
                by_split.setdefault(d.get("split"), []).append(d["latent_spans"])
        title = f"Latent spans per answer: {r.model} · {r.task}"
        files += (
            plots.latent_span_usage(by_split, title, plot_dir / f"latent_spans_{_slug(r.model)}_{_slug(r.task)}") or []
        )
    from future_l1.reports.latent_maps import maps_for_results

    files += maps_for_results(results, plot_dir)  # runs whose model saved latents (save_latents=DIR)
    for i, state in enumerate(trainer_states):
        name = _slug(f"{state.parent.name}_{i}")
        title = f"Training curves: {state.parent.name}"
        files += plots.training_curves(plots.load_log_history(state), title, plot_dir / f"training_{name}") or []
    return files


def _cost_points(records: Sequence[Record]) -> list[CostPoint]:
    """Measured FutureBench runs with an overall accuracy, as points on the accuracy/cost plane."""
    by_run: dict[tuple[str, str, str], dict[str, float]] = {}
    for r in records:
        if r.source == MEASURED and r.benchmark == FUTUREBENCH and r.split == OVERALL:
            by_run.setdefault((r.model, r.task, r.origin), {})[r.metric] = r.value
    return [
        CostPoint(
            model=f"{model} · {task}",
            acc=m["acc"],
            mean_output_tokens=m.get("mean_output_tokens"),
            mean_latency_s=m.get("mean_latency_s"),
            source=MEASURED,
            origin=origin,
        )
        for (model, task, origin), m in by_run.items()
        if "acc" in m
    ]
