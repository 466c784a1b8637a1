"""A small deterministic Future-L1-50K-style training set built from procedural scenes (`future_l1.tasks.scenes`).

Each record is a Format A record (official-code-spec §5.1): a 32-frame 64x64 mp4, question frames and reasoning
frames given as 1-based positions in the shared 8-frame keyframe pool, a gpt turn "THOUGHT n: … <image> …" whose
reasoning frames show the future events the answer is about, and the answer itself (the first event after the
question frames, in the scenes' own words). Generated on first use and cached (`cached_dir`); seeds differ from the
demo benchmarks so that training and evaluation never share a clip.
"""

from __future__ import annotations

import json
from pathlib import Path

from future_l1.harness.cache import cached_dir
from future_l1.training.frames import keyframe_pool

DEMO_CACHE = "demo-train-v1"
N_TRAIN, N_CANDIDATES = 48, 24
N_FRAMES, SIZE, FPS = 32, 64, 8.0
QUESTION_SLOTS = [1, 2]  # 1-based pool positions shown to the user
TRAIN_SEED0, CANDIDATE_SEED0 = 10_000, 20_000  # far from the benchmark seeds


def demo_record(index: int, seed: int, videos: Path) -> dict:
    from future_l1.tasks.scenes import KINDS, simulate, write_video

    kind = KINDS[index % len(KINDS)]
    sim = simulate(kind, seed, n_frames=N_FRAMES, size=SIZE, fps=FPS)
    name = f"{kind}_{seed}.mp4"
    write_video(sim.frames, videos / name, fps=FPS)
    pool = keyframe_pool(N_FRAMES)
    seen_until = pool[QUESTION_SLOTS[-1] - 1]
    future = sim.events_between(seen_until + 1, N_FRAMES)
    # one reasoning frame per distinct future event (at most 2): the first pool frame at or after the event
    slots: list[int] = []
    steps: list[str] = []
    for event in future:
        slot = next((s for s, f in enumerate(pool, 1) if f >= event.frame and s > QUESTION_SLOTS[-1]), None)
        if slot is None or slot in slots:
            continue
        slots.append(slot)
        steps.append(event.describe())
        if len(slots) == 2:
            break
    if not slots:
        slots, steps = [len(pool)], ["the balls keep moving without touching anything"]
    answer = steps[0][0].upper() + steps[0][1:] + "."
    n_balls = len(sim.balls)
    colours = ", ".join(b.colour for b in sim.balls)
    thoughts = [f"THOUGHT 1: There {'is one ball' if n_balls == 1 else f'are {n_balls} balls'} ({colours}); "
                "I imagine how the scene goes on. <image>"]  # fmt: skip
    for k, step in enumerate(steps[:-1], start=2):
        thoughts.append(f"THOUGHT {k}: I see that {step}. <image>")
    thoughts.append(f"THOUGHT {len(steps) + 1}: I see that {steps[-1]}. So the next event: {steps[0]}.")
    return {
        "id": f"demo-{kind}-{seed}",
        "video": f"videos/{name}",
        "image": list(QUESTION_SLOTS),
        "reasoning_image": slots,
        "conversations": [
            {
                "from": "human",
                "value": "<image><image>\nThese are the first frames of a short clip. What happens next?",
            },
            {"from": "gpt", "value": " ".join(thoughts)},
        ],
        "answer": answer,
        "meta_data": {"kind": kind, "seed": seed, "n_events": len(future)},
    }


def _build(out: Path) -> None:
    videos = out / "videos"
    videos.mkdir(parents=True)
    train = [demo_record(i, TRAIN_SEED0 + i, videos) for i in range(N_TRAIN)]
    candidates = [demo_record(i, CANDIDATE_SEED0 + i, videos) for i in range(N_CANDIDATES)]
    (out / "train.json").write_text(json.dumps(train, indent=1))
    (out / "candidates.json").write_text(json.dumps(candidates, indent=1))


def demo_train_dir() -> Path:
    """Folder with `train.json`, `candidates.json` and `videos/`, built once (a few seconds) and cached."""
    return cached_dir(DEMO_CACHE, _build)


def demo_train_file() -> Path:
    return demo_train_dir() / "train.json"


def demo_candidates_file() -> Path:
    return demo_train_dir() / "candidates.json"
