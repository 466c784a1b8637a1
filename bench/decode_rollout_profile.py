"""Where the LA-DAPO rollout's decode step goes (issue 27): the 2B smoke shape's decode, profiled, with variants.

Builds what `bench/rl_smoke.py --shape 2b` builds (Qwen3-VL-2B geometry, random bf16 weights, its checkpoint, the
synthetic rows with one 448x448 image, the trainer's `LatentRollout` with the forced-span processor, Table 9's
temperature and top-p from the RL config) and, all in one process so that ratios compare:
- the weight-read floor: the language model's weight bytes (and the KV bytes a step reads at its bucket) over the
  device-to-device copy bandwidth measured here;
- full rollouts (`trainer._rollout`, 2 prompts x 8 rollouts x 256 tokens) per engine configuration: wall seconds
  and the scheduler's decode seconds per step (the figure `rl_smoke` logs as `rollout/decode_s`);
- a steady-state session of 16 rows (two prompts, each copied into 8 slots, as the rollout) at the rollout's first
  KV bucket, for each variant of the step: ms per step (host loop of captured steps), the step graph's replay time,
  the choice phase and the forward captured alone, and a torch.profiler kernel table of the replayed graph grouped
  by kind (GEMM, Triton-compiled, sort/scan/scatter, softmax, RNG, reductions, elementwise, copies);
- an eager (graph-less, uncompiled) step of the current and the new sampler under torch.profiler with the step's
  phases labelled (processor, top-p, sampling, log-prob, state machine, layers split into projections / attention /
  the rest, lm_head), device time per phase;
- micro-benchmarks of the choice pieces on the session's own logits, each captured in a CUDA graph: the sort-based
  top-p filter, the radix select (eager and compiled), the log-softmax log-prob, the compiled sampler.

    python bench/decode_rollout_profile.py --out bench/results/issue27/<run>      # GPU
    python bench/decode_rollout_profile.py --tiny --out /tmp/prof                  # CPU: checks the script
    python bench/decode_rollout_profile.py --rl-smoke -- --shape 2b --rollout fast-compile-before,fast-compile ...

`--rl-smoke` runs `bench/rl_smoke.py`'s main with its arguments after `--`, with extra engines that patch the fast
decoder the rollout builds: `fast-compile-before` (the sort-based sampler, `sampler="reference"`: the code before
this change), `fast-compile-fusedcopy` (the new sampler and fused copies of q|k|v and gate|up, `fuse="copy"`) and
`fast-compile-fusedcopy-sdpa` (the same with `attn="sdpa"`).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent


def _module(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------------------------------------------
# engine configurations: FastLatentDecoder keyword overrides applied to the decoder the rollout builds
CONFIGS = {
    "before": dict(sampler="reference"),  # the code before issue 27's sampler change (sort-based top-p)
    "after": dict(sampler="auto"),  # radix top-p, compiled with the layer
    "after-fusedcopy": dict(sampler="auto", fuse="copy"),
    "after-fusedcopy-sdpa": dict(sampler="auto", fuse="copy", attn="sdpa"),
}


@contextlib.contextmanager
def decoder_overrides(**overrides):
    """Make every FastLatentDecoder built inside (the rollout builds its own) take `overrides`."""
    from future_l1.model.static_decoder import FastLatentDecoder

    init = FastLatentDecoder.__init__

    def patched(self, *a, **k):
        k.update(overrides)
        init(self, *a, **k)

    FastLatentDecoder.__init__ = patched
    try:
        yield
    finally:
        FastLatentDecoder.__init__ = init


def rl_smoke_main(argv: list[str]) -> None:
    """bench/rl_smoke.py's main with the extra engines of the module docstring."""
    rl = _module("rl_smoke")
    extra = {"fast-compile-before": CONFIGS["before"], "fast-compile-fusedcopy": CONFIGS["after-fusedcopy"],
             "fast-compile-fusedcopy-sdpa": CONFIGS["after-fusedcopy-sdpa"]}  # fmt: skip
    for name in extra:
        rl.ENGINES[name] = ("fast", True)
    inner = rl.run_engine

    def run_engine(args, name, *a, **k):
        with decoder_overrides(**extra[name]) if name in extra else contextlib.nullcontext():
            return inner(args, name, *a, **k)

    rl.run_engine = run_engine
    sys.argv = ["bench/rl_smoke.py", *argv]
    rl.main()


