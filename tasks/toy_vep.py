"""A procedural video-event-prediction task whose answer is visible in the future frames: "where will the ball be?"

One ball moves at constant speed inside a 64x64 box and bounces off the walls (`scenes._collide_walls`, the same
physics as every other scene). The model sees two snapshots of the start of the clip (frames 1 and 4 of 16, which
give position and velocity) and is asked in which quadrant of the frame the ball is one second later (frame 12).
The answer follows from the dynamics (how far the ball flies, whether and where it bounces), which is easy to see in
the future frame and awkward to put into words; the reasoning text is the same generic sentence for every item, so
any advantage of latent SFT must come from the imagined frames, not from the text.

Item = one seed. The same item serves both schemas:
- evaluation (`build_eval_set`): NEP's FutureBench layout, `futurebench.json` + `first_part_video/`, four fixed
  options (A top left, B top right, C bottom left, D bottom right); `question_type` counts the wall bounces the
  ball makes before frame 12 (hop1 = none, hop2 = one, hop3 = two or more), so the per-split columns of a report
  show accuracy by how much dynamics there is to imagine. The clip is the two snapshots as two consecutive frames:
  one Qwen3-VL temporal patch (2 frames), so the vision encoder sees the motion within each token, as a video
  encoder sees it (holding each snapshot for a whole patch, as v1 did, leaves the language model to tell the two
  snapshots apart by position, which the tiny model did not learn);
- training (`future_l1.training.toy_data`): a Future-L1-50K Format A record over the full 16-frame clip, question
  frames = keyframe-pool slots 1 and 3 (frames 1 and 4), reasoning frame = slot 7 (frame 12, the answer frame).

Splits draw from disjoint seed ranges (`SPLIT_SEED0`): train, val and test never share a clip. Items whose ball ends
within `MARGIN` pixels of a quadrant border are skipped (their answer would be ambiguous at the frame's resolution).
Everything is deterministic from the seed (float64 numpy physics, lossless video).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from future_l1.tasks.scenes import Ball, _collide_walls, _render, write_video

SIZE, N_FRAMES, FPS, SUBSTEPS = 64, 16, 8.0, 8
OBSERVED = (1, 4)  # frames of the 16-frame clip the model sees (= keyframe-pool slots 1 and 3)
TARGET = 12  # the frame the question asks about (= keyframe-pool slot 7)
MARGIN = 4.0  # px: the ball's centre is at least this far from the quadrant borders at TARGET
SPEED = (0.45, 0.85)  # frame widths per second
RADIUS = 5.0
COLOUR = "white"
SPLIT_SEED0 = {"train": 1_000_000, "val": 2_000_000, "test": 3_000_000}
SEEDS_PER_ITEM = 1000  # item i of a split tries seeds SPLIT_SEED0 + 1000 i, +1, ... until one is unambiguous
QUADRANTS = ("top left", "top right", "bottom left", "bottom right")
OPTIONS = dict(zip("ABCD", QUADRANTS, strict=True))
QUESTION = (
    "The video shows two snapshots of a ball at the start of a clip: 0.125 s and 0.5 s after it begins. The ball "
    "flies in a straight line at constant speed and bounces off the walls. In which quadrant of the frame is the "
    "ball 1.5 s after the clip begins?"
)
REASON = "I imagine the ball."  # the one reasoning text, shared by both SFT variants
EVAL_VERSION = "toy_vep_v2"


@dataclass
class ToyItem:
    seed: int
    frames: np.ndarray  # (N_FRAMES, SIZE, SIZE, 3) uint8
    positions: np.ndarray  # (N_FRAMES, 2) centre in pixels, (x, y), y down
    bounces: int  # wall bounces between the last observed frame and TARGET
    answer: str  # option letter

    @property
    def split(self) -> str:
        return ("hop1", "hop2", "hop3")[min(self.bounces, 2)]


def quadrant(x: float, y: float) -> int:
    return (1 if x >= SIZE / 2 else 0) + (2 if y >= SIZE / 2 else 0)


def simulate_ball(seed: int) -> tuple[np.ndarray, np.ndarray, list]:
    """Frames, centre positions and wall events of one clip."""
    rng = np.random.default_rng(seed)
    ball = Ball(COLOUR, RADIUS)
    pos = rng.uniform(RADIUS + 2, SIZE - RADIUS - 2, size=(1, 2))
    angle = rng.uniform(0, 2 * math.pi)
    speed = rng.uniform(*SPEED) * SIZE
    vel = np.array([[math.cos(angle), math.sin(angle)]]) * speed
    dt = 1.0 / (FPS * SUBSTEPS)
    frames, positions, events = [], [], []
    for frame in range(N_FRAMES):
        frames.append(_render(pos, [ball], SIZE))
        positions.append(pos[0].copy())
        for _ in range(SUBSTEPS):
            pos += vel * dt
            events += _collide_walls(frame, pos, vel, [ball], SIZE, floor_only_is_floor=False)
    return np.stack(frames), np.stack(positions), events


def make_item(split: str, index: int) -> ToyItem:
    """Item `index` of `split`: the first seed of its range whose answer is unambiguous."""
    base = SPLIT_SEED0[split] + SEEDS_PER_ITEM * index
    for seed in range(base, base + SEEDS_PER_ITEM):
        frames, positions, events = simulate_ball(seed)
        x, y = positions[TARGET]
        if min(abs(x - SIZE / 2), abs(y - SIZE / 2)) < MARGIN:
            continue
        bounces = sum(1 for e in events if OBSERVED[-1] <= e.frame < TARGET)
        return ToyItem(seed, frames, positions, bounces, "ABCD"[quadrant(x, y)])
    raise RuntimeError(f"no unambiguous seed for {split} item {index}")  # pragma: no cover (never happens)


def prompt_text(post_prompt: str) -> str:
    """The futurebench_future_l1 `doc_to_text` layout: pre_prompt ("") + "\\n" + question + options + post_prompt."""
    options = "\n".join(f"{k}. {v}" for k, v in OPTIONS.items())
    return "\n" + QUESTION + "\n" + options + "\n" + post_prompt


def observed_clip(item: ToyItem) -> np.ndarray:
    """The evaluation clip: the observed snapshots as consecutive frames (together one Qwen3-VL temporal patch)."""
    return np.stack([item.frames[f] for f in OBSERVED])


def build_eval_set(out: Path, split: str, n_items: int, *, progress: bool = True) -> Path:
    """Write `n_items` items of `split` in NEP's FutureBench layout into `out` (futurebench.json, first_part_video/)."""
    from tqdm.auto import tqdm

    if split == "train":
        raise ValueError("the train split is for SFT records (future_l1.training.toy_data), not for evaluation")
    out = Path(out)
    records = []
    for i in tqdm(range(n_items), desc=f"toy VEP {split} set", unit="item", leave=False, disable=not progress):
        item = make_item(split, i)
        write_video(observed_clip(item), out / "first_part_video" / f"toy_{i:04d}.mp4", fps=FPS)
        records.append(
            {
                "id": f"toy-{split}-{i:04d}",
                "video_path": f"video_dataset/toy_{i:04d}.mp4",
                "question_type": item.split,
                "qa": {"Question": QUESTION, "Options": dict(OPTIONS), "Answer": item.answer},
                "meta_data": {"seed": item.seed, "bounces": item.bounces, "task": EVAL_VERSION},
            }
        )
    (out / "futurebench.json").write_text(json.dumps(records, indent=1))
    return out
