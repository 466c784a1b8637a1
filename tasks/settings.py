"""Where the benchmark data lives: the one documented setting for both benchmarks.

- `FUTURE_L1_FUTUREBENCH_DIR`: a folder holding NEP's `futurebench.json` (or a `datasets.save_to_disk` copy of it)
  and the observed-prefix clips in `first_part_video/` (the V1-33K layout). `FUTURE_L1_FUTUREBENCH_VIDEO_DIR`
  overrides the clip folder when the clips live elsewhere.
- `FUTURE_L1_TWIFFBENCH_DIR`: a folder holding the TwiFF-Bench parquet shards `test-0000{0..3}-of-00004.parquet`.

Unset (or set to `demo`), each falls back to the procedurally generated demo set (`future_l1.tasks.demo_benchmarks`), which
has the same schema, so the same loaders and tasks serve demo and real data.

A caller in the same process passes its folders explicitly instead, with `active_data(futurebench=…, twiffbench=…)`
(as the toy experiment does): for the duration they win over the environment, and a FutureBench folder given this way
holds its own clips (`first_part_video/`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

FUTUREBENCH_ENV = "FUTURE_L1_FUTUREBENCH_DIR"
FUTUREBENCH_VIDEO_ENV = "FUTURE_L1_FUTUREBENCH_VIDEO_DIR"
TWIFFBENCH_ENV = "FUTURE_L1_TWIFFBENCH_DIR"

_active: dict[str, Path] = {}  # benchmark -> folder, set by active_data()


@contextlib.contextmanager
def active_data(*, futurebench: Path | None = None, twiffbench: Path | None = None) -> Iterator[None]:
    """Make these the benchmarks' data folders for the duration, ahead of the environment variables.

    Process-wide on purpose, like `judge.active_config`: lmms-eval loads the documents through the tasks' YAML hooks,
    which take no arguments. Folders not given keep their current setting."""
    global _active
    given = {"futurebench": futurebench, "twiffbench": twiffbench}
    saved = _active
    _active = {**_active, **{k: Path(v).expanduser().resolve() for k, v in given.items() if v is not None}}
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
    return _active.get(benchmark) or _from_env(env)


def futurebench_dir() -> Path:
    path = _setting("futurebench", FUTUREBENCH_ENV)
    if path is None:
        from future_l1.tasks.demo_benchmarks import futurebench_demo_dir

        return futurebench_demo_dir()
    return path


def futurebench_video_dir(data_dir: Path) -> Path:
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
