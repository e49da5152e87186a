"""Cross-check against vectorbt: the same trades and total return per parameter set.

The shared setting (replay/vbt_compare.py): a pure stop-loss / take-profit strategy on
real prices (FTX BTC-PERP 1-minute closes), entries from a fixed signal array, zero
fees and impact, exits at the crossing close. Skipped when vectorbt is not installed.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from replay.core.runner import run_replay
from replay.sweep.chunk import sweep_local
from replay.sweep.grid import grid_sets, parse_grid
from replay.sweep.vbt_compare import (
    CASH_SOL,
    GRID,
    build_store,
    clanka_trades,
    entry_bars,
    strategy,
    vbt_portfolio,
)

pytest.importorskip("vectorbt")


def closes(shared_data: Path, n: int = 6000) -> np.ndarray:
    df = pl.read_parquet(shared_data / "ftx_btcperp_1m_2021-12-31_to_2022-01-20.parquet")
    return df.sort("ts")["close"].to_numpy()[:n].astype(np.float64)


def test_trades_and_total_return_match_vectorbt(shared_data: Path, tmp_path: Path) -> None:
    px = closes(shared_data)
    entries = entry_bars(len(px))
    st = build_store(tmp_path / "s", px, entries)
    strat = strategy()
    sets = grid_sets(strat, parse_grid(GRID))
    pf = vbt_portfolio(px, entries, sets)
    swept = sweep_local(st, strat, sets)
    checked = 0
    for col, s in enumerate(sets):
        rec = pf.trades.records_arr
        rec = rec[(rec["col"] == col) & (rec["status"] == 1)]  # closed trades
        want = [(int(r["entry_idx"]), float(r["entry_price"]), int(r["exit_idx"]),
                 float(r["exit_price"])) for r in rec]  # fmt: skip
        res = run_replay(st, strat, strat.vector(s), write=False)
        got = clanka_trades(res.out_i, res.out_f)
        assert len(got) == len(want), (s, len(got), len(want))
        for g, w in zip(got, want, strict=True):
            assert g[0] == w[0] and g[2] == w[2], (s, g, w)  # same bars
            assert math.isclose(g[1], w[1], rel_tol=1e-9) and math.isclose(g[3], w[3], rel_tol=1e-9)
        total = float(pf.total_return().iloc[col])
        ours = res.report["final_equity_sol"] / CASH_SOL - 1.0
        assert math.isclose(ours, total, rel_tol=1e-6, abs_tol=1e-9), (s, ours, total)
        assert math.isclose(swept[col]["final_equity_sol"] / CASH_SOL - 1.0, total,
                            rel_tol=1e-6, abs_tol=1e-9)  # fmt: skip
        checked += len(got)
    assert checked > 100  # plenty of trades compared
