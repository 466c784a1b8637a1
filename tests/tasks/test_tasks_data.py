"""Demo sets in the real schemas, the loaders serving demo and real folders, and `future-l1 data check`."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter

import pyarrow.parquet as pq

from future_l1.tasks import data_check, settings
from future_l1.tasks.demo_benchmarks import futurebench_demo_dir, twiffbench_demo_dir
from future_l1.tasks.futurebench.data import load_futurebench
from future_l1.tasks.scenes import simulate
from future_l1.tasks.twiffbench.data import load_twiffbench


def test_futurebench_demo_answers_follow_the_simulation():
    records = json.loads((futurebench_demo_dir() / "futurebench.json").read_text())
    assert len(records) == 24 and {r["question_type"] for r in records} == {"hop1", "hop2", "hop3", "hop5"}
    for r in records:
        options = r["qa"]["Options"]
        assert len(set(options.values())) == 4
        correct = options[r["qa"]["Answer"]]
        assert correct.count(", then ") + 1 == (2 if r["question_type"] == "hop5" else int(r["question_type"][-1]))
    # gold letters balanced (a video-blind constant answer scores 25%) and not tied to one split
    assert Counter(r["qa"]["Answer"] for r in records) == dict.fromkeys("ABCD", 6)
    for split in ("hop1", "hop2", "hop3", "hop5"):
        assert len({r["qa"]["Answer"] for r in records if r["question_type"] == split}) > 1
    ds = load_futurebench()
    assert ds[0]["doc_id"] == 0 and ds[0]["video"].endswith("first_part_video/fb_000.mp4")
    assert [d["id"] for d in ds] == [r["id"] for r in records]


def test_scenes_are_deterministic():
    a, b = simulate("collide", 3), simulate("collide", 3)
    assert (a.frames == b.frames).all() and a.events == b.events


def test_twiff_demo_schema_and_order():
    ds = load_twiffbench()
    assert len(ds) == 12 and list(ds["doc_id"]) == list(range(12))
    row = ds[0]
    assert row["question"].count("<image>") == len(row["question_images"]) == 3
    assert row["answer"].count("<rimage>") == len(row["reasoning_images"]) and "<ans>" in row["answer"]
    shards = sorted(twiffbench_demo_dir().glob("test-*.parquet"))
    assert [s.name for s in shards] == [f"test-{i:05d}-of-00004.parquet" for i in range(4)]
    assert pq.read_table(shards[1]).to_pylist()[0]["video"] == ds[3]["video"]  # concatenated in shard order


def test_setting_points_loaders_at_a_real_folder(monkeypatch, tmp_path):
    copy = tmp_path / "fb"
    shutil.copytree(futurebench_demo_dir(), copy)
    records = json.loads((copy / "futurebench.json").read_text())[:5]
    (copy / "futurebench.json").write_text(json.dumps(records))
    monkeypatch.setenv(settings.FUTUREBENCH_ENV, str(copy))
    ds = load_futurebench()
    assert len(ds) == 5 and ds[0]["video"].startswith(str(copy))


def test_data_check_names_each_broken_futurebench_record(tmp_path):
    copy = tmp_path / "fb"
    shutil.copytree(futurebench_demo_dir(), copy)
    records = json.loads((copy / "futurebench.json").read_text())
    records[1]["qa"]["Answer"] = "E"
    records[2]["question_type"] = "hop9"
    del records[3]["qa"]["Options"]["C"]
    (copy / "futurebench.json").write_text(json.dumps(records))
    (copy / "first_part_video" / "fb_004.mp4").unlink()
    (copy / "first_part_video" / "fb_005.mp4").write_bytes(b"not a video")
    report = data_check.check("futurebench", copy)
    assert not report.ok
    bad = {rid for rid, _ in report.problems}
    assert bad == {f"demo-fb-00{i}" for i in (1, 3, 4, 5)}
    assert [rid for rid, _ in report.warnings] == ["demo-fb-002"]  # scored anyway, as the authors do
    assert report.counts["hop1"] == 6 and report.n_records == 24


def test_data_check_names_each_broken_twiff_record(tmp_path):
    copy = tmp_path / "tw"
    shutil.copytree(twiffbench_demo_dir(), copy)
    shard = copy / "test-00001-of-00004.parquet"
    table = pq.read_table(shard)
    rows = table.to_pylist()
    rows[0]["question_images"][0]["bytes"] = b"broken png"
    rows[2]["answer"] = "a chain without a final answer"
    pq.write_table(table.from_pylist(rows, schema=table.schema), shard)
    report = data_check.check("twiffbench", copy)
    assert [rid.split()[0] for rid, _ in report.problems] == ["doc_id=3"]
    assert [rid.split()[0] for rid, _ in report.warnings] == ["doc_id=5"]  # judged with the whole reference
    assert data_check.check("twiffbench", tmp_path / "missing").problems[0][0] == "<dataset>"


def test_cli_commands(tmp_path):
    path = subprocess.run(["future-l1", "tasks", "path"], capture_output=True, text=True, check=True).stdout.strip()
    assert (settings.Path(path) / "futurebench" / "futurebench_future_l1.yaml").is_file()
    ok = subprocess.run(["future-l1", "data", "check", "twiffbench"], capture_output=True, text=True)
    assert ok.returncode == 0 and "12 records" in ok.stdout
    bad = subprocess.run(["future-l1", "data", "check", "futurebench", "--path", str(tmp_path)], capture_output=True,
                         text=True)  # fmt: skip
    assert bad.returncode == 1 and "PROBLEM <dataset>" in bad.stdout
