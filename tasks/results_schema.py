"""The results schema: one typed, versioned contract between the tasks, the runner and the reports.

A run directory (`future-l1 run`) holds, per evaluated (model, task):

- `results/<model>/<task>.json`: one `ResultsFile` (aggregated metrics, sample count, the exact configuration);
- `samples/<model>/<task>.jsonl`: one `SampleLine` per evaluated document: lmms-eval's own sample fields plus
  model, task, sample_hash and latency_s, and, under the metric key `SAMPLE_KEYS[benchmark]`, the task's
  per-sample record (`FutureBenchSample` or `TwiffSample`).

The tasks fill the per-sample records (`tasks/*/scoring.py`), the runner writes both files, and the reports read them
back through `read_results_file` and `sample_record`. Metric names are normalised in one place, `normalize_metrics`,
for our runs and for plain lmms-eval output alike.

Versioning: `SCHEMA_VERSION` is written into every results file. Files written before the field existed have the
same layout and are read as version 1; a file from a newer version is refused with an error that says so.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

# 2: results files carry `provenance` (what produced the numbers); version-1 files are read with provenance None.
SCHEMA_VERSION = 2

FUTUREBENCH = "futurebench"
TWIFFBENCH = "twiffbench"
# The metric key under which a samples line carries the task's per-sample record (lmms-eval stores the dict that
# `process_results` returned under each metric key; this key's record is the complete one, TwiFF's judge reasoning is
# stored under it only).
SAMPLE_KEYS = {FUTUREBENCH: "future_acc", TWIFFBENCH: "twiff_avg"}


# A model argument `run://PATH` names PATH inside the run directory (e.g. save_latents), so a run directory stays
# relocatable: the suite, the run's identity and its results keep `run://PATH`; only the model sees the real path.
RUN_SCHEME = "run://"


def run_path(value: str, run_dir: str | Path | None) -> Path | None:
    """The path a `run://PATH` value names inside `run_dir` (None without a run directory); any other value as is."""
    if not value.startswith(RUN_SCHEME):
        return Path(value)
    return Path(run_dir) / value[len(RUN_SCHEME) :] if run_dir is not None else None


class ResultsSchemaError(ValueError):
    """A results or samples file does not follow this schema; the message names the file and the fix."""


def benchmark_of(task: str) -> str:
    """The benchmark a task belongs to (its three prompt variants share one); any other task is its own."""
    for bench in (FUTUREBENCH, TWIFFBENCH):
        if task == bench or task.startswith(bench + "_"):
            return bench
    return task


def normalize_metrics(entry: dict[str, Any]) -> dict[str, float | int | None]:
    """lmms-eval's results entry for one task -> {metric: value}: the one place metric names are normalised.

    `"future_acc,none": 61.0` becomes `"future_acc": 61.0`; a metric under another filter keeps it
    (`"exact_match,strict-match"`), so two filters never overwrite each other. Dropped: `alias`, stderr entries (our
    reports compute bootstrap intervals from the samples instead) and "N/A" (what lmms-eval writes for a stderr it did
    not compute). Kept: numbers, and None, which means "no score" (e.g. TwiFF with no judged sample), never 0.
    """
    metrics: dict[str, float | int | None] = {}
    for key, value in entry.items():
        name, _, filt = key.partition(",")
        if key == "alias" or "_stderr" in name or isinstance(value, (bool, str, dict, list)):
            continue
        if value is None or isinstance(value, (int, float)):
            metrics[name if filt in ("", "none") else key] = value
    return metrics


class FutureBenchSample(BaseModel):
    """One FutureBench answer, as scored by `tasks/futurebench/scoring.py` (FutureBench paper's multiple choice)."""

    model_config = ConfigDict(extra="allow")

    doc_id: int = Field(description="lmms-eval document index; -1 when the document itself could not be read")
    id: str = Field(description="the benchmark's question id")
    split: str = Field(description="hop1 | hop2 | hop3 | interp (interp is the data's hop5)")
    pred: str = Field(description="parsed option letter, '' when none could be parsed")
    pred_strict: str = Field(description="option letter under the strict format (inside <answer> tags)")
    answer: str = Field(description="gold option letter")
    correct: int = Field(ge=0, le=1)
    correct_strict: int = Field(ge=0, le=1)
    error: str | None = Field(description="data or model error; an erroneous sample is scored wrong and counted")
    latent_spans: list[int] = Field(description="latent steps per <|latent_start|>…<|latent_end|> span")


class TwiffSample(BaseModel):
    """One TwiFF-Bench answer, as judged by `tasks/twiffbench/scoring.py` (0-5 scores; TwiFF's judge rubric)."""

    model_config = ConfigDict(extra="allow")

    doc_id: int
    id: str
    category: str | None = None
    cot: float | None = Field(description="reasoning-chain score, None when not judged")
    answer_score: float | None = Field(description="answer score, None when not judged")
    judged: bool
    error: str | None = Field(description="data, model or judge error; a failed judgement is counted, never 0")
    judge: dict[str, Any] | None = Field(description="the judge role that scored it (public fields, no secrets)")
    latent_spans: list[int] = Field(default_factory=list)
    pred_answer: str = ""
    judge_reasoning: str = ""


SAMPLE_TYPES: dict[str, type[BaseModel]] = {FUTUREBENCH: FutureBenchSample, TWIFFBENCH: TwiffSample}


class DataProvenance(BaseModel):
    """Which data a (model, task) was scored on."""

    model_config = ConfigDict(extra="allow")

    kind: Literal["demo", "folder", "hub", "unknown"] = Field(
        "unknown", description="demo = the embedded generated set (never comparable with published numbers)"
    )
    path: str | None = Field(None, description="the data folder or hub id, as the suite or environment named it")
    fingerprint: str | None = Field(None, description="content hash of the evaluated documents")


class JudgeProvenance(BaseModel):
    """Who scored open answers; `kind: none` for tasks scored by rule (FutureBench)."""

    model_config = ConfigDict(extra="allow")

    kind: Literal["none", "llm", "rubric"] = "none"
    role: str | None = Field(None, description="the suite's judge role name")
    model: str | None = None
    endpoint: str | None = Field(None, description="base URL with credentials removed, or 'embedded'")
    prompt_version: str | None = None
    comparable: bool = Field(True, description="scores comparable with published LLM-judge numbers")


class SubsetProvenance(BaseModel):
    """Whether every document was evaluated (`limit` in the suite)."""

    model_config = ConfigDict(extra="allow")

    strategy: Literal["all", "first", "stratified"] = "all"
    limit: int | float | None = None
    n: int | None = Field(None, description="documents evaluated")
    n_total: int | None = Field(None, description="documents in the task")
    seed: int | None = None


class HardwareProvenance(BaseModel):
    """Where latencies were measured (a CPU latency and an H200 latency are never drawn on one axis)."""

    model_config = ConfigDict(extra="allow")

    kind: Literal["cpu", "cuda", "api", "unknown"] = "unknown"
    device: str | None = Field(None, description="e.g. 'NVIDIA H200', 'cpu (AMD EPYC, 2 cores)'")


class CheckpointProvenance(BaseModel):
    """The model's weights: a local folder, a hub id at a resolved revision, the demo checkpoint, or a plugin's id."""

    model_config = ConfigDict(extra="allow")

    source: Literal["local", "hub", "demo", "plugin", "none", "unknown"] = "unknown"
    ref: str | None = None
    revision: str | None = Field(None, description="hub commit hash, resolved before the run")


class Provenance(BaseModel):
    """What produced a row of numbers: every table and summary shows `tags()` beside the row."""

    model_config = ConfigDict(extra="allow")

    data: DataProvenance = Field(default_factory=DataProvenance)
    judge: JudgeProvenance = Field(default_factory=JudgeProvenance)
    subset: SubsetProvenance = Field(default_factory=SubsetProvenance)
    hardware: HardwareProvenance = Field(default_factory=HardwareProvenance)
    checkpoint: CheckpointProvenance = Field(default_factory=CheckpointProvenance)
    intervention: str | None = Field(None, description="latent intervention applied in decoding ('none' = unperturbed)")

    @property
    def comparable(self) -> bool:
        """True when the row may be ranked beside published numbers: real data, every document, a comparable judge."""
        return self.data.kind not in ("demo", "unknown") and self.subset.strategy == "all" and self.judge.comparable

    def tags(self) -> list[str]:
        """Short labels for tables ('demo data', 'rubric judge', 'subset 8/24', …); empty for a comparable row."""
        tags = []
        if self.data.kind == "demo":
            tags.append("demo data")
        elif self.data.kind == "unknown":
            tags.append("data unknown")
        if self.judge.kind == "rubric":
            tags.append("rubric judge")
        elif self.judge.kind == "llm" and not self.judge.comparable:
            tags.append(f"judge {self.judge.model}")
        if self.subset.strategy != "all":
            of = f"/{self.subset.n_total}" if self.subset.n_total is not None else ""
            tags.append(f"subset {self.subset.n if self.subset.n is not None else self.subset.limit}{of}")
        if self.intervention and self.intervention != "none":
            tags.append(f"intervention {self.intervention}")
        return tags


class ResultsFile(BaseModel):
    """`results/<model>/<task>.json`, written by the runner once a (model, task) finishes."""

    model_config = ConfigDict(extra="allow", protected_namespaces=())

    schema_version: int = SCHEMA_VERSION
    model: str = Field(description="the suite's model label")
    task: str = Field(description="lmms-eval task name")
    model_name: str | None = Field(None, description="lmms-eval model name (e.g. future_l1)")
    model_args: str | None = Field(None, description="lmms-eval model_args string, as the suite gave it")
    metrics: dict[str, float | int | None] = Field(description="normalize_metrics() of lmms-eval's results entry")
    n_samples: int | None = Field(None, description="documents evaluated")
    config: dict[str, Any] = Field(default_factory=dict, description="lmms-eval config, task config, judge role")
    provenance: Provenance | None = Field(None, description="what produced the numbers; None in version-1 files")


class SampleLine(BaseModel):
    """One line of `samples/<model>/<task>.jsonl`: lmms-eval's sample fields (kept as they are) plus ours."""

    model_config = ConfigDict(extra="allow", protected_namespaces=())

    model: str
    task: str
    doc_id: int
    sample_hash: str = Field(description="sha256 of (doc hash, model input, journal key): pairs samples across runs")
    latency_s: float | None = Field(None, description="wall time of the model call that answered it")


def results_json(results: ResultsFile) -> str:
    """The JSON text of a results file (the runner writes it atomically)."""
    return json.dumps(results.model_dump(mode="json"), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def read_results_file(path: Path) -> ResultsFile:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ResultsSchemaError(f"{path}: not valid JSON ({exc}); re-run the evaluation or remove the file") from exc
    return parse_results(data, path)


def parse_results(data: Any, origin: Path | str) -> ResultsFile:
    if not isinstance(data, dict):
        raise ResultsSchemaError(f"{origin}: a results file holds a JSON object, found {type(data).__name__}")
    version = data.get("schema_version", 1)
    if type(version) is not int or version > SCHEMA_VERSION:  # bool is an int subclass: refused too
        raise ResultsSchemaError(
            f"{origin}: results schema version {version!r}; this future-l1 reads up to {SCHEMA_VERSION} "
            "(upgrade future-l1 to read it)"
        )
    try:
        return ResultsFile.model_validate(data)
    except ValidationError as exc:
        raise ResultsSchemaError(f"{origin}: not a future-l1 results file: {_first_error(exc)}") from exc


def sample_line(fields: dict[str, Any]) -> str:
    """One samples-file line (validated: model, task, doc_id and sample_hash must be there). lmms-eval's own fields
    pass through as they are; a value JSON cannot hold is written as its str()."""
    return json.dumps(SampleLine.model_validate(fields).model_dump(), ensure_ascii=False, default=str)


def sample_record(line: dict[str, Any], task: str, metric_keys: set[str] | None = None) -> dict[str, Any] | None:
    """The task's per-sample record in one samples line, validated; None when the line carries none.

    For a task of neither benchmark (or a file of another lmms-eval version), the first dict under one of
    `metric_keys` is taken as it is.
    """
    bench = benchmark_of(task)
    key = SAMPLE_KEYS.get(bench)
    record = line.get(key) if key else None
    if not isinstance(record, dict):
        record = next((v for k, v in line.items() if k in (metric_keys or ()) and isinstance(v, dict)), None)
        return record if isinstance(record, dict) else None
    try:
        return SAMPLE_TYPES[bench].model_validate(record).model_dump()
    except ValidationError as exc:
        raise ResultsSchemaError(
            f"{task} doc {line.get('doc_id')}: malformed sample record: {_first_error(exc)}"
        ) from exc


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ())) or "(top level)"
    return f"{where}: {err.get('msg')}"
