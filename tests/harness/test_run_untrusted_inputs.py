"""`future-l1 run` against untrusted data and an untrusted judge (issue 31), end to end and in-process.

Data: the rules of `data check` apply: a TwiFF-Bench set with 3 of 4 shards, a stray shard or one of another release
refuses the run with one error line (before: 9 or 15 samples, exit 0); a FutureBench record `data check`
rejects is a counted error, one it warns about is scored as the authors score it and carries the warning. Judge: a long reasoning is stored capped and once per sample in both
samples files (before: 8 times each), and an Authorization header the judge echoes lands in no file of the run."""

from __future__ import annotations

import json
import shutil

import pytest
from harness_helpers import only_run_dir, results_of, write_suite

from future_l1.harness.cli import main

PRIOR_A = {"label": "prior_a", "model": "answer_prior", "args": {"strategy": "fixed", "letter": "A"}}


@pytest.fixture(autouse=True)
def _isolated(monkeypatch):
    monkeypatch.setenv("TQDM_DISABLE", "1")
    monkeypatch.setenv("FUTURE_L1_JUDGE_CACHE", "0")
    for name in ("FUTURE_L1_JUDGE_BASE_URL", "FUTURE_L1_JUDGE_MODEL", "FUTURE_L1_FUTUREBENCH_DIR",
                 "FUTURE_L1_FUTUREBENCH_VIDEO_DIR", "FUTURE_L1_TWIFFBENCH_DIR", "FUTURE_L1_TRACEBACK"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)


def _run(tmp_path, capsys, task: str, judges: dict | None = None, limit: int | None = None) -> tuple[int, str]:
    judges = judges or {"rubric": {"provider": "offline"}}
    entry = {"name": task, "judge": next(iter(judges))} if task.startswith("twiff") else task
    if limit:
        entry = {**entry, "limit": limit}
    suite = write_suite(tmp_path / "s.yaml", [PRIOR_A], [entry], include_path=["future_l1.tasks"], judges=judges)
    capsys.readouterr()
    rc = main(["run", str(suite), "--runs-dir", str(tmp_path / "runs")])
    return rc, capsys.readouterr().err


@pytest.mark.parametrize("damage, expected", [
    ("missing", "missing test-00003-of-00004.parquet (3 of 4 shards present)"),
    ("stray", "test-00004-of-00004.parquet is past the last shard of the 4-shard release"),
    ("other_release", "test-00002-of-00005.parquet: shard(s) of a 5-shard release"),
])  # fmt: skip
def test_run_refuses_a_broken_twiff_shard_set(damage, expected, tmp_path, capsys, monkeypatch):
    from future_l1.tasks.demo_benchmarks import twiffbench_demo_dir

    data = tmp_path / "tw"
    shutil.copytree(twiffbench_demo_dir(), data)
    if damage == "missing":
        (data / "test-00003-of-00004.parquet").unlink()
    elif damage == "stray":
        shutil.copy(data / "test-00000-of-00004.parquet", data / "test-00004-of-00004.parquet")
    else:
        shutil.copy(data / "test-00000-of-00004.parquet", data / "test-00002-of-00005.parquet")
    monkeypatch.setenv("FUTURE_L1_TWIFFBENCH_DIR", str(data))
    rc, err = _run(tmp_path, capsys, "twiffbench_future_l1")
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert rc == 2 and len(lines) == 1 and expected in lines[0], err
    assert "its data cannot be loaded" in lines[0] and "Traceback" not in err
    assert not (tmp_path / "runs").exists()


def test_run_scores_a_warned_record_as_the_authors_and_counts_an_unscorable_one(tmp_path, capsys, monkeypatch):
    """Records `data check` warns about are scored as the authors score them (no number moves) and carry the
    warning; a record it rejects is scored wrong and counted."""
    from future_l1.tasks.demo_benchmarks import futurebench_demo_dir

    data = tmp_path / "fb"
    shutil.copytree(futurebench_demo_dir(), data)
    records = json.loads((data / "futurebench.json").read_text())
    gold_a = [i for i, r in enumerate(records) if r["qa"]["Answer"] == "A"]
    records[gold_a[0]]["question_type"] = "hop4"  # a correct answer of the A-prior, in no split: still scored
    records[gold_a[1]]["qa"]["Answer"] = "E"  # no such option: unscorable
    (data / "futurebench.json").write_text(json.dumps(records))
    monkeypatch.setenv("FUTURE_L1_FUTUREBENCH_DIR", str(data))
    rc, err = _run(tmp_path, capsys, "futurebench_future_l1")
    assert rc == 0, err
    run = only_run_dir(tmp_path / "runs")
    metrics = results_of(run)["prior_a/futurebench_future_l1"]
    assert metrics["n_errors"] == 1
    assert metrics["future_acc"] == pytest.approx(100 * (len(gold_a) - 1) / len(records))  # only the E is lost
    lines = [
        json.loads(x) for x in (run / "samples" / "prior_a" / "futurebench_future_l1.jsonl").read_text().splitlines()
    ]
    warned = [x["future_acc"] for x in lines if x["future_acc"].get("warning")]
    assert [r["doc_id"] for r in warned] == [gold_a[0]] and warned[0]["correct"] == 1


