"""Trades, paths and review rows for the learning tests, with every field spelt out."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from data.schemas import DECISION_CONTEXT
from strategies.learning.review import Path, Review, Trade

NS = 1_000_000_000
T0 = 1_749_168_000 * NS  # 2025-06-06T00:00:00Z


def trade(**over: Any) -> Trade:
    """A closed trade: 2 whole tokens (scale 1e6) bought at 1.0 SOL for 2.02 SOL at T0+100 s,
    closed at T0+140 s by the stop at 1.05 with +0.05 SOL, paying a 1% DEX fee."""
    ctx = dict.fromkeys(DECISION_CONTEXT, float("nan"))
    ctx.update(liquidity=100.0, momentum=0.02, sentiment=float("nan"), range_position=0.5,
               volume_5m=1.0, volume_1h=12.0, volatility=0.01)  # fmt: skip
    ctx.update(over.pop("context", {}))
    base = Trade(
        pos_id=1, mint_id=3, entry_ts=T0 + 100 * NS, exit_ts=T0 + 140 * NS, entry_price=1.0,
        exit_price=1.05, tokens=2_000_000, scale=1e6, cost=2_020_000_000, pnl=50_000_000,
        exit_reason="stop_loss", exits=((T0 + 140 * NS, "stop_loss"),), exit_fee_rate=0.01,
        decision_id=7, trigger=1, sources=0, context=ctx, age_min=3.0,
        top3_pct=float("nan"), token_type=float("nan"),
    )  # fmt: skip
    return dataclasses.replace(base, **over)


def path(points: list[tuple[int, float, float]]) -> Path:
    """(seconds after T0, price, liquidity) rows."""
    ts = np.array([T0 + s * NS for s, _, _ in points], dtype=np.int64)
    return Path(ts, np.array([p for _, p, _ in points]), np.array([q for _, _, q in points]))


def review(**over: Any) -> Review:
    """A review with neutral numbers, for pattern tests (each sets what its rule reads)."""
    base = Review(
        ts_ns=T0 + 1040 * NS, horizon_end_ns=T0 + 1040 * NS, complete=True, actual_return=0.0,
        optimal_return=0.1, efficiency=0.0, max_drawdown=0.05, time_to_optimal_s=10.0,
        best_price=1.1, post_exit_high=float("nan"), post_exit_low=float("nan"),
        min_liquidity_ratio=0.9, rug=False, rug_cause="", outcome="breakeven", ticks=5,
    )  # fmt: skip
    return dataclasses.replace(base, **over)


def review_rows(returns: list[float], *, start_s: int = 0, step_s: int = 60,
                sources: int = 0, first_no: int = 0) -> list[dict[str, Any]]:  # fmt: skip
    """`reviews` rows with just what the adapter reads: times, numbers, returns, sources."""
    return [{"ts_ns": T0 + (start_s + k * step_s) * NS, "entry_ts_ns": T0 + (start_s + k * step_s
             - 30) * NS, "review_no": first_no + k, "actual_return": r, "sources": sources}
            for k, r in enumerate(returns)]  # fmt: skip
