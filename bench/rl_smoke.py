"""GPU smoke run of LA-DAPO: a few RL steps of a Qwen3-VL-2B-shaped (or 8B-shaped) model with random weights.

Runs the real `future-l1 train rl` stack (`LADAPOTrainer`: latent rollouts with our decoder, dynamic sampling, the
Eq. 7 reward, substitution forwards for the old/reference/policy log-probs, TRL's DAPO loss) in bf16 with gradient
checkpointing, on synthetic multiple-choice rows with one 448x448 image each. A random model never opens a latent
span on its own, so a logits processor opens two spans of L_max = 4 steps at the start of every completion; the
rest is sampled until `--max-new` tokens. Writes s/step, the rollout's share of the step and peak memory as JSON.

    python bench/rl_smoke.py --tiny                          # CPU, checks the script itself
    python bench/rl_smoke.py --shape 2b --out $OUT/rl_smoke_2b.json
"""

from __future__ import annotations

import argparse
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


def forced_spans(latent_ids, n_spans: int = 2, span: int = 4):
    """Open a span at step 0 and right after each span end, until `n_spans` spans (fixed budget closes them)."""
    starts = {i * (span + 2) for i in range(n_spans)}

    def processor(generated: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if generated.shape[1] in starts:
            scores = torch.full_like(scores, float("-inf"))
            scores[:, latent_ids.start] = 0.0
        return scores

    return processor


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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", default="2b", choices=["tiny", "2b", "8b"])
    ap.add_argument("--tiny", action="store_true", help="same as --shape tiny, on CPU")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--prompts", type=int, default=2, help="prompts per step (x --n rollouts)")
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--max-new", type=int, default=256)
    ap.add_argument("--image-side", type=int, default=448)
    ap.add_argument("--beta", type=float, default=0.01)
    ap.add_argument("--out", default="rl_smoke.json")
    args = ap.parse_args()
    shape = "tiny" if args.tiny else args.shape

    from transformers import Qwen3VLForConditionalGeneration, TrainerCallback

    from future_l1.model.checkpoint import save_future_l1_checkpoint
    from future_l1.model.processor import build_processor
    from future_l1.training.rl.config import load_rl_config
    from future_l1.training.rl.run import build_trainer

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
    rl = load_rl_config(
        None, model_name_or_path=str(tmp / "ckpt"), train_file=str(rows), output_dir=str(tmp / "out"),
        max_steps=args.steps, per_device_train_batch_size=args.n, gradient_accumulation_steps=args.prompts,
        num_generations=args.n, max_completion_length=args.max_new, beta=args.beta, save_strategy="no",
        max_sampling_tries=1, rollout_batch_size=args.n * args.prompts, logging_steps=1, disable_tqdm=True,
        mini_batches=1,  # one rollout + one update per step, as in the recorded figures (LA-DAPO's default is 4)
        use_cpu=not cuda, min_pixels=args.image_side**2, max_pixels=args.image_side**2, seed=0,
    )  # fmt: skip
    trainer, _ = build_trainer(rl)
    trainer.rollout.logits_processor = forced_spans(trainer.latent_ids)
    setup_s = time.perf_counter() - t0

    rollout_s: list[float] = []
    inner = trainer._rollout

    def timed_rollout(rows_):
        if cuda:
            torch.cuda.synchronize()
        t = time.perf_counter()
        out = inner(rows_)
        if cuda:
            torch.cuda.synchronize()
        rollout_s.append(time.perf_counter() - t)
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

    def write() -> dict:
        hist = [h for h in trainer.history if "loss" in h]
        med = statistics.median(step_s[1:] or step_s) if step_s else None
        med_roll = statistics.median(rollout_s[1 : len(step_s)] or rollout_s) if rollout_s else None
        result = {
            "device": torch.cuda.get_device_name() if cuda else "cpu", "shape": shape, "params_total": n_params,
            "dtype": "bfloat16" if cuda else "float32", "gradient_checkpointing": bool(rl.gradient_checkpointing),
            "prompts_per_step": args.prompts, "rollouts_per_prompt": args.n, "max_new_tokens": args.max_new,
            "image_side": args.image_side, "beta": args.beta, "setup_s": round(setup_s, 1),
            "step_s": [round(s, 3) for s in step_s], "rollout_s": [round(s, 3) for s in rollout_s],
            "step_s_median_after_first": round(med, 3) if med else None,
            "rollout_share": round(med_roll / med, 3) if med and med_roll else None,
            "completion_tokens_mean": [h.get("completions/mean_length") for h in hist],
            "spans_per_sample": [h.get("latent/spans_per_sample") for h in hist],
            "peak_mem_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None,
            "loss": [h.get("loss") for h in hist], "kl": [h.get("kl") for h in hist],
            "torch": torch.__version__, "complete": len(step_s) >= args.steps,
        }  # fmt: skip
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=1, default=float))
        return result

    class Writer(TrainerCallback):
        def on_log(self, *a, **k):  # after each logged step: a killed run still leaves its figures
            write()

    trainer.add_callback(Timer())
    trainer.add_callback(Writer())
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    trainer.train()
    print(json.dumps(write(), indent=1, default=float))


if __name__ == "__main__":
    main()
