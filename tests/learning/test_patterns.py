"""The pattern library: each rule hits its positive case and misses its negative one."""

from __future__ import annotations

from typing import Any

import pytest

from strategies.learning.patterns import PATTERNS, match
from strategies.learning.settings import PatternThresholds
from tests.learning.builders import review, trade

TH = PatternThresholds()
NAN = float("nan")

# (pattern, trade overrides, review overrides) that hit, and a near miss that does not.
Case = tuple[dict[str, Any], dict[str, Any]]
CASES: dict[str, tuple[Case, Case]] = {
    # ret_5m >= 0.10 and return > 0.10.
    "high_momentum_entry_success": (({"context": {"momentum": 0.10}}, {"actual_return": 0.11}),
                                    ({"context": {"momentum": 0.10}}, {"actual_return": 0.10})),
    # sentiment >= 0.5 and return > 0.
    "party_sentiment_profitable": (({"context": {"sentiment": 0.5}}, {"actual_return": 0.01}),
                                   ({"context": {"sentiment": 0.49}}, {"actual_return": 0.5})),
    # 5-minute volume x 12 >= 3 x hourly volume: 1.0 x 12 = 12 >= 3 x 4.
    "volume_spike_entry": (({"context": {"volume_5m": 1.0, "volume_1h": 4.0}}, {}),
                           ({"context": {"volume_5m": 1.0, "volume_1h": 4.1}}, {})),
    # Stopped out, then the price came back to the entry (1.0) within the horizon.
    "premature_stop_loss": (({"exit_reason": "stop_loss"}, {"post_exit_high": 1.0}),
                            ({"exit_reason": "stop_loss"}, {"post_exit_high": 0.99})),
    # Time stop at 1.05, and the price after it stayed <= 1.05 x 1.05.
    "effective_time_stop": (({"exit_reason": "time_stop"}, {"post_exit_high": 1.1025}),
                            ({"exit_reason": "time_stop"}, {"post_exit_high": 1.11})),
    # Sold on a sentiment flip at a loss; the price came back to the entry.
    "panic_sell": (({"exit_reason": "sentiment_flip"},
                    {"actual_return": -0.03, "post_exit_high": 1.0}),
                   ({"exit_reason": "sentiment_flip"},
                    {"actual_return": 0.01, "post_exit_high": 1.5})),
    # Liquidity < 50 SOL at entry and return <= -5%.
    "low_liquidity_loss": (({"context": {"liquidity": 49.0}}, {"actual_return": -0.05}),
                           ({"context": {"liquidity": 50.0}}, {"actual_return": -0.5})),
    "rug_pull_detected": (({}, {"rug": True, "rug_cause": "price"}), ({}, {"rug": False})),
    # Range position >= 0.9 and the best price >= entry x 1.2.
    "breakout_continuation": (({"context": {"range_position": 0.9}}, {"best_price": 1.2}),
                              ({"context": {"range_position": 0.9}}, {"best_price": 1.19})),
    # Range position <= 0.2 and return > 0.
    "support_bounce": (({"context": {"range_position": 0.2}}, {"actual_return": 0.02}),
                       ({"context": {"range_position": 0.21}}, {"actual_return": 0.02})),
}  # fmt: skip


def _base_trade(over: dict[str, Any]) -> Any:
    # Neutral: no pattern fires on the base case (checked below).
    ctx = {"momentum": 0.0, "sentiment": NAN, "volume_5m": 0.0, "volume_1h": 12.0,
           "liquidity": 100.0, "range_position": 0.5, **over.pop("context", {})}  # fmt: skip
    return trade(context=ctx, exit_reason=over.pop("exit_reason", "target_1"), **over)


def test_every_library_pattern_has_a_case() -> None:
    assert set(CASES) == set(PATTERNS) and len(PATTERNS) == 10


def test_the_base_case_matches_nothing() -> None:
    assert match(_base_trade({}), review(), TH) == []


@pytest.mark.parametrize("name", PATTERNS)
def test_positive_case_hits_only_its_rule(name: str) -> None:
    (t_over, r_over), _ = CASES[name]
    hits = match(_base_trade(dict(t_over)), review(**r_over), TH)
    assert [h.pattern for h in hits] == [name]
    assert hits[0].evidence  # the values the rule tested


@pytest.mark.parametrize("name", PATTERNS)
def test_near_miss_does_not_hit(name: str) -> None:
    _, (t_over, r_over) = CASES[name]
    hits = match(_base_trade(dict(t_over)), review(**r_over), TH)
    assert name not in [h.pattern for h in hits]


def test_unknown_inputs_never_hit() -> None:
    t = _base_trade({"context": {"momentum": NAN, "liquidity": NAN, "range_position": NAN,
                                 "volume_1h": NAN}})  # fmt: skip
    r = review(actual_return=-0.5, best_price=NAN, post_exit_high=NAN)
    assert match(t, r, TH) == []


def test_thresholds_are_parameters() -> None:
    t = _base_trade({"context": {"liquidity": 70.0}})
    r = review(actual_return=-0.1)
    assert match(t, r, TH) == []
    low = PatternThresholds(low_liquidity_sol=80.0)
    assert [h.pattern for h in match(t, r, low)] == ["low_liquidity_loss"]
