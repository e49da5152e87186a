"""Feature buckets at entry: the groups the knowledge brain keeps success rates for.

Bounds are fixed and named so a lesson reads "liquidity 50-200 SOL: 7 of 9 won" and
the same bucket means the same thing in every run. A value that is unknown (NaN: no
such signal in the data) falls in 'unknown'.
"""

from __future__ import annotations

import math

from strategies.learning.review import Trade

DIMENSIONS = ("liquidity", "holders", "momentum", "age", "sentiment", "token_type")

_EDGES: dict[str, tuple[tuple[float, str], ...]] = {
    # (upper bound exclusive, label); the last label takes everything above.
    "liquidity": ((10.0, "<10 SOL"), (50.0, "10-50 SOL"), (200.0, "50-200 SOL"),
                  (math.inf, ">=200 SOL")),
    "holders": ((20.0, "top3 <20%"), (50.0, "top3 20-50%"), (math.inf, "top3 >=50%")),
    "momentum": ((0.0, "ret_5m <0"), (0.05, "ret_5m 0-5%"), (0.15, "ret_5m 5-15%"),
                 (math.inf, "ret_5m >=15%")),
    "age": ((5.0, "<5 min"), (60.0, "5-60 min"), (360.0, "1-6 h"), (math.inf, ">=6 h")),
    "sentiment": ((-0.2, "bearish"), (0.2, "neutral"), (math.inf, "bullish")),
}  # fmt: skip


def bucket(dimension: str, value: float) -> str:
    """The label of `value` in `dimension`."""
    if not math.isfinite(value):
        return "unknown"
    if dimension == "token_type":
        return "meme" if value >= 0.5 else "other"
    for upper, label in _EDGES[dimension]:
        if value < upper:
            return label
    raise AssertionError("the last edge is infinite")


def trade_buckets(t: Trade) -> dict[str, str]:
    """Every dimension's bucket for a trade's entry."""
    values = {
        "liquidity": t.context["liquidity"], "holders": t.top3_pct,
        "momentum": t.context["momentum"], "age": t.age_min,
        "sentiment": t.context["sentiment"], "token_type": t.token_type,
    }  # fmt: skip
    return {d: bucket(d, values[d]) for d in DIMENSIONS}
