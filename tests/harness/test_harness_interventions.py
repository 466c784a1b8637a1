"""Suite sweeps over latent interventions (issue 29): one entry, several labelled rows."""

from __future__ import annotations

import pytest

from future_l1.harness.interventions import expand_models, intervention_of, row_label
from future_l1.harness.suite import SuiteError, parse_suite


def suite(models):
    return {"name": "s", "models": models, "tasks": ["demo_futurebench"]}


def test_one_entry_expands_into_labelled_rows():
    raw = suite([{"label": "future_l1_tiny", "model": "future_l1", "args": {"pretrained": "demo://tiny"},
                  "interventions": ["none", "zero", "shuffle", "budget:0", "budget:8", "noise:0.50"]},
                 {"model": "other", "args": {}}])  # fmt: skip
    parsed = parse_suite(raw)
    labels = [m.label for m in parsed.models]
    assert labels == ["future_l1_tiny", "future_l1_tiny+zero", "future_l1_tiny+shuffle", "future_l1_tiny+budget-0",
                      "future_l1_tiny+budget-8", "future_l1_tiny+noise-0.5", "other"]  # fmt: skip
    args = {m.label: m.args for m in parsed.models}
    assert "latent_intervention" not in args["future_l1_tiny"]
    assert args["future_l1_tiny+budget-8"] == {"pretrained": "demo://tiny", "latent_intervention": "budget:8"}
    assert intervention_of(parsed.models[2].args_string()) == "shuffle"
    raw["models"][0]["args"]["save_latents"] = "run://latents/t"
    saved = {m.label: m.args.get("save_latents") for m in parse_suite(raw).models}
    assert saved["future_l1_tiny"] == "run://latents/t" and saved["future_l1_tiny+zero"] == "run://latents/t+zero"
    assert intervention_of({}) == "none"
    assert raw["models"][0]["interventions"]  # the input is not modified


def test_bad_sweeps_are_named():
    raw = suite([{"label": "a", "model": "future_l1", "interventions": ["zero", "swap", "zero"]},
                 {"label": "b", "model": "future_l1", "args": {"latent_intervention": "zero"},
                  "interventions": ["none"]}])  # fmt: skip
    with pytest.raises(SuiteError) as err:
        parse_suite(raw)
    text = str(err.value)
    assert "'swap'" in text and "listed twice" in text and "not both" in text
    assert expand_models([1]) == ([1], [])
    assert row_label("m", "none") == "m"
