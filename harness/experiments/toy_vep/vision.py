"""A pretrained vision encoder for the toy VEP task: the tiny model's random encoder taught where the ball is.

A real Qwen3-VL ships a pretrained vision encoder whose tokens say what is where and, within a two-frame temporal
patch, how it moves. Future-L1 SFT keeps it frozen (paper §4) while it aligns latents to that encoder's embeddings of
future frames. The tiny model's encoder is random: a linear probe reads the ball's place from its tokens with R² about
0.3, so neither the question clip nor the latent targets told a model where the ball was, and no SFT arm learned the
toy task (this package's README.md).

`pretrain_vision` gives the tiny encoder a short, seeded pretraining on the toy's own renderer, in the two forms the
toy experiment feeds it:
* question clips: two frames of one ball (a snapshot and a later one) as one video temporal patch, at the question
  size, through the video processor as evaluation feeds them;
* still frames (latent targets): one frame as an image, at the latent size, through the image processor as SFT feeds
  them (Qwen3-VL repeats an image over the temporal patch, so a still is a clip whose two frames are the same).
Each merged token of the main merger and of every DeepStack merger must carry, through a linear read-out that is
thrown away afterwards, for each of the two frames: the share of the token's cell that the ball covers, and the
ball's centre (x, y) scaled to [-1, 1]. It learns where the ball is in each frame, nothing of bounces, questions or
answers: the language model must still work out where the ball will be.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

VERSION = 2  # bump when the pretraining changes what the encoder computes: it names the cache and the SFT checkpoints
FEATURES = 6  # per frame of the temporal patch: cell coverage (×4), centre x, centre y
MAX_SHIFT = 28.0  # px between the two frames of a question clip (the toy's snapshots are at most 22 px apart)


@dataclass(frozen=True)
class VisionPretraining:
    steps: int = 1000
    batch_size: int = 48
    learning_rate: float = 3e-3
    n_frames: int = 4096  # distinct random clips per form, drawn once; batches sample from them
    question_pixels: int = 128 * 128  # the toy experiment's question clips
    latent_pixels: int = 64 * 64  # its latent targets (L_max = 4: one token per quadrant)
    seed: int = 0


def random_clips(rng: np.random.Generator, n: int, *, still: bool) -> tuple[np.ndarray, np.ndarray]:
    """`n` two-frame clips (n, 2, H, W, 3) of one ball, partly out of frame at times, and its centres (n, 2, 2)."""
    from future_l1.harness.experiments.toy_vep.task import COLOUR, RADIUS, SIZE
    from future_l1.tasks.scenes import Ball, _render

    first = rng.uniform(-RADIUS / 2, SIZE + RADIUS / 2, size=(n, 2))
    angle = rng.uniform(0, 2 * math.pi, size=n)
    shift = 0.0 if still else rng.uniform(0, MAX_SHIFT, size=n)
    second = np.clip(first + np.stack([np.cos(angle), np.sin(angle)], 1) * np.reshape(shift, (-1, 1)),
                     -RADIUS / 2, SIZE + RADIUS / 2)  # fmt: skip
    centres = np.stack([first, second], 1)
    ball = Ball(COLOUR, RADIUS)
    clips = np.stack([[_render(c[None], [ball], SIZE) for c in pair] for pair in centres])
    return clips, centres


def token_targets(centres: np.ndarray, grid_hw: tuple[int, int]) -> torch.Tensor:
    """(n · gh · gw, FEATURES) per merged token, in the merger's raster order, from clip centres (n, 2, 2)."""
    from future_l1.harness.experiments.toy_vep.task import RADIUS, SIZE

    gh, gw = grid_hw
    pixel = np.arange(SIZE) + 0.5  # the renderer's pixel centres: coverage = the share of the cell's ball pixels
    rows = []
    for pair in centres:
        per_frame = []
        for x, y in pair:
            inside = ((pixel[None, :] - x) ** 2 + (pixel[:, None] - y) ** 2) <= RADIUS**2
            cover = inside.reshape(gh, SIZE // gh, gw, SIZE // gw).mean(axis=(1, 3)).reshape(-1, 1)
            centre = np.broadcast_to([2 * x / SIZE - 1, 2 * y / SIZE - 1], (gh * gw, 2))
            per_frame.append(np.column_stack([cover * 4, centre]))  # ×4: coverage is ≤ 0.25 for a 32-px cell
        rows.append(np.column_stack(per_frame))
    return torch.tensor(np.concatenate(rows), dtype=torch.float32)


def encode_clips(processor, clips: np.ndarray, pixels: int, *, still: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Patches and grids, as the toy experiment feeds them: stills through the image processor (SFT's latent frames),
    clips through `model.inputs`' video sizing and the video processor (evaluation's question clip)."""
    if still:
        size = {"shortest_edge": pixels, "longest_edge": pixels}
        enc = processor.image_processor(images=list(clips[:, 0]), size=size, return_tensors="pt")
        return enc["pixel_values"], enc["image_grid_thw"]
    from future_l1.model.inputs import presized_videos, resize_video

    videos = [resize_video(c, pixels, pixels) for c in clips]
    presized_videos(processor)
    enc = processor.video_processor(videos=videos, do_resize=False, do_sample_frames=False, return_tensors="pt")
    return enc["pixel_values_videos"], enc["video_grid_thw"]


@dataclass
class _Form:
    patches: list[torch.Tensor]  # per clip
    grid: torch.Tensor
    targets: torch.Tensor  # per merged token
    tokens: int  # merged tokens per clip


def _form(processor, rng, n: int, pixels: int, merge: int, *, still: bool) -> _Form:
    clips, centres = random_clips(rng, n, still=still)
    patches, grid = encode_clips(processor, clips, pixels, still=still)
    hw = (int(grid[0, 1]) // merge, int(grid[0, 2]) // merge)
    return _Form(list(patches.split(grid.prod(-1).tolist())), grid, token_targets(centres, hw), hw[0] * hw[1])


def _outputs(visual, form: _Form, idx: list[int]) -> list[torch.Tensor]:
    out = visual(torch.cat([form.patches[i] for i in idx]), grid_thw=form.grid[idx])
    return [out.pooler_output, *out.deepstack_features]


def _targets(form: _Form, idx: list[int]) -> torch.Tensor:
    return torch.cat([form.targets[i * form.tokens : (i + 1) * form.tokens] for i in idx])


def pretrain_vision(model, processor, cfg: VisionPretraining = VisionPretraining(), *, progress: bool = True) -> dict:
    """Train `model.model.visual` in place (deterministic given `cfg.seed`); returns the held-out R² of each form."""
    from tqdm.auto import tqdm

    visual = model.model.visual
    merge = visual.config.spatial_merge_size
    rng = np.random.default_rng(cfg.seed)
    forms = {
        "question_clip": _form(processor, rng, cfg.n_frames, cfg.question_pixels, merge, still=False),
        "latent_still": _form(processor, rng, cfg.n_frames, cfg.latent_pixels, merge, still=True),
    }
    n_train = cfg.n_frames - cfg.n_frames // 8  # the last eighth is held out
    dim = visual.config.out_hidden_size
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        heads = torch.nn.ModuleList(
            torch.nn.Linear(dim, FEATURES) for _ in range(1 + len(visual.deepstack_merger_list))
        )
        visual.train().requires_grad_(True)
        opt = torch.optim.AdamW([*visual.parameters(), *heads.parameters()], lr=cfg.learning_rate, weight_decay=0.0)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / cfg.steps)))
        order = torch.Generator().manual_seed(cfg.seed)
        names = list(forms)
        bar = tqdm(range(cfg.steps), desc="toy vision pretraining", unit="step", leave=False, disable=not progress)
        for step in bar:
            form = forms[names[step % len(names)]]
            idx = torch.randint(0, n_train, (cfg.batch_size,), generator=order).tolist()
            target = _targets(form, idx)
            loss = torch.stack([F.mse_loss(h(f), target) for h, f in zip(heads, _outputs(visual, form, idx),
                                                                          strict=True)]).mean()  # fmt: skip
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            bar.set_postfix(loss=f"{loss.item():.4f}")
    visual.eval().requires_grad_(False)
    r2 = {}
    with torch.no_grad():
        for name, form in forms.items():
            idx = list(range(n_train, cfg.n_frames))
            target = _targets(form, idx)
            err = F.mse_loss(heads[0](_outputs(visual, form, idx)[0]), target)
            r2[name] = float(1 - err / target.var(0).mean())
    return r2


def probe_r2(model, processor, pixels: int, *, still: bool, n: int = 512, seed: int = 12345) -> float:
    """How well the encoder's merged tokens tell where the ball is in each frame: a least-squares linear probe from
    each token to its `token_targets`, fitted on half of `n` fresh random clips and scored (R², averaged over the
    features) on the other half. A yardstick for any encoder, pretrained or random."""
    merge = model.model.visual.config.spatial_merge_size
    form = _form(processor, np.random.default_rng(seed), n, pixels, merge, still=still)
    with torch.no_grad():
        feats = _outputs(model.model.visual, form, list(range(n)))[0].double()
    target = form.targets.double()
    if still:  # the two frames of a still are the same: score each feature once
        target = target[:, :3]
    x = torch.cat([feats, torch.ones(len(feats), 1, dtype=feats.dtype)], 1)
    half = (n // 2) * form.tokens
    w = torch.linalg.lstsq(x[:half], target[:half]).solution
    err = ((x[half:] @ w - target[half:]) ** 2).mean(0)
    return float(1 - (err / target[half:].var(0)).mean())


def _probes(model, processor, cfg: VisionPretraining) -> dict:
    return {
        "question_clip": probe_r2(model, processor, cfg.question_pixels, still=False),
        "latent_still": probe_r2(model, processor, cfg.latent_pixels, still=True),
    }


def pretrained_toy_vision(cfg: VisionPretraining = VisionPretraining()) -> Path:
    """The pretrained encoder's weights (`visual.safetensors`) and `pretraining.json` (settings, R²), built once and
    cached. One encoder for every SFT seed, as one checkpoint's encoder serves every fine-tuning run."""
    from safetensors.torch import save_file

    from future_l1.model.cache import cached_dir
    from future_l1.model.processor import build_processor
    from future_l1.model.tiny import TINY_CHECKPOINT, build_tiny_model

    def build(out: Path) -> None:
        model, processor = build_tiny_model(cfg.seed), build_processor()
        before = _probes(model, processor, cfg)
        r2 = pretrain_vision(model, processor, cfg)
        after = _probes(model, processor, cfg)
        save_file({k: v.contiguous() for k, v in model.model.visual.state_dict().items()}, out / "visual.safetensors")
        info = {"from": f"{TINY_CHECKPOINT} seed {cfg.seed}", "settings": asdict(cfg), "held_out_r2": r2,
                "linear_probe_r2": {"random_encoder": before, "pretrained": after}}  # fmt: skip
        (out / "pretraining.json").write_text(json.dumps(info, indent=2) + "\n")

    return cached_dir(cache_name(cfg), build)


def cache_name(cfg: VisionPretraining = VisionPretraining()) -> str:
    """The encoder's cache entry: named by VERSION and every setting, so a changed pretraining is never reused."""
    tag = f"s{cfg.steps}-b{cfg.batch_size}-lr{cfg.learning_rate:g}-n{cfg.n_frames}-q{cfg.question_pixels}"
    return f"toy-vision-v{VERSION}-{tag}-l{cfg.latent_pixels}-seed{cfg.seed}"


def load_toy_vision(model, cfg: VisionPretraining = VisionPretraining()) -> None:
    """Put the pretrained toy encoder into a tiny Qwen3-VL `model` (in place)."""
    from safetensors.torch import load_file

    model.model.visual.load_state_dict(load_file(pretrained_toy_vision(cfg) / "visual.safetensors"))
