"""Every file `future-l1 report` reads is hostile (issue 30): encoding, type, depth, size, paths that are folders or
FIFOs, an `--out` that is a file. A bad results or samples file refuses the report with exit 2 and one line naming
it; a bad metadata file (env.json, judge.json, state.json) is skipped and named; never a traceback, never a silent
number. Then issue 31's report classes: NaN / infinite / text metrics, repeated sample lines, names that would
inject CSV formulas or break Markdown tables, and a report folder written atomically (Ctrl-C leaves nothing half).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from report_helpers import edit_json, report_cli, results_file, samples_file

from future_l1.reports import inputs
from future_l1.reports.inputs import MAX_DEPTH, ReportInputError
from future_l1.reports.readers import read_results

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FAST = ("--format", "md", "--no-published", "--n-boot", "20")
PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _refused(rc: int, err: str, *names: str) -> None:
    """Exit 2, and exactly one stderr line that names every one of `names`."""
    lines = err.strip().splitlines()
    assert rc == 2 and len(lines) == 1, err
    assert "Traceback" not in err
    for name in names:
        assert name in lines[0], (name, lines[0])


def _report(capsys, run: Path, out: Path, *extra: str) -> tuple[int, str, str]:
    return report_cli(capsys, str(run), "--out", str(out), *FAST, *extra)


# ---------------------------------------------------------------- encoding and type of results and samples files


@pytest.mark.parametrize(
    "content",
    [
        '{"model": "tiny-b", "task": "futurebench_future_l1", "metrics": {"x": "caf\xe9"}}'.encode("latin-1"),
        '{"model": "b"}'.encode("utf-16"),
        b"\xff\xfe\x00garbage\x80\x81",
        b"[1, 2]",
        b'"a string"',
        b"42",
        b"null",
        b'{"model": "m", "task": "t", "metrics": []}',
    ],
    ids=["latin-1", "utf-16", "binary", "list", "string", "number", "null", "metrics-list"],
)
def test_a_results_file_of_another_encoding_or_type_is_refused(run_copy, tmp_path, capsys, content):
    run = run_copy("run_b")
    path = results_file(run)
    path.write_bytes(content)
    rc, _, err = _report(capsys, run, tmp_path / "out")
    _refused(rc, err, str(path))
    assert not (tmp_path / "out").exists()


def test_a_samples_line_that_is_not_utf8_is_refused_with_its_line(run_copy, tmp_path, capsys):
    run = run_copy("run_b")
    path = samples_file(run)
    lines = path.read_bytes().split(b"\n")
    lines[3] = lines[3].replace(b"question 3", b"question \xe9")
    path.write_bytes(b"\n".join(lines))
    rc, _, err = _report(capsys, run, tmp_path / "out")
    _refused(rc, err, f"{path}:4", "UTF-8")


@PROPERTY
@given(st.binary(max_size=200))
def test_any_bytes_as_a_results_file_exit_2_never_a_traceback(run_copy, capsys, content):
    run = run_copy("run_b")
    path = results_file(run)
    path.write_bytes(content)
    with tempfile.TemporaryDirectory() as out:
        rc, _, err = _report(capsys, run, Path(out) / "r")
    _refused(rc, err, str(path))


# ---------------------------------------------------------------- metadata files and samples lines of any JSON type


@pytest.mark.parametrize(
    ("name", "content"),
    [("judge.json", '["a", "list"]'), ("env.json", '"a string"'), ("state.json", "[[[]]]"), ("env.json", b"\xff\x00")],
)
def test_a_bad_metadata_file_is_skipped_and_named(run_copy, tmp_path, capsys, name, content):
    """The issue's AttributeError cases: the report is written from the results, and the skipped file is named."""
    run = run_copy("run_a")
    target = run / name
    target.write_bytes(content if isinstance(content, bytes) else content.encode())
    rc, out, err = _report(capsys, run, tmp_path / "out")
    assert rc == 0, err
    assert f"skipped {target}" in err and "tiny-a" in out
    assert f"skipped {target}" in (tmp_path / "out" / "leaderboard.md").read_text()


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=12,
)


