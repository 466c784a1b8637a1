"""A small deterministic Future-L1-50K-style training set built from procedural scenes (`future_l1.tasks.scenes`).

Every record is a Format A record (see training/data.py): an mp4 clip, question frames and one reasoning frame
given as 1-based positions in the shared 8-frame keyframe pool, and a gpt turn "THOUGHT 1: <short reason> <image>".
The encoder (`latent_batch.assistant_text`) turns that into the Future-L1 output format the demo model must learn:

    <reason>short reason</reason>\\n<|latent_start|><|latent|>…<|latent_end|>\\n<answer>…</answer>

Two kinds of records, in `train.json` alternately:
- multiple choice, in the FutureBench demo style (`future_l1.tasks.demo_benchmarks.multiple_choice`): the question, the
  "A. … D." option lines and the futurebench_future_l1 post-prompt, laid out as that task's `doc_to_text`; the answer
  is the option letter, and the gold letters are balanced (each letter equally often). The reasoning frame is the
  first keyframe at or after the first event after the observed part;
- open answer, TwiFF style: three question frames, then the TwiFF CoT prompt, "frame_i:" labels and an open question
  (the twiffbench_future_l1 layout); the answer is the first event after the question frames, in the scenes' own
  words, and the reasoning frame shows it.

The reason text is deliberately short (a few tokens) so that the whole format fits in the demo suite's generation
budget. `candidates.json` (the visual-gain selection demo) holds open records of other clips. All seeds are far above
the benchmark demo seeds (FutureBench < 30,000, TwiFF-Bench < 6,000), so training and evaluation never share a clip.
Generated on first use and cached (`cached_dir`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from future_l1.model.cache import cached_dir
from future_l1.tasks.demo_benchmarks import FB_CUT, FB_FRAMES, FB_SPLITS, SIZE, multiple_choice
from future_l1.tasks.prompts import FUTUREBENCH_FUTURE_L1_POST_PROMPT, TWIFF_COT_PROMPT
from future_l1.tasks.scenes import KINDS, simulate, write_video
from future_l1.training.frames import keyframe_pool

DEMO_CACHE = "demo-train-v3"  # v2: multiple-choice records, one reason + one span each; v3: lossless video
N_OPEN, N_MC, N_CANDIDATES = 24, 48, 24
OPEN_FRAMES, FPS = 32, 8.0
OPEN_QUESTION_SLOTS = [1, 2, 3]  # 1-based pool positions shown to the user (frames 1, 3, 8 of 32)
MC_QUESTION_SLOTS = [1, 2, 3]  # frames 1, 5, 12 of 48: inside the 16 frames a FutureBench demo clip shows
OPEN_SEED0, CANDIDATE_SEED0, MC_SEED0 = 100_000, 200_000, 300_000
# open questions, asked in turn; laid out as the twiffbench_future_l1 prompt (CoT prompt, frame labels, question)
OPEN_QUESTIONS = (
    "These frames come from the start of a video of moving balls. What happens next in the scene?",
    "These frames show the beginning of a clip of moving balls. What happens next?",
    "The frames are the start of a scene with moving balls. What is the next event?",
)


def short_reason(n_balls: int) -> str:
    return f"There {'is one ball' if n_balls == 1 else f'are {n_balls} balls'}; I imagine the next frames."


def _sentence(text: str) -> str:
    return text[0].upper() + text[1:] + "."


def _reasoning_slot(pool: list[int], seen_slots: list[int], event_frame: int | None) -> int:
    """The first pool position after the question frames that shows `event_frame` (or the last one)."""
    if event_frame is not None:
        for slot, frame in enumerate(pool, 1):
            if slot > seen_slots[-1] and frame >= event_frame:
                return slot
    return len(pool)


def _record(rid: str, video: str, question: str, q_slots: list[int], r_slot: int, reason: str, answer: str,
            meta: dict) -> dict:  # fmt: skip
    return {
        "id": rid,
        "video": video,
        "image": list(q_slots),
        "reasoning_image": [r_slot],
        "conversations": [
            {"from": "human", "value": "<image>" * len(q_slots) + question},
            {"from": "gpt", "value": f"THOUGHT 1: {reason} <image>"},
        ],
        "answer": answer,
        "meta_data": meta,
    }


def open_record(index: int, seed: int, videos: Path) -> dict:
    """A TwiFF-style open question: what is the first event after the question frames?"""
    kind = KINDS[index % len(KINDS)]
    sim = simulate(kind, seed, n_frames=OPEN_FRAMES, fps=FPS)
    name = f"{kind}_{seed}.mp4"
    write_video(sim.frames, videos / name, fps=FPS)
    pool = keyframe_pool(OPEN_FRAMES)
    future = sim.events_between(pool[OPEN_QUESTION_SLOTS[-1] - 1] + 1, OPEN_FRAMES)
    first = future[0] if future else None
    answer = _sentence(first.describe()) if first else "The balls keep moving without touching anything."
    labels = "".join(f"frame_{k + 1}: " for k in range(len(OPEN_QUESTION_SLOTS)))
    question = TWIFF_COT_PROMPT + "\n\n" + labels + OPEN_QUESTIONS[(index // 3) % len(OPEN_QUESTIONS)]
    slot = _reasoning_slot(pool, OPEN_QUESTION_SLOTS, first.frame if first else None)
    meta = {"kind": kind, "seed": seed, "n_events": len(future), "style": "open"}
    return _record(f"demo-{kind}-{seed}", f"videos/{name}", question, OPEN_QUESTION_SLOTS, slot,
                   short_reason(len(sim.balls)), answer, meta)  # fmt: skip


def mc_record(index: int, videos: Path) -> dict:
    """A FutureBench-style multiple-choice question (split cycling hop1/hop2/hop3/hop5, gold letter `ABCD[i % 4]`)."""
    split, gold = FB_SPLITS[(index // 4) % 4], "ABCD"[index % 4]  # every split gets every letter
    seed = MC_SEED0 + 100 * index
    while True:
        seed += 1
        sim = simulate(KINDS[seed % 3], seed, n_frames=FB_FRAMES, size=SIZE, fps=FPS)
        try:
            qa = multiple_choice(sim, split, gold, np.random.default_rng(seed))
            break
        except ValueError:
            continue
    name = f"mc_{seed}.mp4"
    write_video(sim.frames, videos / name, fps=FPS)
    options = "\n".join(f"{k}. {qa['Options'][k]}" for k in "ABCD")
    # the futurebench_future_l1 doc_to_text layout: pre_prompt ("") + "\n" + question + options + "\n" + post_prompt
    question = "\n" + qa["Question"] + "\n" + options + "\n" + FUTUREBENCH_FUTURE_L1_POST_PROMPT
    first = sim.events_between(FB_CUT, FB_FRAMES)[0]
    slot = _reasoning_slot(keyframe_pool(FB_FRAMES), MC_QUESTION_SLOTS, first.frame)
    meta = {"kind": KINDS[seed % 3], "seed": seed, "split": split, "style": "multiple_choice", "qa": qa}
    return _record(f"demo-mc-{index:03d}", f"videos/{name}", question, MC_QUESTION_SLOTS, slot,
                   short_reason(len(sim.balls)), qa["Answer"], meta)  # fmt: skip


def _build(out: Path) -> None:
    from tqdm.auto import tqdm

    videos = out / "videos"
    videos.mkdir(parents=True)
    bar = tqdm(total=N_MC + N_OPEN + N_CANDIDATES, desc="demo training set", unit="clip", leave=False)
    mc, open_ = [], []
    for i in range(N_MC):
        mc.append(mc_record(i, videos))
        bar.update()
    for i in range(N_OPEN):
        open_.append(open_record(i, OPEN_SEED0 + i, videos))
        bar.update()
    candidates = []
    for i in range(N_CANDIDATES):
        candidates.append(open_record(i, CANDIDATE_SEED0 + i, videos))
        bar.update()
    bar.close()
    # open and multiple-choice records alternate (two MC per open record), so any prefix has both kinds
    train = [r for k in range(N_OPEN) for r in (open_[k], *mc[2 * k : 2 * k + 2])]
    (out / "train.json").write_text(json.dumps(train, indent=1))
    (out / "candidates.json").write_text(json.dumps(candidates, indent=1))


def demo_train_dir() -> Path:
    """Folder with `train.json`, `candidates.json` and `videos/`, built once (a few seconds) and cached."""
    return cached_dir(DEMO_CACHE, _build)


def demo_train_file() -> Path:
    return demo_train_dir() / "train.json"


def demo_candidates_file() -> Path:
    return demo_train_dir() / "candidates.json"
