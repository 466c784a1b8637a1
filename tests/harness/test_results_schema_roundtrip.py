"""The results schema round-trips a real run directory: what the runner writes, the schema and the reports read back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from harness_helpers import only_run_dir, write_suite

from future_l1.harness.cli import main
from future_l1.reports.readers import read_run_dir
from future_l1.tasks import results_schema as schema

PRIOR_B = {"label": "prior_b", "model": "answer_prior", "args": {"strategy": "fixed", "letter": "B"}}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("schema")
    mp = pytest.MonkeyPatch()
    for name in ("FUTURE_L1_FUTUREBENCH_DIR", "FUTURE_L1_TWIFFBENCH_DIR", "FUTURE_L1_JUDGE_BASE_URL"):
        mp.delenv(name, raising=False)
    mp.setenv("TQDM_DISABLE", "1")
    tasks = [{"name": "futurebench_future_l1", "limit": 6}, {"name": "twiffbench_future_l1", "limit": 3,
                                                             "judge": "rubric"}]  # fmt: skip
    suite = write_suite(tmp / "s.yaml", [PRIOR_B], tasks, include_path=["future_l1.tasks"],
                        judges={"rubric": {"provider": "offline"}})  # fmt: skip
    try:
        assert main(["run", str(suite), "--runs-dir", str(tmp / "runs")]) == 0
    finally:
        mp.undo()
    return only_run_dir(tmp / "runs")


def test_results_files_validate_and_reserialise_identically(run_dir):
    files = sorted((run_dir / "results").glob("*/*.json"))
    assert len(files) == 2
    for path in files:
        parsed = schema.read_results_file(path)
        assert parsed.schema_version == schema.SCHEMA_VERSION
        assert (parsed.model, parsed.task) == (path.parent.name, path.stem)
        assert schema.results_json(parsed) == path.read_text()  # nothing lost, nothing added
        assert all(v is None or isinstance(v, (int, float)) for v in parsed.metrics.values())
        assert not any("," in k or "stderr" in k for k in parsed.metrics)


def test_sample_lines_carry_valid_task_records(run_dir):
    for path in sorted((run_dir / "samples").glob("*/*.jsonl")):
        lines = [json.loads(line) for line in path.read_text().splitlines()]
        assert lines
        for line in lines:
            schema.SampleLine.model_validate(line)
            record = schema.sample_record(line, path.stem)
            kind = schema.SAMPLE_TYPES[schema.benchmark_of(path.stem)]
            assert record == kind.model_validate(record).model_dump()


def test_reports_read_back_what_the_runner_wrote(run_dir):
    results = {r.task: r for r in read_run_dir(run_dir)}
    fb, tw = results["futurebench_future_l1"], results["twiffbench_future_l1"]
    fb_file = schema.read_results_file(run_dir / "results" / "prior_b" / "futurebench_future_l1.json")
    assert fb.metrics == fb_file.metrics and fb.n_samples == 6 == len(fb.sample_dicts())
    # the aggregate equals what the per-sample records say
    assert fb.metrics["future_acc"] == pytest.approx(100 * sum(d["correct"] for d in fb.sample_dicts()) / 6)
    assert len(tw.sample_dicts()) == 3 and tw.metrics["n_judged"] + tw.metrics["n_failed"] == 3
    assert not fb.sample_errors and not tw.sample_errors


def test_a_malformed_sample_record_is_counted_not_dropped(run_dir, tmp_path):
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    samples = copy / "samples" / "prior_b" / "futurebench_future_l1.jsonl"
    lines = [json.loads(line) for line in samples.read_text().splitlines()]
    lines[2]["future_acc"]["correct"] = "maybe"
    samples.write_text("".join(json.dumps(line) + "\n" for line in lines))
    (fb,) = [r for r in read_run_dir(copy) if r.task == "futurebench_future_l1"]
    assert len(fb.sample_dicts()) == 5 and len(fb.sample_errors) == 1 and "correct" in fb.sample_errors[0]
    from future_l1.reports.render import write_report

    report = write_report([copy], tmp_path / "report", formats=("md",), published=False)
    assert "Malformed samples" in report.markdown and "| prior_b | futurebench_future_l1 | 1 |" in report.markdown


def test_newer_schema_version_is_refused_with_the_fix(tmp_path):
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"schema_version": schema.SCHEMA_VERSION + 1, "model": "m", "task": "t", "metrics": {}}))
    with pytest.raises(schema.ResultsSchemaError, match="upgrade future-l1"):
        schema.read_results_file(path)


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"future_acc,none": 61.0, "future_acc_stderr,none": "N/A", "alias": "fb"}, {"future_acc": 61.0}),
        ({"twiff_avg,none": None, "n_failed,none": 3}, {"twiff_avg": None, "n_failed": 3}),
        ({"exact_match,strict-match": 0.5, "exact_match,flexible-extract": 0.7},
         {"exact_match,strict-match": 0.5, "exact_match,flexible-extract": 0.7}),
        ({"acc,none": 0.4, "acc_stderr,none": 0.01, "note,none": "text"}, {"acc": 0.4}),
    ],
)  # fmt: skip
def test_metric_names_are_normalised_in_one_place(entry, expected):
    assert schema.normalize_metrics(entry) == expected


def test_task_identity_covers_the_included_template(tmp_path):
    from future_l1.harness.identity import fingerprint_task_yaml

    (tmp_path / "_tpl.yaml").write_text("output_type: generate_until\n")
    task = tmp_path / "t.yaml"
    task.write_text("include: _tpl.yaml\ntask: t\n")
    before = fingerprint_task_yaml(task)
    (tmp_path / "_tpl.yaml").write_text("output_type: generate_until\ngeneration_kwargs: {max_new_tokens: 8}\n")
    assert fingerprint_task_yaml(task) != before
    packaged = fingerprint_task_yaml(Path(__file__).parents[2] / "tasks" / "futurebench" / "futurebench.yaml")
    assert packaged and packaged != fingerprint_task_yaml(task)


def test_provenance_tags_and_comparability():
    """A row is comparable with published numbers only on real data, every document and a comparable judge."""
    real = schema.Provenance(data=schema.DataProvenance(kind="folder", path="/data/fb"))
    assert real.comparable and real.tags() == []
    demo = schema.Provenance(data=schema.DataProvenance(kind="demo"))
    assert not demo.comparable and demo.tags() == ["demo data"]
    rubric = schema.Provenance(
        data=schema.DataProvenance(kind="folder"), judge=schema.JudgeProvenance(kind="rubric", comparable=False)
    )
    assert not rubric.comparable and "rubric judge" in rubric.tags()
    subset = schema.Provenance(
        data=schema.DataProvenance(kind="folder"),
        subset=schema.SubsetProvenance(strategy="first", limit=8, n=8, n_total=24),
    )
    assert not subset.comparable and subset.tags() == ["subset 8/24"]
    assert schema.Provenance().tags() == ["data unknown"] and not schema.Provenance().comparable


def test_version_1_file_reads_without_provenance():
    parsed = schema.parse_results({"schema_version": 1, "model": "m", "task": "t", "metrics": {"a": 1.0}}, "x")
    assert parsed.provenance is None
    entry = schema.ResultsFile(model="m", task="t", metrics={}, provenance=schema.Provenance())
    again = schema.parse_results(json.loads(schema.results_json(entry)), "y")
    assert again.provenance == schema.Provenance() and again.schema_version == 2
