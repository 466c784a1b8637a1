"""A user's own model, packaged as an lmms-eval plugin, runs a future-l1 task through lmms-eval (model/PLUGINS.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PLUGIN = Path(__file__).resolve().parent / "example_plugin"


def _tasks_path() -> str | None:
    try:
        from future_l1.tasks import tasks_path
    except ImportError:
        return None
    return str(tasks_path())


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory) -> Path:
    """pip-installs the example into a private target folder (dist-info included, so its entry point is found)."""
    target = tmp_path_factory.mktemp("plugin_site")
    build = tmp_path_factory.mktemp("plugin_src")
    subprocess.run(["cp", "-r", str(PLUGIN) + "/.", str(build)], check=True)  # keep build artefacts out of the repo
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "-q",
                    "--target", str(target), str(build)], check=True, capture_output=True)  # fmt: skip
    assert list(target.glob("fl1_example_plugin-*.dist-info"))
    return target


@pytest.mark.integration
@pytest.mark.skipif(_tasks_path() is None, reason="the tasks area does not provide tasks_path() yet")
def test_example_plugin_runs_futurebench(installed_plugin, tmp_path):
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1",
               PYTHONPATH=os.pathsep.join([str(installed_plugin), os.environ.get("PYTHONPATH", "")]))  # fmt: skip
    cmd = [sys.executable, "-m", "lmms_eval", "--model", "fl1_example", "--include_path", _tasks_path(),
           "--tasks", "futurebench_future_l1", "--limit", "4", "--output_path", str(tmp_path), "--log_samples",
           "--verbosity", "DEBUG"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (results,) = tmp_path.rglob("*_results.json")
    metrics = json.loads(results.read_text())["results"]["futurebench_future_l1"]
    assert metrics["n_errors,none"] == 0
    (samples,) = tmp_path.rglob("*_samples_futurebench_future_l1.jsonl")
    lines = [json.loads(x) for x in samples.read_text().splitlines()]
    assert len(lines) == 4
    assert all(line["future_acc"]["pred"] in "ABCD" and line["future_acc"]["pred"] for line in lines)
