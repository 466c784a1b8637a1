"""Shared helpers for the harness tests: run the CLI (in this process, or in a child process where a test needs one:
kill, lock, torchrun) and read run directories."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from in_process import run_main  # noqa: F401  (re-exported for the harness tests)

FIXTURES = Path(__file__).parent / "fixtures"


def write_suite(path: Path, models: list[dict], tasks: list, **extra) -> Path:
    import yaml

    doc = {"name": path.stem, "include_path": [str(FIXTURES / "tasks")], "models": models, "tasks": tasks, **extra}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "future_l1.harness.cli", *args]


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TQDM_DISABLE": "1", "PYTHONUNBUFFERED": "1"})
    return env


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """`future-l1 ARGS` in a child process (integration tests only: a child costs seconds of imports)."""
    return subprocess.run(cli_command(*args), cwd=cwd, env=child_env(), capture_output=True, text=True, timeout=timeout)


def only_run_dir(runs_root: Path) -> Path:
    runs = [p for p in runs_root.iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


def results_of(run_dir: Path) -> dict[str, dict]:
    return {
        f"{p.parent.name}/{p.stem}": json.loads(p.read_text())["metrics"]
        for p in sorted((run_dir / "results").glob("*/*.json"))
    }


def samples_of(run_dir: Path) -> dict[str, list[dict]]:
    out = {}
    for p in sorted((run_dir / "samples").glob("*/*.jsonl")):
        out[f"{p.parent.name}/{p.stem}"] = [json.loads(line) for line in p.read_text().splitlines()]
    return out


def journal_lines(run_dir: Path) -> list[dict]:
    lines = []
    for p in sorted((run_dir / "journal").glob("*.jsonl")):
        lines += [json.loads(line) for line in p.read_text().splitlines() if line.strip()]
    return lines