# ---------------------------------------------------------------------------------------------------------------
def _sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()


def time_graph(fn, dev, n: int = 50, generator=None) -> float | None:
    """ms per replay of `fn` captured alone in a CUDA graph (CUDA events around n replays); None off CUDA."""
    if dev.type != "cuda":
        return None
    from future_l1.model.static_decoder import _warmup_stream

    side = _warmup_stream(dev)
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        fn()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    if generator is not None:
        graph.register_generator_state(generator)
    with torch.cuda.graph(graph):
        fn()
    graph.replay()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(n):
        graph.replay()
    end.record()
    end.synchronize()
    ms = start.elapsed_time(end) / n
    del graph
    return ms


KINDS = [  # kernel name -> kind, first match wins
    ("sort (top-p)", r"[Ss]ort|[Rr]adix|segmented"),
    ("GEMM (cuBLAS: projections, lm_head, attention bmm)", r"gemm|gemv|nvjet|cutlass|xmma|splitK|sm90_|cublas"),
    ("Triton (compiled: layer glue, attention softmax, sampler)", r"^triton_"),
    ("scan / scatter / gather", r"[Ss]can|cumsum|scatter|gather"),
    ("softmax / log-softmax", r"[Ss]oft[Mm]ax"),
    ("RNG (exponential noise)", r"distribution|exponential|philox"),
    ("reductions (argmax, sums)", r"reduce_kernel|[Rr]educe"),
    ("indexing", r"index|Index"),
    ("elementwise", r"elementwise|Elementwise"),
    ("copies / memset", r"[Cc]opy|[Mm]emset|[Mm]emcpy"),
]


def kind_of(name: str) -> str:
    for kind, pattern in KINDS:
        if re.search(pattern, name):
            return kind
    return "other"


def profile_replays(step, dev, steps: int) -> dict:
    """Kernels of `steps` calls of `step` (graph replays) under torch.profiler: per kind and the top kernels."""
    from torch.profiler import ProfilerActivity, profile

    _sync(dev)
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for _ in range(steps):
            step()
        _sync(dev)
    kinds: dict[str, float] = {}
    counts: dict[str, float] = {}
    rows = []
    for e in prof.key_averages():
        us = getattr(e, "self_device_time_total", 0) or 0
        if not us or e.key.startswith(("aten::", "cuda", "Torch-Compiled", "CompiledFunction", "ProfilerStep")):
            continue
        k = kind_of(e.key)
        kinds[k] = kinds.get(k, 0.0) + us / 1e3 / steps
        counts[k] = counts.get(k, 0.0) + e.count / steps
        rows.append({"kernel": e.key[:120], "kind": k, "calls_per_step": e.count / steps,
                     "ms_per_step": us / 1e3 / steps})  # fmt: skip
    rows.sort(key=lambda r: -r["ms_per_step"])
    return {"kernel_ms_per_step": sum(kinds.values()), "kernels_per_step": sum(counts.values()),
            "by_kind_ms": dict(sorted(kinds.items(), key=lambda kv: -kv[1])), "by_kind_calls": counts,
            "top": rows[:30]}  # fmt: skip