@PROPERTY
@given(JSON_VALUES, st.sampled_from(["judge.json", "env.json", "state.json", "hashes.json"]))
def test_any_json_as_a_metadata_file_never_breaks_the_report(run_copy, capsys, value, name):
    run = run_copy("run_a")
    (run / name).write_text(json.dumps(value))
    with tempfile.TemporaryDirectory() as out:
        rc, text, err = _report(capsys, run, Path(out) / "r")
    assert rc == 0 and "Traceback" not in err, err
    assert "| tiny-a | futurebench_future_l1 |" in text


@PROPERTY
@given(JSON_VALUES)
def test_any_json_value_as_a_samples_line_is_named_or_read(run_copy, capsys, value):
    run = run_copy("run_b")
    path = samples_file(run)
    lines = path.read_text().splitlines()
    lines[5] = json.dumps(value)
    path.write_text("\n".join(lines) + "\n")
    with tempfile.TemporaryDirectory() as out:
        rc, _, err = _report(capsys, run, Path(out) / "r")
    if isinstance(value, dict):  # an object without a sample record: read, and the record left out is counted
        assert rc == 0 and "Traceback" not in err, err
    else:
        _refused(rc, err, f"{path}:6", "JSON object")


# ---------------------------------------------------------------- depth and size


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 5_000, 200_000])
def test_deeply_nested_results_and_samples_are_refused(run_copy, tmp_path, capsys, depth):
    run = run_copy("run_b")
    path = results_file(run)
    path.write_text(_deep(depth))
    rc, _, err = _report(capsys, run, tmp_path / "out")
    _refused(rc, err, str(path), "nested")
    run = run_copy("run_b")
    path = samples_file(run)
    path.write_text(path.read_text() + '{"doc_id": 99, "x": ' + _deep(depth) + "}\n")
    rc, _, err = _report(capsys, run, tmp_path / "out")
    _refused(rc, err, f"{path}:33", "nested")


def test_compare_on_a_deeply_nested_file_exits_2(run_copy, capsys):
    run = run_copy("run_b")
    path = samples_file(run)
    path.write_text(_deep(100_000) + "\n")
    rc, _, err = report_cli(capsys, "compare", str(FIXTURES / "run_a"), str(run))
    _refused(rc, err, str(path), "nested")


def test_a_deeply_nested_env_json_is_skipped(run_copy, tmp_path, capsys):
    run = run_copy("run_a")
    (run / "env.json").write_text(_deep(100_000))
    rc, _, err = _report(capsys, run, tmp_path / "out")
    assert rc == 0 and "nested" in err and str(run / "env.json") in err


def test_files_over_the_size_limits_are_refused(run_copy, tmp_path, capsys, monkeypatch):
    run = run_copy("run_b")
    monkeypatch.setattr(inputs, "MAX_JSON_BYTES", 100)
    rc, _, err = _report(capsys, run, tmp_path / "out")
    _refused(rc, err, str(results_file(run)), "more than the 100 bytes allowed")
    monkeypatch.setattr(inputs, "MAX_JSON_BYTES", 64 << 20)
    monkeypatch.setattr(inputs, "MAX_LINE_BYTES", 200)
    rc, _, err = _report(capsys, run, tmp_path / "out")
    _refused(rc, err, f"{samples_file(run)}:1", "longer than")
    monkeypatch.setattr(inputs, "MAX_LINE_BYTES", 64 << 20)
    monkeypatch.setattr(inputs, "MAX_SAMPLES_BYTES", 1000)
    rc, _, err = _report(capsys, run, tmp_path / "out")
    _refused(rc, err, str(samples_file(run)), "more than the 1,000 bytes allowed")


# ---------------------------------------------------------------- paths


