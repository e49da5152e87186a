"""Parameter sweeps: many parameter sets through the replay kernel in one pass.

The store is read once, batch by batch (the same merged input replay uses), and every
batch is run through all parameter sets by `replay.sweep_nb.sweep_batch_nb`, which
calls the very `step_nb` replay calls, one independent state per set, in parallel over
the sets. Each set's result is the replay report's metrics, computed the same way.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from data.store import EventStore
from engine.events import InputKind
from engine.layout import (
    MAX_OUT_PER_EVENT,
    N_OUT_F,
    N_OUT_I,
    KernelState,
    new_state,
)
from engine.params import LAMPORTS_PER_SOL, P, param_names
from replay.runner import input_batches, prefetch
from replay.sweep_nb import (
    M_DECISIONS,
    M_FEES,
    M_FILLS,
    M_HOLD_SUM,
    M_LAST_EQ,
    M_MAX_DD,
    M_N_RET,
    M_ORDERS,
    M_PEAK,
    M_PNL,
    M_POINTS,
    M_PREV_DAY_EQ,
    M_REJECTS,
    M_RET_M2,
    M_RET_MEAN,
    M_RET_SUM,
    M_SLIP,
    M_START_EQ,
    M_TRADES,
    M_WINS,
    N_METRICS,
    RING,
    sweep_batch_nb,
    sweep_finish_nb,
)
from strategies.config import StrategyConfig

NS_PER_MIN = 60_000_000_000
OUT_CAPACITY = 4096
"""Output rows per set between folds (the kernel stops and resumes when they fill)."""
assert OUT_CAPACITY > MAX_OUT_PER_EVENT
METRIC_KEYS = (
    "trades", "win_rate", "avg_return", "realized_pnl_sol", "unrealized_pnl_sol",
    "open_positions", "fees_sol", "slippage_sol", "max_drawdown", "sharpe", "avg_hold_s",
    "decisions", "orders", "fills", "rejects", "final_equity_sol",
)  # fmt: skip
"""What a sweep reports per parameter set: the replay report's metrics of the same name."""


def parse_grid(specs: Sequence[str]) -> dict[str, list[float]]:
    """`key=lo:hi:step` (hi included when the steps land on it) or `key=v1,v2,...`."""
    grid: dict[str, list[float]] = {}
    known = set(param_names())
    for spec in specs:
        key, sep, rng = spec.partition("=")
        key = key.strip().lower()
        if not sep or key not in known:
            raise ValueError(f"--grid {spec!r}: expected name=lo:hi:step with a known parameter")
        try:
            if ":" in rng:
                lo, hi, step = (float(x) for x in rng.split(":"))
                if step <= 0 or hi < lo:
                    raise ValueError
                n = math.floor((hi - lo) / step + 1e-9) + 1
                values = [round(lo + i * step, 12) for i in range(n)]
            else:
                values = [float(x) for x in rng.split(",") if x.strip()]
        except ValueError:
            raise ValueError(
                f"--grid {spec!r}: expected lo:hi:step (step > 0) or v1,v2,..."
            ) from None
        if not values:
            raise ValueError(f"--grid {spec!r}: no values")
        grid[key] = values
    return grid


def grid_sets(strategy: StrategyConfig, grid: dict[str, list[float]]) -> list[dict[str, float]]:
    """Every combination of the grid's values, each validated as a full parameter set."""
    keys = list(grid)
    sets = [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*grid.values())]
    for s in sets:
        strategy.vector(s)  # raises with the parameter's name and range when invalid
    return sets


@dataclass
class _Stacked:
    """One KernelState per parameter set, stacked along a new first axis."""

    arrays: list[np.ndarray]
    out_i: np.ndarray
    out_f: np.ndarray


def _stack(params: np.ndarray, scales: np.ndarray) -> _Stacked:
    states = [new_state(scales, round(p[P.INITIAL_CASH_SOL] * LAMPORTS_PER_SOL)) for p in params]
    arrays = [np.ascontiguousarray(np.stack(field)) for field in zip(*states, strict=True)]
    n = len(params)
    return _Stacked(
        arrays,
        np.zeros((n, OUT_CAPACITY, N_OUT_I), np.int64),
        np.zeros((n, OUT_CAPACITY, N_OUT_F)),
    )


