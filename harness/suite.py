"""Suites: which models to evaluate on which tasks, with what settings (a YAML file).

```yaml
name: demo
include_path: [future_l1.tasks]     # task folders; "future_l1.tasks" = the packaged tasks, others relative to the file
judges:                             # judge roles a task entry can name
  rubric: {provider: offline}       # offline = the tasks package's loopback rubric judge; else FUTURE_L1_JUDGE_* keys
models:
  - label: future_l1_tiny           # unique; names results/<label>/
    model: future_l1                # any lmms-eval model name (built-in, entry point, or plug-in)
    args: {pretrained: "demo://future-l1-tiny", latent: true}
tasks:
  - name: futurebench_future_l1
    limit: 16                       # optional (int or fraction)
    gen_kwargs: {max_new_tokens: 96}  # optional scalar overrides merged over the task YAML
    judge: rubric                   # optional judge role
settings: {chunk_size: 1}           # journal granularity: requests handed to the model per call
```
`validate()` collects every problem (unknown task or model, missing checkpoint, unknown or unreachable judge) so
that the user sees all of them at once, before any model is loaded.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

DEFAULT_SUITE = Path(__file__).with_name("default_suite.yaml")
PACKAGED_TASKS = "future_l1.tasks"
DEMO_SCHEME = "demo://"
CHECKPOINT_KEYS = ("pretrained", "checkpoint", "model_path", "path")
_HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")


class SuiteError(ValueError):
    """A suite that cannot run; `problems` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass
class ModelEntry:
    label: str
    model: str
    args: dict[str, Any] = field(default_factory=dict)

    def args_string(self) -> str:
        """lmms-eval's `k=v,k=v` form (simple_evaluate rejects dicts in 0.7.3)."""
        parts = []
        for key, value in self.args.items():
            text = str(value).lower() if isinstance(value, bool) else str(value)
            parts.append(f"{key}={text}")
        return ",".join(parts)


@dataclass
class TaskEntry:
    name: str
    limit: int | float | None = None
    gen_kwargs: dict[str, Any] = field(default_factory=dict)
    judge: str | None = None

    def gen_kwargs_string(self) -> str | None:
        if not self.gen_kwargs:
            return None
        return ",".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in self.gen_kwargs.items())


@dataclass
class Suite:
    name: str
    models: list[ModelEntry]
    tasks: list[TaskEntry]
    include_path: list[str] = field(default_factory=lambda: [PACKAGED_TASKS])
    judges: dict[str, dict[str, Any]] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    source: Path | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def content_hash(self) -> str:
        """Hash of the suite as written (before checkpoint references are resolved): same file, same run id."""
        return hashlib.sha256(json.dumps(self.raw, sort_keys=True, default=str).encode()).hexdigest()

    def entries(self) -> list[tuple[ModelEntry, TaskEntry]]:
        return [(m, t) for m in self.models for t in self.tasks]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "include_path": list(self.include_path),
            "judges": copy.deepcopy(self.judges),
            "models": [{"label": m.label, "model": m.model, "args": dict(m.args)} for m in self.models],
            "tasks": [
                {"name": t.name, "limit": t.limit, "gen_kwargs": dict(t.gen_kwargs), "judge": t.judge}
                for t in self.tasks
            ],
            "settings": dict(self.settings),
        }


def load_suite(path: str | Path | None = None) -> Suite:
    """Parse a suite file (the embedded default when `path` is None); shape errors raise SuiteError."""
    source = Path(path) if path else DEFAULT_SUITE
    if not source.exists():
        raise SuiteError([f"suite file {source} does not exist"])
    raw = yaml.safe_load(source.read_text()) or {}
    return parse_suite(raw, source)


