"""Sweeps: a sweep row's metrics equal a plain replay's report with the same parameters."""

from __future__ import annotations

import math
import random

import pytest

from data.store import EventStore
from replay.runner import run_replay
from replay.sweep import METRIC_KEYS, grid_sets, parse_grid, sweep_local
from strategies.config import load_strategy
from tests.test_replay import pump_store, synth_store  # noqa: F401  (fixtures)


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


@pytest.mark.parametrize("store_name", ["pump_store", "synth_store"])
def test_sweep_metrics_equal_plain_replays(store_name: str, request: pytest.FixtureRequest) -> None:
    store: EventStore = request.getfixturevalue(store_name)
    strat = load_strategy("momentum_breakout")
    grid = parse_grid(["stop_loss=0.04:0.12:0.04", "min_buy_confidence=0.55,0.65",
                       "max_daily_trades=5,1000"])  # fmt: skip
    sets = grid_sets(strat, grid)
    assert len(sets) == 12
    rows = sweep_local(store, strat, sets)
    for i in random.Random(4).sample(range(len(sets)), 4):
        want = run_replay(store, strat, strat.vector(sets[i]), write=False).report
        got = rows[i]
        diff = {k: (got[k], want[k]) for k in METRIC_KEYS if not _same(got[k], want[k])}
        assert not diff, (sets[i], diff)
    assert len({r["realized_pnl_sol"] for r in rows}) > 1  # the grid really varies results


def test_grid_parsing() -> None:
    g = parse_grid(["tp1=0.1:0.3:0.1", "max_positions=1,3"])
    assert g == {"tp1": [0.1, 0.2, 0.3], "max_positions": [1.0, 3.0]}
    for bad in ["nope=1:2:1", "tp1=0.3:0.1:0.1", "tp1=a:b:c", "tp1"]:
        with pytest.raises(ValueError, match="--grid"):
            parse_grid([bad])
