"""The demo's leaderboard equals a committed golden copy, and the README's demo table is rendered from it.

CI runs `make demo` and then `make test` with FUTURE_L1_DEMO_RUNS_DIR pointing at the demo's runs directory, so this
test checks the very run a new user sees. Without that variable the test runs the default suite itself.

The golden file holds one leaderboard per CPU kernel family that has run the demo: the demo trains a tiny model, and
torch's AVX-512 kernels round differently from its AVX2 ones, so the same seeds and packages give slightly different
weights and, on a few of the 24 items, different answers (25.0% against 33.3% on FutureBench). A run must equal one
of them exactly; the README's table shows every copy, each row naming its kernel family (a copy's `label`, else its
`cpu`).

Regenerate after an intended change (a new lock, a protocol fix), which drops every other CPU's copy:
    FUTURE_L1_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_demo_golden.py
then, on a machine of another kernel family, add its copy with FUTURE_L1_ADD_GOLDEN=1. Commit
tests/golden/demo_leaderboard.json together with the README.
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


def copy_label(copy: dict) -> str:
    return copy.get("label") or copy["cpu"]


def readme_table(copies: list[dict]) -> str:
    """One row per model and golden copy (CPU kernel family), models in the demo's order."""
    values: dict[tuple[str, str], dict[str, float]] = {}
    for copy in copies:
        for row in copy["rows"]:
            cells = values.setdefault((row["model"], copy_label(copy)), {})
            for key, _ in COLUMNS[row["task"]]:
                cells[f"{row['task']}:{key}"] = row["metrics"].get(key)
    headers = [header for task in COLUMNS for _, header in COLUMNS[task]]
    lines = ["| Model | CPU kernels | " + " | ".join(headers) + " |", "|---|---|" + "---:|" * len(headers)]
    for model in LABELS:
        for copy in copies:
            cells = []
            for task in COLUMNS:
                for key, _ in COLUMNS[task]:
                    value = values[(model, copy_label(copy))][f"{task}:{key}"]
                    cells.append("—" if value is None else (f"{value:.0f}" if key.startswith("n_") else f"{value:.2f}"))
            lines.append(f"| {model} | {copy_label(copy)} | " + " | ".join(cells) + " |")
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


def cpu_kernels() -> str:
    import torch

    return torch.backends.cpu.get_cpu_capability()


def golden_copies() -> list[dict]:
    """[{"cpu": kernel family or a note, "label": short name (optional), "rows": leaderboard rows}, ...]."""
    return json.loads(GOLDEN.read_text())["copies"]


def write_golden(copies: list[dict]) -> None:
    GOLDEN.write_text(json.dumps({"copies": copies}, indent=1) + "\n")
    text = README.read_text()
    block = f"{START}\n{readme_table(copies)}\n{END}"
    README.write_text(re.sub(re.escape(START) + r".*?" + re.escape(END), lambda _: block, text, flags=re.S))


def test_demo_leaderboard_equals_a_golden_copy(demo_run: Path) -> None:
    rows = leaderboard_rows(demo_run)
    if os.environ.get("FUTURE_L1_UPDATE_GOLDEN") == "1":
        write_golden([{"cpu": cpu_kernels(), "rows": rows}])
    elif os.environ.get("FUTURE_L1_ADD_GOLDEN") == "1" and rows not in [c["rows"] for c in golden_copies()]:
        write_golden([*golden_copies(), {"cpu": cpu_kernels(), "rows": rows}])
    copies = golden_copies()
    assert rows in [c["rows"] for c in copies], (
        f"demo numbers drifted from every copy in {GOLDEN.name} (run: {demo_run}; this CPU: {cpu_kernels()}; "
        f"copies: {[c['cpu'] for c in copies]})"
    )


def test_readme_demo_table_is_rendered_from_every_golden_copy() -> None:
    copies = golden_copies()
    text = README.read_text()
    assert START in text and END in text
    block = text.split(START, 1)[1].split(END, 1)[0].strip()
    assert block == readme_table(copies)
    # every kernel family's numbers are in the table, e.g. future_l1_tiny's FutureBench AVG on each
    for copy in copies:
        tiny = next(r for r in copy["rows"] if r["model"] == LABELS[0] and r["task"] == "futurebench_future_l1")
        row = f"| {LABELS[0]} | {copy_label(copy)} | {tiny['metrics']['future_acc']:.2f} |"
        assert row in block, row
