"""`report compare` on real-world layouts (issue 26, item 2): lmms-eval's own output (one doc_hash for every sample),
unmatched samples said out loud, models named by label or lmms-eval model name, two models of one run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from report_helpers import report_cli

from future_l1.reports.compare import compare_paths, comparison_markdown, warnings
from future_l1.reports.readers import lmms_model_name, read_results

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _lmms_copy(run: Path, stamp: str, *, doc_hash: str | None = "same", drop: int = 0, **results_fields) -> Path:
    """An lmms-eval --output_path folder made from a fixture run's FutureBench samples: every sample carrying the
    same doc_hash (as lmms-eval 0.7 writes it), no sample_hash, the first `drop` samples left out."""
    folder = run.parent / f"lmms_{run.name}_{stamp}"
    folder.mkdir(parents=True)
    (samples,) = (FIXTURES / run.name).glob("samples/*/futurebench_future_l1.jsonl")
    lines = [json.loads(x) for x in samples.read_text().splitlines()][drop:]
    for line in lines:
        for key in ("sample_hash", "model", "task", "latency_s"):
            line.pop(key, None)
        if doc_hash is not None:
            line["doc_hash"] = doc_hash
    (folder / f"{stamp}_samples_futurebench_future_l1.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    results = {
        "results": {"futurebench_future_l1": {"alias": "futurebench_future_l1", "future_acc,none": 50.0}},
        "n-samples": {"futurebench_future_l1": {"original": 32, "effective": len(lines)}},
        "config": {"model": "JournalingModel", "model_args": ""},
        "model_name": "",
        "model_source": "future_l1",
        **results_fields,
    }
    (folder / f"{stamp}_results.json").write_text(json.dumps(results))
    return folder


def test_lmms_eval_output_with_one_doc_hash_pairs_every_sample_by_doc_id(tmp_path: Path) -> None:
    a = _lmms_copy(tmp_path / "run_a", "20260101_000000", model_name="/ckpts/tiny-a")
    b = _lmms_copy(tmp_path / "run_b", "20260101_000001", model_name="/ckpts/tiny-b")
    rows = compare_paths(a, b)
    overall = next(r for r in rows if r.split == "all")
    assert overall.n_shared == 32 and overall.paired_by == "doc_id"  # not 1 (the shared doc_hash)
    assert (overall.a_only_correct, overall.b_only_correct) == (2, 7)  # as with the run directories' sample_hash
    assert (overall.model_a, overall.model_b) == ("tiny-a", "tiny-b")  # not "__ckpts_tiny-a" or JournalingModel
    assert warnings(rows) == []


def test_fewer_paired_samples_than_a_side_holds_is_a_warning(tmp_path: Path, capsys) -> None:
    a = _lmms_copy(tmp_path / "run_a", "20260101_000000")
    b = _lmms_copy(tmp_path / "run_b", "20260101_000001", drop=5)
    rows = compare_paths(a, b)
    (line,) = warnings(rows)
    assert "paired 27 samples by doc_id, but A has 32 and B 27" in line and "5 of A" in line
    assert line in comparison_markdown(rows)
    rc, out, err = report_cli(capsys, "compare", str(a), str(b))
    assert rc == 0 and line in err and line in out


@pytest.mark.parametrize(
    ("fields", "name"),
    [
        ({"model_name": "Org/Model-7B"}, "Org/Model-7B"),
        ({"model_name": "/ckpts/run-3/"}, "run-3"),
        ({"model_name": "", "config": {"model": "qwen3_vl", "model_args": "pretrained=Qwen/Qwen3-VL-8B,fps=1"}},
         "Qwen/Qwen3-VL-8B"),
        ({"model_name": "", "model_source": "qwen3_vl", "config": {"model": "JournalingModel"}}, "qwen3_vl"),
        ({"model_name": "", "model_source": "", "config": {"model": "JournalingModel"}}, "folder"),
    ],
)  # fmt: skip
def test_lmms_eval_models_are_named_by_model_name_never_by_the_wrapper(fields, name) -> None:
    data = {"model_source": "", **fields}
    assert lmms_model_name(data, data.get("config", {}), Path("/x/folder/1_results.json")) == name


def test_the_lmms_eval_copy_inside_a_run_is_named_by_its_suite_label(tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(FIXTURES / "run_b", run)
    copy = _lmms_copy(tmp_path / "run_b", "20260101_000002")
    target = run / "lmms_eval" / "tiny-b" / "futurebench_future_l1"
    target.parent.mkdir(parents=True)
    shutil.move(str(copy), str(target))
    (result,) = read_results([target])
    assert result.model == "tiny-b"
    assert [r.model for r in read_results([run])] == ["tiny-b"]  # the run itself: its copy is not read twice


def test_two_models_of_one_run(tmp_path: Path, capsys) -> None:
    run = tmp_path / "both"
    shutil.copytree(FIXTURES / "run_a", run)
    for sub in ("results", "samples"):
        shutil.copytree(FIXTURES / "run_b" / sub / "tiny-b", run / sub / "tiny-b")
    rc, out, err = report_cli(capsys, "compare", str(run), "--models", "tiny-a", "tiny-b")
    assert rc == 0, err
    assert "| futurebench_future_l1 | all | acc | tiny-a | tiny-b | 32 |" in out and "+15.6" in out
    rc, _, err = report_cli(capsys, "compare", str(run))
    assert rc == 2 and "--models" in err and "tiny-a" in err and "tiny-b" in err and len(err.splitlines()) == 1
    rc, _, err = report_cli(capsys, "compare", str(run), "--models", "tiny-a", "nobody")
    assert rc == 2 and "nobody" in err
    rc, _, err = report_cli(capsys, "compare", str(run), str(FIXTURES / "run_c"))  # which of tiny-a, tiny-b?
    assert rc == 2 and "--models" in err
