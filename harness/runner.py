"""Execute a suite through lmms-eval's Python API, one (model, task) entry at a time, resumably.

Per entry: `simple_evaluate(model=<journaling proxy>, tasks=[task], task_manager=TaskManager(include_path=...,
include_defaults=False))`, then rank 0 writes lmms-eval's own files (EvaluationTracker), our results/samples files and
marks the entry done in state.json. A finished entry is skipped on re-run; an unfinished one replays its journal.
Identity and exclusivity: the run id is `<suite name>-<digest>` where the digest covers the suite, each task's
definition, its resolved documents and the checkpoints (`harness.identity`), so changed inputs start a new run; rank 0
holds a `filelock` lock on `<run>/.lock` for the whole run, so a second `future-l1 run` of the same run refuses at
once (an OS lock: a killed run leaves no stale lock behind). Judge roles reach the tasks in-process
(`future_l1.tasks.judge.active_config`), not through environment variables.
Data parallel: started under `torchrun`/`accelerate launch` (WORLD_SIZE > 1) the harness joins a gloo (CPU) or
gloo+nccl (GPU) process group; lmms-eval shards the docs, each rank journals its own answers and rank 0 writes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filelock import FileLock
from filelock import Timeout as LockTimeout
from tqdm import tqdm

from future_l1.harness import identity as ident
from future_l1.harness import redaction, signals
from future_l1.harness import rundir as rd
from future_l1.harness import suite_provenance as prov
from future_l1.harness.interventions import intervention_of
from future_l1.harness.suite import (
    DEMO_SCHEME,
    Suite,
    SuiteError,
    checkpoint_paths,
    name_problem,
    resolve_include_paths,
    resolve_run_paths,
)
from future_l1.harness.suite import validate as validate_suite
from future_l1.harness.suite_checks import checkpoint_stamps
from future_l1.model.distributed import place
from future_l1.tasks import results_schema as schema
from future_l1.tasks.future_frames import future_frames_of

if TYPE_CHECKING:
    from future_l1.reports.latent_diagnostics import FutureTargets
    from future_l1.tasks.future_frames import FutureFrames


@dataclass
class RunOutcome:
    run_dir: Path
    failures: list[str] = field(default_factory=list)
    computed: int = 0
    reused: int = 0


def run_id_for(suite: Suite, identity: ident.Identity, new: bool = False) -> str:
    """`<suite name>-<12 hex of the identity digest>` (plus a time stamp with --new)."""
    base = f"{suite.name}-{identity.digest[:12]}"
    return f"{base}-{time.strftime('%Y%m%d-%H%M%S')}" if new else base


def claim_new_id(runs_root: Path, base: str) -> str:
    """`base`, or `base-2`, `base-3` …: the first whose folder this process creates itself (mkdir is atomic), so two
    `run --new` started in the same second get two runs instead of one shared (or refused) directory."""
    for n in range(1, 10_000):
        candidate = base if n == 1 else f"{base}-{n}"
        try:
            runs_root.mkdir(parents=True, exist_ok=True)
            (runs_root / candidate).mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            problem = f"cannot write the run directory {runs_root / candidate} ({exc.strerror or exc})"
            raise SuiteError([f"{problem}; choose a writable --runs-dir"]) from None
        return candidate
    raise SuiteError([f"10,000 runs named {base}-N exist under {runs_root}; clean up old runs"])


# ---------------------------------------------------------------------------------------------------------------
# Distributed helpers (no-ops in a single process)


def world() -> tuple[int, int]:
    """(rank, world size) of this process (`model.distributed`, the one reader of the launcher's environment)."""
    here = place()
    return here.rank, here.world_size


def init_distributed() -> None:
    import torch
    import torch.distributed as dist

    _, size = world()
    if size > 1 and not dist.is_initialized():
        if torch.cuda.is_available():
            torch.cuda.set_device(place().local_rank)
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
# Task documents (identity and hashes)


def _root_cause(exc: BaseException) -> BaseException:
    """lmms-eval wraps dataset loading in tenacity retries: the error that matters is the last attempt's."""
    seen = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        last = getattr(exc, "last_attempt", None)
        if last is not None and last.failed and last.exception() is not None:
            exc = last.exception()
            continue
        break
    return exc


def load_task_docs(names: list[str], include: list[str]) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """Each task's evaluation docs and YAML path, loaded one task at a time; one problem line per task that fails."""
    from lmms_eval.evaluator import get_task_dict
    from lmms_eval.tasks import TaskManager

    manager = TaskManager("ERROR", include_path=include or None, include_defaults=False)
    docs, yaml_paths, problems = {}, {}, []
    for name in names:
        yaml_paths[name] = manager.task_index.get(name, {}).get("yaml_path")
        try:
            for got, task in get_task_dict([name], manager).items():
                task = task[1] if isinstance(task, tuple) else task
                docs[got] = task.eval_docs
        except Exception as exc:
            cause = _root_cause(exc)
            text = f"{type(cause).__name__}: {cause}".strip().splitlines()[0][:600]
            problems.append(
                f"task {name!r}: its data cannot be loaded ({text}); fix the data folder "
                "(`future-l1 data check futurebench|twiffbench` names each broken record)"
            )
    return docs, yaml_paths, problems


# ---------------------------------------------------------------------------------------------------------------
# Result files


def sample_lines(samples: list[dict[str, Any]], label: str, task: str, journal: dict[str, dict]) -> list[str]:
    """`results_schema.SampleLine`s: lmms-eval's sample lines (already sanitised by EvaluationTracker) plus model,
    task, sample_hash and latency_s."""
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
        lines.append(schema.sample_line({**sample, **extra}))
    return lines


# ---------------------------------------------------------------------------------------------------------------
# The run


class Runner:
    """Runs one suite into one run directory. The caller validates the suite and resolves its checkpoint references
    first (`suite.validated_and_resolved`: resolving may train the demo model) and passes the result as `resolved`;
    the runner then only evaluates. Without `resolved` it validates the suite itself and refuses `demo://`."""

    def __init__(self, suite: Suite, runs_root: Path, run_id: str | None = None, new: bool = False,
                 resolved: Suite | None = None) -> None:  # fmt: skip
        self.suite = suite
        self.given_resolved = resolved if resolved is not None else suite
        self.validated = resolved is not None  # the caller validated before resolving
        self.rank, self.world_size = world()
        self.runs_root = Path(runs_root)
        self.explicit_id = run_id
        self.new = new
        self.run_id = run_id or ""  # the derived id needs the inputs' identity: set by prepare()
        self.run = rd.RunDir(self.runs_root / self.run_id) if run_id else None
        self.include: list[str] = []
        self.identity: ident.Identity | None = None
        self._lock: FileLock | None = None
        self._docs: dict[str, Any] = {}
        self._n_docs: dict[str, int] = {}  # documents per task, for the subset provenance
        # doc id -> true future frames, per task, for the latent diagnostics (issue 29); they outlive `_docs`, which
        # is dropped once hashed: the documents they read are small (FutureBench) or memory-mapped Arrow (TwiFF)
        self._future_frames: dict[str, Any] = {}
        if run_id:
            problem = name_problem("--run-id", run_id)
            if problem:
                raise SuiteError([problem])

    def prepare(self) -> None:
        """Validate (all problems at once, before any model loads), fingerprint the inputs, then create or reopen
        the run directory under its lock."""
        payload: tuple = ([], None, "", None)
        if self.rank == 0:
            payload = self._plan()
        problems, resolved, run_id, identity = broadcast(payload)
        if problems:
            raise SuiteError(problems)
        self.resolved, self.run_id, self.identity = resolved, run_id, identity
        self.run = rd.RunDir(self.runs_root / self.run_id)
        self.include, _ = resolve_include_paths(self.suite)
        problems = []
        if self.rank == 0:
            try:
                self._open()
                self._write_metadata()
            except SuiteError as exc:
                problems = exc.problems
        problems = broadcast(problems)
        if problems:
            self.release()
            raise SuiteError(problems)

    def _plan(self) -> tuple[list[str], Suite | None, str, ident.Identity | None]:
        problems = [] if self.validated else validate_suite(self.suite)
        if problems:
            return problems, None, "", None
        resolved = self.given_resolved
        unresolved = [
            f"model {m.label!r}: {v!r} is not resolved; pass validated_and_resolved(suite) as `resolved`"
            for m in resolved.models
            for v in m.args.values()
            if isinstance(v, str) and v.startswith(DEMO_SCHEME)
        ]
        if unresolved:
            return unresolved, None, "", None
        self.include, _ = resolve_include_paths(self.suite)
        docs, yaml_paths, problems = {}, {}, []
        own = [t for t in self.suite.tasks if t.data is not None or t.clips is not None or t.sample != "first"]
        plain = [t.name for t in self.suite.tasks if t not in own]
        groups = ([(plain, None)] if plain else []) + [([t.name], t) for t in own]
        for names, entry in groups:  # a task naming its data folders or a sample is loaded with them active
            with prov.task_data(self.suite, entry) if entry is not None else contextlib.nullcontext():
                got = load_task_docs(names, self.include)
            docs.update(got[0])
            yaml_paths.update(got[1])
            problems += got[2]
        if problems:
            return problems, None, "", None
        self._docs = docs
        self._n_docs = {name: _count(task_docs) for name, task_docs in docs.items()}
        self._future_frames = {name: future_frames_of(task_docs) for name, task_docs in docs.items()}
        datasets = {}
        for name, task_docs in sorted(docs.items()):
            try:
                datasets[name] = ident.fingerprint_docs(task_docs)
            except Exception as exc:  # e.g. a dataset feature that decodes images while iterating
                problems.append(f"task {name!r}: its documents cannot be read ({type(exc).__name__}: {exc}"[:600] + ")")
        if problems:
            return problems, None, "", None
        identity = ident.Identity(
            suite=self.suite.content_hash,
            tasks={name: ident.fingerprint_task_yaml(path) for name, path in sorted(yaml_paths.items())},
            datasets=datasets,
            checkpoints={  # local folders' file stamps; a hub id's resolved commit
                m.label: checkpoint_stamps(m.model, m.label, m.args) for m in resolved.models
            },
        )
        run_id = self.explicit_id or run_id_for(self.suite, identity, new=self.new)
        if self.new and not self.explicit_id:
            run_id = claim_new_id(self.runs_root, run_id)
        return [], resolved, run_id, identity

    def _open(self) -> None:
        """Create the run directory and take its lock; refuse a run directory made from other inputs."""
        path = self.run.path
        try:
            path.mkdir(parents=True, exist_ok=True)
            probe = path / f".write-test.{os.getpid()}"
            probe.write_text("")
            probe.unlink()
        except OSError as exc:
            raise SuiteError(
                [f"cannot write the run directory {path} ({exc.strerror or exc}); choose a writable --runs-dir"]
            ) from None
        lock = FileLock(str(path / ".lock"), timeout=0, thread_local=False, preserve_lock_file=True)
        try:
            lock.acquire()
        except LockTimeout:
            raise SuiteError(
                [
                    f"run {self.run_id!r} is in use by another `future-l1 run` (lock {path / '.lock'}); wait for it "
                    "to finish, or pass --new to start a separate run"
                ]
            ) from None
        except OSError as exc:
            raise SuiteError([f"cannot lock the run directory {path} ({exc.strerror or exc})"]) from None
        self._lock = lock
        links = rd.planted_links(path)
        if links:
            raise SuiteError(
                [f"{link} is a symbolic link inside the run directory; a run never makes one and does not follow it: "
                 "remove it (or pass --new to start a fresh run)" for link in links]
            )  # fmt: skip
        self._check_identity()

    def _check_identity(self) -> None:
        path = self.run.path / "identity.json"
        started = (self.run.path / "state.json").exists() or any(self.run.path.glob("journal/*.jsonl"))
        old = ident.Identity.from_json(rd.read_json(path)) if path.exists() else None
        if started and (old is None or old.digest != self.identity.digest):
            changed = "; ".join(self.identity.changes(old))
            raise SuiteError(
                [
                    f"run {self.run_id!r} holds answers computed from different inputs (changed: {changed}); "
                    "its answers would be stale: pass --new, or another --run-id, to start a fresh run"
                ]
            )
        if not started and not self.explicit_id:
            self._note_previous_runs()

    def _note_previous_runs(self) -> None:
        """Say why a suite that ran before starts a new run (its data, checkpoint or definition changed)."""
        previous = []
        for other in self.runs_root.glob(f"{self.suite.name}-*/identity.json"):
            if other.parent == self.run.path:
                continue
            old = ident.Identity.from_json(rd.read_json(other))
            if old is not None:
                previous.append((other.stat().st_mtime, other.parent.name, old))
        if previous:
            _, name, old = max(previous, key=lambda x: x[0])
            print(
                f"note: starting new run {self.run_id!r}; the latest run of suite {self.suite.name!r} ({name!r}) "
                f"was made from other inputs (changed: {'; '.join(self.identity.changes(old))})",
                file=sys.stderr,
            )

    def release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _write_metadata(self) -> None:
        run = self.run
        rd.write_json(run.path / "identity.json", self.identity.to_json())
        # suite.raw and to_dict() carry no URL credentials (suite_provenance.redact_secrets)
        rd.write_json(run.path / "suite_source.json", {"content_hash": self.suite.content_hash, "raw": self.suite.raw})
        run.write_suite(self.resolved.to_dict())
        rd.write_json(run.path / "env.json", rd.environment())
        rd.write_json(run.path / "judge.json", prov.judge_record(self.suite))
        state = run.read_state()
        state["status"] = "running"
        state["run_id"] = self.run_id
        state["pid"], state["host"] = os.getpid(), socket.gethostname()  # `runs list` tells a killed run by these
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
        for name, docs in self._docs.items():
            if name not in hashes["datasets"]:
                try:
                    hashes["datasets"][name] = rd.hash_docs(docs)
                except Exception as exc:  # a record; the identity (already computed) is what guards the answers
                    hashes["datasets"][name] = f"unreadable: {type(exc).__name__}: {exc}"[:300]
        self._docs = {}
        rd.write_json(path, hashes)

    def execute(self) -> RunOutcome:
        secrets = redaction.known_secrets(self.suite.judges.values())
        rd.SECRETS[:] = secrets
        try:
            with signals.stopping():
                return self._execute_prepared()
        finally:
            if self.rank == 0 and self.run is not None and self.run.path.is_dir():
                redaction.scrub_tree(self.run.path, secrets)  # whatever others wrote (lmms-eval's files)
            rd.SECRETS[:] = []

    def _execute_prepared(self) -> RunOutcome:
        self.prepare()
        try:
            return self._execute()
        except BaseException as exc:  # Ctrl-C or a harness bug: the state must not stay "running"
            if self.rank == 0 and self.run is not None:
                state = self.run.read_state()
                state["status"] = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
                state.setdefault("errors", {})["<run>"] = f"{type(exc).__name__}: {exc}"[:500]
                self.run.write_state(state)
            raise
        finally:
            self.release()

    def _execute(self) -> RunOutcome:
        outcome = RunOutcome(run_dir=self.run.path)
        plan = broadcast([(m.label, t.name, self.run.is_done(m.label, t.name)) for m, t in self.suite.entries()])
        done = {(label, task) for label, task, finished in plan if finished}
        if self.rank == 0:  # a finished entry's samples come from the journal too (scored before, not recomputed)
            outcome.reused += sum(rd.count_lines(self.run.samples_path(label, task)) for label, task in done)
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
        # batch_size given in the suite args wins (passing it twice is a TypeError)
        defaults = {"batch_size": None if "batch_size" in model.args else 1, "device": None}
        inner = cls.create_from_arg_string(resolve_run_paths(model, self.run.path).args_string(), defaults)
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
            from future_l1.tasks.judge import active_config

            with active_config(prov.judge_config(self.suite, task)), prov.task_data(self.suite, task):
                results = self._evaluate(model, task, proxy)
        except Exception as exc:
            if self.world_size > 1:
                raise
            self._fail(outcome, model.label, task.name, _cause(exc))
            return
        if self.rank == 0:
            self._write_entry(model, task, results, proxy)
            redaction.scrub_tree(self.run.lmms_eval_dir(model.label, task.name), rd.SECRETS)
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
            limit=None if task.sample == "stratified" else task.limit,  # the task's loader drew the sample
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
        config["latent_intervention"] = intervention_of(model.args)  # issue 29: reports pair rows by it
        # issue 29: per split, from the latents the model saved (no forward pass); absent when it saved none
        diagnostics = latent_diagnostics(model.args_string(), self.run.path, task.name, lines,
                                         future_targets(proxy, self._future_frames.get(task.name)))  # fmt: skip
        entry = schema.ResultsFile(
            **({"latent_diagnostics": diagnostics} if diagnostics else {}),
            model=model.label,
            task=task.name,
            model_name=model.model,
            model_args=model.args_string(),
            metrics=schema.normalize_metrics(results["results"][task.name]),
            n_samples=n,
            config=json.loads(json.dumps(config, default=str)),  # plain JSON values only
            provenance=prov.entry_provenance(
                self.suite,
                model.label,
                task,
                n=n,
                n_total=self._n_docs.get(task.name),
                fingerprint=(self.identity.datasets.get(task.name) if self.identity else None),
                env=rd.read_json(self.run.path / "env.json", None),
            ).model_copy(update={"intervention": intervention_of(model.args)}),  # issue 29
        )
        rd.atomic_write(self.run.results_path(model.label, task.name), schema.results_json(entry))


def _count(docs: Any) -> int | None:
    try:
        return len(docs)
    except TypeError:  # an iterable dataset without a length
        return None


def future_targets(proxy: Any, frames_of: FutureFrames | None) -> FutureTargets | None:
    """doc id → the SFT latent targets of the document's true future frames (`frames_of`), encoded by the evaluated
    model's own vision encoder (already loaded: no second copy); None without documents or when the model is not a
    Future-L1 / Qwen3-VL adapter."""
    from future_l1.reports.latent_diagnostics import future_frame_targets

    loaded = getattr(getattr(proxy, "inner", None), "model", None)
    backbone, processor = getattr(loaded, "backbone", None), getattr(loaded, "processor", None)
    if frames_of is None or backbone is None or processor is None:
        return None
    # SFT's target size is the checkpoint's L_max (config.json), whatever budget this evaluation decodes with
    budget = getattr(getattr(loaded, "budget", None), "max_latent_token", None)
    max_latent_token = int(getattr(backbone.config, "max_latent_token", None) or budget or 4)
    return future_frame_targets(backbone, processor, max_latent_token, frames_of)


def latent_diagnostics(model_args: str, run_dir: Path, task: str, lines: list[str],
                       future: FutureTargets | None = None) -> dict:  # fmt: skip
    """{split: {metric: value}} from the model's saved latents, or {} when it saved none (or they cannot be read).
    `future` (`future_targets`) adds the similarity to the true future frames."""
    from future_l1.reports.latent_diagnostics import diagnostics
    from future_l1.reports.latent_maps import save_latents_dir

    folder = save_latents_dir(model_args, run_dir)
    if folder is None or not folder.is_dir():
        return {}
    split_of = {}
    for line in lines:
        try:
            sample = json.loads(line)
            record = schema.sample_record(sample, task) or {}
        except (ValueError, schema.ResultsSchemaError):
            continue
        if isinstance(record.get("doc_id"), int):
            split_of[record["doc_id"]] = str(record.get("split") or record.get("category") or "?")
    try:
        return diagnostics(folder, task, split_of, future)
    except (OSError, ValueError, KeyError) as exc:
        print(f"warning: latent diagnostics of {task} left out: {exc}", file=sys.stderr)
        return {}


def _cause(exc: BaseException) -> str:
    """The innermost useful line of an exception (lmms-eval often wraps the real error)."""
    text = f"{type(exc).__name__}: {exc}".strip()
    if os.environ.get("FUTURE_L1_TRACEBACK"):
        text += "\n" + "".join(traceback.format_exception(exc))
    return text.splitlines()[0] if len(text) > 500 else text
