"""The validation statistics against numbers worked out by hand."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest

from replay.validate.stats import (
    EULER_GAMMA,
    bootstrap_ci,
    bootstrap_p,
    deflated_sharpe,
    paired_effect,
    sign_flip_p,
)


def test_sign_flip_is_exact_over_all_patterns() -> None:
    # [1, 2, 3]: of the 8 sign patterns only (+, +, +) has a mean >= 2.
    assert sign_flip_p(np.array([1.0, 2.0, 3.0]), 1000, 0) == 1 / 8
    # [1, -1]: means 0, 1, -1, 0; three of four are >= the observed 0.
    assert sign_flip_p(np.array([1.0, -1.0]), 1000, 0) == 3 / 4
    # Seven positive days: 1 / 128, the smallest this test gives with 7 days.
    assert sign_flip_p(np.full(7, 0.01), 1000, 0) == 1 / 128


def test_deflated_sharpe_by_the_formula() -> None:
    d = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    sr = 3.0 / math.sqrt(2.5)  # mean 3, sample standard deviation sqrt(2.5)
    # Standardised: (-2, -1, 0, 1, 2) / sqrt(2): skew 0, kurtosis (4 + .25 + 0 + .25 + 4) / 5.
    kurt = 1.7
    spread = 1 + (kurt - 1) / 4 * sr * sr
    psr = NormalDist().cdf(sr * 2 / math.sqrt(spread))  # sqrt(n - 1) = 2
    got_sr, got = deflated_sharpe(d, 1)
    assert got_sr == pytest.approx(sr) and got == pytest.approx(psr)
    # Ten configurations tried: the bar is the best Sharpe ratio ten unskilled ones give.
    z = NormalDist()
    sr0 = math.sqrt(spread / 4) * ((1 - EULER_GAMMA) * z.inv_cdf(0.9)
                                   + EULER_GAMMA * z.inv_cdf(1 - 1 / (10 * math.e)))  # fmt: skip
    _, deflated = deflated_sharpe(d, 10)
    assert deflated == pytest.approx(z.cdf((sr - sr0) * 2 / math.sqrt(spread)))
    assert deflated < psr


def test_constant_differences() -> None:
    d = np.full(5, 0.02)
    assert bootstrap_ci(d, 0.95, 2000, 1) == (pytest.approx(0.02), pytest.approx(0.02))
    assert math.isnan(deflated_sharpe(d, 1)[1])  # no spread, no Sharpe ratio


def test_bootstrap_p_of_a_clear_and_of_no_effect() -> None:
    clear = np.array([0.05, 0.04, 0.06, 0.05, 0.055, 0.045, 0.05, 0.052])
    assert bootstrap_p(clear, 5000, 3) < 0.01
    none = np.array([0.01, -0.01, 0.02, -0.02, 0.0, 0.005, -0.005, 0.0])
    assert bootstrap_p(none, 5000, 3) > 0.3


def test_paired_effect_and_the_design_limit() -> None:
    e = paired_effect(np.array([0.01, 0.02]), test="sign_flip", confidence=0.95, draws=2000,
                      seed=1, trials=1)  # fmt: skip
    assert (e.n, e.mean, e.p_value, e.min_p) == (2, pytest.approx(0.015), 0.25, 0.25)
    assert math.isnan(e.deflated_sharpe)
