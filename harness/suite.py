"""Suites: which models to evaluate on which tasks, with what settings (a YAML file). The public face of three modules:

- `suite_schema`: the typed schema, the YAML loader and the `Suite` the rest of the harness works with;
- `suite_resolve`: resolution of references (`demo://` checkpoints, `run://` paths, include paths);
- `suite_validate`: validation of tasks, plug-in models, checkpoints and judges, every problem at once.

Checkpoint, data, judge and argument checks live in `suite_checks`; what a run records about its inputs in
`suite_provenance`. The format of a suite file is documented in `suite_schema`.
"""

from __future__ import annotations

from future_l1.harness.suite_checks import demo_checkpoint_names
from future_l1.harness.suite_resolve import (
    checkpoint_paths,
    resolve_checkpoint,
    resolve_checkpoints,
    resolve_include_paths,
    resolve_run_paths,
)
from future_l1.harness.suite_schema import (
    CHECKPOINT_KEYS,
    DEFAULT_SUITE,
    DEMO_SCHEME,
    NAME,
    PACKAGED_TASKS,
    ModelEntry,
    ModelSpec,
    SettingsSpec,
    Suite,
    SuiteError,
    SuiteSpec,
    TaskEntry,
    TaskSpec,
    load_suite,
    name_problem,
    parse_suite,
    validation_problems,
)
from future_l1.harness.suite_validate import (
    is_embedded_demo,
    judge_reachable,
    register_plugin_models,
    validate,
    validated_and_resolved,
)

__all__ = [
    "CHECKPOINT_KEYS", "DEFAULT_SUITE", "DEMO_SCHEME", "NAME", "PACKAGED_TASKS", "ModelEntry", "ModelSpec",
    "SettingsSpec", "Suite", "SuiteError", "SuiteSpec", "TaskEntry", "TaskSpec", "checkpoint_paths",
    "demo_checkpoint_names", "is_embedded_demo", "judge_reachable", "load_suite", "name_problem", "parse_suite",
    "register_plugin_models", "resolve_checkpoint", "resolve_checkpoints", "resolve_include_paths",
    "resolve_run_paths", "validate", "validated_and_resolved", "validation_problems",
]  # fmt: skip
