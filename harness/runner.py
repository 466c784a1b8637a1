"""Execute a suite through lmms-eval's Python API, one (model, task) entry at a time, resumably.

Per entry: `simple_evaluate(model=<journaling proxy>, tasks=[task], task_manager=TaskManager(include_path=...,
include_defaults=False))`, then rank 0 writes lmms-eval's own files (EvaluationTracker), our results/samples files and
marks the entry done in state.json. A finished entry is skipped on re-run; an unfinished one replays its journal.
Data parallel: started under `torchrun`/`accelerate launch` (WORLD_SIZE > 1) the harness joins a gloo (CPU) or
gloo+nccl (GPU) process group; lmms-eval shards the docs, each rank journals its own answers and rank 0 writes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from future_l1.harness import rundir as rd
from future_l1.harness.suite import Suite, SuiteError, checkpoint_paths, resolve_checkpoints, resolve_include_paths
from future_l1.harness.suite import validate as validate_suite

SECRET_WORDS = ("key", "token", "secret", "password")


@dataclass
class RunOutcome:
    run_dir: Path
    failures: list[str] = field(default_factory=list)
    computed: int = 0
    reused: int = 0


def run_id_for(suite: Suite, new: bool = False) -> str:
    base = f"{suite.name}-{suite.content_hash[:12]}"
    return f"{base}-{time.strftime('%Y%m%d-%H%M%S')}" if new else base


# ---------------------------------------------------------------------------------------------------------------
# Distributed helpers (no-ops in a single process)


def world() -> tuple[int, int]:
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def init_distributed() -> None:
    import torch
    import torch.distributed as dist

    _, size = world()
    if size > 1 and not dist.is_initialized():
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
            dist.init_process_group(backend="cpu:gloo,cuda:nccl")
        else:
            dist.init_process_group(backend="gloo")


def broadcast(obj: Any) -> Any:
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()


# ---------------------------------------------------------------------------------------------------------------
# Judge roles


def redact(settings: dict[str, Any]) -> dict[str, Any]:
    return {k: ("***" if any(w in k.lower() for w in SECRET_WORDS) else v) for k, v in settings.items()}


@contextlib.contextmanager
def judge_env(settings: dict[str, Any] | None) -> Iterator[None]:
    """Export a judge role as FUTURE_L1_JUDGE_<KEY> variables (read by future_l1.tasks) for one entry.

    Keys map to the tasks package's variables (base_url, model, api_key, temperature, max_tokens, timeout, …)."""
    if settings is None:  # no role: the user's environment applies unchanged
        yield
        return
    saved = {k: v for k, v in os.environ.items() if k.startswith("FUTURE_L1_JUDGE_")}
    try:
        settings = dict(settings)
        # provider "offline" (or none): leave FUTURE_L1_JUDGE_BASE_URL unset, which selects the tasks package's
        # embedded rubric judge (it labels its scores as not comparable with LLM-judge numbers)
        settings.pop("provider", None)
        for key in [k for k in os.environ if k.startswith("FUTURE_L1_JUDGE_")]:
            del os.environ[key]
        for key, value in settings.items():
            os.environ[f"FUTURE_L1_JUDGE_{key.upper()}"] = str(value)
        yield
    finally:
        for key in [k for k in os.environ if k.startswith("FUTURE_L1_JUDGE_")]:
            del os.environ[key]
        os.environ.update(saved)


# ---------------------------------------------------------------------------------------------------------------
# Result files


def strip_metrics(entry: dict[str, Any]) -> dict[str, Any]:
    metrics = {}
    for key, value in entry.items():
        if key == "alias" or value == "N/A":  # stderr of custom aggregations: not computed, not a value
            continue
        name, _, filt = key.partition(",")
        metrics[name if filt in ("", "none") else key] = value
    return metrics


def sample_lines(samples: list[dict[str, Any]], label: str, task: str, journal: dict[str, dict]) -> list[str]:
    """lmms-eval's sample lines (already sanitised by EvaluationTracker) plus model, task, sample_hash, latency_s."""
    by_doc: dict[tuple[str, int], dict] = {}
    for rec in journal.values():
        by_doc.setdefault((rec["task"], rec["doc_id"]), rec)
    lines = []
    for sample in sorted(samples, key=lambda s: s["doc_id"]):
        rec = by_doc.get((task, sample["doc_id"]), {})
        extra = {
            "model": label,
            "task": task,
            "sample_hash": hashlib.sha256(
                json.dumps([sample.get("doc_hash"), sample.get("input"), rec.get("key")], default=str).encode()
            ).hexdigest(),
            "latency_s": rec.get("latency_s"),
        }
        lines.append(json.dumps({**sample, **extra}, ensure_ascii=False, default=str))
    return lines


