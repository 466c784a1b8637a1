"""Adversarial inputs against `future-l1 run` (issue 12): every bad input is one `error:` line naming the input and
the fix (exit 2), or a per-sample error counted in the results; never a traceback, never a silently changed number.

Most runs call the CLI's `main()` in-process (a child process costs ~10 s of imports per call on the CI box); the
lock test and one traceback check use real child processes.
"""

from __future__ import annotations

import json
import math
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from harness_helpers import FIXTURES, child_env, cli_command, journal_lines, only_run_dir, results_of, write_suite
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from future_l1.harness.cli import main

PRIOR_A = {"label": "prior_a", "model": "answer_prior", "args": {"strategy": "fixed", "letter": "A"}}
SECRET = "sk-adversarial0123456789abcdefXYZ"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    monkeypatch.setenv("TQDM_DISABLE", "1")
    monkeypatch.setenv("FUTURE_L1_JUDGE_CACHE", "0")
    monkeypatch.setenv("FUTURE_L1_JUDGE_BACKOFF", "0.01")
    for name in ("FUTURE_L1_JUDGE_BASE_URL", "FUTURE_L1_JUDGE_MODEL", "FUTURE_L1_FUTUREBENCH_DIR",
                 "FUTURE_L1_FUTUREBENCH_VIDEO_DIR", "FUTURE_L1_TWIFFBENCH_DIR", "FUTURE_L1_TRACEBACK"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """`future-l1 ARGS` in this process: (exit code, stdout, stderr)."""
    capsys.readouterr()
    rc = main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("error: ")]


def assert_no_traceback(*texts: str) -> None:
    for text in texts:
        assert "Traceback (most recent call last)" not in text, text[-3000:]


# ---------------------------------------------------------------------------------------------------------------
# Suite files: one `error:` line each, exit 2, nothing written

SUITE = {"name": "s", "include_path": [str(FIXTURES / "tasks")], "models": [PRIOR_A], "tasks": ["hx_mc"]}


def _with(**changes) -> dict:
    doc = json.loads(json.dumps(SUITE))
    doc.update(changes)
    return doc


# eight levels of ten aliases each: 10^8 values from nine short lines
ALIAS_BOMB = (
    "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    + "".join(f"{c}: &{c} [{', '.join([f'*{p}'] * 10)}]\n" for p, c in zip("abcdefg", "bcdefgh", strict=True))
    + "models: [*h]\n"
)