def parse_suite(raw: dict[str, Any], source: Path | None = None) -> Suite:
    problems: list[str] = []
    if not isinstance(raw, dict):
        raise SuiteError([f"suite {source}: top level must be a mapping"])
    models: list[ModelEntry] = []
    for i, m in enumerate(raw.get("models") or []):
        if not isinstance(m, dict) or not m.get("model"):
            problems.append(f"models[{i}]: needs at least `model: <lmms-eval model name>`")
            continue
        label = str(m.get("label") or m["model"])
        if not re.fullmatch(r"[\w.+-]+", label):
            problems.append(f"model {label!r}: label may only use letters, digits, '_', '-', '.', '+'")
        if any(x.label == label for x in models):
            problems.append(f"model {label!r}: label used twice; give each model entry a unique `label`")
        models.append(ModelEntry(label=label, model=str(m["model"]), args=dict(m.get("args") or {})))
    tasks: list[TaskEntry] = []
    for i, t in enumerate(raw.get("tasks") or []):
        t = {"name": t} if isinstance(t, str) else t
        if not isinstance(t, dict) or not t.get("name"):
            problems.append(f"tasks[{i}]: needs `name: <task name>`")
            continue
        gen = dict(t.get("gen_kwargs") or {})
        for key, value in gen.items():
            if isinstance(value, (list, dict)):
                problems.append(f"task {t['name']!r}: gen_kwargs.{key} must be a scalar (lists go in the task YAML)")
        tasks.append(TaskEntry(name=str(t["name"]), limit=t.get("limit"), gen_kwargs=gen, judge=t.get("judge")))
    if not models:
        problems.append(f"suite {source}: no models listed")
    if not tasks:
        problems.append(f"suite {source}: no tasks listed")
    if problems:
        raise SuiteError(problems)
    include = raw.get("include_path") or [PACKAGED_TASKS]
    include = [include] if isinstance(include, str) else list(include)
    return Suite(
        name=str(raw.get("name") or (source.stem if source else "suite")),
        models=models,
        tasks=tasks,
        include_path=include,
        judges={k: dict(v or {}) for k, v in (raw.get("judges") or {}).items()},
        settings=dict(raw.get("settings") or {}),
        source=source,
        raw=raw,
    )


# ---------------------------------------------------------------------------------------------------------------
# Resolution of references (task folders, demo checkpoints)


def resolve_include_paths(suite: Suite) -> tuple[list[str], list[str]]:
    """Absolute task folders, plus problems (a packaged-task reference that cannot be imported)."""
    paths, problems = [], []
    base = suite.source.parent if suite.source else Path.cwd()
    for entry in suite.include_path:
        if entry == PACKAGED_TASKS:
            try:
                import future_l1.tasks as tasks_pkg

                paths.append(str(Path(tasks_pkg.tasks_path())))
            except (ImportError, AttributeError) as exc:
                problems.append(f"include_path {entry!r}: the packaged tasks are not available ({exc})")
            continue
        path = Path(os.path.expanduser(entry))
        path = path if path.is_absolute() else (base / path)
        if not path.is_dir():
            problems.append(f"include_path {entry!r}: no such folder ({path})")
        else:
            paths.append(str(path.resolve()))
    return paths, problems


def demo_checkpoint_names() -> dict[str, str]:
    return {"future-l1-tiny": "trained demo checkpoint (falls back to the untrained tiny model)", "tiny-random": ""}


def resolve_checkpoint(ref: str) -> Path:
    """`demo://future-l1-tiny` → the SFT demo checkpoint (trained and cached on first use); until the training
    helper provides `demo_checkpoint()`, the untrained tiny model. `demo://tiny-random` → the untrained tiny model."""
    name = ref[len(DEMO_SCHEME) :]
    if name not in demo_checkpoint_names():
        raise SuiteError([f"checkpoint {ref!r}: unknown demo checkpoint; known: {sorted(demo_checkpoint_names())}"])
    if name == "future-l1-tiny":
        try:
            from future_l1.training import demo_checkpoint
        except ImportError:
            demo_checkpoint = None
        if demo_checkpoint is not None:
            return Path(demo_checkpoint())
    from future_l1.model.tiny import tiny_checkpoint_dir

    return Path(tiny_checkpoint_dir())


def resolve_checkpoints(suite: Suite) -> Suite:
    """A copy of `suite` whose `demo://` references are replaced by paths."""
    resolved = copy.deepcopy(suite)
    for model in resolved.models:
        for key, value in model.args.items():
            if isinstance(value, str) and value.startswith(DEMO_SCHEME):
                model.args[key] = str(resolve_checkpoint(value))
    return resolved


def checkpoint_paths(model: ModelEntry) -> dict[str, str]:
    return {k: str(v) for k, v in model.args.items() if k in CHECKPOINT_KEYS and isinstance(v, (str, Path))}


# ---------------------------------------------------------------------------------------------------------------
# Validation


