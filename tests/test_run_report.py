"""`clanka report`: one run's figures, read back from its events, and its HTML page.

The run here is written by hand, event by event, so every expected figure is worked out
below from those events, not from the code under test: PnL, win rate, fees, drawdown,
return, the targets in force at each entry (a parameter change in between), the price
series of each traded token and its label.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from data.mints import MintSpec
from data.schemas import FAMILIES
from data.store import EventStore, open_store
from engine.events import Breaker, Reason
from replay.report.run_data import load_run, resolve_run
from replay.report.run_page import write_run_page
from tests.conftest import REPO

CLI = [sys.executable, "-c", "from replay.cli.launch import main; main()"]
S = 1_000_000_000
T0 = 1_749_168_000 * S  # 2025-06-06T00:00:00Z
RUN = "run-hand-written"
LONG_MINT = "So1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1"
PARAMS = {"tp1": 0.15, "tp2": 0.3, "tp3": 0.6, "stop_loss": 0.08}


def _rows(family: str, rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Columns for `rows`; any column a row leaves out is 0, '' or NaN by its type."""
    spec = FAMILIES[family].payload_schema
    out: dict[str, list[Any]] = {}
    for f in spec:
        default: Any = 0
        if pa.types.is_floating(f.type):
            default = math.nan
        elif pa.types.is_string(f.type):
            default = ""
        out[f.name] = [r.get(f.name, default) for r in rows]
    return out


