"""One data validator for `run` (the task loaders lmms-eval calls) and `data check` (issue 31): the TwiFF-Bench shard
set (count, names, one release, no empty shard) and the record rules of both benchmarks are the same in both paths.

A broken shard set refuses the run with one message naming every broken shard; a record the rules reject keeps its
doc_id and carries `data_error` (a counted error when scored), and `data check` lists it. A record that looks wrong
but that the authors' protocol still scores is scored the same (the benchmark's numbers do not move), carries
`data_warning`, and `data check` lists it as a WARNING."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from future_l1.harness.cli import main
from future_l1.tasks import data_check
from future_l1.tasks.demo_benchmarks import futurebench_demo_dir, twiffbench_demo_dir
from future_l1.tasks.futurebench.data import load_futurebench, records_problems, records_warnings
from future_l1.tasks.twiffbench.data import DataError, check_shards, load_twiffbench, shard_name


def twiff_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "tw"
    shutil.copytree(twiffbench_demo_dir(), copy)
    return copy


def _empty(shard: Path) -> None:
    table = pq.read_table(shard)
    pq.write_table(table.slice(0, 0), shard)


SHARD_DAMAGE = {
    # name: (change to a copy of the 4-shard demo set, text the refusal must hold)
    "missing_shard": (lambda d: (d / shard_name(3)).unlink(), "missing test-00003-of-00004.parquet (3 of 4"),
    "stray_fifth": (lambda d: shutil.copy(d / shard_name(0), d / shard_name(4)),
                    "test-00004-of-00004.parquet is past the last shard"),
    "other_release": (lambda d: shutil.copy(d / shard_name(0), d / shard_name(1, 5)),
                      "test-00001-of-00005.parquet: shard(s) of a 5-shard release"),
    "all_other_release": (lambda d: [p.rename(d / shard_name(i, 3)) for i, p in enumerate(sorted(d.glob("*.parquet")))],
                          "shard(s) of a 3-shard release"),
    "bad_name": (lambda d: shutil.copy(d / shard_name(0), d / "test-extra.parquet"),
                 "test-extra.parquet is not a shard name"),
    "empty_shard": (lambda d: _empty(d / shard_name(2)), "test-00002-of-00004.parquet holds no rows"),
    "not_parquet": (lambda d: (d / shard_name(1)).write_bytes(b"<html>404</html>"),
                    "test-00001-of-00004.parquet is not a readable parquet shard"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(SHARD_DAMAGE))
def test_broken_shard_set_is_refused_by_run_and_by_data_check_alike(case, tmp_path, capsys):
    damage, expected = SHARD_DAMAGE[case]
    data = twiff_copy(tmp_path)
    damage(data)
    with pytest.raises(DataError) as refused:  # what `run` gets from the task's process_docs
        load_twiffbench(data)
    assert expected in str(refused.value) and len(str(refused.value).splitlines()) == 1
    capsys.readouterr()
    rc = main(["data", "check", "twiffbench", "--path", str(data)])
    out = capsys.readouterr().out
    assert rc == 1 and any(line.startswith("PROBLEM <dataset>: ") and expected in line for line in out.splitlines())
    assert set(check_shards(data)[1]) == {line.removeprefix("PROBLEM <dataset>: ") for line in out.splitlines()
                                           if line.startswith("PROBLEM <dataset>: ")}  # fmt: skip


def test_intact_demo_set_passes_both():
    shards, problems = check_shards(twiffbench_demo_dir())
    assert len(shards) == 4 and problems == []
    assert data_check.check("twiffbench", twiffbench_demo_dir()).ok


def _edit_rows(data: Path, edit) -> None:
    shard = data / shard_name(1)  # doc_ids 3-5
    table = pq.read_table(shard)
    rows = table.to_pylist()
    edit(rows)
    pq.write_table(table.from_pylist(rows, schema=table.schema), shard)


def _doc_ids(pairs) -> set[int]:
    return {int(rid.split("=")[1].split(" ")[0]) for rid, _ in pairs}


def test_twiff_rows_are_errors_or_warnings_alike_in_run_and_data_check(tmp_path, capsys):
    def edit(rows):
        rows[0]["answer"] = rows[0]["answer"].replace("<ans>", "").replace("</ans>", "")  # doc 3: no final answer
        rows[1]["question_images"] = []  # doc 4: the model would see no frame
        rows[2]["question"] = rows[2]["question"] + " <image>"  # doc 5: one marker more than images

    def edit_error(rows):
        rows[0]["question"] = "   "  # doc 3: nothing to judge

    data = twiff_copy(tmp_path)
    _edit_rows(data, edit)
    docs = load_twiffbench(data)
    warnings = dict(enumerate(docs["data_warning"]))
    assert "answer has no <ans>…</ans> final answer" in warnings[3]
    assert "missing or empty 'question_images'" in warnings[4]
    assert "<image> markers, 3 images" in warnings[5]
    assert all(warnings[i] == "" for i in (0, 1, 2, 6, 7))
    assert set(docs["data_error"]) == {""}  # judged as the authors judge them: no number moves
    report = data_check.check("twiffbench", data)
    assert report.ok and report.problems == [] and _doc_ids(report.warnings) == {3, 4, 5}
    capsys.readouterr()
    assert main(["data", "check", "twiffbench", "--path", str(data)]) == 0
    assert main(["data", "check", "twiffbench", "--path", str(data), "--strict"]) == 1
    assert "WARNING doc_id=3" in capsys.readouterr().out

    _edit_rows(data, edit_error)
    errors = dict(enumerate(load_twiffbench(data)["data_error"]))
    assert errors[3] == "missing or empty 'question'" and all(errors[i] == "" for i in (0, 1, 2, 4, 5, 6, 7))
    assert _doc_ids(data_check.check("twiffbench", data).problems) == {3}  # exactly the rows the run counts


def test_twiff_repeated_row_is_a_warning_in_both(tmp_path):
    data = twiff_copy(tmp_path)
    first = pq.read_table(data / shard_name(0)).to_pylist()[0]
    _edit_rows(data, lambda rows: rows.__setitem__(0, dict(first)))  # doc 3 = doc 0
    docs = load_twiffbench(data)
    assert docs["data_warning"][3] == "same video and question as doc_id 0; rows should be unique"
    assert docs["data_warning"][0] == "" and docs["data_error"][3] == ""
    report = data_check.check("twiffbench", data)
    assert report.problems == [] and [rid for rid, _ in report.warnings] == [f"doc_id=3 ({first['video']})"]


def fb_copy(tmp_path: Path, edit) -> Path:
    copy = tmp_path / "fb"
    shutil.copytree(futurebench_demo_dir(), copy)
    records = json.loads((copy / "futurebench.json").read_text())
    edit(records)
    (copy / "futurebench.json").write_text(json.dumps(records))
    return copy


def test_futurebench_records_are_errors_or_warnings_alike_in_run_and_data_check(tmp_path):
    def edit(records):
        records[1]["question_type"] = "hop4"  # not a split: counts in future_acc only, as for the authors
        records[2]["id"] = records[0]["id"]  # a repeated id: the authors score it too
        records[3]["qa"]["Answer"] = "E"  # no option: unscorable

    data = fb_copy(tmp_path, edit)
    docs = load_futurebench(data)
    warnings, errors = dict(enumerate(docs["data_warning"])), dict(enumerate(docs["data_error"]))
    assert warnings[1] == "question_type 'hop4' is not one of ('hop1', 'hop2', 'hop3', 'hop5')"
    assert warnings[2].startswith("id used by 2 records (first: record 0)") and warnings[0] == ""
    assert errors[3] and all(errors[i] == "" for i in (0, 1, 2))
    report = data_check.check("futurebench", data)
    assert sorted(msg for _, msg in report.warnings) == sorted([warnings[1], warnings[2]])
    assert [msg for _, msg in report.problems] == [errors[3]]


@pytest.mark.parametrize("content, expected", [
    (b"\x00\x01binary", "is a binary file"),
    (b"[" * 100_000 + b"]" * 100_000, "nests deeper than"),
    (b'{"oops": ', "is not valid JSON at line 1"),
    ("[1, 2]".encode("utf-16"), "is UTF-16 text, not UTF-8"),
    ('["caf\xe9"]'.encode("latin-1"), "is not UTF-8 text"),
    (b"[NaN]", "NaN is not a JSON number"),
])  # fmt: skip
def test_hostile_futurebench_file_is_one_error_naming_it(content, expected, tmp_path, capsys):
    data = tmp_path / "fb"
    data.mkdir()
    (data / "futurebench.json").write_bytes(content)
    with pytest.raises(ValueError, match=expected):
        load_futurebench(data)
    capsys.readouterr()
    assert main(["data", "check", "futurebench", "--path", str(data)]) == 1
    out = capsys.readouterr().out
    assert "PROBLEM <dataset>:" in out and expected in out and "futurebench.json" in out


RECORD = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["id", "qa", "Question", "Options",
                                                                                  "Answer", "question_type", "A",
                                                                                  "video_path", "x"]), inner,
                                                                 max_size=4),
    max_leaves=12,
)  # fmt: skip


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(RECORD, min_size=1, max_size=5))
def test_any_futurebench_records_give_the_same_verdicts_in_both_paths(tmp_path_factory, records):
    """Whatever the records hold, loading never crashes, each keeps its place, and `data check` rejects a record iff
    the run marks it as a counted error."""
    folder = tmp_path_factory.mktemp("fb")
    (folder / "futurebench.json").write_text(json.dumps(records))
    docs = load_futurebench(folder)
    assert list(docs["doc_id"]) == list(range(len(records)))
    rejected_in_run = [bool(e) for e in docs["data_error"]]
    assert rejected_in_run == [bool(p) for p in records_problems(records)]
    assert [bool(w) for w in docs["data_warning"]] == [bool(w) for w in records_warnings(records)]
    report = data_check.check_futurebench(folder)
    shared = {msg for _, msg in report.problems if not msg.startswith(("video ", "question is"))}
    assert shared == {p for problems in records_problems(records) for p in problems}
    assert {msg for _, msg in report.warnings} == {w for warned in records_warnings(records) for w in warned}
