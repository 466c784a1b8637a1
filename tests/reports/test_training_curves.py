"""LA-DAPO curves: an RL run's history renders, every-rollout and kept-group rewards in their own panels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from future_l1.reports import training_curves as tc


def _history(n: int = 4) -> list[dict]:
    rows = []
    for step in range(1, n + 1):
        row = {"step": step, "loss": 0.01 * step, "kl": 0.001 * step, "sampling/kept_ratio": 0.5}
        for c in ("accuracy", "format", "ctr", "div", "total"):
            row[f"rewards_all/{c}/mean"] = 0.1 * step
            row[f"rewards/{c}/mean"] = 0.2 * step
        rows.append(row)
    return rows


def test_renders_an_rl_history(tmp_path):
    (tmp_path / "rl_history.json").write_text(json.dumps({"history": [{"step": 0}, *_history()]}))
    assert len(tc.load_history(tmp_path).rows) == 4  # only the logged training steps (rows with a loss)
    assert tc.main([str(tmp_path)]) == 0
    png, svg = tmp_path / "rl_curves.png", tmp_path / "rl_curves.svg"
    assert png.stat().st_size > 0
    text = svg.read_text()
    assert "rewards, every rollout (Eq. 7)" in text and "rewards, groups trained on" in text
    assert "LLM-judge fallback" not in text  # a panel appears only when its series were logged
    first = png.read_bytes()
    assert tc.main([str(tmp_path)]) == 0 and png.read_bytes() == first  # deterministic bytes


def test_no_logged_steps_is_an_error(tmp_path):
    (tmp_path / "rl_history.json").write_text(json.dumps({"history": []}))
    assert tc.main([str(tmp_path)]) == 1


def _sft_summary(n: int = 5) -> dict:
    """What `future_l1.training.sft.run_sft` writes: the trainer's logged steps under `history`."""
    rows = [{"loss": 2.0 - 0.1 * s, "ce": 1.8 - 0.1 * s, "latent_loss": 0.5 / s, "grad_norm": 1.0, "learning_rate": 3e-3,
             "spans_per_sample": 1.0, "span_len_mean": 4.0, "skipped_records": 0, "epoch": s / n, "step": s}
            for s in range(1, n + 1)]  # fmt: skip
    return {"train_file": "train.jsonl", "records": 10, "global_steps": n, "history": rows}


def test_an_sft_output_folder_renders_sft_curves(tmp_path):
    """Issue 26 item 10: an SFT folder has no rl_history.json; the curves come from sft_summary.json."""
    (tmp_path / "sft_summary.json").write_text(json.dumps(_sft_summary()))
    history = tc.load_history(tmp_path)
    assert history.kind == "sft" and len(history.rows) == 5
    assert tc.main([str(tmp_path)]) == 0
    svg = (tmp_path / "sft_curves.svg").read_text()
    assert "cross-entropy" in svg and "latent loss" in svg and "rewards" not in svg
    assert not (tmp_path / "rl_curves.png").exists()


def test_the_newest_checkpoint_trainer_state_is_used(tmp_path):
    for step in (2, 10):
        folder = tmp_path / f"checkpoint-{step}"
        folder.mkdir()
        rows = [{"loss": 1.0, "step": s} for s in range(1, step + 1)]
        (folder / "trainer_state.json").write_text(json.dumps({"log_history": rows}))
    assert tc.find_history(tmp_path) == tmp_path / "checkpoint-10" / "trainer_state.json"
    assert len(tc.load_history(tmp_path).rows) == 10


@pytest.mark.parametrize(
    "content", [None, "[1, 2]", '{"history": "none"}', b"\xff\xfe\x00", "[" * 50_000 + "]" * 50_000]
)
def test_a_folder_or_file_without_a_history_is_one_line_exit_2(tmp_path, capsys, content):
    target = tmp_path
    if content is not None:
        target = tmp_path / "sft_summary.json"
        target.write_bytes(content if isinstance(content, bytes) else content.encode())
    assert tc.main([str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(target) in err[0] and "Traceback" not in err[0]


def test_report_trainer_state_draws_an_sft_summary_or_says_why_not(tmp_path, capsys):
    from report_helpers import report_cli

    fixtures = Path(__file__).resolve().parent / "fixtures"
    (tmp_path / "sft").mkdir()
    (tmp_path / "sft" / "sft_summary.json").write_text(json.dumps(_sft_summary()))
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "sft_summary.json").write_text(json.dumps({"history": []}))
    rc, _, err = report_cli(capsys, str(fixtures / "run_b"), "--out", str(tmp_path / "out"), "--no-published",
                            "--trainer-state", str(tmp_path / "sft" / "sft_summary.json"),
                            "--trainer-state", str(tmp_path / "empty"), "--trainer-state", str(tmp_path / "nothing"))  # fmt: skip
    assert rc == 0, err
    drawn = sorted(p.name for p in (tmp_path / "out" / "plots").glob("training_*.png"))
    assert drawn == ["training_sft_0.png"]
    assert "has no logged step" in err and str(tmp_path / "empty" / "sft_summary.json") in err
    assert "does not exist" in err and str(tmp_path / "nothing") in err
    assert "training curves not drawn" in (tmp_path / "out" / "leaderboard.md").read_text()