BAD_SUITES = {
    # (suite content: dict = YAML of it, str = raw text, bytes = raw bytes), what the error line must say
    "yaml_syntax": ("models: [\n  - {model: a\n", "YAML syntax error at line"),
    "duplicate_key": ("name: s\nname: t\nmodels: [{model: a}]\ntasks: [t]\n", "given twice"),
    "binary": (b"\x00\x01\x02ELF", "binary file"),
    "not_utf8": (b"name: \xff\xfe\n", "not UTF-8"),
    "empty": ("", "models: is required"),
    "top_level_list": ("- a\n- b\n", "top level must be a mapping"),
    "tasks_int": (_with(tasks=5), "tasks: must be a valid list (got int)"),
    "args_str": (_with(models=[{"model": "answer_prior", "args": "str"}]), "models[0].args: must be a valid dict"),
    "gen_kwargs_int": (_with(tasks=[{"name": "hx_mc", "gen_kwargs": 5}]), "tasks[0].gen_kwargs: must be a valid dict"),
    "gen_kwargs_list": (_with(tasks=[{"name": "hx_mc", "gen_kwargs": {"until": ["x"]}}]), "single value"),
    "gen_kwargs_comma": (_with(tasks=[{"name": "hx_mc", "gen_kwargs": {"x": "a,b"}}]), "may not contain ','"),
    "settings_list": (_with(settings=[1, 2]), "settings: must be a valid dict"),
    "settings_unknown": (_with(settings={"chunk_sise": 2}), "did you mean 'chunk_size'"),
    "chunk_size_zero": (_with(settings={"chunk_size": 0}), "settings.chunk_size"),
    "judges_list": (_with(judges=["a"]), "judges: must be a valid dict"),
    "judge_unknown_key": (_with(judges={"j": {"timeout": 3}}), "did you mean 'timeout_s'"),
    "judge_no_model": (_with(judges={"j": {"provider": "openai", "base_url": "http://h:1/v1"}}), "needs `model:`"),
    "judge_bad_provider": (_with(judges={"j": {"provider": "anthropic"}}), "judges.j.provider"),
    "judge_nan_timeout": (_with(judges={"j": {"timeout_s": float("nan")}}), "finite number"),
    "judge_api_key": (_with(judges={"j": {"api_key": SECRET[3:]}}), "FUTURE_L1_JUDGE_API_KEY"),
    "token_value": (_with(models=[{**PRIOR_A, "args": {"note": SECRET}}]), "looks like an API token"),
    "model_secret_arg": (_with(models=[{**PRIOR_A, "args": {"hf_token": "abc"}}]), "looks like a secret"),
    "unknown_task_key": (
        _with(tasks=[{"name": "hx_mc", "limt": 2}]),
        "unknown key 'limt' in tasks[0]; did you mean 'limit'",
    ),
    "unknown_top_key": (_with(modles=[]), "unknown key 'modles' in the top level; did you mean 'models'"),
    "limit_zero": (_with(tasks=[{"name": "hx_mc", "limit": 0}]), "limit must be a count"),
    "limit_bool": (_with(tasks=[{"name": "hx_mc", "limit": True}]), "limit must be a count"),
    "limit_str": (_with(tasks=[{"name": "hx_mc", "limit": "2"}]), "limit must be a count"),
    "limit_fraction_over_1": (_with(tasks=[{"name": "hx_mc", "limit": 1.5}]), "limit must be a count"),
    "name_traversal": (_with(name="../../escape"), "suite name '../../escape'"),
    "name_absolute": (_with(name="/tmp/x"), "suite name '/tmp/x'"),
    "label_slash": (_with(models=[{**PRIOR_A, "label": "a/b"}]), "model label 'a/b'"),
    "task_name_traversal": (_with(tasks=["../x"]), "task '../x'"),
    "label_twice": (_with(models=[PRIOR_A, PRIOR_A]), "label used twice"),
    "task_twice": (_with(tasks=["hx_mc", "hx_mc"]), "listed twice"),
    "no_models": (_with(models=[]), "models: List should have at least 1 item"),
    "model_not_str": (_with(models=[{"model": 5}]), "models[0].model"),
    "too_large": ("#" * (1 << 20) + "\n", "larger than 1 MiB"),
    "alias_bomb": (ALIAS_BOMB, "expands to more than"),
    "max_new_tokens_negative": (_with(tasks=[{"name": "hx_mc", "gen_kwargs": {"max_new_tokens": -5}}]), ">= 1"),
    "temperature_inf": (_with(tasks=[{"name": "hx_mc", "gen_kwargs": {"temperature": float("inf")}}]), "finite"),
    "args_int_key": ("models: [{model: a, args: {1: 2}}]\ntasks: [t]\n", "models[0].args"),
    "task_null": (_with(tasks=[None]), "tasks[0]"),
    "include_path_int": (_with(include_path=5), "include_path"),
}


def _write_bad(tmp_path: Path, content) -> Path:
    path = tmp_path / "bad.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content)
    else:
        path.write_text(yaml.safe_dump(content, sort_keys=False))
    return path


@pytest.mark.parametrize("case", sorted(BAD_SUITES))
def test_bad_suite_is_one_error_line_and_exit_2(case, tmp_path, capsys):
    content, expected = BAD_SUITES[case]
    path = _write_bad(tmp_path, content)
    rc, out, err = cli(capsys, "run", str(path), "--runs-dir", str(tmp_path / "runs"))
    assert rc == 2, err
    lines = error_lines(err)
    assert lines and any(expected in line for line in lines), err
    assert_no_traceback(out, err)
    assert SECRET[3:] not in out + err  # a refused secret is never echoed
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda p: p / "missing.yaml", "does not exist"),
        (lambda p: p, "is a directory"),
    ],
    ids=["missing_file", "directory"],
)
def test_suite_path_that_is_not_a_file(make, expected, tmp_path, capsys):
    rc, out, err = cli(capsys, "run", str(make(tmp_path)), "--runs-dir", str(tmp_path / "runs"))
    assert rc == 2 and len(error_lines(err)) == 1 and expected in err
    assert_no_traceback(out, err)


def test_all_schema_problems_are_reported_at_once(tmp_path, capsys):
    doc = _with(models=[PRIOR_A, PRIOR_A], tasks=[{"name": "hx_mc", "limt": 1}], settings={"chunk": 1})
    rc, _, err = cli(capsys, "run", str(_write_bad(tmp_path, doc)), "--runs-dir", str(tmp_path / "runs"))
    assert rc == 2
    text = "\n".join(error_lines(err))
    assert len(error_lines(err)) == 3 and "limt" in text and "chunk" in text and "label used twice" in text


