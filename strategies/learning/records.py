"""The learning loop's events as rows: reviews, pattern hits, insights and adaptations.

Each is a plain dict with exactly its family's columns (data.schemas), built in one
place so the incremental brain, the run's tables and the projections read the same
fields.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from data.schemas import FAMILIES
from engine.params import LAMPORTS_PER_SOL
from strategies.learning.buckets import DIMENSIONS, trade_buckets
from strategies.learning.patterns import Hit
from strategies.learning.review import Review, Trade

Row = dict[str, Any]
LEARNING_FAMILIES = ("reviews", "pattern_hits", "insights", "adaptations")
"""The learning loop's event families, in the order a run logs them."""
ENTRY_FEATURES = ("liquidity", "momentum", "sentiment", "range_position", "volume_5m",
                  "volume_1h", "volatility")  # fmt: skip


def to_json(value: object) -> str:
    """Compact JSON with sorted keys (stable bytes for the same content); NaN as null."""
    return json.dumps(_finite(value), sort_keys=True, separators=(",", ":"))


def _finite(v: object) -> object:
    if isinstance(v, float) and v != v:
        return None
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_finite(x) for x in v]
    return v


def review_row(no: int, trade: Trade, review: Review) -> Row:
    """One `reviews` row."""
    buckets = trade_buckets(trade)
    return {
        "ts_ns": review.ts_ns, "mint_id": trade.mint_id, "review_no": no,
        "pos_id": trade.pos_id, "decision_id": trade.decision_id,
        "entry_ts_ns": trade.entry_ts, "exit_ts_ns": trade.exit_ts,
        "horizon_end_ns": review.horizon_end_ns, "complete": review.complete,
        "exit_reason": trade.exit_reason, "exits": to_json([list(e) for e in trade.exits]),
        "trigger": trade.trigger, "sources": trade.sources,
        "cost_sol": trade.cost / LAMPORTS_PER_SOL, "pnl_sol": trade.pnl / LAMPORTS_PER_SOL,
        "entry_price": trade.entry_price, "exit_price": trade.exit_price,
        "best_price": review.best_price, "actual_return": review.actual_return,
        "optimal_return": review.optimal_return, "efficiency": review.efficiency,
        "max_drawdown": review.max_drawdown, "time_to_optimal_s": review.time_to_optimal_s,
        "post_exit_high": review.post_exit_high, "post_exit_low": review.post_exit_low,
        "min_liquidity_ratio": review.min_liquidity_ratio, "rug": review.rug,
        "rug_cause": review.rug_cause, "outcome": review.outcome, "ticks": review.ticks,
        **{name: trade.context[name] for name in ENTRY_FEATURES},
        "top3_pct": trade.top3_pct, "age_min": trade.age_min, "token_type": trade.token_type,
        **{f"{d}_bucket": buckets[d] for d in DIMENSIONS},
    }  # fmt: skip


def hit_row(review: Row, hit: Hit) -> Row:
    """One `pattern_hits` row."""
    return {
        "ts_ns": review["ts_ns"], "mint_id": review["mint_id"],
        "review_no": review["review_no"], "pos_id": review["pos_id"], "pattern": hit.pattern,
        "success": bool(review["actual_return"] > 0), "actual_return": review["actual_return"],
        "evidence": to_json(hit.evidence),
    }  # fmt: skip


def table(family: str, rows: Sequence[Row]) -> pa.Table:
    """Rows as the family's payload table (every column, in the schema's order)."""
    schema = FAMILIES[family].payload_schema
    return pa.Table.from_pylist([{f.name: r[f.name] for f in schema} for r in rows], schema)
