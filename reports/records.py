"""The one source of truth for reports: long-format result records.

Every number a report shows is one `Record`: a value for one (model, task, split, metric), with the number of samples
behind it, an optional 95% confidence interval, and where it came from. Tables, CSV files and plots are views over a
list of records, so a measured run and a number typed from a paper travel the same way and stay distinguishable
(`source` is "measured" or "published" and `origin` is the run directory or the citation).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from future_l1.reports.provenance import RowProvenance
from future_l1.tasks.results_schema import FUTUREBENCH, TWIFFBENCH, benchmark_of  # noqa: F401  (re-exported)

MEASURED = "measured"
PUBLISHED = "published"
OVERALL = "all"  # split name of a whole-benchmark figure
CATEGORY = "category:"  # split prefix of a per-category figure (TwiFF-Bench `meta_data.classification`)

FUTUREBENCH_SPLITS = ("hop1", "hop2", "hop3", "interp")

RECORD_FIELDS = (
    "benchmark",
    "model",
    "task",
    "split",
    "metric",
    "value",
    "count",
    "ci_low",
    "ci_high",
    "source",
    "origin",
    "provenance",
    "comparable",
    "hardware",
    "invalid",
    "meta",
)


@dataclass(frozen=True)
class Record:
    """One reported number.

    benchmark: "futurebench", "twiffbench", or the task name for any other lmms-eval task.
    model: display label (run's model label, or "Name (Size)" for published rows).
    task: lmms-eval task name; for published rows the benchmark name (the paper's own protocol).
    split: "all" for whole-benchmark figures, else "hop1" | "hop2" | "hop3" | "interp" (FutureBench) or
        "category:NAME" (TwiFF-Bench, judged samples of that `meta_data.classification`).
    metric: "acc" and "acc_strict" (percent, FutureBench), "cot" | "answer" | "avg" (0-5 judge scale, judged samples
        only) and their "_failzero" variants, "n_judged" | "n_failed" | "n_errors" (counts), "mean_output_tokens",
        "mean_latent_steps", "mean_latency_s", or the lmms-eval metric key of any other task.
    value: the figure as reported by the run's results file (or the paper); NaN when `invalid`.
    count: samples behind the value (None when unknown, e.g. most published rows).
    ci_low, ci_high: 95% percentile-bootstrap interval over samples (seeded), None when no samples were read.
    source: "measured" or "published".
    origin: run directory (measured) or citation (published).
    meta: run metadata (run id, model name and args, lmms-eval version, git hash, judge, ...), all strings.
    provenance: what produced a measured value (data, judge, subset, hardware, ...); None for published rows.
    invalid: why the results file's value is not a number ("NaN", "text 'fast' (not a number)"); '' when valid.
    """

    benchmark: str
    model: str
    task: str
    split: str
    metric: str
    value: float
    count: int | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    source: str = MEASURED
    origin: str = ""
    meta: Mapping[str, str] = field(default_factory=dict)
    provenance: RowProvenance | None = None
    invalid: str = ""

    def __post_init__(self) -> None:
        if self.source not in (MEASURED, PUBLISHED):
            raise ValueError(f"Record.source must be {MEASURED!r} or {PUBLISHED!r}, got {self.source!r}")

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.model, self.task, self.split, self.metric)


def records_to_csv(records: Iterable[Record]) -> str:
    """Long-format CSV, one row per record; `meta` is a JSON object with sorted keys (stable bytes). Text cells are
    guarded against spreadsheet formulas (`csv_text`); an invalid value is an empty cell with the reason beside it."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(RECORD_FIELDS)
    for r in records:
        prov = r.provenance
        text = [r.benchmark, r.model, r.task, r.split, r.metric]
        writer.writerow(
            [
                *(csv_text(x) for x in text),
                "" if r.invalid else _num(r.value),
                "" if r.count is None else r.count,
                _num(r.ci_low),
                _num(r.ci_high),
                r.source,
                csv_text(r.origin),
                csv_text(prov.label if prov else "paper"),
                "" if prov is None else str(prov.comparable).lower(),
                csv_text(prov.hardware if prov else ""),
                csv_text(r.invalid),
                csv_text(json.dumps(dict(r.meta), sort_keys=True, ensure_ascii=False)),
            ]
        )
    return buf.getvalue()


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "|", "%")


def csv_text(text: str) -> str:
    """A text cell no spreadsheet runs as a formula: one starting with = + - @ (or a tab, CR, | or %) gets a leading
    apostrophe (OWASP's advice for CSV injection); numbers are written apart and never pass here."""
    text = str(text)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _num(x: float | None) -> str:
    # repr of a rounded float keeps CSV bytes stable and short; 6 decimals are far below any reported precision.
    return "" if x is None else repr(round(float(x), 6))
