"""Read evaluation results: our run directories and plain lmms-eval output folders, into `RunResult`s.

A `RunResult` is one (model, task) evaluation: the aggregated metrics (lmms-eval's results entry with the ",none"
filter suffix removed) and, when a samples file exists, the per-sample lines. Two layouts are understood:

- a Future-L1 run directory (`future-l1 run`): results/<label>/<task>.json and samples/<label>/<task>.jsonl; the
  lmms_eval/ copy inside it is ignored so nothing is counted twice;
- any folder holding lmms-eval `--output_path` files: <ts>_results.json with <ts>_samples_<task>.jsonl beside it,
  searched recursively (one RunResult per task per results file).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from future_l1.reports.records import FUTUREBENCH, TWIFFBENCH, benchmark_of

# Metric keys under which our tasks store their per-sample dict (the same object under every key).
_SAMPLE_DICT_KEYS = {FUTUREBENCH: "future_acc", TWIFFBENCH: "twiff_avg"}


@dataclass
class RunResult:
    model: str
    task: str
    metrics: dict[str, Any]
    origin: str  # the run directory or results file this came from
    samples: list[dict[str, Any]] = field(default_factory=list)  # raw samples-jsonl lines
    n_samples: int | None = None
    meta: dict[str, str] = field(default_factory=dict)

    @property
    def benchmark(self) -> str:
        return benchmark_of(self.task)

    def sample_dicts(self) -> list[dict[str, Any]]:
        """The task's per-sample dicts (see CONTEXT contracts), one per samples line that has one."""
        key = _SAMPLE_DICT_KEYS.get(self.benchmark)
        out = []
        for line in self.samples:
            d = line.get(key) if key else None
            if not isinstance(d, dict):  # a plain lmms-eval file of another version: take any dict-valued metric
                d = next((v for k, v in line.items() if k in self.metrics and isinstance(v, dict)), None)
            if isinstance(d, dict):
                out.append(d)
        return out


class ReportInputError(ValueError):
    """A path given to the report reader holds no results we can read."""


def read_results(paths: Iterable[Path]) -> list[RunResult]:
    """All RunResults under the given run directories / lmms-eval output folders, in a stable order."""
    out: list[RunResult] = []
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise ReportInputError(f"{path}: no such file or directory (pass a run directory or lmms-eval output)")
        if (path / "results").is_dir():
            found = read_run_dir(path)
        elif path.is_file() and path.name.endswith("_results.json"):
            found = read_lmms_results_file(path)
        else:
            found = [r for f in sorted(path.rglob("*_results.json")) for r in read_lmms_results_file(f)]
        if not found:
            raise ReportInputError(
                f"{path}: found neither results/<model>/<task>.json (a future-l1 run directory) nor "
                "<timestamp>_results.json (lmms-eval --output_path); point at one of those"
            )
        out.extend(found)
    return out


def read_run_dir(run_dir: Path) -> list[RunResult]:
    """A Future-L1 run directory; unfinished entries (no results file yet) are skipped."""
    run_meta = {"run_id": run_dir.name, **_scalar_meta(run_dir / "env.json", "env.")}
    run_meta.update(_scalar_meta(run_dir / "judge.json", "judge."))
    out = []
    for result_file in sorted((run_dir / "results").glob("*/*.json")):
        data = _load_json(result_file)
        label, task = data.get("model", result_file.parent.name), data.get("task", result_file.stem)
        meta = dict(run_meta)
        for key in ("model_name", "model_args"):
            if data.get(key) is not None:
                meta[key] = str(data[key])
        samples_file = run_dir / "samples" / result_file.parent.name / f"{result_file.stem}.jsonl"
        out.append(
            RunResult(
                model=label,
                task=task,
                metrics=dict(data.get("metrics", {})),
                origin=str(run_dir),
                samples=_load_jsonl(samples_file) if samples_file.exists() else [],
                n_samples=data.get("n_samples"),
                meta=meta,
            )
        )
    return out


def read_lmms_results_file(results_file: Path) -> list[RunResult]:
    """One lmms-eval <ts>_results.json and the samples files written beside it."""
    data = _load_json(results_file)
    stamp = results_file.name.removesuffix("_results.json")
    config = data.get("config", {}) or {}
    model = (
        data.get("model_name_sanitized") or data.get("model_name") or config.get("model") or results_file.parent.name
    )
    meta = {
        "run_id": stamp,
        "model_name": str(config.get("model", "")),
        "model_args": str(config.get("model_args", "")),
    }
    for key in ("lmms_eval_version", "git_hash"):
        if data.get(key):
            meta[key] = str(data[key])
    n_samples = data.get("n-samples", {}) or {}
    out = []
    for task, entry in sorted((data.get("results") or {}).items()):
        if task in (data.get("groups") or {}):
            continue  # group rows aggregate leaf tasks that are read on their own
        samples_file = results_file.with_name(f"{stamp}_samples_{task}.jsonl")
        out.append(
            RunResult(
                model=str(model),
                task=task,
                metrics=strip_filter_suffix(entry),
                origin=str(results_file),
                samples=_load_jsonl(samples_file) if samples_file.exists() else [],
                n_samples=(n_samples.get(task) or {}).get("effective"),
                meta=meta,
            )
        )
    return out


def strip_filter_suffix(entry: dict[str, Any]) -> dict[str, Any]:
    """{"future_acc,none": 61.0, "future_acc_stderr,none": "N/A", "alias": ...} -> {"future_acc": 61.0}."""
    out = {}
    for key, value in entry.items():
        if "," not in key:
            continue
        name = key.split(",", 1)[0]
        if "_stderr" in name or not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        out[name] = value
    return out


def _load_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ReportInputError(f"{path}: not valid JSON ({exc}); re-run the evaluation or remove the file") from exc


def _load_jsonl(path: Path) -> list[dict[str, Any]]:
    lines = []
    # split on "\n" only: str.splitlines() also splits on U+2028, U+0085 … that answers may hold
    for n, text in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
        if not text.strip():
            continue
        try:
            lines.append(json.loads(text))
        except json.JSONDecodeError as exc:
            raise ReportInputError(f"{path}:{n}: not valid JSON ({exc}); the samples file is truncated?") from exc
    return lines


def _scalar_meta(path: Path, prefix: str) -> dict[str, str]:
    """Top-level scalar entries of a small JSON file (env.json, judge.json), as strings with a prefix."""
    if not path.exists():
        return {}
    data = _load_json(path)
    return {f"{prefix}{k}": str(v) for k, v in sorted(data.items()) if isinstance(v, (str, int, float, bool))}