# ---------------------------------------------------------------------------------------------------------------
# The run


class Runner:
    def __init__(self, suite: Suite, runs_root: Path, run_id: str | None = None, new: bool = False) -> None:
        self.suite = suite
        self.rank, self.world_size = world()
        self.run_id = run_id or run_id_for(suite, new=new)
        self.run = rd.RunDir(Path(runs_root) / self.run_id)
        self.include: list[str] = []

    def prepare(self) -> None:
        """Validate (all problems at once, before any model loads), then create or reopen the run directory."""
        problems = validate_suite(self.suite) if self.rank == 0 else []
        problems = broadcast(problems)
        if problems:
            raise SuiteError(problems)
        self.include, _ = resolve_include_paths(self.suite)
        resolved = resolve_checkpoints(self.suite) if self.rank == 0 else None
        self.resolved = broadcast(resolved)
        if self.rank == 0:
            self._write_metadata()
        barrier()

    def _write_metadata(self) -> None:
        run = self.run
        existing = rd.read_json(run.path / "suite_source.json")
        if existing and existing.get("content_hash") != self.suite.content_hash:
            raise SuiteError(
                [
                    f"run {self.run_id!r} was started with a different suite; use --new or another --run-id to start fresh"
                ]
            )
        run.path.mkdir(parents=True, exist_ok=True)
        rd.write_json(run.path / "suite_source.json", {"content_hash": self.suite.content_hash, "raw": self.suite.raw})
        run.write_suite(self.resolved.to_dict())
        rd.write_json(run.path / "env.json", rd.environment())
        judges = {
            t.name: {"role": t.judge, "settings": redact(self.suite.judges.get(t.judge, {}))} if t.judge else None
            for t in self.suite.tasks
        }
        rd.write_json(run.path / "judge.json", judges)
        state = run.read_state()
        state["status"] = "running"
        state["run_id"] = self.run_id
        for model, task in self.suite.entries():
            name = rd.entry_name(model.label, task.name)
            if state["entries"].get(name) != "done" or not run.results_path(model.label, task.name).exists():
                state["entries"][name] = "pending"
        run.write_state(state)
        self._write_hashes()

    def _write_hashes(self) -> None:
        path = self.run.path / "hashes.json"
        hashes = rd.read_json(path, {"datasets": {}, "checkpoints": {}})
        for model in self.resolved.models:
            if model.label not in hashes["checkpoints"]:
                paths = {k: v for k, v in checkpoint_paths(model).items() if Path(v).exists()}
                if paths:
                    hashes["checkpoints"][model.label] = rd.hash_path(Path(next(iter(paths.values()))))
        missing = [t.name for t in self.suite.tasks if t.name not in hashes["datasets"]]
        if missing:
            from lmms_eval.evaluator import get_task_dict
            from lmms_eval.tasks import TaskManager

            manager = TaskManager("ERROR", include_path=self.include or None, include_defaults=False)
            for name, task in get_task_dict(missing, manager).items():
                task = task[1] if isinstance(task, tuple) else task
                hashes["datasets"][name] = rd.hash_docs(task.eval_docs)
        rd.write_json(path, hashes)

    def execute(self) -> RunOutcome:
        self.prepare()
        outcome = RunOutcome(run_dir=self.run.path)
        plan = broadcast([(m.label, t.name, self.run.is_done(m.label, t.name)) for m, t in self.suite.entries()])
        done = {(label, task) for label, task, finished in plan if finished}
        models = tqdm(self.resolved.models, desc="models", unit="model", disable=self.rank != 0)
        for model in models:
            models.set_postfix_str(model.label)
            tasks = [t for t in self.resolved.tasks if (model.label, t.name) not in done]
            if not tasks:
                continue
            try:
                proxy = self._load(model)
            except Exception as exc:
                if self.world_size > 1:
                    raise
                for task in tasks:
                    self._fail(outcome, model.label, task.name, f"loading the model failed: {_cause(exc)}")
                continue
            try:
                for task in tqdm(tasks, desc=f"{model.label} tasks", unit="task", leave=False, disable=self.rank != 0):
                    self._run_entry(outcome, model, task, proxy)
            finally:
                outcome.computed += proxy.computed
                outcome.reused += proxy.hits
                proxy.release()
        if self.rank == 0:
            state = self.run.read_state()
            state["status"] = "failed" if outcome.failures else "finished"
            self.run.write_state(state)
        return outcome

    def _load(self, model) -> Any:
        from lmms_eval.models import get_model

        from future_l1.harness.journal import JournalingModel
        from future_l1.harness.suite import register_plugin_models

        register_plugin_models()
        cls = get_model(model.model)
        inner = cls.create_from_arg_string(model.args_string(), {"batch_size": 1, "device": None})
        chunk = int(self.suite.settings.get("chunk_size", 1))
        return JournalingModel(inner, self.run.journal_dir, model.label, chunk_size=chunk, rank=self.rank)

    def _fail(self, outcome: RunOutcome, label: str, task: str, cause: str) -> None:
        message = f"model {label!r}, task {task!r}: {cause}"
        outcome.failures.append(message)
        if self.rank == 0:
            self.run.set_entry(label, task, "failed", message)

    def _run_entry(self, outcome: RunOutcome, model, task, proxy) -> None:
        if self.rank == 0:
            self.run.set_entry(model.label, task.name, "running")
        try:
            with judge_env(self.suite.judges.get(task.judge) if task.judge else None):
                results = self._evaluate(model, task, proxy)
        except Exception as exc:
            if self.world_size > 1:
                raise
            self._fail(outcome, model.label, task.name, _cause(exc))
            return
        if self.rank == 0:
            self._write_entry(model, task, results, proxy)
            self.run.set_entry(model.label, task.name, "done")

    def _evaluate(self, model, task, proxy) -> dict[str, Any] | None:
        from lmms_eval.evaluator import simple_evaluate
        from lmms_eval.loggers import EvaluationTracker
        from lmms_eval.tasks import TaskManager
        from lmms_eval.utils import get_datetime_str

        out_dir = self.run.lmms_eval_dir(model.label, task.name)
        if self.rank == 0 and out_dir.exists():
            shutil.rmtree(out_dir)  # files of an attempt that was killed; this attempt rewrites them
        manager = TaskManager(
            "ERROR", include_path=self.include or None, include_defaults=False, model_name=model.model
        )
        tracker = EvaluationTracker(output_path=str(out_dir))
        stamp = get_datetime_str(timezone="UTC")
        results = simple_evaluate(
            model=proxy,
            tasks=[task.name],
            limit=task.limit,
            gen_kwargs=task.gen_kwargs_string(),
            task_manager=manager,
            log_samples=True,
            evaluation_tracker=tracker,
            datetime_str=stamp,
            bootstrap_iters=0,
            verbosity="ERROR",
            distributed_executor_backend="torchrun",
            process_docs_parallel=int(self.suite.settings.get("process_docs_parallel", 4)),
        )
        if self.rank != 0:
            return None
        if not results or task.name not in results.get("results", {}):
            raise RuntimeError("lmms-eval returned no results for the task")
        samples = results.pop("samples")
        tracker.general_config_tracker.model_source = model.model  # not the proxy object (it would be deep-copied)
        tracker.general_config_tracker.model_name_sanitized = ""
        tracker.save_results_aggregated(results=results, samples=samples, datetime_str=stamp)
        for name in results["configs"]:
            tracker.save_results_samples(task_name=name, samples=samples[name])
        results["samples"] = samples
        return results

    def _write_entry(self, model, task, results: dict[str, Any], proxy) -> None:
        samples = results["samples"][task.name]
        from future_l1.harness.journal import read_journal

        journal = read_journal(sorted(self.run.journal_dir.glob(f"{model.label}.rank*.jsonl")))  # every rank's
        lines = sample_lines(samples, model.label, task.name, journal)
        rd.atomic_write(self.run.samples_path(model.label, task.name), "".join(line + "\n" for line in lines))
        n = results.get("n-samples", {}).get(task.name, {}).get("effective", len(samples))
        config = dict(results.get("config", {}))
        config.update({"model": model.model, "model_args": model.args_string(), "limit": task.limit})
        config["model_backend"] = f"{type(proxy.inner).__module__}.{type(proxy.inner).__name__}"
        config["task_config"] = results.get("configs", {}).get(task.name)
        config["judge"] = task.judge
        rd.write_json(
            self.run.results_path(model.label, task.name),
            {
                "model": model.label,
                "task": task.name,
                "model_name": model.model,
                "model_args": model.args_string(),
                "metrics": strip_metrics(results["results"][task.name]),
                "n_samples": n,
                "config": config,
            },
        )


def _cause(exc: BaseException) -> str:
    """The innermost useful line of an exception (lmms-eval often wraps the real error)."""
    text = f"{type(exc).__name__}: {exc}".strip()
    if os.environ.get("FUTURE_L1_TRACEBACK"):
        text += "\n" + "".join(traceback.format_exception(exc))
    return text.splitlines()[0] if len(text) > 500 else text
