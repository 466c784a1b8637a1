"""Read evaluation results: our run directories and plain lmms-eval output folders, into `RunResult`s.

A `RunResult` is one (model, task) evaluation: the aggregated metrics (`normalize_metrics` of lmms-eval's results
entry) and, when a samples file exists, the per-sample lines. Both follow `future_l1.tasks.results_schema`. Two layouts
are understood:

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

from future_l1.tasks.results_schema import (
    ResultsSchemaError,
    benchmark_of,
    normalize_metrics,
    parse_results,
    sample_record,
)


@dataclass
class RunResult:
    model: str
    task: str
    metrics: dict[str, Any]
    origin: str  # the run directory or results file this came from
    samples: list[dict[str, Any]] = field(default_factory=list)  # raw samples-jsonl lines
    n_samples: int | None = None
    meta: dict[str, str] = field(default_factory=dict)
    # Samples lines whose per-sample record is malformed: left out of every per-sample figure, and counted here.
    sample_errors: list[str] = field(default_factory=list)
    _dicts: list[dict[str, Any]] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def benchmark(self) -> str:
        return benchmark_of(self.task)

    def sample_dicts(self) -> list[dict[str, Any]]:
        """The task's per-sample records (`results_schema.FutureBenchSample` / `TwiffSample`), one per samples line
        that has a valid one."""
        if self._dicts is None:
            self._dicts = []
            for line in self.samples:
                try:
                    record = sample_record(line, self.task, set(self.metrics))
                except ResultsSchemaError as exc:
                    self.sample_errors.append(f"{self.origin}: {exc}")
                    continue
                if record is not None:
                    self._dicts.append(record)
        return self._dicts


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
        try:
            data = parse_results(_load_json(result_file), result_file)
        except ResultsSchemaError as exc:
            raise ReportInputError(str(exc)) from exc
        meta = dict(run_meta)
        for key in ("model_name", "model_args"):
            if getattr(data, key) is not None:
                meta[key] = str(getattr(data, key))
        samples_file = run_dir / "samples" / result_file.parent.name / f"{result_file.stem}.jsonl"
        out.append(
            RunResult(
                model=data.model,
                task=data.task,
                metrics=dict(data.metrics),
                origin=str(run_dir),
                samples=_load_jsonl(samples_file) if samples_file.exists() else [],
                n_samples=data.n_samples,
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
                metrics=normalize_metrics(entry),
                origin=str(results_file),
                samples=_load_jsonl(samples_file) if samples_file.exists() else [],
                n_samples=(n_samples.get(task) or {}).get("effective"),
                meta=meta,
            )
        )
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
