"""The tree stays ruff clean (lint and format), so CI enforces the style rules, not reviewers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.integration
@pytest.mark.parametrize("args", [["check", "."], ["format", "--check", "."]], ids=["lint", "format"])
def test_ruff(args: list[str]) -> None:
    result = subprocess.run([sys.executable, "-m", "ruff", *args], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-1000:]


def test_citations_point_to_things_users_can_open() -> None:
    """Docstrings and comments cite the paper or the authors' file paths, never our private research notes."""
    offenders = []
    for folder in ("harness", "model", "tasks", "training", "reports", "bench"):
        for path in sorted((REPO / folder).rglob("*")):
            if path.suffix not in (".py", ".yaml", ".md") or "__pycache__" in path.parts:
                continue
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if "official-code-spec" in line or "spec §" in line:
                    offenders.append(f"{path.relative_to(REPO)}:{n}: {line.strip()[:100]}")
    assert not offenders, "\n".join(offenders)
