"""`future-l1 experiment latent-vs-text` (`toy_vep.pipeline`): bit-reproducible SFT of both arms, serial or in
parallel processes; the toy set reaches the task explicitly, never through the environment; the cache names the
experiment's artefacts are found by; the quick mode end to end (data → SFT → harness → report), as CI runs it; and
the flags that bring back earlier setups."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from future_l1.harness.experiments.toy_vep import pipeline
from future_l1.harness.experiments.toy_vep.settings import (
    CHECKPOINT,
    LATENT_DECODED,
    MODES,
    TRAINED,
    VARIANTS,
    Settings,
)


def _weights_hash(ckpt: Path) -> str:
    return hashlib.sha256((ckpt / "model.safetensors").read_bytes()).hexdigest()


@pytest.mark.integration
def test_sft_is_bit_reproducible_and_the_variants_differ(tmp_path):
    s = Settings(n_train=8, n_val=4, n_test=4, seeds=(0,), steps=2, batch_size=2)
    train_file, _ = pipeline.prepare_data(tmp_path / "a", s, "val")
    first = pipeline.train(tmp_path / "a", s, "latent", 0, train_file)
    second = pipeline.train(tmp_path / "b", s, "latent", 0, train_file)
    text = pipeline.train(tmp_path / "a", s, "text", 0, train_file)
    assert _weights_hash(first) == _weights_hash(second)
    assert _weights_hash(first) != _weights_hash(text)
    summary = json.loads((first / "sft_summary.json").read_text())
    assert any(h.get("latent_tokens", 0) > 0 for h in summary["history"])  # latent SFT saw latent targets
    text_summary = json.loads((text / "sft_summary.json").read_text())
    assert all(h.get("latent_tokens", 0) == 0 for h in text_summary["history"])
    assert json.loads((first / "config.json").read_text())["fixed_latent_budget"] is True


@pytest.mark.integration
def test_parallel_sft_gives_the_same_checkpoints_as_serial(tmp_path):
    """`train_all` trains each arm on one thread in its own spawned process; how many run at once changes nothing."""
    s = Settings(n_train=8, n_val=4, n_test=4, seeds=(0,), steps=2, batch_size=2, sft_workers=2,
                 arms=("latent", "text", "aux"))  # fmt: skip
    train_file, _ = pipeline.prepare_data(tmp_path / "a", s, "val")
    parallel = pipeline.train_all(tmp_path / "a", s, train_file)
    serial = pipeline.train_all(tmp_path / "b", replace(s, sft_workers=1), train_file)
    assert set(parallel[0]) == {"latent", "text", "aux"}
    for variant in ("latent", "text", "aux"):
        assert _weights_hash(parallel[0][variant]) == _weights_hash(serial[0][variant])


@pytest.mark.integration
def test_the_control_arms_train_on_their_own_texts_and_save_plain_text_models(tmp_path):
    """Issue 28's trained controls: the pause and chain-of-thought arms train text-only SFT on their own reason texts
    (the same items and answers); the aux arm trains text-only SFT plus the aux head's loss, saves no head, and is
    bit-reproducible; each differs from (b)."""
    from safetensors import safe_open

    from future_l1.harness.experiments.toy_vep.controls import future_reason, pause_reason
    from future_l1.harness.experiments.toy_vep.task import REASON, TARGET, make_item
    from future_l1.training.aux_head import AUX_HEAD

    s = Settings(n_train=8, n_val=4, n_test=4, seeds=(0,), steps=2, batch_size=2)
    train_file, _ = pipeline.prepare_data(tmp_path / "a", s, "val")
    files = pipeline.arm_train_files(tmp_path / "a", s, train_file)
    assert files["latent"] == files["text"] == files["aux"] == train_file
    records = {arm: json.loads(files[arm].read_text()) for arm in ("text", "pause", "cot")}
    for i, plain in enumerate(records["text"]):
        item = make_item("train", i)
        for arm, reason in (("pause", pause_reason(REASON, s.max_latent_token)),
                            ("cot", future_reason(REASON, tuple(item.positions[TARGET])))):  # fmt: skip
            rec = records[arm][i]
            assert rec["conversations"][1]["value"] == f"THOUGHT 1: {reason} <image>"
            assert (rec["answer"], rec["image"], rec["reasoning_image"]) == (
                plain["answer"], plain["image"], plain["reasoning_image"])  # fmt: skip
    text = pipeline.train(tmp_path / "a", s, "text", 0, files["text"])
    aux = pipeline.train(tmp_path / "a", s, "aux", 0, files["aux"])
    again = pipeline.train(tmp_path / "b", s, "aux", 0, files["aux"])
    assert _weights_hash(aux) == _weights_hash(again) != _weights_hash(text)
    with safe_open(aux / "model.safetensors", "pt") as f, safe_open(text / "model.safetensors", "pt") as g:
        names, text_names = set(f.keys()), set(g.keys())
    assert names == text_names and not any(k.startswith(AUX_HEAD) for k in names)
    config = json.loads((aux / "config.json").read_text())
    assert config["aux_latent_head"] is True and config["latent_lambda"] == s.latent_lambda
    history = json.loads((aux / "sft_summary.json").read_text())["history"]
    assert all(h["aux_loss"] > 0 and h.get("latent_tokens", 0) == 0 for h in history)  # supervised, nothing fed
    for arm in ("pause", "cot"):
        ckpt = pipeline.train(tmp_path / "a", s, arm, 0, files[arm])
        assert _weights_hash(ckpt) != _weights_hash(text) and ckpt.parent.name == s.tag(arm)


@pytest.mark.integration
def test_quick_mode_end_to_end_and_bit_reproducible(tmp_path, capsys):
    """The CI mode: every stage runs through the product (SFT, harness runs, report, paired comparisons); a second
    run from scratch in another folder gives the same weights, answers and numbers; a rerun resumes."""
    from future_l1.harness.cli import main

    first, second = tmp_path / "a", tmp_path / "b"
    assert main(["experiment", "latent-vs-text", "--quick", "--split", "test", "--out", str(first)]) == 0
    printed = capsys.readouterr().out
    assert "(a) latent SFT" in printed and "McNemar" in printed
    (report_dir,) = (first / "report").iterdir()
    result = json.loads((report_dir / "result.json").read_text())
    assert set(result["accuracy"]) == {*VARIANTS, "answer_prior"}
    n = result["settings"]["n_test"]
    assert all(a["n"] == n for a in result["accuracy"].values())
    # (c) is (a)'s checkpoint decoded with latent decoding off, (b) decodes text: only (a) and its uninformative-latent
    # arms feed vectors back (this once read `latent = variant != "text"`, so (c) silently repeated (a))
    checkpoints = {}
    for variant in VARIANTS:
        (suite,) = (first / "suites").glob(f"*-{variant}-s0.yaml")
        (model,) = yaml.safe_load(suite.read_text())["models"]
        assert model["args"]["latent"] is (variant in LATENT_DECODED), variant
        assert model["args"].get("latent_intervention") == {"latent_noise": "noise:1", "latent_mean": "mean", "latent_random": "random"}.get(
            variant)  # fmt: skip
        checkpoints[variant] = model["args"]["pretrained"]
    assert all(checkpoints[v] == checkpoints[CHECKPOINT[v]] for v in VARIANTS)
    assert len({checkpoints[v] for v in TRAINED}) == len(TRAINED)
    runs = result["runs"]
    pairs = {(c["model_a"], c["model_b"]) for c in result["comparisons"] if c["split"] == "all"}
    assert pairs == {(f"{v}_s0", "latent_s0") for v in VARIANTS if v != "latent"}
    assert set(result["seed_level"]) == {v for v in VARIANTS if v != "latent"}  # one seed: no interval
    assert all(d["ci"] is None and len(d["per_seed"]) == 1 for d in result["seed_level"].values())
    for c in result["comparisons"]:
        assert 0.0 <= c["p_value"] <= 1.0 and c["n_shared"] > 0
    assert (report_dir / "report.html").is_file() and (report_dir / "experiment.md").is_file()
    reading = result["probes"]["0"]["reading"]  # the probes ran on (a); test_probes.py
    assert reading["items"] > 0 and 0 <= reading["another_items_frame"] <= 1 and 0 <= reading["own_frame"] <= 1
    hidden = result["probes"]["0"]["future_in_hidden"]  # both arms probed before the span
    assert set(hidden) == {"latent", "text"} and all(len(h["r2_future_centre"]) > 1 for h in hidden.values())
    assert "swapping" in result["probes"]["0"]  # None here: 24 steps open no span (its test: test_probes.py)
    assert "Probes of (a)" in (report_dir / "experiment.md").read_text()
    assert "Where the future is before any latent" in (report_dir / "experiment.md").read_text()
    # (a) saved its latents, one file per item (24 steps are too few for it to open spans, so no map is asserted here;
    # tests/reports/test_latent_maps.py renders maps from the default demo run's saved latents)
    assert len(list((first / "latents").glob("*/futurebench_future_l1__*.npz"))) == n
    # each run directory holds one model, so `future-l1 report compare` works on any two of them
    assert main(["report", "compare", runs["text"]["0"], runs["latent"]["0"]]) == 0
    assert "McNemar" in capsys.readouterr().out

    # bit-reproducible: a second run from scratch gives the same checkpoints, answers and numbers
    assert main(["experiment", "latent-vs-text", "--quick", "--split", "test", "--out", str(second)]) == 0
    other = json.loads((second / "report" / report_dir.name / "result.json").read_text())
    assert other["accuracy"] == result["accuracy"] and other["comparisons"] == result["comparisons"]
    for ckpt in (first / "checkpoints").glob("*/*"):
        assert _weights_hash(ckpt) == _weights_hash(second / ckpt.relative_to(first))
    for variant, by_seed in runs.items():
        answers = [_answers(Path(run)) for run in (by_seed.get("0") or by_seed["-"], other["runs"][variant].get("0")
                                                   or other["runs"][variant]["-"])]  # fmt: skip
        assert answers[0] == answers[1] and answers[0]

    # resuming reuses every checkpoint and run: the same numbers again
    assert main(["experiment", "latent-vs-text", "--quick", "--split", "test", "--out", str(first)]) == 0
    again = json.loads((report_dir / "result.json").read_text())
    assert again["accuracy"] == result["accuracy"] and again["comparisons"] == result["comparisons"]


def _answers(run: Path) -> list[tuple]:
    """(doc id, raw answer) of every sample of a run directory."""
    lines = [json.loads(line) for f in sorted(run.glob("samples/*/*.jsonl")) for line in f.read_text().splitlines()]
    return sorted((str(d["doc_id"]), json.dumps(d["filtered_resps"])) for d in lines)


def test_cli_flags_bring_back_the_earlier_setup_under_other_checkpoint_names():
    import argparse

    from future_l1.harness.experiments.toy_vep import cli

    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    default = cli.settings_from_args(parser.parse_args(["experiment", "latent-vs-text"]))
    old = cli.settings_from_args(parser.parse_args(["experiment", "latent-vs-text", "--random-vision",
                                                    "--question-images", "--full-vocabulary", "--workers", "1"]))  # fmt: skip
    assert (default.toy_vision, default.question_video, default.toy_vocabulary) == (True, True, True)
    assert default == MODES["full"]
    assert (old.toy_vision, old.question_video, old.toy_vocabulary, old.sft_workers) == (False, False, False, 1)
    for variant in TRAINED:
        assert old.tag(variant) != default.tag(variant)  # never reuses a checkpoint of the other setup
    reference = cli.settings_from_args(parser.parse_args(["experiment", "latent-vs-text", "--reference-sft"]))
    assert default.fast_sft and reference == replace(default, fast_sft=False)
    assert all(reference.tag(arm) != default.tag(arm) for arm in TRAINED)
    arms = cli.settings_from_args(parser.parse_args(["experiment", "latent-vs-text", "--arms", "latent", "text"]))
    assert arms.arms == ("latent", "text") and arms.variants() == ("latent", "text", "latent_off", "latent_noise",
                                                                   "latent_mean", "latent_random")  # fmt: skip
    assert cli.TRAINED_ARMS == TRAINED


def test_the_toy_set_reaches_the_task_as_an_argument_not_through_the_environment(tmp_path, monkeypatch):
    """`evaluate` hands the evaluation set to the task explicitly (`tasks.settings.active_data`): a FutureBench folder
    in the environment neither wins nor is changed, and the run holds the toy items."""
    import os

    from future_l1.harness.experiments.toy_vep.task import build_eval_set

    monkeypatch.setenv("FUTURE_L1_FUTUREBENCH_DIR", str(tmp_path / "elsewhere"))  # no data there
    s = Settings(n_train=4, n_val=4, n_test=4, seeds=(0,), steps=1)
    eval_dir = build_eval_set(tmp_path / "val", "val", 4, progress=False)
    run = pipeline.evaluate(tmp_path, s, eval_dir, "prior", "prior", "answer_prior", {"strategy": "most_frequent"})
    assert os.environ["FUTURE_L1_FUTUREBENCH_DIR"] == str(tmp_path / "elsewhere")
    (samples,) = run.glob("samples/*/*.jsonl")
    lines = [json.loads(line) for line in samples.read_text().splitlines()]
    assert sorted(d["future_acc"]["id"] for d in lines) == [f"toy-val-{i:04d}" for i in range(4)]
    suite = yaml.safe_load((tmp_path / "suites" / "prior.yaml").read_text())
    assert suite["tasks"] == [{"name": "futurebench_future_l1", "gen_kwargs": {"max_new_tokens": 44}}]


def test_cache_names_are_unchanged_by_the_move():
    """Cached artefacts are found by name alone: these names (built when the experiment lived in harness/experiment.py,
    training/toy_vision.py and tasks/toy_vep.py) must not change unless what they name does."""
    from future_l1.harness.experiments.toy_vep.task import vocabulary_domain
    from future_l1.harness.experiments.toy_vep.vision import cache_name
    from future_l1.model.processor import domain_name

    encoder = "toy-vision-v2-s1000-b48-lr0.003-n4096-q16384-l4096-seed0"
    assert cache_name() == encoder
    assert domain_name(vocabulary_domain()) == "641f45865a2f"
    assert pipeline.base_checkpoint_name(0, 128 * 128) == f"toy-vep-base-seed0-px16384-domain-641f45865a2f-{encoder}"
    assert pipeline.base_checkpoint_name(1, 64, vision=False, toy_vocabulary=False) == "toy-vep-base-seed1-px64"
    quick, full = (replace(MODES[m], fast_sft=False) for m in ("quick", "full"))  # the SFT path they were made on
    assert quick.tag() == "v3-n96-st24-b4-lr0p01-vis2-qvid-voc641f45-lam0p1-L4-px16384"
    assert full.tag("text") == "v3-n1000-st1200-b16-lr0p003-vis2-qvid-voc641f45-px16384"  # tuned (b)
    assert full.tag() == "v3-n1000-st1200-b16-lr0p01-vis2-qvid-voc641f45-lam0p1-L4-px16384"
    # the default SFT path (`fast_sft`) rounds differently, so its checkpoints are others
    assert MODES["full"].tag() == "v3-n1000-st1200-b16-lr0p01-vis2-qvid-fs-voc641f45-lam0p1-L4-px16384"
    assert all(MODES["full"].tag(arm) == full.tag(arm).replace("-qvid-", "-qvid-fs-") for arm in TRAINED)
