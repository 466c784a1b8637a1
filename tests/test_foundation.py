"""Issue 2 fixtures: offline processor, tiny Qwen3-VL, procedural scenes, cache, CLI and the torchvision hook."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from future_l1.model.cache import cached_dir
from future_l1.model.tokens import LATENT, LATENT_END, LATENT_START, LatentIds, latent_span_lengths
from future_l1.tasks.scenes import COLOURS, simulate, write_video


# --- tokenizer and processor -------------------------------------------------------------------------------------
def test_processor_reloads_offline_with_real_qwen_ids(processor_dir: Path) -> None:
    from transformers import AutoProcessor

    proc = AutoProcessor.from_pretrained(processor_dir)
    tok = proc.tokenizer
    assert type(proc).__name__ == "Qwen3VLProcessor"
    assert type(proc.video_processor).__name__ == "Qwen3VLVideoProcessor"
    assert tok("Hello world")["input_ids"] == [9707, 1879]
    chat = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False)
    assert chat.startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n")
    assert tok("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n")["input_ids"] == [
        151644, 8948, 198, 2610, 525, 264, 10950, 17847, 13, 151645, 198,
    ]  # fmt: skip
    ids = LatentIds.from_tokenizer(tok)
    assert (ids.latent, ids.start, ids.end) == (151669, 151670, 151671)
    assert tok.convert_tokens_to_ids(["<|vision_start|>", "<|image_pad|>", "<|video_pad|>"]) == [151652, 151655, 151656]
    # added but not special: decoding with skip_special_tokens keeps them, as the official scheme does
    assert tok.decode([ids.start, ids.latent, ids.end], skip_special_tokens=True) == LATENT_START + LATENT + LATENT_END
    assert tok.decode([tok.eos_token_id], skip_special_tokens=True) == ""


def test_latent_span_lengths_reads_spans_from_text() -> None:
    text = f"<reason>a</reason>{LATENT_START}{LATENT * 3}{LATENT_END}<reason>b</reason>{LATENT_START}{LATENT_END}"
    assert latent_span_lengths(text) == [3, 0]
    assert latent_span_lengths(f"x{LATENT_START}{LATENT * 2}") == [2]  # cut by max_new_tokens
    assert latent_span_lengths("<answer>B</answer>") == []


# --- tiny model ---------------------------------------------------------------------------------------------------
def _video_inputs(proc, n_frames: int = 8, seed: int = 0):
    from transformers.video_utils import VideoMetadata

    frames = simulate("bounce", seed, n_frames=n_frames).frames
    messages = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "What happens next?"}]}]
    chat = proc.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    meta = VideoMetadata(total_num_frames=n_frames, fps=8.0, frames_indices=list(range(n_frames)))
    return proc(text=[chat], videos=[frames], video_metadata=[meta], do_sample_frames=False, return_tensors="pt")


def test_tiny_model_is_seeded() -> None:
    from future_l1.model.tiny import build_tiny_model

    a, b, c = build_tiny_model(0), build_tiny_model(0), build_tiny_model(1)
    pa, pb, pc = (torch.cat([p.flatten() for p in m.parameters()]) for m in (a, b, c))
    assert torch.equal(pa, pb)
    assert not torch.equal(pa, pc)
    assert a.config.latent_id == 151669 and a.config.latent_start_id == 151670 and a.config.latent_end_id == 151671


def test_tiny_model_generates_from_video_and_reloads_identically(tmp_path: Path, processor_dir: Path) -> None:
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from future_l1.model.tiny import build_tiny_model

    proc = AutoProcessor.from_pretrained(processor_dir)
    inputs = _video_inputs(proc)
    n_video_tokens = int((inputs["input_ids"] == proc.tokenizer.convert_tokens_to_ids("<|video_pad|>")).sum())
    assert n_video_tokens == inputs["video_grid_thw"].prod().item() // 4  # merge 2x2
    assert "seconds>" in proc.tokenizer.decode(inputs["input_ids"][0])  # Qwen3-VL timestamped frame groups

    model = build_tiny_model(0)
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=6, do_sample=False)
        logits = model(**inputs).logits
    assert out.shape[1] == inputs["input_ids"].shape[1] + 6

    model.save_pretrained(tmp_path)
    proc.save_pretrained(tmp_path)
    reloaded = AutoModelForImageTextToText.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        assert torch.equal(reloaded(**inputs).logits, logits)
    assert reloaded.config.latent_id == model.config.latent_id


# --- procedural scenes --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["bounce", "collide", "fall"])
def test_scenes_are_deterministic_and_events_match_motion(kind: str) -> None:
    a, b = simulate(kind, 3), simulate(kind, 3)
    assert np.array_equal(a.frames, b.frames) and a.events == b.events
    assert a.frames.shape == (32, 64, 64, 3) and a.frames.dtype == np.uint8
    assert a.events, "every demo scene should contain at least one event"
    step = float(np.abs(np.diff(a.positions, axis=0)).max()) + 1.0  # the longest move between two frames
    assert step < 16
    for event in a.events:
        i = [ball.colour for ball in a.balls].index(event.balls[0])
        x, y = a.positions[event.frame, i]
        r = a.balls[i].radius
        # an event is recorded during the frame in which contact happens: within one frame of travel of it
        margin = r + step
        if event.kind == "wall" and event.where == "left":
            assert x < margin
        if event.kind == "wall" and event.where == "right":
            assert x > 64 - margin
        if event.kind == "wall" and event.where == "top":
            assert y < margin
        if event.kind in {"floor"} or (event.kind == "wall" and event.where == "bottom"):
            assert y > 64 - margin
        if event.kind == "collision":
            j = [ball.colour for ball in a.balls].index(event.balls[1])
            gap = np.hypot(*(a.positions[event.frame, j] - a.positions[event.frame, i]))
            assert gap < r + a.balls[j].radius + 2 * step
    if kind == "collide":
        assert any(e.kind == "collision" for e in a.events)
    if kind == "fall":
        assert any(e.kind == "floor" for e in a.events)


def test_scene_video_round_trips_through_decord(tmp_path: Path) -> None:
    import decord

    sim = simulate("collide", 1)
    path = write_video(sim.frames, tmp_path / "clip.mp4", fps=sim.fps)
    decoded = decord.VideoReader(str(path)).get_batch(list(range(len(sim.frames)))).asnumpy()
    assert decoded.shape == sim.frames.shape
    assert np.abs(decoded.astype(int) - sim.frames.astype(int)).mean() < 4  # H.264 is lossy, colours survive
    first_ball = COLOURS[sim.balls[0].colour]
    assert (np.abs(decoded[0].astype(int) - first_ball).sum(-1) < 60).any()


def test_scene_video_bytes_are_reproducible(tmp_path: Path) -> None:
    # lossy x264 varies with thread scheduling; the demo data (and the demo model trained on it) must not
    frames = simulate("bounce", 7).frames
    a = write_video(frames, tmp_path / "a.mp4").read_bytes()
    b = write_video(frames, tmp_path / "b.mp4").read_bytes()
    assert a == b


def test_unknown_scene_kind_names_the_choices() -> None:
    with pytest.raises(ValueError, match="bounce"):
        simulate("explode", 0)


# --- cache, CLI, torchvision hook ---------------------------------------------------------------------------------
def test_cached_dir_builds_once_and_never_keeps_a_failed_build(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("FUTURE_L1_CACHE", str(tmp_path))
    calls = []

    def boom(out: Path) -> None:
        (out / "half").write_text("x")
        raise RuntimeError("killed mid-build")

    with pytest.raises(RuntimeError):
        cached_dir("thing", boom)
    assert not (tmp_path / "thing").exists() and not list(tmp_path.glob(".thing.*"))

    def build(out: Path) -> None:
        calls.append(out)
        (out / "data.txt").write_text("ok")

    first = cached_dir("thing", build)
    second = cached_dir("thing", build)
    assert first == second and len(calls) == 1 and (first / "data.txt").read_text() == "ok"


def test_cli_version_and_help(capsys) -> None:
    from importlib.metadata import entry_points

    from future_l1.harness import __version__
    from future_l1.harness.cli import main

    (script,) = entry_points(group="console_scripts", name="future-l1")  # the command `future-l1` runs main()
    assert script.value == "future_l1.harness.cli:main"
    assert (Path(sys.executable).parent / "future-l1").is_file()  # installed next to this interpreter
    assert main(["--version"]) == 0 and main(["--help"]) == 0
    out = capsys.readouterr().out
    assert f"future-l1 {__version__}" in out and "usage: future-l1" in out


@pytest.mark.integration
def test_torchvision_imports_next_to_cpu_torch(tmp_path: Path) -> None:
    from future_l1.model.torchvision_cpu import PTH_NAME, write_pth

    assert write_pth(tmp_path).name == PTH_NAME
    # a fresh interpreter, as the raw lmms-eval CLI would start: the venv's .pth hook must make this work
    code = "import transformers; from transformers import Qwen3VLVideoProcessor; Qwen3VLVideoProcessor(); print('ok')"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]


@pytest.mark.integration
def test_importing_any_module_installs_nothing() -> None:
    """A fresh interpreter imports every module of the five folders: no module's top-level code calls
    `torchvision_cpu.install()` or adds an import hook of ours; the entry points install it, explicitly, when called
    (the CLI's `main`; the lmms-eval plugin's `manifests`, which lmms-eval calls when its model registry loads)."""
    code = """
import importlib, pkgutil, sys
import future_l1.model.torchvision_cpu as tv
at_import, by_function = [], []
def record():
    caller = sys._getframe(1).f_code
    (at_import if caller.co_name == "<module>" else by_function).append(f"{caller.co_filename}:{caller.co_name}")
tv.install = record
finders = list(sys.meta_path)
for root in ("model", "tasks", "training", "reports", "harness"):
    package = importlib.import_module(f"future_l1.{root}")
    for info in pkgutil.walk_packages(package.__path__, f"future_l1.{root}."):
        importlib.import_module(info.name)
ours = [f for f in sys.meta_path if f not in finders and type(f).__module__.startswith("future_l1")]
assert not at_import and not ours, (at_import, ours)
assert all(c.endswith(":manifests") for c in by_function), by_function
from future_l1.harness.cli import main
try:
    main(["--version"])
except SystemExit:
    pass
assert by_function[-1].endswith(":main"), by_function
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-3000:]
