"""One real run through lmms-eval on a GPU (issue 25): real-size media, an 8B-geometry checkpoint, `future-l1 run`.

Builds under `--work`:
- FutureBench in NEP's layout (`futurebench.json` + `first_part_video/`): 1280x720 mp4 clips of 48 frames at 8 fps,
  so the adapter samples 32 frames and resizes them to 1152x640 (qwen-vl-utils' rules: 11.5k visual tokens, about
  11.7k prompt tokens); written with OpenCV (MPEG-4 part 2), or PyAV (H.264) where OpenCV is missing;
- TwiFF-Bench in the release layout (four parquet shards): three 1280x720 question images a row, reasoning images
  and a reference chain ending in `<ans>…</ans>`;
- a Qwen3-VL-8B-geometry checkpoint with random bf16 weights (made on the GPU) and the real Qwen3 tokenizer, saved
  by `save_future_l1_checkpoint` in the published Future-L1 layout;
then runs `future-l1 run` in this process on a suite that names that checkpoint with `decoder: fast` and the given
`batch_size`, both tasks (their data folders named in the suite, `data:`), and the embedded
rubric judge served on loopback for TwiFF-Bench (`judge: rubric`: its rows are marked as rubric-judged, never ranked
with published LLM-judge rows), renders the leaderboard with `future-l1 report`, and writes `real_run.json`.

Random weights never choose EOS on purpose, so every answer runs to `max_new_tokens`: the suite caps FutureBench at
195 generated positions (the paper's mean length, Table 7, as bench/e2e.py) and TwiFF-Bench at 128. Scores are those
of a random model; the run measures time and memory, and that every stage (media, chat template, lmms-eval, the
harness, the judge, the tables) works at this size. Reported: seconds per sample end to end (media decoding
included), peak memory, the decoder's slot plan and out-of-memory retries, and where the time went (media decoding in
the adapter's background thread, collation, prefill, decode, graph capture and compilation).

    python bench/real_run.py --out bench/results                # GPU: writes real_run.json (and the report)
    python bench/real_run.py --tiny --work /tmp/rr              # CPU smoke run (tiny model, small clips)
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import shutil
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SPLITS = ("hop1", "hop2", "hop3", "hop5")


# -- data ----------------------------------------------------------------------------------------------------------
def render_clip(index: int, frames: int, width: int, height: int) -> np.ndarray:
    """Moving discs over a coloured gradient: cheap to draw, not trivially compressible, different per clip."""
    rng = np.random.default_rng(index)
    yy, xx = np.mgrid[0:height, 0:width]
    base = np.stack([(xx * 255 // width), (yy * 255 // height), np.full_like(xx, 60 + 20 * (index % 8))], -1)
    base = base.astype(np.uint8)
    pos = rng.uniform([0, 0], [width, height], size=(5, 2))
    vel = rng.uniform(-0.02, 0.02, size=(5, 2)) * [width, height]
    colours = rng.integers(0, 256, size=(5, 3), dtype=np.uint8)
    radius = max(4, height // 12)
    out = np.empty((frames, height, width, 3), np.uint8)
    for f in range(frames):
        img = base.copy()
        for (x, y), c in zip(pos + f * vel, colours, strict=True):
            x0, x1 = int(max(0, x - radius)), int(min(width, x + radius))
            y0, y1 = int(max(0, y - radius)), int(min(height, y + radius))
            if x1 > x0 and y1 > y0:
                sub = (xx[y0:y1, x0:x1] - x) ** 2 + (yy[y0:y1, x0:x1] - y) ** 2 <= radius**2
                img[y0:y1, x0:x1][sub] = c
        out[f] = img
    return out


def write_clip(frames: np.ndarray, path: Path, fps: float = 8.0) -> str:
    """An mp4 of RGB frames; returns the codec used. OpenCV first (on the GPU machine), PyAV otherwise."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import cv2
    except ImportError:
        cv2 = None
    if cv2 is not None:
        height, width = frames.shape[1:3]
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
        if writer.isOpened():
            for frame in frames:
                writer.write(np.ascontiguousarray(frame[..., ::-1]))  # OpenCV takes BGR
            writer.release()
            return "mpeg4 (OpenCV)"
    from future_l1.tasks.scenes import write_video

    write_video(frames, path, fps=fps)
    return "h264 (PyAV)"


