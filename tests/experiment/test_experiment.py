"""`future-l1 experiment latent-vs-text`: the toy VEP task, its data in both schemas, determinism, and the quick mode
end to end (data → SFT → harness → report), as CI runs it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from future_l1.tasks import toy_vep


def test_items_are_deterministic_unambiguous_and_answer_from_the_future_frame():
    for split in ("train", "val", "test"):
        for i in range(20):
            item = toy_vep.make_item(split, i)
            again = toy_vep.make_item(split, i)
            assert item.seed == again.seed and np.array_equal(item.frames, again.frames)
            x, y = item.positions[toy_vep.TARGET]
            assert min(abs(x - 32), abs(y - 32)) >= toy_vep.MARGIN
            assert item.answer == "ABCD"[toy_vep.quadrant(x, y)] == "ABCD"[i % 4]
            # the answer is visible in the future frame: the ball's pixels lie in the answer's quadrant
            ys, xs = np.nonzero(item.frames[toy_vep.TARGET].sum(-1) > 3 * 200)
            assert toy_vep.quadrant(float(xs.mean()), float(ys.mean())) == "ABCD".index(item.answer)
            # straight flight up to the asked frame: equal steps, no wall touched
            steps = np.diff(item.positions[: toy_vep.TARGET + 1], axis=0)
            assert np.allclose(steps, steps[0], atol=1e-9)
            inside = item.positions[: toy_vep.TARGET + 1]
            assert inside.min() > toy_vep.RADIUS and inside.max() < toy_vep.SIZE - toy_vep.RADIUS
    seeds = {s: {toy_vep.make_item(s, i).seed for i in range(50)} for s in ("train", "val", "test")}
    assert not seeds["train"] & seeds["val"] and not seeds["train"] & seeds["test"] and not seeds["val"] & seeds["test"]


def test_answers_need_the_dynamics():
    """The ball always leaves the quadrant of the last snapshot; every option is equally common."""
    items = [toy_vep.make_item("val", i) for i in range(200)]
    last = [toy_vep.quadrant(*it.positions[toy_vep.OBSERVED[-1]]) for it in items]
    assert all(q != "ABCD".index(it.answer) for q, it in zip(last, items, strict=True))
    splits = [it.split for it in items]
    assert set(splits) == {"hop1", "hop2"} and splits.count("hop2") > 0.05 * len(items)
    letters = [it.answer for it in items]
    assert all(letters.count(c) == 50 for c in "ABCD")


def test_eval_set_is_futurebench_and_training_records_are_future_l1_50k(tmp_path):
    from future_l1.tasks.futurebench.data import load_futurebench
    from future_l1.training.data import load_records
    from future_l1.training.frames import FrameCache
    from future_l1.training.toy_data import build_train_set

    eval_dir = toy_vep.build_eval_set(tmp_path / "val", "val", 6, progress=False)
    docs = load_futurebench(eval_dir)
    assert len(docs) == 6 and set(docs["question_type"]) <= {"hop1", "hop2"}
    assert docs[0]["qa"]["Options"] == dict(toy_vep.OPTIONS)
    from future_l1.model.inputs import read_video

    frames, _ = read_video(docs[0]["video"])
    item = toy_vep.make_item("val", 0)
    assert frames.shape[0] == 2  # the two snapshots as consecutive frames: one Qwen3-VL temporal patch
    for got, frame in zip(frames, toy_vep.OBSERVED, strict=True):
        assert np.abs(got.astype(int) - item.frames[frame]).max() <= 2  # lossless up to YUV

    train = build_train_set(tmp_path / "train", 4, progress=False)
    loaded = load_records(train)
    assert not loaded.bad and len(loaded.records) == 4
    rec = loaded.records[0]
    q, r = rec.load_frames(FrameCache())
    item = toy_vep.make_item("train", 0)
    assert len(q) == 2 and len(r) == 1 and rec.answer == item.answer
    assert np.abs(r[0].astype(int) - item.frames[toy_vep.TARGET]).max() <= 2  # the reasoning frame = the answer frame
    assert rec.thoughts == [toy_vep.REASON, ""]
    # the training prompt is the evaluation prompt (futurebench_future_l1 doc_to_text) exactly: the SFT loader keeps
    # the whitespace around <image> markers (a documented deviation), so train and evaluation layouts agree
    from future_l1.tasks.futurebench.scoring import doc_to_text
    from future_l1.tasks.prompts import FUTUREBENCH_FUTURE_L1_POST_PROMPT

    text = doc_to_text(docs[0], {"pre_prompt": "", "post_prompt": FUTUREBENCH_FUTURE_L1_POST_PROMPT})
    assert rec.question == "<image><image>" + text


def test_the_toy_vocabulary_segments_sft_and_evaluation_inputs_as_the_full_one(tmp_path):
    """The experiment's tiny model has a vocabulary pruned to `toy_vep.vocabulary_domain()`. Every token of a real
    SFT input (both arms) and of a real evaluation prompt must be the token the full Qwen vocabulary gives."""
    from future_l1.model.inputs import collate, prepare_sample
    from future_l1.model.processor import build_processor
    from future_l1.model.tokens import LatentIds
    from future_l1.tasks.futurebench.data import load_futurebench
    from future_l1.tasks.futurebench.scoring import doc_to_messages
    from future_l1.tasks.prompts import FUTUREBENCH_FUTURE_L1_POST_PROMPT
    from future_l1.training.config import load_config
    from future_l1.training.data import load_records
    from future_l1.training.frames import FrameCache
    from future_l1.training.latent_batch import LatentEncoder
    from future_l1.training.toy_data import build_train_set

    full, toy = build_processor(), build_processor(domain=toy_vep.vocabulary_domain())
    assert len(toy.tokenizer) < len(full.tokenizer) // 100

    def tokens(processor, ids) -> list[str]:
        return processor.tokenizer.convert_ids_to_tokens(ids.tolist())

    (record,) = load_records(build_train_set(tmp_path / "train", 1, progress=False)).records
    question, reasoning = record.load_frames(FrameCache())
    system = load_config(None, output_dir=str(tmp_path / "out")).resolved_system_prompt()  # SFT's default
    assert system
    for text_only in (False, True):
        got = [LatentEncoder(p, LatentIds.from_tokenizer(p.tokenizer), text_only=text_only, system_prompt=system,
                             question_video_fps=toy_vep.FPS).encode(record, question, reasoning)
               for p in (full, toy)]  # fmt: skip
        assert tokens(full, got[0]["input_ids"]) == tokens(toy, got[1]["input_ids"])
        assert got[0]["labels"].ne(-100).sum() == got[1]["labels"].ne(-100).sum() > 0

    (doc,) = load_futurebench(toy_vep.build_eval_set(tmp_path / "val", "val", 1, progress=False))
    messages = doc_to_messages(doc, {"pre_prompt": "", "post_prompt": FUTUREBENCH_FUTURE_L1_POST_PROMPT})
    assert messages[0]["role"] == "system"
    full_ids, toy_ids = (collate(p, [prepare_sample(p, messages)])["input_ids"][0] for p in (full, toy))
    assert tokens(full, full_ids) == tokens(toy, toy_ids)
    assert "<|video_pad|>" in tokens(toy, toy_ids) and "seconds" in toy.tokenizer.decode(toy_ids)


def _weights_hash(ckpt: Path) -> str:
    return hashlib.sha256((ckpt / "model.safetensors").read_bytes()).hexdigest()


@pytest.mark.integration
def test_sft_is_bit_reproducible_and_the_variants_differ(tmp_path):
    from future_l1.harness import experiment as exp

    s = exp.Settings(n_train=8, n_val=4, n_test=4, seeds=(0,), steps=2, batch_size=2)
    train_file, _ = exp.prepare_data(tmp_path / "a", s, "val")
    first = exp.train(tmp_path / "a", s, "latent", 0, train_file)
    second = exp.train(tmp_path / "b", s, "latent", 0, train_file)
    text = exp.train(tmp_path / "a", s, "text", 0, train_file)
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
    from dataclasses import replace

    from future_l1.harness import experiment as exp

    s = exp.Settings(n_train=8, n_val=4, n_test=4, seeds=(0,), steps=2, batch_size=2, sft_workers=2)
    train_file, _ = exp.prepare_data(tmp_path / "a", s, "val")
    parallel = exp.train_all(tmp_path / "a", s, train_file)
    serial = exp.train_all(tmp_path / "b", replace(s, sft_workers=1), train_file)
    assert set(parallel[0]) == {"latent", "text"}
    for variant in ("latent", "text"):
        assert _weights_hash(parallel[0][variant]) == _weights_hash(serial[0][variant])


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
    assert set(result["accuracy"]) == {"latent", "text", "latent_off", "answer_prior"}
    n = result["settings"]["n_test"]
    assert all(a["n"] == n for a in result["accuracy"].values())
    # (c) is (a)'s checkpoint decoded with latent decoding off, (b) decodes text: only (a) feeds hidden states back
    # (this once read `latent = variant != "text"`, so (c) silently repeated (a))
    for variant, latent in (("latent", True), ("latent_off", False), ("text", False)):
        (suite,) = (first / "suites").glob(f"*-{variant}-s0.yaml")
        (model,) = yaml.safe_load(suite.read_text())["models"]
        assert model["args"]["latent"] is latent, variant
    runs = result["runs"]
    pairs = {(c["model_a"], c["model_b"]) for c in result["comparisons"] if c["split"] == "all"}
    assert pairs == {("text_s0", "latent_s0"), ("latent_off_s0", "latent_s0")}
    for c in result["comparisons"]:
        assert 0.0 <= c["p_value"] <= 1.0 and c["n_shared"] > 0
    assert (report_dir / "report.html").is_file() and (report_dir / "experiment.md").is_file()
    reading = result["probes"]["0"]["reading"]  # harness.imagination ran on (a); tests/experiment/test_imagination.py
    assert reading["items"] > 0 and 0 <= reading["another_items_frame"] <= 1 and 0 <= reading["own_frame"] <= 1
    hidden = result["probes"]["0"]["future_in_hidden"]  # both arms probed before the span
    assert set(hidden) == {"latent", "text"} and all(len(h["r2_future_centre"]) > 1 for h in hidden.values())
    assert "swapping" in result["probes"]["0"]  # None here: 24 steps open no span (its test: test_imagination.py)
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

    from future_l1.harness import experiment as exp

    parser = argparse.ArgumentParser()
    exp.register(parser.add_subparsers())
    default = exp.settings_from_args(parser.parse_args(["experiment", "latent-vs-text"]))
    old = exp.settings_from_args(parser.parse_args(["experiment", "latent-vs-text", "--random-vision",
                                                    "--question-images", "--full-vocabulary", "--workers", "1"]))  # fmt: skip
    assert (default.toy_vision, default.question_video, default.toy_vocabulary) == (True, True, True)
    assert default == exp.MODES["full"]
    assert (old.toy_vision, old.question_video, old.toy_vocabulary, old.sft_workers) == (False, False, False, 1)
    for variant in ("latent", "text"):
        assert old.tag(variant) != default.tag(variant)  # never reuses a checkpoint of the other setup