def test_bad_run_id_and_unwritable_runs_dir(tmp_path, capsys):
    suite = write_suite(tmp_path / "s.yaml", [PRIOR_A], [{"name": "hx_mc", "limit": 2}])
    rc, out, err = cli(capsys, "run", str(suite), "--runs-dir", str(tmp_path / "runs"), "--run-id", "../../x")
    assert rc == 2 and "--run-id '../../x'" in err and not (tmp_path / "runs").exists()
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    rc, out, err = cli(capsys, "run", str(suite), "--runs-dir", str(blocker / "runs"))
    assert rc == 2 and len(error_lines(err)) == 1 and "choose a writable --runs-dir" in err
    assert_no_traceback(out, err)


SUITE_KEYS = ["name", "models", "tasks", "judges", "settings", "args", "model", "label", "limit", "gen_kwargs", "judge",
              "include_path", "provider", "base_url", "timeout_s", "chunk_size", "api_key", "x"]  # fmt: skip
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
SUITE_VALUES = st.recursive(
    SCALARS,
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.sampled_from(SUITE_KEYS), kids, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(SUITE_VALUES)
def test_parse_suite_raises_only_suite_errors(raw):
    """Whatever YAML can hold, parsing either succeeds or raises SuiteError (one line per problem)."""
    from future_l1.harness.suite import SuiteError, parse_suite

    try:
        suite = parse_suite(raw)
    except SuiteError as exc:
        assert exc.problems and all(isinstance(p, str) and "\n" not in p for p in exc.problems)
    else:
        assert suite.models and suite.tasks


# ---------------------------------------------------------------------------------------------------------------
# The journal: Unicode line breaks inside answers

LINE_BREAKS = ["\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


def test_journal_reads_back_every_unicode_line_break(tmp_path):
    from future_l1.harness.journal import read_journal
    from future_l1.model import jsonl

    path = tmp_path / "m.rank0.jsonl"
    records = [{"key": f"t|{i}|h|0", "text": f"before{ch}after"} for i, ch in enumerate(LINE_BREAKS)]
    jsonl.append(path, records)
    assert list(jsonl.read(path)) == records
    assert len(read_journal([path])) == len(LINE_BREAKS)
    raw = path.read_bytes()
    assert "\u2028".encode() in raw  # written raw (ensure_ascii=False), so reading must not split on it


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(), min_size=1, max_size=5))
def test_jsonl_round_trips_any_text(tmp_path, texts):
    from future_l1.model import jsonl

    path = tmp_path / f"p{abs(hash(tuple(texts)))}.jsonl"
    records = [{"key": str(i), "text": t} for i, t in enumerate(texts)]
    jsonl.append(path, records)
    assert list(jsonl.read(path)) == records
    path.unlink()


def test_answers_with_line_separators_are_reused_not_recomputed(tmp_path, capsys):
    """End to end: a model whose open answers hold every Unicode line break; a resume reuses all of them."""
    odd = "next" + "".join(ch for ch in LINE_BREAKS if ch not in "\n\r") + "end"
    model = {"label": "odd", "model": "answer_prior", "args": {"strategy": "fixed", "open_answer": odd}}
    suite = write_suite(tmp_path / "s.yaml", [model], [{"name": "hx_open", "limit": 4}])
    runs = tmp_path / "runs"
    rc, out, err = cli(capsys, "run", str(suite), "--runs-dir", str(runs))
    assert rc == 0, err
    run = only_run_dir(runs)
    (run / "results/odd/hx_open.json").unlink()  # forces the entry to be re-scored from the journal
    rc, out, err = cli(capsys, "run", str(suite), "--runs-dir", str(runs))
    assert rc == 0, err
    assert "0 samples computed, 4 reused" in out
    keys = [r["key"] for r in journal_lines_exact(run)]
    assert len(keys) == len(set(keys)) == 4
    assert all(r["text"] == f"<answer>{odd}</answer>" for r in journal_lines_exact(run))


def journal_lines_exact(run: Path) -> list[dict]:
    out = []
    for p in sorted((run / "journal").glob("*.jsonl")):
        out += [json.loads(line) for line in p.read_bytes().split(b"\n") if line.strip()]
    return out


# ---------------------------------------------------------------------------------------------------------------
# Wrong numbers with no warning: stale results, concurrent runs, silently wrong scores

FB_TASK = "futurebench_future_l1"