def build_futurebench(out: Path, items: int, clips: int, frames: int, width: int, height: int) -> dict:
    letters = "ABCD"
    codec = ""
    for c in range(clips):
        codec = write_clip(render_clip(c, frames, width, height), out / "first_part_video" / f"clip_{c:03d}.mp4")
    records = []
    for i in range(items):
        options = {k: f"Disc {k} {('bounces', 'stops', 'collides', 'leaves')[j]} next." for j, k in enumerate(letters)}
        records.append({"id": f"real-{i:04d}", "question_type": SPLITS[i % 4],
                        "video_path": f"video_dataset/clip_{i % clips:03d}.mp4",
                        "qa": {"Question": "What happens next after the video ends?", "Options": options,
                               "Answer": letters[i % 4]}})  # fmt: skip
    (out / "futurebench.json").write_text(json.dumps(records, indent=1))
    return {"items": items, "clips": clips, "frames": frames, "width": width, "height": height, "codec": codec}


def build_twiffbench(out: Path, rows: int, width: int, height: int) -> dict:
    import datasets
    from PIL import Image

    from future_l1.tasks.demo_benchmarks import twiff_features

    def png(frame):
        buf = io.BytesIO()
        Image.fromarray(frame).save(buf, format="PNG", compress_level=1)
        return {"bytes": buf.getvalue(), "path": None}

    data = []
    for i in range(rows):
        clip = render_clip(100 + i, 12, width, height)
        question = "".join(f"frame_{k + 1}: <image>\n" for k in range(3))
        question += "These frames come from the start of a video of moving discs. What happens next in the scene?"
        data.append({"video": f"real/twiff_{i:03d}.mp4", "question": question,
                     "answer": "THOUGHT 1: The discs keep moving. <rimage> <ans>A disc reaches the edge.</ans>",
                     "question_images": [png(clip[f]) for f in (0, 4, 8)], "reasoning_images": [png(clip[11])],
                     "question_images_index": [1, 5, 9], "reasoning_images_index": [12],
                     "meta_data": {"classification": ("predictive", "physical")[i % 2]}})  # fmt: skip
    per = -(-rows // 4)
    for shard in range(4):
        part = data[shard * per : (shard + 1) * per]
        datasets.Dataset.from_list(part, features=twiff_features()).to_parquet(
            str(out / f"test-{shard:05d}-of-00004.parquet"))  # fmt: skip
    return {"rows": rows, "images_per_row": 3, "width": width, "height": height}


# -- checkpoint ----------------------------------------------------------------------------------------------------
def _bench_decode():
    import importlib.util

    spec = importlib.util.spec_from_file_location("fl1_bench_decode", Path(__file__).with_name("decode.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_checkpoint(out: Path, tiny: bool, device) -> dict:
    """Random weights in Qwen3-VL-8B geometry (tiny: 2 layers of width 64), bf16 on the GPU, saved in the published
    Future-L1 layout with the real tokenizer (whose special ids the geometry's config uses)."""
    import torch
    from transformers import Qwen3VLForConditionalGeneration

    from future_l1.model.checkpoint import save_future_l1_checkpoint
    from future_l1.model.processor import build_processor

    dtype = torch.float32 if device.type == "cpu" else torch.bfloat16
    config = _bench_decode().build_config(tiny)
    t = time.perf_counter()
    torch.manual_seed(0)
    with torch.device(device):
        model = Qwen3VLForConditionalGeneration._from_config(config, dtype=dtype).eval()
    built = time.perf_counter() - t
    model.generation_config.eos_token_id = config.text_config.eos_token_id
    model.generation_config.pad_token_id = config.text_config.pad_token_id
    params = sum(p.numel() for p in model.parameters())
    t = time.perf_counter()
    save_future_l1_checkpoint(model, build_processor(), out, max_latent_token=32)
    saved = time.perf_counter() - t
    del model
    if device.type == "cuda":
        torch.cuda.empty_cache()
    size = sum(f.stat().st_size for f in out.iterdir() if f.is_file())
    return {"params": params, "dtype": str(dtype), "build_s": built, "save_s": saved, "bytes": size}


# -- instrumentation -----------------------------------------------------------------------------------------------
class Timings:
    """Wraps the adapter's media decoding, its model calls and the scheduler, to say where the time went."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.media_s = 0.0
        self.media_calls = 0
        self.tasks: dict[str, dict] = {}
        self.schedule: list[dict] = []
        self.task = "?"

    @contextlib.contextmanager
    def installed(self):
        """Wraps the adapter's media preparation, the scheduler and generate_until for the length of a `with` block,
        and puts the originals back after it (tests run this script in-process)."""
        import future_l1.model.continuous as continuous
        import future_l1.model.lmms_model as lmms_model

        real_prepare, real_decode, real_generate = (lmms_model.prepare_sample, continuous.continuous_decode,
                                                    lmms_model.FutureL1.generate_until)  # fmt: skip

        def prepare_sample(*args, **kwargs):
            t = time.perf_counter()
            try:
                return real_prepare(*args, **kwargs)
            finally:
                with self.lock:
                    self.media_s += time.perf_counter() - t
                    self.media_calls += 1

        def continuous_decode(decoder, *args, **kwargs):
            yield from real_decode(decoder, *args, **kwargs)
            stats = decoder.last_stats
            plan = stats.plan
            self.schedule.append({"task": self.task, **{k: v for k, v in vars(stats).items() if k != "plan"},
                                  "plan": plan.message() if plan is not None else None})  # fmt: skip

        def generate_until(model, requests):
            task = self.task = requests[0].args[-2] if requests else "?"
            t = time.perf_counter()
            media = self.media_s
            try:
                return real_generate(model, requests)
            finally:
                entry = self.tasks.setdefault(task, {"requests": 0, "calls": 0, "wall_s": 0.0, "media_s": 0.0})
                entry["requests"] += len(requests)
                entry["calls"] += 1
                entry["wall_s"] += time.perf_counter() - t
                entry["media_s"] += self.media_s - media

        lmms_model.prepare_sample = prepare_sample
        continuous.continuous_decode = continuous_decode
        lmms_model.FutureL1.generate_until = generate_until
        try:
            yield self
        finally:
            lmms_model.prepare_sample = real_prepare
            continuous.continuous_decode = real_decode
            lmms_model.FutureL1.generate_until = real_generate


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("torch", "transformers", "lmms-eval", "accelerate", "datasets", "decord", "opencv-python-headless",
                 "qwen-vl-utils", "pydantic"):  # fmt: skip
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def _machine(device) -> dict:
    import torch

    if device.type != "cuda":
        return {"device": "cpu", "cpus": os.cpu_count()}
    p = torch.cuda.get_device_properties(device)
    return {"device": torch.cuda.get_device_name(device), "memory_bytes": p.total_memory,
            "multiprocessors": p.multi_processor_count, "cuda": torch.version.cuda, "cpus": os.cpu_count()}  # fmt: skip


def _scratch(tiny: bool, work: Path) -> Path:
    """Where the checkpoint goes: /dev/shm when it has room for the 17.5 GB of an 8B checkpoint (no disk write)."""
    shm = Path("/dev/shm")
    if not tiny and shm.is_dir() and shutil.disk_usage(shm).free > 40e9:
        return shm / "future_l1_real_run"
    return work


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true", help="CPU smoke run: tiny model, small clips, few samples")
    ap.add_argument("--work", type=Path, default=Path("/tmp/future_l1_real_run"))
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", ".")))
    ap.add_argument("--fb-items", type=int, default=None, help="FutureBench samples (default 64; tiny 4)")
    ap.add_argument("--twiff-rows", type=int, default=None, help="TwiFF-Bench rows (default 8; tiny 4)")
    ap.add_argument("--batch-size", type=int, default=None, help="the suite's batch_size (default 128: the planner "
                    "caps it to what fits; tiny 2)")  # fmt: skip
    ap.add_argument("--fb-new-tokens", type=int, default=None, help="FutureBench max_new_tokens (default 195; tiny 8)")
    ap.add_argument("--twiff-new-tokens", type=int, default=None, help="TwiFF max_new_tokens (default 128; tiny 8)")
    args = ap.parse_args(argv)
    tiny = args.tiny
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch

    device = torch.device("cuda" if torch.cuda.is_available() and not tiny else "cpu")
    fb_items = args.fb_items or (4 if tiny else 64)
    twiff_rows = args.twiff_rows or (4 if tiny else 8)
    batch_size = args.batch_size or (2 if tiny else 128)
    fb_new = args.fb_new_tokens or (8 if tiny else 195)
    twiff_new = args.twiff_new_tokens or (8 if tiny else 128)
    width, height, frames = (128, 72, 40) if tiny else (1280, 720, 48)
    began = time.perf_counter()
    work = args.work
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    report: dict = {"machine": _machine(device), "versions": _versions(), "tiny": tiny}
    stages = report["stages_s"] = {}
    out = args.out
    out.mkdir(parents=True, exist_ok=True)

    def save() -> None:  # after every stage: a run cut short by a time limit still leaves what it measured
        report["wall_s"] = time.perf_counter() - began
        (out / ("real_run_tiny.json" if tiny else "real_run.json")).write_text(
            json.dumps(report, indent=2, default=str)
        )

    t = time.perf_counter()
    fb_dir, tw_dir = work / "futurebench", work / "twiffbench"
    report["futurebench_data"] = build_futurebench(fb_dir, fb_items, min(8, fb_items), frames, width, height)
    report["twiffbench_data"] = build_twiffbench(tw_dir, twiff_rows, width, height)
    stages["data"] = time.perf_counter() - t

    t = time.perf_counter()
    ckpt = _scratch(tiny, work) / "checkpoint"
    if ckpt.exists():
        shutil.rmtree(ckpt)
    report["checkpoint"] = build_checkpoint(ckpt, tiny, device)
    stages["checkpoint"] = time.perf_counter() - t
    save()

    model_args = {"pretrained": str(ckpt), "decoder": "fast", "batch_size": batch_size}
    if tiny:
        model_args.update(max_num_frames=4, max_pixels=64 * 64 * 4, min_pixels=32 * 32 * 4)
    suite = {
        "name": "real-run-tiny" if tiny else "real-run-h200",
        "judges": {"rubric": {"provider": "offline"}},
        "models": [
            {
                "label": "future_l1_8b_random" if not tiny else "future_l1_tiny_random",
                "model": "future_l1",
                "args": model_args,
            }
        ],
        "tasks": [
            {"name": "futurebench_future_l1", "gen_kwargs": {"max_new_tokens": fb_new}, "data": str(fb_dir)},
            {
                "name": "twiffbench_future_l1",
                "gen_kwargs": {"max_new_tokens": twiff_new},
                "judge": "rubric",
                "data": str(tw_dir),
            },
        ],
        "settings": {"chunk_size": max(fb_items, twiff_rows)},
    }
    import yaml

    suite_path = work / "suite.yaml"
    suite_path.write_text(yaml.safe_dump(suite, sort_keys=False))
    report["suite"] = suite
    timings = Timings()
    from future_l1.harness.cli import main as cli

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    t = time.perf_counter()
    runs_dir = work / "runs"
    with timings.installed():
        code = cli(["run", str(suite_path), "--runs-dir", str(runs_dir)])
    stages["future_l1_run"] = time.perf_counter() - t
    report["run_exit_code"] = code
    if device.type == "cuda":
        report["peak_memory_allocated_bytes"] = torch.cuda.max_memory_allocated(device)
        report["peak_memory_reserved_bytes"] = torch.cuda.max_memory_reserved(device)
    report["tasks"], report["schedule"] = timings.tasks, timings.schedule
    save()
    run_dirs = sorted(p for p in runs_dir.iterdir() if p.is_dir())
    t = time.perf_counter()
    report_dir = work / "report"
    report["report_exit_code"] = cli(["report", *map(str, run_dirs), "--out", str(report_dir)]) if run_dirs else None
    stages["report"] = time.perf_counter() - t

    report["tasks"] = {}
    for task, entry in timings.tasks.items():
        n = entry["requests"]
        entry["s_per_sample"] = entry["wall_s"] / n if n else None
        report["tasks"][task] = entry
    report["schedule"] = timings.schedule
    fb = timings.tasks.get("futurebench_future_l1")
    fb_sched = [s for s in timings.schedule if s["task"] == "futurebench_future_l1"]
    if fb:
        wall = fb["wall_s"]
        parts = {k: sum(s[k] for s in fb_sched) for k in ("input_wait_s", "collate_s", "prefill_s", "decode_s",
                                                          "capture_s")}  # fmt: skip
        shares = {k.replace("_s", ""): v / wall for k, v in parts.items()}
        shares["media (thread-seconds on the media threads, overlapping the GPU)"] = fb["media_s"] / wall
        shares["other (lmms-eval, chat template, results)"] = 1 - sum(parts.values()) / wall
        report["futurebench"] = {"samples": fb["requests"], "s_per_sample": fb["s_per_sample"],
                                 "s_per_sample_without_capture": (wall - parts["capture_s"]) / fb["requests"],
                                 "media_s_per_sample": fb["media_s"] / fb["requests"], "shares": shares,
                                 "goal_s_per_sample": 0.45, "paper_s_per_sample_h200": 0.91}  # fmt: skip
    results = {}
    for run_dir in run_dirs:
        for f in sorted((run_dir / "results").rglob("*.json")):
            try:
                data = json.loads(f.read_text())
            except (OSError, json.JSONDecodeError):
                continue
            keep = ("model", "task", "metrics", "n_samples", "provenance")
            results[str(f.relative_to(runs_dir))] = {k: data.get(k) for k in keep}
    report["results"] = results
    board = next(iter(sorted(report_dir.glob("*.md"))), None) if report_dir.exists() else None
    report["leaderboard_md"] = board.read_text()[:6000] if board else None
    save()
    if board is not None and not tiny:
        shutil.copy(board, out / "real_run_leaderboard.md")
    summary = report.get("futurebench", {})
    print(json.dumps({"exit": code, "futurebench": summary, "peak_reserved_GB":
                      report.get("peak_memory_reserved_bytes", 0) / 1e9, "stages_s": stages}, indent=1))  # fmt: skip
    if ckpt.parent != work:
        shutil.rmtree(ckpt.parent, ignore_errors=True)
    return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
