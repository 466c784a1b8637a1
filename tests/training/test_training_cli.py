"""The `future-l1 train` commands as a user runs them (the CLI's `main`, in this process): `sft --demo`, `sft
--config` and `validate`."""

from __future__ import annotations

import json
from pathlib import Path

from in_process import run_main as _cli


def test_train_sft_demo_writes_a_future_l1_checkpoint(tmp_path: Path) -> None:
    out = tmp_path / "ckpt"
    result = _cli("train", "sft", "--demo", "--max-steps", "2", "--output-dir", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    config = json.loads((out / "config.json").read_text())
    assert config["architectures"] == ["FutureL1_Qwen3VL"] and config["latent_id"] == 151669
    assert json.loads((out / "sft_summary.json").read_text())["global_steps"] == 2
    assert (out / "processor_config.json").exists() and (out / "chat_template.jinja").exists()


def test_train_validate_names_each_bad_record(tmp_path: Path) -> None:
    from future_l1.training.demo_data import demo_train_file

    good = demo_train_file()
    assert _cli("train", "validate", str(good)).returncode == 0
    records = json.loads(good.read_text())
    records[3]["answer"] = ""
    for rec in records:  # keep video paths valid from the copy's folder
        rec["video"] = str((good.parent / rec["video"]).resolve())
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(records))
    result = _cli("train", "validate", str(broken))
    assert result.returncode == 1
    assert records[3]["id"] in result.stdout and f"{len(records) - 1} usable, 1 bad" in result.stdout


def test_train_sft_config_yaml_with_cli_overrides(tmp_path: Path, tiny_ckpt: Path) -> None:
    import yaml

    from future_l1.training.demo_data import demo_train_file

    cfg = tmp_path / "sft.yaml"
    cfg.write_text(yaml.safe_dump({
        "model_name_or_path": str(tiny_ckpt), "train_file": str(demo_train_file()), "output_dir": "ignored",
        "per_device_train_batch_size": 2, "gradient_accumulation_steps": 1, "max_steps": 50, "use_cpu": True,
        "report_to": [],
    }))  # fmt: skip
    out = tmp_path / "out"
    result = _cli("train", "sft", "--config", str(cfg), "--max-steps", "1", "--output-dir", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads((out / "sft_summary.json").read_text())["global_steps"] == 1
