"""Per-arm settings search and the training-set-size sweep (issue 28): every trained arm at every point of a grid of
(steps, learning rate) on val, or at several training-set sizes on test, scored by the accuracy of its own checkpoint
(no probes, no report: one harness run per checkpoint). Every row is written to `<name>.json` and `<name>.md`, so the
README's tables list every run that chose a setting.

The selection rule is fixed before any run: an arm takes the grid point with the highest mean val accuracy over the
tuning seeds, ties going to fewer steps, then to the lower learning rate (less compute, smaller updates).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

from future_l1.harness.experiments.toy_vep.settings import LABELS, Settings

# (steps, learning rate); (600, 1e-2) was the setting before tuning. (1200, 3e-3) was added after the first four
# points, when four arms chose the largest step count and (b) the lower learning rate (README: every run is listed)
GRID = ((300, 1e-2), (600, 1e-2), (1200, 1e-2), (600, 3e-3), (1200, 3e-3))
TUNE_SEEDS = (0, 1)  # the tuning seeds; the test run uses the mode's seeds
SIZES = (250, 1000, 4000)  # the training-set-size sweep (items); each arm at its tuned steps and learning rate


@dataclass(frozen=True)
class Point:
    """One scored checkpoint."""

    arm: str
    seed: int
    n_train: int
    steps: int
    learning_rate: float
    split: str
    accuracy: float | None  # % of the split's items; None when its run failed
    n: int
    run: str


def _jobs(configs: list[Settings]) -> list[tuple[Settings, str, int]]:
    """Every (settings, arm, seed) to train, longest first so that the two workers finish together."""
    jobs = [(s, arm, seed) for s in configs for arm in s.arms for seed in s.seeds]
    return sorted(jobs, key=lambda j: -j[0].for_arm(j[1]).steps)


def train_grid(out: Path, configs: list[Settings], on_done=lambda: None) -> dict[tuple, Path]:
    """The checkpoints of every config's arms and seeds, `configs[0].sft_workers` spawned processes at a time (one
    thread each, as `pipeline.train_all`); a finished checkpoint is reused."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from future_l1.harness.experiments.toy_vep.pipeline import (
        _train_one_thread,
        arm_train_files,
        base_checkpoint,
        prepare_data,
    )

    files: dict[tuple, Path] = {}
    for s in configs:  # data, base checkpoints and each arm's training file before any worker needs them
        train_file, _ = prepare_data(out, s, "val")
        for seed in s.seeds:
            base_checkpoint(seed, s.question_pixels, vision=s.toy_vision, toy_vocabulary=s.toy_vocabulary)
        for arm, path in arm_train_files(out, s, train_file).items():
            files[(s, arm)] = path
    done: dict[tuple, Path] = {}
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=max(1, configs[0].sft_workers), mp_context=context) as pool:
        futures = {
            pool.submit(_train_one_thread, out, s, arm, seed, files[(s, arm)]): (s, arm, seed)
            for s, arm, seed in _jobs(configs)
        }
        for future in as_completed(futures):
            done[futures[future]] = future.result()
            on_done()
    return done


def score(out: Path, s: Settings, arm: str, seed: int, ckpt: Path, split: str) -> Point:
    """The accuracy of one arm's checkpoint on `split`, with its own decoding: latent decoding for (a), text for the
    rest (a failed run is a row with no accuracy, not a crash)."""
    from future_l1.harness.experiments.toy_vep.pipeline import evaluate, model_args, prepare_data
    from future_l1.reports.readers import read_results

    a = s.for_arm(arm)
    _, eval_dir = prepare_data(out, s, split)
    name = f"{split}-{s.tag(arm)}-{arm}-s{seed}-n{a.n_val if split == 'val' else a.n_test}"
    args = model_args(s, ckpt, latent=arm == "latent", latents_dir=None)
    try:
        run = evaluate(out, s, eval_dir, name, f"{arm}_s{seed}", "future_l1", args)
    except RuntimeError as e:
        print(f"{name}: {e}")
        return Point(arm, seed, s.n_train, a.steps, a.learning_rate, split, None, 0, name)
    samples = read_results([run])[0].sample_dicts()
    acc = 100.0 * sum(d["correct"] for d in samples) / len(samples)
    return Point(arm, seed, s.n_train, a.steps, a.learning_rate, split, acc, len(samples), str(run))


def run_grid(out: Path, configs: list[Settings], split: str, name: str) -> list[Point]:
    """Train and score every config's arms and seeds; writes `out/<name>.json` and `.md`."""
    from tqdm.auto import tqdm

    out = Path(out)
    t0 = time.time()
    bar = tqdm(total=sum(len(s.arms) * len(s.seeds) for s in configs), desc=f"{name}: SFT", unit="run")
    ckpts = train_grid(out, configs, on_done=bar.update)
    bar.close()
    t_train = time.time() - t0
    points = [score(out, s, arm, seed, ckpts[(s, arm, seed)], split) for s, arm, seed in
              tqdm(list(ckpts), desc=f"{name}: eval", unit="run")]  # fmt: skip
    seconds = {"sft": round(t_train, 1), "eval": round(time.time() - t0 - t_train, 1)}
    (out / f"{name}.json").write_text(json.dumps({"points": [p.__dict__ for p in points], "seconds": seconds},
                                                 indent=1) + "\n")  # fmt: skip
    (out / f"{name}.md").write_text("\n".join(table(points)) + "\n")
    return points


def tuning_configs(base: Settings, grid=GRID, seeds=TUNE_SEEDS) -> list[Settings]:
    return [replace(base, steps=st, learning_rate=lr, seeds=tuple(seeds), tuned=()) for st, lr in grid]


def size_configs(tuned: Settings, sizes=SIZES) -> list[Settings]:
    return [replace(tuned, n_train=n) for n in sizes]


def choose(points: list[Point]) -> dict[str, tuple[int, float]]:
    """arm -> (steps, learning rate) with the best mean accuracy over seeds (ties: fewer steps, then lower lr)."""
    means = _means(points)
    best: dict[str, tuple[int, float]] = {}
    for (arm, _n, steps, lr), (mean, _seeds) in sorted(means.items(), key=lambda kv: (kv[0][2], kv[0][3])):
        if mean is None:
            continue
        if arm not in best or mean > means[(arm, _n, *best[arm])][0]:
            best[arm] = (steps, lr)
    return best


def _means(points: list[Point]) -> dict[tuple, tuple[float | None, list[float | None]]]:
    groups: dict[tuple, list[float | None]] = {}
    for p in points:
        groups.setdefault((p.arm, p.n_train, p.steps, p.learning_rate), []).append(p.accuracy)
    return {k: (None if None in v else sum(v) / len(v), v) for k, v in groups.items()}


def table(points: list[Point]) -> list[str]:
    """A markdown table: one row per arm and setting, the per-seed accuracies and their mean."""
    rows = ["| arm | items | steps | lr | per seed % | mean % |", "|---|---:|---:|---:|---|---:|"]
    for (arm, n, steps, lr), (mean, per_seed) in sorted(_means(points).items()):
        seeds = ", ".join("failed" if a is None else f"{a:.1f}" for a in per_seed)
        rows.append(f"| {LABELS.get(arm, arm)} | {n} | {steps} | {lr:g} | {seeds} | "
                    f"{'–' if mean is None else f'{mean:.1f}'} |")  # fmt: skip
    return rows
