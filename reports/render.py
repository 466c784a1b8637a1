"""Build a whole report directory from run results: tables in every format, the long-format records and the plots.

out/leaderboard.md      Markdown leaderboards (+ other lmms-eval tasks, cost per sample, input problems)
out/report.html         one self-contained page: runs and models (date, git commit, model arguments, judge,
                        hardware), tables, input problems, plots with headings and captions
out/records.csv         every record, long format (the source of truth), with provenance
out/<benchmark>.csv     wide leaderboard per benchmark; out/<benchmark>.tex (booktabs, paper-ready); out/cost.csv
out/plots/*.png|svg     split bars, accuracy vs tokens / latency, latent-span usage, latent maps, training curves

The folder is written atomically (`reports.outdir`): a Ctrl-C leaves the previous report or none, never half of one.
Published rows: every table shows them unless `published` is False or `published_names` selects some; the LaTeX
tables, meant for a paper, show them only when `published_names` names them.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from future_l1.reports.formats import Figure, Table, html_page, latex, leaderboard_csv, markdown, md_table, table_csv
from future_l1.reports.inputs import ReportInputError, load_json
from future_l1.reports.leaderboard import Leaderboard, build_leaderboards
from future_l1.reports.measured import latent_spans_ok, records_from_result
from future_l1.reports.outdir import atomic_dir, check_target
from future_l1.reports.provenance import from_schema
from future_l1.reports.published import CostPoint, inference_cost_points, published_records, select_published
from future_l1.reports.readers import RunResult, read_results, split_metrics
from future_l1.reports.records import FUTUREBENCH, MEASURED, OVERALL, PUBLISHED, TWIFFBENCH, Record, records_to_csv
from future_l1.reports.stats import DEFAULT_N_BOOT, DEFAULT_SEED
from future_l1.tasks.results_schema import ResultsSchemaError, parse_results

FORMATS = ("md", "html", "csv", "tex", "plots")


@dataclass
class Report:
    markdown: str
    records: list[Record]
    files: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # input problems and figures that could not be drawn


def build_records(
    results: Sequence[RunResult], *, published: bool = True, seed: int = DEFAULT_SEED, n_boot: int = DEFAULT_N_BOOT
) -> list[Record]:
    measured = [rec for r in results for rec in records_from_result(r, seed=seed, n_boot=n_boot)]
    return measured + (published_records() if published else [])


def select_models(results: Sequence[RunResult], models: Sequence[str] | None) -> list[RunResult]:
    """The results of the named model labels (all when `models` is None); an unknown label is refused."""
    if not models:
        return list(results)
    known = list(dict.fromkeys(r.model for r in results))
    missing = [m for m in models if m not in known]
    if missing:
        raise ReportInputError(f"--models {', '.join(missing)}: not in the results (models there: {', '.join(known)})")
    return [r for r in results if r.model in models]


# ---------------------------------------------------------------- tables beside the leaderboards


def other_tasks_table(records: Sequence[Record]) -> Table | None:
    others = [r for r in records if r.benchmark not in (FUTUREBENCH, TWIFFBENCH) and r.split == OVERALL]
    if not others:
        return None
    rows = [
        [r.model, r.task, r.provenance.label if r.provenance else "", r.metric,
         f"invalid ({r.invalid})" if r.invalid else f"{r.value:.4g}", "" if r.count is None else str(r.count)]
        for r in others
    ]  # fmt: skip
    return Table("Other tasks", ["Model", "Task", "Provenance", "Metric", "Value", "n"], rows,
                 [False, False, False, False, True, True])  # fmt: skip


COST_METRICS = ("mean_output_tokens", "mean_latent_steps", "mean_latency_s")


def cost_table(records: Sequence[Record]) -> Table | None:
    """Mean output tokens, latent steps and latency per sample of each measured (model, task), with the hardware
    the latency was measured on: latencies of different machines are not comparable."""
    rows: dict[tuple[str, str, str], dict[str, Record]] = {}
    for r in records:
        if r.source == MEASURED and r.split == OVERALL and r.metric in COST_METRICS:
            rows.setdefault((r.model, r.task, r.origin), {})[r.metric] = r
    if not rows:
        return None

    def cell(rec: Record | None, digits: int) -> str:
        if rec is None:
            return "–"
        ci = f" [{rec.ci_low:.{digits}f}, {rec.ci_high:.{digits}f}]" if rec.ci_low is not None else ""
        return f"{rec.value:.{digits}f}{ci}"

    out = []
    for (model, task, _), m in rows.items():
        any_rec = next(iter(m.values()))
        prov = any_rec.provenance
        hardware = prov.hardware if prov and "mean_latency_s" in m else "–"
        out.append([model, task, cell(m.get("mean_output_tokens"), 1), cell(m.get("mean_latent_steps"), 1),
                    cell(m.get("mean_latency_s"), 3), hardware, str(any_rec.count or "")])  # fmt: skip
    headers = ["Model", "Task", "Output tokens", "Latent steps", "Latency (s)", "Latency measured on", "n"]
    note = "Means per sample with 95% bootstrap intervals; latencies measured on different hardware do not compare."
    return Table("Cost per sample (measured)", headers, out, [False, False, True, True, True, False, True], note)


def runs_table(results: Sequence[RunResult]) -> Table:
    """One row per run directory or results file: its date, git commit, lmms-eval version, hardware and judge."""
    rows: dict[str, list[str]] = {}
    for r in results:
        if r.origin in rows:
            continue
        m = r.meta
        judges = sorted({x.provenance.judge for x in results if x.origin == r.origin and x.provenance.judge})
        rows[r.origin] = [m.get("run_id", ""), r.origin, m.get("date", "unknown"), m.get("env.git_hash", "unknown"),
                          m.get("env.lmms_eval", "unknown"), r.provenance.hardware, ", ".join(judges) or "–"]  # fmt: skip
    headers = ["Run", "Path", "Date", "Git commit", "lmms-eval", "Hardware", "Judge"]
    return Table("Runs", headers, list(rows.values()))


def models_table(results: Sequence[RunResult]) -> Table:
    rows = [
        [r.model, r.task, r.meta.get("run_id", ""), r.meta.get("model_name", ""), r.meta.get("model_args", ""),
         r.provenance.checkpoint or "–", r.provenance.label + ("" if r.provenance.recorded else " (inferred)")]
        for r in results
    ]  # fmt: skip
    headers = ["Model", "Task", "Run", "lmms-eval model", "Model arguments", "Checkpoint", "Provenance"]
    return Table("Models and tasks", headers, rows)


def input_problems(results: Sequence[RunResult]) -> list[str]:
    """Every input problem the reading met, once each: skipped files, repeated samples, invalid metrics."""
    problems: list[str] = []
    for r in results:
        problems += r.notes
        problems += [f"{r.origin}: {r.model} / {r.task}: metric {k} is {why}; shown as invalid"
                     for k, why in r.invalid_metrics.items()]  # fmt: skip
    return list(dict.fromkeys(problems))


def malformed_samples_note(results: Sequence[RunResult]) -> str:
    """A section naming every samples line left out because its per-sample record is malformed ('' when none)."""
    from future_l1.reports.formats import md_text

    bad = [(r, r.sample_errors) for r in results if r.sample_errors]
    if not bad:
        return ""
    lines = ["", "### Malformed samples (left out of per-sample figures)", "", "| Model | Task | n | First error |",
             "|---|---|---:|---|"]  # fmt: skip
    lines += [f"| {md_text(r.model)} | {md_text(r.task)} | {len(errs)} | {md_text(errs[0])} |" for r, errs in bad]
    return "\n".join(lines) + "\n"


def report_markdown(records: Sequence[Record], problems: Sequence[str] = ()) -> str:
    from future_l1.reports.formats import md_text

    text = markdown(build_leaderboards(records))
    for table in (other_tasks_table(records), cost_table(records)):
        if table:
            text += "\n" + md_table(table)
    if problems:
        text += "\n### Input problems\n\n" + "".join(f"- {md_text(p)}\n" for p in problems)
    return text


# ---------------------------------------------------------------- the report folder


def write_report(
    paths: Iterable[Path],
    out_dir: Path,
    *,
    formats: Sequence[str] = FORMATS,
    published: bool = True,
    published_names: Sequence[str] | None = None,
    models: Sequence[str] | None = None,
    trainer_states: Sequence[Path] = (),
    seed: int = DEFAULT_SEED,
    n_boot: int = DEFAULT_N_BOOT,
) -> Report:
    paths = [Path(p) for p in paths]
    out_dir = Path(out_dir)
    check_target(out_dir)  # before any work: an --out that is a file or a foreign folder is refused at once
    results = select_models(read_results(paths), models)
    measured = build_records(results, published=False, seed=seed, n_boot=n_boot)
    paper = published_records() if published else []
    shown = measured + select_published(paper, published_names)
    in_latex = measured + select_published(paper, published_names if published_names is not None else [])
    boards = build_leaderboards(shown)
    problems = input_problems(results)
    report = Report("", shown, problems=problems)
    with atomic_dir(out_dir) as tmp:

        def write(name: str, text: str) -> None:
            (tmp / name).write_text(text, encoding="utf-8")
            report.files.append(out_dir / name)

        figures: list[Figure] = []
        if "plots" in formats:
            states = list(trainer_states) + [
                s for p in paths if p.is_dir() for s in sorted(p.rglob("trainer_state.json"))
            ]
            figures = _plots(results, shown, boards, states, tmp / "plots", problems)
            report.files += [
                out_dir / "plots" / f.name for fig in figures for f in (fig.path, fig.path.with_suffix(".svg"))
            ]
        report.markdown = report_markdown(shown, problems) + malformed_samples_note(results)
        if "md" in formats:
            write("leaderboard.md", report.markdown)
        if "csv" in formats:
            write("records.csv", records_to_csv(shown))
            for board in boards:
                write(f"{board.benchmark}.csv", leaderboard_csv(board))
            cost = cost_table(shown)
            if cost:
                write("cost.csv", table_csv(cost))
        if "tex" in formats:
            for board in build_leaderboards(in_latex):
                write(f"{board.benchmark}.tex", latex(board))
        if "html" in formats:
            after = [t for t in (other_tasks_table(shown), cost_table(shown)) if t]
            page = html_page(boards, figures=figures, before=[runs_table(results), models_table(results)], after=after,
                             problems=problems)  # fmt: skip
            write("report.html", page)
    return report


def render_run(run_dir: Path, out_dir: Path | None = None) -> str:
    """Harness hook at the end of `future-l1 run`: write run_dir/report/ (or out_dir) and return the Markdown."""
    run_dir = Path(run_dir)
    return write_report([run_dir], Path(out_dir) if out_dir else run_dir / "report").markdown


def run_leaderboard(run_dir: Path) -> str:
    """What `future-l1 run` prints at the end: the report's Markdown leaderboard (rows with their provenance; it
    also writes run_dir/report/), or, when the report cannot be rendered, a warning on stderr and `plain_table`,
    since the results are safe on disk and a rendering problem must not hide them."""
    try:
        return render_run(run_dir)
    except Exception as exc:
        print(f"warning: the report could not be rendered ({type(exc).__name__}: {exc}); plain table follows",
              file=sys.stderr)  # fmt: skip
        return plain_table(run_dir)


# Metrics a plain table shows first when present (the headline numbers of each benchmark family).
HEADLINE = ("future_acc", "twiff_avg", "twiff_cot", "twiff_answer")


def plain_table(run_dir: Path) -> str:
    """One row per model, one column per task × metric, and each row's provenance: the fallback when the full
    report cannot be rendered. Counts (n_*) are left out; None is shown as "no score", never as 0; a NaN, infinite
    or text metric as "invalid"."""
    rows: dict[str, dict[str, str]] = {}
    columns: list[str] = []
    for path in sorted((Path(run_dir) / "results").glob("*/*.json")):
        try:
            raw = load_json(path, "results file")
            metrics, invalid = split_metrics(raw.get("metrics"))
            result = parse_results({**raw, "metrics": metrics} if isinstance(raw.get("metrics"), dict) else raw, path)
        except (ReportInputError, ResultsSchemaError) as exc:
            rows.setdefault(path.parent.name, {})[f"{path.stem}:error"] = str(exc)
            continue
        cells = rows.setdefault(result.model, {})
        prov = from_schema(result.provenance).label if result.provenance else "not recorded (schema v1)"
        cells[f"{result.task}:provenance"] = prov
        keys = [k for k in HEADLINE if k in metrics or k in invalid]
        keys = keys or [k for k in [*metrics, *invalid] if not k.startswith("n_")]
        for key in keys:
            column = f"{result.task}:{key}"
            if column not in columns:
                columns.append(column)
            value = metrics.get(key)
            text = "no score" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)
            cells[column] = f"invalid ({invalid[key]})" if key in invalid else text
    columns += sorted({c for cells in rows.values() for c in cells if c not in columns})
    if not rows:
        return "(no finished results)"
    header = ["model", *columns]
    table = [header] + [
        [_one_line(model), *(_one_line(cells.get(c, "-")) for c in columns)] for model, cells in rows.items()
    ]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _one_line(text: str) -> str:
    return re.sub(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]", " ", str(text))


# ---------------------------------------------------------------- figures


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "x"


def _plots(results, records, boards: list[Leaderboard], trainer_states, plot_dir: Path, problems: list[str]):
    from future_l1.reports import plots  # matplotlib only when plots are asked for
    from future_l1.reports.latent_maps import maps_for_results
    from future_l1.reports.training_curves import load_history, render_history

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
        add(plots.latent_span_usage(by_split, title, plot_dir / f"latent_spans_{_slug(r.model)}_{_slug(r.task)}"),
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
        stem = plot_dir / f"training_{_slug(f'{name}_{i}')}"
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


__all__ = ["FORMATS", "Report", "plain_table", "render_run", "run_leaderboard", "write_report"]
