"""GPU smoke run of LA-DAPO: a few RL steps of a Qwen3-VL-2B-shaped (or 8B-shaped) model with random weights.

Runs the real `future-l1 train rl` stack (`LADAPOTrainer`: latent rollouts with our decoder, dynamic sampling, the
Eq. 7 reward, substitution forwards for the old/reference/policy log-probs, TRL's DAPO loss) in bf16 with gradient
checkpointing, on synthetic multiple-choice rows with one 448x448 image each. A random model never opens a latent
span on its own, so a logits processor opens two spans of L_max = 4 steps at the start of every completion; the
rest is sampled until `--max-new` tokens. Writes s/step, the rollout's share of the step and peak memory as JSON.

    python bench/rl_smoke.py --tiny                          # CPU, checks the script itself
    python bench/rl_smoke.py --shape 2b --rollout fast-compile,fast,eager --out bench/results/issue27/rl_2b.json

`--rollout` lists rollout engines run one after the other in this process on the same checkpoint and rows (issue
27: before and after in one run): `eager` = `LatentDecoder` (the earlier figures), `fast` = `FastLatentDecoder`
with CUDA graphs and continuous batching, `fast-compile` = the same with the decode layer compiled,
`fast-compile-unshared` = that engine before group sharing (each rollout prefilled, a full gc at each release).
The JSON holds one entry per engine under `runs`, plus the machine and library versions; it is rewritten after every
logged step.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent


def model_config(shape: str):
    spec = importlib.util.spec_from_file_location("sft_smoke", HERE / "sft_smoke.py")
    sft_smoke = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sft_smoke)
    cfg = sft_smoke.qwen3vl_2b_config(shape == "tiny")
    if shape == "8b":  # Qwen3-VL-8B geometry
        t, v = cfg.text_config, cfg.vision_config
        t.hidden_size, t.num_hidden_layers, t.num_attention_heads, t.num_key_value_heads = 4096, 36, 32, 8
        t.intermediate_size, t.tie_word_embeddings = 12288, False
        v.depth, v.hidden_size, v.num_heads, v.intermediate_size, v.out_hidden_size = 27, 1152, 16, 4304, 4096
        v.deepstack_visual_indexes = [8, 16, 24]
        cfg.tie_word_embeddings = False
    cfg.max_latent_token = 4
    cfg.fixed_latent_budget = True
    return cfg


class forced_spans:  # used like the function it was
    """Open a span at step 0 and right after each span end, until `n_spans` spans (fixed budget closes them).

    `graph_call` is the same rule on device tensors, so that the fast decoder captures it with the decode step."""

    def __init__(self, latent_ids, n_spans: int = 2, span: int = 4):
        self.start = latent_ids.start
        self.starts = sorted(i * (span + 2) for i in range(n_spans))
        self._starts_t: torch.Tensor | None = None

    def __call__(self, generated: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if generated.shape[1] in self.starts:
            scores = torch.full_like(scores, float("-inf"))
            scores[:, self.start] = 0.0
        return scores

    def graph_call(self, n_generated: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if self._starts_t is None or self._starts_t.device != scores.device:  # made at warm-up, before capture
            self._starts_t = torch.tensor(self.starts, device=scores.device)
        forced = torch.full_like(scores, float("-inf"))
        forced[:, self.start] = 0.0
        return torch.where(torch.isin(n_generated, self._starts_t)[:, None], forced, scores)


def machine() -> dict:
    import platform

    import transformers
    import trl

    info = {"python": platform.python_version(), "torch": torch.__version__, "cuda": torch.version.cuda,
            "transformers": transformers.__version__, "trl": trl.__version__, "host_cpus": __import__("os").cpu_count()}  # fmt: skip
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info.update(device=props.name, device_gib=round(props.total_memory / 2**30, 1))
    return info


def write_rows(folder: Path, n: int, side: int) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        path = folder / f"img{i}.png"
        Image.fromarray(rng.integers(0, 255, (side, side, 3), dtype=np.uint8)).save(path)
        rows.append({"id": f"p{i}", "problem": "<image>\nWhat happens next?\nA. It falls.\nB. It rises.\nC. It stops."
                     "\nD. It bounces.", "answer": "A", "problem_type": "multiple choice", "images": [path.name]})  # fmt: skip
    out = folder / "rows.json"
    out.write_text(json.dumps(rows))
    return out


ENGINES = {"eager": ("eager", False), "fast": ("fast", False), "fast-compile": ("fast", True),
           "fast-compile-unshared": ("fast", True)}  # fmt: skip


class unshared:  # used like a context manager
    """The fast engine as it was before group sharing (issue 27, 2026-12-06): every rollout prefilled on its own (a
    shallow copy per rollout breaks the shared sample object) and a full `gc.collect()` at each cache release."""

    def __enter__(self):
        import gc

        from future_l1.model import continuous
        from future_l1.training.rl.rollout import LatentRollout

        self.saved = (LatentRollout._fast, continuous._release)
        fast, release = self.saved
        LatentRollout._fast = lambda ro, model, flat, gen: fast(ro, model, [(g, dict(e)) for g, e in flat], gen)
        continuous._release = lambda device, collect=False: (gc.collect(), release(device))[1]
        return self

    def __exit__(self, *exc):
        from future_l1.model import continuous
        from future_l1.training.rl.rollout import LatentRollout

        LatentRollout._fast, continuous._release = self.saved


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", default="2b", choices=["tiny", "2b", "8b"])
    ap.add_argument("--tiny", action="store_true", help="same as --shape tiny, on CPU")
    ap.add_argument("--rollout", default="fast,eager", help=f"comma-separated engines, run in order: {list(ENGINES)}")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--prompts", type=int, default=2, help="prompts per step (x --n rollouts)")
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--max-new", type=int, default=256)
    ap.add_argument("--image-side", type=int, default=448)
    ap.add_argument("--beta", type=float, default=0.01)
    ap.add_argument("--out", default="rl_smoke.json")
    args = ap.parse_args()
    shape = "tiny" if args.tiny else args.shape
    engines = [e.strip() for e in args.rollout.split(",") if e.strip()]
    unknown = [e for e in engines if e not in ENGINES]
    if unknown or not engines:
        ap.error(f"--rollout: unknown engine(s) {unknown}; choose from {list(ENGINES)}")

    from transformers import Qwen3VLForConditionalGeneration

    from future_l1.model.checkpoint import save_future_l1_checkpoint
    from future_l1.model.processor import build_processor

    cuda = torch.cuda.is_available() and shape != "tiny"
    tmp = Path(tempfile.mkdtemp(prefix="rl-smoke-"))
    t0 = time.perf_counter()
    torch.manual_seed(0)
    cfg = model_config(shape)
    with torch.device("cuda" if cuda else "cpu"):
        model = Qwen3VLForConditionalGeneration(cfg).to(torch.bfloat16 if cuda else torch.float32)
    save_future_l1_checkpoint(model, build_processor(), tmp / "ckpt", max_latent_token=4, fixed_latent_budget=True)
    n_params = sum(p.numel() for p in model.parameters())
    del model
    if cuda:
        torch.cuda.empty_cache()
    rows = write_rows(tmp, args.prompts * (args.steps + 1), args.image_side)
    doc = {"shape": shape, "params_total": n_params, "machine": machine(), "checkpoint_s": round(time.perf_counter() - t0, 1),
           "command": "python bench/rl_smoke.py " + " ".join(__import__("sys").argv[1:]), "runs": {}}  # fmt: skip

    def write() -> None:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(doc, indent=1, default=float))

    for name in engines:
        try:
            with unshared() if name.endswith("-unshared") else contextlib.nullcontext():
                doc["runs"][name] = run_engine(
                    args, name, shape, cuda, tmp, rows, lambda r, n=name: (doc["runs"].__setitem__(n, r), write())
                )
        except Exception as exc:  # one engine failing must not lose the others' figures
            import traceback

            doc["runs"][name] = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-4000:]}
        write()
        import gc

        gc.collect()
        if cuda:
            torch.cuda.empty_cache()
    summary = {n: {k: r.get(k) for k in ("step_s_median_after_first", "rollout_share", "peak_mem_gib", "error")}
               for n, r in doc["runs"].items()}  # fmt: skip
    print(json.dumps({"shape": shape, **summary}, indent=1, default=float))


def run_engine(args, name: str, shape: str, cuda: bool, tmp: Path, rows: Path, on_log) -> dict:
    """Train `args.steps` LA-DAPO steps with rollout engine `name`; `on_log(result)` after every logged step."""
    from transformers import TrainerCallback

    from future_l1.training.rl.config import load_rl_config
    from future_l1.training.rl.run import build_trainer

    engine, compiled = ENGINES[name]
    t0 = time.perf_counter()
    rl = load_rl_config(
        None, model_name_or_path=str(tmp / "ckpt"), train_file=str(rows), output_dir=str(tmp / f"out-{name}"),
        max_steps=args.steps, per_device_train_batch_size=args.n, gradient_accumulation_steps=args.prompts,
        num_generations=args.n, max_completion_length=args.max_new, beta=args.beta, save_strategy="no",
        max_sampling_tries=1, rollout_batch_size=args.n * args.prompts, logging_steps=1, disable_tqdm=True,
        mini_batches=1,  # one rollout + one update per step, as in the recorded figures (LA-DAPO's default is 4)
        use_cpu=not cuda, min_pixels=args.image_side**2, max_pixels=args.image_side**2, seed=0,
        rollout_engine=engine, rollout_compile=compiled,
    )  # fmt: skip
    trainer, _ = build_trainer(rl)
    trainer.rollout.logits_processor = forced_spans(trainer.latent_ids)
    setup_s = time.perf_counter() - t0

    rollout_s: list[float] = []
    rollout_stats: list[dict] = []
    inner = trainer._rollout

    def timed_rollout(rows_):
        if cuda:
            torch.cuda.synchronize()
        t = time.perf_counter()
        out = inner(rows_)
        if cuda:
            torch.cuda.synchronize()
        rollout_s.append(time.perf_counter() - t)
        rollout_stats.append({k: round(float(v), 3) for k, v in trainer.rollout.last_stats.items()})
        return out

    trainer._rollout = timed_rollout
    step_s: list[float] = []

    class Timer(TrainerCallback):
        def on_step_begin(self, *a, **k):
            self.t = time.perf_counter()

        def on_step_end(self, *a, **k):
            if cuda:
                torch.cuda.synchronize()
            step_s.append(time.perf_counter() - self.t)

    def result() -> dict:
        hist = [h for h in trainer.history if "loss" in h]
        med = statistics.median(step_s[1:] or step_s) if step_s else None
        med_roll = statistics.median(rollout_s[1 : len(step_s)] or rollout_s) if rollout_s else None
        return {
            "engine": name, "rollout_engine": trainer.rollout.last_engine, "compile": compiled,
            "device": torch.cuda.get_device_name() if cuda else "cpu", "shape": shape,
            "dtype": "bfloat16" if cuda else "float32", "gradient_checkpointing": bool(rl.gradient_checkpointing),
            "prompts_per_step": args.prompts, "rollouts_per_prompt": args.n, "max_new_tokens": args.max_new,
            "image_side": args.image_side, "beta": args.beta, "setup_s": round(setup_s, 1),
            "step_s": [round(s, 3) for s in step_s], "rollout_s": [round(s, 3) for s in rollout_s],
            "step_s_median_after_first": round(med, 3) if med else None,
            "rollout_s_median_after_first": round(med_roll, 3) if med_roll else None,
            "rollout_share": round(med_roll / med, 3) if med and med_roll else None,
            "rollout_stats": rollout_stats,  # fast engine: slots, session GiB, capture / prefill / decode seconds
            "completion_tokens_mean": [h.get("completions/mean_length") for h in hist],
            "spans_per_sample": [h.get("latent/spans_per_sample") for h in hist],
            "peak_mem_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None,
            "loss": [h.get("loss") for h in hist], "kl": [h.get("kl") for h in hist],
            "complete": len(step_s) >= args.steps,
        }  # fmt: skip

    class Writer(TrainerCallback):
        def on_log(self, *a, **k):  # after each logged step: a killed run still leaves its figures
            on_log(result())

    trainer.add_callback(Timer())
    trainer.add_callback(Writer())
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    try:
        trainer.train()
        return result()
    finally:
        trainer._rollout = inner


if __name__ == "__main__":
    main()
