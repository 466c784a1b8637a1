"""Read evaluation results: our run directories and plain lmms-eval output folders, into `RunResult`s.

A `RunResult` is one (model, task) evaluation: the aggregated metrics (`normalize_metrics` of lmms-eval's results
entry), the per-sample lines when a samples file exists, and the row's provenance (`reports.provenance`). Both
follow `future_l1.tasks.results_schema`. Two layouts are understood:

- a Future-L1 run directory (`future-l1 run`): results/<label>/<task>.json and samples/<label>/<task>.jsonl; the
  lmms_eval/ copy inside it is ignored so nothing is counted twice;
- any folder holding lmms-eval `--output_path` files: <ts>_results.json with <ts>_samples_<task>.jsonl beside it,
  searched recursively (one RunResult per task per results file); a folder of run directories is read run by run.

Every file is read as hostile (`reports.inputs`). A results or samples file that cannot be read refuses the report
with a `ReportInputError` naming it; a metadata file that cannot be read (env.json, judge.json, state.json) is
skipped and named in `RunResult.notes`. A metric that is NaN, infinite or not a number is kept out of the metrics
and named in `invalid_metrics` (tables show it as invalid). A samples line repeated for the same document is left
out after its first copy and counted in `notes`, so n and the intervals count each document once.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from future_l1.reports.inputs import ReportInputError, iter_jsonl, load_json
from future_l1.reports.provenance import RowProvenance, from_schema, infer
from future_l1.tasks.results_schema import (
    ResultsSchemaError,
    benchmark_of,
    normalize_metrics,
    parse_results,
    sample_record,
)

__all__ = ["ReportInputError", "RunResult", "read_lmms_results_file", "read_results", "read_run_dir"]

# lmms-eval model classes that wrap the real model: their name says nothing about what was evaluated.
WRAPPER_MODELS = {"JournalingModel"}


@dataclass
class RunResult:
    model: str
    task: str
    metrics: dict[str, Any]
    origin: str  # the run directory or results file this came from
    samples: list[dict[str, Any]] = field(default_factory=list)  # raw samples-jsonl lines, one per document
    n_samples: int | None = None
    meta: dict[str, str] = field(default_factory=dict)
    # Samples lines whose per-sample record is malformed: left out of every per-sample figure, and counted here.
    sample_errors: list[str] = field(default_factory=list)
    provenance: RowProvenance = field(default_factory=RowProvenance)
    invalid_metrics: dict[str, str] = field(default_factory=dict)  # metric -> why it is not a number
    notes: list[str] = field(default_factory=list)  # input problems the report names (skipped files, duplicates)
    latent_diagnostics: dict[str, Any] = field(default_factory=dict)  # results.json's, per split (issue 29)
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
                bad = _non_finite_score(record)
                if bad:
                    self.sample_errors.append(f"{self.origin}: {self.task} doc {line.get('doc_id')}: {bad}")
                    continue
                if record is not None:
                    self._dicts.append(record)
        return self._dicts


def _non_finite_score(record: Mapping[str, Any] | None) -> str:
    for key in ("cot", "answer_score"):
        value = record.get(key) if record else None
        if isinstance(value, float) and not math.isfinite(value):
            return f"malformed sample record: {key} is {value} (not a finite score)"
    return ""


def read_results(paths: Iterable[Path]) -> list[RunResult]:
    """All RunResults under the given run directories / lmms-eval output folders, in a stable order."""
    out: list[RunResult] = []
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise ReportInputError(f"{path}: no such file or directory (pass a run directory or lmms-eval output)")
        if path.is_dir() and (path / "results").is_dir():
            found = read_run_dir(path)
        elif path.is_file() and path.name.endswith("_results.json"):
            found = read_lmms_results_file(path)
        elif path.is_dir():
            found = _read_folder(path)
        else:
            found = []
        if not found:
            raise ReportInputError(
                f"{path}: found neither results/<model>/<task>.json (a future-l1 run directory) nor "
                "<timestamp>_results.json (lmms-eval --output_path); point at one of those"
            )
        out.extend(found)
    return out


def _read_folder(folder: Path) -> list[RunResult]:
    """Run directories inside `folder` (read as runs, their lmms_eval/ copies ignored) and lmms-eval files."""
    runs = sorted(p.parent for p in folder.rglob("results") if p.is_dir() and (p.parent / "state.json").is_file())
    out = [r for run in runs for r in read_run_dir(run)]
    for f in sorted(folder.rglob("*_results.json")):
        if not any(run in f.parents for run in runs):
            out += read_lmms_results_file(f)
    return out


# ---------------------------------------------------------------- Future-L1 run directories


def read_run_dir(run_dir: Path) -> list[RunResult]:
    """A Future-L1 run directory; unfinished entries (no results file yet) are skipped."""
    notes: list[str] = []
    env = _metadata(run_dir / "env.json", notes)
    judges = _metadata(run_dir / "judge.json", notes)
    state = _metadata(run_dir / "state.json", notes)
    hashes = _metadata(run_dir / "hashes.json", notes)
    datasets = hashes.get("datasets") if isinstance(hashes.get("datasets"), dict) else {}
    run_meta = {"run_id": run_dir.name, **_scalars(env, "env."), **_scalars(judges, "judge.")}
    if isinstance(state.get("updated"), str):
        run_meta["date"] = state["updated"]
    out = []
    for result_file in sorted((run_dir / "results").glob("*/*.json")):
        raw = load_json(result_file, "results file")
        metrics, invalid = split_metrics(raw.get("metrics"))
        try:
            data = parse_results({**raw, "metrics": metrics} if isinstance(raw.get("metrics"), dict) else raw,
                                 result_file)  # fmt: skip
        except ResultsSchemaError as exc:
            raise ReportInputError(str(exc)) from None
        meta = dict(run_meta)
        for key in ("model_name", "model_args"):
            if getattr(data, key) is not None:
                meta[key] = str(getattr(data, key))
        role = judges.get(data.task)
        if isinstance(role, dict) and isinstance(role.get("role"), str):
            meta["judge.role"] = role["role"]
        samples_file = run_dir / "samples" / result_file.parent.name / f"{result_file.stem}.jsonl"
        result = RunResult(
            model=data.model,
            task=data.task,
            metrics=dict(data.metrics),
            origin=str(run_dir),
            n_samples=data.n_samples,
            meta=meta,
            invalid_metrics=invalid,
            notes=list(notes),
            latent_diagnostics=raw["latent_diagnostics"] if isinstance(raw.get("latent_diagnostics"), dict) else {},
        )
        if samples_file.exists() or samples_file.is_symlink():
            result.samples = _load_samples(samples_file, result)
        if data.provenance is not None:
            result.provenance = from_schema(data.provenance)
        else:
            limit = data.config.get("limit") if isinstance(data.config, dict) else None
            result.provenance = infer(data.task, result.sample_dicts(), limit=limit, n=data.n_samples, env=env,
                                      fingerprint=datasets.get(data.task),
                                      intervention=model_arg(meta.get("model_args"), "latent_intervention"))  # fmt: skip
        out.append(result)
    return out


def _metadata(path: Path, notes: list[str]) -> dict[str, Any]:
    """A small JSON object (env.json, judge.json, state.json); {} and a note when it is missing or unreadable."""
    if not path.exists() and not path.is_symlink():
        return {}
    try:
        return load_json(path, "run metadata file (a JSON object)")
    except ReportInputError as exc:
        notes.append(f"skipped {exc}")
        return {}


def _scalars(data: Mapping[str, Any], prefix: str) -> dict[str, str]:
    """Top-level scalar entries of a metadata object, as strings with a prefix (nested entries are left out)."""
    out = {f"{prefix}{k}": str(v) for k, v in sorted(data.items()) if isinstance(v, (str, int, float, bool))}
    packages = data.get("packages")
    if isinstance(packages, dict) and isinstance(packages.get("lmms-eval"), str):
        out[f"{prefix}lmms_eval"] = packages["lmms-eval"]
    return out


def split_metrics(metrics: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """({metric: number or None}, {metric: why it is invalid}) of a results file's metrics object.

    Checked before the schema sees them: pydantic would turn the string "61" into 61.0 and "nan" into NaN."""
    if not isinstance(metrics, dict):
        return {}, {}
    valid: dict[str, Any] = {}
    invalid: dict[str, str] = {}
    for key, value in metrics.items():
        problem = invalid_value(value)
        if problem:
            invalid[str(key)] = problem
        else:
            valid[key] = value
    return valid, invalid


def invalid_value(value: Any) -> str:
    """Why `value` is not a usable metric ('' when it is a finite number or None, which means "no score")."""
    if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)):
        return ""
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else "infinite"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean, not a number)"
    if isinstance(value, str):
        return f"text {value[:40]!r} (not a number)"
    return f"a {type(value).__name__} (not a number)"


def _load_samples(path: Path, result: RunResult) -> list[dict[str, Any]]:
    """The samples lines of one (model, task), each document once: a repeated line is left out and counted."""
    lines: list[dict[str, Any]] = []
    first: dict[Any, dict[str, Any]] = {}
    repeated: list[tuple[int, Any, bool]] = []  # (line number, key, differs from the first copy)
    for n, line in iter_jsonl(path):
        key = _doc_key(line)
        if key in first:
            repeated.append((n, key[1], line != first[key]))
            continue
        first[key] = line
        lines.append(line)
    if repeated:
        differ = sum(1 for _, _, d in repeated if d)
        shown = ", ".join(f"line {n} ({k})" for n, k, _ in repeated[:5]) + (" …" if len(repeated) > 5 else "")
        result.notes.append(
            f"{path}: {len(repeated)} repeated sample line(s) for a document already read, left out: {shown}"
            + (f"; {differ} of them differ from the first copy, which was kept" if differ else "")
        )
    if result.n_samples is not None and len(lines) != result.n_samples:
        result.notes.append(
            f"{path}: {len(lines)} distinct samples, but the results file says n_samples = {result.n_samples}"
        )
    return lines


def _doc_key(line: dict[str, Any]) -> tuple[str, Any]:
    """One document per key: doc_id when it is a plain id, else the sample hash, else the whole line."""
    doc_id = line.get("doc_id")
    if isinstance(doc_id, (int, str)) and not isinstance(doc_id, bool):
        return ("doc_id", doc_id)
    if isinstance(line.get("sample_hash"), str):
        return ("sample_hash", line["sample_hash"])
    return ("line", json.dumps(line, sort_keys=True, default=str))


# ---------------------------------------------------------------- plain lmms-eval output


def read_lmms_results_file(results_file: Path) -> list[RunResult]:
    """One lmms-eval <ts>_results.json and the samples files written beside it."""
    data = load_json(results_file, "lmms-eval results file")
    stamp = results_file.name.removesuffix("_results.json")
    config = data.get("config") if isinstance(data.get("config"), dict) else {}
    entries = data.get("results")
    if not isinstance(entries, dict):
        raise ReportInputError(f"{results_file}: no 'results' object; not an lmms-eval results file")
    run_dir = _enclosing_run(results_file)
    notes: list[str] = []
    env = _metadata(run_dir / "env.json", notes) if run_dir else {}
    meta = {
        "run_id": stamp,
        "model_name": str(config.get("model", "")),
        "model_args": str(config.get("model_args", "")),
    }
    for key, name in (("lmms_eval_version", "env.lmms_eval"), ("git_hash", "env.git_hash"), ("date", "date")):
        if isinstance(data.get(key), (str, int, float)) and not isinstance(data.get(key), bool) and data.get(key):
            meta[name] = str(data[key])
    n_samples = data.get("n-samples") if isinstance(data.get("n-samples"), dict) else {}
    groups = data.get("groups") if isinstance(data.get("groups"), dict) else {}
    task_hashes = data.get("task_hashes") if isinstance(data.get("task_hashes"), dict) else {}
    # the copy inside a run directory is named by its suite label (lmms-eval saw only the JournalingModel wrapper)
    model = results_file.parent.parent.name if run_dir else lmms_model_name(data, config, results_file)
    out = []
    for task, entry in sorted(entries.items()):
        if task in groups:
            continue  # group rows aggregate leaf tasks that are read on their own
        if not isinstance(entry, dict):
            raise ReportInputError(f"{results_file}: results.{task} is a {type(entry).__name__}, not an object")
        counts = n_samples.get(task) if isinstance(n_samples.get(task), dict) else {}
        effective, original = _count(counts.get("effective")), _count(counts.get("original"))
        metrics, invalid = _lmms_metrics(entry)
        result = RunResult(
            model=str(model),
            task=str(task),
            metrics=metrics,
            origin=str(results_file),
            n_samples=effective,
            meta=dict(meta),
            invalid_metrics=invalid,
            notes=list(notes),
        )
        samples_file = results_file.with_name(f"{stamp}_samples_{task}.jsonl")
        if samples_file.exists() or samples_file.is_symlink():
            result.samples = _load_samples(samples_file, result)
        result.provenance = infer(
            result.task, result.sample_dicts(), limit=config.get("limit"), n=effective, n_total=original, env=env,
            fingerprint=task_hashes.get(task),
            intervention=model_arg(config.get("model_args"), "latent_intervention"),
        )  # fmt: skip
        out.append(result)
    return out


def _count(x: Any) -> int | None:
    return x if isinstance(x, int) and not isinstance(x, bool) and x >= 0 else None


def _lmms_metrics(entry: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """normalize_metrics of an lmms-eval entry, with NaN, infinite and text values named instead of kept or dropped
    (structured values, dicts and lists, are not metrics and are left out as before)."""
    invalid = {}
    clean = {}
    for key, value in entry.items():
        name, _, filt = str(key).partition(",")
        if key == "alias" or "_stderr" in name or isinstance(value, (dict, list)):
            continue
        problem = invalid_value(value)
        if problem:
            invalid[name if filt in ("", "none") else str(key)] = problem
        else:
            clean[key] = value
    return normalize_metrics(clean), invalid


def _enclosing_run(results_file: Path) -> Path | None:
    """The run directory when `results_file` is the lmms_eval/<label>/<task>/ copy a future-l1 run keeps."""
    parents = results_file.parents
    if len(parents) > 3 and parents[2].name == "lmms_eval" and (parents[3] / "results").is_dir():
        return parents[3]
    return None


def lmms_model_name(data: Mapping[str, Any], config: Mapping[str, Any], results_file: Path) -> str:
    """A readable name: lmms-eval's model_name (a local path shortened to its folder name: lmms-eval's sanitised
    `__ckpt` becomes `ckpt`), else `pretrained=` of the model args, else the lmms-eval model (never a wrapper class
    such as JournalingModel), else the folder name."""
    name = data.get("model_name")
    if isinstance(name, str) and name.strip():
        return _display_name(name)
    pretrained = model_arg(config.get("model_args"), "pretrained")
    if pretrained:
        return _display_name(pretrained)
    for name in (data.get("model_source"), config.get("model")):
        if isinstance(name, str) and name.strip() and name not in WRAPPER_MODELS:
            return name
    return results_file.parent.name


def _display_name(name: str) -> str:
    name = name.strip()
    if name.startswith(("/", "./", "../", "~")):
        return PurePath(name.rstrip("/")).name or name
    return name


def model_arg(model_args: Any, key: str) -> str:
    """The value of `key=` in an lmms-eval model_args string ('' when absent)."""
    for part in str(model_args or "").split(","):
        k, _, value = part.partition("=")
        if k.strip() == key and value.strip():
            return value.strip()
    return ""
