"""The demo's leaderboard equals the committed golden copy, and the README's demo table is rendered from it.

CI runs `make demo` and then `make test` with FUTURE_L1_DEMO_RUNS_DIR pointing at the demo's runs directory, so this
test checks the very run a new user sees. Without that variable the test runs the default suite itself.

Regenerate after an intended change (a new lock, a protocol fix):
    FUTURE_L1_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_demo_golden.py
and commit tests/golden/demo_leaderboard.json together with the README.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "golden" / "demo_leaderboard.json"
README = REPO / "README.md"
LABELS = ("future_l1_tiny", "future_l1_tiny_no_latent", "answer_prior")
# The columns the README shows, per task: (metric key, header).
COLUMNS = {
    "futurebench_future_l1": [("future_acc", "FutureBench AVG (%)"), ("n_errors", "FB errors")],
    "twiffbench_future_l1": [("twiff_avg", "TwiFF Avg (0-5)"), ("n_failed", "TwiFF judge failures")],
}
START, END = "<!-- demo-golden:start -->", "<!-- demo-golden:end -->"


def finished_run(runs_dir: Path) -> Path:
    """The newest run directory in `runs_dir` whose three demo models finished both tasks."""
    candidates = [
        run
        for run in runs_dir.iterdir()
        if all((run / "results" / label / f"{task}.json").is_file() for label in LABELS for task in COLUMNS)
    ]
    assert candidates, f"no finished demo run under {runs_dir}"
    return max(candidates, key=lambda run: (run / "state.json").stat().st_mtime)


def leaderboard_rows(run: Path) -> list[dict]:
    """One row per model x task: every numeric metric, rounded so that float noise in the 6th digit is ignored."""
    rows = []
    for label in LABELS:
        for task in COLUMNS:
            metrics = json.loads((run / "results" / label / f"{task}.json").read_text())["metrics"]
            numeric = {
                k: None if v is None else round(float(v), 4)
                for k, v in sorted(metrics.items())
                if v is None or (isinstance(v, int | float) and not isinstance(v, bool))
            }
            rows.append({"model": label, "task": task, "metrics": numeric})
    return rows


def readme_table(rows: list[dict]) -> str:
    by_model: dict[str, dict[str, float]] = {}
    for row in rows:
        for key, _ in COLUMNS[row["task"]]:
            by_model.setdefault(row["model"], {})[f"{row['task']}:{key}"] = row["metrics"].get(key)
    headers = [header for task in COLUMNS for _, header in COLUMNS[task]]
    lines = ["| Model | " + " | ".join(headers) + " |", "|---|" + "---:|" * len(headers)]
    for model, values in by_model.items():
        cells = []
        for task in COLUMNS:
            for key, _ in COLUMNS[task]:
                value = values[f"{task}:{key}"]
                cells.append("—" if value is None else (f"{value:.0f}" if key.startswith("n_") else f"{value:.2f}"))
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    runs_dir = os.environ.get("FUTURE_L1_DEMO_RUNS_DIR")
    if runs_dir:
        return finished_run(Path(runs_dir))
    cwd = tmp_path_factory.mktemp("demo")
    cli = Path(sys.executable).with_name("future-l1")
    result = subprocess.run([str(cli), "run"], cwd=cwd, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stderr[-4000:]
    return finished_run(cwd / "runs")


def test_demo_leaderboard_equals_the_golden_copy(demo_run: Path) -> None:
    rows = leaderboard_rows(demo_run)
    if os.environ.get("FUTURE_L1_UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(json.dumps(rows, indent=1) + "\n")
        text = README.read_text()
        block = f"{START}\n{readme_table(rows)}\n{END}"
        README.write_text(re.sub(re.escape(START) + r".*?" + re.escape(END), lambda _: block, text, flags=re.S))
    golden = json.loads(GOLDEN.read_text())
    assert rows == golden, f"demo numbers drifted from {GOLDEN.name} (run: {demo_run})"


def test_readme_demo_table_is_rendered_from_the_golden_copy() -> None:
    golden = json.loads(GOLDEN.read_text())
    text = README.read_text()
    assert START in text and END in text
    block = text.split(START, 1)[1].split(END, 1)[0].strip()
    assert block == readme_table(golden)
