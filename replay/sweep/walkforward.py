"""Walk-forward evaluation: choose on a train window, score on the window after it.

The data's UTC days are cut into consecutive windows: train on `train_days`, then test
on the `test_days` that follow, then slide forward by `test_days`. On each train window
a sweep (stored and resumable like any other) picks the best set by the chosen metric;
that set alone then runs on the test window it has never seen. Out-of-sample figures
next to in-sample ones show how much of a sweep's best result was fitted noise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from data.store import EventStore
from replay.sweep.chunk import sweep_local
from replay.sweep.run import run_sweep
from strategies.config import StrategyConfig

DAY_NS = 86_400_000_000_000


def parse_walk_forward(text: str) -> tuple[int, int]:
    """`TRAIN_DAYS:TEST_DAYS`, both whole days >= 1."""
    try:
        train, test = (int(x) for x in text.split(":"))
    except ValueError:
        raise ValueError(f"--walk-forward {text!r}: expected TRAIN_DAYS:TEST_DAYS") from None
    if train < 1 or test < 1:
        raise ValueError(f"--walk-forward {text!r}: both spans must be at least one day")
    return train, test


def _days(store: EventStore, start_ts: int | None, end_ts: int | None) -> tuple[int, int]:
    """First and last UTC day (numbers) with ticks inside [start_ts, end_ts)."""
    segs = store.segments("ticks")
    if not segs:
        raise ValueError("the store has no ticks")
    lo = max(min(s.min_ts for s in segs), start_ts if start_ts is not None else -(2**62))
    hi = min(max(s.max_ts for s in segs), end_ts - 1 if end_ts is not None else 2**62)
    if hi < lo:
        raise ValueError("no ticks in the requested range")
    return lo // DAY_NS, hi // DAY_NS


def windows(
    first_day: int, last_day: int, train_days: int, test_days: int
) -> list[tuple[int, int, int]]:
    """(train start, test start, test end) in ns, for each full train+test window."""
    out = []
    d = first_day
    while d + train_days + test_days - 1 <= last_day:
        out.append((d * DAY_NS, (d + train_days) * DAY_NS, (d + train_days + test_days) * DAY_NS))
        d += test_days
    return out


def walk_forward(
    store: EventStore,
    strategy: StrategyConfig,
    param_sets: Sequence[dict[str, float]],
    train_days: int,
    test_days: int,
    sort: str,
    *,
    start_ts: int | None = None,
    end_ts: int | None = None,
    mint_ids: Sequence[int] | None = None,
    run_kwargs: dict[str, Any] | None = None,
    on_window: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """One row per window: the train sweep's id and best set, and both sides' metrics."""
    first, last = _days(store, start_ts, end_ts)
    wins = windows(first, last, train_days, test_days)
    if not wins:
        raise ValueError(
            f"the data spans {last - first + 1} day(s): too few for {train_days} train + "
            f"{test_days} test day(s)"
        )
    shown = _SHOWN if sort in _SHOWN else (*_SHOWN, sort)
    rows = []
    for k, (train0, test0, test1) in enumerate(wins):
        if on_window:
            on_window(k, len(wins))
        res = run_sweep(store, strategy, param_sets, start_ts=train0, end_ts=test0,
                        mint_ids=mint_ids, **(run_kwargs or {}))  # fmt: skip
        ranked = sorted(res.rows, key=lambda r: (r[sort] is None, -(r[sort] or 0.0)))
        best = ranked[0]
        (oos,) = sweep_local(store, strategy, [best["set"]], start_ts=test0, end_ts=test1,
                             mint_ids=mint_ids)  # fmt: skip
        rows.append({
            "window": k, "train_start_ns": train0, "test_start_ns": test0, "test_end_ns": test1,
            "sweep_id": res.sweep_id, "best_set": best["set"], "best_set_index":
            best["set_index"], "in_sample": {m: best[m] for m in shown},
            "out_of_sample": {m: oos[m] for m in shown},
        })  # fmt: skip
    return rows


_SHOWN = ("trades", "win_rate", "realized_pnl_sol", "max_drawdown", "sharpe", "fees_sol")
