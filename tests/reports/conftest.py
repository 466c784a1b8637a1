"""Fixtures for the report tests: copies of the fixture runs to damage (helpers: report_helpers.py)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture()
def run_copy(tmp_path: Path) -> Callable[[str], Path]:
    """A fresh copy of a fixture run (run_a, run_b, run_c, lmms_plain) under tmp_path, to edit."""

    def copy(name: str = "run_b") -> Path:
        target = tmp_path / "in" / name
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(FIXTURES / name, target)
        return target

    return copy
