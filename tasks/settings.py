"""Where the benchmark data lives: the one documented setting for both benchmarks.

- `FUTURE_L1_FUTUREBENCH_DIR`: a folder holding NEP's `futurebench.json` (or a `datasets.save_to_disk` copy of it)
  and the observed-prefix clips in `first_part_video/` (the V1-33K layout). `FUTURE_L1_FUTUREBENCH_VIDEO_DIR`
  overrides the clip folder when the clips live elsewhere.
- `FUTURE_L1_TWIFFBENCH_DIR`: a folder holding the TwiFF-Bench parquet shards `test-0000{0..3}-of-00004.parquet`.

Unset (or set to `demo`), each falls back to the procedurally generated demo set (`future_l1.tasks.demo_benchmarks`), which
has the same schema, so the same loaders and tasks serve demo and real data.

A caller in the same process passes its folders explicitly instead, with `active_data(futurebench=…, twiffbench=…,
futurebench_video=…)` (as the toy experiment does, and `future-l1 run` for a suite's `data:`/`clips:`): for the
duration they win over the environment, and a FutureBench folder given this way holds its own clips
(`first_part_video/`) unless `futurebench_video` names them.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

FUTUREBENCH_ENV = "FUTURE_L1_FUTUREBENCH_DIR"
FUTUREBENCH_VIDEO_ENV = "FUTURE_L1_FUTUREBENCH_VIDEO_DIR"
TWIFFBENCH_ENV = "FUTURE_L1_TWIFFBENCH_DIR"

_active: dict[str, Path | None] = {}  # benchmark (or "futurebench_video") -> folder (None = the demo set)


@contextlib.contextmanager
def active_data(
    *,
    futurebench: Path | None = None,
    twiffbench: Path | None = None,
    futurebench_video: Path | None = None,
    demo: tuple[str, ...] = (),
) -> Iterator[None]:
    """Make these the benchmarks' data folders for the duration, ahead of the environment variables; benchmarks in
    `demo` use the embedded demo set whatever the environment says (a suite's `data: demo`).

    Process-wide on purpose, like `judge.active_config`: lmms-eval loads the documents through the tasks' YAML hooks,
    which take no arguments. Folders not given keep their current setting. A FutureBench folder given without
    `futurebench_video` holds its own clips (`first_part_video/`)."""
    global _active
    given = {"futurebench": futurebench, "twiffbench": twiffbench, "futurebench_video": futurebench_video}
    saved = _active
    _active = {**_active, **{k: Path(v).expanduser().resolve() for k, v in given.items() if v is not None}}
    _active.update({name: None for name in demo})
    try:
        yield
    finally:
        _active = saved


def _from_env(name: str) -> Path | None:
    value = os.environ.get(name, "").strip()
    if not value or value.lower() == "demo":
        return None
    return Path(value).expanduser().resolve()


def _setting(benchmark: str, env: str) -> Path | None:
    return _active[benchmark] if benchmark in _active else _from_env(env)


def futurebench_dir() -> Path:
    path = _setting("futurebench", FUTUREBENCH_ENV)
    if path is None:
        from future_l1.tasks.demo_benchmarks import futurebench_demo_dir

        return futurebench_demo_dir()
    return path


def futurebench_video_dir(data_dir: Path) -> Path:
    if _active.get("futurebench_video") is not None:
        return _active["futurebench_video"]
    if "futurebench" in _active:
        return data_dir / "first_part_video"
    return _from_env(FUTUREBENCH_VIDEO_ENV) or data_dir / "first_part_video"


def twiffbench_dir() -> Path:
    path = _setting("twiffbench", TWIFFBENCH_ENV)
    if path is None:
        from future_l1.tasks.demo_benchmarks import twiffbench_demo_dir

        return twiffbench_demo_dir()
    return path


def is_demo(name: str) -> bool:
    if name == "futurebench":
        return _setting("futurebench", FUTUREBENCH_ENV) is None
    return _setting("twiffbench", TWIFFBENCH_ENV) is None