def fb_record(i: int, answer: str = "A", **changes) -> dict:
    rec = {
        "id": f"fb-{i}",
        "question_type": ["hop1", "hop2", "hop3", "hop5"][i % 4],
        "video_path": f"v{i}.mp4",
        "qa": {"Question": f"What happens next in clip {i}?", "Options": {k: f"option {k}" for k in "ABCD"},
               "Answer": answer},
    }  # fmt: skip
    rec.update(changes)
    return rec


def write_futurebench(folder: Path, records: list) -> Path:
    (folder / "first_part_video").mkdir(parents=True, exist_ok=True)
    for i in range(len(records)):
        (folder / "first_part_video" / f"v{i}.mp4").write_bytes(b"clip %d" % i)  # the prior never opens them
    (folder / "futurebench.json").write_text(json.dumps(records))
    return folder


def test_changed_data_starts_a_new_run_and_says_so(tmp_path, capsys, monkeypatch):
    old = write_futurebench(tmp_path / "old", [fb_record(i, answer="B") for i in range(4)])  # prior "A": 0 %
    new = write_futurebench(tmp_path / "new", [fb_record(i, answer="A") for i in range(4)])  # prior "A": 100 %
    suite = write_suite(tmp_path / "s.yaml", [PRIOR_A], [FB_TASK], include_path=["future_l1.tasks"])
    runs = tmp_path / "runs"
    monkeypatch.setenv("FUTURE_L1_FUTUREBENCH_DIR", str(old))
    rc, _, err = cli(capsys, "run", str(suite), "--runs-dir", str(runs))
    assert rc == 0, err
    first = only_run_dir(runs)
    assert results_of(first)[f"prior_a/{FB_TASK}"]["future_acc"] == 0.0

    monkeypatch.setenv("FUTURE_L1_FUTUREBENCH_DIR", str(new))
    rc, out, err = cli(capsys, "run", str(suite), "--runs-dir", str(runs))
    assert rc == 0, err
    assert "4 samples computed, 0 reused" in out
    assert f"the data of task '{FB_TASK}'" in err and "starting new run" in err
    second = next(p for p in runs.iterdir() if p.is_dir() and p != first)
    assert results_of(second)[f"prior_a/{FB_TASK}"]["future_acc"] == 100.0
    assert results_of(first)[f"prior_a/{FB_TASK}"]["future_acc"] == 0.0  # the old run is left as it was

    # the same data again resumes the matching run; an explicit run id over other inputs is refused
    rc, out, _ = cli(capsys, "run", str(suite), "--runs-dir", str(runs))
    assert rc == 0 and "0 samples computed" in out and len([p for p in runs.iterdir() if p.is_dir()]) == 2
    monkeypatch.setenv("FUTURE_L1_FUTUREBENCH_DIR", str(old))
    rc, out, err = cli(capsys, "run", str(suite), "--runs-dir", str(runs), "--run-id", second.name)
    assert rc == 2 and len(error_lines(err)) == 1
    assert "different inputs" in err and f"the data of task '{FB_TASK}'" in err and "--new" in err

    # a clip replaced in place (same name, other bytes) is other data too
    time.sleep(0.01)  # a different mtime_ns on coarse file systems
    (old / "first_part_video" / "v0.mp4").write_bytes(b"another clip, longer than before")
    rc, out, err = cli(capsys, "run", str(suite), "--runs-dir", str(runs))
    assert rc == 0 and "4 samples computed" in out and "starting new run" in err


HOLD_LOCK = """
import sys
from filelock import FileLock
with FileLock(sys.argv[1], timeout=0):
    print("held", flush=True)
    sys.stdin.read()
"""


def test_a_held_lock_refuses_a_second_run(tmp_path, capsys):
    suite = write_suite(tmp_path / "s.yaml", [PRIOR_A], [{"name": "hx_mc", "limit": 3}])
    runs = tmp_path / "runs"
    assert cli(capsys, "run", str(suite), "--runs-dir", str(runs))[0] == 0
    run = only_run_dir(runs)
    state = (run / "state.json").read_text()
    # another process holds the run's lock, as a running `future-l1 run` of this run does
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(run / ".lock")], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        rc, _, err = cli(capsys, "run", str(suite), "--runs-dir", str(runs))
    finally:
        holder.communicate("", timeout=30)
    assert rc == 2 and len(error_lines(err)) == 1 and "in use by another `future-l1 run`" in err and "--new" in err
    assert (run / "state.json").read_text() == state  # the refused run touched nothing
    assert cli(capsys, "run", str(suite), "--runs-dir", str(runs))[0] == 0  # released: it runs again


