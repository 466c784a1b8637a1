"""The experiment's stages, in order, through the product's own pipeline: data, the untrained base checkpoints, SFT
of every trained arm, one harness run per model, then analysis and report (`run_experiment`).

Every stage resumes: a finished data set, checkpoint or run is reused when the command is run again.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from future_l1.harness.experiments.toy_vep.settings import (
    CHECKPOINT,
    LATENT_DECODED,
    PRIOR,
    TASK,
    ExperimentResult,
    Settings,
    interventions,
)

# ---------------------------------------------------------------------------------------------------------------
# Data


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
    from future_l1.harness.experiments.toy_vep.data import build_train_set
    from future_l1.harness.experiments.toy_vep.task import EVAL_VERSION, build_eval_set, write_future_clips
    from future_l1.tasks.future_frames import FUTURE_DIR

    train_dir = _build_once(out / "data" / f"train-{s.n_train}-{EVAL_VERSION}", lambda d: build_train_set(d, s.n_train))
    n_eval = s.n_val if split == "val" else s.n_test
    eval_dir = _build_once(
        out / "data" / f"{split}-{n_eval}-{EVAL_VERSION}", lambda d: build_eval_set(d, split, n_eval)
    )
    if not (eval_dir / FUTURE_DIR).is_dir():  # a set built before it had future clips (same items, same documents)
        write_future_clips(eval_dir, split, n_eval)
    return train_dir / "train.json", eval_dir


def arm_train_files(out: Path, s: Settings, train_file: Path) -> dict[str, Path]:
    """The training file of each trained arm, built once: the same items, videos and answers for every arm; the
    compute- and information-matched controls change only the reason text (`controls`)."""
    from future_l1.harness.experiments.toy_vep.controls import COT_VERSION, future_reason, pause_reason
    from future_l1.harness.experiments.toy_vep.data import build_train_set
    from future_l1.harness.experiments.toy_vep.task import EVAL_VERSION, REASON, TARGET

    reasons = {
        "pause": (f"pause{s.max_latent_token}", lambda item: pause_reason(REASON, s.max_latent_token)),
        "cot": (f"cot{COT_VERSION}", lambda item: future_reason(REASON, tuple(item.positions[TARGET]))),
    }
    files = {}
    for arm in s.arms:
        if arm not in reasons:
            files[arm] = train_file
            continue
        name, reason = reasons[arm]
        folder = out / "data" / f"train-{s.n_train}-{EVAL_VERSION}-{name}"
        files[arm] = _build_once(folder, lambda d, r=reason: build_train_set(d, s.n_train, reason=r)) / "train.json"
    return files


# ---------------------------------------------------------------------------------------------------------------
# SFT


def base_checkpoint(seed: int, pixels: int, *, vision: bool = True, toy_vocabulary: bool = True) -> Path:
    """The untrained tiny Qwen3-VL of `seed`, its image processor showing question frames at `pixels` pixels; with
    `vision`, its random encoder replaced by the pretrained toy encoder (`vision`); with `toy_vocabulary`, its
    vocabulary pruned to the toy's texts (`task.vocabulary_domain`: 1,106 tokens, which segment every toy text as the
    full Qwen vocabulary does, so the output head is 130 times smaller)."""
    from future_l1.harness.experiments.toy_vep.task import vocabulary_domain
    from future_l1.model.cache import cached_dir
    from future_l1.model.tiny import derive_tiny_checkpoint

    domain = vocabulary_domain() if toy_vocabulary else None

    def build(out: Path) -> None:
        derive_tiny_checkpoint(out, pixels=(pixels, pixels), seed=seed, domain=domain)
        if vision:
            from transformers import Qwen3VLForConditionalGeneration

            from future_l1.harness.experiments.toy_vep.vision import load_toy_vision

            model = Qwen3VLForConditionalGeneration.from_pretrained(out)
            load_toy_vision(model)
            model.save_pretrained(out)

    return cached_dir(base_checkpoint_name(seed, pixels, vision=vision, toy_vocabulary=toy_vocabulary), build)


def base_checkpoint_name(seed: int, pixels: int, *, vision: bool = True, toy_vocabulary: bool = True) -> str:
    """The base checkpoint's cache entry. Cache entries are found by name alone, so the name holds everything that
    changes the content: the seed, the pixels, the vocabulary's hash and the encoder's own name."""
    from future_l1.harness.experiments.toy_vep.task import vocabulary_domain
    from future_l1.harness.experiments.toy_vep.vision import cache_name
    from future_l1.model.processor import domain_name

    name = f"toy-vep-base-seed{seed}-px{pixels}"
    name += f"-domain-{domain_name(vocabulary_domain())}" if toy_vocabulary else ""
    return f"{name}-{cache_name()}" if vision else name


def train(out: Path, s: Settings, variant: str, seed: int, train_file: Path) -> Path:
    """SFT checkpoint of the trained arm `variant` (`settings.TRAINED`) and `seed`, trained once on `train_file` (the
    arm's own: `arm_train_files`)."""
    from future_l1.harness.experiments.toy_vep.task import FPS
    from future_l1.model.tiny import fix_latent_budget
    from future_l1.training.config import load_config
    from future_l1.training.sft import run_sft

    s = s.for_arm(variant)  # its own steps and learning rate, where tuned

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
            "text_only": variant != "latent", "report_to": "none", "disable_tqdm": s.sft_workers > 1,
            "encoded_cache_records": s.n_train,  # 6+ epochs over 1000 records: encode each once (0.5 GB; same result)
            "frozen_features": s.fast_sft, "shared_prefix": s.fast_sft,
        }  # fmt: skip
        if variant == "aux":  # (b) + the aux head, with (a)'s λ (the other arms' configs stay as they were)
            values["aux_latent_head"] = True
        if s.question_video:  # train on the layout evaluation feeds: the question snapshots as one video clip
            values["question_video_fps"] = FPS
        run_sft(load_config(None, **values))
        fix_latent_budget(ckpt)  # spans of L_max steps, the span length SFT shows (as the demo model's)

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
    """Every trained arm (`s.arms`) of every seed, `s.sft_workers` processes at a time (spawned, one thread each)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    for seed in s.seeds:  # build the cached base checkpoints (and the toy encoder) once, before any worker needs them
        base_checkpoint(seed, s.question_pixels, vision=s.toy_vision, toy_vocabulary=s.toy_vocabulary)
    files = arm_train_files(out, s, train_file)  # built here, before any worker reads them
    jobs = [(seed, variant) for seed in s.seeds for variant in s.arms]
    done: dict[int, dict[str, Path]] = {seed: {} for seed in s.seeds}
    if s.sft_workers <= 1:
        for seed, variant in jobs:
            done[seed][variant] = _train_one_thread(out, s, variant, seed, files[variant])
            on_done()
        return done
    context = multiprocessing.get_context("spawn")  # no forked torch thread pools
    with ProcessPoolExecutor(max_workers=s.sft_workers, mp_context=context) as pool:
        futures = {pool.submit(_train_one_thread, out, s, v, seed, files[v]): (seed, v) for seed, v in jobs}
        for future in as_completed(futures):
            seed, variant = futures[future]
            done[seed][variant] = future.result()
            on_done()
    return done


# ---------------------------------------------------------------------------------------------------------------
# Evaluation: one harness run per model


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


def model_args(s: Settings, ckpt: Path, *, latent: bool, latents_dir: Path | None,
               intervention: str | None = None) -> dict:  # fmt: skip
    args = {
        "pretrained": str(ckpt), "latent": latent, "batch_size": s.eval_batch_size, "max_num_frames": 4,
        "min_pixels": s.question_pixels, "max_pixels": s.question_pixels,
    }  # fmt: skip
    if latents_dir is not None:
        args["save_latents"] = str(latents_dir)
    if intervention is not None:  # uninformative latents at inference (model/interventions.py)
        args["latent_intervention"] = intervention
    return args


def evaluate(out: Path, s: Settings, eval_dir: Path, name: str, label: str, model: str, args: dict) -> Path:
    """Run a one-model suite through the harness on the toy set `eval_dir` (resumable); returns the run directory.
    The set reaches the task as an argument of `tasks.settings.active_data`, not through the environment."""
    import yaml

    from future_l1.harness.runner import Runner
    from future_l1.harness.suite import load_suite, validated_and_resolved
    from future_l1.tasks.settings import active_data

    suite_path = out / "suites" / f"{name}.yaml"
    suite_path.parent.mkdir(parents=True, exist_ok=True)
    suite_path.write_text(yaml.safe_dump(suite_for(name, label, model, args, s), sort_keys=False))
    with active_data(futurebench=eval_dir):
        suite = load_suite(suite_path)
        job = Runner(suite, out / "runs", run_id=name, resolved=validated_and_resolved(suite))
        outcome = job.execute()
    if outcome.failures:
        raise RuntimeError(f"evaluation {name} failed: {'; '.join(outcome.failures)}")
    return outcome.run_dir


# ---------------------------------------------------------------------------------------------------------------
# The experiment


def run_experiment(out: Path, settings: Settings, *, split: str = "test", report: bool = True) -> ExperimentResult:
    from tqdm.auto import tqdm

    from future_l1.harness.experiments.toy_vep.analysis import summarise
    from future_l1.harness.experiments.toy_vep.report import write_experiment_report, write_summary

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if "latent" not in settings.arms:
        raise ValueError("the experiment compares every arm with latent SFT: --arms must include latent")
    variants = settings.variants()
    res = ExperimentResult(out=out, split=split, settings=settings, runs={v: {} for v in variants})
    start = time.time()
    train_file, eval_dir = prepare_data(out, settings, split)
    res.seconds["data"] = time.time() - start

    stages = tqdm(total=len(settings.seeds) * (len(settings.arms) + len(variants)) + 1,
                  desc="experiment latent-vs-text", unit="stage")  # fmt: skip
    t_eval = 0.0
    stages.set_postfix_str(f"SFT, {settings.sft_workers} at a time")
    t0 = time.time()
    trained = train_all(out, settings, train_file, on_done=lambda: stages.update())
    t_train = time.time() - t0
    res.train_file = train_file
    for seed in settings.seeds:
        ckpts = trained[seed]
        res.checkpoints[seed] = ckpts["latent"]
        if "text" in ckpts:
            res.text_checkpoints[seed] = ckpts["text"]
        for variant in variants:
            stages.set_postfix_str(f"eval {variant} seed {seed}")
            t0 = time.time()
            ckpt = ckpts[CHECKPOINT[variant]]
            name = (
                f"{split}-{settings.tag(CHECKPOINT[variant])}-{variant}-s{seed}"  # named by the checkpoint it decodes
            )
            latents = out / "latents" / name if variant == "latent" else None
            # (c) is latent decoding off (`latent=false`: the model's own token choices inside a span, fed as token
            # embeddings), not an intervention: `budget:0` forces `<|latent_end|>` right after `<|latent_start|>`,
            # which is another arm than the published (c)
            args = model_args(settings, ckpt, latent=variant in LATENT_DECODED, latents_dir=latents,
                              intervention=interventions().get(variant))  # fmt: skip
            label = f"{variant}_s{seed}"
            res.runs[variant][seed] = evaluate(out, settings, eval_dir, name, label, "future_l1", args)
            t_eval += time.time() - t0
            stages.update()
    stages.set_postfix_str("eval answer prior")
    t0 = time.time()
    prior = evaluate(out, settings, eval_dir, f"{split}-{settings.tag()}-prior", PRIOR, PRIOR,
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
    write_summary(res)
    return res