def labelled_profile(sess, dev, steps: int) -> dict:
    """Device ms per labelled phase of `steps` eager steps (static_decoder._label), the layers split by operator."""
    from torch.profiler import ProfilerActivity, profile

    from future_l1.model import static_decoder

    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if dev.type == "cuda" else [])
    static_decoder._LABELS["on"] = True
    try:
        sess.step()  # warm
        _sync(dev)
        with profile(activities=acts) as prof:
            for _ in range(steps):
                sess.step()
            _sync(dev)
    finally:
        static_decoder._LABELS["on"] = False
    labels = ("processor", "top-p (sort)", "sample (race)", "sample (radix top-p, race, log-sum-exp)", "log-prob",
              "layers", "lm_head", "choose", "forward")  # fmt: skip
    phases: dict[str, float] = {}
    for e in prof.events():
        us = getattr(e, "self_device_time_total", 0) or 0
        if not us or e.device_type != torch.autograd.DeviceType.CPU:
            continue
        chain, parent = [], e
        while parent is not None:
            chain.append(parent.name)
            parent = parent.cpu_parent
        label = next((n for n in chain if n in labels), "outside the step")
        if label == "layers":
            ops = set(chain)
            if ops & {"aten::mm", "aten::addmm", "aten::linear"}:
                label = "layers: projection GEMMs"
            elif ops & {"aten::bmm", "aten::_softmax", "aten::softmax", "aten::baddbmm",
                        "aten::scaled_dot_product_attention"}:  # fmt: skip
                label = "layers: attention (scores, softmax, values)"
            else:
                label = "layers: norms, rotary, cache writes, residuals"
        elif label == "choose":
            label = "choose: state machine, records"
        elif label == "forward":
            label = "forward: embedding, rotary, mask"
        phases[label] = phases.get(label, 0.0) + us / 1e3 / steps
    return {
        "device_ms_per_step": sum(phases.values()),
        "phases_ms": dict(sorted(phases.items(), key=lambda kv: -kv[1])),
    }


# ---------------------------------------------------------------------------------------------------------------
class Setup:
    """The rl_smoke objects: trainer (policy, rollout), rows, and a decoder/session builder at the rollout's shape."""

    def __init__(self, shape: str, tmp: Path, max_new: int = 256):
        rl = _module("rl_smoke")
        from transformers import Qwen3VLForConditionalGeneration

        from future_l1.model.checkpoint import save_future_l1_checkpoint
        from future_l1.model.processor import build_processor
        from future_l1.training.rl.config import load_rl_config
        from future_l1.training.rl.data import load_rl_rows
        from future_l1.training.rl.run import build_trainer

        cuda = torch.cuda.is_available() and shape != "tiny"
        self.dev = torch.device("cuda" if cuda else "cpu")
        torch.manual_seed(0)
        cfg = rl.model_config(shape)
        with torch.device(self.dev):
            model = Qwen3VLForConditionalGeneration(cfg).to(torch.bfloat16 if cuda else torch.float32)
        save_future_l1_checkpoint(model, build_processor(), tmp / "ckpt", max_latent_token=4, fixed_latent_budget=True)
        del model
        rows_path = rl.write_rows(tmp, 2, 448)
        self.config = load_rl_config(
            None, model_name_or_path=str(tmp / "ckpt"), train_file=str(rows_path), output_dir=str(tmp / "out"),
            max_steps=1, per_device_train_batch_size=8, gradient_accumulation_steps=2, num_generations=8,
            max_completion_length=max_new, beta=0.01, save_strategy="no", max_sampling_tries=1, rollout_batch_size=16,
            logging_steps=1, disable_tqdm=True, mini_batches=1, use_cpu=not cuda, min_pixels=448**2,
            max_pixels=448**2, seed=0, rollout_engine="fast", rollout_compile=cuda,
        )  # as bench/rl_smoke.py's run_engine  # fmt: skip
        self.trainer, _ = build_trainer(self.config)
        self.trainer.rollout.logits_processor = rl.forced_spans(self.trainer.latent_ids)
        self.rows = load_rl_rows(str(rows_path))[:2]
        self.model = self.trainer.accelerator.unwrap_model(self.trainer.model)
        if next(self.model.parameters()).device != self.dev:
            self.model.to(self.dev)
        self.compile = cuda

    def settings(self, **changes):
        from future_l1.model.decoder import GenerationSettings

        ro = self.trainer.rollout.settings
        kw = dict(max_new_tokens=ro.max_new_tokens, temperature=ro.temperature, top_p=ro.top_p, do_sample=True, seed=0,
                  return_latents=True, return_logprobs=True)  # fmt: skip
        kw.update(changes)
        return GenerationSettings(**kw)

    def session(self, settings, processor: bool = True, slots: int = 16, **dec_kw):
        """A session of `slots` rows, two prompts each copied into half the slots (the rollout's layout)."""
        from future_l1.model.continuous import round_up
        from future_l1.model.static_decoder import FastLatentDecoder
        from future_l1.training.rl.rollout import no_stray_latent, vision_placeholder_ids

        ro, tr = self.trainer.rollout, self.trainer
        tok = ro.processor.tokenizer
        kw = dict(head=tr.head, fuse=False, compile=self.compile)
        kw.update(dec_kw)
        dec = FastLatentDecoder(self.model, tok, tr.latent_ids, tr.budget, **kw)
        encoded = [ro.encode(r) for r in self.rows]
        batch = ro._batch(encoded)
        proc = (
            no_stray_latent(tr.latent_ids.latent, ro.logits_processor, also=vision_placeholder_ids(tok))
            if processor
            else None
        )
        prompt = int(batch["attention_mask"].sum(-1).max())
        length = round_up(prompt + settings.max_new_tokens, dec.kv_bucket)
        with torch.inference_mode():
            sess = dec.session(slots, length, settings, proc)
            half = slots // 2
            sess.admit(batch, [0, half], [0, half])
            sess.admit_copy(0, list(range(1, half)), list(range(1, half)))
            sess.admit_copy(half, list(range(half + 1, slots)), list(range(half + 1, slots)))
        return dec, sess, prompt


