"""Records, the keyframe pool and bad-input handling."""

from __future__ import annotations

import json

import pytest

from future_l1.training.data import DataError, check_frames, load_records
from future_l1.training.demo_data import demo_train_dir
from future_l1.training.frames import keyframe_pool


def test_keyframe_pool_matches_the_sft_scheme():
    assert keyframe_pool(100) == [1, 9, 25, 41, 57, 73, 89, 98]  # the research note's L=100 example
    assert keyframe_pool(32) == [1, 3, 8, 13, 17, 22, 27, 30]
    assert len(keyframe_pool(3)) == 8 and max(keyframe_pool(3)) < 3


def _write(tmp_path, records):
    demo = demo_train_dir()
    for r in records:
        if "video" in r and not r["video"].startswith("/"):
            r["video"] = str(demo / r["video"])
    path = tmp_path / "data.json"
    path.write_text(json.dumps(records))
    return path


def _demo_raw(n=3):
    return json.loads((demo_train_dir() / "train.json").read_text())[:n]


def test_bad_records_are_named_and_good_ones_load(tmp_path):
    good, mismatch, empty, unreadable = _demo_raw(4)
    mismatch["reasoning_image"] = mismatch["reasoning_image"] + [8]
    empty["answer"] = "  "
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"not a video at all")
    unreadable["video"] = str(corrupt)
    path = _write(tmp_path, [good, mismatch, empty, unreadable])

    with pytest.raises(DataError, match="allow"):
        load_records(path)
    loaded = load_records(path, allow_bad=True)
    reasons = {b.id: b.reason for b in loaded.bad}
    assert "placeholders" in reasons[mismatch["id"]]
    assert reasons[empty["id"]] == "empty answer"
    checked = check_frames(loaded)
    assert [r.id for r in checked.records] == [good["id"]]
    assert "corrupt.mp4" in {b.id: b.reason for b in checked.bad}[unreadable["id"]]


def test_format_b_paths(tmp_path):
    from PIL import Image

    for name in ("q.png", "r.png"):
        Image.new("RGB", (40, 30), (200, 10, 10)).save(tmp_path / name)
    rec = {"id": "b1", "image": ["q.png"], "reasoning_image": ["r.png"], "answer": "red",
           "conversations": [{"from": "human", "value": "<image>What colour?"},
                             {"from": "gpt", "value": "THOUGHT 1: look <image> THOUGHT 2: red."}]}  # fmt: skip
    (tmp_path / "b.json").write_text(json.dumps([rec]))
    loaded = load_records(tmp_path / "b.json")
    (r,) = loaded.records
    assert r.format == "B" and r.thoughts == ["look", "red."]
    q, hint = r.load_frames(None)
    assert q[0].shape == (30, 40, 3) and hint[0][0, 0, 0] == 200
