"""Data parallel: `torchrun --nproc_per_node 2 -m future_l1.harness.cli run SUITE` (gloo on CPU) equals one process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from harness_helpers import child_env, journal_lines, only_run_dir, results_of, run_cli, samples_of, write_suite


@pytest.mark.integration
def test_two_process_torchrun_matches_one_process(tmp_path: Path) -> None:
    models = [{"label": "prior", "model": "answer_prior", "args": {"strategy": "most_frequent"}}]
    suite = write_suite(tmp_path / "s.yaml", models, ["hx_mc", {"name": "hx_open", "limit": 5}])
    single = run_cli("run", str(suite), "--runs-dir", str(tmp_path / "one"))
    assert single.returncode == 0, single.stderr[-3000:]
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    multi = subprocess.run(
        [*torchrun, "-m", "future_l1.harness.cli", "run", str(suite), "--runs-dir", str(tmp_path / "two")],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=300,  # two processes on a shared 2-core machine
    )
    assert multi.returncode == 0, multi.stderr[-4000:]
    one, two = only_run_dir(tmp_path / "one"), only_run_dir(tmp_path / "two")
    assert one.name == two.name  # the run id depends on the inputs (suite, data, checkpoints), not on world size
    assert results_of(two) == results_of(one)
    for entry, samples in samples_of(two).items():
        assert sorted(s["doc_id"] for s in samples) == [s["doc_id"] for s in samples_of(one)[entry]]
    journals = sorted(p.name for p in (two / "journal").iterdir())
    assert journals == ["prior.rank0.jsonl", "prior.rank1.jsonl"]
    assert all(s["latency_s"] is not None for rows in samples_of(two).values() for s in rows)
    keys = [r["key"] for r in journal_lines(two)]
    assert len(keys) == len(set(keys)) == 12 + 5  # rank padding requests are never journalled
    assert multi.stdout.count("run directory:") == 1  # only rank 0 reports
