"""The terminal status view shows what a trader reads: symbols, UTC times, decisions in words.

An in-process paper run on a hand-made feed opens a position; the view's figures are
checked against that run's own fill in the store (entry price, PnL % worked out here from
the fill's cost and quantity and the last trade price), and the rendered text against
what must never show: nanosecond times and internal mint ids.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from rich.console import Console

from data.feed.client import FeedHealth
from data.feed.wire import FeedTick
from data.store import open_store
from replay.live.run import LiveRun, LiveSettings
from replay.live.status import render_status, status_snapshot
from strategies.config import load_strategy
from tests.test_paper import EAGER

S = 1_000_000_000
T0 = 1_800_000_000 * S  # 2027-01-15T08:00:00Z
MINT = "7GCihgDB8fe6KNjn2MYtkzZcRjQy3t9GHdC8uHYmW2hr"


def test_the_status_view_speaks_in_symbols_times_and_words(tmp_path: Path) -> None:
    cfg = tmp_path / "eager.toml"
    cfg.write_text(EAGER.replace("time_stop_s = 1\n", "time_stop_s = 3600\n"))
    st = open_store(tmp_path / "s", create=True)
    clock = [T0]
    run = LiveRun(st, "status", load_strategy(cfg), LiveSettings(flush_ms=0), mode="paper",
                  now_ns=lambda: clock[0])  # fmt: skip
    prices = [1e-6, 1.1e-6, 1.2e-6, 1.3e-6, 1.25e-6]
    for k, p in enumerate(prices):
        clock[0] = T0 + k * S
        tick = FeedTick(MINT, p, 1_000_000, 1, 40.0, T0 + k * S, clock[0], 1000 + k)
        run.process_items([tick], None)
    health = FeedHealth(connected=False, frames=5, problems=1, gaps=0, reconnects=2,
                        last_error="connection closed by the server (1006)")  # fmt: skip
    snap = status_snapshot(run, SimpleNamespace(health=health))
    run.roll()
    st.refresh()
    fills = st.con.execute(
        "SELECT side, qty, sol, network_fee, price, ts_ns FROM fills WHERE run_id = 'status' "
        "ORDER BY run_seq"
    ).fetchall()
    ((cost_lamports,),) = st.con.execute(
        "SELECT sol FROM positions WHERE run_id = 'status' AND event = 1"
    ).fetchall()
    run.close()

    (pos,) = snap["positions"]
    assert pos["symbol"] == "7GCi…W2hr"  # no symbol on a live mint: its address, shortened
    buy = fills[0]
    assert buy[0] == 1 and all(f[0] == -1 for f in fills[1:])  # then partial exits, if any
    assert pos["entry_price"] == pytest.approx(buy[4])
    assert pos["last_price"] == prices[-1]
    # What is left, at the last trade price (6 decimals), plus what partial exits returned
    # net of network fees, against the position's cost (spend plus the entry's fees).
    left = buy[1] - sum(f[1] for f in fills[1:])
    back = sum(f[2] - f[3] for f in fills[1:]) / 1e9
    value = left / 1e6 * prices[-1]
    cost = cost_lamports / 1e9
    assert pos["cost_sol"] == pytest.approx(cost)
    assert pos["pnl_pct"] == pytest.approx((value + back - cost) / cost * 100.0)
    assert pos["opened"] == "2027-01-15 08:00:0" + str((buy[5] - T0) // S)
    assert snap["equity_sol"] == pytest.approx(snap["cash_sol"] + value)
    assert snap["market_time"] == "2027-01-15 08:00:04"
    assert snap["decisions"], "the run decided something"
    first_buy = [d for d in snap["decisions"] if d["action"] == "buy"]
    assert first_buy and first_buy[-1]["reason"] == "entry_conditions"
    assert first_buy[-1]["symbol"] == "7GCi…W2hr"
    assert len(snap["decisions"]) <= 10
    assert snap["feed"]["last_error"] == "connection closed by the server (1006)"
    assert snap["breakers"] == []

    con = Console(record=True, width=220, color_system=None)
    con.print(render_status(snap))
    text = con.export_text()
    assert "7GCi…W2hr" in text and "connection closed by the server" in text
    assert "DOWN" in text and "all clear" in text and "entry_conditions" in text
    assert "2027-01-15 08:00:04" in text
    assert not re.search(r"\d{16,}", text), "a nanosecond time leaked into the view"
    assert "mint=" not in text and "t=" not in text
