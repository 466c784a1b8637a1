"""Helpers for the report tests: the `report` CLI run in-process, and the files of a fixture run copy."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from future_l1.harness.cli import main as cli_main


def report_cli(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of `future-l1 report ARGS`, run in-process."""
    capsys.readouterr()
    rc = cli_main(["report", *args])
    out, err = capsys.readouterr()
    return rc, out, err


def edit_json(path: Path, change: Callable[[dict], object]) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def results_file(run: Path) -> Path:
    (path,) = sorted((run / "results").glob("*/futurebench_future_l1.json"))
    return path


def samples_file(run: Path) -> Path:
    (path,) = sorted((run / "samples").glob("*/futurebench_future_l1.jsonl"))
    return path
