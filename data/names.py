"""The names of the store's views, without loading anything that defines them.

`clanka --help` lists them, and the help must not wait for pyarrow and DuckDB to load;
`tests/test_store.py` checks these names against `data.schemas.FAMILIES` and
`data.duck.PROJECTIONS`, where the families and projections are defined.
"""

from __future__ import annotations

FAMILY_NAMES = ("ticks", "signals", "quarantine", "mints", "imports", "decisions", "orders",
                "fills", "rejects", "positions", "risk", "equity", "runs", "sweeps",
                "feed_inputs", "feed_gaps", "feed_frames", "live_batches", "repairs", "controls",
                "params", "strategist", "reviews", "pattern_hits", "insights",
                "adaptations", "validations", "alerts", "venue_orders",
                "dead_letters", "reconciliations")  # fmt: skip
PROJECTION_NAMES = ("closed_trades", "open_positions", "decision_audit", "breaker_history",
                    "param_history", "param_evolution", "pattern_stats",
                    "execution_quality")  # fmt: skip
VIEW_NAMES = (*FAMILY_NAMES, *PROJECTION_NAMES)
"""Every view a store's DuckDB connection has: one per family, then the projections."""