def _write_run(st: EventStore) -> None:
    with st.transaction() as tx:
        recs = tx.register_mints(
            [MintSpec("AAAmint111111111111111111111111111111111111", "AAA", 6, "SOL"),
             MintSpec(LONG_MINT, None, 6, "SOL")], source="hand", ts_ns=T0,
        )  # fmt: skip
        a, b = recs["AAAmint111111111111111111111111111111111111"].mint_id, recs[LONG_MINT].mint_id
        # Mint a trades every 10 s at 0.001 + k * 1e-6; mint b every 10 s at 0.002.
        ts = [T0 + k * 10 * S for k in range(61)]
        tx.append("ticks", {
            "ts_ns": ts + ts, "mint_id": [a] * 61 + [b] * 61,
            "price": [0.001 + k * 1e-6 for k in range(61)] + [0.002] * 61,
            "size": [1] * 122, "side": [1] * 122, "liquidity": [50.0] * 122,
            "uid": list(range(122)),
        }, source="hand")  # fmt: skip
        tx.append("runs", {
            "ts_ns": [T0], "run_id": [RUN], "strategy": ["handmade"], "conditions": [""],
            "params_json": [json.dumps(PARAMS)], "start_ts": [None], "end_ts": [None],
            "mints_json": ["null"], "initial_cash": [10 * S], "ticks": [0],
            "events_sha256": [""], "report_json": [json.dumps({"mode": "paper"})],
        })  # fmt: skip
        seq = iter(range(1, 1000))
        pos = [
            # T1 on a: opened 60 s, cost 1 SOL at 0.001, stop 0.00092; closed 180 s, +0.2 SOL.
            {"ts_ns": T0 + 60 * S, "mint_id": a, "pos_id": 1, "decision_id": 11, "event": 1,
             "sol": 1 * S, "price": 0.001, "level": 0.00092},
            {"ts_ns": T0 + 180 * S, "mint_id": a, "pos_id": 1, "decision_id": 11, "event": 2,
             "sol": 200_000_000, "price": 0.0012, "level": 0.001},
            # T2 on b: opened 400 s (after tp1 became 0.2), cost 2 SOL; closed 500 s, -0.5 SOL.
            {"ts_ns": T0 + 400 * S, "mint_id": b, "pos_id": 2, "decision_id": 12, "event": 1,
             "sol": 2 * S, "price": 0.002, "level": 0.00184},
            {"ts_ns": T0 + 500 * S, "mint_id": b, "pos_id": 2, "decision_id": 12, "event": 2,
             "sol": -500_000_000, "price": 0.0015, "level": 0.002},
            # T3 on a: opened 550 s, still open.
            {"ts_ns": T0 + 550 * S, "mint_id": a, "pos_id": 3, "decision_id": 13, "event": 1,
             "sol": 1 * S, "price": 0.0011, "level": 0.001012},
        ]  # fmt: skip
        for p in pos:
            p["run_seq"] = next(seq)
        tx.append("positions", _rows("positions", pos), source=RUN)
        fills = [
            {"ts_ns": T0 + 60 * S, "mint_id": a, "pos_id": 1, "side": 1, "qty": 1000,
             "sol": 1 * S, "fee": 10_000_000, "network_fee": 5_000, "price": 0.001,
             "reason": Reason.ENTRY_CONDITIONS},
            {"ts_ns": T0 + 120 * S, "mint_id": a, "pos_id": 1, "side": -1, "qty": 330,
             "sol": 500_000_000, "fee": 5_000_000, "network_fee": 5_000, "price": 0.00115,
             "reason": Reason.TARGET_1},
            {"ts_ns": T0 + 180 * S, "mint_id": a, "pos_id": 1, "side": -1, "qty": 670,
             "sol": 700_010_000, "fee": 7_000_000, "network_fee": 5_000, "price": 0.0012,
             "reason": Reason.STOP_LOSS},
            {"ts_ns": T0 + 400 * S, "mint_id": b, "pos_id": 2, "side": 1, "qty": 1000,
             "sol": 2 * S, "fee": 20_000_000, "network_fee": 5_000, "price": 0.002,
             "reason": Reason.ENTRY_CONDITIONS},
            {"ts_ns": T0 + 500 * S, "mint_id": b, "pos_id": 2, "side": -1, "qty": 1000,
             "sol": 1_500_010_000, "fee": 15_000_000, "network_fee": 5_000, "price": 0.0015,
             "reason": Reason.TIME_STOP},
            {"ts_ns": T0 + 550 * S, "mint_id": a, "pos_id": 3, "side": 1, "qty": 900,
             "sol": 1 * S, "fee": 10_000_000, "network_fee": 5_000, "price": 0.0011,
             "reason": Reason.ENTRY_CONDITIONS},
        ]  # fmt: skip
        for f in fills:
            f["run_seq"] = next(seq)
        tx.append("fills", _rows("fills", fills), source=RUN)
        marks = [10.0, 12.0, 9.0, 11.0]
        tx.append("equity", _rows("equity", [
            {"ts_ns": T0 + (k + 1) * 60 * S, "run_seq": next(seq), "mint_id": -1,
             "cash_sol": e, "positions_sol": 0.0, "equity_sol": e} for k, e in enumerate(marks)
        ]), source=RUN)  # fmt: skip
        tx.append("risk", _rows("risk", [
            {"ts_ns": T0 + 200 * S, "run_seq": next(seq), "mint_id": -1, "event": 1,
             "breaker": Breaker.CONSECUTIVE_LOSSES, "cause": 1, "value": 3.0, "threshold": 3.0},
            {"ts_ns": T0 + 260 * S, "run_seq": next(seq), "mint_id": -1, "event": 2,
             "breaker": Breaker.CONSECUTIVE_LOSSES, "cause": 3, "value": 0.0, "threshold": 3.0},
        ]), source=RUN)  # fmt: skip
        tx.append("params", _rows("params", [
            {"ts_ns": T0 + 300 * S, "run_seq": next(seq), "mint_id": -1, "control": "param",
             "name": "tp1", "old_value": 0.15, "new_value": 0.2, "status": "applied",
             "control_seq": 7},
            {"ts_ns": T0 + 310 * S, "run_seq": next(seq), "mint_id": -1, "control": "param",
             "name": "tp2", "old_value": 0.3, "new_value": 9.0, "status": "refused",
             "refusal": "out_of_range", "control_seq": 8},
        ]), source=RUN)  # fmt: skip


@pytest.fixture(scope="module")
def hand_store(tmp_path_factory: pytest.TempPathFactory) -> EventStore:
    st = open_store(tmp_path_factory.mktemp("report") / "s", create=True)
    _write_run(st)
    st.refresh()
    return st