SECRET = "sk-echoed-0123456789abcdefXYZ"


def test_run_stores_a_long_reasoning_once_and_no_echoed_secret(tmp_path, capsys, monkeypatch):
    from future_l1.tasks.judge import MAX_REASONING_CHARS
    from future_l1.tasks.judge_server import ChatServer

    def judge(request: dict, headers: dict) -> str:
        echoed = headers.get("Authorization", "")
        return json.dumps({"reasoning": f"START {echoed} " + "thinking " * 20_000, "score": [3, 4]})

    monkeypatch.setenv("FUTURE_L1_JUDGE_API_KEY", SECRET)
    with ChatServer(judge, pass_headers=True) as server:
        judges = {"echo": {"provider": "openai", "base_url": server.base_url, "model": "echo-judge", "cache": False}}
        rc, err = _run(tmp_path, capsys, "twiffbench_future_l1", judges=judges, limit=3)
    assert rc == 0, err
    run = only_run_dir(tmp_path / "runs")
    files = [p for p in run.rglob("*") if p.is_file()]
    assert not [p for p in files if SECRET.encode() in p.read_bytes()]
    samples = [p for p in files if p.suffix == ".jsonl" and "samples" in p.name + str(p.parent)]
    assert len(samples) >= 2  # ours and lmms-eval's own
    for path in samples:
        for line in path.read_text().splitlines():
            assert line.count("START Bearer [REDACTED] thinking") == 1, path
            assert len(line) < 4 * MAX_REASONING_CHARS  # before: 8 copies of 180 kB


URL_TOKEN, QUERY_KEY = "urltoken-5f3a9c1e77d2", "querykey-a81b44c09e6f"


@pytest.mark.parametrize("where", ["credentials", "query"])
def test_no_file_of_a_run_holds_a_secret_planted_in_the_judge_url(where, tmp_path, capsys, monkeypatch):
    """Issue 31: a token in the judge's base_url (user:TOKEN@host, ?api_key=) was written in clear to judge.json,
    suite.yaml, suite_source.json and both samples files. Every file the run writes is grepped for every form of it
    (as written, URL-encoded, inside the Basic header) and for the echoed API key."""
    import base64

    from future_l1.tasks.judge_server import ChatServer

    def judge(request: dict, headers: dict) -> str:
        return json.dumps({"reasoning": f"echo {headers.get('Authorization', '')} {request.get('model')}",
                           "score": [3, 4]})  # fmt: skip

    monkeypatch.setenv("FUTURE_L1_JUDGE_API_KEY", SECRET)
    with ChatServer(judge, pass_headers=True) as server:
        host = server.base_url.split("//", 1)[1]
        url = f"http://judge:{URL_TOKEN}@{host}" if where == "credentials" else f"{server.base_url}?api_key={QUERY_KEY}"
        judges = {"echo": {"provider": "openai", "base_url": url, "model": "echo-judge", "cache": False}}
        rc, err = _run(tmp_path, capsys, "twiffbench_future_l1", judges=judges, limit=2)
    assert rc in (0, 1), err
    planted = [SECRET, URL_TOKEN, QUERY_KEY, base64.b64encode(f"judge:{URL_TOKEN}".encode()).decode()]
    run = only_run_dir(tmp_path / "runs")
    files = [p for p in run.rglob("*") if p.is_file()]
    assert len(files) > 8
    leaks = [(p.relative_to(run), s) for p in files for s in planted if s.encode() in p.read_bytes()]
    assert not leaks
    assert not [s for s in planted if s in err]