def _checkpoint_problem(label: str, key: str, value: str) -> str | None:
    if value.startswith(DEMO_SCHEME):
        name = value[len(DEMO_SCHEME) :]
        known = demo_checkpoint_names()
        return None if name in known else f"model {label!r}: unknown demo checkpoint {value!r}; known: {sorted(known)}"
    path = Path(os.path.expanduser(value))
    if path.exists():
        return None
    if _HUB_ID.match(value) and not value.startswith("."):
        try:
            from huggingface_hub import try_to_load_from_cache

            if isinstance(try_to_load_from_cache(value, "config.json"), str):
                return None
        except Exception:  # an unusable cache is the same as a missing checkpoint here
            pass
        return f"model {label!r}: checkpoint {key}={value!r} is neither a local folder nor in the local Hugging Face cache (offline runs cannot download it)"
    return f"model {label!r}: checkpoint {key}={value!r} does not exist"


def register_plugin_models() -> list[str]:
    """Register every `lmms_eval.models` entry point one by one; the messages of those that fail to load.

    lmms-eval 0.7.3 loads entry points in one loop and drops ALL of them when one raises, so a broken plug-in would
    hide ours; loading them individually keeps the working ones."""
    from importlib.metadata import entry_points

    from lmms_eval.models import MODEL_REGISTRY_V2

    failures = []
    for ep in entry_points(group="lmms_eval.models"):
        try:
            payload = ep.load()
            for manifest in MODEL_REGISTRY_V2._coerce_payload_to_manifests(payload):
                MODEL_REGISTRY_V2.register_manifest(manifest, overwrite=True)
        except Exception as exc:
            failures.append(f"entry point {ep.name!r} ({ep.value}): {type(exc).__name__}: {exc}")
    return failures


def _known_models() -> tuple[set[str], list[str]]:
    from lmms_eval.models import MODEL_REGISTRY_V2

    failures = register_plugin_models()
    return set(MODEL_REGISTRY_V2.list_model_names()), failures


def judge_reachable(base_url: str, timeout: float = 3.0) -> str | None:
    """None when a TCP connection to the judge's host:port succeeds, else the reason."""
    parsed = urlparse(base_url)
    if not parsed.hostname:
        return f"malformed base_url {base_url!r}"
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname, port), timeout=timeout):
            return None
    except OSError as exc:
        return f"cannot connect to {parsed.hostname}:{port} ({exc.strerror or exc})"


def validate(suite: Suite, task_names: set[str] | None = None) -> list[str]:
    """Every problem of the suite, one line each; empty when the suite can run. Loads no model."""
    problems: list[str] = []
    include, include_problems = resolve_include_paths(suite)
    problems += include_problems
    if task_names is None:
        from lmms_eval.tasks import TaskManager

        task_names = set(TaskManager("ERROR", include_path=include or None, include_defaults=False).all_tasks)
    for task in suite.tasks:
        if task.name not in task_names:
            where = ", ".join(include) or "(no task folder)"
            problems.append(f"task {task.name!r}: unknown task (not found in {where})")
        if task.limit is not None and (not isinstance(task.limit, (int, float)) or task.limit <= 0):
            problems.append(f"task {task.name!r}: limit must be a positive count or fraction, got {task.limit!r}")
        if task.judge is not None and task.judge not in suite.judges:
            problems.append(f"task {task.name!r}: judge role {task.judge!r} is not defined under `judges:`")
    known, plugin_failures = _known_models()
    for model in suite.models:
        if model.model not in known:
            hint = f"; plug-ins that failed to load: {'; '.join(plugin_failures)}" if plugin_failures else ""
            problems.append(
                f"model {model.label!r}: unknown lmms-eval model {model.model!r} (is its package installed?){hint}"
            )
        for key, value in checkpoint_paths(model).items():
            problem = _checkpoint_problem(model.label, key, value)
            if problem:
                problems.append(problem)
    used = {t.judge for t in suite.tasks if t.judge}
    for role in sorted(used & set(suite.judges)):
        settings = suite.judges[role]
        url = settings.get("base_url")
        if settings.get("provider") != "offline" and url:
            reason = judge_reachable(str(url))
            if reason:
                problems.append(f"judge {role!r}: unreachable at {url} ({reason})")
    return problems
