"""The plain tables beside the leaderboards: other lmms-eval tasks, cost per sample (with the hardware each
latency was measured on), and, in the HTML page, the runs (date, git commit, lmms-eval, hardware, judge) and the
models (lmms-eval model, model arguments, checkpoint, provenance)."""

from __future__ import annotations

from collections.abc import Sequence

from future_l1.reports.formats import Table
from future_l1.reports.readers import RunResult
from future_l1.reports.records import FUTUREBENCH, MEASURED, OVERALL, TWIFFBENCH, Record


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
