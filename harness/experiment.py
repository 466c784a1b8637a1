"""`future-l1 experiment latent-vs-text`: does latent SFT beat text-only SFT? A minutes-long offline experiment.

It runs the product's own pipeline end to end, with no side paths:

1. data: the toy VEP task (`future_l1.tasks.toy_vep`): Future-L1-50K Format A training records
   (`future_l1.training.toy_data`) and FutureBench-schema evaluation sets for the val and test splits (disjoint seeds);
2. SFT (`future_l1.training.sft.run_sft`) of the tiny Qwen3-VL (`model.tiny`), per seed, twice on the same data, text
   and steps: (a) latent SFT (the future frame becomes a latent span aligned to the frozen encoder's embedding,
   λ > 0) and (b) text-only SFT (the paper's baseline: reasoning frame dropped, λ = 0). The tiny model gets the
   pretrained toy vision encoder (`training.toy_vision`; a real checkpoint's encoder knows where things are, a random
   one does not), frozen as in the paper, and a vocabulary pruned to the toy's texts (`model.pruned_vocab`; they
   segment as with the full Qwen vocabulary, and the output head, most of an SFT step, shrinks 130-fold); SFT
   shows the question clip as the evaluation's video
   (`question_video_fps`). Arms train in parallel processes, one thread each (`train_all`);
3. evaluation through the harness (`Runner`, one run directory per model, task `futurebench_future_l1` pointed at the
   toy set through FUTURE_L1_FUTUREBENCH_DIR) of (a), (b), (c) = (a) with latent decoding off, (d) the answer prior;
4. report: the leaderboard and plots (`reports.render.write_report`), latent-space maps of (a)'s saved latents
   (`reports.latent_maps`), and the paired comparisons (a) − (b) and (a) − (c) per seed and pooled over seeds
   (`reports.compare`: bootstrap interval, McNemar p), and the probes of `harness.imagination` (does (a) answer from
   the future frame, does it imagine it, do (a) and (b) carry the future in their hidden state before the span), in
   `<out>/report/experiment.md` and `result.json`.

Every stage resumes: a finished checkpoint or run is reused when the command is run again. `--quick` is the CI mode
(one seed, small sets); the default full mode is what the README reports. `--split val` evaluates on the validation
split, the only split used to choose the task, sizes, λ and L_max.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from future_l1.model.cli_args import count, number

TASK = "futurebench_future_l1"
VARIANTS = ("latent", "text", "latent_off")  # (a), (b), (c); (d) is the answer prior
PRIOR = "answer_prior"
LABELS = {
    "latent": "(a) latent SFT",
    "text": "(b) text-only SFT",
    "latent_off": "(c) latent SFT, latent decoding off",
    PRIOR: "(d) answer prior",
}


@dataclass(frozen=True)
class Settings:
    """One experiment configuration. Sizes are per split; `seeds` are SFT seeds (init, data order, dropout)."""

    n_train: int
    n_val: int
    n_test: int
    seeds: tuple[int, ...]
    steps: int
    batch_size: int = 4
    learning_rate: float = 1e-2
    latent_lambda: float = 0.1
    max_latent_token: int = 4
    question_pixels: int = 128 * 128  # a 64x64 frame is shown at 128x128: 16 merged tokens per frame
    toy_vision: bool = True  # the pretrained toy encoder (training.toy_vision); False: the tiny model's random one
    question_video: bool = True  # SFT shows question frames as the evaluation's video (False: as images, Format A)
    toy_vocabulary: bool = True  # the tiny model's vocabulary pruned to the toy's texts (False: all 151,936 rows)
    eval_batch_size: int = 32
    sft_workers: int = 2  # SFT processes at once, one thread each (results do not depend on it)

    def tag(self, variant: str = "latent") -> str:
        """A short name of everything that changes a checkpoint of `variant` (so different settings never share one;
        the text-only arm ignores λ and L_max, so a λ / L_max sweep reuses its checkpoints)."""
        lr = f"{self.learning_rate:g}".replace(".", "p").replace("-", "m")
        from future_l1.tasks.toy_vep import EVAL_VERSION
        from future_l1.training.toy_vision import VERSION

        base = f"{EVAL_VERSION.removeprefix('toy_vep_')}-n{self.n_train}-st{self.steps}-b{self.batch_size}-lr{lr}" + (
            f"-vis{VERSION}" if self.toy_vision else ""
        )
        base += "-qvid" if self.question_video else ""
        if self.toy_vocabulary:  # named by its texts' hash: a changed vocabulary never reuses a checkpoint
            from future_l1.model.processor import domain_name
            from future_l1.tasks.toy_vep import vocabulary_domain

            base += f"-voc{domain_name(vocabulary_domain())[:6]}"
        if variant == "text":
            return f"{base}-px{self.question_pixels}"
        lam = f"{self.latent_lambda:g}".replace(".", "p")
        return f"{base}-lam{lam}-L{self.max_latent_token}-px{self.question_pixels}"


MODES = {
    "quick": Settings(n_train=96, n_val=32, n_test=32, seeds=(0,), steps=24),
    "full": Settings(n_train=1000, n_val=300, n_test=300, seeds=(0, 1, 2), steps=600, batch_size=16),
}


@dataclass
class ExperimentResult:
    out: Path
    split: str
    settings: Settings
    accuracy: dict = field(default_factory=dict)  # label -> {"acc", "ci", "n", "per_seed"}
    comparisons: list = field(default_factory=list)  # dicts of reports.compare.PairedResult + "scope"
    runs: dict = field(default_factory=dict)  # variant -> {seed: run dir}
    seconds: dict = field(default_factory=dict)
    maps: list = field(default_factory=list)
    latent_spread: dict = field(default_factory=dict)  # seed -> share of (a)'s latent variance that varies by clip
    probes: dict = field(default_factory=dict)  # seed -> harness.imagination's probes (probe_latent_model)
    checkpoints: dict = field(default_factory=dict)  # seed -> (a)'s checkpoint
    text_checkpoints: dict = field(default_factory=dict)  # seed -> (b)'s checkpoint
    train_file: Path | None = None


# ---------------------------------------------------------------------------------------------------------------
# Stages


def _complete(path: Path) -> bool:
    return (path / ".complete").exists()


def _build_once(path: Path, build) -> Path:
    """`build(tmp)` into a sibling folder, renamed into place when done (a killed build is redone)."""
    if _complete(path):
        return path
    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    build(tmp)
    (tmp / ".complete").write_text("ok\n")
    shutil.rmtree(path, ignore_errors=True)
    tmp.rename(path)
    return path


def prepare_data(out: Path, s: Settings, split: str) -> tuple[Path, Path]:
    """(train.json, eval folder) under out/data, built once."""
    from future_l1.tasks.toy_vep import EVAL_VERSION, build_eval_set
    from future_l1.training.toy_data import build_train_set

    train_dir = _build_once(out / "data" / f"train-{s.n_train}-{EVAL_VERSION}", lambda d: build_train_set(d, s.n_train))
    n_eval = s.n_val if split == "val" else s.n_test
    eval_dir = _build_once(
        out / "data" / f"{split}-{n_eval}-{EVAL_VERSION}", lambda d: build_eval_set(d, split, n_eval)
    )
    return train_dir / "train.json", eval_dir


def base_checkpoint(seed: int, pixels: int, *, vision: bool = True, toy_vocabulary: bool = True) -> Path:
    """The untrained tiny Qwen3-VL of `seed`, its image processor showing question frames at `pixels` pixels; with
    `vision`, its random encoder replaced by the pretrained toy encoder (`training.toy_vision`); with
    `toy_vocabulary`, its vocabulary pruned to the toy's texts (`tasks.toy_vep.vocabulary_domain`: 1,106 tokens, which
    segment every toy text as the full Qwen vocabulary does, so the output head is 130 times smaller)."""
    from future_l1.model.cache import cached_dir
    from future_l1.model.processor import domain_name
    from future_l1.model.tiny import tiny_checkpoint_dir
    from future_l1.tasks.toy_vep import vocabulary_domain

    domain = vocabulary_domain() if toy_vocabulary else None

    def build(out: Path) -> None:
        shutil.copytree(
            tiny_checkpoint_dir(seed, domain), out, ignore=shutil.ignore_patterns(".complete"), dirs_exist_ok=True
        )
        path = out / "processor_config.json"
        config = json.loads(path.read_text())
        config["image_processor"]["size"] = {"shortest_edge": pixels, "longest_edge": pixels}
        path.write_text(json.dumps(config, indent=2) + "\n")
        if vision:
            from transformers import Qwen3VLForConditionalGeneration

            from future_l1.training.toy_vision import load_toy_vision

            model = Qwen3VLForConditionalGeneration.from_pretrained(out)
            load_toy_vision(model)
            model.save_pretrained(out)

    name = f"toy-vep-base-seed{seed}-px{pixels}" + (f"-domain-{domain_name(domain)}" if domain else "")
    if not vision:
        return cached_dir(name, build)
    from future_l1.training.toy_vision import pretrained_toy_vision

    return cached_dir(f"{name}-{pretrained_toy_vision().name}", build)


def train(out: Path, s: Settings, variant: str, seed: int, train_file: Path) -> Path:
    """SFT checkpoint of `variant` ("latent" or "text") and `seed`, trained once."""
    from future_l1.tasks.toy_vep import FPS
    from future_l1.training.config import load_config
    from future_l1.training.sft import run_sft

    def build(ckpt: Path) -> None:
        import torch

        values = {
            "model_name_or_path": str(
                base_checkpoint(seed, s.question_pixels, vision=s.toy_vision, toy_vocabulary=s.toy_vocabulary)
            ),
            "train_file": str(train_file),
            "output_dir": str(ckpt), "use_cpu": not torch.cuda.is_available(), "max_steps": s.steps,
            "per_device_train_batch_size": s.batch_size, "gradient_accumulation_steps": 1,
            "learning_rate": s.learning_rate, "warmup_steps": 0.05, "lr_scheduler_type": "cosine",
            "weight_decay": 0.0, "seed": seed, "data_seed": seed, "logging_steps": min(10, s.steps), "dataloader_num_workers": 0,
            "max_latent_token": s.max_latent_token, "latent_lambda": s.latent_lambda,
            "text_only": variant == "text", "report_to": "none", "disable_tqdm": s.sft_workers > 1,
            "encoded_cache_records": s.n_train,  # 6+ epochs over 1000 records: encode each once (0.5 GB; same result)
        }  # fmt: skip
        if s.question_video:  # train on the layout evaluation feeds: the question snapshots as one video clip
            values["question_video_fps"] = FPS
        run_sft(load_config(None, **values))
        # Spans are decoded with the fixed budget of L_max steps, the span length SFT shows (as the demo model does:
        # SFT never supervises where a span ends, so in loose mode a tiny model closes every span at once).
        cfg_path = ckpt / "config.json"
        config = json.loads(cfg_path.read_text())
        config["fixed_latent_budget"] = True
        cfg_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")

    return _build_once(out / "checkpoints" / s.tag(variant) / f"{variant}-s{seed}", build)


def _train_one_thread(out: Path, s: Settings, variant: str, seed: int, train_file: Path) -> Path:
    """`train` on one CPU thread: the tiny model gains almost nothing from a second thread, and a fixed thread count
    keeps the checkpoints bit-identical on machines with any number of cores."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return train(out, s, variant, seed, train_file)
    finally:
        torch.set_num_threads(threads)


