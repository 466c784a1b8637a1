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
import random
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

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


# ---------------------------------------------------------------------------------------------------------------
# A seeded sample across splits (a suite's `limit` with `sample: stratified`)

_subset: dict[str, tuple[int | float, int]] = {}  # benchmark -> (limit, seed), set by active_subset()
_full_size: dict[str, int] = {}  # benchmark -> documents before the last subset was taken (for the provenance)


@contextlib.contextmanager
def active_subset(benchmark: str, limit: int | float, seed: int) -> Iterator[None]:
    """The benchmark's documents are a seeded sample across its splits for the duration (`stratified_indices`);
    lmms-eval's own `limit` would take the first N, all from the first split of a file sorted by split."""
    global _subset
    saved = _subset
    _subset = {**_subset, benchmark: (limit, seed)}
    try:
        yield
    finally:
        _subset = saved


def stratified_indices(strata: Sequence[Any], limit: int | float, seed: int) -> list[int]:
    """Sorted indices of a sample of `limit` items (a count, or a fraction in (0, 1)) spread over the strata in
    proportion to their sizes (largest remainder; every stratum at least once when `limit` covers them all), drawn with a
    seeded generator inside each stratum: the same data, limit and seed always give the same sample."""
    n = len(strata)
    want = min(n, max(1, round(limit * n)) if isinstance(limit, float) and limit < 1 else int(limit))
    groups: dict[str, list[int]] = {}
    for i, key in enumerate(strata):
        groups.setdefault(str(key), []).append(i)
    names = sorted(groups)
    quota = {k: want * len(groups[k]) / n for k in names}
    take = {k: int(quota[k]) for k in names}
    for k in sorted(
        names, key=lambda k: (take[k] > 0, -(quota[k] - take[k]), k)
    ):  # empty strata first, then remainders
        if sum(take.values()) >= want:
            break
        take[k] += 1
    for k in names:  # every stratum once while the budget allows: from the stratum that has the most
        if take[k] == 0 and want >= len(names):
            take[max(names, key=lambda j: (take[j], j))] -= 1
            take[k] = 1
    rng = random.Random(seed)
    chosen = [i for k in names for i in rng.sample(groups[k], min(take[k], len(groups[k])))]
    return sorted(chosen)


def subset_docs(benchmark: str, ds: Any, strata: Sequence[Any]) -> Any:
    """`ds` (a datasets.Dataset with a doc_id column) cut to the active subset, doc_ids renumbered in order (lmms-eval
    numbers the documents it is given); unchanged without an active subset."""
    _full_size[benchmark] = len(ds)
    if benchmark not in _subset:
        return ds
    limit, seed = _subset[benchmark]
    ds = ds.select(stratified_indices(strata, limit, seed))
    return ds.remove_columns("doc_id").add_column("doc_id", list(range(len(ds))))


def full_size(benchmark: str) -> int | None:
    """Documents the benchmark had before the last subset was taken (None before any load)."""
    return _full_size.get(benchmark)
