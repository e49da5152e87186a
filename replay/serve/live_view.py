"""The dashboard's live page: one run's state right now, read from its events.

Everything comes from the store (what a paper or live run has rolled into Parquet, every
`roll_s`), never from the run's process, so the dashboard needs no access to it and no
write access to anything:

- open positions: token, entry time and price, size, the last price the run saw, live
  PnL in SOL and % (what is left at that price, plus what partial exits returned, minus
  the cost; no exit costs);
- the last 10 decisions in words (time, token, action, reason, confidence);
- portfolio value: cash (the initial cash, minus every buy's cost and network fee, plus
  every sell's proceeds net of its network fee) plus the open positions at the last price;
- win rate of closed trades, today's (UTC) realized PnL and equity change;
- breaker states (the last trip or reset of each), feed health (inputs, last input
  received, gaps, quarantined messages), and the equity marks for the chart.
"""

from __future__ import annotations

import time
from typing import Any

from data.mints import mint_label
from data.store import EventStore
from replay.report.run_data import SOL, price_relation, rows

DAY_NS = 86_400 * 10**9
LIVE_WITHIN_S = 15.0
"""A run whose last input arrived this recently (wall clock) is shown as live."""


def run_list(st: EventStore) -> list[dict[str, Any]]:
    """Every run, the latest first: id, strategy, mode, first and last event, state."""
    found = rows(
        st,
        "WITH ev AS (SELECT run_id, min(ts) AS first, max(ts) AS last FROM ("
        " SELECT run_id, ts_ns AS ts FROM equity UNION ALL"
        " SELECT run_id, ts_ns FROM positions UNION ALL"
        " SELECT run_id, ts_ns FROM decisions) GROUP BY run_id), "
        "r AS (SELECT run_id, arg_max(strategy, (ts_ns, seq)) AS strategy, "
        " arg_max(report_json, (ts_ns, seq)) AS report FROM runs GROUP BY run_id), "
        "f AS (SELECT source AS run_id, max(recv_ts_ns) AS last_recv FROM feed_inputs "
        " GROUP BY source) "
        "SELECT coalesce(ev.run_id, r.run_id) AS run_id, r.strategy, "
        "coalesce(json_extract_string(r.report, '$.mode'), CASE WHEN r.run_id IS NULL THEN "
        "NULL ELSE 'replay' END) AS mode, json_extract(r.report, '$.trades') IS NOT NULL AS "
        "finished, ev.first AS first_ns, ev.last AS last_ns, f.last_recv AS last_recv_ns "
        "FROM ev FULL JOIN r ON r.run_id = ev.run_id LEFT JOIN f ON f.run_id = "
        "coalesce(ev.run_id, r.run_id) ORDER BY coalesce(f.last_recv, ev.last, 0) DESC, 1",
        [],
    )
    now = time.time_ns()
    for r in found:
        recv = r.pop("last_recv_ns")
        r["live"] = bool(
            recv and not r["finished"] and (now - int(recv)) / 1e9 < LIVE_WITHIN_S
        )  # a paper run that has not written a final report and heard its feed recently
    return found


def _cash(st: EventStore, run: str, initial: float) -> float:
    ((spent, back),) = st.con.execute(
        "SELECT coalesce(sum(CASE WHEN side = 1 THEN sol + network_fee END), 0), "
        "coalesce(sum(CASE WHEN side = -1 THEN sol - network_fee END), 0) "
        "FROM fills WHERE run_id = ?",
        [run],
    ).fetchall()
    return initial - float(spent) / SOL + float(back) / SOL


def _initial_cash(st: EventStore, run: str) -> float:
    got = st.con.execute(
        "SELECT initial_cash FROM runs WHERE run_id = ? ORDER BY ts_ns, seq LIMIT 1", [run]
    ).fetchall()
    return int(got[0][0]) / SOL if got else 10.0