def test_the_figures_of_a_hand_written_run(hand_store: EventStore) -> None:
    d = load_run(hand_store, None)
    assert d.run_id == RUN
    s = d.summary
    assert (s["trades_closed"], s["trades_open"]) == (2, 1)
    assert s["win_rate"] == 0.5  # +0.2 and -0.5
    assert s["realized_pnl_sol"] == pytest.approx(0.2 - 0.5)
    # Six fills: DEX fees 10+5+7+20+15+10 million lamports, network fees 6 x 5,000.
    assert s["fees_sol"] == pytest.approx((67_000_000 + 30_000) / 1e9)
    # Marks 10 -> 12 -> 9 -> 11: the deepest fall is 3 from the peak of 12.
    assert s["max_drawdown"] == pytest.approx(0.25)
    assert s["final_equity_sol"] == 11.0 and s["return_pct"] == pytest.approx(10.0)
    assert s["breaker_trips"] == 1 and s["param_changes"] == 1  # the refused one is not
    assert d.header["mode"] == "paper" and not d.header["completed"]
    t1, t2, t3 = d.trades
    assert [t["pos_id"] for t in d.trades] == [1, 2, 3]
    assert t1["label"] == "AAA" and t2["label"] == "So1a…aaa1"
    # T1 entered before tp1 went 0.15 -> 0.2 (at 300 s), T2 and T3 after; tp2 stayed.
    assert t1["targets"] == pytest.approx([0.001 * 1.15, 0.001 * 1.3, 0.001 * 1.6])
    assert t2["targets"] == pytest.approx([0.002 * 1.2, 0.002 * 1.3, 0.002 * 1.6])
    assert t3["targets"][0] == pytest.approx(0.0011 * 1.2)
    assert t1["stop_price"] == 0.00092 and t1["hold_s"] == 120.0
    assert [x["reason"] for x in t1["exits"]] == ["target_1", "stop_loss"]
    assert t3["outcome"] == "open" and t3["pnl_sol"] is None
    assert {r["reason"]: r["exits"] for r in d.exit_reasons} == {
        "target_1": 1, "stop_loss": 1, "time_stop": 1,
    }  # fmt: skip
    # Both mints are charted over [first entry - 5 min, last exit + 5 min]; T3 is still
    # open, so it ends at the run's last event: its own entry at 550 s. A: [-240 s, 850 s].
    assert sorted(d.charted_mints) == sorted({t1["mint_id"], t2["mint_id"]})
    a_prices = d.prices[t1["mint_id"]]
    want = [(T0 + k * 10 * S, 0.001 + k * 1e-6) for k in range(61)]  # all inside the window
    assert a_prices == [(ts, pytest.approx(p)) for ts, p in want]
    b_prices = d.prices[t2["mint_id"]]
    assert [ts for ts, _ in b_prices] == [T0 + k * 10 * S for k in range(10, 61)]


def test_a_chart_never_holds_more_points_than_its_cap(hand_store: EventStore) -> None:
    from replay.report import run_data

    old = run_data.MAX_PRICE_POINTS
    run_data.MAX_PRICE_POINTS = 7
    try:
        d = load_run(hand_store, RUN, max_charts=1)
    finally:
        run_data.MAX_PRICE_POINTS = old
    assert d.charted_mints == [d.trades[0]["mint_id"]]  # two trades on AAA: it comes first
    pts = d.prices[d.charted_mints[0]]
    assert 1 < len(pts) <= 7
    assert pts[-1] == (T0 + 600 * S, pytest.approx(0.001 + 60e-6))  # the last tick is kept


def test_the_page_is_self_contained_and_links_each_trade(
    hand_store: EventStore, tmp_path: Path
) -> None:
    d = load_run(hand_store, RUN)
    page = tmp_path / "r" / "run.html"
    write_run_page(d, page)
    text = page.read_text()
    assert not re.search(r"<script[^>]+src=", text)  # plotly.js is inside, no CDN
    assert text.count('class="plotly-graph-div"') == 1 + 2 + 2  # equity, 2 prices, 2 bars
    for pid in (1, 2, 3):
        assert f'href="#T{pid}"' in text and f'id="T{pid}"' in text
        assert f"clanka explain T{pid} --run {RUN}" in text
    assert "2025-06-06 00:01:00" in text  # T1's entry, as a UTC time
    assert "out_of_range" in text and "consecutive" in text


def test_cli_report_names_an_unknown_run_in_one_line(hand_store: EventStore) -> None:
    bad = subprocess.run([*CLI, "report", "run-nope", "--store", str(hand_store.root)],
                         cwd=REPO, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert bad.returncode != 0
    err = bad.stderr.strip().splitlines()
    assert len(err) == 1 and "no run 'run-nope'" in err[0] and RUN in err[0], err
    ok = subprocess.run([*CLI, "report", "--store", str(hand_store.root), "--json"],
                        cwd=REPO, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    doc = json.loads(ok.stdout)
    assert doc["run_id"] == RUN and doc["trades_closed"] == 2 and doc["html"] is None


def test_an_empty_store_says_what_to_run(store: EventStore) -> None:
    with pytest.raises(ValueError, match="no runs yet"):
        resolve_run(store, None)
