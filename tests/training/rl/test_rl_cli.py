"""`future-l1 train rl`: a killed run resumes from its last Trainer checkpoint; the demo run trains, renders its
curves and leaves a checkpoint that `future-l1 run` evaluates (both slow: minutes on 2 CPU cores)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SMALL = {"per_device_train_batch_size": 8, "num_generations": 4, "max_completion_length": 40,
         "max_sampling_tries": 1, "save_steps": 1, "save_total_limit": 2}  # fmt: skip


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "future_l1.harness.cli", "train", "rl", *args]


@pytest.mark.slow
def test_killed_run_resumes_from_its_last_checkpoint(tmp_path):
    import yaml

    cfg = tmp_path / "small.yaml"
    cfg.write_text(yaml.safe_dump(SMALL))
    out = tmp_path / "run"
    args = _cli("--demo", "--config", str(cfg), "--output-dir", str(out), "--max-steps", "3", "--no-curves")
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 900
    try:
        while not (out / "checkpoint-1" / "trainer_state.json").exists():
            assert proc.poll() is None, "the run ended before its first checkpoint"
            assert time.time() < deadline, "no checkpoint within 15 minutes"
            time.sleep(2)
        time.sleep(1)  # let the checkpoint folder finish (Trainer writes the state last)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not (out / "rl_history.json").exists()  # it really was killed mid-run
    done = subprocess.run([*args, "--resume"], capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((out / "rl_history.json").read_text())
    assert summary["global_steps"] == 3
    steps = [h["step"] for h in summary["history"]]
    assert steps and min(steps) >= 2, steps  # the resumed run started after checkpoint-1 (or -2)


@pytest.mark.slow
def test_demo_trains_renders_curves_and_evaluates(tmp_path):
    out = tmp_path / "demo-rl"
    done = subprocess.run(_cli("--demo", "--output-dir", str(out)), capture_output=True, text=True, timeout=3600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (out / "rl_curves.png").exists() and (out / "config.json").exists()
    summary = json.loads((out / "rl_history.json").read_text())
    hist = summary["history"]
    assert len(hist) == summary["global_steps"] >= 10
    first, last = hist[: len(hist) // 2], hist[len(hist) // 2 :]

    def mean(rows, key):
        return sum(float(r[key]) for r in rows) / len(rows)

    # report the trend; the tiny model's accuracy is near chance, so only the format must not collapse
    print({k: (mean(first, k), mean(last, k)) for k in ("rewards/format/mean", "rewards/accuracy/mean")})
    assert mean(last, "rewards/format/mean") >= mean(first, "rewards/format/mean") - 0.1

    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "name: rl-demo\ninclude_path: [future_l1.tasks]\n"
        f"models:\n  - {{label: rl, model: future_l1, args: {{pretrained: '{out}', latent: true}}}}\n"
        "tasks:\n  - {name: futurebench_future_l1, limit: 4, gen_kwargs: {max_new_tokens: 64}}\n"
        "settings: {chunk_size: 1}\n"
    )
    run = subprocess.run([sys.executable, "-m", "future_l1.harness.cli", "run", str(suite), "--runs-dir",
                          str(tmp_path / "runs")], capture_output=True, text=True, timeout=1800)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    results = list(Path(tmp_path / "runs").rglob("results*.json"))
    assert results, "no results written"
