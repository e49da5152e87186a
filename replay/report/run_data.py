"""What one run's report shows, read back from its events: replay, paper and live alike.

Every figure here comes from the run's own families in the store (decisions, fills,
positions, risk, equity, params) and the market ticks, never from the process that ran
it, so a finished replay, a paper run still writing and a live run read the same way.
A run still in progress shows what it has committed so far (paper runs commit every
`roll_s`, two seconds by default).

Definitions (the same words as the replay report, `replay.report.metrics`):
- realized PnL: the sum of closed trades' PnL (fees, network fees and slippage paid);
- win rate: the share of closed trades with PnL > 0;
- fees: DEX fees plus network and priority fees of every fill;
- equity: the run's per-minute marks (cash plus open positions at the last trade price);
  drawdown: the fall from the running peak of that curve, as a fraction of the peak
  (the first peak is the initial cash);
- targets drawn on a price chart: the entry fill x (1 + tp1, tp2, tp3) with the
  parameters in force at the entry (its start values plus every change applied before
  it); the stop is the one the position opened with (it moves up after targets hit).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from data.mints import mint_label
from data.store import EventStore

SOL = 1e9
MAX_PRICE_POINTS = 1500
"""Points per price chart: a mint's window is bucketed to at most this many (last price
of each bucket), which keeps a day-long chart light and a five-minute trade exact."""


@dataclass
class RunData:
    """Everything the run report draws and tabulates, as plain values."""

    run_id: str
    header: dict[str, Any]
    summary: dict[str, Any]
    equity: list[tuple[int, float]]
    trades: list[dict[str, Any]]
    fills: list[dict[str, Any]]
    decisions_by_reason: list[dict[str, Any]]
    exit_reasons: list[dict[str, Any]]
    breakers: list[dict[str, Any]]
    param_changes: list[dict[str, Any]]
    prices: dict[int, list[tuple[int, float]]] = field(default_factory=dict)
    charted_mints: list[int] = field(default_factory=list)


def rows(st: EventStore, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    """Query rows as dicts."""
    rel = st.con.execute(sql, params)
    cols = [d[0] for d in rel.description]
    return [dict(zip(cols, r, strict=True)) for r in rel.fetchall()]


def known_runs(st: EventStore) -> list[str]:
    """Run ids with events in this store, the latest first (by their last event)."""
    found = rows(
        st,
        "SELECT run_id, max(ts) AS last FROM ("
        " SELECT run_id, ts_ns AS ts FROM runs UNION ALL"
        " SELECT run_id, ts_ns FROM equity UNION ALL"
        " SELECT run_id, ts_ns FROM positions UNION ALL"
        " SELECT run_id, ts_ns FROM decisions) GROUP BY run_id ORDER BY last DESC, run_id",
        [],
    )
    return [str(r["run_id"]) for r in found]


def resolve_run(st: EventStore, run_id: str | None) -> str:
    """`run_id` itself if the store has it, the latest run for None or 'latest'."""
    runs = known_runs(st)
    if not runs:
        raise ValueError("this store has no runs yet; run `clanka replay` or `clanka run` first")
    if run_id is None or run_id == "latest":
        return runs[0]
    if run_id in runs:
        return run_id
    near = [r for r in runs if run_id in r][:3]
    hint = f"; did you mean {', '.join(near)}?" if near else f"; the latest is {runs[0]}"
    raise ValueError(f"no run {run_id!r} in this store{hint}")


def _header(st: EventStore, run: str) -> dict[str, Any]:
    row = rows(
        st,
        "SELECT strategy, params_json, initial_cash, ticks, report_json, start_ts, end_ts, "
        "ts_ns FROM runs WHERE run_id = ? ORDER BY ts_ns DESC, seq DESC LIMIT 1",
        [run],
    )
    span = rows(
        st,
        "SELECT min(ts) AS first, max(ts) AS last FROM ("
        " SELECT ts_ns AS ts FROM equity WHERE run_id = ? UNION ALL"
        " SELECT ts_ns FROM decisions WHERE run_id = ? UNION ALL"
        " SELECT ts_ns FROM positions WHERE run_id = ?)",
        [run, run, run],
    )[0]
    head: dict[str, Any] = {
        "run_id": run,
        "first_event_ns": span["first"],
        "last_event_ns": span["last"],
        "strategy": None,
        "mode": None,
        "initial_cash_sol": None,
        "params": {},
        "completed": False,
    }
    if row:
        r = row[0]
        report = json.loads(r["report_json"] or "{}")
        head["strategy"] = r["strategy"]
        head["params"] = json.loads(r["params_json"] or "{}")
        head["initial_cash_sol"] = int(r["initial_cash"]) / SOL
        head["ticks"] = int(r["ticks"])
        head["mode"] = report.get("mode", "replay")
        # A replay writes its row when it ends; a paper or live run writes one at start
        # (an empty report) and one at each clean stop (a report with trades).
        head["completed"] = "trades" in report
    return head


def _params_at(head: dict[str, Any], changes: list[dict[str, Any]], ts: int) -> dict[str, float]:
    params = {k: float(v) for k, v in head["params"].items()}
    for c in changes:
        if c["status"] == "applied" and c["control"] == "param" and int(c["ts_ns"]) <= ts:
            params[str(c["name"])] = float(c["new_value"])
    return params


def _trades(st: EventStore, run: str) -> list[dict[str, Any]]:
    closed = rows(
        st,
        "SELECT t.pos_id, t.mint_id, t.mint, mi.symbol, t.entry_ts_ns, t.exit_ts_ns, "
        "t.entry_price, t.avg_exit_price, t.size_sol, t.pnl_sol, t.pnl_pct, t.exit_reasons, "
        "t.outcome, p.level AS stop_price, p.decision_id AS entry_decision_id "
        "FROM closed_trades t JOIN positions p ON p.run_id = t.run_id AND p.pos_id = t.pos_id "
        "AND p.event = 1 LEFT JOIN mints mi ON mi.mint_id = t.mint_id WHERE t.run_id = ?",
        [run],
    )
    still_open = rows(
        st,
        "SELECT o.pos_id, o.mint_id, o.mint, mi.symbol, o.entry_ts_ns, NULL AS exit_ts_ns, "
        "o.entry_price, NULL AS avg_exit_price, o.cost_sol AS size_sol, NULL AS pnl_sol, "
        "NULL AS pnl_pct, NULL AS exit_reasons, 'open' AS outcome, o.initial_stop AS "
        "stop_price, p.decision_id AS entry_decision_id FROM open_positions o JOIN positions p "
        "ON p.run_id = o.run_id AND p.pos_id = o.pos_id AND p.event = 1 "
        "LEFT JOIN mints mi ON mi.mint_id = o.mint_id WHERE o.run_id = ?",
        [run],
    )
    trades = sorted(closed + still_open, key=lambda t: (int(t["entry_ts_ns"]), int(t["pos_id"])))
    entries = {
        int(d["decision_id"]): d
        for d in rows(
            st,
            "SELECT decision_id, reason_name AS reason, trigger_name AS trigger, confidence, "
            "technical, social, fundamental, risk_adjustment, liquidity, momentum, volume_5m "
            "FROM decisions WHERE run_id = ? AND action = 1",
            [run],
        )
    }
    exits: dict[int, list[dict[str, Any]]] = {}
    for f in rows(
        st,
        "SELECT pos_id, ts_ns, reason_name AS reason, qty, sol / 1e9 AS sol, price "
        "FROM fills WHERE run_id = ? AND side = -1 ORDER BY run_seq",
        [run],
    ):
        exits.setdefault(int(f["pos_id"]), []).append(f)
    for t in trades:
        t["label"] = mint_label(t["symbol"], t["mint"], int(t["mint_id"]))
        t["entry"] = entries.get(int(t["entry_decision_id"]), {})
        t["exits"] = exits.get(int(t["pos_id"]), [])
        end = t["exit_ts_ns"]
        t["hold_s"] = None if end is None else (int(end) - int(t["entry_ts_ns"])) / 1e9
    return trades


def price_relation(st: EventStore, run: str) -> str:
    """Where a run's prices are: a live run's own processed inputs, else the store's ticks.

    A paper or live run trades on its feed, which lands in `feed_inputs` (source = the
    run id), not in `ticks`; a replay reads the ticks themselves.
    """
    ((n,),) = st.con.execute(
        "SELECT count(*) FROM (SELECT 1 FROM feed_inputs WHERE source = ? LIMIT 1)", [run]
    ).fetchall()
    if n:
        return (f"(SELECT ts_ns, seq, mint_id, price FROM feed_inputs "  # noqa: S608
                f"WHERE kind = 0 AND source = {_quote(run)})")  # fmt: skip
    return "(SELECT ts_ns, seq, mint_id, price FROM ticks)"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _downsampled_prices(
    st: EventStore, windows: dict[int, tuple[int, int]], prices: str
) -> dict[int, list[tuple[int, float]]]:
    """Each mint's last trade price per bucket over its window (at most MAX_PRICE_POINTS)."""
    if not windows:
        return {}
    values = ", ".join(
        f"({int(m)}, {int(lo)}, {int(hi)}, {max(1, (int(hi) - int(lo)) // MAX_PRICE_POINTS + 1)})"
        for m, (lo, hi) in windows.items()
    )
    # Every value above is an int formatted by Python, the run id is quoted: no user
    # text reaches the SQL unquoted.
    sql = (
        f"WITH w(mint_id, lo, hi, width) AS (VALUES {values}) "  # noqa: S608
        "SELECT t.mint_id, max(t.ts_ns) AS ts, arg_max(t.price, (t.ts_ns, t.seq)) AS price "
        f"FROM {prices} t JOIN w ON t.mint_id = w.mint_id "
        "WHERE t.ts_ns >= w.lo AND t.ts_ns <= w.hi AND t.price > 0 AND isfinite(t.price) "
        "GROUP BY t.mint_id, (t.ts_ns - w.lo) // w.width ORDER BY t.mint_id, ts"
    )
    out: dict[int, list[tuple[int, float]]] = {m: [] for m in windows}
    for mint_id, ts, price in st.con.execute(sql).fetchall():
        out[int(mint_id)].append((int(ts), float(price)))
    return out


