"""Where commands write by default: one output root, `--output-path DIR` (on every command) or FUTURE_L1_OUTPUT,
else the current folder. Each kind of output has a fixed folder under it:

    runs/                      `future-l1 run` run directories (`runs list` reads them)
    report/                    `future-l1 report`
    training/<demo name>/      `train sft|rl --demo` without --output-dir
    experiments/<name>/        `future-l1 experiment …`

An explicit per-command path (--runs-dir, --out, --output-dir) still wins. Lives in the lowest layer because every
layer's commands read it.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV = "FUTURE_L1_OUTPUT"
_given: Path | None = None  # --output-path of the command being run (set by the CLI for its one command)


def set_root(path: str | Path | None) -> None:
    """The command line's `--output-path` (None: back to FUTURE_L1_OUTPUT or the current folder)."""
    global _given
    _given = Path(path) if path else None


def root() -> Path:
    return _given or Path(os.environ.get(ENV) or ".")


def output_dir(*parts: str) -> Path:
    """`<output root>/<parts…>` (e.g. `output_dir("runs")`)."""
    return root().joinpath(*parts)