def live_snapshot(st: EventStore, run: str) -> dict[str, Any]:
    """The live page's figures for `run` (see the module docstring)."""
    initial = _initial_cash(st, run)
    held = rows(
        st,
        "SELECT o.pos_id, o.mint_id, mi.symbol, mi.mint, mi.decimals, o.entry_ts_ns, "
        "o.entry_price, o.cost_sol, o.qty_remaining, o.proceeds_sol, o.initial_stop "
        "FROM open_positions o LEFT JOIN mints mi ON mi.mint_id = o.mint_id "
        "WHERE o.run_id = ? ORDER BY o.pos_id",
        [run],
    )
    last: dict[int, tuple[int, float]] = {}
    if held:
        ids = ", ".join(str(int(p["mint_id"])) for p in held)
        # ids are ints formatted here; the price relation quotes the run id.
        for mint_id, ts, price in st.con.execute(
            f"SELECT mint_id, max(ts_ns), arg_max(price, (ts_ns, seq)) FROM "  # noqa: S608
            f"{price_relation(st, run)} WHERE mint_id IN ({ids}) AND price > 0 GROUP BY 1"
        ).fetchall():
            last[int(mint_id)] = (int(ts), float(price))
    positions, value = [], 0.0
    for p in held:
        ts, price = last.get(int(p["mint_id"]), (int(p["entry_ts_ns"]), float(p["entry_price"])))
        worth = int(p["qty_remaining"]) / 10.0 ** int(p["decimals"] or 6) * price
        pnl = worth + float(p["proceeds_sol"]) - float(p["cost_sol"])
        value += worth
        positions.append({
            "trade": f"T{p['pos_id']}", "symbol": mint_label(p["symbol"], p["mint"],
                                                             int(p["mint_id"])),
            "entry_ns": int(p["entry_ts_ns"]), "entry_price": float(p["entry_price"]),
            "size_sol": float(p["cost_sol"]), "last_price": price, "last_ns": ts,
            "value_sol": worth, "pnl_sol": pnl,
            "pnl_pct": pnl / float(p["cost_sol"]) * 100.0 if p["cost_sol"] else None,
            "stop_price": float(p["initial_stop"]),
        })  # fmt: skip
    decisions = [
        {"symbol": mint_label(d.pop("symbol"), d.pop("mint"), int(d.pop("mint_id"))), **d}
        for d in rows(
            st,
            "SELECT d.ts_ns, d.mint_id, mi.symbol, mi.mint, d.action_name AS action, "
            "d.reason_name AS reason, d.confidence, d.price FROM decisions d "
            "LEFT JOIN mints mi ON mi.mint_id = d.mint_id WHERE d.run_id = ? "
            "ORDER BY d.run_seq DESC LIMIT 10",
            [run],
        )
    ]
    for d in decisions:
        if d["confidence"] is not None and d["confidence"] != d["confidence"]:
            d["confidence"] = None  # NaN: exits carry no scores
    closed = rows(st, "SELECT exit_ts_ns, pnl_sol FROM closed_trades WHERE run_id = ?", [run])
    equity = [(int(t), float(e)) for t, e in st.con.execute(
        "SELECT ts_ns, equity_sol FROM equity WHERE run_id = ? ORDER BY ts_ns, run_seq", [run]
    ).fetchall()]  # fmt: skip
    cash = _cash(st, run, initial)
    latest = [equity[-1][0]] if equity else []
    latest += [int(d["ts_ns"]) for d in decisions[:1]]
    now_ns = max(latest, default=0)
    day0 = now_ns // DAY_NS * DAY_NS
    before = [e for t, e in equity if t <= day0]
    start_of_day = before[-1] if before else initial
    breakers = rows(
        st,
        "SELECT breaker_name AS breaker, arg_max(event, run_seq) AS event, "
        "arg_max(ts_ns, run_seq) AS ts_ns, arg_max(value, run_seq) AS value, "
        "arg_max(threshold, run_seq) AS threshold FROM risk WHERE run_id = ? GROUP BY 1 "
        "ORDER BY 1",
        [run],
    )
    ((first_ns,),) = st.con.execute(
        "SELECT min(ts_ns) FROM decisions WHERE run_id = ?", [run]
    ).fetchall()
    if first_ns is not None and (not equity or equity[0][0] > first_ns):
        equity.insert(0, (int(first_ns), initial))  # the curve starts at the initial cash
    if now_ns > (equity[-1][0] if equity else 0):  # the marks are per minute: add now
        equity.append((now_ns, cash + value))
    return {
        "run_id": run,
        "now_ns": now_ns,
        "cash_sol": cash,
        "portfolio_sol": cash + value,
        "initial_cash_sol": initial,
        "positions": positions,
        "decisions": decisions,
        "trades_closed": len(closed),
        "win_rate": sum(1 for c in closed if c["pnl_sol"] > 0) / len(closed) if closed else None,
        "day_realized_sol": sum(float(c["pnl_sol"]) for c in closed if int(c["exit_ts_ns"]) > day0),
        "day_change_sol": cash + value - start_of_day,
        "breakers": [{**b, "tripped": b["event"] == 1} for b in breakers],
        "feed": _feed(st, run),
        "equity": equity,
    }


def _finished(st: EventStore, run: str) -> bool:
    """Whether the run wrote its final report (a clean stop, or a replay's end)."""
    got = st.con.execute(
        "SELECT json_extract(arg_max(report_json, (ts_ns, seq)), '$.trades') IS NOT NULL "
        "FROM runs WHERE run_id = ?",
        [run],
    ).fetchall()
    return bool(got and got[0][0])


def _feed(st: EventStore, run: str) -> dict[str, Any]:
    (inputs, ticks, last_recv), = st.con.execute(
        "SELECT count(*), count(*) FILTER (WHERE kind = 0), max(recv_ts_ns) FROM feed_inputs "
        "WHERE source = ?",
        [run],
    ).fetchall()  # fmt: skip
    gaps = rows(st, "SELECT ts_ns, end_ns, reason FROM feed_gaps WHERE source = ? "
                    "ORDER BY ts_ns", [run])  # fmt: skip
    ((bad,),) = st.con.execute("SELECT count(*) FROM quarantine WHERE source = ?", [run]).fetchall()
    age = None if not last_recv else (time.time_ns() - int(last_recv)) / 1e9
    if not inputs:
        state = "no feed (a replay)"
    elif _finished(st, run):
        state = "stopped"
    else:
        state = "live" if age is not None and age < LIVE_WITHIN_S else "silent"
    return {
        "inputs": int(inputs), "ticks": int(ticks), "last_received_ns": last_recv,
        "last_received_age_s": age, "gaps": len(gaps), "quarantined": int(bad),
        "last_gap": gaps[-1] if gaps else None, "state": state,
    }  # fmt: skip
