"""Per-arm tuning and the size sweep of the toy experiment (issue 28): tuned settings reach only their arm's checkpoint
name and training, the selection rule (best mean over seeds, ties to less compute, failed runs never chosen), the
tables list every run, and the command line. The grid's training and scoring run in the integration tier."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from future_l1.harness.experiments.toy_vep import tuning
from future_l1.harness.experiments.toy_vep.settings import MODES, TRAINED
from future_l1.harness.experiments.toy_vep.tuning import Point


def _p(arm, seed, steps, lr, acc, n_train=1000):
    return Point(arm, seed, n_train, steps, lr, "val", acc, 300 if acc is not None else 0, f"run-{arm}-{steps}-{seed}")


def test_tuned_settings_rename_only_their_own_arms_checkpoints():
    full = replace(MODES["full"], tuned=())
    tuned = replace(full, tuned=(("text", 300, 3e-3),))
    assert tuned.tag("text") == replace(full, steps=300, learning_rate=3e-3).tag("text") != full.tag("text")
    for arm in TRAINED:
        if arm != "text":
            assert tuned.tag(arm) == full.tag(arm)
    text = tuned.for_arm("text")
    assert (text.steps, text.learning_rate, text.tuned) == (300, 3e-3, ())
    assert tuned.for_arm("latent") == full  # untuned arms keep the mode's steps and learning rate
    assert full.for_arm("text") is full


def test_train_uses_the_arms_tuned_steps(tmp_path, monkeypatch):
    from future_l1.harness.experiments.toy_vep import pipeline

    seen = {}

    def fake_build_once(path, build):
        seen["path"] = path
        return path

    monkeypatch.setattr(pipeline, "_build_once", fake_build_once)
    tuned = replace(MODES["full"], tuned=(("text", 300, 3e-3),))  # latent untuned: the mode's 600 steps
    pipeline.train(tmp_path, tuned, "text", 0, tmp_path / "train.json")
    assert seen["path"].parent.name == tuned.tag("text") and "-st300-" in seen["path"].parent.name
    pipeline.train(tmp_path, tuned, "latent", 0, tmp_path / "train.json")
    assert "-st600-" in seen["path"].parent.name


def test_choose_takes_the_best_mean_over_seeds_per_arm():
    points = [
        _p("text", 0, 300, 1e-2, 70.0), _p("text", 1, 300, 1e-2, 50.0),  # mean 60
        _p("text", 0, 600, 1e-2, 55.0), _p("text", 1, 600, 1e-2, 62.0),  # mean 58.5: the best seed is not the rule
        _p("latent", 0, 600, 1e-2, 80.0), _p("latent", 1, 600, 1e-2, 80.0),
        _p("latent", 0, 1200, 1e-2, 90.0), _p("latent", 1, 1200, 1e-2, None),  # a failed run is never chosen
    ]  # fmt: skip
    assert tuning.choose(points) == {"text": (300, 1e-2), "latent": (600, 1e-2)}


def test_ties_go_to_fewer_steps_then_the_lower_learning_rate():
    points = [_p("aux", 0, 1200, 1e-2, 60.0), _p("aux", 0, 600, 1e-2, 60.0), _p("aux", 0, 600, 3e-3, 60.0)]
    assert tuning.choose(points) == {"aux": (600, 3e-3)}
    assert tuning.choose(list(reversed(points))) == {"aux": (600, 3e-3)}


def test_the_table_lists_every_setting_with_its_seeds_and_failures():
    points = [_p("text", 0, 300, 1e-2, 70.0), _p("text", 1, 300, 1e-2, None), _p("cot", 0, 600, 3e-3, 41.5)]
    rows = tuning.table(points)
    assert len(rows) == 2 + 2
    text = next(r for r in rows if r.startswith("| (b) text-only"))
    assert "70.0, failed" in text and text.rstrip().endswith("| – |")
    assert any("| 600 | 0.003 | 41.5 | 41.5 |" in r for r in rows)


def test_jobs_run_longest_first_and_cover_every_arm_and_seed():
    configs = tuning.tuning_configs(replace(MODES["full"], arms=("latent", "text")), seeds=(0, 1))
    jobs = tuning._jobs(configs)
    assert len(jobs) == len(tuning.GRID) * 2 * 2
    steps = [s.for_arm(arm).steps for s, arm, _ in jobs]
    assert steps == sorted(steps, reverse=True)
    assert {(s.steps, s.learning_rate) for s, _, _ in jobs} == set(tuning.GRID)


def test_size_configs_keep_the_tuned_settings():
    tuned = replace(MODES["full"], tuned=(("text", 300, 3e-3),))
    configs = tuning.size_configs(tuned)
    assert [s.n_train for s in configs] == list(tuning.SIZES)
    assert all(s.for_arm("text").steps == 300 and s.tuned == tuned.tuned for s in configs)


def test_the_full_mode_uses_the_val_chosen_settings_and_an_explicit_one_wins(tmp_path):
    import argparse

    from future_l1.harness.experiments.toy_vep import cli
    from future_l1.harness.experiments.toy_vep.settings import TUNED

    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    default = cli.settings_from_args(parser.parse_args(["experiment", "latent-vs-text"]))
    assert {arm for arm, _, _ in default.tuned} == set(TRAINED) and default.tuned == TUNED
    assert all(default.tag(arm) == default.for_arm(arm).tag(arm) for arm in TRAINED)
    for flag in (["--steps", "50"], ["--learning-rate", "0.02"]):
        s = cli.settings_from_args(parser.parse_args(["experiment", "latent-vs-text", *flag]))
        assert s.tuned == () and s.for_arm("text") == s  # the given value reaches every arm
    assert cli.settings_from_args(parser.parse_args(["experiment", "latent-vs-text", "--steps", "50"])).steps == 50


def test_the_grid_modes_are_exclusive_command_line_flags(capsys):
    from future_l1.harness.cli import main

    assert main(["experiment", "latent-vs-text", "--tune", "--size-sweep"]) == 2
    assert "--size-sweep: not allowed with argument --tune" in capsys.readouterr().err


@pytest.mark.integration
def test_a_tiny_grid_trains_scores_and_records_every_run(tmp_path):
    base = replace(MODES["quick"], arms=("latent", "text"), steps=4, sft_workers=1)
    configs = tuning.tuning_configs(base, grid=((2, 1e-2), (4, 1e-2)), seeds=(0,))
    points = tuning.run_grid(tmp_path, configs, "val", "tuning")
    assert len(points) == 4 and {(p.arm, p.steps) for p in points} == {
        (a, s) for a in ("latent", "text") for s in (2, 4)
    }
    assert all(p.accuracy is not None and 0 <= p.accuracy <= 100 and p.n == base.n_val for p in points)
    saved = json.loads((tmp_path / "tuning.json").read_text())
    assert [pt["run"] for pt in saved["points"]] == [p.run for p in points]
    assert (tmp_path / "tuning.md").read_text().count("\n") == 2 + 4
    assert set(tuning.choose(points)) == {"latent", "text"}


def test_the_report_names_each_arms_tuned_settings():
    from pathlib import Path

    from future_l1.harness.experiments.toy_vep.report import markdown
    from future_l1.harness.experiments.toy_vep.settings import ExperimentResult

    tuned = replace(MODES["full"], tuned=(("text", 300, 3e-3),), arms=("latent", "text"))
    text = markdown(ExperimentResult(out=Path("unused"), split="test", settings=tuned))
    assert "tuned per arm on val (latent 600 / 0.01, text 300 / 0.003)" in text
    plain = markdown(ExperimentResult(out=Path("unused"), split="test", settings=replace(tuned, tuned=())))
    assert "600 steps, lr 0.01" in plain and "tuned" not in plain
