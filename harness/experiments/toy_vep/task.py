"""A procedural video-event-prediction task whose answer is plain in the future frame: "where will the ball be?"

One ball flies in a straight line at constant speed in a 64x64 box. The model sees two snapshots of the start of the
clip (frames 1 and 6 of 16, which give position and velocity) and is asked in which quadrant of the frame the ball
is one second and a half into the clip (frame 12). Items are drawn so that the ball does not touch a wall before
frame 12 and is in another quadrant then than in the last snapshot (so "it stays where it is" is always wrong).

Why this task (this package's README.md): the answer has two stages. Where the ball will be is a linear function of
where it was, and which quadrant that is, is an easy read of the future frame. Text-only SFT must learn
both from the option letter alone; latent SFT is also shown the future frame, so it learns the first stage from the
frame's embedding (the latent loss) and the second from the frame. Version 2 asked for the quadrant after wall
bounces: the bounce map was the hard part, the future frame did not make it easier to learn, and neither arm learned
it. A ring question (how far from the centre) made imagination learnable but reading the ring from the frame was
not learned in the SFT budget.

Item = one seed. The same item serves both schemas:
- evaluation (`build_eval_set`): NEP's FutureBench layout, `futurebench.json` + `first_part_video/` (and the true
  future frame in `future_part_video/`, for the latent diagnostics), four fixed
  options (A top left, B top right, C bottom left, D bottom right); `question_type` counts the quadrant borders
  the ball crosses between the last snapshot and frame 12 (hop1 = one, hop2 = both), so the per-split columns of a
  report show accuracy by how much motion there is to imagine. The clip is the two snapshots as two consecutive frames: one Qwen3-VL temporal patch (2 frames), so
  the vision encoder sees the motion within each token, as a video encoder sees it;
- training (`toy_vep.data`): a Future-L1-50K Format A record over the full 16-frame clip, question
  frames = keyframe-pool slots 1 and 4 (frames 1 and 6), reasoning frame = slot 7 (frame 12, the answer frame).

Item i's answer is option "ABCD"[i % 4] (seeds are tried in order until one fits), so every option is equally common
and the answer prior is 25%. Splits draw from disjoint seed ranges (`SPLIT_SEED0`): train, val and test never share a
clip. Items whose ball ends within `MARGIN` pixels of a quadrant border are skipped (ambiguous at the frame's
resolution). Everything is deterministic from the seed (float64 numpy physics, lossless video).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from future_l1.tasks.future_frames import FUTURE_DIR
from future_l1.tasks.scenes import Ball, _collide_walls, _render, write_video

SIZE, N_FRAMES, FPS, SUBSTEPS = 64, 16, 8.0, 8
OBSERVED = (1, 6)  # frames of the 16-frame clip the model sees (= keyframe-pool slots 1 and 4)
TARGET = 12  # the frame the question asks about (= keyframe-pool slot 7)
MARGIN = 4.0  # px: the ball's centre is at least this far from both quadrant borders at TARGET
SPEED = (0.3, 0.55)  # frame widths per second: 12-22 px between the snapshots (the toy encoder is trained to 28)
RADIUS = 5.0
COLOUR = "white"
SPLIT_SEED0 = {"train": 1_000_000, "val": 2_000_000, "test": 3_000_000}
SEEDS_PER_ITEM = 1000  # item i of a split tries seeds SPLIT_SEED0 + 1000 i, +1, ... until one fits
QUADRANTS = ("top left", "top right", "bottom left", "bottom right")
OPTIONS = dict(zip("ABCD", QUADRANTS, strict=True))
QUESTION = (
    "The video shows two snapshots of a ball at the start of a clip: 0.125 s and 0.75 s after it begins. The ball "
    "flies in a straight line at constant speed. In which quadrant of the frame is the ball 1.5 s after the clip "
    "begins?"
)
REASON = "I imagine the ball."  # the one reasoning text, shared by both SFT variants
EVAL_VERSION = "toy_vep_v3"  # names the data and checkpoint folders: bump when items or prompts change


@dataclass
class ToyItem:
    seed: int
    frames: np.ndarray  # (N_FRAMES, SIZE, SIZE, 3) uint8
    positions: np.ndarray  # (N_FRAMES, 2) centre in pixels, (x, y), y down
    borders_crossed: int  # quadrant borders (1 or 2) crossed between the last observed frame and TARGET
    answer: str  # option letter

    @property
    def split(self) -> str:
        return f"hop{self.borders_crossed}"


def quadrant(x: float, y: float) -> int:
    """The option index (0-3) of a centre at (x, y), y down."""
    return (1 if x >= SIZE / 2 else 0) + (2 if y >= SIZE / 2 else 0)


def _start(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The ball's centre (1, 2) and velocity (1, 2) in px/s at frame 0 of `seed`."""
    rng = np.random.default_rng(seed)
    pos = rng.uniform(RADIUS + 2, SIZE - RADIUS - 2, size=(1, 2))
    angle = rng.uniform(0, 2 * math.pi)
    speed = rng.uniform(*SPEED) * SIZE
    return pos, np.array([[math.cos(angle), math.sin(angle)]]) * speed


