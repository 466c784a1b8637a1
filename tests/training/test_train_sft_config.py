"""`future-l1 train sft --config` against hostile configs (issue 30): every problem of a config is one `error:` line
naming the file (or flag) and the key, all at once, exit 2, no traceback, before any model loads. In-process."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from future_l1.harness.cli import main
from future_l1.training.config import ConfigError, LatentSFTConfig, check_values, load_config, parse_config


@pytest.fixture(autouse=True)
def _no_traceback_env(monkeypatch):
    monkeypatch.delenv("FUTURE_L1_TRACEBACK", raising=False)


@pytest.fixture
def model_dir(tmp_path) -> Path:
    """A folder that passes the path check (a config.json); no model is ever loaded by these tests."""
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    return folder


@pytest.fixture
def train_file(tmp_path) -> Path:
    path = tmp_path / "train.json"
    path.write_text("[]")
    return path


def _sft(capsys, tmp_path, body, *extra: str) -> tuple[int, list[str]]:
    """`train sft --config` with `body` (dict = YAML of it, str = text, bytes = raw): (exit code, stderr lines)."""
    config = tmp_path / "cfg.yaml"
    if isinstance(body, dict):
        config.write_text(yaml.safe_dump(body))
    elif isinstance(body, str):
        config.write_text(body)
    else:
        config.write_bytes(body)
    capsys.readouterr()
    rc = main(["train", "sft", "--config", str(config), *extra])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return rc, err.strip().splitlines()


def _valid(model: Path, data: Path, **changes) -> dict:
    return {"model_name_or_path": str(model), "train_file": str(data), "use_cpu": True, **changes}


# (changes to a valid config, text of the one error line)
BAD_VALUES = {
    "unknown_key": ({"learnin_rate": 1e-5}, "unknown key 'learnin_rate'; did you mean 'learning_rate'?"),
    "lr_text": ({"learning_rate": "fast"}, "learning_rate: must be a number, got 'fast'"),
    "lr_negative": ({"learning_rate": -1e-5}, "learning_rate: must be greater than 0, got -1e-05"),
    "lr_zero": ({"learning_rate": 0}, "learning_rate: must be greater than 0"),
    "lr_nan": ({"learning_rate": float("nan")}, "learning_rate: must be a finite number, got nan"),
    "lr_inf": ({"learning_rate": float("inf")}, "learning_rate: must be a finite number, got inf"),
    "batch_zero": ({"per_device_train_batch_size": 0}, "per_device_train_batch_size: must be at least 1, got 0"),
    "batch_bool": ({"per_device_train_batch_size": True}, "per_device_train_batch_size: must be a whole number"),
    "batch_fraction": ({"per_device_train_batch_size": 1.5}, "per_device_train_batch_size: must be a whole number"),
    "lambda_negative": ({"latent_lambda": -1}, "latent_lambda: must be at least 0, got -1.0"),
    "l_max_zero": ({"max_latent_token": 0}, "max_latent_token: must be at least 1, got 0"),
    "steps_negative": ({"max_steps": -5}, "max_steps: must be at least 1 or -1, got -5"),
    "epochs_zero": ({"num_train_epochs": 0}, "num_train_epochs: must be greater than 0"),
    "accumulation_zero": ({"gradient_accumulation_steps": 0}, "gradient_accumulation_steps: must be at least 1"),
    "beta2_one": ({"adam_beta2": 1.0}, "adam_beta2: must be in [0, 1)"),
    "seed_negative": ({"seed": -1}, "seed: must be at least 0"),
    "loss_list": ({"latent_loss": ["mse"]}, "latent_loss: must be text"),
    "bad_latent_loss": ({"latent_loss": "l1"}, "latent_loss must be 'mse' or 'cosine', not 'l1'"),
    "train_file_missing": ({"train_file": "/nonexistent/train.json"}, "train_file: /nonexistent/train.json does not exist"),
    "train_file_dir": ({"train_file": "/"}, "train_file: / is a folder; it must be a data file"),
    "model_missing": ({"model_name_or_path": "/nonexistent/model"}, "model_name_or_path: /nonexistent/model does not exist"),
    "model_no_config": ({"model_name_or_path": "/tmp"}, "model_name_or_path: /tmp is not a model folder (no config.json)"),
    "no_train_file": ({"train_file": None}, "train_file is required"),
    "bf16_on_cpu": ({"use_cpu": False, "bf16": True}, "bf16: true needs a CUDA GPU"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD_VALUES))
def test_bad_value_is_one_error_line_naming_file_and_key(case, tmp_path, capsys, model_dir, train_file):
    changes, expected = BAD_VALUES[case]
    if case == "bf16_on_cpu":
        pytest.importorskip("torch").cuda.is_available() and pytest.skip("this machine has a GPU")
    body = {k: v for k, v in _valid(model_dir, train_file, **changes).items() if v is not None}
    rc, lines = _sft(capsys, tmp_path, body)
    assert rc == 2 and len(lines) == 1, lines
    assert lines[0].startswith(f"error: config {tmp_path / 'cfg.yaml'}") and expected in lines[0], lines


BAD_FILES = {
    "yaml_list": ("- a\n- b\n", "must be a mapping of `key: value` lines, not a list"),
    "yaml_scalar": ("fast\n", "must be a mapping of `key: value` lines, not a text"),
    "syntax": ("learning_rate: [1\n", "YAML syntax error at line"),
    "duplicate_key": ("seed: 1\nseed: 2\n", "key 'seed' is given twice (line 2)"),
    "binary": (b"\x7fELF\x00\x01\x02", "is a binary file"),
    "latin1": (b"output_dir: caf\xe9\n", "is not UTF-8 text"),
    "too_big": ("#" * (1 << 20) + "\n", "more than the 1.0 MiB allowed"),
    "alias_bomb": ("a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [{', '.join([f'*{p}'] * 10)}]\n" for p, c in zip("abcdef", "bcdefg", strict=True)),
        "expands to more than 100,000 values"),
    "deep": ("a: " + "[" * 200 + "]" * 200 + "\n", "nests deeper than"),
    "number_key": ("1: 2\n", "key 1 is not a name"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_hostile_config_file_is_one_error_line(case, tmp_path, capsys):
    body, expected = BAD_FILES[case]
    rc, lines = _sft(capsys, tmp_path, body)
    assert rc == 2 and len(lines) == 1 and expected in lines[0] and "cfg.yaml" in lines[0], lines


def test_config_path_that_is_missing_or_a_folder(tmp_path, capsys):
    for path, expected in ((tmp_path / "nope.yaml", "does not exist"), (tmp_path, "is a folder, not a file")):
        capsys.readouterr()
        assert main(["train", "sft", "--config", str(path)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and expected in err[0] and str(path) in err[0]


def test_every_problem_is_reported_at_once(tmp_path, capsys, model_dir):
    body = {"model_name_or_path": "/nonexistent/m", "learnin_rate": 1, "latent_lambda": -1, "max_steps": -3,
            "per_device_train_batch_size": 0, "max_latent_token": 0, "learning_rate": "fast"}  # fmt: skip
    rc, lines = _sft(capsys, tmp_path, body)
    assert rc == 2 and all(line.startswith("error: ") for line in lines)
    for key in ("learnin_rate", "latent_lambda", "max_steps", "per_device_train_batch_size", "max_latent_token",
                "learning_rate:", "model_name_or_path", "train_file is required"):  # fmt: skip
        assert sum(key in line for line in lines) >= 1, (key, lines)
    assert len(lines) == 8


def test_command_line_overrides_are_checked_and_named(tmp_path, capsys, model_dir, train_file):
    rc, lines = _sft(capsys, tmp_path, _valid(model_dir, train_file), "--max-steps", "0")
    assert rc == 2 and len(lines) == 1 and "--max-steps: 0 must be at least 1 or -1" in lines[0]


def test_no_config_and_no_demo_is_one_error_line(capsys):
    capsys.readouterr()
    assert main(["train", "sft"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "error: train sft: pass --config cfg.yaml (training/configs/sft_paper.yaml is the paper's), or --demo"
    ]


def test_valid_values_are_coerced_to_their_types(model_dir, train_file):
    """YAML reads `1e-5` as text (YAML 1.1 needs a dot): it is a number here, as TrainingArguments needs."""
    cfg = load_config(None, model_name_or_path=str(model_dir), train_file=str(train_file), output_dir="o",
                      learning_rate="1e-5", max_steps="3", use_cpu=True)  # fmt: skip
    assert cfg.learning_rate == 1e-5 and cfg.max_steps == 3 and isinstance(cfg.learning_rate, float)


def test_library_callers_may_build_a_config_without_paths():
    assert parse_config(LatentSFTConfig, None, output_dir="o", use_cpu=True).model_name_or_path == ""
    with pytest.raises(ConfigError, match="latent_lambda"):
        parse_config(LatentSFTConfig, None, output_dir="o", latent_lambda=-0.5)


VALUE = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(), st.text(max_size=12),
                  st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))  # fmt: skip
KEYS = st.sampled_from(["learning_rate", "latent_lambda", "max_steps", "per_device_train_batch_size", "seed",
                        "max_latent_token", "latent_loss", "bf16", "num_train_epochs", "warmup_steps", "report_to",
                        "lr_scheduler_type", "system_prompt", "question_video_fps", "max_records", "learnin_rate",
                        "output_dir", "save_strategy", "optim"])  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(KEYS, VALUE, max_size=6))
def test_any_config_builds_or_raises_config_error_only(values):
    """The class of inputs, generalised: whatever keys and values a YAML holds, the result is a config whose checked
    numbers are in range, or a ConfigError; never another exception."""
    try:
        cfg = parse_config(LatentSFTConfig, None, **{"use_cpu": True, "output_dir": "o", **values})
    except ConfigError as exc:
        assert exc.problems and all(isinstance(p, str) and "\n" not in p for p in exc.problems)
        return
    assert cfg.learning_rate > 0 and math.isfinite(cfg.learning_rate) and cfg.latent_lambda >= 0
    assert cfg.max_steps >= 1 or cfg.max_steps == -1
    assert cfg.per_device_train_batch_size >= 1 and cfg.max_latent_token >= 1


def test_check_values_reports_unknown_and_bad_keys_together():
    _, problems = check_values(LatentSFTConfig, {"learnin_rate": 1, "seed": "x", "max_records": 0})
    assert [p.split(": ", 1)[1] for p in problems] == [
        "unknown key 'learnin_rate'; did you mean 'learning_rate'?",
        "seed: must be a whole number, got 'x'",
        "max_records: must be at least 1, got 0",
    ]
