"""What a run writes about where its numbers came from: each results file's `Provenance` (data, judge, subset,
hardware, checkpoint), the judge record (`judge.json`) and the warnings printed before a run starts.

Data: a task entry's `data:` (and FutureBench's `clips:`) wins; else FUTURE_L1_FUTUREBENCH_DIR / _VIDEO_DIR /
FUTURE_L1_TWIFFBENCH_DIR; else the embedded demo set, which is marked "demo" everywhere (never comparable with
published numbers). `task_data` makes a task's folders active (`tasks.settings.active_data`) while its documents are
loaded and evaluated.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from future_l1.harness.suite_checks import RUBRIC_ROLE, checkpoint_provenance, data_folder
from future_l1.tasks import settings as data_settings
from future_l1.tasks.judge import JudgeConfig, current_config, public_url
from future_l1.tasks.results_schema import (
    FUTUREBENCH,
    TWIFFBENCH,
    DataProvenance,
    HardwareProvenance,
    JudgeProvenance,
    Provenance,
    SubsetProvenance,
    benchmark_of,
)

if TYPE_CHECKING:
    from future_l1.harness.suite_schema import Suite, TaskEntry


def suite_base(suite: Suite) -> Path:
    return suite.source.parent if suite.source else Path.cwd()


@contextlib.contextmanager
def task_data(suite: Suite, task: TaskEntry) -> Iterator[None]:
    """The task's suite-named data folders active for the duration (the environment stays the fallback), and its
    seeded sample across splits with `sample: stratified`."""
    bench = benchmark_of(task.name)
    if task.sample == "stratified" and task.limit is not None and bench in (FUTUREBENCH, TWIFFBENCH):
        with data_settings.active_subset(bench, task.limit, task.seed), _folders(suite, task, bench):
            yield
    else:
        with _folders(suite, task, bench):
            yield


@contextlib.contextmanager
def _folders(suite: Suite, task: TaskEntry, bench: str) -> Iterator[None]:
    base = suite_base(suite)
    data, clips = data_folder(task.data, base), data_folder(task.clips, base)
    demo = task.data is not None and data is None  # `data: demo` names the embedded set explicitly
    if bench == FUTUREBENCH and (data is not None or clips is not None or demo):
        with data_settings.active_data(futurebench=data, futurebench_video=clips, demo=(FUTUREBENCH,) if demo else ()):
            yield
    elif bench == TWIFFBENCH and (data is not None or demo):
        with data_settings.active_data(twiffbench=data, demo=(TWIFFBENCH,) if demo else ()):
            yield
    else:
        yield


def data_provenance(suite: Suite, task: TaskEntry, fingerprint: str | None = None) -> DataProvenance:
    """demo, or the folder the suite (or the environment) named; "unknown" for tasks of other benchmarks."""
    bench = benchmark_of(task.name)
    if bench not in (FUTUREBENCH, TWIFFBENCH):
        return DataProvenance(kind="unknown", fingerprint=fingerprint)
    with task_data(suite, task):
        if data_settings.is_demo(bench):
            return DataProvenance(kind="demo", path="embedded demo set", fingerprint=fingerprint)
        folder = data_settings.futurebench_dir() if bench == FUTUREBENCH else data_settings.twiffbench_dir()
    return DataProvenance(kind="folder", path=str(folder), fingerprint=fingerprint)


def judge_config(suite: Suite, task: TaskEntry) -> JudgeConfig | None:
    """The judge a task runs with: its role; the embedded rubric for `judge: rubric`; None = the environment's."""
    if task.judge is None:
        return None
    role = suite.judges.get(task.judge)
    if role is not None:
        return role.to_config()
    return JudgeConfig() if task.judge == RUBRIC_ROLE else None


def judge_provenance(suite: Suite, task: TaskEntry) -> JudgeProvenance:
    """Who scores the task's open answers (never the API key or URL credentials); kind "none" for rule-scored tasks."""
    if benchmark_of(task.name) != TWIFFBENCH:
        return JudgeProvenance(kind="none", role=task.judge)
    config = judge_config(suite, task) or current_config()
    public = config.public()
    rubric = public["provider"] == "rubric"
    return JudgeProvenance(
        kind="rubric" if rubric else "llm",
        role=task.judge,
        model="embedded rubric" if rubric else public["model"],
        endpoint=public["base_url"],
        prompt_version=public["prompt_version"],
        comparable=bool(public["comparable"]),
    )