def _cuts(
    kind: np.ndarray, ts: np.ndarray, prev_minute: int | None
) -> tuple[np.ndarray, np.ndarray, int | None]:
    """Where the replay's equity curve marks: before each tick that opens a new minute.

    Returns those ticks' indices, the end of the minute before each (the mark's time)
    and the minute of the batch's last tick, carried into the next batch.
    """
    ticks = np.flatnonzero(kind == InputKind.TICK)
    if len(ticks) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), prev_minute
    minutes = ts[ticks] // NS_PER_MIN
    before = np.concatenate(
        [[prev_minute if prev_minute is not None else minutes[0]], minutes[:-1]]
    )
    new = minutes != before
    return (
        ticks[new].astype(np.int64),
        ((before[new] + 1) * NS_PER_MIN).astype(np.int64),
        int(minutes[-1]),
    )


def sweep_local(
    store: EventStore,
    strategy: StrategyConfig,
    param_sets: Sequence[dict[str, float]],
    *,
    start_ts: int | None = None,
    end_ts: int | None = None,
    mint_ids: Sequence[int] | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[dict[str, Any]]:
    """Metrics of each parameter set over the store (or a range / some mints)."""
    if not param_sets:
        return []
    params = np.stack([strategy.vector(s) for s in param_sets])
    feat, ops, thr = strategy.conditions.compile()
    n = len(params)
    cond = [np.ascontiguousarray(np.broadcast_to(a, (n, len(a)))) for a in (feat, ops, thr)]
    scales = np.array([10.0**r.decimals for r in store.mints().records()], dtype=np.float64)
    st = _stack(params, scales)
    met = np.zeros((n, N_METRICS))
    cash0 = np.array([round(p[P.INITIAL_CASH_SOL] * LAMPORTS_PER_SOL) for p in params]) / 1e9
    met[:, M_START_EQ] = cash0
    met[:, M_PEAK] = cash0
    met[:, M_PREV_DAY_EQ] = cash0
    ring = np.zeros((n, RING, 2), np.int64)
    prev_minute: int | None = None
    ticks = 0
    for batch in prefetch(input_batches(store, start_ts, end_ts, mint_ids)):
        cuts, cut_ts, prev_minute = _cuts(batch.kind, batch.ts, prev_minute)
        # numba's stubs type a parallel dispatcher's call with fewer arguments.
        sweep_batch_nb(*batch, cuts, cut_ts, params, *cond, *st.arrays, st.out_i,  # type: ignore[call-arg]
                       st.out_f, met, ring)  # fmt: skip
        ticks += int(np.count_nonzero(batch.kind == InputKind.TICK))
        if progress:
            progress(ticks)
    last = (prev_minute + 1) * NS_PER_MIN if prev_minute is not None else -1
    unrealized = np.zeros(n)
    n_open = np.zeros(n, np.int64)
    state = KernelState(*st.arrays)
    sweep_finish_nb(last, state.glob, state.pos_i, state.mint_f, met, unrealized, n_open)
    return [_metrics(met[s], unrealized[s], int(n_open[s]), ticks) for s in range(n)]


def _metrics(m: np.ndarray, unrealized: float, n_open: int, ticks: int) -> dict[str, Any]:
    """The replay report's metrics from one set's accumulators (same definitions)."""
    trades = int(m[M_TRADES])
    n_ret = int(m[M_N_RET])
    sd = math.sqrt(m[M_RET_M2] / (n_ret - 1)) if n_ret >= 2 else 0.0
    sharpe = m[M_RET_MEAN] / sd * math.sqrt(365.0) if n_ret >= 2 and sd > 0.0 else None
    return {
        "ticks_processed": ticks,
        "trades": trades,
        "win_rate": m[M_WINS] / trades if trades else None,
        "avg_return": m[M_RET_SUM] / trades if trades else None,
        "realized_pnl_sol": m[M_PNL] / 1e9,
        "unrealized_pnl_sol": unrealized / 1e9,
        "open_positions": n_open,
        "fees_sol": m[M_FEES] / 1e9,
        "slippage_sol": m[M_SLIP] / 1e9,
        "max_drawdown": float(m[M_MAX_DD]),
        "sharpe": sharpe,
        "avg_hold_s": m[M_HOLD_SUM] / trades / 1e9 if trades else None,
        "decisions": int(m[M_DECISIONS]),
        "orders": int(m[M_ORDERS]),
        "fills": int(m[M_FILLS]),
        "rejects": int(m[M_REJECTS]),
        "final_equity_sol": float(m[M_LAST_EQ]) if m[M_POINTS] > 0 else float(m[M_START_EQ]),
    }
