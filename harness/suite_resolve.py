"""Resolution of a suite's references: include paths (task folders), `demo://` checkpoints (trained or built on first
use) and `run://PATH` model arguments (inside the run directory, for the model only)."""

from __future__ import annotations

import copy
import os
from dataclasses import replace
from pathlib import Path

from future_l1.harness.suite_checks import demo_checkpoint_names
from future_l1.harness.suite_schema import CHECKPOINT_KEYS, DEMO_SCHEME, PACKAGED_TASKS, ModelEntry, Suite, SuiteError
from future_l1.tasks.results_schema import RUN_SCHEME, run_path


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


def resolve_checkpoint(ref: str) -> Path:
    """`demo://future-l1-tiny` → the SFT demo checkpoint (trained and cached on first use, which takes minutes);
    `demo://tiny-random` → the untrained tiny model. Called before a run starts, never by the runner."""
    from future_l1.model.tiny import tiny_checkpoint_dir
    from future_l1.training import demo_checkpoint

    name = ref[len(DEMO_SCHEME) :]
    if name not in demo_checkpoint_names():
        raise SuiteError([f"checkpoint {ref!r}: unknown demo checkpoint; known: {sorted(demo_checkpoint_names())}"])
    return Path(demo_checkpoint() if name == "future-l1-tiny" else tiny_checkpoint_dir())


def resolve_checkpoints(suite: Suite) -> Suite:
    """A copy of `suite` whose `demo://` references are replaced by paths."""
    resolved = copy.deepcopy(suite)
    for model in resolved.models:
        for key, value in model.args.items():
            if isinstance(value, str) and value.startswith(DEMO_SCHEME):
                model.args[key] = str(resolve_checkpoint(value))
    return resolved


def resolve_run_paths(model: ModelEntry, run_dir: Path) -> ModelEntry:
    """A copy of `model` whose `run://PATH` arguments are `run_dir/PATH`, for the model itself only: the suite, the
    run's identity and its results keep `run://PATH`, so a run directory stays relocatable."""
    args = {
        k: str(run_path(v, run_dir)) if isinstance(v, str) and v.startswith(RUN_SCHEME) else v
        for k, v in model.args.items()
    }
    return replace(model, args=args)


def checkpoint_paths(model: ModelEntry) -> dict[str, str]:
    return {k: str(v) for k, v in model.args.items() if k in CHECKPOINT_KEYS and isinstance(v, (str, Path))}