def measure_variant(setup: Setup, name: str, settings, processor=True, steps=64, prof_steps=8, **dec_kw) -> dict:
    """Steady-state figures of one step variant (see the module docstring)."""
    dev = setup.dev
    t0 = time.perf_counter()
    _, sess, prompt = setup.session(settings, processor, **dec_kw)
    out: dict = {"variant": name, "decoder": {k: str(v) for k, v in dec_kw.items()}, "prompt_tokens": prompt,
                 "top_p": settings.top_p, "temperature": settings.temperature,
                 "return_logprobs": settings.return_logprobs, "processor": processor, "sampler": sess.sampler}  # fmt: skip
    with torch.inference_mode():
        for _ in range(3):  # capture (and compile) the bucket
            sess.step()
        _sync(dev)
        out["setup_s"] = time.perf_counter() - t0
        out["kv_bucket_columns"] = sess._bucket()
        t = time.perf_counter()
        for _ in range(steps):
            sess.step()
        _sync(dev)
        out["ms_per_step"] = (time.perf_counter() - t) / steps * 1e3
        if dev.type == "cuda":
            La = sess._bucket()
            graph = sess.graphs[La]
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(steps):
                graph.replay()
            end.record()
            end.synchronize()
            out["graph_replay_ms"] = start.elapsed_time(end) / steps
            out["choose_only_ms"] = time_graph(lambda: sess._choose(sess._scores()), dev, generator=sess.generator)
            out["forward_only_ms"] = time_graph(lambda: sess._forward(La), dev)
            out["profile"] = profile_replays(graph.replay, dev, prof_steps)
            out["session_gib"] = sess.memory_bytes() / 2**30
    from future_l1.model.static_decoder import _COMPILED

    out["radix_sampler_failed_to_compile"] = "sample_fallback" in _COMPILED  # process-wide, once it happened
    print(json.dumps({k: v for k, v in out.items() if k != "profile"}, default=str), flush=True)
    if "profile" in out:
        print(json.dumps({"variant": name, "by_kind_ms": out["profile"]["by_kind_ms"]}), flush=True)
    sess = None  # the session's cache and graphs go before the next variant
    if dev.type == "cuda":
        torch.cuda.empty_cache()
    return out


