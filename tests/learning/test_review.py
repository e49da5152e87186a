"""Trade review: every metric checked against numbers worked out by hand here."""

from __future__ import annotations

import math

import pytest

from strategies.learning.review import efficiency_of, outcome_of, review_trade
from tests.learning.builders import NS, T0, path, trade


def _review(points: list[tuple[int, float, float]], horizon_end_s: int = 1040, **over: object):
    return review_trade(trade(**over), path(points), at_ns=T0 + horizon_end_s * NS,
                        horizon_end_ns=T0 + horizon_end_s * NS, rug_price_drop=0.8,
                        rug_liquidity_drop=0.5)  # fmt: skip


PATH = [(100, 9.9, 100.0),  # at the entry's own time: not after it, never read
        (110, 1.10, 100.0), (120, 1.30, 110.0), (130, 0.95, 90.0), (140, 1.05, 95.0),
        (150, 1.20, 96.0), (160, 0.90, 97.0),
        (2000, 50.0, 1.0)]  # after the horizon end (T0 + 1040 s): never read  # fmt: skip


def test_every_metric_of_a_small_winner_by_hand() -> None:
    r = _review(PATH)
    # Actual: +0.05 SOL on a cost of 2.02 SOL.
    assert r.actual_return == pytest.approx(0.05 / 2.02, rel=1e-12)
    # Best exit: 1.30 at +120 s (the 9.9 at the entry instant and the 50 after the
    # horizon are outside the window). 2 tokens x 1.30 x (1 - 1%) = 2.574 SOL on 2.02.
    assert r.best_price == 1.30
    assert r.optimal_return == pytest.approx(2.574 / 2.02 - 1, rel=1e-12)
    assert r.efficiency == pytest.approx((0.05 / 2.02) / (2.574 / 2.02 - 1), rel=1e-12)
    assert r.time_to_optimal_s == 20.0
    # Held 100 < ts <= 140: the high runs 1.0 (entry), 1.10, 1.30, 1.30, 1.30; the
    # deepest fall is 0.95 from 1.30.
    assert r.max_drawdown == pytest.approx(1 - 0.95 / 1.30, rel=1e-12)
    assert (r.post_exit_high, r.post_exit_low) == (1.20, 0.90)
    # Lowest liquidity 90 against 100 at entry; lowest price 0.90 against a 1.30 high.
    assert r.min_liquidity_ratio == pytest.approx(0.9)
    assert not r.rug and r.rug_cause == ""
    assert r.outcome == "breakeven"  # +2.5%: above -5%, not above 10%
    assert r.ticks == 6 and r.complete


def test_a_loser_whose_best_exit_also_lost() -> None:
    # 1 token bought for 1 SOL at 1.0; the price never came back above 0.9.
    r = _review([(110, 0.9, 100.0), (120, 0.8, 100.0)], tokens=1_000_000, cost=1_000_000_000,
                pnl=-200_000_000, exit_ts=T0 + 120 * NS, exit_price=0.8)  # fmt: skip
    assert r.actual_return == pytest.approx(-0.2)
    assert r.optimal_return == pytest.approx(0.9 * 0.99 - 1)  # -0.109
    assert r.efficiency == pytest.approx(0.109 / 0.2)  # the least loss over the loss taken
    assert r.max_drawdown == pytest.approx(0.2)  # 0.8 against the entry's 1.0
    assert r.outcome == "big_loss"  # -20% is not above -20%


@pytest.mark.parametrize(
    ("points", "cause"),
    [
        # The price fell 85% below its high (1.0 at entry): a rug.
        ([(110, 1.0, 100.0), (900, 0.15, 100.0)], "price"),
        # 75% only: not a rug (and liquidity held).
        ([(110, 1.0, 100.0), (900, 0.25, 100.0)], ""),
        # The pool kept 40 of its 100 SOL: lost most of it, a rug.
        ([(110, 1.0, 100.0), (900, 0.9, 40.0)], "liquidity"),
        # Kept 60: not.
        ([(110, 1.0, 100.0), (900, 0.9, 60.0)], ""),
        # Both, after the exit but within the horizon (T0 + 1040 s).
        ([(110, 2.0, 100.0), (1000, 0.3, 10.0)], "price+liquidity"),
        # Both, but after the horizon: not seen, not a rug.
        ([(110, 1.0, 100.0), (1100, 0.01, 1.0)], ""),
    ],
)
def test_the_rug_definition(points: list[tuple[int, float, float]], cause: str) -> None:
    r = _review(points)
    assert r.rug_cause == cause
    assert r.rug is bool(cause)
    assert (r.outcome == "rug") is bool(cause)


def test_unknown_liquidity_at_entry_uses_the_first_known_one() -> None:
    r = _review([(110, 1.0, 80.0), (120, 1.0, 30.0)], context={"liquidity": float("nan")})
    assert r.min_liquidity_ratio == pytest.approx(30 / 80)
    assert r.rug_cause == "liquidity"


@pytest.mark.parametrize(
    ("ret", "outcome"),
    [(0.51, "big_win"), (0.5, "win"), (0.11, "win"), (0.1, "breakeven"), (-0.049, "breakeven"),
     (-0.05, "loss"), (-0.19, "loss"), (-0.2, "big_loss"), (-0.9, "big_loss")],
)  # fmt: skip
def test_outcome_bands(ret: float, outcome: str) -> None:
    assert outcome_of(ret, rug=False) == outcome
    assert outcome_of(ret, rug=True) == "rug"


@pytest.mark.parametrize(
    ("actual", "optimal", "eff"),
    [(0.1, 0.2, 0.5), (-0.1, 0.2, -0.5), (-0.2, -0.1, 0.5), (0.0, -0.1, 1.0), (0.05, -0.1, 1.0),
     (-0.1, 0.0, 0.0)],
)  # fmt: skip
def test_efficiency_for_every_sign(actual: float, optimal: float, eff: float) -> None:
    assert efficiency_of(actual, optimal) == pytest.approx(eff)


def test_no_tick_in_the_window_leaves_optimal_unknown() -> None:
    r = _review([(100, 1.0, 1.0), (5000, 2.0, 1.0)])
    assert math.isnan(r.optimal_return) and math.isnan(r.efficiency)
    assert r.ticks == 0 and r.max_drawdown == 0.0
