"""A reference for the toy experiment: does seeing the future frame make the toy task easier to learn?

The toy VEP task (`harness/experiments/toy_vep/task.py`) asks in which quadrant the ball is at frame 12, given
snapshots at frames 1 and 6. Two small MLPs get what a perfect encoder would hand the language model, the ball's
true centres in the two snapshots, and train on the same 1000 training items as SFT, batch 16:
* direct (what text-only SFT has to learn): snapshots → option, cross-entropy on the letter;
* two-stage (what latent SFT can learn): snapshots → the ball's centre at frame 12 (squared error on the true
  centre, the analogue of the latent loss), and that centre → option (cross-entropy, trained on true centres, the
  analogue of reading the fed frame); at test time the second stage reads the first one's output (imagination).
`reading_noise_px` adds Gaussian noise to the snapshot centres, for an encoder that locates the ball less exactly.
Val accuracy after N items seen is the yardstick for the SFT budget (harness/experiments/toy_vep/README.md).

    python bench/toy_physics_mlp.py            # writes bench/results/toy_physics_mlp.json (CPU, under a minute)
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from future_l1.harness.experiments.toy_vep.task import OBSERVED, SIZE, TARGET, make_item

CHECKPOINTS = (100, 200, 400, 1000)  # steps of batch 16: 6,400 items seen is the SFT's 400 × 16
SEEDS = (0, 1, 2)
NOISE_PX = (0.0, 1.0)


def positions(split: str, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Snapshot centres (n, 4) and frame-12 centres (n, 2), scaled to [-1, 1], and option indices (n,)."""
    xs, ps, ys = [], [], []
    for i in range(n):
        item = make_item(split, i)
        xs.append(np.r_[item.positions[OBSERVED[0]], item.positions[OBSERVED[1]]])
        ps.append(item.positions[TARGET])
        ys.append("ABCD".index(item.answer))
    scale = lambda a: torch.tensor(np.array(a) / SIZE * 2 - 1, dtype=torch.float32)  # noqa: E731
    return scale(xs), scale(ps), torch.tensor(ys)


def mlp(n_in: int, n_out: int) -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(n_in, 128), torch.nn.GELU(), torch.nn.Linear(128, 128), torch.nn.GELU(),
                               torch.nn.Linear(128, n_out))  # fmt: skip


def train(two_stage: bool, seed: int, noise_px: float, train_set, val_set) -> list[float]:
    (x_train, p_train, y_train), (x_val, _, y_val) = train_set, val_set
    gen = torch.Generator().manual_seed(1000 + seed)
    noise = lambda x: x + torch.randn(x.shape, generator=gen) * (2 * noise_px / SIZE)  # noqa: E731
    x_val = noise(x_val)
    torch.manual_seed(seed)
    first, second = mlp(4, 2 if two_stage else 4), mlp(2, 4)
    params = list(first.parameters()) + (list(second.parameters()) if two_stage else [])
    opt = torch.optim.Adam(params, 3e-3)
    ce = torch.nn.functional.cross_entropy
    accuracy = []
    for step in range(1, max(CHECKPOINTS) + 1):
        idx = torch.randint(0, len(x_train), (16,), generator=gen)
        x = noise(x_train[idx])
        if two_stage:
            loss = ((first(x) - p_train[idx]) ** 2).sum(1).mean() + ce(second(p_train[idx]), y_train[idx])
        else:
            loss = ce(first(x), y_train[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step in CHECKPOINTS:
            with torch.no_grad():
                logits = second(first(x_val)) if two_stage else first(x_val)
            accuracy.append((logits.argmax(1) == y_val).float().mean().item())
    return accuracy


def main() -> None:
    torch.set_num_threads(1)
    train_set, val_set = positions("train", 1000), positions("val", 300)
    start, rows = time.time(), []
    for noise_px in NOISE_PX:
        for two_stage in (False, True):
            runs = np.array([train(two_stage, seed, noise_px, train_set, val_set) for seed in SEEDS])
            for k, steps in enumerate(CHECKPOINTS):
                rows.append({"model": "two-stage" if two_stage else "direct", "reading_noise_px": noise_px,
                             "steps": steps, "items_seen": 16 * steps,
                             "val_accuracy_per_seed": [round(float(a), 4) for a in runs[:, k]],
                             "val_accuracy_mean": round(float(runs[:, k].mean()), 4)})  # fmt: skip
                print(rows[-1])
    out = Path(__file__).parent / "results" / "toy_physics_mlp.json"
    result = {"model": "MLP in-128-128-out, GELU, Adam 3e-3, batch 16", "seeds": list(SEEDS), "train_items": 1000,
              "val_items": 300, "task": "toy_vep_v3", "rows": rows, "seconds": round(time.time() - start, 1),
              "machine": platform.processor() or platform.machine(), "torch": torch.__version__}  # fmt: skip
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(out)


if __name__ == "__main__":
    main()