def micro_benchmarks(setup: Setup) -> dict:
    """The choice pieces alone, captured, on the logits of a session after a few steps (the random model's)."""
    from future_l1.model.decoder import _top_p_filter
    from future_l1.model.static_decoder import sample_choice, top_p_filter_radix, top_p_keep

    dev = setup.dev
    st = setup.settings()
    _, sess, _ = setup.session(st, sampler="reference")
    with torch.inference_mode():
        for _ in range(3):
            sess.step()
        _sync(dev)
        logits = sess.logits.clone()
        scores = sess._scores().clone() / st.temperature
        noise = torch.empty_like(scores).exponential_()
        token = logits.float().argmax(-1)
        compiled_keep = torch.compile(top_p_keep, dynamic=False, fullgraph=True) if setup.compile else None
        compiled_sample = torch.compile(sample_choice, dynamic=False, fullgraph=True) if setup.compile else None
        res: dict = {"rows": int(scores.shape[0]), "vocab": int(scores.shape[1]), "top_p": st.top_p,
                     "temperature": st.temperature}  # fmt: skip
        keep_ref = _top_p_filter(scores, st.top_p).isfinite()
        keep_new = top_p_keep(scores, st.top_p)
        res["kept_per_row_mean"] = float(keep_ref.sum(-1).float().mean())
        res["kept_set_equal"] = bool(torch.equal(keep_ref, keep_new))
        res["kept_set_differing_tokens"] = int((keep_ref != keep_new).sum())
        ordered, order = torch.sort(scores, descending=True, dim=-1, stable=True)  # ties in index order
        p = ordered.softmax(-1)
        before = torch.zeros_like(scores).scatter(-1, order, p.cumsum(-1) - p)  # mass before each token
        stable = before <= st.top_p
        differ = stable != keep_new
        res["kept_set_differing_tokens_vs_stable_sort"] = int(differ.sum())
        res["differing_tokens_max_abs_mass_minus_top_p"] = (
            float((before[differ] - st.top_p).abs().max()) if bool(differ.any()) else 0.0
        )
        res["tied_scores_per_row_mean"] = float(sum(r.numel() - torch.unique(r).numel() for r in scores) / len(scores))
        if compiled_keep is not None:
            res["kept_set_equal_compiled"] = bool(torch.equal(keep_ref, compiled_keep(scores, st.top_p)))
        pieces = {
            "top-p filter, sort (before)": lambda: _top_p_filter(scores, st.top_p),
            "top-p filter, radix eager": lambda: top_p_filter_radix(scores, st.top_p),
            "race after the sort filter (softmax / noise, argmax)": lambda: (scores.softmax(-1) / noise).argmax(-1),
            "log-prob, log_softmax + gather (before)": lambda: (logits.float() / st.temperature).log_softmax(-1).gather(
                1, token[:, None]),
            "sampler before: sort filter + race + log_softmax": lambda: (
                (_top_p_filter(scores, st.top_p).softmax(-1) / noise).argmax(-1),
                (logits.float() / st.temperature).log_softmax(-1).gather(1, token[:, None])),
            "sampler radix eager (filter + race + log-sum-exp)": lambda: sample_choice(
                scores, noise, 1.0, st.top_p, logits),
        }  # fmt: skip
        if compiled_keep is not None:
            pieces["top-p mask, radix compiled"] = lambda: compiled_keep(scores, st.top_p)
            pieces["sampler radix compiled (filter + race + log-sum-exp)"] = lambda: compiled_sample(
                scores, noise, 1.0, st.top_p, logits
            )
        timings = {}
        for name, fn in pieces.items():
            try:
                if dev.type == "cuda":
                    timings[name] = time_graph(fn, dev)
                else:
                    t = time.perf_counter()
                    fn()
                    timings[name] = (time.perf_counter() - t) * 1e3
            except Exception as exc:  # keep the others
                timings[name] = f"{type(exc).__name__}: {str(exc)[:200]}"
        res["ms"] = timings
    print(json.dumps(res, default=str), flush=True)
    del sess
    return res


