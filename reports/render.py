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

from future_l1.reports.formats import Figure, html_page, latex, leaderboard_csv, markdown, md_table, md_text, table_csv
from future_l1.reports.inputs import ReportInputError, load_json
from future_l1.reports.leaderboard import build_leaderboards
from future_l1.reports.measured import records_from_result
from future_l1.reports.outdir import atomic_dir, check_target
from future_l1.reports.provenance import from_schema
from future_l1.reports.published import published_records, select_published
from future_l1.reports.readers import RunResult, read_results, split_metrics
from future_l1.reports.records import Record, records_to_csv
from future_l1.reports.reliance import reliance, reliance_json, reliance_markdown, reliance_plot
from future_l1.reports.stats import DEFAULT_N_BOOT, DEFAULT_SEED
from future_l1.reports.tables import cost_table, models_table, other_tasks_table, runs_table
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


def input_problems(results: Sequence[RunResult]) -> list[str]:
    """Every input problem the reading met, once each: skipped files, repeated samples, invalid metrics, and samples
    whose data record carries a warning (scored as the authors score it; `tasks.*.data`)."""
    problems: list[str] = []
    for r in results:
        problems += r.notes
        problems += [f"{r.origin}: {r.model} / {r.task}: metric {k} is {why}; shown as invalid"
                     for k, why in r.invalid_metrics.items()]  # fmt: skip
        warned = [d for d in r.sample_dicts() if d.get("warning")]
        if warned:
            problems.append(f"{r.origin}: {r.model} / {r.task}: {len(warned)} sample(s) from data records with a "
                            f"warning, scored as the authors' protocol scores them (first: {warned[0]['warning']})")  # fmt: skip
    return list(dict.fromkeys(problems))


def malformed_samples_note(results: Sequence[RunResult]) -> str:
    """A section naming every samples line left out because its per-sample record is malformed ('' when none)."""
    bad = [(r, r.sample_errors) for r in results if r.sample_errors]
    if not bad:
        return ""
    lines = ["", "### Malformed samples (left out of per-sample figures)", "", "| Model | Task | n | First error |",
             "|---|---|---:|---|"]  # fmt: skip
    lines += [f"| {md_text(r.model)} | {md_text(r.task)} | {len(errs)} | {md_text(errs[0])} |" for r, errs in bad]
    return "\n".join(lines) + "\n"


def report_markdown(records: Sequence[Record], problems: Sequence[str] = ()) -> str:
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
    reliant = reliance(results, seed=seed, n_boot=n_boot)  # issue 29: intervention rows against unperturbed ones
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
            from future_l1.reports.gallery import draw_figures  # matplotlib only when plots are asked for

            figures = draw_figures(results, shown, boards, states, tmp / "plots", problems)
            report.files += [
                out_dir / "plots" / f.name for fig in figures for f in (fig.path, fig.path.with_suffix(".svg"))
            ]
            stem = tmp / "plots" / "latent_reliance"
            for f in reliance_plot(reliant, stem) or []:
                report.files.append(out_dir / "plots" / f.name)
                if f.suffix == ".png":
                    figures.append(Figure(f, "Latent reliance", "Accuracy change under each latent intervention against "
                                          "the unperturbed row of the same checkpoint (split all, 95% paired "
                                          "bootstrap interval)."))  # fmt: skip
        rel_text = reliance_markdown(reliant) + latent_diagnostics_markdown(results)
        report.markdown = report_markdown(shown, problems) + ("\n" + rel_text if rel_text else "")
        report.markdown += malformed_samples_note(results)
        if "md" in formats:
            write("leaderboard.md", report.markdown)
        if "csv" in formats:
            write("records.csv", records_to_csv(shown))
            for board in boards:
                write(f"{board.benchmark}.csv", leaderboard_csv(board))
            if reliant:
                write("reliance.json", reliance_json(reliant))
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


def latent_diagnostics_markdown(results: Sequence[RunResult]) -> str:
    """The latent-diagnostics table of every row whose model saved latents ('' when none did)."""
    from future_l1.reports.latent_diagnostics import FUTURE_ERRORS, diagnostics, diagnostics_markdown
    from future_l1.reports.latent_maps import save_latents_dir

    rows = []
    for r in results:
        origin = Path(r.origin)
        folder = save_latents_dir(r.meta.get("model_args", ""), origin if origin.is_dir() else None)
        if folder is not None and folder.is_dir():
            split_of = {int(d["doc_id"]): str(d.get("split") or d.get("category") or "?") for d in r.sample_dicts()
                        if isinstance(d.get("doc_id"), int)}  # fmt: skip
            per_split = diagnostics(folder, r.task, split_of)
            # the future-frame figures need the model's vision encoder: the runner computed them, results.json has them
            for split, row in per_split.items():
                stored = r.latent_diagnostics.get(split)
                for key in ("cos_future_frame", FUTURE_ERRORS):
                    if isinstance(stored, dict) and isinstance(stored.get(key), int | float):
                        row[key] = float(stored[key])
            rows.append((r.model, r.task, per_split))
    text = diagnostics_markdown(rows)
    return "\n" + text if text else ""


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


__all__ = ["FORMATS", "Report", "plain_table", "render_run", "run_leaderboard", "write_report"]
