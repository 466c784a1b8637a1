"""`future-l1 train rl --config` against hostile configs (issue 30): a missing model path or an unknown key is named
as such, never as "Your setup doesn't support bf16/gpu"; all problems at once, exit 2, before any model loads. The
config class is the RL helper's (`training/rl/config.py`); the checks are `training.config.parse_config`'s."""

from __future__ import annotations

import math

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from future_l1.harness.cli import main


@pytest.fixture(autouse=True)
def _no_traceback_env(monkeypatch):
    monkeypatch.delenv("FUTURE_L1_TRACEBACK", raising=False)


def _rl(capsys, tmp_path, body: dict, *extra: str) -> tuple[int, list[str]]:
    config = tmp_path / "rl.yaml"
    config.write_text(yaml.safe_dump(body))
    capsys.readouterr()
    rc = main(["train", "rl", "--config", str(config), *extra])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return rc, err.strip().splitlines()


def test_missing_model_path_is_named_not_blamed_on_bf16(tmp_path, capsys):
    rc, lines = _rl(capsys, tmp_path, {"model_name_or_path": "/nonexistent/sft", "train_file": "demo", "bf16": True,
                                       "use_cpu": True})  # fmt: skip
    assert rc == 2 and len(lines) == 1, lines
    assert "model_name_or_path: /nonexistent/sft does not exist" in lines[0] and "bf16" not in lines[0]


def test_unknown_key_is_named_with_a_suggestion(tmp_path, capsys, tiny_ckpt):
    rc, lines = _rl(capsys, tmp_path, {"model_name_or_path": str(tiny_ckpt), "train_file": "demo", "ctr_lamda": 0.2,
                                       "use_cpu": True})  # fmt: skip
    assert rc == 2 and len(lines) == 1
    assert "unknown key 'ctr_lamda'; did you mean 'ctr_lambda'?" in lines[0] and "bf16" not in lines[0]


def test_paper_config_names_its_placeholder_paths(capsys):
    """training/configs/rl_paper.yaml as shipped: its two /path/to placeholders are named (and, on a CPU machine,
    its `bf16: true`), each once."""
    from pathlib import Path

    paper = Path(__file__).resolve().parents[2] / "training/configs/rl_paper.yaml"
    capsys.readouterr()
    assert main(["train", "rl", "--config", str(paper)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert any("model_name_or_path: /path/to/Future-L1-SFT does not exist" in line for line in lines)
    assert any("train_file: /path/to/rl_rows.json does not exist" in line for line in lines)
    assert len(lines) == len(set(lines)) and all(line.startswith(f"error: config {paper}") for line in lines)


@pytest.mark.parametrize("changes, expected", [
    ({"ctr_lambda": -0.2}, "ctr_lambda: must be at least 0"),
    ({"num_generations": 1}, "num_generations: must be at least 2"),
    ({"temperature": 0}, "temperature: must be greater than 0"),
    ({"top_p": 1.5}, "top_p: must be in (0, 1]"),
    ({"judge_min_score": 6}, "judge_min_score: must be a judge score in 0-5"),
    ({"learning_rate": float("nan")}, "learning_rate: must be a finite number"),
    ({"max_steps": -2}, "max_steps: must be at least 1 or -1"),
    ({"train_file": "/nonexistent/rows.json"}, "train_file: /nonexistent/rows.json does not exist"),
])  # fmt: skip
def test_rl_knob_out_of_range_is_one_error_line(changes, expected, tmp_path, capsys, tiny_ckpt):
    body = {"model_name_or_path": str(tiny_ckpt), "train_file": "demo", "use_cpu": True, **changes}
    rc, lines = _rl(capsys, tmp_path, body)
    assert rc == 2 and len(lines) == 1 and expected in lines[0], lines


def test_demo_with_a_bad_config_fails_before_the_demo_model_is_built(tmp_path, capsys, monkeypatch):
    import future_l1.training as training

    monkeypatch.setattr(training, "demo_checkpoint", lambda: pytest.fail("the demo model was built"))
    rc, lines = _rl(capsys, tmp_path, {"max_step": 3}, "--demo")
    assert rc == 2 and len(lines) == 1 and "unknown key 'max_step'; did you mean 'max_steps'?" in lines[0]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "ctr_lambda",
                "div_lambda",
                "num_generations",
                "temperature",
                "top_p",
                "acc_low",
                "acc_high",
                "beta",
                "ctr_temperature",
                "judge",
                "format_mode",
            ]
        ),
        st.one_of(st.floats(), st.integers(-5, 20), st.text(max_size=6), st.none()),
        max_size=4,
    )
)
def test_any_rl_config_builds_or_raises_config_error_only(values):
    from future_l1.training.config import ConfigError
    from future_l1.training.rl.config import load_rl_config

    try:
        cfg = load_rl_config(None, use_cpu=True, output_dir="o", per_device_train_batch_size=8, num_generations=8,
                             **{k: v for k, v in values.items() if k != "num_generations"})  # fmt: skip
    except ConfigError:
        return
    assert cfg.ctr_lambda >= 0 and cfg.div_lambda >= 0 and cfg.temperature > 0 and 0 < cfg.top_p <= 1
    assert all(math.isfinite(x) for x in (cfg.ctr_lambda, cfg.div_lambda, cfg.temperature, cfg.beta))
