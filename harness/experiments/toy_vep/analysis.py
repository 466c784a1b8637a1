"""From the run directories to the numbers: accuracy per arm with intervals, pooled over seeds (item bootstrap) and
over seed means (Student t); the paired comparisons of (a) with every other arm, per seed and pooled
(`reports.compare`: bootstrap interval, McNemar p), and at the seed level (the per-seed differences, t interval); how
much (a)'s latents depend on the clip; and the probes of (a) (`probes`)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from future_l1.harness.experiments.toy_vep.settings import LABELS, PRIOR, TASK, ExperimentResult


def _pooled(results, label: str):
    """One RunResult holding every seed's samples, keyed seed:sample so the same item of two seeds stays apart."""
    from future_l1.reports.readers import RunResult

    samples = []
    for seed, r in results:
        for line in r.samples:
            line = dict(line)
            for key in ("sample_hash", "doc_hash"):
                if key in line:
                    line[key] = f"s{seed}:{line[key]}"
            line["doc_id"] = f"s{seed}:{line.get('doc_id')}"
            samples.append(line)
    first = results[0][1]
    return RunResult(model=label, task=first.task, metrics={}, origin="pooled", samples=samples)


def _accuracy(result) -> tuple[float, tuple[float, float] | None, int]:
    from future_l1.reports.stats import bootstrap_ci

    values = [100.0 * d["correct"] for d in result.sample_dicts()]
    return sum(values) / len(values), bootstrap_ci(values), len(values)


def latent_spread(latent_dir: Path, task: str = TASK) -> float | None:
    """The share of the latent vectors' total variance left after removing each span step's mean: 0 when every clip
    gets the same latents (the imagined frame ignores the video), larger when they depend on the clip. None for
    spans of one step."""
    import numpy as np

    from future_l1.reports.latent_maps import load_points

    points = load_points(latent_dir, task)
    if points is None or len(points.vectors) < 2 or len(np.unique(points.step)) < 2:
        return None  # with one step per span (L_max = 1) there is no step structure to remove
    x = points.vectors.astype(np.float64)
    total = ((x - x.mean(0)) ** 2).sum()
    within = sum(((x[points.step == k] - x[points.step == k].mean(0)) ** 2).sum() for k in np.unique(points.step))
    return float(within / total) if total > 0 else 0.0


def probe_latent_model(res: ExperimentResult, seed: int, ckpt: Path) -> dict:
    """The probes (`probes`) for one seed: (a) reading the true future frame, imagining it, and answering from what it
    imagined (the swap control); (a) and (b) carrying the future in their hidden state before the span."""
    from future_l1.harness.experiments.toy_vep.probes import future_in_hidden, imagining, reading, swapping
    from future_l1.harness.experiments.toy_vep.task import FPS

    fps = FPS if res.settings.question_video else None
    latents = res.out / "latents" / Path(res.runs["latent"][seed]).name
    hidden = {"latent": future_in_hidden(ckpt, res.train_file, text_only=False, question_video_fps=fps)}
    if seed in res.text_checkpoints:
        hidden["text"] = future_in_hidden(res.text_checkpoints[seed], res.train_file, text_only=True,
                                          question_video_fps=fps)  # fmt: skip
    return {"reading": reading(ckpt, res.train_file, question_video_fps=fps),
            "imagining": imagining(ckpt, latents, res.split), "future_in_hidden": hidden,
            "swapping": swapping(ckpt, latents, res.split, question_video_fps=fps)}  # fmt: skip


def seed_level(per_seed_a: dict[str, float], per_seed_b: dict[str, float]) -> dict:
    """(a) − arm at the seed level: the difference of the two arms' accuracies per seed (the same items, so the mean
    paired difference), their mean and its t interval over seeds (`reports.stats.t_interval`): the seeds, not the
    items, are the units, so it also holds the training runs' spread."""
    from future_l1.reports.stats import t_interval

    diffs = {seed: per_seed_a[seed] - per_seed_b[seed] for seed in per_seed_a if seed in per_seed_b}
    values = list(diffs.values())
    return {"per_seed": diffs, "mean": sum(values) / len(values) if values else None, "ci": t_interval(values)}


def summarise(res: ExperimentResult) -> None:
    from future_l1.reports.compare import compare_results
    from future_l1.reports.readers import read_results
    from future_l1.reports.stats import t_interval

    per_variant = {v: [(seed, read_results([run])[0]) for seed, run in runs.items()] for v, runs in res.runs.items()}
    for variant, results in per_variant.items():
        pooled = _pooled(results, LABELS[variant])
        acc, ci, n = _accuracy(pooled)
        per_seed = {str(seed): _accuracy(r)[0] for seed, r in results}
        res.accuracy[variant] = {
            "label": LABELS[variant], "acc": acc, "ci": ci, "n": n, "per_seed": per_seed,
            "seed_ci": t_interval(list(per_seed.values())) if variant != PRIOR else None,
        }  # fmt: skip
    for seed, run in res.runs["latent"].items():
        spread = latent_spread(res.out / "latents" / Path(run).name)
        if spread is not None:
            res.latent_spread[str(seed)] = round(spread, 6)
    for seed, ckpt in res.checkpoints.items():
        res.probes[str(seed)] = probe_latent_model(res, seed, ckpt)
    others = [v for v in per_variant if v not in ("latent", PRIOR)]
    for base in others:  # B − A = (a) − arm
        res.seed_level[base] = seed_level(res.accuracy["latent"]["per_seed"], res.accuracy[base]["per_seed"])
    for base, other in ((v, "latent") for v in others):
        a_runs, b_runs = per_variant[base], per_variant[other]
        scopes = [(f"seed {sa}", [ra], [rb]) for (sa, ra), (_, rb) in zip(a_runs, b_runs, strict=True)]
        if len(a_runs) > 1:
            pooled_a, pooled_b = _pooled(a_runs, LABELS[base]), _pooled(b_runs, LABELS[other])
            scopes.append((f"pooled over {len(a_runs)} seeds", [pooled_a], [pooled_b]))
        for scope, side_a, side_b in scopes:
            for row in compare_results(side_a, side_b):
                res.comparisons.append({"scope": scope, **asdict(row)})