def _chart_windows(
    trades: list[dict[str, Any]], last_ns: int | None, max_charts: int
) -> tuple[list[int], dict[int, tuple[int, int]]]:
    """The mints to chart (most trades first, then largest absolute PnL) and their windows."""
    by_mint: dict[int, list[dict[str, Any]]] = {}
    for t in trades:
        by_mint.setdefault(int(t["mint_id"]), []).append(t)

    def weight(m: int) -> tuple[int, float, int]:
        ts = by_mint[m]
        return (-len(ts), -sum(abs(t["pnl_sol"] or 0.0) for t in ts), m)

    chosen = sorted(by_mint, key=weight)[:max_charts]
    windows = {}
    for m in chosen:
        lo = min(int(t["entry_ts_ns"]) for t in by_mint[m])
        hi = max(
            int(t["exit_ts_ns"] or max(int(t["entry_ts_ns"]), last_ns or 0)) for t in by_mint[m]
        )
        pad = max(300 * 10**9, (hi - lo) // 5)
        windows[m] = (lo - pad, hi + pad)
    return chosen, windows


def _drawdowns(curve: list[tuple[int, float]], start: float | None) -> list[float]:
    peak = start if start is not None else (curve[0][1] if curve else 0.0)
    out = []
    for _, eq in curve:
        peak = max(peak, eq)
        out.append((peak - eq) / peak if peak > 0 else 0.0)
    return out


def _summary(data: RunData) -> dict[str, Any]:
    closed = [t for t in data.trades if t["outcome"] != "open"]
    wins = sum(1 for t in closed if t["pnl_sol"] > 0)
    fees = _fees(data.fills)
    start = data.header["initial_cash_sol"]
    final = data.equity[-1][1] if data.equity else start
    dd = _drawdowns(data.equity, start)
    return {
        "trades_closed": len(closed),
        "trades_open": len(data.trades) - len(closed),
        "win_rate": wins / len(closed) if closed else None,
        "realized_pnl_sol": sum(float(t["pnl_sol"]) for t in closed),
        "fees_sol": fees,
        "initial_cash_sol": start,
        "final_equity_sol": final,
        "return_pct": (final / start - 1.0) * 100.0 if start and final is not None else None,
        "max_drawdown": max(dd) if dd else 0.0,
        "breaker_trips": sum(1 for b in data.breakers if b["event"] == 1),
        "param_changes": sum(1 for p in data.param_changes if p["status"] == "applied"),
    }


def _fees(fills: list[dict[str, Any]]) -> float:
    return sum(float(f["fee_sol"]) for f in fills)


def load_run(st: EventStore, run_id: str | None, *, max_charts: int = 12) -> RunData:
    """Read everything the run report shows for `run_id` (None: the latest run)."""
    run = resolve_run(st, run_id)
    head = _header(st, run)
    equity = [
        (int(ts), float(eq))
        for ts, eq in st.con.execute(
            "SELECT ts_ns, equity_sol FROM equity WHERE run_id = ? ORDER BY ts_ns, run_seq", [run]
        ).fetchall()
    ]
    if head["initial_cash_sol"] is None and equity:
        head["initial_cash_sol"] = equity[0][1]
    fills = rows(
        st,
        "SELECT f.ts_ns, f.mint_id, f.pos_id, f.side, f.reason_name AS reason, f.qty, "
        "f.sol / 1e9 AS sol, f.fee_sol, f.price, f.impact FROM fills f WHERE f.run_id = ? "
        "ORDER BY f.run_seq",
        [run],
    )
    changes = rows(
        st,
        "SELECT ts_ns, control, name, old_value, new_value, status, refusal, requested_by, "
        "reason FROM param_history WHERE run_id = ? ORDER BY run_seq",
        [run],
    )
    data = RunData(
        run_id=run,
        header=head,
        summary={},
        equity=equity,
        trades=_trades(st, run),
        fills=fills,
        decisions_by_reason=rows(
            st,
            "SELECT action_name AS action, reason_name AS reason, count(*) AS decisions "
            "FROM decisions WHERE run_id = ? GROUP BY 1, 2 ORDER BY 1, 3 DESC, 2",
            [run],
        ),
        exit_reasons=rows(
            st,
            "SELECT reason_name AS reason, count(*) AS exits, sum(sol) / 1e9 AS proceeds_sol "
            "FROM fills WHERE run_id = ? AND side = -1 GROUP BY 1 ORDER BY 2 DESC, 1",
            [run],
        ),
        breakers=rows(
            st,
            "SELECT r.ts_ns, r.event, r.breaker_name AS breaker, r.cause_name AS cause, "
            "r.value, r.threshold, r.mint_id, mi.symbol, mi.mint FROM risk r "
            "LEFT JOIN mints mi ON mi.mint_id = r.mint_id WHERE r.run_id = ? ORDER BY r.run_seq",
            [run],
        ),
        param_changes=changes,
    )
    for t in data.trades:
        params = _params_at(head, changes, int(t["entry_ts_ns"]))
        t["targets"] = [
            float(t["entry_price"]) * (1.0 + params[k])
            for k in ("tp1", "tp2", "tp3")
            if k in params
        ]
    data.summary = _summary(data)
    data.charted_mints, windows = _chart_windows(data.trades, head["last_event_ns"], max_charts)
    data.prices = _downsampled_prices(st, windows, price_relation(st, run))
    return data