def test_a_results_path_that_is_a_folder_is_refused(run_copy, tmp_path, capsys):
    run = run_copy("run_b")
    path = results_file(run)
    path.unlink()
    path.mkdir()
    rc, _, err = _report(capsys, run, tmp_path / "out")
    _refused(rc, err, str(path), "is a folder")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_samples_file_that_is_a_fifo_is_refused_without_blocking(run_copy, tmp_path, capsys):
    run = run_copy("run_b")
    path = samples_file(run)
    path.unlink()
    os.mkfifo(path)
    rc, _, err = _report(capsys, run, tmp_path / "out")
    _refused(rc, err, str(path), "not a regular file")


def test_out_that_is_a_file_or_a_foreign_folder_is_refused(run_copy, tmp_path, capsys):
    run = run_copy("run_b")
    (tmp_path / "file.txt").write_text("keep me")
    rc, _, err = _report(capsys, run, tmp_path / "file.txt")
    _refused(rc, err, "file.txt", "not a folder")
    assert (tmp_path / "file.txt").read_text() == "keep me"
    papers = tmp_path / "papers"
    papers.mkdir()
    (papers / "draft.tex").write_text("keep me")
    (papers / "notes.txt").write_text("keep me too")
    rc, _, err = _report(capsys, run, papers)
    _refused(rc, err, str(papers), "other files")
    assert sorted(p.name for p in papers.iterdir()) == ["draft.tex", "notes.txt"]
    rc, _, err = report_cli(capsys, "compare", str(FIXTURES / "run_a"), str(run), "--out", str(tmp_path / "file.txt"))
    _refused(rc, err, "file.txt")
    sheets = tmp_path / "sheets"  # only CSV files, but not the ones a report writes: someone's data, kept
    sheets.mkdir()
    (sheets / "scores.csv").write_text("keep,me\n")
    rc, _, err = _report(capsys, run, sheets)
    _refused(rc, err, str(sheets))
    assert (sheets / "scores.csv").read_text() == "keep,me\n"
    legacy = tmp_path / "legacy"  # a report folder written before the marker file existed: replaced
    (legacy / "plots").mkdir(parents=True)
    (legacy / "leaderboard.md").write_text("old")
    (legacy / "futurebench.tex").write_text("old")
    assert _report(capsys, run, legacy)[0] == 0
    assert (legacy / "leaderboard.md").read_text() != "old" and not (legacy / "futurebench.tex").exists()


def test_a_report_folder_is_replaced_as_a_whole(run_copy, tmp_path, capsys):
    run = run_copy("run_b")
    out = tmp_path / "out"
    assert _report(capsys, run, out, "--format", "csv")[0] == 0
    assert (out / "records.csv").is_file()
    assert _report(capsys, run, out)[0] == 0  # md only now: the old CSV files are gone with the old folder
    assert not (out / "records.csv").exists() and (out / "leaderboard.md").is_file()


# ---------------------------------------------------------------- issue 31: metrics that are not numbers

INVALID = [(float("nan"), "NaN"), (float("inf"), "infinite"), (-float("inf"), "infinite"), ("fast", "text 'fast'"),
           ("61.0", "text '61.0'"), (True, "true")]  # fmt: skip


@pytest.mark.parametrize(("value", "said"), INVALID)
def test_a_metric_that_is_not_a_number_is_shown_invalid_never_bold(run_copy, tmp_path, capsys, value, said):
    """run_b and run_a share their documents, so their AVG cells would be ranked; run_b's AVG is invalid and so is
    never bold, even though its samples say 75.0 (the results file and the samples disagree: the report says so
    and does not substitute a number)."""
    run = run_copy("run_b")
    edit_json(results_file(run), lambda d: d["metrics"].update(future_acc=value))
    rc, out, err = report_cli(capsys, str(FIXTURES / "run_a"), str(run), "--out", str(tmp_path / "o"), *FAST,
                              "--format", "csv")  # fmt: skip
    assert rc == 0, err
    row = next(line for line in out.splitlines() if line.startswith("| tiny-b |"))
    avg = re.split(r"(?<!\\)\|", row)[8]
    assert avg.strip().startswith(f"invalid ({said}") and "**" not in avg and "75.0" not in avg
    assert "future_acc" in err and said.split()[0] in err  # said on stderr
    assert "shown as invalid" in (tmp_path / "o" / "leaderboard.md").read_text()
    records = list(csv.DictReader(io.StringIO((tmp_path / "o" / "records.csv").read_text())))
    avg = next(r for r in records if r["model"] == "tiny-b" and r["split"] == "all" and r["metric"] == "acc")
    assert avg["value"] == "" and said.split()[0] in avg["invalid"]


