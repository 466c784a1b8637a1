"""The cached demo checkpoint the harness evaluates: trained by our pipeline, loadable, Future-L1 config fields."""

from __future__ import annotations

import json


def test_demo_checkpoint_is_cached_and_loadable():
    from future_l1.training import demo_checkpoint

    path = demo_checkpoint()
    assert demo_checkpoint() == path  # second call hits the cache
    config = json.loads((path / "config.json").read_text())
    assert config["architectures"] == ["FutureL1_Qwen3VL"]
    assert {"latent_id", "latent_start_id", "latent_end_id", "max_latent_token", "latent_lambda"} <= set(config)
    summary = json.loads((path / "sft_summary.json").read_text())
    assert summary["global_steps"] == 10 and summary["history"][-1]["ce"] < summary["history"][0]["ce"]
    assert (path / "chat_template.jinja").exists() and (path / "processor_config.json").exists()