def full_rollouts(setup: Setup, name: str, n: int) -> dict:
    """`n` rollouts of the trainer (2 prompts x 8) with the fast decoder configured as CONFIGS[name]."""
    dev = setup.dev
    runs = []
    with decoder_overrides(**CONFIGS[name]):
        for _ in range(n):
            _sync(dev)
            if dev.type == "cuda":
                torch.cuda.reset_peak_memory_stats()
            t = time.perf_counter()
            out = setup.trainer._rollout(setup.rows)
            _sync(dev)
            wall = time.perf_counter() - t
            st = dict(setup.trainer.rollout.last_stats)
            runs.append({"rollout_s": wall, **{k: float(v) for k, v in st.items()},
                         "decode_ms_per_step": 1e3 * st["decode_s"] / max(1, st["decode_steps"]),
                         "completion_tokens_mean": statistics.mean(len(c) for c in out["completion_ids"]),
                         "peak_gib": torch.cuda.max_memory_allocated() / 2**30 if dev.type == "cuda" else None})  # fmt: skip
    after_first = runs[1:] or runs
    res = {"config": name, "overrides": {k: str(v) for k, v in CONFIGS[name].items()}, "runs": runs,
           "rollout_s_median_after_first": statistics.median(r["rollout_s"] for r in after_first),
           "decode_ms_per_step_median_after_first": statistics.median(r["decode_ms_per_step"] for r in after_first)}  # fmt: skip
    print(json.dumps({k: v for k, v in res.items() if k != "runs"}), flush=True)
    return res


