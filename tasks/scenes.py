"""Procedural 2D videos with a known future: balls that bounce off walls, collide and fall.

Everything is deterministic from `(kind, seed)`: the physics runs in float64 numpy with a fixed step, and the event
timeline (which ball hit what, in which frame) is recorded exactly as it happens, so benchmark questions about "what
happens next" have a ground truth. Demo benchmarks and demo training data are built on `simulate()`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (230, 40, 40), "green": (40, 200, 60), "blue": (50, 90, 240), "yellow": (240, 220, 40),
    "purple": (160, 60, 210), "cyan": (40, 210, 220), "orange": (250, 140, 30), "white": (245, 245, 245),
}  # fmt: skip
KINDS = ("bounce", "collide", "fall")
WALLS = ("left", "right", "top", "bottom")


@dataclass(frozen=True)
class Ball:
    colour: str
    radius: float


@dataclass(frozen=True)
class Event:
    frame: int
    kind: str  # "wall" | "collision" | "floor"
    balls: tuple[str, ...]  # colours involved
    where: str = ""  # the wall's name for "wall" events

    def describe(self) -> str:
        if self.kind == "collision":
            return f"the {self.balls[0]} ball and the {self.balls[1]} ball collide"
        if self.kind == "floor":
            return f"the {self.balls[0]} ball lands on the floor"
        return f"the {self.balls[0]} ball bounces off the {self.where} wall"


@dataclass
class Simulation:
    kind: str
    seed: int
    fps: float
    frames: np.ndarray  # (T, H, W, 3) uint8
    balls: list[Ball]
    events: list[Event] = field(default_factory=list)
    positions: np.ndarray | None = None  # (T, n_balls, 2) centre positions in pixels

    def events_between(self, start: int, stop: int) -> list[Event]:
        return [e for e in self.events if start <= e.frame < stop]


def simulate(
    kind: str = "bounce", seed: int = 0, *, n_frames: int = 32, size: int = 64, fps: float = 8.0, substeps: int = 8
) -> Simulation:
    """Run one scene. `kind` picks the setup: free bouncing, a head-on collision course, or gravity."""
    if kind not in KINDS:
        raise ValueError(f"unknown scene kind {kind!r}; choose one of {KINDS}")
    rng = np.random.default_rng(seed)
    n_balls = 2 if kind == "collide" else int(rng.integers(1, 4))
    names = list(rng.permutation(list(COLOURS))[:n_balls])
    balls = [Ball(str(c), float(rng.uniform(0.07, 0.1) * size)) for c in names]
    pos, vel = _initial_state(kind, rng, balls, size)
    gravity = np.array([0.0, 0.9 * size]) if kind == "fall" else np.zeros(2)  # px/s^2, +y is down
    dt = 1.0 / (fps * substeps)

    frames, positions, events = [], [], []
    for frame in range(n_frames):
        frames.append(_render(pos, balls, size))
        positions.append(pos.copy())
        for _ in range(substeps):
            vel += gravity * dt
            pos += vel * dt
            events += _collide_walls(frame, pos, vel, balls, size, floor_only_is_floor=kind == "fall")
            events += _collide_balls(frame, pos, vel, balls)
    return Simulation(kind, seed, fps, np.stack(frames), balls, _dedupe(events), np.stack(positions))


def _initial_state(kind: str, rng: np.random.Generator, balls: list[Ball], size: int) -> tuple[np.ndarray, np.ndarray]:
    n = len(balls)
    if kind == "collide":  # two balls on a collision course, meeting around the middle of the clip
        y = size * rng.uniform(0.3, 0.7)
        pos = np.array([[size * 0.2, y], [size * 0.8, y + rng.uniform(-2, 2)]])
        speed = size * rng.uniform(0.12, 0.16)
        return pos, np.array([[speed, 0.0], [-speed, 0.0]])
    speed = size * rng.uniform(0.4, 0.7)
    columns = rng.permutation([0.2, 0.5, 0.8])[:n]  # one ball per column, so none overlap at the start
    pos = np.stack([[c * size, rng.uniform(0.2, 0.45) * size] for c in columns])
    angles = rng.uniform(0, 2 * math.pi, n)
    vel = np.stack([np.cos(angles), np.sin(angles)], axis=1) * speed
    if kind == "fall":
        vel[:, 1] = -abs(vel[:, 1]) * 0.3
    return pos, vel


def _collide_walls(frame, pos, vel, balls, size, floor_only_is_floor) -> list[Event]:
    events = []
    for i, ball in enumerate(balls):
        r = ball.radius
        for axis, low_name, high_name in ((0, "left", "right"), (1, "top", "bottom")):
            if pos[i, axis] < r and vel[i, axis] < 0:
                pos[i, axis], vel[i, axis] = 2 * r - pos[i, axis], -vel[i, axis]
                events.append(Event(frame, "wall", (ball.colour,), low_name))
            elif pos[i, axis] > size - r and vel[i, axis] > 0:
                pos[i, axis], vel[i, axis] = 2 * (size - r) - pos[i, axis], -vel[i, axis]
                if axis == 1 and floor_only_is_floor:
                    vel[i, axis] *= 0.7  # inelastic floor
                    events.append(Event(frame, "floor", (ball.colour,), "bottom"))
                else:
                    events.append(Event(frame, "wall", (ball.colour,), high_name))
    return events


def _collide_balls(frame, pos, vel, balls) -> list[Event]:
    events = []
    for i in range(len(balls)):
        for j in range(i + 1, len(balls)):
            delta = pos[j] - pos[i]
            dist = float(np.hypot(*delta))
            if dist == 0 or dist > balls[i].radius + balls[j].radius:
                continue
            normal = delta / dist
            approach = float(np.dot(vel[i] - vel[j], normal))
            if approach <= 0:  # already separating
                continue
            vel[i] -= approach * normal  # equal masses, elastic: swap the normal components
            vel[j] += approach * normal
            events.append(Event(frame, "collision", (balls[i].colour, balls[j].colour)))
    return events


def _dedupe(events: list[Event]) -> list[Event]:
    seen, out = set(), []
    for e in events:
        key = (e.frame, e.kind, e.balls, e.where)
        if key not in seen:
            seen.add(key)
            out.append(e)
    return out


def _render(pos: np.ndarray, balls: list[Ball], size: int) -> np.ndarray:
    img = np.full((size, size, 3), 24, dtype=np.uint8)
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    for (x, y), ball in zip(pos, balls, strict=True):
        img[(xx - x) ** 2 + (yy - y) ** 2 <= ball.radius**2] = COLOURS[ball.colour]
    return img


def write_video(frames: np.ndarray, path: str | Path, fps: float = 8.0) -> Path:
    """Encode uint8 frames (T, H, W, 3) as lossless H.264 mp4 (readable by decord and PyAV).

    Lossless (qp 0) on purpose: lossy x264 output varies from run to run with its thread scheduling, which made the
    demo data, and the demo model trained on it, differ between machines. Lossless output is identical byte for
    byte, and at 64x64 it is also smaller.
    """
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=round(fps))
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"qp": "0", "preset": "veryfast"}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
