"""The two arms of a learning validation, on the same days, data and fills model.

Walk-forward over UTC days: fold k tests day k with the learner's knowledge from every
day before it.

- learner: one replay from the first training day with learning on; by the log
  truncation property its day k is exactly what a replay ending with day k does.
- frozen: for each test day k, the same replay with learning frozen from day k's start
  (`Learner.freeze_at`): identical to the learner until then (the same parameters,
  positions and knowledge), then it observes and changes nothing.

So each test day is a paired observation from one common state, and the difference is
what learning *during* the day did. With the baseline frozen_at_test_start the frozen
arm is one replay frozen when the test days begin: a day's difference is then what
learning on the test days so far did (the days share their past, so they are paired
observations but not independent ones). The metric is the day's return on the equity at its
start (marked at the last trade prices, one point a minute).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from data.store import EventStore
from engine.params import NS_PER_S, P
from replay.core.runner import RunResult, run_replay
from strategies.config import StrategyConfig
from strategies.learning.settings import LearningSettings
from strategies.strategist.calls import Strategist

DAY_NS = 86_400 * NS_PER_S


@dataclass
class Day:
    """One test day's paired outcome."""

    start_ns: int
    equity_start: float
    learner_return: float
    frozen_return: float
    learner_trades: int
    frozen_trades: int
    changes: int
    """Parameter changes the learner sent during the day."""

    @property
    def difference(self) -> float:
        """The learner's return minus the frozen arm's."""
        return self.learner_return - self.frozen_return


@dataclass
class Arms:
    """Both arms over the plan's days."""

    train: list[int]
    days: list[Day]
    learner: RunResult
    curve: list[tuple[int, float]] = field(default_factory=list)
    """The learner's equity, one point a minute."""

    def adaptations(self) -> list[dict[str, Any]]:
        """The learner's adaptation events (the timeline of the report)."""
        return list(self.learner.learner.adaptations) if self.learner.learner else []


def utc_days(store: EventStore, start: int | None, end: int | None) -> list[int]:
    """Start times of the UTC days that have ticks in [start, end), in order."""
    where, args = ["true"], []
    if start is not None:
        where.append("ts_ns >= ?")
        args.append(start)
    if end is not None:
        where.append("ts_ns < ?")
        args.append(end)
    sql = (f"SELECT DISTINCT ts_ns // {DAY_NS} FROM ticks WHERE {' AND '.join(where)} "  # noqa: S608
           "ORDER BY 1")  # fmt: skip
    return [int(r[0]) * DAY_NS for r in store.con.execute(sql, args).fetchall()]


class _Equity:
    """A run's equity marks (one a minute), read once, looked up by time."""

    def __init__(self, run: RunResult) -> None:
        pts = run.kernel.curve()
        self.ts = np.array([p[0] for p in pts], dtype=np.int64)
        self.value = np.array([p[1] + p[2] for p in pts], dtype=np.float64)
        self.cash0 = float(run.kernel.params[P.INITIAL_CASH_SOL])  # fixed for a run

    def at(self, t: int) -> float:
        """Equity at the last mark before t (the starting cash before any)."""
        k = int(np.searchsorted(self.ts, t, side="left")) - 1
        return self.cash0 if k < 0 else float(self.value[k])


def _same_until(learner: _Equity, frozen: _Equity, t: int) -> None:
    """A frozen arm is the learner until its freeze: the same equity at t, or a bug."""
    e0 = learner.at(t)
    if abs(frozen.at(t) - e0) > 1e-9 * max(1.0, abs(e0)):
        raise AssertionError(f"the arms differ before {t}: the frozen arm must be the "
                             "learner until it is frozen")  # fmt: skip


def _trades(run: RunResult, lo: int, hi: int) -> int:
    from engine.events import OutKind

    rows = run.out_i[run.out_i[:, 0] == OutKind.POSITION_CLOSED]
    return int(np.count_nonzero((rows[:, 1] >= lo) & (rows[:, 1] < hi)))


def run_arms(
    store: EventStore,
    strategy: StrategyConfig,
    learning: LearningSettings,
    days: list[int],
    train_days: int,
    strategist: Strategist | None,
    *,
    baseline: str = "frozen_each_day",
    progress: Any = None,
) -> Arms:
    """Replay both arms; `days` are the UTC day starts (train days first).

    `baseline` 'frozen_at_test_start' compares with one replay frozen at the first test
    day's start, 'never_learns' with one replay without learning: each arm's day return
    on its own starting equity (the arms part at the first change after the freeze).
    """
    if len(days) <= train_days:
        have = ", ".join(dt.datetime.fromtimestamp(d / NS_PER_S, dt.UTC).date().isoformat()
                         for d in days) or "none"  # fmt: skip
        raise ValueError(f"{len(days)} day(s) with ticks ({have}): {train_days} to train on "
                         "leave none to test")  # fmt: skip
    first, last = days[0], days[-1] + DAY_NS
    params = strategy.vector()
    learner = run_replay(store, strategy, params, start_ts=first, end_ts=last, write=True,
                         learning=learning, strategist=strategist)  # fmt: skip
    out = []
    tests = days[train_days:]
    mine = _Equity(learner)
    shared = None
    if baseline == "never_learns":
        shared = run_replay(store, strategy, params, start_ts=first, end_ts=last, write=False,
                            strategist=strategist)  # fmt: skip
    elif baseline == "frozen_at_test_start":
        shared = run_replay(store, strategy, params, start_ts=first, end_ts=last, write=False,
                            learning=learning, strategist=strategist,
                            freeze_learning_at=tests[0])  # fmt: skip
    shared_marks = _Equity(shared) if shared is not None else None
    if baseline == "frozen_at_test_start" and shared_marks is not None:
        _same_until(mine, shared_marks, tests[0])
    for k, day in enumerate(tests):
        e0 = mine.at(day)
        if shared is not None and shared_marks is not None:
            frozen, theirs = shared, shared_marks
        else:
            frozen = run_replay(store, strategy, params, start_ts=first, end_ts=day + DAY_NS,
                                write=False, learning=learning, strategist=strategist,
                                freeze_learning_at=day)  # fmt: skip
            theirs = _Equity(frozen)
            _same_until(mine, theirs, day)
        sent = [a for a in (learner.learner.adaptations if learner.learner else [])
                if a["status"] == "sent" and day <= a["apply_ts_ns"] < day + DAY_NS]  # fmt: skip
        out.append(Day(day, e0, mine.at(day + DAY_NS) / e0 - 1,
                       theirs.at(day + DAY_NS) / theirs.at(day) - 1,
                       _trades(learner, day, day + DAY_NS), _trades(frozen, day, day + DAY_NS),
                       len(sent)))  # fmt: skip
        if progress is not None:
            progress(k + 1, len(tests))
    curve = list(zip(mine.ts.tolist(), mine.value.tolist(), strict=True))
    return Arms(days[:train_days], out, learner, curve)
