"""What a run writes about where its numbers came from (issues 25 items 2-3, 26, 31): a real in-process run of the
answer prior, one task on a data folder named in the suite and one on the demo set with the embedded rubric judge;
results.json carries the provenance, every leaderboard format marks the rows, and no file holds a planted secret."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import pytest
from harness_helpers import only_run_dir, write_suite

from future_l1.harness.cli import main
from future_l1.tasks import results_schema as schema

PRIOR = {"label": "prior_b", "model": "answer_prior", "args": {"strategy": "fixed", "letter": "B"}}
SECRETS = ("PLANTEDtok3n", "PLANTEDk3y")
FB, TW, FB_DIRECT = "futurebench_future_l1", "twiffbench_future_l1", "futurebench"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from future_l1.tasks.demo_benchmarks import futurebench_demo_dir

    tmp = tmp_path_factory.mktemp("prov")
    mp = pytest.MonkeyPatch()
    for name in ("FUTURE_L1_FUTUREBENCH_DIR", "FUTURE_L1_FUTUREBENCH_VIDEO_DIR", "FUTURE_L1_TWIFFBENCH_DIR",
                 "FUTURE_L1_JUDGE_BASE_URL", "FUTURE_L1_JUDGE_MODEL"):  # fmt: skip
        mp.delenv(name, raising=False)
    mp.setenv("TQDM_DISABLE", "1")
    data = tmp / "fb_copy"
    shutil.copytree(futurebench_demo_dir(), data)
    unused = {"provider": "openai", "model": "judge-x",
              "base_url": f"http://user:{SECRETS[0]}@127.0.0.1:9/v1?api_key={SECRETS[1]}"}  # fmt: skip
    tasks = [{"name": FB, "limit": 4, "data": "fb_copy"}, {"name": TW, "limit": 3, "judge": "rubric"},
             {"name": FB_DIRECT, "limit": 8, "sample": "stratified", "seed": 1}]  # fmt: skip
    suite = write_suite(tmp / "s.yaml", [PRIOR], tasks, include_path=["future_l1.tasks"], judges={"remote": unused})
    err, out = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            rc = main(["run", str(suite), "--runs-dir", str(tmp / "runs")])
    finally:
        mp.undo()
    assert rc == 0, err.getvalue()[-3000:]
    return only_run_dir(tmp / "runs"), data, err.getvalue() + out.getvalue()


def _results(run_dir: Path, task: str) -> schema.ResultsFile:
    return schema.read_results_file(run_dir / "results" / "prior_b" / f"{task}.json")


def test_results_json_records_data_subset_judge_and_hardware(run) -> None:
    run_dir, data, _ = run
    fb = _results(run_dir, FB).provenance
    assert fb is not None and (fb.data.kind, fb.data.path) == ("folder", str(data.resolve()))
    assert fb.data.fingerprint == json.loads((run_dir / "identity.json").read_text())["datasets"][FB]
    assert (fb.subset.strategy, fb.subset.limit, fb.subset.n, fb.subset.n_total) == ("first", 4, 4, 24)
    assert fb.judge.kind == "none" and fb.checkpoint.source == "none" and fb.hardware.kind in ("cpu", "cuda")
    tw = _results(run_dir, TW).provenance
    assert tw is not None and tw.data.kind == "demo" and not tw.comparable
    assert (tw.judge.kind, tw.judge.model, tw.judge.endpoint, tw.judge.comparable) == (
        "rubric", "embedded rubric", "embedded", False)  # fmt: skip
    assert "demo data" in tw.tags() and "rubric judge" in tw.tags()
    judges = json.loads((run_dir / "judge.json").read_text())
    assert judges[TW]["role"] == "rubric" and judges[TW]["identity"]["model"] == "embedded rubric"


def test_a_stratified_limit_takes_a_seeded_sample_across_the_splits(run) -> None:
    run_dir, _, err = run
    sub = _results(run_dir, FB_DIRECT).provenance.subset
    assert (sub.strategy, sub.limit, sub.n, sub.n_total, sub.seed) == ("stratified", 8, 8, 24, 1)
    lines = [json.loads(x) for x in (run_dir / "samples" / "prior_b" / f"{FB_DIRECT}.jsonl").read_text().splitlines()]
    splits = sorted(line[schema.SAMPLE_KEYS[schema.FUTUREBENCH]]["split"] for line in lines)
    assert splits == ["hop1", "hop1", "hop2", "hop2", "hop3", "hop3", "interp", "interp"]  # 2 of each 6
    assert sorted(line["doc_id"] for line in lines) == list(range(8))
    assert f"task '{FB_DIRECT}'" not in err  # no "first documents" warning for a stratified sample


def test_the_run_summary_names_the_tasks_on_demo_data(run) -> None:
    _, _, printed = run
    assert f"data: {TW}, {FB_DIRECT} ran on the embedded DEMO data" in printed


def test_the_run_warns_before_it_starts_that_limit_takes_the_first_documents(run) -> None:
    _, _, err = run
    assert f"warning: task '{FB}': limit 4 takes lmms-eval's FIRST documents" in err


def test_no_file_of_the_run_holds_a_secret_of_the_suite(run) -> None:
    run_dir, _, _ = run
    files = [p for p in run_dir.rglob("*") if p.is_file()]
    assert any(p.name == "suite.yaml" for p in files) and any(p.name == "suite_source.json" for p in files)
    leaked = [str(p) for p in files for s in SECRETS if s.encode() in p.read_bytes()]
    assert leaked == []
    assert "127.0.0.1:9" in (run_dir / "suite.yaml").read_text()  # the endpoint itself is kept


def test_every_leaderboard_format_marks_demo_data_and_the_rubric_judge(run, tmp_path) -> None:
    from future_l1.reports.render import write_report

    run_dir, _, _ = run
    write_report([run_dir], tmp_path / "out", formats=("md", "csv", "tex", "html"), n_boot=20)
    out = tmp_path / "out"
    md = (out / "leaderboard.md").read_text()
    tw_row = next(line for line in md.splitlines() if line.startswith(f"| prior_b | {TW}"))
    assert "demo data · rubric judge · subset: first 3" in tw_row
    fb_row = next(line for line in md.splitlines() if line.startswith(f"| prior_b | {FB}"))
    assert "data folder fb_copy · subset: first 4 of 24" in fb_row
    assert "subset: stratified 8 of 24 (seed 1)" in md
    assert "demo data · rubric judge" in (out / "twiffbench.csv").read_text()
    assert "demo data · rubric judge" in (out / "report.html").read_text()
    assert r"demo data \textperiodcentered{} rubric judge" in (out / "twiffbench.tex").read_text()