def test_second_concurrent_run_refuses_and_the_first_is_intact(tmp_path):
    # 6 s per answer: the first run is still answering while the second starts up (~20-60 s on a loaded 2-core box)
    slow = {"label": "slow", "model": "answer_prior", "args": {"strategy": "most_frequent", "delay_s": 6}}
    suite = write_suite(tmp_path / "s.yaml", [slow], ["hx_mc"])
    runs = tmp_path / "runs"
    first = subprocess.Popen(cli_command("run", str(suite), "--runs-dir", str(runs)), env=child_env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and first.poll() is None and not list(runs.glob("*/journal/*.jsonl")):
            time.sleep(0.05)
        assert first.poll() is None, "the first run ended before the second could start"
        second = subprocess.run(cli_command("run", str(suite), "--runs-dir", str(runs)), env=child_env(),
                                capture_output=True, text=True, timeout=300)  # fmt: skip
        _, err = first.communicate(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
    assert second.returncode == 2, second.stderr[-2000:]
    assert len(error_lines(second.stderr)) == 1 and "in use by another `future-l1 run`" in second.stderr
    assert_no_traceback(second.stderr)
    assert first.returncode == 0, err[-2000:]
    run = only_run_dir(runs)
    keys = [r["key"] for r in journal_lines(run)]
    assert len(keys) == len(set(keys)) == 12  # 12 answers for 12 samples, none duplicated
    assert results_of(run)["slow/hx_mc"]["hx_n"] == 12


def test_malformed_futurebench_records_are_counted_errors_not_crashes(tmp_path, capsys, monkeypatch):
    records = [
        fb_record(0),
        {k: v for k, v in fb_record(1).items() if k != "qa"},  # no qa
        fb_record(2, qa="What happens? A. x B. y"),  # qa as a string
        "not a record",  # not an object
        fb_record(4, qa={"Question": "Q?", "Options": ["a", "b", "c", "d"], "Answer": "A"}),  # Options as a list
        fb_record(5, answer="E"),  # an answer outside A-D
        fb_record(6, qa={"Question": None, "Options": {k: k for k in "ABCD"}, "Answer": "A"}),  # null question
        fb_record(7, video_path=None),
        fb_record(8, id=["not", "a", "string"]),  # odd id type: still a record
    ]
    data = write_futurebench(tmp_path / "fb", records)
    monkeypatch.setenv("FUTURE_L1_FUTUREBENCH_DIR", str(data))
    suite = write_suite(tmp_path / "s.yaml", [PRIOR_A], [FB_TASK], include_path=["future_l1.tasks"])
    rc, out, err = cli(capsys, "run", str(suite), "--runs-dir", str(tmp_path / "runs"))
    assert rc == 0, err
    assert_no_traceback(out, err)
    run = only_run_dir(tmp_path / "runs")
    metrics = results_of(run)[f"prior_a/{FB_TASK}"]
    assert metrics["n_errors"] == 7  # records 1-7; 0 and 8 are scorable
    assert metrics["future_acc"] == pytest.approx(100 * 2 / 9)  # errors count as wrong: the denominator is all 9
    samples = [json.loads(x) for x in (run / "samples/prior_a" / f"{FB_TASK}.jsonl").read_text().split("\n") if x]
    errors = {s["doc_id"]: s["future_acc"]["error"] for s in samples}
    assert errors[1] == "data: missing 'qa' object"
    assert "'qa' must be an object, got str" in errors[2]
    assert "record is not an object" in errors[3]
    assert "qa.Options must be an object" in errors[4]
    assert "qa.Answer 'E'" in errors[5] and "empty qa.Question" in errors[6] and "missing video_path" in errors[7]
    assert errors[0] is None and errors[8] is None


def test_futurebench_file_that_is_not_a_list_is_one_error_line(tmp_path, capsys, monkeypatch):
    data = tmp_path / "fb"
    data.mkdir()
    (data / "futurebench.json").write_text('{"oops": ')
    monkeypatch.setenv("FUTURE_L1_FUTUREBENCH_DIR", str(data))
    suite = write_suite(tmp_path / "s.yaml", [PRIOR_A], [FB_TASK], include_path=["future_l1.tasks"])
    rc, out, err = cli(capsys, "run", str(suite), "--runs-dir", str(tmp_path / "runs"))
    assert rc == 2 and len(error_lines(err)) == 1
    assert f"task '{FB_TASK}': its data cannot be loaded" in err and "is not valid JSON" in err
    assert_no_traceback(out, err)


# ---------------------------------------------------------------------------------------------------------------
# TwiFF-Bench: broken shards, columns, rows and images

TW_TASK = "twiffbench_future_l1"


def twiff_copy(tmp_path: Path, edit=None) -> Path:
    """A copy of the demo TwiFF-Bench set; `edit(rows)` changes the rows of shard 1 (doc_ids 3-5)."""
    import pyarrow.parquet as pq

    from future_l1.tasks.demo_benchmarks import twiffbench_demo_dir

    copy = tmp_path / "tw"
    shutil.copytree(twiffbench_demo_dir(), copy)
    if edit is not None:
        shard = copy / "test-00001-of-00004.parquet"
        table = pq.read_table(shard)
        rows = table.to_pylist()
        edit(rows)
        pq.write_table(table.from_pylist(rows, schema=table.schema), shard)
    return copy


def _twiff_run(tmp_path, capsys, monkeypatch, data: Path, judges=None, limit=6) -> tuple[int, str, str]:
    monkeypatch.setenv("FUTURE_L1_TWIFFBENCH_DIR", str(data))
    judges = judges or {"rubric": {"provider": "offline"}}
    task = {"name": TW_TASK, "limit": limit, "judge": next(iter(judges))}
    suite = write_suite(tmp_path / "s.yaml", [PRIOR_A], [task], include_path=["future_l1.tasks"], judges=judges)
    return cli(capsys, "run", str(suite), "--runs-dir", str(tmp_path / "runs"))


def test_twiff_corrupt_image_and_null_question_are_counted_failures(tmp_path, capsys, monkeypatch):
    def edit(rows):
        rows[0]["question_images"][0]["bytes"] = b"Truncated File Read"  # doc 3
        rows[1]["question"] = None  # doc 4

    rc, out, err = _twiff_run(tmp_path, capsys, monkeypatch, twiff_copy(tmp_path, edit))
    assert rc == 0, err
    assert_no_traceback(out, err)
    run = only_run_dir(tmp_path / "runs")
    metrics = results_of(run)[f"prior_a/{TW_TASK}"]
    assert metrics["n_failed"] == 2 and metrics["n_judged"] == 4
    samples = {s["doc_id"]: s["twiff_avg"] for s in map(json.loads, (run / "samples/prior_a" / f"{TW_TASK}.jsonl").read_text().split("\n")[:-1])}  # fmt: skip
    assert samples[4]["error"] == "data: missing or empty 'question'"
    assert samples[3]["error"].startswith("judge:") and samples[3]["judged"] is False


@pytest.mark.parametrize("damage, expected", [("not_parquet", "is not a readable parquet shard"),
                                              ("no_answer_column", "has no ['answer'] column")])  # fmt: skip
def test_twiff_unusable_shard_is_one_error_line(damage, expected, tmp_path, capsys, monkeypatch):
    import pyarrow.parquet as pq

    data = twiff_copy(tmp_path)
    shard = data / "test-00002-of-00004.parquet"
    if damage == "not_parquet":
        shard.write_bytes(b"<html>404 Not Found</html>")
    else:
        pq.write_table(pq.read_table(shard).drop_columns(["answer"]), shard)
    rc, out, err = _twiff_run(tmp_path, capsys, monkeypatch, data)
    assert rc == 2 and len(error_lines(err)) == 1, err
    assert f"task '{TW_TASK}': its data cannot be loaded" in err and expected in err and shard.name in err
    assert_no_traceback(out, err)
    assert not (tmp_path / "runs").exists()


def test_all_judgements_failed_shows_no_score_not_zero(tmp_path, capsys, monkeypatch):
    from future_l1.reports.render import plain_table
    from future_l1.tasks.judge_server import ChatServer

    with ChatServer(lambda req: (500, b"down")) as server:
        judges = {"down": {"provider": "openai", "base_url": server.base_url, "model": "j", "attempts": 2}}
        rc, out, err = _twiff_run(tmp_path, capsys, monkeypatch, twiff_copy(tmp_path), judges=judges, limit=3)
        assert server.n_requests == 6  # the role's `attempts` reached the tasks in-process
    assert rc == 0, err
    run = only_run_dir(tmp_path / "runs")
    metrics = results_of(run)[f"prior_a/{TW_TASK}"]
    assert metrics["twiff_avg"] is None and metrics["twiff_cot"] is None and metrics["n_failed"] == 3
    assert f"| prior_a | {TW_TASK} |" in out and "| – | – | – | 0 | 3 |" in out
    assert "no score" in plain_table(run)


# ---------------------------------------------------------------------------------------------------------------
# Judge faults (unit level: the judge client of the tasks package)

DOC = {"doc_id": 0, "video": "v.mp4", "question": "What happens next?", "answer": "chain <ans>it falls</ans>",
       "question_images": [], "reasoning_images": [], "data_error": ""}  # fmt: skip
ANSWER = "<reason>r</reason><answer>it falls</answer>"


def _role(url: str, **kw):
    from future_l1.tasks.judge import JudgeRole

    return JudgeRole(provider="openai", base_url=url, model="judge-x", backoff_s=0.01, cache=False, **kw).to_config()


def _judge(config) -> dict:
    from future_l1.tasks.judge import active_config
    from future_l1.tasks.twiffbench import scoring

    with active_config(config):
        return scoring.process_results(DOC, [ANSWER])["twiff_avg"]


class DripServer:
    """An HTTP server that sends its reply one byte at a time (headers or body), forever: a judge that never ends."""

    def __init__(self, drip_headers: bool) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1"
        self.drip_headers = drip_headers
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn) -> None:
        with conn:
            conn.recv(65536)
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
            if not self.drip_headers:
                conn.sendall(head)
            data = (head if self.drip_headers else b"") + b" " * 100000
            for byte in data:
                if self.stop.wait(0.05):
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


@pytest.mark.parametrize("drip_headers", [False, True], ids=["slow_body", "slow_headers"])
def test_slow_judge_hits_the_total_deadline(drip_headers):
    server = DripServer(drip_headers)
    try:
        began = time.monotonic()
        rec = _judge(_role(server.base_url, timeout_s=0.5, attempts=2))
        elapsed = time.monotonic() - began
    finally:
        server.close()
    assert rec["judged"] is False and "timed out after 0.5 s (2 attempt(s))" in rec["error"]
    assert elapsed < 10  # 2 × 0.5 s plus backoff; before the fix it never returned


NON_NUMERIC = {
    "nan": '{"reasoning": "x", "score": [NaN, 3]}',
    "inf": '{"reasoning": "x", "score": [Infinity, 3]}',
    "nan_string": '{"reasoning": "x", "score": ["nan", "3"]}',
    "huge": '{"reasoning": "x", "score": [1e999, 3]}',
    "words": '{"reasoning": "x", "score": ["good", "bad"]}',
    "object": '{"reasoning": "x", "score": {"cot": 3, "answer": 4}}',
    "null": '{"reasoning": "x", "score": null}',
    "bools": '{"reasoning": "x", "score": [true, false]}',
    "content_not_text": None,
    "deep_nesting": '{"score": ' + "[" * 5000 + "]" * 5000 + "}",
}


@pytest.mark.parametrize("case", sorted(NON_NUMERIC))
def test_non_numeric_scores_are_counted_failures(case):
    from future_l1.tasks.judge_server import ChatServer

    body = NON_NUMERIC[case]
    if body is None:
        reply = (200, json.dumps({"choices": [{"message": {"content": {"score": [3, 4]}}}]}).encode())
    else:
        reply = body
    with ChatServer(lambda req: reply) as server:
        rec = _judge(_role(server.base_url, attempts=3))
        assert server.n_requests == 3
    assert rec["judged"] is False and rec["error"].startswith("judge:") and "(3 attempt(s))" in rec["error"]


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_client_errors_are_not_retried_and_say_so(status):
    from future_l1.tasks.judge_server import ChatServer

    with ChatServer(lambda req: (status, b'{"error": "no"}')) as server:
        rec = _judge(_role(server.base_url, attempts=4))
        assert server.n_requests == 1
    assert f"judge HTTP {status}, not retried" in rec["error"] and "attempt" not in rec["error"]


def test_server_errors_report_the_attempts_made():
    from future_l1.tasks.judge_server import ChatServer

    with ChatServer(lambda req: (503, b"busy")) as server:
        rec = _judge(_role(server.base_url, attempts=3))
        assert server.n_requests == 3
    assert "judge HTTP 503 after 3 attempt(s)" in rec["error"]


def test_malformed_judge_variable_names_itself(monkeypatch):
    from future_l1.tasks.judge_server import ChatServer

    with ChatServer(lambda req: '{"score": [3, 4]}') as server:
        monkeypatch.setenv("FUTURE_L1_JUDGE_BASE_URL", server.base_url)
        monkeypatch.setenv("FUTURE_L1_JUDGE_MODEL", "j")
        monkeypatch.setenv("FUTURE_L1_JUDGE_TIMEOUT", "soon")
        rec = _judge(None)  # no role: the plain lmms-eval fallback reads the environment
    assert rec["judged"] is False and "FUTURE_L1_JUDGE_TIMEOUT='soon' is not a valid float" in rec["error"]


@settings(max_examples=300, deadline=None)
@given(st.recursive(SCALARS | st.just(float("nan")), lambda k: st.lists(k, max_size=4) | st.dictionaries(st.text(max_size=3), k, max_size=3), max_leaves=10))  # fmt: skip
def test_coerce_scores_raises_only_judge_answer_errors(score):
    from future_l1.tasks.judge import SCORE_RANGE, JudgeAnswerError, coerce_scores

    try:
        pair = coerce_scores(score)
    except JudgeAnswerError:
        return
    assert all(isinstance(x, int) and SCORE_RANGE[0] <= x <= SCORE_RANGE[1] and math.isfinite(x) for x in pair)


# ---------------------------------------------------------------------------------------------------------------
# Secrets, long questions, duplicate ids


def test_api_key_reaches_no_file_and_no_log(tmp_path):
    """A key in FUTURE_L1_JUDGE_API_KEY is sent to the judge and written nowhere: not in the run directory, not in any
    output of the child process (lmms-eval's logs included)."""
    judges = {"rubric": {"provider": "offline", "timeout_s": 30}}
    tasks = [{"name": TW_TASK, "limit": 2, "judge": "rubric"}, {"name": "hx_mc", "limit": 2}]
    suite = write_suite(tmp_path / "s.yaml", [PRIOR_A], tasks, include_path=["future_l1.tasks", str(FIXTURES / "tasks")],
                        judges=judges)  # fmt: skip
    env = {**child_env(), "FUTURE_L1_JUDGE_API_KEY": SECRET, "FUTURE_L1_JUDGE_CACHE": "1"}
    result = subprocess.run(cli_command("run", str(suite), "--runs-dir", str(tmp_path / "runs")), env=env,
                            capture_output=True, timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    run = only_run_dir(tmp_path / "runs")
    files = [p for p in run.rglob("*") if p.is_file()]
    assert len(files) > 10
    needle = SECRET.encode()
    assert not [p for p in files if needle in p.read_bytes()]
    assert needle not in result.stdout and needle not in result.stderr
    assert json.loads((run / "judge.json").read_text())[TW_TASK]["settings"]["timeout_s"] == 30


def test_data_check_names_long_questions_and_duplicate_ids(tmp_path, capsys):
    records = [fb_record(0), fb_record(1, id="fb-0"), fb_record(2)]
    records[2]["qa"]["Question"] = "Describe every frame. " * 3000  # ~66 kB, ~13k tokens
    data = write_futurebench(tmp_path / "fb", records)
    rc, out, _ = cli(capsys, "data", "check", "futurebench", "--path", str(data))
    assert rc == 1
    assert "PROBLEM fb-0: id used by 2 records" in out
    assert "PROBLEM fb-2: question is" in out and "tokens long (limit 2048)" in out


def test_question_beyond_the_model_context_is_a_per_sample_error(tmp_path, capsys, monkeypatch):
    from future_l1.tasks.demo_benchmarks import futurebench_demo_dir

    records = [fb_record(0), fb_record(1)]
    records[1]["qa"]["Question"] = "Describe every frame. " * 3000  # 13k+ tokens against the tiny model's 8,192
    data = write_futurebench(tmp_path / "fb", records)
    clip = sorted((futurebench_demo_dir() / "first_part_video").glob("*.mp4"))[0]
    for i in range(2):
        shutil.copy(clip, data / "first_part_video" / f"v{i}.mp4")
    monkeypatch.setenv("FUTURE_L1_FUTUREBENCH_DIR", str(data))
    model = {"label": "tiny", "model": "future_l1", "args": {"pretrained": "demo://tiny-random", "batch_size": 2}}
    task = {"name": FB_TASK, "gen_kwargs": {"max_new_tokens": 2}}
    suite = write_suite(tmp_path / "s.yaml", [model], [task], include_path=["future_l1.tasks"])
    rc, _, err = cli(capsys, "run", str(suite), "--runs-dir", str(tmp_path / "runs"))
    assert rc == 0, err
    run = only_run_dir(tmp_path / "runs")
    assert results_of(run)[f"tiny/{FB_TASK}"]["n_errors"] == 1
    samples = [json.loads(x) for x in (run / "samples/tiny" / f"{FB_TASK}.jsonl").read_text().split("\n") if x]
    errors = {s["doc_id"]: s["future_acc"]["error"] for s in samples}
    assert errors[0] is None and "more than the model's context of 8192" in errors[1]
