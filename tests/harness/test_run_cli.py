"""`future-l1 run` as lmms-eval users expect it (issue 26): a one-off run without a suite file, `--output-path` for
every default output folder, quiet logs by default and `-v` for more. In process (the fast tier)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from harness_helpers import FIXTURES, only_run_dir, results_of, run_main, write_suite

ONEOFF = ("--model", "answer_prior", "--model-args", "strategy=fixed,letter=A", "--tasks", "hx_mc,hx_open",
          "--limit", "4", "--include-path", str(FIXTURES / "tasks"))  # fmt: skip


def test_oneoff_run_without_a_suite_file_under_the_output_path(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    first = run_main("run", *ONEOFF, "--output-path", str(out))
    assert first.returncode == 0, first.stderr[-3000:]
    run = only_run_dir(out / "runs")
    assert run.name.startswith("cli-answer_prior-")
    suite = yaml.safe_load((run / "suite.yaml").read_text())
    assert suite["models"][0]["args"] == {"strategy": "fixed", "letter": "A"}
    assert [(t["name"], t["limit"]) for t in suite["tasks"]] == [("hx_mc", 4), ("hx_open", 4)]
    assert set(results_of(run)) == {"answer_prior/hx_mc", "answer_prior/hx_open"}
    assert json.loads((run / "results/answer_prior/hx_mc.json").read_text())["n_samples"] == 4
    assert not (tmp_path / "runs").exists()  # nothing in the current folder
    again = run_main("run", *ONEOFF, "--output-path", str(out))
    assert "0 samples computed, 8 reused from the journal (all samples reused" in again.stdout
    listing = run_main("runs", "list", "--output-path", str(out))
    assert run.name in listing.stdout and "finished" in listing.stdout
    report = run_main("report", str(run), "--format", "md", "--output-path", str(out))
    assert report.returncode == 0, report.stderr[-2000:]
    assert (out / "report").is_dir() and not (tmp_path / "report").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--model", "answer_prior"), "needs both --model NAME and --tasks"),
        (("--tasks", "hx_mc"), "needs both --model NAME and --tasks"),
        (("suite.yaml", "--model", "answer_prior", "--tasks", "hx_mc"), "either a suite file"),
        (("--model", "answer_prior", "--tasks", "hx_mc", "--model-args", "strategy"), "'strategy' is not key=value"),
    ],
)
def test_oneoff_run_refuses_incomplete_or_mixed_arguments(tmp_path: Path, argv, message) -> None:
    got = run_main("run", *argv, "--include-path", str(FIXTURES / "tasks"), "--runs-dir", str(tmp_path / "runs"))
    assert got.returncode == 2 and message in got.stderr, got.stderr
    assert not (tmp_path / "runs").exists()


def test_logs_are_quiet_by_default_and_verbose_with_v(tmp_path: Path) -> None:
    tasks = tmp_path / "tasks"
    shutil.copytree(FIXTURES / "tasks", tasks)
    (tasks / "hx" / "_hx_template.yaml").write_text("output_type: generate_until\n")  # not a task: lmms-eval DEBUGs
    model = {"label": "p", "model": "answer_prior", "args": {"strategy": "fixed", "letter": "A"}}
    suite = write_suite(tmp_path / "s.yaml", [model], [{"name": "hx_open", "limit": 2, "gen_kwargs": {"max_new_tokens": 8}}],
                        include_path=[str(tasks)])  # fmt: skip
    quiet = run_main("run", str(suite), "--runs-dir", str(tmp_path / "a"))
    assert quiet.returncode == 0, quiet.stderr[-3000:]
    assert "DEBUG" not in quiet.stderr and "_hx_template.yaml" not in quiet.stderr
    assert "specified through cli" not in quiet.stderr
    loud = run_main("run", str(suite), "--runs-dir", str(tmp_path / "b"), "-vv")
    assert loud.returncode == 0 and "DEBUG" in loud.stderr


def test_training_demo_output_goes_under_the_output_path(tmp_path: Path, monkeypatch) -> None:
    """Issue 26 item 13: `train sft --demo` wrote ./future-l1-demo-sft into whatever folder it was started from."""
    from future_l1.training import sft

    seen = {}

    def fake_run(cfg):
        seen["out"] = Path(cfg.output_dir)
        return seen["out"]

    monkeypatch.setattr(sft, "run_sft", fake_run)
    monkeypatch.chdir(tmp_path)
    got = run_main("train", "sft", "--demo", "--max-steps", "1", "--output-path", str(tmp_path / "out"))
    assert got.returncode == 0, got.stderr[-2000:]
    assert seen["out"] == tmp_path / "out" / "training" / "future-l1-demo-sft"


def test_run_id_help_names_everything_the_digest_covers() -> None:
    """Issue 31: `--run-id` help said the id comes from the suite's content hash only."""
    got = run_main("run", "--help")
    assert got.returncode == 0
    text = " ".join(got.stdout.split())
    assert "digest of the suite, task definitions, data and checkpoints" in text and "content hash" not in text
