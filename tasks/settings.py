"""Where the benchmark data lives: the one documented setting for both benchmarks.

- `FUTURE_L1_FUTUREBENCH_DIR`: a folder holding NEP's `futurebench.json` (or a `datasets.save_to_disk` copy of it)
  and the observed-prefix clips in `first_part_video/` (the V1-33K layout). `FUTURE_L1_FUTUREBENCH_VIDEO_DIR`
  overrides the clip folder when the clips live elsewhere.
- `FUTURE_L1_TWIFFBENCH_DIR`: a folder holding the TwiFF-Bench parquet shards `test-0000{0..3}-of-00004.parquet`.

Unset (or set to `demo`), each falls back to the procedurally generated demo set (`future_l1.tasks.demo_benchmarks`), which
has the same schema, so the same loaders and tasks serve demo and real data.
"""

from __future__ import annotations

import os
from pathlib import Path

FUTUREBENCH_ENV = "FUTURE_L1_FUTUREBENCH_DIR"
FUTUREBENCH_VIDEO_ENV = "FUTURE_L1_FUTUREBENCH_VIDEO_DIR"
TWIFFBENCH_ENV = "FUTURE_L1_TWIFFBENCH_DIR"


def _from_env(name: str) -> Path | None:
    value = os.environ.get(name, "").strip()
    if not value or value.lower() == "demo":
        return None
    return Path(value).expanduser().resolve()


def futurebench_dir() -> Path:
    path = _from_env(FUTUREBENCH_ENV)
    if path is None:
        from future_l1.tasks.demo_benchmarks import futurebench_demo_dir

        return futurebench_demo_dir()
    return path


def futurebench_video_dir(data_dir: Path) -> Path:
    return _from_env(FUTUREBENCH_VIDEO_ENV) or data_dir / "first_part_video"


def twiffbench_dir() -> Path:
    path = _from_env(TWIFFBENCH_ENV)
    if path is None:
        from future_l1.tasks.demo_benchmarks import twiffbench_demo_dir

        return twiffbench_demo_dir()
    return path


def is_demo(name: str) -> bool:
    return _from_env(FUTUREBENCH_ENV if name == "futurebench" else TWIFFBENCH_ENV) is None
