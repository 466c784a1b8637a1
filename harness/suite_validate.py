"""Validation of a suite before anything loads: tasks known to lmms-eval, plug-in models registered (one by one),
checkpoints, data folders, judges (defined, reachable, explicit for TwiFF-Bench) and typed model arguments; every
problem at once, one line each (`validate`)."""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlparse

from future_l1.harness import suite_checks as checks
from future_l1.harness.suite_resolve import checkpoint_paths, resolve_checkpoints, resolve_include_paths
from future_l1.harness.suite_schema import DEFAULT_SUITE, Suite, SuiteError


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


def is_embedded_demo(suite: Suite) -> bool:
    """The embedded default suite (`future-l1 run` without a file): the one place demo defaults are implicit."""
    return suite.source is None or suite.source.resolve() == DEFAULT_SUITE.resolve()


def validate(suite: Suite, task_names: set[str] | None = None) -> list[str]:
    """Every problem of the suite, one line each; empty when the suite can run. Loads no model."""
    problems: list[str] = []
    include, include_problems = resolve_include_paths(suite)
    problems += include_problems
    if task_names is None:
        from lmms_eval.tasks import TaskManager

        task_names = set(TaskManager("ERROR", include_path=include or None, include_defaults=False).all_tasks)
    base = suite.source.parent if suite.source else Path.cwd()
    for task in suite.tasks:
        if task.name not in task_names:
            where = ", ".join(include) or "(no task folder)"
            problems.append(f"task {task.name!r}: unknown task (not found in {where})")
        judge = checks.judge_problem(task.name, task.judge, set(suite.judges), is_embedded_demo(suite))
        problems += [judge] if judge else []
        problems += checks.data_problems(task.name, task.data, task.clips, base)
        problems += checks.sample_problems(task.name, task.limit, task.sample)
    known, plugin_failures = _known_models()
    for model in suite.models:
        if model.model not in known:
            hint = f"; plug-ins that failed to load: {'; '.join(plugin_failures)}" if plugin_failures else ""
            problems.append(
                f"model {model.label!r}: unknown lmms-eval model {model.model!r} (is its package installed?){hint}"
            )
        for key, value in checkpoint_paths(model).items():
            problem = checks.resolve_checkpoint_ref(model.label, model.model, key, value).problem
            if problem:
                problems.append(problem)
        if model.model == "answer_prior":
            problems += checks.answer_prior_problems(model.label, model.args)
        if model.model == "future_l1":  # our adapter's arguments are typed: a bad one fails here, not mid-run
            from future_l1.model.adapter_args import FutureL1ModelArgs, ModelArgsError

            try:
                FutureL1ModelArgs.from_model_args(**model.args)
            except ModelArgsError as exc:
                problems.append(f"model {model.label!r}: {exc}")
    used = {t.judge for t in suite.tasks if t.judge}
    for role in sorted(used & set(suite.judges)):
        settings = suite.judges[role]
        if settings.provider == "openai" and settings.base_url:
            reason = judge_reachable(settings.base_url)
            if reason:
                problems.append(f"judge {role!r}: unreachable at {settings.base_url} ({reason})")
    return problems


def validated_and_resolved(suite: Suite) -> Suite:
    """What a `Runner` takes as `resolved`: every problem of the suite first (SuiteError, before a demo model is
    trained), then `resolve_checkpoints`."""
    problems = validate(suite)
    if problems:
        raise SuiteError(problems)
    return resolve_checkpoints(suite)