def train_all(out: Path, s: Settings, train_file: Path, on_done=lambda: None) -> dict[int, dict[str, Path]]:
    """Both SFT arms of every seed, `s.sft_workers` processes at a time (spawned, one thread each)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    for seed in s.seeds:  # build the cached base checkpoints (and the toy encoder) once, before any worker needs them
        base_checkpoint(seed, s.question_pixels, vision=s.toy_vision, toy_vocabulary=s.toy_vocabulary)
    jobs = [(seed, variant) for seed in s.seeds for variant in ("latent", "text")]
    done: dict[int, dict[str, Path]] = {seed: {} for seed in s.seeds}
    if s.sft_workers <= 1:
        for seed, variant in jobs:
            done[seed][variant] = _train_one_thread(out, s, variant, seed, train_file)
            on_done()
        return done
    context = multiprocessing.get_context("spawn")  # no forked torch thread pools
    with ProcessPoolExecutor(max_workers=s.sft_workers, mp_context=context) as pool:
        futures = {pool.submit(_train_one_thread, out, s, v, seed, train_file): (seed, v) for seed, v in jobs}
        for future in as_completed(futures):
            seed, variant = futures[future]
            done[seed][variant] = future.result()
            on_done()
    return done


@contextlib.contextmanager
def futurebench_data(path: Path) -> Iterator[None]:
    """Point the futurebench tasks at `path` (FUTURE_L1_FUTUREBENCH_DIR, the tasks' one data setting)."""
    from future_l1.tasks.settings import FUTUREBENCH_ENV

    saved = os.environ.get(FUTUREBENCH_ENV)
    os.environ[FUTUREBENCH_ENV] = str(path)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(FUTUREBENCH_ENV, None)
        else:
            os.environ[FUTUREBENCH_ENV] = saved


def suite_for(name: str, label: str, model: str, args: dict, s: Settings) -> dict:
    # <reason>…</reason>, a span of L_max steps, <answer>X</answer>; the same for every arm: the generation settings
    # are part of each sample's hash, by which `reports.compare` pairs the items of two runs
    max_new = 40 + s.max_latent_token
    return {
        "name": name,
        "include_path": ["future_l1.tasks"],
        "models": [{"label": label, "model": model, "args": args}],
        "tasks": [{"name": TASK, "gen_kwargs": {"max_new_tokens": max_new}}],
        "settings": {"chunk_size": s.eval_batch_size},
    }


def evaluate(out: Path, s: Settings, split: str, eval_dir: Path, name: str, label: str, model: str, args: dict) -> Path:
    """Run a one-model suite through the harness (resumable); returns the run directory."""
    import yaml

    from future_l1.harness.runner import Runner
    from future_l1.harness.suite import load_suite, validated_and_resolved

    suite_path = out / "suites" / f"{name}.yaml"
    suite_path.parent.mkdir(parents=True, exist_ok=True)
    suite_path.write_text(yaml.safe_dump(suite_for(name, label, model, args, s), sort_keys=False))
    with futurebench_data(eval_dir):
        suite = load_suite(suite_path)
        job = Runner(suite, out / "runs", run_id=name, resolved=validated_and_resolved(suite))
        outcome = job.execute()
    if outcome.failures:
        raise RuntimeError(f"evaluation {name} failed: {'; '.join(outcome.failures)}")
    return outcome.run_dir


def model_args(s: Settings, ckpt: Path, *, latent: bool, latents_dir: Path | None) -> dict:
    args = {
        "pretrained": str(ckpt), "latent": latent, "batch_size": s.eval_batch_size, "max_num_frames": 4,
        "min_pixels": s.question_pixels, "max_pixels": s.question_pixels,
    }  # fmt: skip
    if latents_dir is not None:
        args["save_latents"] = str(latents_dir)
    return args


# ---------------------------------------------------------------------------------------------------------------
# Comparison


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
    """`harness.imagination`'s probes for one seed: (a) reading the true future frame, imagining it, and answering
    from what it imagined (the swap control); (a) and (b) carrying the future in their hidden state before the span."""
    from future_l1.harness.imagination import future_in_hidden, imagining, reading, swapping
    from future_l1.tasks.toy_vep import FPS

    fps = FPS if res.settings.question_video else None
    latents = res.out / "latents" / Path(res.runs["latent"][seed]).name
    hidden = {"latent": future_in_hidden(ckpt, res.train_file, text_only=False, question_video_fps=fps)}
    if seed in res.text_checkpoints:
        hidden["text"] = future_in_hidden(res.text_checkpoints[seed], res.train_file, text_only=True,
                                          question_video_fps=fps)  # fmt: skip
    return {"reading": reading(ckpt, res.train_file, question_video_fps=fps),
            "imagining": imagining(ckpt, latents, res.split), "future_in_hidden": hidden,
            "swapping": swapping(ckpt, latents, res.split, question_video_fps=fps)}  # fmt: skip


def summarise(res: ExperimentResult) -> None:
    from future_l1.reports.compare import compare_results
    from future_l1.reports.readers import read_results

    per_variant = {v: [(seed, read_results([run])[0]) for seed, run in runs.items()] for v, runs in res.runs.items()}
    for variant, results in per_variant.items():
        pooled = _pooled(results, LABELS[variant])
        acc, ci, n = _accuracy(pooled)
        res.accuracy[variant] = {
            "label": LABELS[variant], "acc": acc, "ci": ci, "n": n,
            "per_seed": {str(seed): _accuracy(r)[0] for seed, r in results},
        }  # fmt: skip
    for seed, run in res.runs["latent"].items():
        spread = latent_spread(res.out / "latents" / Path(run).name)
        if spread is not None:
            res.latent_spread[str(seed)] = round(spread, 6)
    for seed, ckpt in res.checkpoints.items():
        res.probes[str(seed)] = probe_latent_model(res, seed, ckpt)
    for base, other in (("text", "latent"), ("latent_off", "latent")):  # B − A = (a) − (b), (a) − (c)
        a_runs, b_runs = per_variant[base], per_variant[other]
        scopes = [(f"seed {sa}", [ra], [rb]) for (sa, ra), (_, rb) in zip(a_runs, b_runs, strict=True)]
        if len(a_runs) > 1:
            pooled_a, pooled_b = _pooled(a_runs, LABELS[base]), _pooled(b_runs, LABELS[other])
            scopes.append((f"pooled over {len(a_runs)} seeds", [pooled_a], [pooled_b]))
        for scope, side_a, side_b in scopes:
            for row in compare_results(side_a, side_b):
                res.comparisons.append({"scope": scope, **asdict(row)})


def probe_table(probes: dict) -> list[str]:
    """Markdown lines for `harness.imagination`'s probes, one row per seed."""

    def pct(x) -> str:
        return "–" if x is None else f"{100 * x:.1f}"

    def px(x) -> str:
        return "–" if x is None else f"{x:.1f}"

    def errors(d: dict, key: str) -> str:
        return ", ".join(f"{x:.2f}" for x in d.get(key) or []) or "–"

    lines = [
        "Probes of (a) (`harness/imagination.py`). Training items, teacher-forced: does it answer from the future "
        "frame SFT feeds it, and how well does each latent step predict its target (the first needs the dynamics; "
        "later ones can copy the fed frame)? Evaluated items: does it imagine the frame (fed-back vectors vs the true "
        "frame's tokens; the ball's centre a read-out fitted on true frames finds in them, and the answer that centre "
        "gives)?",
        "",
        "| seed | answers right, own frame fed % | another item's frame fed % | teacher-forced squared error per step "
        "| same, each step's mean | imagined vs true, squared error per step | same, each step's mean "
        "| centre off by, true / imagined frame (px) | answer from the true frame % | answer from the imagined frame % |",
        "|---|---:|---:|---|---|---|---|---|---:|---:|",
    ]
    for seed, p in probes.items():
        r, m = p["reading"], p["imagining"] or {}
        lines.append(
            f"| {seed} | {pct(r['own_frame'])} | {pct(r['another_items_frame'])} "
            f"| {errors(r, 'squared_error_per_step')} | {errors(r, 'squared_error_of_the_step_mean')} "
            f"| {errors(m, 'squared_error_per_step')} | {errors(m, 'squared_error_of_the_step_mean')} "
            f"| {px(m.get('centre_error_px_true_frame'))} / {px(m.get('centre_error_px_imagined_frame'))} "
            f"| {pct(m.get('answer_from_true_frame'))} | {pct(m.get('answer_from_imagined_frame'))} |"
        )
    swaps = {seed: p["swapping"] for seed, p in probes.items() if p.get("swapping")}
    if swaps:
        lines += [
            "",
            "Does (a) answer from what it imagined? Evaluated items, teacher-forced with the latents (a) fed back for "
            "them at inference, and with those it fed back for the next item, whose answer always differs. A model "
            "that answers from the imagined content follows the other clip's answer.",
            "",
            "| seed | items | right, own imagined latents % | right, another clip's % | gave the other clip's answer % "
            "| answer changed % |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for seed, w in swaps.items():
            lines.append(
                f"| {seed} | {w['items']} | {pct(w['own_imagined'])} | {pct(w['other_clips_imagined'])} "
                f"| {pct(w['other_clips_answer_given'])} | {pct(w['answer_changed'])} |"
            )
    hidden = {seed: p["future_in_hidden"] for seed, p in probes.items() if p.get("future_in_hidden")}
    if hidden:

        def r2(d: dict | None, key: str) -> str:
            return ", ".join(f"{x:.2f}" for x in (d or {}).get(key, [])[1:]) or "–"

        lines += [
            "",
            "Where the future is before any latent: R² of a linear read-out (fitted on half of the training items, "
            "scored on the other half) of the ball's centre from the hidden state at the end of the reason text, "
            "layers 1 to last. Both arms can read the last snapshot there; a model that works out the future from the "
            "question also carries the asked frame's centre.",
            "",
            "| seed | (a) last snapshot | (a) asked frame | (b) last snapshot | (b) asked frame |",
            "|---|---|---|---|---|",
        ]
        for seed, h in hidden.items():
            a, b = h.get("latent"), h.get("text")
            lines.append(
                f"| {seed} | {r2(a, 'r2_last_snapshot_centre')} | {r2(a, 'r2_future_centre')} "
                f"| {r2(b, 'r2_last_snapshot_centre')} | {r2(b, 'r2_future_centre')} |"
            )
    return lines


def markdown(res: ExperimentResult) -> str:
    s = res.settings
    lines = [
        f"## Toy VEP: latent SFT vs text-only SFT ({res.split} split)",
        "",
        f"Settings: {s.n_train} training items, {s.n_test if res.split == 'test' else s.n_val} {res.split} items, "
        f"seeds {list(s.seeds)}, {s.steps} steps × batch {s.batch_size}, lr {s.learning_rate:g}, "
        f"λ = {s.latent_lambda:g}, L_max = {s.max_latent_token}; vision encoder: "
        f"{'pretrained toy encoder' if s.toy_vision else 'random'}; question frames in SFT: "
        f"{'video (the evaluation layout)' if s.question_video else 'images (Future-L1-50K layout)'}; vocabulary: "
        f"{'pruned to the toy texts' if s.toy_vocabulary else 'full Qwen (151,936 rows)'}.",
        "",
        "| model | accuracy % [95% CI] | n | per seed |",
        "|---|---:|---:|---|",
    ]
    for v in (*VARIANTS, PRIOR):
        a = res.accuracy.get(v)
        if not a:
            continue
        ci = f" [{a['ci'][0]:.1f}, {a['ci'][1]:.1f}]" if a["ci"] else ""
        seeds = ", ".join(f"{k}: {x:.1f}" for k, x in a["per_seed"].items())
        lines.append(f"| {a['label']} | {a['acc']:.1f}{ci} | {a['n']} | {seeds} |")
    lines += [
        "",
        "Paired differences (B − A, percentage points; bootstrap 95% CI over paired items; McNemar p):",
        "",
        "| comparison | scope | split | n | A % | B % | B − A [95% CI] | only A ✓ | only B ✓ | McNemar p |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in res.comparisons:
        ci = f" [{c['ci_low']:+.1f}, {c['ci_high']:+.1f}]" if c["ci_low"] is not None else ""
        name = f"{c['model_b']} − {c['model_a']}"
        lines.append(
            f"| {name} | {c['scope']} | {c['split']} | {c['n_shared']} | {c['value_a']:.1f} | {c['value_b']:.1f} | "
            f"{c['diff']:+.1f}{ci} | {c['a_only_correct']} | {c['b_only_correct']} | {c['p_value']:.3g} |"
        )
    if res.latent_spread:
        spread = ", ".join(f"seed {k}: {v:.4f}" for k, v in res.latent_spread.items())
        lines += ["", f"Clip dependence of (a)'s latents (share of their variance not explained by the span step; "
                      f"0 = the same imagined frame for every clip): {spread}."]  # fmt: skip
    if res.probes:
        lines += ["", *probe_table(res.probes)]
    lines += ["", "Run directories (compare any two with `future-l1 report compare RUN_A RUN_B`):", ""]
    for variant, runs in res.runs.items():
        for seed, run in runs.items():
            lines.append(f"- {variant} seed {seed}: `{run}`")
    lines += ["", "Timings (s): " + ", ".join(f"{k} {v:.0f}" for k, v in res.seconds.items())]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------------------------
# The experiment


def run_experiment(out: Path, settings: Settings, *, split: str = "test", report: bool = True) -> ExperimentResult:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    from tqdm.auto import tqdm

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    res = ExperimentResult(out=out, split=split, settings=settings, runs={v: {} for v in VARIANTS})
    start = time.time()
    train_file, eval_dir = prepare_data(out, settings, split)
    res.seconds["data"] = time.time() - start

    stages = tqdm(total=len(settings.seeds) * 5 + 1, desc="experiment latent-vs-text", unit="stage")
    t_eval = 0.0
    stages.set_postfix_str(f"SFT, {settings.sft_workers} at a time")
    t0 = time.time()
    trained = train_all(out, settings, train_file, on_done=lambda: stages.update())
    t_train = time.time() - t0
    res.train_file = train_file
    for seed in settings.seeds:
        ckpts = trained[seed]
        res.checkpoints[seed] = ckpts["latent"]
        res.text_checkpoints[seed] = ckpts["text"]
        for variant in VARIANTS:
            stages.set_postfix_str(f"eval {variant} seed {seed}")
            t0 = time.time()
            ckpt = ckpts["text" if variant == "text" else "latent"]
            name = f"{split}-{settings.tag()}-{variant}-s{seed}"
            latents = out / "latents" / name if variant == "latent" else None
            args = model_args(settings, ckpt, latent=variant == "latent", latents_dir=latents)
            label = f"{variant}_s{seed}"
            res.runs[variant][seed] = evaluate(out, settings, split, eval_dir, name, label, "future_l1", args)
            t_eval += time.time() - t0
            stages.update()
    stages.set_postfix_str("eval answer prior")
    t0 = time.time()
    prior = evaluate(out, settings, split, eval_dir, f"{split}-{settings.tag()}-prior", PRIOR, PRIOR,
                     {"strategy": "most_frequent"})  # fmt: skip
    res.runs[PRIOR] = {"-": prior}
    t_eval += time.time() - t0
    stages.update()
    stages.close()
    res.seconds.update(sft=t_train, eval=t_eval)

    t0 = time.time()
    summarise(res)
    if report:
        write_experiment_report(res)
    res.seconds["report"] = time.time() - t0
    res.seconds["total"] = time.time() - start
    _write_summary(res)
    return res


def write_experiment_report(res: ExperimentResult) -> Path:
    from future_l1.reports.render import write_report

    report_dir = res.out / "report" / f"{res.split}-{res.settings.tag()}"
    runs = [run for variant in res.runs.values() for run in variant.values()]
    report = write_report(runs, report_dir, published=False)  # leaderboard, plots, latent maps of (a)
    res.maps = [str(p) for p in report.files if p.name.startswith("latent_map_") and p.suffix == ".png"]
    return report_dir


def _write_summary(res: ExperimentResult) -> None:
    report_dir = res.out / "report" / f"{res.split}-{res.settings.tag()}"
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "experiment.md").write_text(markdown(res), encoding="utf-8")
    data = {
        "split": res.split,
        "settings": asdict(res.settings),
        "accuracy": res.accuracy,
        "comparisons": res.comparisons,
        "runs": {v: {str(k): str(p) for k, p in runs.items()} for v, runs in res.runs.items()},
        "seconds": {k: round(v, 1) for k, v in res.seconds.items()},
        "maps": res.maps,
        "latent_spread": res.latent_spread,
        "probes": res.probes,
    }
    if res.settings.toy_vision:
        from future_l1.training.toy_vision import pretrained_toy_vision

        data["vision_encoder"] = json.loads((pretrained_toy_vision() / "pretraining.json").read_text())
    (report_dir / "result.json").write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")


# ---------------------------------------------------------------------------------------------------------------
# CLI


def register(subparsers: argparse._SubParsersAction) -> None:
    exp = subparsers.add_parser("experiment", help="research experiments that run the whole pipeline offline")
    sub = exp.add_subparsers(dest="experiment", metavar="EXPERIMENT")
    p = sub.add_parser(
        "latent-vs-text",
        help="toy VEP task: latent SFT vs text-only SFT vs latent decoding off vs answer prior, with intervals",
        description=__doc__.split("\n\n")[0],
    )
    p.add_argument("--quick", action="store_true", help="CI mode: one seed, small sets (a few minutes on 2 cores)")
    p.add_argument("--out", type=Path, default=Path("experiments/latent-vs-text"), help="output folder")
    p.add_argument("--split", choices=("val", "test"), default="test", help="evaluate on val (tuning) or test")
    # typed values (future_l1.model.cli_args): `--steps 0` or a NaN λ is one error line before any work starts
    p.add_argument("--seeds", type=count(0), nargs="+", help="SFT seeds (override the mode's)")
    p.add_argument("--steps", type=count(1), help="SFT steps (override)")
    p.add_argument("--n-train", type=count(1), help="training items (override)")
    p.add_argument("--n-eval", type=count(1), help="items of the evaluated split (override)")
    p.add_argument("--latent-lambda", type=number(0), help="λ of latent SFT (override)")
    p.add_argument("--max-latent-token", type=count(1), help="L_max, latent tokens per future frame (override)")
    p.add_argument("--learning-rate", type=number(0, low_open=True), help="SFT learning rate (override)")
    p.add_argument("--batch-size", type=count(1), help="SFT batch size (override)")
    p.add_argument("--workers", type=count(1), help="SFT processes at once (default 2; one CPU thread each)")
    p.add_argument("--random-vision", action="store_true",
                   help="keep the tiny model's random vision encoder (the earlier, null setting) instead of the "
                        "pretrained toy encoder")  # fmt: skip
    p.add_argument("--question-images", action="store_true",
                   help="SFT shows the question snapshots as images (Future-L1-50K layout) instead of the "
                        "evaluation's video")  # fmt: skip
    p.add_argument("--full-vocabulary", action="store_true",
                   help="keep the tiny model's full 151,936-row Qwen vocabulary (an SFT step 6.4 times slower: "
                        "make bench) instead of the toy vocabulary")  # fmt: skip
    p.set_defaults(func=_command)
    exp.set_defaults(func=lambda args: (exp.print_help(), 2)[1])


def settings_from_args(args: argparse.Namespace) -> Settings:
    s = MODES["quick" if args.quick else "full"]
    overrides = {
        "seeds": tuple(args.seeds) if args.seeds else None, "steps": args.steps, "n_train": args.n_train,
        "latent_lambda": args.latent_lambda, "max_latent_token": args.max_latent_token,
        "learning_rate": args.learning_rate, "batch_size": args.batch_size, "sft_workers": args.workers,
    }  # fmt: skip
    if args.random_vision:
        overrides["toy_vision"] = False
    if args.question_images:
        overrides["question_video"] = False
    if args.full_vocabulary:
        overrides["toy_vocabulary"] = False
    if args.n_eval:
        overrides["n_val" if args.split == "val" else "n_test"] = args.n_eval
    return replace(s, **{k: v for k, v in overrides.items() if v is not None})


def _command(args: argparse.Namespace) -> int:
    res = run_experiment(args.out, settings_from_args(args), split=args.split)
    print(markdown(res))
    print(f"report: {res.out / 'report' / f'{res.split}-{res.settings.tag()}'}")
    return 0