def simulate_ball(seed: int) -> tuple[np.ndarray, np.ndarray, list]:
    """Frames, centre positions and wall events of one clip (walls bounce the ball after TARGET, if it gets there)."""
    pos, vel = _start(seed)
    ball = Ball(COLOUR, RADIUS)
    dt = 1.0 / (FPS * SUBSTEPS)
    frames, positions, events = [], [], []
    for frame in range(N_FRAMES):
        frames.append(_render(pos, [ball], SIZE))
        positions.append(pos[0].copy())
        for _ in range(SUBSTEPS):
            pos += vel * dt
            events += _collide_walls(frame, pos, vel, [ball], SIZE, floor_only_is_floor=False)
    return np.stack(frames), np.stack(positions), events


def _fits(seed: int, want: int) -> bool:
    """Cheap test before rendering: straight flight inside the walls up to TARGET, away from the quadrant borders,
    into quadrant `want` from another one at the last snapshot. The path is a segment, so its two ends decide
    whether it stays inside the box."""
    pos, vel = _start(seed)
    end = (pos + vel * TARGET / FPS)[0]
    if min(end.min(), pos.min()) <= RADIUS or max(end.max(), pos.max()) >= SIZE - RADIUS:
        return False
    seen = (pos + vel * OBSERVED[-1] / FPS)[0]
    return min(abs(end - SIZE / 2)) >= MARGIN and quadrant(*end) == want != quadrant(*seen)


def make_item(split: str, index: int) -> ToyItem:
    """Item `index` of `split`: the first seed of its range that fits, with answer "ABCD"[index % 4]."""
    want = index % 4
    base = SPLIT_SEED0[split] + SEEDS_PER_ITEM * index
    for seed in range(base, base + SEEDS_PER_ITEM):
        if not _fits(seed, want):
            continue
        frames, positions, events = simulate_ball(seed)
        crossed = bin(quadrant(*positions[TARGET]) ^ quadrant(*positions[OBSERVED[-1]])).count("1")
        if any(e.frame < TARGET for e in events) or quadrant(*positions[TARGET]) != want or not crossed:
            raise AssertionError(f"seed {seed}: the simulation left the straight path that _fits predicted")
        return ToyItem(seed, frames, positions, crossed, "ABCD"[want])
    raise RuntimeError(f"no fitting seed for {split} item {index}")  # pragma: no cover (never happens)


def prompt_text(post_prompt: str) -> str:
    """The futurebench_future_l1 `doc_to_text` layout: pre_prompt ("") + "\\n" + question + options + post_prompt."""
    options = "\n".join(f"{k}. {v}" for k, v in OPTIONS.items())
    return "\n" + QUESTION + "\n" + options + "\n" + post_prompt


def vocabulary_domain() -> tuple[str, ...]:
    """Every text the toy experiment tokenizes, between the special tokens: the Future-L1 system prompt (SFT's default
    and the futurebench_future_l1 task's) and the chat template's default one, the role headers, the prompt, the
    reasoning and answer blocks of both SFT arms, and the video timestamps. The experiment's tiny model gets a
    vocabulary pruned to these texts (`model.processor.qwen_tokenizer_dir`); the toy tests check that real SFT and
    evaluation inputs segment exactly as with the full vocabulary."""
    from future_l1.model.protocol import FUTURE_L1_SYSTEM_PROMPT
    from future_l1.tasks.prompts import FUTUREBENCH_FUTURE_L1_POST_PROMPT

    reason = f"<reason>{REASON}</reason>\n"
    return (
        "system\n" + FUTURE_L1_SYSTEM_PROMPT, "system\nYou are a helpful assistant.", "user\n", "assistant\n",
        prompt_text(FUTUREBENCH_FUTURE_L1_POST_PROMPT), reason, "\n",
        *(f"{reason}<answer>{k}</answer>" for k in OPTIONS), *(f"\n<answer>{k}</answer>" for k in OPTIONS),
        "<0.0 seconds>",
    )  # fmt: skip


def observed_clip(item: ToyItem) -> np.ndarray:
    """The evaluation clip: the observed snapshots as consecutive frames (together one Qwen3-VL temporal patch)."""
    return np.stack([item.frames[f] for f in OBSERVED])


def build_eval_set(out: Path, split: str, n_items: int, *, progress: bool = True) -> Path:
    """Write `n_items` items of `split` in NEP's FutureBench layout into `out` (futurebench.json, first_part_video/)."""
    from tqdm.auto import tqdm

    if split == "train":
        raise ValueError("the train split is for SFT records (toy_vep.data), not for evaluation")
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
                "meta_data": {"seed": item.seed, "borders_crossed": item.borders_crossed, "task": EVAL_VERSION},
            }
        )
    (out / "futurebench.json").write_text(json.dumps(records, indent=1))
    write_future_clips(out, split, n_items)
    return out


def write_future_clips(out: Path, split: str, n_items: int) -> None:
    """`future_part_video/toy_NNNN.mp4`: each evaluation item's true future frame (frame TARGET, the frame SFT's
    latents are aligned with), read by the latent diagnostics (`tasks.future_frames`). Not part of the documents,
    so adding them to a set built before they existed changes no run identity and no answer. Written to a sibling
    folder and renamed, so a killed writer leaves no half-filled folder."""
    import shutil

    final, tmp = Path(out) / FUTURE_DIR, Path(out) / f".{FUTURE_DIR}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for i in range(n_items):
        write_video(make_item(split, i).frames[TARGET : TARGET + 1], tmp / f"toy_{i:04d}.mp4", fps=FPS)
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