@PROPERTY
@given(
    st.sampled_from(["future_acc", "hop1_acc", "hop2_acc", "hop3_acc", "interp_acc"]),
    st.one_of(st.floats().filter(lambda x: not math.isfinite(x)), st.text(max_size=8), st.booleans()),
)
def test_no_invalid_metric_is_ever_shown_as_a_number(run_copy, capsys, key, value):
    run = run_copy("run_b")
    edit_json(results_file(run), lambda d: d["metrics"].update({key: value}))
    with tempfile.TemporaryDirectory() as out:
        rc, text, err = _report(capsys, run, Path(out) / "r")
    assert rc == 0, err
    row = next(line for line in text.splitlines() if line.startswith("| tiny-b |"))
    column = ["future_acc", "hop1_acc", "hop2_acc", "hop3_acc", "interp_acc"].index(key)
    cell = re.split(r"(?<!\\)\|", row)[[8, 4, 5, 6, 7][column]]
    assert cell.strip().startswith("invalid (") and "**" not in cell


def test_an_lmms_eval_metric_that_is_not_a_number_is_invalid(run_copy, capsys):
    run = run_copy("lmms_plain")
    (path,) = run.rglob("*_results.json")
    edit_json(path, lambda d: d["results"]["futurebench"].update({"future_acc,none": float("nan")}))
    (result,) = [r for r in read_results([run]) if r.task == "futurebench"]
    assert result.invalid_metrics == {"future_acc": "NaN"} and "future_acc" not in result.metrics


# ---------------------------------------------------------------- issue 31: repeated sample lines


@PROPERTY
@given(st.lists(st.integers(0, 31), min_size=1, max_size=6), st.booleans())
def test_repeated_sample_lines_are_counted_and_change_no_number(run_copy, capsys, repeat, change):
    """A samples line repeated (as a killed writer might leave it) must not change n or the interval: the report
    counts each document once and names the repeats; a repeat that differs from the first copy is said too."""
    from future_l1.reports.render import build_records

    run = run_copy("run_b")
    before = build_records(read_results([run]), published=False, n_boot=50)
    path = samples_file(run)
    lines = path.read_text().splitlines()
    extra = []
    for i in repeat:
        line = json.loads(lines[i])
        if change:
            line["future_acc"]["correct"] = 1 - line["future_acc"]["correct"]
        extra.append(json.dumps(line))
    path.write_text("\n".join(lines + extra) + "\n")
    (result,) = read_results([run])
    after = build_records([result], published=False, n_boot=50)
    assert after == before
    (note,) = result.notes
    assert f"{len(repeat)} repeated sample line(s)" in note and str(path) in note
    assert ("differ from the first copy" in note) == change
    with tempfile.TemporaryDirectory() as out:
        rc, text, err = _report(capsys, run, Path(out) / "r")
    assert rc == 0 and "repeated sample line" in err and "repeated sample line" in text


# ---------------------------------------------------------------- issue 31: names that inject or break tables

HOSTILE_NAMES = ["=HYPERLINK(\"http://evil\",\"x\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "a|b", "two\nlines",
                 "cr\rlf", "<script>alert(1)</script>", "**bold**", "[link](http://evil)", "tab\tname", "\x1b[31mred"]  # fmt: skip