def judge_record(suite: Suite) -> dict[str, Any]:
    """judge.json: per task, the role and the judge's public identity (None for tasks scored by rule)."""
    out: dict[str, Any] = {}
    for task in suite.tasks:
        if benchmark_of(task.name) != TWIFFBENCH and task.judge is None:
            out[task.name] = None
            continue
        role = suite.judges.get(task.judge) if task.judge else None
        settings = role.model_dump(exclude_none=True) if role is not None else None
        if settings and settings.get("base_url"):
            settings["base_url"] = public_url(settings["base_url"])
        out[task.name] = {"role": task.judge, "settings": settings,
                          "identity": judge_provenance(suite, task).model_dump()}  # fmt: skip
    return out


def subset_provenance(limit: int | float | None, n: int | None, n_total: int | None, sample: str = "first",
                      seed: int = 0) -> SubsetProvenance:  # fmt: skip
    """`limit` takes lmms-eval's first N documents (strategy "first"), or with `sample: stratified` a seeded sample
    across the splits (strategy "stratified", with its seed)."""
    if limit is None or (n is not None and n_total is not None and n >= n_total):
        return SubsetProvenance(strategy="all", n=n, n_total=n_total)
    if sample == "stratified":
        return SubsetProvenance(strategy="stratified", limit=limit, n=n, n_total=n_total, seed=seed)
    return SubsetProvenance(strategy="first", limit=limit, n=n, n_total=n_total)


def hardware_provenance(env: dict[str, Any] | None) -> HardwareProvenance:
    gpu = (env or {}).get("gpu")
    if isinstance(gpu, dict) and gpu.get("available"):
        names = gpu.get("names") or []
        return HardwareProvenance(kind="cuda", device=names[0] if names else None)
    if isinstance(gpu, dict):
        return HardwareProvenance(kind="cpu", device="cpu")
    return HardwareProvenance()


def entry_provenance(suite: Suite, label: str, task: TaskEntry, *, n: int | None, n_total: int | None,
                     fingerprint: str | None, env: dict[str, Any] | None) -> Provenance:  # fmt: skip
    """The provenance of one (model, task) row, from the suite as written (before `demo://` resolution)."""
    model = next(m for m in suite.models if m.label == label)
    return Provenance(
        data=data_provenance(suite, task, fingerprint),
        judge=judge_provenance(suite, task),
        subset=subset_provenance(task.limit, n, _total(task, n_total), task.sample, task.seed),
        hardware=hardware_provenance(env),
        checkpoint=checkpoint_provenance(model.model, model.label, model.args),
    )


def _total(task: TaskEntry, n_docs: int | None) -> int | None:
    """Documents of the whole task: the loader's count before a stratified sample was cut, else `n_docs`."""
    bench = benchmark_of(task.name)
    if task.sample == "stratified" and bench in (FUTUREBENCH, TWIFFBENCH):
        return data_settings.full_size(bench)
    return n_docs


def demo_tasks(suite: Suite) -> list[str]:
    """The suite's tasks that run on the embedded demo set (the run summary names them)."""
    return [t.name for t in suite.tasks if data_provenance(suite, t).kind == "demo"]


def preflight_warnings(suite: Suite) -> list[str]:
    """Printed before a run starts: a real checkpoint scored on demo data, and `limit`s that take the first N."""
    warnings = []
    demo = demo_tasks(suite)
    real = [m.label for m in suite.models
            if checkpoint_provenance(m.model, m.label, m.args).source in ("local", "hub", "plugin")]  # fmt: skip
    if demo and real:
        warnings.append(
            f"models {', '.join(real)} are not demo checkpoints, but tasks {', '.join(demo)} run on the "
            "embedded DEMO data (no `data:` in the suite and no FUTURE_L1_*_DIR set): their numbers say nothing about "
            "the real benchmarks; name the data folder with `data:` in the task entry"
        )
    for task in suite.tasks:
        if task.limit is not None and task.sample != "stratified":
            warnings.append(
                f"task {task.name!r}: limit {task.limit} takes lmms-eval's FIRST documents (not a sample across "
                "splits: add `sample: stratified` for one); its rows are marked as a subset and never ranked beside "
                "full runs"
            )
    return warnings
