"""One chunk of a sweep: many parameter sets through the replay kernel in one pass.

The store is read once, batch by batch (the same merged input replay uses), and every
batch is run through all parameter sets: each set through the very `step_nb` replay
calls, one independent state per set, or, for sets that share their features, by
`replay.sweep.sweep_nb.sweep_shared_nb` (replay.sweep.shared); a range of sets per
thread either way. Each set's result is the replay report's metrics, computed the
same way. Every executor (threads here, processes, Dask workers) runs chunks with
`evaluate_chunk`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numba
import numpy as np

from data import interrupts
from data.store import EventStore, open_store
from engine.events import InputKind
from engine.kernel import KernelInput
from engine.kernel_nb import step_nb
from engine.layout import (
    MAX_OUT_PER_EVENT,
    N_OUT_F,
    N_OUT_I,
    STATUS_DONE,
    KernelState,
    load_conditions,
    new_state,
)
from engine.params import LAMPORTS_PER_SOL, P
from replay.core.runner import coalesce, input_batches, prefetch
from replay.sweep.shared import SharedFeatures, changes_features
from replay.sweep.sweep_nb import (
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
    fold_nb,
    sweep_finish_nb,
)
from strategies.config import StrategyConfig

BATCH_EVENTS = 1 << 16
"""Input events per batch at least (`coalesce`): each batch is one hand-over to the sweep's
threads, and a wait for the slowest of them."""

OUT_CAPACITY = 4096
"""Output rows per set between folds (the kernel stops and resumes when they fill)."""
assert OUT_CAPACITY > MAX_OUT_PER_EVENT


@dataclass
class _Stacked:
    """One KernelState per parameter set, stacked along a new first axis."""

    arrays: list[np.ndarray]
    out_i: np.ndarray
    out_f: np.ndarray


def _stack(params: np.ndarray, scales: np.ndarray, strategy: StrategyConfig) -> _Stacked:
    states = [new_state(scales, round(p[P.INITIAL_CASH_SOL] * LAMPORTS_PER_SOL)) for p in params]
    compiled = strategy.conditions.compile()
    for st in states:
        load_conditions(st, compiled)
    arrays = [np.ascontiguousarray(np.stack(field)) for field in zip(*states, strict=True)]
    n = len(params)
    return _Stacked(
        arrays,
        np.zeros((n, OUT_CAPACITY, N_OUT_I), np.int64),
        np.zeros((n, OUT_CAPACITY, N_OUT_F)),
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
    share_features: bool = True,
) -> list[dict[str, Any]]:
    """Metrics of each parameter set over the store (or a range / some mints).

    Sets that agree on the parameters features read share them (replay.sweep.shared)
    unless `share_features` is False (every set then computes its own, as a replay
    does: the A/B in benchmarks/bench_sweep.py). Results are the same either way; only
    the time differs.
    """
    if not param_sets:
        return []
    if strategy.strategist.mode != "off" or strategy.learning.mode != "off":
        return _with_scheduler(store, strategy, param_sets, start_ts, end_ts, mint_ids,
                               progress)  # fmt: skip
    # Each set's row is its own: the store's parameter changes write into it.
    params = np.stack([strategy.vector(s) for s in param_sets])
    n = len(params)
    scales = store.mints().scales()
    st = _stack(params, scales, strategy)
    met = np.zeros((n, N_METRICS))
    cash0 = np.array([round(p[P.INITIAL_CASH_SOL] * LAMPORTS_PER_SOL) for p in params]) / 1e9
    met[:, M_START_EQ] = cash0
    met[:, M_PEAK] = cash0
    met[:, M_PREV_DAY_EQ] = cash0
    ring = np.zeros((n, RING, 2), np.int64)
    ticks = 0
    threads = numba.get_num_threads()
    shared: SharedFeatures | None = None
    pool = ThreadPoolExecutor(threads, "clanka-sweep") if threads > 1 else None  # lazy threads
    with (
        closing(
            prefetch(coalesce(input_batches(store, start_ts, end_ts, mint_ids), BATCH_EVENTS))
        ) as batches,
        pool if pool is not None else nullcontext(),
    ):
        for k, read in enumerate(batches):
            interrupts.check("the chunk under way was not committed")
            batch = read.read_only()  # one compiled kernel whatever the batch's memory
            if k == 0 and share_features:
                shared = SharedFeatures.start(params, st.arrays, met, ring, threads)
            if shared is not None and changes_features(batch):
                shared.end(params, st.arrays, met, ring)
                shared = None
            if shared is not None:
                shared.run(batch, pool)
            else:
                _apart(batch, params, st, met, ring, pool, threads)
            ticks += int(np.count_nonzero(batch.kind == InputKind.TICK))
            if progress:
                progress(ticks)
    if shared is not None:
        shared.end(params, st.arrays, met, ring)
    unrealized = np.zeros(n)
    n_open = np.zeros(n, np.int64)
    state = KernelState(*st.arrays)
    sweep_finish_nb(state.glob, state.pos_i, state.mint_f, met, unrealized, n_open)
    return [_metrics(met[s], unrealized[s], int(n_open[s]), ticks) for s in range(n)]


def _apart(
    batch: KernelInput, params: np.ndarray, st: _Stacked, met: np.ndarray, ring: np.ndarray,
    pool: ThreadPoolExecutor | None, threads: int,
) -> None:  # fmt: skip
    """Every set over one batch on its own features: a range of sets per thread."""

    def sets(lo: int, hi: int) -> None:
        for s in range(lo, hi):
            state = [a[s] for a in st.arrays]
            out_i, out_f = st.out_i[s], st.out_f[s]
            i = 0
            while True:
                i, n, status = step_nb(*batch, i, params[s], *state, out_i, out_f, 0)
                fold_nb(out_i, out_f, n, met[s], ring[s])
                if status == STATUS_DONE:
                    break

    n = len(params)
    parts = min(threads, n)
    if pool is None or parts == 1:
        sets(0, n)
        return
    list(pool.map(lambda g: sets(n * g // parts, n * (g + 1) // parts), range(parts)))


def _with_scheduler(
    store: EventStore,
    strategy: StrategyConfig,
    param_sets: Sequence[dict[str, float]],
    start_ts: int | None,
    end_ts: int | None,
    mint_ids: Sequence[int] | None,
    progress: Callable[[int], None] | None,
) -> list[dict[str, Any]]:
    """Each set through the replay runner with its own strategist and learning loop.

    Every set's prompts and reviews differ (they hold its own trades), so the sets
    cannot share a pass the way the sets of `sweep_local` share one: each is a replay with the
    scheduler, whose metrics are the replay report's. A live set's calls travel with its
    row (`STRATEGIST_CALLS`) and are logged with the chunk's commit, under the source
    `<sweep_id>-s<set index>`, so a later `--strategist recorded` finds them. What a
    set's learning loop changed shows in its metrics; replaying the set with --learning
    shows what it learned.
    """
    from replay.core.runner import run_replay
    from replay.sweep.results import METRIC_KEYS
    from strategies.strategist.calls import Strategist, calls_table
    from strategies.strategist.model import LiveModel, RecordedModel

    settings = strategy.strategist
    asks = settings.mode != "off"
    answers = LiveModel(settings) if settings.mode == "live" else RecordedModel(store)
    learning = strategy.learning if strategy.learning.mode != "off" else None
    rows = []
    done = 0
    for s in param_sets:
        base = done

        def step(ticks: int, base: int = base) -> None:
            if progress:
                progress(base + ticks)

        r = run_replay(store, strategy, strategy.vector(s), start_ts=start_ts, end_ts=end_ts,
                       mint_ids=mint_ids, write=False, progress=step,
                       strategist=Strategist(settings, answers) if asks else None,
                       learning=learning)  # fmt: skip
        row: dict[str, Any] = {k: r.report[k] for k in ("ticks_processed", *METRIC_KEYS)}
        if settings.mode == "live" and r.calls:
            row[STRATEGIST_CALLS] = calls_table(r.calls)
        rows.append(row)
        done += r.ticks
    return rows


STRATEGIST_CALLS = "_strategist_calls"
"""A result row's key for its set's live strategist calls (logged with the chunk)."""


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


def evaluate_chunk(
    store_path: str,
    strategy: StrategyConfig,
    param_sets: list[dict[str, float]],
    start_ts: int | None,
    end_ts: int | None,
    mint_ids: list[int] | None,
    threads: int,
) -> list[dict[str, Any]]:
    """One chunk's metrics, computed in a worker process from the store at `store_path`.

    The task of both process executors: local `--processes` and Dask workers.
    """
    import numba

    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))  # type: ignore[attr-defined]
    store = open_store(Path(store_path))
    try:
        return sweep_local(store, strategy, param_sets, start_ts=start_ts, end_ts=end_ts,
                           mint_ids=mint_ids)  # fmt: skip
    finally:
        store.close()
