"""Seeded bootstrap intervals, McNemar's test and Student's t interval over a few seeds: the statistics reports need.

Intervals are 95% percentile bootstraps over samples with numpy's PCG64 generator and a fixed seed, so the same
samples give the same interval on every machine. McNemar uses the exact two-sided binomial test while the
discordant count is small (< 25, where the chi-square approximation is poor) and the continuity-corrected
chi-square (1 df) above; both are closed forms in `math`, so no scipy dependency is needed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

DEFAULT_SEED = 0
DEFAULT_N_BOOT = 2000
EXACT_MCNEMAR_BELOW = 25


def bootstrap_ci(
    values: Sequence[float], *, seed: int = DEFAULT_SEED, n_boot: int = DEFAULT_N_BOOT, level: float = 0.95
) -> tuple[float, float] | None:
    """Percentile-bootstrap interval of the mean of `values`; None for an empty sample."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return None
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(n_boot, x.size))
    means = x[idx].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def paired_difference(
    a: Sequence[float], b: Sequence[float], *, seed: int = DEFAULT_SEED, n_boot: int = DEFAULT_N_BOOT
) -> tuple[float, tuple[float, float] | None]:
    """Mean of b - a over paired samples and its bootstrap interval (resampling pairs, which keeps the pairing)."""
    if len(a) != len(b):
        raise ValueError(f"paired samples must have equal length, got {len(a)} and {len(b)}")
    d = np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64)
    if d.size == 0:
        return float("nan"), None
    return float(d.mean()), bootstrap_ci(d, seed=seed, n_boot=n_boot)


def mcnemar_p(b: int, c: int) -> float:
    """Two-sided McNemar p-value from the discordant counts b (only A right) and c (only B right)."""
    n = b + c
    if n == 0:
        return 1.0
    if n < EXACT_MCNEMAR_BELOW:
        tail = sum(math.comb(n, k) for k in range(min(b, c) + 1)) / 2**n
        return min(1.0, 2.0 * tail)
    stat = (abs(b - c) - 1) ** 2 / n
    return math.erfc(math.sqrt(stat / 2.0))  # survival function of chi-square with 1 df


# Two-sided 95% quantiles of Student's t, t_{0.975}(df) for df = 1..30 (above 30 the normal's 1.96 is close enough):
# a table, so that no scipy dependency is needed for the handful of seeds an experiment runs.
T_975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
         2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)  # fmt: skip


def t_interval(values: Sequence[float]) -> tuple[float, float] | None:
    """95% Student-t interval of the mean of a few independent values (e.g. one accuracy or one paired difference per
    seed): mean ± t_{0.975}(n−1)·s/√n. It treats the seeds as the units, so it is wider than an item bootstrap when
    seeds disagree. None for fewer than two values."""
    x = np.asarray(values, dtype=np.float64)
    if x.size < 2:
        return None
    t = T_975[x.size - 2] if x.size - 1 <= len(T_975) else 1.96
    half = t * float(x.std(ddof=1)) / math.sqrt(x.size)
    return float(x.mean()) - half, float(x.mean()) + half
