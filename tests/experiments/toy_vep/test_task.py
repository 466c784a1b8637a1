"""The toy VEP task (`toy_vep.task`, `toy_vep.data`): deterministic, unambiguous items whose answer needs the
dynamics, its evaluation set in the FutureBench schema and its training records in the Future-L1-50K one, and the
toy vocabulary that segments real SFT and evaluation inputs as the full one does."""

from __future__ import annotations

import numpy as np

from future_l1.harness.experiments.toy_vep import task as toy_vep


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
    from future_l1.harness.experiments.toy_vep.data import build_train_set
    from future_l1.tasks.futurebench.data import load_futurebench
    from future_l1.training.data import load_records
    from future_l1.training.frames import FrameCache

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
    from future_l1.harness.experiments.toy_vep.data import build_train_set
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


def test_eval_set_carries_the_true_future_frame_for_the_latent_diagnostics(tmp_path):
    """Each evaluation item's future clip holds frame TARGET, the frame SFT aligns the latents with; a set built
    before the clips existed gets them from `prepare_data` without any change to its documents or clips."""
    import shutil

    from future_l1.harness.experiments.toy_vep import pipeline
    from future_l1.harness.experiments.toy_vep.settings import Settings
    from future_l1.tasks.future_frames import FUTURE_DIR, future_frames_of
    from future_l1.tasks.futurebench.data import load_futurebench

    s = Settings(n_train=2, n_val=3, n_test=3, seeds=(0,), steps=1)
    _, eval_dir = pipeline.prepare_data(tmp_path, s, "val")
    frames_of = future_frames_of(load_futurebench(eval_dir))
    for i in range(3):
        (got,) = frames_of(i)
        assert np.abs(got.astype(int) - toy_vep.make_item("val", i).frames[toy_vep.TARGET]).max() <= 2  # up to YUV
    before = {p.relative_to(eval_dir): p.read_bytes() for p in eval_dir.rglob("*") if p.is_file()}
    shutil.rmtree(eval_dir / FUTURE_DIR)  # as a set built by the previous code
    pipeline.prepare_data(tmp_path, s, "val")
    after = {p.relative_to(eval_dir): p.read_bytes() for p in eval_dir.rglob("*") if p.is_file()}
    assert after == before