def weight_floor(setup: Setup, kv_columns: int, slots: int = 16) -> dict:
    from future_l1.model.static_decoder import kv_bytes_per_token

    decode = _module("decode")
    model = setup.model
    lm = model.model.language_model
    layer_bytes = sum(p.numel() * p.element_size() for p in lm.layers.parameters())
    head = model.lm_head.weight
    read = (
        layer_bytes
        + sum(p.numel() * p.element_size() for p in lm.norm.parameters())
        + head.numel() * head.element_size()
    )
    tc = model.config.get_text_config()
    kv = slots * kv_columns * kv_bytes_per_token(tc, head.dtype)
    bw = decode.copy_bandwidth(setup.dev)
    res = {"weight_bytes_read_per_step": read, "lm_head_bytes": head.numel() * head.element_size(),
           "kv_bytes_at_bucket": kv, "kv_columns": kv_columns, "slots": slots, "copy_bandwidth_Bps": bw,
           "weights_floor_ms": read / bw * 1e3, "weights_plus_kv_floor_ms": (read + kv) / bw * 1e3}  # fmt: skip
    print(json.dumps(res), flush=True)
    return res


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--rl-smoke" in argv:
        rest = argv[argv.index("--rl-smoke") + 1 :]
        rl_smoke_main(rest[1:] if rest[:1] == ["--"] else rest)
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true", help="tiny shape on the CPU (checks the script)")
    ap.add_argument("--out", default=".")
    ap.add_argument("--steps", type=int, default=64, help="timed steps per variant")
    ap.add_argument("--rollouts", type=int, default=3, help="full rollouts per configuration (the first is warm-up)")
    ap.add_argument(
        "--configs", default="before,after,after-fusedcopy,after-fusedcopy-sdpa", help=f"of {list(CONFIGS)}"
    )
    ap.add_argument("--variants", default="all", help="step variants (see VARIANT names in the JSON) or 'all'")
    args = ap.parse_args(argv)
    began = time.perf_counter()
    shape = "tiny" if args.tiny else "2b"
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    doc: dict = {"command": "python bench/decode_rollout_profile.py " + " ".join(argv), "shape": shape}
    rl = _module("rl_smoke")
    doc["machine"] = rl.machine()
    print(json.dumps(doc["machine"]), flush=True)

    def write():
        (out_dir / "decode_rollout_profile.json").write_text(json.dumps(doc, indent=1, default=str))

    tmp = Path(tempfile.mkdtemp(prefix="decode-profile-"))
    setup = Setup(shape, tmp, 12 if args.tiny else 256)
    if setup.dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
    doc["setup_s"] = time.perf_counter() - began
    st = setup.settings()
    doc["settings"] = {"temperature": st.temperature, "top_p": st.top_p, "max_new_tokens": st.max_new_tokens,
                       "rows": 16, "prompts": 2, "return_logprobs": True, "return_latents": True,
                       "compile": setup.compile}  # fmt: skip
    steps = 4 if args.tiny else args.steps

    # 1. full rollouts, one configuration after the other (the first rollout of each compiles and captures)
    doc["rollouts"] = {}
    for name in [c.strip() for c in args.configs.split(",") if c.strip()]:
        try:
            doc["rollouts"][name] = full_rollouts(setup, name, 2 if args.tiny else args.rollouts)
        except Exception as exc:
            import traceback

            doc["rollouts"][name] = {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()[-3000:]}
            print(doc["rollouts"][name]["trace"], flush=True)
        write()

    # 2. step variants at the first KV bucket
    V = {
        "before": (st, True, CONFIGS["before"]),
        "before, top_p 1.0 (no filter)": (setup.settings(top_p=1.0), True, CONFIGS["before"]),
        "before, log-probs off": (setup.settings(return_logprobs=False), True, CONFIGS["before"]),
        "before, top_p 1.0, log-probs off, no processor": (
            setup.settings(top_p=1.0, return_logprobs=False), False, CONFIGS["before"]),
        "greedy, log-probs off, no processor (no choice work)": (
            setup.settings(do_sample=False, temperature=0.0, return_logprobs=False), False, CONFIGS["before"]),
        "after (radix sampler)": (st, True, CONFIGS["after"]),
        "after, fused q|k|v and gate|up copies": (st, True, CONFIGS["after-fusedcopy"]),
        "after, fused copies, sdpa attention": (st, True, dict(CONFIGS["after-fusedcopy"], attn="sdpa")),
    }  # fmt: skip
    wanted = list(V) if args.variants == "all" else [v.strip() for v in args.variants.split(";")]
    doc["variants"] = {}
    for name in wanted:
        settings, processor, kw = V[name]
        try:
            doc["variants"][name] = measure_variant(setup, name, settings, processor, steps=steps, **kw)
        except Exception as exc:
            import traceback

            doc["variants"][name] = {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()[-3000:]}
            print(doc["variants"][name]["trace"], flush=True)
        write()

    # 3. the floor, 4. choice micro-benchmarks, 5. labelled eager steps
    kv_cols = next((v.get("kv_bucket_columns") for v in doc["variants"].values() if v.get("kv_bucket_columns")), 512)
    doc["floor"] = weight_floor(setup, kv_cols)
    write()
    try:
        doc["micro"] = micro_benchmarks(setup)
    except Exception as exc:
        import traceback

        doc["micro"] = {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()[-3000:]}
        print(doc["micro"]["trace"], flush=True)
    write()
    doc["eager_labelled"] = {}
    for name, kw in (("before", CONFIGS["before"]), ("after (radix eager)", dict(sampler="radix"))):
        try:
            _, sess, _ = setup.session(st, compile=False, use_graphs=False, **kw)
            with torch.inference_mode():
                doc["eager_labelled"][name] = labelled_profile(sess, setup.dev, 2 if args.tiny else 4)
            del sess
            print(json.dumps({"eager_labelled": name, **doc["eager_labelled"][name]}), flush=True)
        except Exception as exc:
            import traceback

            doc["eager_labelled"][name] = {
                "error": f"{type(exc).__name__}: {exc}",
                "trace": traceback.format_exc()[-3000:],
            }
            print(doc["eager_labelled"][name]["trace"], flush=True)
        write()
    if setup.dev.type == "cuda":
        doc["peak_allocated_gib"] = torch.cuda.max_memory_allocated() / 2**30
    doc["wall_s"] = time.perf_counter() - began
    write()
    summary = {n: {k: v.get(k) for k in ("ms_per_step", "graph_replay_ms", "choose_only_ms", "forward_only_ms")}
               for n, v in doc["variants"].items()}  # fmt: skip
    print(json.dumps({"summary": summary}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
