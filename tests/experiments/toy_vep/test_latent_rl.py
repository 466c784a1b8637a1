"""`future-l1 experiment latent-rl` (`toy_vep.rl`, issue 27): the quick mode end to end as CI runs it (SFT start →
LA-DAPO with and without the latent rewards → harness runs → paired comparisons), the RL rows, and the settings."""

from __future__ import annotations

import json

import pytest

from future_l1.harness.experiments.toy_vep.rl import ARMS, RL_MODES, rl_rows


def test_arms_differ_only_in_their_tag_and_modes_fit_the_budget():
    s = RL_MODES["full"]
    assert s.tag("rl_all") != s.tag("rl_acc") and s.tag("rl_all").startswith(s.sft.tag())
    assert not s.sft.fast_sft  # its published result's SFT path: the checkpoints it starts from are those
    assert s.sft.seeds == (0, 1, 2) and RL_MODES["quick"].sft.seeds == (0,)
    assert (s.prompts * s.generations) % s.mini_batches == 0  # whole micro-batches per optimiser step


def test_rl_rows_show_the_evaluation_clip_and_prompt(tmp_path):
    from future_l1.harness.experiments.toy_vep.task import make_item
    from future_l1.training.rl.data import load_rl_rows

    rows = load_rl_rows(rl_rows(tmp_path, 4))
    assert [r["answer"] for r in rows] == [make_item("train", i).answer for i in range(4)] == list("ABCD")
    for r in rows:
        media = json.loads(r["media"])
        assert r["problem"].startswith("<video>\n") and "Please provide only the single option letter" in r["problem"]
        assert [m["type"] for m in media] == ["video"] and media[0]["path"].endswith(".mp4")
    assert rl_rows(tmp_path, 4) == rl_rows(tmp_path, 4)  # built once


@pytest.mark.integration
def test_quick_mode_end_to_end(tmp_path, capsys):
    from future_l1.harness.cli import main

    out = tmp_path / "rl"
    assert main(["experiment", "latent-rl", "--quick", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "(e) LA-DAPO, all rewards − (a) latent SFT" in printed and "McNemar p" in printed
    (result,) = out.glob("report/latent-rl-test-*/result.json")
    data = json.loads(result.read_text())
    assert set(data["accuracy"]) == set(ARMS)
    assert all(0 <= a["acc"] <= 100 and a["n"] == 32 for a in data["accuracy"].values())
    pairs = {(c["pair"], c["split"]) for c in data["comparisons"]}
    assert ("(e) LA-DAPO, all rewards − (a) latent SFT", "all") in pairs
    assert ("(e) LA-DAPO, all rewards − (f) LA-DAPO, no latent rewards", "all") in pairs
    for arm in ("rl_all", "rl_acc"):  # both RL arms trained and logged their curves
        assert data["histories"][arm]["0"]["accuracy_all"]
    # the two RL arms are different runs from the same start
    ckpts = {arm: next(out.glob(f"checkpoints/*-rl-{arm}-*/{arm}-s0")) for arm in ("rl_all", "rl_acc")}
    assert all((c / "model.safetensors").exists() for c in ckpts.values())


@pytest.mark.parametrize(
    "field,value",
    [("steps", 48), ("learning_rate", 1e-3), ("temperature", 1.0), ("generations", 16), ("max_sampling_tries", 2),
     ("mini_batches", 4), ("prompts", 8), ("n_rows", 128), ("beta", 0.01)],
)  # fmt: skip
def test_every_rl_setting_that_changes_training_changes_the_checkpoint_tag(field, value):
    from dataclasses import replace

    s = RL_MODES["full"]
    assert getattr(s, field) != value
    assert replace(s, **{field: value}).tag("rl_all") != s.tag("rl_all")  # never a stale checkpoint reused


def test_cli_overrides_reach_the_rl_settings(monkeypatch, tmp_path):
    from future_l1.harness.cli import main
    from future_l1.harness.experiments.toy_vep import rl

    seen = {}

    def fake_run(out, s, split):
        seen["s"] = (s, split)
        return rl.RLResult(out=out, split=split, settings=s)

    monkeypatch.setattr(rl, "run_latent_rl", fake_run)
    monkeypatch.setattr(rl, "markdown", lambda res: "")
    args = ["--temperature", "0.7", "--generations", "16", "--sampling-tries", "3", "--learning-rate", "1e-3"]
    assert main(["experiment", "latent-rl", "--split", "val", "--out", str(tmp_path), *args]) == 0
    s, split = seen["s"]
    assert (s.temperature, s.generations, s.max_sampling_tries, s.learning_rate, split) == (0.7, 16, 3, 1e-3, "val")
    assert (s.steps, s.prompts) == (RL_MODES["full"].steps, RL_MODES["full"].prompts)  # the rest untouched
