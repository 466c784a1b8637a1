"""Visual-gain selection: the keep rule, the CLI output, and resuming after a real SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from future_l1.training.demo_data import demo_candidates_file
from future_l1.training.selection import Counts, rule_correct


def test_rule_and_keep_rule():
    assert rule_correct("<answer>The red ball bounces.</answer>", "the red ball bounces")
    assert rule_correct("<answer>B</answer>", "B") and not rule_correct("<answer>Because</answer>", "B")
    assert not rule_correct("", "x")
    assert Counts("a", 6, 8, 0).kept and not Counts("a", 7, 8, 0).kept and not Counts("a", 3, 4, 0).kept


def test_judge_fallback_only_for_rule_failures():
    from future_l1.training.selection import count_correct

    asked = []

    def judge(q, ref, pred):
        asked.append(pred)
        return "collide" in pred

    n = count_correct(
        ["<answer>x y</answer>", "<answer>they collide</answer>", "<answer>a b</answer>"], "a b", "q", judge
    )
    assert n == 2 and asked == ["<answer>x y</answer>", "<answer>they collide</answer>"]


def _run(out: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "future_l1.harness.cli", "train", "select", str(demo_candidates_file()),
           "--out", str(out), "--top-k", "6", *extra]  # fmt: skip
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ})


@pytest.mark.integration
def test_select_cli_resumes_after_sigkill(tmp_path):
    out = tmp_path / "selected.json"
    progress = tmp_path / "selected.json.progress.jsonl"
    proc = _run(out, "--delay", "0.15")
    deadline = time.time() + 120
    while time.time() < deadline and (not progress.exists() or len(progress.read_text().splitlines()) < 3):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = [json.loads(line)["id"] for line in progress.read_text().splitlines()]
    assert 3 <= len(done_before) < 24 and not out.exists()

    proc = _run(out)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr.decode()[-2000:]
    lines = [json.loads(line) for line in progress.read_text().splitlines()]
    ids = [d["id"] for d in lines]
    assert len(ids) == len(set(ids)) == 24  # nothing probed twice
    assert ids[: len(done_before)] == done_before

    stats = json.loads((tmp_path / "selected.stats.json").read_text())
    selected = json.loads(out.read_text())
    assert stats["probed"] == 24 and stats["selected"] == len(selected) <= 6
    gains = [r["gain"] for r in selected]
    assert gains == sorted(gains, reverse=True)
    assert all(r["correct_in_8_base"] <= 6 and r["gain"] >= 2 for r in selected)
    # the selected file is itself valid SFT data
    from future_l1.training.data import load_records

    assert len(load_records(out).records) == len(selected)


def test_lmms_eval_probe_builds_chat_requests():
    import numpy as np

    from future_l1.training.lmms_probe import LmmsEvalProbe
    from future_l1.training.selection import probe_messages

    class FakeChatModel:
        is_simple = False

        def generate_until(self, requests):
            self.seen = requests
            out = []
            for r in requests:
                _ctx, doc_to_messages, gen_kwargs, doc_id, task, split = r.args
                msgs = doc_to_messages(self.task_dict[task][split][doc_id])
                n_img = sum(c["type"] == "image" for m in msgs for c in m["content"])
                out.append(f"<answer>{n_img} {gen_kwargs['do_sample']}</answer>")
            return out

    frame = np.zeros((8, 8, 3), np.uint8)
    probe = LmmsEvalProbe(lm=FakeChatModel())
    assert (
        probe.answer(probe_messages("<image>q?", [frame], [frame, frame]), 3, 1.0, 0) == ["<answer>3 True</answer>"] * 3
    )
    assert [r.metadata["doc_id"] for r in probe.lm.seen] == [0, 1, 2]
