"""Demo benchmark sets in the real FutureBench / TwiFF-Bench schemas, built from procedural scenes.

Both are generated deterministically on first use (`cached_dir`) and are small enough for CPU tests:
- FutureBench demo: 24 four-option questions, 6 per split (hop1, hop2, hop3, hop5 = interp), each with a 64x64 H.264
  observed-prefix clip (the first 16 frames of a 48-frame simulation) under `first_part_video/`, and NEP's record
  layout in `futurebench.json`. Answers follow from the simulated event timeline: hopK asks for the next K events in
  order; interp gives the later end anchor in words and asks for the events in between. The gold letter is balanced
  and deterministic (`gold_letter`: exactly 6 of 24 per letter), so a video-blind constant answer scores 25%.
- TwiFF-Bench demo: 12 rows in 4 parquet shards, with question images (`<image>` placeholders, "frame_i" labels),
  reasoning images and a reference chain (`<rimage>` placeholders, `<ans>final</ans>`), as in the real release.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from future_l1.model.cache import cached_dir
from future_l1.model.keyframes import keyframe_pool
from future_l1.tasks.future_frames import FUTURE_DIR
from future_l1.tasks.results_schema import FUTUREBENCH_SPLIT_NAMES
from future_l1.tasks.scenes import KINDS, WALLS, Event, simulate, write_video

FUTUREBENCH_DEMO = "demo_data/futurebench_v3"  # v2: balanced gold letters; v3: lossless, reproducible video
TWIFFBENCH_DEMO = "demo_data/twiffbench_v2"  # v2: frames from lossless, reproducible video
FB_ITEMS, FB_FRAMES, FB_CUT, SIZE = 24, 48, 16, 64
TWIFF_ITEMS, TWIFF_FRAMES = 12, 32
FB_SPLITS = tuple(FUTUREBENCH_SPLIT_NAMES)  # the data's question_type values
FUTURE_CLIPS = "keyframes-v2"  # the future clips' version (v1: the frame after each event; v2: SFT's keyframe)


def futurebench_demo_dir() -> Path:
    out = cached_dir(FUTUREBENCH_DEMO, build_futurebench_demo)
    marker = out / FUTURE_DIR / ".complete"
    if not marker.exists() or marker.read_text().strip() != FUTURE_CLIPS:  # cached before these clips: (re)write them
        _write_future_clips(out)
    return out


def twiffbench_demo_dir() -> Path:
    return cached_dir(TWIFFBENCH_DEMO, build_twiffbench_demo)


def _sentence(text: str) -> str:
    return text[0].upper() + text[1:]


def _chain(events: list[Event]) -> str:
    return _sentence(", then ".join(e.describe() for e in events)) + "."


def _fake(event: Event, colours: list[str], rng: np.random.Generator) -> Event:
    """A plausible event that did not happen: another wall, or another ball."""
    if event.kind == "wall":
        return Event(event.frame, "wall", event.balls, str(rng.choice([w for w in WALLS if w != event.where])))
    others = [c for c in colours if c not in event.balls]
    if event.kind == "collision" or not others:
        return Event(event.frame, "wall", (event.balls[0],), str(rng.choice(WALLS)))
    return Event(event.frame, "floor", (str(rng.choice(others)),), "bottom")


def gold_letter(index: int) -> str:
    """The correct option of item `index`: rotates through A-D and shifts by one every 4 items, so that each letter is
    gold exactly 6 times in 24 items and no split (items cycle through the 4 splits) always has the same letter."""
    return "ABCD"[(index + index // 4) % 4]


def _options(truth: list[Event], past: list[Event], colours: list[str], rng, gold: str) -> tuple[dict[str, str], str]:
    correct = _chain(truth)
    pool = []
    if len(truth) > 1:
        pool.append(_chain(truth[::-1]))
    for _ in range(12):
        fake = list(truth)
        k = int(rng.integers(len(fake)))
        fake[k] = _fake(fake[k], colours, rng)
        pool.append(_chain(fake))
    if past:
        pool.append(_chain(past[-len(truth) :]))
    distractors = list(dict.fromkeys(p for p in pool if p != correct))[:3]
    if len(distractors) < 3:
        raise ValueError("not enough distinct distractors")
    shuffled = [distractors[i] for i in rng.permutation(3)]
    shuffled.insert("ABCD".index(gold), correct)
    return dict(zip("ABCD", shuffled, strict=True)), gold


def multiple_choice(sim, split: str, gold: str, rng: np.random.Generator) -> dict:
    """A FutureBench-style question about `sim` seen up to frame `FB_CUT`: {"Question", "Options", "Answer"}.

    `gold` is the letter the correct option goes to. Raises `ValueError` when the scene has too few future events for
    `split` or too few distinct distractors. Also used by the training demo set (`future_l1.training.demo_data`)."""
    future = sim.events_between(FB_CUT, len(sim.frames))
    need = 3 if split == "hop5" else int(split[-1])
    if len(future) < need:
        raise ValueError(f"{split} needs {need} events after frame {FB_CUT}, the scene has {len(future)}")
    colours = [b.colour for b in sim.balls]
    past = sim.events_between(0, FB_CUT)
    if split == "hop5":
        truth, anchor = future[:2], future[2]
        question = (
            f"The video shows the beginning of a scene. Later, {anchor.describe()}. "
            "Which events happen in between, in order?"
        )
    else:
        truth = future[:need]
        question = (
            "What happens next after the video ends?"
            if need == 1
            else f"What are the next {need} events after the video ends, in order?"
        )
    options, answer = _options(truth, past, colours, rng, gold)
    return {"Question": question, "Options": options, "Answer": answer}


def answer_events(sim, split: str) -> list[Event]:
    """The future events the correct option of a `multiple_choice` question names, in order."""
    future = sim.events_between(FB_CUT, len(sim.frames))
    return future[:2] if split == "hop5" else future[: int(split[-1])]


def _future_frames(sim, split: str) -> np.ndarray:
    """The true future frames of a demo question, one per answer event: the first keyframe-pool frame at or after the
    event and after the observed part, the frame the demo SFT records align a latent span with (their reasoning
    image, `training.demo_data`); the last pool frame when none is."""
    pool = keyframe_pool(len(sim.frames))
    picks = [next((f for f in pool if f >= max(e.frame, FB_CUT)), pool[-1]) for e in answer_events(sim, split)]
    return np.stack([sim.frames[f] for f in picks])


def _futurebench_item(index: int, split: str) -> tuple[dict, np.ndarray, np.ndarray]:
    """(record, observed prefix, true future frames) of demo item `index`."""
    seed = 1000 * (index + 1)
    while True:
        seed += 1
        sim = simulate(KINDS[seed % 3], seed, n_frames=FB_FRAMES, size=SIZE)
        try:
            qa = multiple_choice(sim, split, gold_letter(index), np.random.default_rng(seed))
        except ValueError:
            continue
        record = {
            "id": f"demo-fb-{index:03d}",
            "video_path": f"video_dataset/fb_{index:03d}.mp4",
            "question_type": split,
            "qa": qa,
        }
        return record, sim.frames[:FB_CUT], _future_frames(sim, split)


def build_futurebench_demo(out: Path) -> None:
    records = []
    for i in range(FB_ITEMS):
        record, prefix, _ = _futurebench_item(i, FB_SPLITS[i % 4])
        write_video(prefix, out / "first_part_video" / f"fb_{i:03d}.mp4", fps=8.0)
        records.append(record)
    (out / "futurebench.json").write_text(json.dumps(records, indent=1))
    _write_future_clips(out)


def _write_future_clips(out: Path) -> None:
    """`future_part_video/fb_NNN.mp4`: each item's true future frames (`tasks.future_frames`), for the latent
    diagnostics. Not part of the documents, so adding them to a cached set changes no run identity. Written to a
    sibling folder and renamed, so a concurrent or killed writer leaves no half-written folder behind."""
    import shutil
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix=f".{FUTURE_DIR}.", dir=out))
    try:
        for i in range(FB_ITEMS):
            _, _, future = _futurebench_item(i, FB_SPLITS[i % 4])
            write_video(future, tmp / f"fb_{i:03d}.mp4", fps=8.0)
        (tmp / ".complete").write_text(FUTURE_CLIPS + "\n")
        shutil.rmtree(out / FUTURE_DIR, ignore_errors=True)
        try:
            tmp.rename(out / FUTURE_DIR)
        except OSError:  # another process won the race; its clips are the same
            marker = out / FUTURE_DIR / ".complete"
            if not marker.exists() or marker.read_text().strip() != FUTURE_CLIPS:
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _png(frame: np.ndarray) -> dict:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="PNG")
    return {"bytes": buf.getvalue(), "path": None}


def twiff_features():
    import datasets

    return datasets.Features(
        {
            "video": datasets.Value("string"),
            "question": datasets.Value("string"),
            "answer": datasets.Value("string"),
            "question_images": datasets.Sequence(datasets.Image()),
            "reasoning_images": datasets.Sequence(datasets.Image()),
            "question_images_index": datasets.Sequence(datasets.Value("int64")),
            "reasoning_images_index": datasets.Sequence(datasets.Value("int64")),
            "meta_data": {"classification": datasets.Value("string")},
        }
    )


def _twiff_row(index: int) -> dict:
    seed = 5000 + 17 * index
    while True:
        seed += 1
        sim = simulate(KINDS[seed % 3], seed, n_frames=TWIFF_FRAMES, size=SIZE)
        q_frames = [0, 4, 8]
        future = sim.events_between(9, TWIFF_FRAMES)
        if len(future) >= 2:
            break
    steps = future[:2]
    r_frames = [min(e.frame + 1, TWIFF_FRAMES - 1) for e in steps]
    question = "".join(f"frame_{k + 1}: <image>\n" for k in range(len(q_frames)))
    question += "These frames come from the start of a video of moving balls. What happens next in the scene?"
    thoughts = " ".join(f"THOUGHT {k + 1}: Following the motion, {e.describe()}. <rimage>" for k, e in enumerate(steps))
    final = _sentence(steps[0].describe()) + "."
    return {
        "video": f"demo/twiff_{index:03d}.mp4",
        "question": question,
        "answer": f"{thoughts} <ans>{final}</ans>",
        "question_images": [_png(sim.frames[f]) for f in q_frames],
        "reasoning_images": [_png(sim.frames[f]) for f in r_frames],
        "question_images_index": [f + 1 for f in q_frames],
        "reasoning_images_index": [f + 1 for f in r_frames],
        "meta_data": {"classification": ("predictive", "physical")[index % 2]},
    }


def build_twiffbench_demo(out: Path) -> None:
    import datasets

    rows = [_twiff_row(i) for i in range(TWIFF_ITEMS)]
    per_shard = TWIFF_ITEMS // 4
    for shard in range(4):
        part = rows[shard * per_shard : (shard + 1) * per_shard]
        ds = datasets.Dataset.from_list(part, features=twiff_features())
        ds.to_parquet(str(out / f"test-{shard:05d}-of-00004.parquet"))
