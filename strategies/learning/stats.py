"""Seeded resampling statistics: the same events always give the same p-value and interval.

A permutation test and a percentile bootstrap, in numpy: no distributional assumption
(trade returns are anything but normal) and no extra dependency. The generator is
seeded from the caller's seed and what is being tested, so a replay reproduces every
verdict byte for byte.
"""

from __future__ import annotations

import numpy as np


def permutation_p(a: np.ndarray, b: np.ndarray, draws: int, seed: int) -> float:
    """Two-sided p-value that mean(a) and mean(b) differ only by chance.

    (1 + draws with a shuffled |difference| >= the observed one) / (1 + draws).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if not len(a) or not len(b):
        return float("nan")
    both = np.concatenate([a, b])
    observed = abs(a.mean() - b.mean())
    rng = np.random.default_rng(seed)
    k = len(a)
    perm = rng.permuted(np.broadcast_to(both, (draws, len(both))), axis=1)
    diffs = np.abs(perm[:, :k].mean(axis=1) - perm[:, k:].mean(axis=1))
    extreme = int(np.count_nonzero(diffs >= observed - 1e-12))
    return (1 + extreme) / (1 + draws)


def bootstrap_diff_ci(
    before: np.ndarray, after: np.ndarray, confidence: float, draws: int, seed: int
) -> tuple[float, float]:
    """Percentile bootstrap interval of mean(after) - mean(before)."""
    before = np.asarray(before, dtype=np.float64)
    after = np.asarray(after, dtype=np.float64)
    rng = np.random.default_rng(seed)
    ia = rng.integers(0, len(after), size=(draws, len(after)))
    ib = rng.integers(0, len(before), size=(draws, len(before)))
    diffs = after[ia].mean(axis=1) - before[ib].mean(axis=1)
    tail = (1 - confidence) / 2
    lo, hi = np.quantile(diffs, [tail, 1 - tail])
    return float(lo), float(hi)
