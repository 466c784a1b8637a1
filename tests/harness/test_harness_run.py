"""`future-l1 run` on fixture tasks: run directory layout, resume after SIGKILL, validation before loading models.

The CLI runs in this process (`run_main`); only the kill/resume test needs a child process (integration tier)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from harness_helpers import (
    child_env,
    cli_command,
    journal_lines,
    only_run_dir,
    results_of,
    run_main,
    samples_of,
    write_suite,
)

PRIOR_A = {"label": "prior_a", "model": "answer_prior", "args": {"strategy": "fixed", "letter": "A"}}
PRIOR_FREQ = {"label": "prior_freq", "model": "answer_prior", "args": {"strategy": "most_frequent"}}


def test_run_writes_the_run_directory_and_resumes_without_recomputing(tmp_path: Path) -> None:
    suite = write_suite(tmp_path / "s.yaml", [PRIOR_A, PRIOR_FREQ], ["hx_mc", {"name": "hx_open", "limit": 4}])
    first = run_main("run", str(suite), "--runs-dir", str(tmp_path / "runs"))
    assert first.returncode == 0, first.stderr[-3000:]
    run = only_run_dir(tmp_path / "runs")
    for name in ("suite.yaml", "env.json", "hashes.json", "judge.json", "state.json"):
        assert (run / name).is_file(), name
    state = json.loads((run / "state.json").read_text())
    assert state["status"] == "finished"
    assert set(state["entries"].values()) == {"done"} and len(state["entries"]) == 4
    metrics = results_of(run)
    # 12 fixture answers: 1 is "A"; the most frequent gold letter ("B") is right 5 times
    assert metrics["prior_a/hx_mc"]["hx_acc"] == pytest.approx(100 * 1 / 12)
    assert metrics["prior_freq/hx_mc"]["hx_acc"] == pytest.approx(100 * 5 / 12)
    result = json.loads((run / "results/prior_a/hx_open.json").read_text())
    assert result["n_samples"] == 4 and result["model_name"] == "answer_prior"
    assert "prior_a" in first.stdout and "hx_mc" in first.stdout  # the leaderboard
    samples = samples_of(run)["prior_a/hx_mc"]
    assert [s["doc_id"] for s in samples] == list(range(12))
    assert {"model", "task", "sample_hash", "latency_s", "doc_hash", "filtered_resps", "hx_acc"} <= set(samples[0])
    hashes = json.loads((run / "hashes.json").read_text())
    assert set(hashes["datasets"]) == {"hx_mc", "hx_open"}
    assert list((run / "lmms_eval").glob("prior_a/hx_mc/*_results.json"))
    env = json.loads((run / "env.json").read_text())
    assert env["packages"]["lmms-eval"] and "gpu" in env

    # same command again: same run directory, nothing recomputed
    again = run_main("run", str(suite), "--runs-dir", str(tmp_path / "runs"))
    assert again.returncode == 0, again.stderr[-3000:]
    assert only_run_dir(tmp_path / "runs") == run
    assert "0 samples computed, 32 reused from the journal (all samples reused" in again.stdout

    # an entry whose results were lost (killed between journal and results) is re-scored from the journal alone
    (run / "results/prior_freq/hx_mc.json").unlink()
    third = run_main("run", str(suite), "--runs-dir", str(tmp_path / "runs"))
    assert third.returncode == 0, third.stderr[-3000:]
    assert "0 samples computed, 32 reused" in third.stdout  # 12 re-scored from the journal, 20 done before
    assert results_of(run) == metrics

    listing = run_main("runs", "list", "--runs-dir", str(tmp_path / "runs"))
    assert run.name in listing.stdout and "finished" in listing.stdout and "4/4" in listing.stdout


@pytest.mark.integration
def test_killed_run_resumes_to_the_same_results_without_duplicates(tmp_path: Path) -> None:
    slow = {**PRIOR_FREQ, "args": {**PRIOR_FREQ["args"], "delay_s": 0.1}}
    suite = write_suite(tmp_path / "s.yaml", [slow], ["hx_mc", "hx_open"])
    total = 12 + 6

    reference = run_main("run", str(suite), "--runs-dir", str(tmp_path / "reference"))
    assert reference.returncode == 0, reference.stderr[-3000:]

    runs = tmp_path / "runs"
    child = subprocess.Popen(
        cli_command("run", str(suite), "--runs-dir", str(runs)),
        env=child_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        killed_at = None
        while time.monotonic() < deadline and child.poll() is None:
            journals = list(runs.glob("*/journal/*.jsonl"))
            lines = sum(len(p.read_bytes().splitlines()) for p in journals)
            if lines >= 5:
                os.kill(child.pid, signal.SIGKILL)
                killed_at = lines
                break
            time.sleep(0.02)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    run = only_run_dir(runs)
    assert killed_at is not None and len(journal_lines(run)) < total
    assert json.loads((run / "state.json").read_text())["status"] == "running"

    resumed = run_main("run", str(suite), "--runs-dir", str(runs))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    reused = int(resumed.stdout.split(" reused")[0].rsplit(" ", 1)[-1])
    assert reused >= killed_at - 1  # everything journalled before the kill was kept (a torn line may be lost)

    assert results_of(run) == results_of(only_run_dir(tmp_path / "reference"))
    keys = [rec["key"] for rec in journal_lines(run)]
    assert len(keys) == len(set(keys)) == total
    ref_samples = samples_of(only_run_dir(tmp_path / "reference"))
    for entry, samples in samples_of(run).items():
        doc_ids = [s["doc_id"] for s in samples]
        assert len(doc_ids) == len(set(doc_ids))
        assert [s["filtered_resps"] for s in samples] == [s["filtered_resps"] for s in ref_samples[entry]]
        assert [s["sample_hash"] for s in samples] == [s["sample_hash"] for s in ref_samples[entry]]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_bad_suite_fails_before_any_model_loads_with_one_line_per_problem(tmp_path: Path) -> None:
    # `strategy=bogus` makes answer_prior raise on construction: if any model were loaded, that error would show.
    models = [
        {"label": "ok", "model": "answer_prior", "args": {"strategy": "bogus"}},
        {"label": "nockpt", "model": "answer_prior", "args": {"pretrained": str(tmp_path / "missing-ckpt")}},
        {"label": "nomodel", "model": "no_such_model_xyz"},
    ]
    tasks = ["hx_mc", "no_such_task", {"name": "hx_open", "judge": "gpt"}]
    judges = {"gpt": {"provider": "openai", "base_url": f"http://127.0.0.1:{_closed_port()}/v1", "model": "x"}}
    suite = write_suite(tmp_path / "bad.yaml", models, tasks, judges=judges)
    result = run_main("run", str(suite), "--runs-dir", str(tmp_path / "runs"))
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 5, result.stderr[-3000:]
    text = "\n".join(errors)
    assert "missing-ckpt" in text and "'nockpt'" in text
    assert "unknown key 'pretrained'" in text  # answer_prior takes no checkpoint: the key is refused, not ignored
    assert "'no_such_task'" in text and "unknown task" in text
    assert "'no_such_model_xyz'" in text
    assert "judge 'gpt'" in text and "unreachable" in text
    assert "bogus" not in result.stderr
    assert not (tmp_path / "runs").exists()


def test_model_failure_names_model_task_and_cause_and_exits_nonzero(tmp_path: Path) -> None:
    models = [{"label": "broken", "model": "answer_prior", "args": {"strategy": "bogus"}}, PRIOR_A]
    suite = write_suite(tmp_path / "s.yaml", models, ["hx_mc"])
    result = run_main("run", str(suite), "--runs-dir", str(tmp_path / "runs"))
    assert result.returncode == 1
    assert "model 'broken', task 'hx_mc'" in result.stderr and "bogus" in result.stderr
    run = only_run_dir(tmp_path / "runs")
    state = json.loads((run / "state.json").read_text())
    assert state["status"] == "failed"
    assert state["entries"] == {"broken/hx_mc": "failed", "prior_a/hx_mc": "done"}


def test_run_id_options(tmp_path: Path) -> None:
    suite = write_suite(tmp_path / "s.yaml", [PRIOR_A], [{"name": "hx_open", "limit": 2}])
    runs = tmp_path / "runs"
    assert run_main("run", str(suite), "--runs-dir", str(runs), "--run-id", "mine").returncode == 0
    assert (runs / "mine" / "state.json").exists()
    changed = yaml.safe_load(suite.read_text())
    changed["tasks"][0]["limit"] = 3
    suite.write_text(yaml.safe_dump(changed))
    clash = run_main("run", str(suite), "--runs-dir", str(runs), "--run-id", "mine")
    assert clash.returncode == 2 and "different inputs" in clash.stderr and "the suite" in clash.stderr
