"""The leaderboard shown after a run: the reports module's renderer when present, else a plain table."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from future_l1.harness.rundir import read_json

# Metrics shown first when present (the headline numbers of each benchmark family).
HEADLINE = ("future_acc", "twiff_avg", "twiff_cot", "twiff_answer")


def render(run_dir: Path) -> str:
    try:
        reports = importlib.import_module("future_l1.reports")
    except ImportError:
        reports = None
    render_run = getattr(reports, "render_run", None)
    if callable(render_run):
        try:
            return str(render_run(run_dir))
        except Exception as exc:  # the results are safe on disk; a rendering bug must not hide them
            print(
                f"warning: future_l1.reports.render_run failed ({type(exc).__name__}: {exc}); plain table follows",
                file=sys.stderr,
            )
    return plain_table(run_dir)


def plain_table(run_dir: Path) -> str:
    """One row per model, one column per task × metric (numbers only; counts and n_* are left out)."""
    rows: dict[str, dict[str, str]] = {}
    columns: list[str] = []
    for path in sorted((Path(run_dir) / "results").glob("*/*.json")):
        result = read_json(path, {})
        metrics = result.get("metrics", {})
        keys = [k for k in HEADLINE if k in metrics] or [
            k
            for k, v in metrics.items()
            if (v is None or isinstance(v, (int, float))) and "stderr" not in k and not k.endswith("_n")
        ]
        for key in keys:
            column = f"{result['task']}:{key}"
            if column not in columns:
                columns.append(column)
            value = metrics[key]
            text = "no score" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)
            rows.setdefault(result["model"], {})[column] = text
    if not rows:
        return "(no finished results)"
    header = ["model", *columns]
    table = [header] + [[model, *(cells.get(c, "-") for c in columns)] for model, cells in rows.items()]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
