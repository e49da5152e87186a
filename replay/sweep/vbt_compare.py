"""The setting where Clanka and vectorbt run the same strategy, for cross-checks.

A pure stop-loss / take-profit strategy with entries from a fixed signal array, zero
fees and zero impact, a fixed entry size, and exits at the close that crosses the stop
or target (vectorbt's `stop_exit_price="close"`). Each bar becomes two ticks at its
close: Clanka decides on the first and fills on the second (its orders never fill on
their own trigger tick), so both engines trade at the same closes; target 1 sells the
whole position, as vectorbt's `tp_stop` does. Used by tests/test_vectorbt_crosscheck.py
and benchmarks/bench_sweep.py; vectorbt itself is a development dependency.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from data.mints import MintSpec
from data.store import EventStore, open_store
from engine.codes import SignalKind
from engine.events import OutKind
from engine.layout import O_KIND, O_SIDE, O_TS, OF_PRICE
from strategies.config import StrategyConfig

T0 = 1_700_000_000 * 10**9 // (60 * 10**9) * (60 * 10**9)
BAR = 60 * 10**9
SIZE_SOL = 10.0
CASH_SOL = 100.0
PURE_SL_TP = {
    "initial_cash_sol": CASH_SOL, "max_position_sol": SIZE_SOL, "max_positions": 1,
    "min_position_sol": 1e6, "size_ref_confidence": 0.01, "liq_cap_pct": 1.0,
    "min_buy_confidence": 0.0, "hold_confidence": 0.0, "min_liquidity": -1.0,
    "require_trend_up": 0.0, "strong_sell_social": -1.0, "strong_sell_technical": -1.0,
    "strong_sell_risk": 11.0, "max_portfolio_risk": 1.0, "max_correlation": 1.0,
    "max_candidates": 0, "max_consecutive_losses": 1e9, "max_daily_loss_sol": 1e9,
    "max_daily_loss_pct": 1e3, "max_daily_trades": 1e9, "max_slippage_pct": 1.0,
    "dex_fee_bps": 0, "network_fee_lamports": 0, "priority_fee_lamports": 0,
    "fixed_slippage_bps": 0, "latency_ms": 0, "vol_scale": 0.0, "stop_cap": 0.99,
    "tp1_frac": 1.0, "tp2_frac": 0.0, "tp2": 50.0, "tp3": 60.0,
    "time_stop_s": 365 * 86400, "time_stop_other_s": 365 * 86400,
    "volume_death_ratio": 0.0, "trailing_min_confidence": 1.0, "reentry_cooldown_s": 0,
    "entry_max_slippage_bps": 10_000, "exit_max_slippage_bps": 10_000,
}  # fmt: skip
GRID = ["stop_loss=0.00531,0.01073,0.02119", "tp1=0.00487,0.01139,0.02917"]
"""Stops and targets with five decimals: a round price (BTC trades in whole dollars)
times one of these is never another tradable price, so no close lands exactly on a
level, where fractional sizes (vectorbt) and whole raw units (Clanka, rounding the
entry price up by ~1e-15) would fall on different sides of it."""


def entry_bars(n: int) -> np.ndarray:
    """A fixed entry signal array: every 37th bar (an odd rhythm against the exits)."""
    e = np.zeros(n, dtype=bool)
    e[5::37] = True
    return e


def build_store(path: Path, px: np.ndarray, entries: np.ndarray) -> EventStore:
    """Two ticks per bar at its close; the entry flag is up only for a bar's first tick.

    The instrument has 18 decimals so rounding sizes to raw units moves prices by less
    than 1e-14 (vectorbt trades fractional units).
    """
    st = open_store(path, create=True)
    n = len(px)
    t = T0 + np.arange(n, dtype=np.int64) * BAR
    tick_ts = np.stack([t, t + 1_000_000], axis=1).ravel()
    k = np.flatnonzero(entries)
    sig_ts = np.stack([T0 + k * BAR - 1_000_000, T0 + k * BAR + 500_000], axis=1).ravel()
    with st.transaction() as tx:
        (rec,) = tx.register_mints([MintSpec("BTC-PERP-X", "BTCX", 18, "USD")],
                                   source="xcheck", ts_ns=T0 - BAR).values()  # fmt: skip
        tx.append("ticks", {
            "ts_ns": tick_ts, "mint_id": np.full(2 * n, rec.mint_id, np.int32),
            "price": np.repeat(px, 2), "size": np.full(2 * n, 10**18, np.int64),
            "side": np.zeros(2 * n, np.int8), "liquidity": np.full(2 * n, np.nan),
            "uid": np.arange(2 * n, dtype=np.int64),
        }, source="xcheck")  # fmt: skip
        tx.append("signals", {
            "ts_ns": sig_ts, "mint_id": np.full(len(sig_ts), rec.mint_id, np.int32),
            "kind": np.full(len(sig_ts), int(SignalKind.WHALE_FLAG), np.int16),
            "value": np.tile([1.0, 0.0], len(k)), "uid": np.arange(len(sig_ts), dtype=np.int64),
        }, source="xcheck")  # fmt: skip
    return st


def strategy() -> StrategyConfig:
    """The pure stop-loss / take-profit strategy entering on the fixed signal."""
    return StrategyConfig(name="pure_sl_tp", entry="whale_flag >= 1", params=PURE_SL_TP)


def vbt_portfolio(px: np.ndarray, entries: np.ndarray, sets: list[dict[str, float]]) -> Any:
    """The same strategy in vectorbt: one column per parameter set (vectorbt is optional)."""
    import pandas as pd
    import vectorbt as vbt

    close = pd.DataFrame(np.repeat(px[:, None], len(sets), axis=1))
    ent = pd.DataFrame(np.repeat(entries[:, None], len(sets), axis=1))
    return vbt.Portfolio.from_signals(
        close, ent, None, sl_stop=np.array([s["stop_loss"] for s in sets]),
        tp_stop=np.array([s["tp1"] for s in sets]), size=SIZE_SOL, size_type="value",
        init_cash=CASH_SOL, fees=0.0, slippage=0.0, stop_exit_price="close",
    )  # fmt: skip


def clanka_trades(out_i: np.ndarray, out_f: np.ndarray) -> list[tuple[int, float, int, float]]:
    """Round trips of a run as (entry bar, entry price, exit bar, exit price)."""
    fills = out_i[:, O_KIND] == OutKind.ORDER_FILLED
    rows = [(int(r[O_SIDE]), (int(r[O_TS]) - T0) // BAR, float(f[OF_PRICE]))
            for r, f in zip(out_i[fills], out_f[fills], strict=True)]  # fmt: skip
    trades = []
    for i in range(0, len(rows) - 1, 2):
        (s1, b1, p1), (s2, b2, p2) = rows[i], rows[i + 1]
        assert (s1, s2) == (1, -1)
        trades.append((b1, p1, b2, p2))
    return trades
