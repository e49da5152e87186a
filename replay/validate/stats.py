"""The statistics of a paired comparison: effect, interval, one-sided p-value, deflated Sharpe.

Inputs are the per-test-day differences d = learner - frozen (daily returns). All
resampling is seeded: the same differences give the same numbers.

- effect: mean(d); interval: percentile bootstrap of the mean at `confidence`.
- sign_flip p-value (H0: d is symmetric about 0): the share of sign patterns whose mean
  is >= the observed one; exact over all 2^n patterns for n <= 16, else `draws`
  random ones (plus the observed, so p > 0).
- bootstrap p-value: resample d - mean(d) (the null shifted to 0); the share of means
  >= the observed mean, (1 + count) / (1 + draws).
- deflated Sharpe ratio (Bailey and Lopez de Prado, 2014) of d as a daily return
  series: the probability that its true Sharpe ratio exceeds the best one expected from
  `trials` configurations of no skill, given the skewness and kurtosis of d.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

EULER_GAMMA = 0.5772156649015329
_N = NormalDist()


@dataclass(frozen=True)
class Effect:
    """The paired comparison's numbers."""

    n: int
    mean: float
    ci_low: float
    ci_high: float
    p_value: float
    sharpe: float
    """mean / standard deviation of d (per test day, not annualised)."""
    deflated_sharpe: float
    min_p: float
    """The smallest p-value this test can give with n days (the design's limit)."""


def bootstrap_ci(d: np.ndarray, confidence: float, draws: int, seed: int) -> tuple[float, float]:
    """Percentile bootstrap interval of mean(d)."""
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, len(d), size=(draws, len(d)))].mean(axis=1)
    tail = (1 - confidence) / 2
    lo, hi = np.quantile(means, [tail, 1 - tail])
    return float(lo), float(hi)


def sign_flip_p(d: np.ndarray, draws: int, seed: int) -> float:
    """One-sided sign-flip p-value of mean(d) > 0 (exact up to 16 values)."""
    observed = d.mean()
    n = len(d)
    if n <= 16:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=n)))
        means = (signs * d).mean(axis=1)
        return float(np.count_nonzero(means >= observed - 1e-15)) / len(signs)
    rng = np.random.default_rng(seed)
    signs = rng.choice((1.0, -1.0), size=(draws, n))
    means = (signs * d).mean(axis=1)
    return (1 + int(np.count_nonzero(means >= observed - 1e-15))) / (1 + draws)


def bootstrap_p(d: np.ndarray, draws: int, seed: int) -> float:
    """One-sided bootstrap p-value of mean(d) > 0 (the centred sample as the null)."""
    observed = d.mean()
    centred = d - observed
    rng = np.random.default_rng(seed)
    means = centred[rng.integers(0, len(d), size=(draws, len(d)))].mean(axis=1)
    return (1 + int(np.count_nonzero(means >= observed - 1e-15))) / (1 + draws)


def deflated_sharpe(d: np.ndarray, trials: int) -> tuple[float, float]:
    """(Sharpe ratio, deflated Sharpe ratio) of the series d over `trials` configurations."""
    n = len(d)
    sd = float(d.std(ddof=1)) if n >= 2 else 0.0
    if n < 3 or sd == 0.0:
        return (float("nan"), float("nan"))
    sr = float(d.mean()) / sd
    z = (d - d.mean()) / d.std(ddof=0)
    skew = float((z**3).mean())
    kurt = float((z**4).mean())  # not excess: 3 for a normal series
    spread = 1.0 - skew * sr + (kurt - 1.0) / 4.0 * sr * sr
    spread = max(spread, 1e-12)
    sr0 = 0.0
    if trials > 1:
        v = spread / (n - 1)  # the variance of the SR estimator
        sr0 = math.sqrt(v) * ((1 - EULER_GAMMA) * _N.inv_cdf(1 - 1 / trials)
                              + EULER_GAMMA * _N.inv_cdf(1 - 1 / (trials * math.e)))  # fmt: skip
    return sr, _N.cdf((sr - sr0) * math.sqrt(n - 1) / math.sqrt(spread))


def paired_effect(d: np.ndarray, *, test: str, confidence: float, draws: int, seed: int,
                  trials: int) -> Effect:  # fmt: skip
    """Everything the report states about the differences d."""
    d = np.asarray(d, dtype=np.float64)
    n = len(d)
    if n == 0:
        nan = float("nan")
        return Effect(0, nan, nan, nan, nan, nan, nan, nan)
    lo, hi = bootstrap_ci(d, confidence, draws, seed)
    if test == "sign_flip":
        p = sign_flip_p(d, draws, seed + 1)
        min_p = 0.5**n if n <= 16 else 1 / (1 + draws)
    else:
        p = bootstrap_p(d, draws, seed + 1)
        min_p = 1 / (1 + draws)
    sr, dsr = deflated_sharpe(d, trials)
    return Effect(n, float(d.mean()), lo, hi, p, sr, dsr, min_p)
