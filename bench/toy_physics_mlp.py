"""A reference for the toy experiment: how many items must a plain MLP see to learn the toy's physics?

The toy VEP task (`tasks/toy_vep.py`) asks where the ball is at frame 12, given snapshots at frames 1 and 4. A 2-layer
MLP is given what a perfect encoder would hand the language model, the ball's true centres in the two snapshots,
and trained with cross-entropy on the same 1000 training items as SFT. Its val accuracy after N items seen is the
yardstick for the SFT budget (README, "Does the method work?"): the language model has to learn the same map from
the encoder's tokens.

    python bench/toy_physics_mlp.py            # writes bench/results/toy_physics_mlp.json (CPU, under a minute)
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from future_l1.tasks.toy_vep import OBSERVED, SIZE, make_item

CHECKPOINTS = (400, 1000, 2000, 4000)  # steps of batch 16: 6,400 items seen is the SFT's 400 × 16


def positions(split: str, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    xs, ys = [], []
    for i in range(n):
        item = make_item(split, i)
        xs.append(np.r_[item.positions[OBSERVED[0]], item.positions[OBSERVED[1]]] / SIZE * 2 - 1)
        ys.append("ABCD".index(item.answer))
    return torch.tensor(np.array(xs), dtype=torch.float32), torch.tensor(ys)


def main() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    x_train, y_train = positions("train", 1000)
    x_val, y_val = positions("val", 300)
    net = torch.nn.Sequential(torch.nn.Linear(4, 128), torch.nn.GELU(), torch.nn.Linear(128, 128), torch.nn.GELU(),
                              torch.nn.Linear(128, 4))  # fmt: skip
    opt = torch.optim.Adam(net.parameters(), 3e-3)
    start, rows = time.time(), []
    for step in range(1, max(CHECKPOINTS) + 1):
        idx = torch.randint(0, len(x_train), (16,))
        loss = torch.nn.functional.cross_entropy(net(x_train[idx]), y_train[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step in CHECKPOINTS:
            with torch.no_grad():
                acc = (net(x_val).argmax(1) == y_val).float().mean().item()
            rows.append({"steps": step, "items_seen": 16 * step, "val_accuracy": round(acc, 4)})
            print(rows[-1])
    out = Path(__file__).parent / "results" / "toy_physics_mlp.json"
    result = {"model": "MLP 4-128-128-4, GELU, Adam 3e-3, batch 16, seed 0", "train_items": 1000, "val_items": 300,
              "rows": rows, "seconds": round(time.time() - start, 1), "machine": platform.processor() or platform.machine(),
              "torch": torch.__version__}  # fmt: skip
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(out)


if __name__ == "__main__":
    main()
