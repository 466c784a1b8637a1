"""Issue 28's check beyond the tuning grid: (a) and (b) at 2,400 steps, seeds 0 and 1, on val (`tuning-2400`), then
each at its val-best learning rate (and (a) at the other) on test (`test-2400`); checkpoints are shared by the splits.

    python bench/toy_grid_2400.py [OUT]   # OUT: the experiment folder (default experiments/latent-vs-text)
"""

import sys
from dataclasses import replace
from pathlib import Path

from future_l1.harness.experiments.toy_vep import tuning
from future_l1.harness.experiments.toy_vep.settings import MODES

if __name__ == "__main__":  # spawned SFT workers import this file
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "experiments/latent-vs-text")
    full = replace(MODES["full"], tuned=(), seeds=(0, 1))
    configs = [
        replace(full, steps=2400, learning_rate=1e-2, arms=("latent",)),
        replace(full, steps=2400, learning_rate=3e-3, arms=("latent", "text")),
    ]
    for split, name in (("val", "tuning-2400"), ("test", "test-2400")):
        print("\n".join(tuning.table(tuning.run_grid(out, configs, split, name))))
