"""LA-DAPO curves: an RL run's history renders, every-rollout and kept-group rewards in their own panels."""

from __future__ import annotations

import json

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
    assert len(tc.load_history(tmp_path)) == 4  # only the logged training steps (rows with a loss)
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


def test_train_rl_gets_the_renderer_from_the_harness(tmp_path, capsys):
    """`future-l1 train rl` renders its curves through the reports layer, wired in by the harness's CLI (training,
    the layer below reports, does not import it); a rendering failure is a warning, not a failed training run."""
    from future_l1.harness.cli import build_parser, render_rl_curves

    args = build_parser().parse_args(["train", "rl", "--demo"])
    assert args.func.keywords == {"render_curves": render_rl_curves}
    (tmp_path / "rl_history.json").write_text(json.dumps({"history": _history()}))
    render_rl_curves(tmp_path)
    assert (tmp_path / "rl_curves.png").stat().st_size > 0
    render_rl_curves(tmp_path / "missing")
    assert "warning: the RL curves could not be rendered" in capsys.readouterr().err