def _md_tables_intact(md: str) -> None:
    """Every Markdown table keeps its shape: each line of a table has as many unescaped | as its header."""
    tables: list[list[str]] = [[]]
    for line in md.splitlines():
        if line.startswith("|"):
            tables[-1].append(line)
        elif tables[-1]:
            tables.append([])
    for table in (t for t in tables if t):
        shapes = {len(re.findall(r"(?<!\\)\|", line)) for line in table}
        assert len(shapes) == 1, table


def _check_escaped(run: Path, out: Path, name: str, capsys) -> None:
    rc, _, err = report_cli(capsys, str(run), "--out", str(out), "--no-published", "--n-boot", "20", "--format",
                               "md", "--format", "csv", "--format", "html", "--format", "tex")  # fmt: skip
    assert rc == 0, err
    md = (out / "leaderboard.md").read_text()
    _md_tables_intact(md)
    # the leaderboard and the cost table: header, rule and one row each; the name broke no line
    assert sum(1 for line in md.splitlines() if line.startswith("|")) == 6, md
    assert "\x1b" not in md and "<script>" not in md and "[link]" not in md and "**bold**" not in md
    for sheet in ("records.csv", "futurebench.csv", "cost.csv"):
        for rec in csv.reader(io.StringIO((out / sheet).read_text())):
            assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) or _number(cell) for cell in rec), rec
    assert "<script>" not in (out / "report.html").read_text()
    tex = (out / "futurebench.tex").read_text()
    assert "\n\n" not in tex and "\x1b" not in tex


def _number(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_model_names_are_escaped_in_csv_and_markdown(run_copy, tmp_path, capsys, name):
    run = run_copy("run_b")
    edit_json(results_file(run), lambda d: d.update(model=name))
    _check_escaped(run, tmp_path / "out", name, capsys)


@PROPERTY
@given(st.text(min_size=1, max_size=30))
def test_any_model_name_keeps_every_table_intact(run_copy, capsys, name):
    run = run_copy("run_b")
    edit_json(results_file(run), lambda d: d.update(model=name))
    with tempfile.TemporaryDirectory() as out:
        _check_escaped(run, Path(out) / "r", name, capsys)


# ---------------------------------------------------------------- issue 31: atomic report folders


@pytest.mark.parametrize("previous", [False, True])
def test_ctrl_c_during_report_leaves_no_partial_folder(run_copy, tmp_path, capsys, monkeypatch, previous):
    from future_l1.reports import render

    run = run_copy("run_b")
    out = tmp_path / "out"
    if previous:
        assert _report(capsys, run, out)[0] == 0
        before = {p.name: p.read_bytes() for p in out.iterdir()}

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(render, "latex", interrupted)  # after the Markdown and CSV files are written
    rc, _, err = report_cli(capsys, str(run), "--out", str(out), "--no-published", "--n-boot", "20")
    assert rc == 130 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["in", *(["out"] if previous else [])])
    if previous:
        assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_report_is_a_folder_with_the_permissions_mkdir_gives(run_copy, tmp_path, capsys):
    run = run_copy("run_b")
    assert _report(capsys, run, tmp_path / "out")[0] == 0
    probe = tmp_path / "probe"
    probe.mkdir()
    assert (tmp_path / "out").stat().st_mode & 0o777 == probe.stat().st_mode & 0o777


def test_reader_errors_name_the_path_for_a_missing_file(tmp_path):
    with pytest.raises(ReportInputError, match=r"missing\.json does not exist"):
        inputs.load_json(tmp_path / "missing.json", "results file")


@pytest.mark.parametrize("args", [("--n-boot", "0"), ("--n-boot", "1000000000"), ("--seed", "-1")])
def test_bootstrap_settings_out_of_range_are_one_line_exit_2(capsys, args):
    rc, _, err = report_cli(capsys, str(FIXTURES / "run_b"), "--format", "md", *args)
    _refused(rc, err, args[0])
    rc, _, err = report_cli(capsys, "compare", str(FIXTURES / "run_a"), str(FIXTURES / "run_b"), *args)
    _refused(rc, err, args[0])
