"""Run state that tells the truth (issue 31, issue 24 item 6): file modes, planted links, signals, `runs list` of a
killed run. In-process except the SIGTERM test (integration: it needs a child process to signal)."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path

import pytest
from harness_helpers import child_env, cli_command, journal_lines, only_run_dir, run_main, write_suite

from future_l1.harness import rundir, signals
from future_l1.model import jsonl

PRIOR = {"label": "prior", "model": "answer_prior", "args": {"strategy": "fixed", "letter": "A"}}
DEAD_PID = 4_194_305  # above Linux's largest pid_max: no process can have it


def _state(run: Path, **fields) -> None:
    run.mkdir(parents=True, exist_ok=True)
    (run / "state.json").write_text(json.dumps({"entries": {"m/t": "pending"}, **fields}))


def test_runs_list_shows_a_run_whose_process_is_gone_as_interrupted(tmp_path: Path) -> None:
    host = socket.gethostname()
    _state(tmp_path / "a-dead", status="running", pid=DEAD_PID, host=host)
    _state(tmp_path / "b-alive", status="running", pid=os.getpid(), host=host)
    (tmp_path / "c-corrupt").mkdir()
    (tmp_path / "c-corrupt/state.json").write_text("[1, 2")
    (tmp_path / "d-list").mkdir()
    (tmp_path / "d-list/state.json").write_text("[]")
    rows = {r["run_id"]: r["status"] for r in rundir.list_runs(tmp_path)}
    assert rows == {"a-dead": "interrupted", "b-alive": "running", "c-corrupt": "unreadable", "d-list": "unreadable"}
    listing = run_main("runs", "list", "--runs-dir", str(tmp_path))
    assert listing.returncode == 0 and "a-dead" in listing.stdout and "interrupted" in listing.stdout


def test_run_files_are_written_with_the_umask_not_0600(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        rundir.write_json(tmp_path / "r/results.json", {"a": 1})
        jsonl.append(tmp_path / "j.jsonl", [{"k": 1}])
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "r/results.json").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "j.jsonl").stat().st_mode) == 0o644


def test_jsonl_refuses_a_link_instead_of_writing_through_it(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me\npartial")
    link = tmp_path / "journal.jsonl"
    link.symlink_to(outside)
    for action in (
        lambda: jsonl.repair_tail(link),
        lambda: jsonl.append(link, [{"k": 1}]),
        lambda: list(jsonl.read(link)),
    ):
        with pytest.raises(jsonl.LinkRefused, match="symbolic link"):
            action()
    with pytest.raises(jsonl.LinkRefused):
        rundir.read_json(link)
    assert outside.read_text() == "keep me\npartial"


def test_a_run_refuses_links_planted_in_its_directory(tmp_path: Path) -> None:
    suite = write_suite(tmp_path / "s.yaml", [PRIOR], [{"name": "hx_open", "limit": 2}])
    runs = tmp_path / "runs"
    assert run_main("run", str(suite), "--runs-dir", str(runs)).returncode == 0
    run = only_run_dir(runs)
    journal = next((run / "journal").glob("*.jsonl"))
    outside = tmp_path / "victim.jsonl"
    outside.write_text("precious, no newline at the end")
    journal.unlink()
    journal.symlink_to(outside)
    (run / "results/prior/hx_open.json").unlink()  # forces the journal to be read again
    again = run_main("run", str(suite), "--runs-dir", str(runs))
    assert again.returncode == 2
    assert f"{journal} is a symbolic link" in again.stderr and "remove it" in again.stderr
    assert outside.read_text() == "precious, no newline at the end"


def test_a_signal_inside_a_critical_block_waits_for_it_to_end() -> None:
    finished = False
    with pytest.raises(signals.Terminated) as caught, signals.stopping():
        with signals.critical():
            os.kill(os.getpid(), signal.SIGTERM)
            finished = True  # the block is not cut
        pytest.fail("the held SIGTERM was not raised when the block ended")
    assert finished and caught.value.signum == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the previous handler is back


@pytest.mark.integration
def test_sigterm_marks_the_run_interrupted_and_keeps_the_journal_whole(tmp_path: Path) -> None:
    slow = {**PRIOR, "args": {**PRIOR["args"], "delay_s": 0.2}}
    suite = write_suite(tmp_path / "s.yaml", [slow], ["hx_mc"])
    runs = tmp_path / "runs"
    child = subprocess.Popen(cli_command("run", str(suite), "--runs-dir", str(runs)), env=child_env(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and child.poll() is None:
            if sum(len(p.read_bytes().splitlines()) for p in runs.glob("*/journal/*.jsonl")) >= 3:
                child.send_signal(signal.SIGTERM)
                break
            time.sleep(0.02)
        _, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 128 + signal.SIGTERM, err[-2000:]
    assert "SIGTERM" in err and "run the same command again to resume" in err
    run = only_run_dir(runs)
    state = json.loads((run / "state.json").read_text())
    assert state["status"] == "interrupted"
    assert [r["status"] for r in rundir.list_runs(runs)] == ["interrupted"]
    for path in (run / "journal").glob("*.jsonl"):
        assert path.read_bytes().endswith(b"\n")  # no torn line
    done = len(journal_lines(run))
    resumed = run_main("run", str(suite), "--runs-dir", str(runs))
    assert resumed.returncode == 0 and f"{12 - done} samples computed, {done} reused" in resumed.stdout


def test_two_new_runs_in_the_same_second_get_two_directories(tmp_path: Path, monkeypatch) -> None:
    """Issue 31: `run --new` ids carry the time to the second; two in the same second shared one directory."""
    from future_l1.harness import runner

    monkeypatch.setattr(runner.time, "strftime", lambda *_: "20261205-000000")
    suite = write_suite(tmp_path / "s.yaml", [PRIOR], [{"name": "hx_open", "limit": 2}])
    runs = tmp_path / "runs"
    for _ in range(2):
        got = run_main("run", str(suite), "--runs-dir", str(runs), "--new")
        assert got.returncode == 0 and "2 samples computed, 0 reused" in got.stdout, got.stderr[-2000:]
    names = sorted(p.name for p in runs.iterdir())
    assert len(names) == 2 and names[1] == names[0] + "-2"


def test_a_journal_line_nested_past_the_recursion_limit_is_skipped_not_fatal(tmp_path: Path) -> None:
    """Issue 31: one deeply nested journal line made the run unresumable (RecursionError, blamed on the model)."""
    path = tmp_path / "j.jsonl"
    path.write_text('{"key": "a"}\n{"key": ' + "[" * 200_000 + "]" * 200_000 + '}\n{"key": "b"}\n')
    assert [r["key"] for r in jsonl.read(path)] == ["a", "b"]
