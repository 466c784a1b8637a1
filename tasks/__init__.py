"""FutureBench and TwiFF-Bench as lmms-eval tasks (this folder is an lmms-eval `--include_path`).

`tasks_path()` is the folder to pass to `lmms-eval --include_path` or `TaskManager(include_path=...)`;
`future-l1 tasks path` prints it. Data locations: `future_l1.tasks.settings`; judge: `future_l1.tasks.judge`.
"""

from __future__ import annotations

from pathlib import Path

TASK_NAMES = (
    "futurebench_future_l1",
    "futurebench",
    "futurebench_thinking",
    "twiffbench_future_l1",
    "twiffbench",
    "twiffbench_thinking",
)


def tasks_path() -> Path:
    return Path(__file__).resolve().parent
