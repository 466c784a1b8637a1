"""The latent diagnostic against the true future frame (issue 29): with the tiny model and the demo sets, the
similarity is the cosine with SFT's own latent target, absent where a set has no future frames, and a sample whose
future clip is missing or broken is counted while the others are still scored."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from future_l1.reports.latent_diagnostics import (
    FUTURE_ERRORS,
    diagnostics,
    diagnostics_markdown,
    future_frame_targets,
)

TASK = "futurebench_future_l1"
L_MAX = 4  # the tiny model's latent budget: a 64x64 frame gives 4 merged tokens


@pytest.fixture(scope="module")
def tiny(tiny_ckpt):
    from transformers import AutoProcessor, Qwen3VLForConditionalGeneration

    return Qwen3VLForConditionalGeneration.from_pretrained(tiny_ckpt).eval(), AutoProcessor.from_pretrained(tiny_ckpt)


@pytest.fixture(scope="module")
def demo_dir():
    from future_l1.tasks.demo_benchmarks import futurebench_demo_dir

    return futurebench_demo_dir()


def docs_of(data_dir):
    from future_l1.tasks.futurebench.data import load_futurebench

    return load_futurebench(data_dir)


def targets_for(tiny, docs):
    from future_l1.tasks.future_frames import future_frames_of

    model, processor = tiny
    return future_frame_targets(model, processor, L_MAX, future_frames_of(docs))


def hand_target(tiny, clip) -> np.ndarray:
    """The first future frame's merged vision tokens, computed here the long way (frame read from the clip, resized
    as latent SFT resizes reasoning frames for L_max = 4, through the vision tower + merger)."""
    from future_l1.model.inputs import read_frames

    model, processor = tiny
    frames, *_ = read_frames(clip, lambda n: [0])
    enc = processor.image_processor(images=[frames[0]], size={"shortest_edge": 2048, "longest_edge": 4096},
                                    return_tensors="pt")  # fmt: skip
    with torch.no_grad():
        out = model.model.get_image_features(enc["pixel_values"], enc["image_grid_thw"]).pooler_output[0]
    return out.double().numpy()


def save(folder, doc: int, split: str, latents, spans) -> np.ndarray:
    """An adapter-layout file; returns the latents as stored (float16, as the adapter stores them)."""
    folder.mkdir(parents=True, exist_ok=True)
    stored = np.asarray(latents, dtype=np.float16)
    np.savez(folder / f"{TASK}__{split}__{doc}__rank0.npz", latents=stored, span_lengths=np.asarray(spans, np.int32))
    return stored.astype(np.float64)


def cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_future_frame_embedding_is_the_sft_latent_target(tiny):
    """`future_frame_embeddings` gives exactly what latent SFT scatters at the `<|latent|>` positions of a demo
    training record, so the diagnostic scores latents against their training target."""
    from future_l1.model.tokens import LatentIds
    from future_l1.training.data import load_records
    from future_l1.training.demo_data import demo_train_file
    from future_l1.training.frames import FrameCache
    from future_l1.training.latent_batch import LatentEncoder, collate
    from future_l1.training.latent_loss import future_frame_embeddings, latent_inputs_embeds

    model, processor = tiny
    record = load_records(demo_train_file()).records[0]
    question, reasoning = record.load_frames(FrameCache())
    encoder = LatentEncoder(processor, LatentIds.from_tokenizer(processor.tokenizer), max_latent_token=L_MAX)
    batch = collate([encoder.encode(record, question, reasoning)], processor.tokenizer.pad_token_id)
    with torch.no_grad():
        fed = latent_inputs_embeds(model, batch)[batch["latent_mask"]]
    got = torch.cat(future_frame_embeddings(model, processor, reasoning, L_MAX))
    assert got.shape == fed.shape and torch.equal(got, fed)


def test_cosine_with_the_true_future_frame_of_planted_latents(tiny, demo_dir, tmp_path):
    docs = docs_of(demo_dir)
    assert [docs[i]["question_type"] for i in range(3)] == ["hop1", "hop2", "hop3"]
    target = hand_target(tiny, demo_dir / "future_part_video" / "fb_000.mp4")
    other = np.random.default_rng(0).normal(size=target.shape[-1])
    # doc 0 (hop1): one span of 4 steps: the target's token 0, minus token 1, a random vector, token 3 + that vector
    planted = save(tmp_path, 0, "hop1", [target[0], -target[1], other, target[3] + other], [4])
    expected0 = [cos(planted[k], target[k]) for k in range(4)]
    assert expected0[0] == pytest.approx(1, abs=1e-3) and expected0[1] == pytest.approx(-1, abs=1e-3)
    # doc 1 (hop2): a span of 6 steps against a 4-token frame: only the 4 steps both have are scored
    target1 = hand_target(tiny, demo_dir / "future_part_video" / "fb_001.mp4")
    planted1 = save(tmp_path, 1, "hop2", [*target1, other, other], [6])
    expected1 = [cos(planted1[k], target1[k]) for k in range(4)]
    save(tmp_path, 2, "hop3", np.zeros((0, target.shape[-1])), [])  # no span: nothing to score, no error

    d = diagnostics(tmp_path, TASK, {0: "hop1", 1: "hop2", 2: "hop3"}, targets_for(tiny, docs))
    assert d["hop1"]["cos_future_frame"] == pytest.approx(np.mean(expected0), abs=1e-4)
    assert d["hop2"]["cos_future_frame"] == pytest.approx(np.mean(expected1), abs=1e-4)
    assert d["all"]["cos_future_frame"] == pytest.approx(np.mean(expected0 + expected1), abs=1e-4)
    assert "cos_future_frame" not in d["hop3"] and all(FUTURE_ERRORS not in row for row in d.values())
    text = diagnostics_markdown([("m", TASK, d)])
    assert "cos(latent, true future frame)" in text
    assert f"{d['hop1']['cos_future_frame']:.3g} |" in text and "| m | futurebench_future_l1 | hop3 |" in text


def test_absent_without_future_frames(tiny, demo_dir, tmp_path):
    """A set without future clips (NEP's FutureBench layout) has no value: absent in the results, "n/a" in the
    table, never 0."""
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(demo_dir / "futurebench.json", bare)
    shutil.copytree(demo_dir / "first_part_video", bare / "first_part_video")
    latents = tmp_path / "latents"
    save(latents, 0, "hop1", np.ones((4, 64)), [4])
    for future in (targets_for(tiny, docs_of(bare)), None):
        d = diagnostics(latents, TASK, None, future)
        assert d["all"]["samples"] == 1 and "latent_norm" in d["all"]
        assert all("cos_future_frame" not in row and FUTURE_ERRORS not in row for row in d.values())
        row = next(line for line in diagnostics_markdown([("m", TASK, d)]).splitlines() if "| all |" in line)
        assert row.endswith("| n/a |")


def test_missing_or_corrupt_future_clip_is_counted_and_the_rest_scored(tiny, demo_dir, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(demo_dir, data)
    (data / "future_part_video" / "fb_001.mp4").unlink()
    (data / "future_part_video" / "fb_002.mp4").write_bytes(b"not a video")
    latents = tmp_path / "latents"
    for doc, split in enumerate(("hop1", "hop2", "hop3")):
        save(latents, doc, split, np.ones((4, 64)), [4])
    d = diagnostics(latents, TASK, None, targets_for(tiny, docs_of(data)))
    assert d["all"][FUTURE_ERRORS] == 2 and d["hop2"][FUTURE_ERRORS] == 1 and d["hop3"][FUTURE_ERRORS] == 1
    assert FUTURE_ERRORS not in d["hop1"] and -1 <= d["hop1"]["cos_future_frame"] <= 1
    assert d["all"]["cos_future_frame"] == d["hop1"]["cos_future_frame"]  # only doc 0 could be scored
    assert "cos_future_frame" not in d["hop2"] and d["all"]["samples"] == 3
    text = diagnostics_markdown([("m", TASK, d)])
    assert "(2 unreadable)" in text and "n/a (1 unreadable)" in text


def test_demo_sets_carry_one_future_frame_per_answer_event(demo_dir):
    """The FutureBench demo's future clips hold one frame per event of the correct option (hopK: K, interp: the 2
    between the anchors), TwiFF-Bench rows their reasoning images; a row without them has none."""
    from future_l1.tasks.demo_benchmarks import twiffbench_demo_dir
    from future_l1.tasks.future_frames import doc_future_frames, future_frames_of
    from future_l1.tasks.twiffbench.data import load_twiffbench

    frames_of = future_frames_of(docs_of(demo_dir))
    want = {"hop1": 1, "hop2": 2, "hop3": 3, "hop5": 2}
    docs = docs_of(demo_dir)
    for i in range(4):
        got = frames_of(i)
        assert len(got) == want[docs[i]["question_type"]] and got[0].shape == (64, 64, 3) and got[0].dtype == np.uint8
    twiff = load_twiffbench(twiffbench_demo_dir())
    got = future_frames_of(twiff)(0)
    assert len(got) == len(twiff[0]["reasoning_images"]) == 2 and got[0].shape == (64, 64, 3)
    assert doc_future_frames({**twiff[0], "reasoning_images": []}) is None
    with pytest.raises(OSError):  # a corrupt image fails its sample (the diagnostic counts it), not the loading
        doc_future_frames({**twiff[0], "reasoning_images": [{"bytes": b"not a png", "path": None}]})
    assert future_frames_of(None) is None
    with pytest.raises(IndexError):
        frames_of(len(docs))


@pytest.mark.integration
def test_results_and_report_of_a_run_carry_the_future_frame_similarity(tmp_path):
    """The demo model through the harness on the FutureBench demo set: results.json has the similarity per split,
    computed by the runner with the evaluated model's own encoder, and the run's report shows it."""
    import json

    import yaml

    from future_l1.harness.runner import Runner
    from future_l1.harness.suite import load_suite, validated_and_resolved
    from future_l1.reports.render import render_run

    suite = {
        "name": "future-frames",
        "models": [{"label": "tiny", "model": "future_l1",
                    "args": {"pretrained": "demo://future-l1-tiny", "save_latents": "run://latents/tiny"}}],
        "tasks": [{"name": TASK, "limit": 4, "gen_kwargs": {"max_new_tokens": 64}}],
    }  # fmt: skip
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite))
    suite = load_suite(path)
    outcome = Runner(suite, tmp_path / "runs", resolved=validated_and_resolved(suite)).execute()
    assert not outcome.failures
    results = json.loads((outcome.run_dir / "results" / "tiny" / f"{TASK}.json").read_text())
    diag = results["latent_diagnostics"]
    assert diag["all"]["span_length"] > 0  # the demo model opens spans, so there is something to score
    assert -1 <= diag["all"]["cos_future_frame"] <= 1 and FUTURE_ERRORS not in diag["all"]
    assert set(diag) >= {"all", "hop1"}
    assert all("cos_future_frame" in row for row in diag.values() if "span_length" in row)  # every span is scored
    markdown = render_run(outcome.run_dir)
    row = next(line for line in markdown.splitlines() if line.startswith("| tiny | futurebench_future_l1 | all |"))
    assert row.endswith(f"| {diag['all']['cos_future_frame']:.3g} |")


def test_demo_future_frames_are_the_keyframes_sft_aligns_with():
    """Each answer event's future frame is the keyframe the demo SFT records would align a latent span with: the
    first pool frame after the question's frames that shows the event (`training.demo_data._reasoning_slot`)."""
    from future_l1.tasks import demo_benchmarks as demo
    from future_l1.tasks.scenes import simulate
    from future_l1.training.demo_data import MC_QUESTION_SLOTS, _reasoning_slot
    from future_l1.training.frames import keyframe_pool

    pool = keyframe_pool(demo.FB_FRAMES)
    checked = 0
    for seed in range(40):
        sim = simulate(demo.KINDS[seed % 3], seed, n_frames=demo.FB_FRAMES, size=demo.SIZE)
        for split in demo.FB_SPLITS:
            events = demo.answer_events(sim, split)
            if not events:
                continue
            frames = demo._future_frames(sim, split)
            for event, frame in zip(events, frames, strict=True):
                slot = _reasoning_slot(pool, MC_QUESTION_SLOTS, event.frame)
                assert np.array_equal(frame, sim.frames[pool[slot - 1]])
                checked += 1
    assert checked > 50


def test_future_clips_of_an_older_version_are_rewritten(demo_dir, tmp_path, monkeypatch):
    from future_l1.tasks import demo_benchmarks as demo

    copy = tmp_path / "fb"
    shutil.copytree(demo_dir, copy)
    marker = copy / "future_part_video" / ".complete"
    assert marker.read_text().strip() == demo.FUTURE_CLIPS
    marker.write_text("ok\n")  # as the first version wrote it: the frame after each event
    (copy / "future_part_video" / "fb_000.mp4").write_bytes(b"stale")
    monkeypatch.setattr(demo, "cached_dir", lambda name, build: copy)
    assert demo.futurebench_demo_dir() == copy
    assert marker.read_text().strip() == demo.FUTURE_CLIPS
    assert (copy / "future_part_video" / "fb_000.mp4").read_bytes() == (
        demo_dir / "future_part_video" / "fb_000.mp4"
    ).read_bytes()
