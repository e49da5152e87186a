"""`clanka explain`: why a trade happened, read back from the run's own events.

A trade (position id) is explained by its entry decision (the action, the confidence,
the four component scores and every input behind them, the recommended size, stop,
targets and max hold), the orders and fills that decision caused, the exit decisions
and fills that closed it, and its outcome. A decision id is explained the same way,
whatever its action: a skip names the guard or threshold that stopped it.

The decision's stop is a *plan* at the decision price. Once the entry fills, the
engine re-bases every level on the fill price (impact and fee included): the live stop
is fill x (1 - stop distance), the targets fill x (1 + tp1/tp2/tp3), the trailing high
starts at the fill price. `live_levels` shows those, computed from the fill and the
run's parameters, so what explain prints is what the exits were checked against.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from data.schemas import DECISION_CONTEXT
from data.store import EventStore
from engine.events import ScanSource

_ID_RE = re.compile(r"^\s*(?:(t|trade|p|pos|position|d|decision)[:#]?)?\s*(\d+)\s*$", re.I)


def parse_target(text: str) -> tuple[str, int]:
    """`T12`, `trade:12` or `12` name trade 12; `D40` or `decision:40` name decision 40."""
    m = _ID_RE.match(text)
    if not m:
        raise ValueError(f"cannot read {text!r} as a trade or decision id; use e.g. T12, 12 or D40")
    kind = "decision" if (m.group(1) or "t").lower().startswith("d") else "trade"
    return kind, int(m.group(2))


def _iso(ts_ns: int) -> str:
    t = dt.datetime.fromtimestamp(ts_ns // 1_000_000_000, tz=dt.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + f".{ts_ns % 1_000_000_000 // 1000:06d}Z"


def _sources(bits: int) -> str:
    names = [s.name.lower() for s in ScanSource if bits & (1 << (s.value - 1))]
    return "+".join(names) or "-"


def _rows(st: EventStore, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    """Query rows as dicts, with `ts_ns` shown as UTC time and scanner bits as names."""
    rel = st.con.execute(sql, params)
    cols = [d[0] for d in rel.description]
    rows = []
    for r in rel.fetchall():
        row = dict(zip(cols, r, strict=True))
        if "ts_ns" in row:
            row = {("time" if k == "ts_ns" else k): v for k, v in row.items()}
            row["time"] = _iso(int(row["time"]))
        if "sources" in row:
            row["sources"] = _sources(int(row["sources"]))
        rows.append(row)
    return rows


def _live_levels(
    st: EventStore, run: str, pos_id: int, decision: dict[str, Any]
) -> dict[str, Any] | None:
    """The levels the exits checked: re-based on the entry fill, from the run's params."""
    opened = _rows(
        st,
        "SELECT ts_ns, price, level FROM positions WHERE run_id = ? AND pos_id = ? AND event = 1",
        [run, pos_id],
    )
    params_rows = _rows(st, "SELECT params_json FROM runs WHERE run_id = ? LIMIT 1", [run])
    if not opened or not params_rows:
        return None
    params = json.loads(params_rows[0]["params_json"])
    fill = float(opened[0]["price"])
    stop = float(opened[0]["level"])
    out: dict[str, Any] = {
        "entry_fill_price": fill,
        "stop_price": stop,
        "stop_distance": 1.0 - stop / fill if fill > 0 else None,
    }
    for k in ("tp1", "tp2", "tp3"):
        out[f"{k}_price"] = fill * (1.0 + float(params[k]))
    out["trailing"] = bool(decision.get("trails"))
    if out["trailing"]:
        out["trailing_pct"] = float(params["trailing_pct"])
        out["trailing_starts_at"] = fill
    out["max_hold_s"] = decision.get("max_hold_s")
    out["note"] = (
        "the decision's stop_price is the plan at the decision price; the exits use these "
        "levels, re-based on the entry fill (after target 1 the stop moves up to the "
        "entry fill price, after target 2 to the target 1 price)"
    )
    return out


def latest_run(st: EventStore) -> str:
    """The most recent run in the store (a clear error if there is none)."""
    rows = _rows(st, "SELECT run_id FROM runs ORDER BY ts_ns DESC, seq DESC LIMIT 1", [])
    if not rows:
        raise ValueError("this store has no runs yet; run `clanka replay` first")
    return str(rows[0]["run_id"])


def explain(st: EventStore, target: str, run_id: str | None = None) -> dict[str, Any]:
    """Everything the log says about one trade or decision of a run."""
    kind, ident = parse_target(target)
    run = run_id or latest_run(st)
    if not _rows(st, "SELECT 1 FROM runs WHERE run_id = ?", [run]):
        raise ValueError(f"no run {run!r} in this store")
    if kind == "trade":
        opened = _rows(
            st,
            "SELECT decision_id FROM positions WHERE run_id = ? AND pos_id = ? AND event = 1",
            [run, ident],
        )
        if not opened:
            raise ValueError(f"run {run} has no trade {ident}")
        pos_id: int | None = ident
        entry_id = int(opened[0]["decision_id"])
    else:
        found = _rows(
            st,
            "SELECT decision_id, pos_id FROM decision_audit WHERE run_id = ? AND decision_id = ?",
            [run, ident],
        )
        if not found:
            raise ValueError(f"run {run} has no decision {ident}")
        pos_id = found[0]["pos_id"]
        entry_id = ident
    ctx = ", ".join(DECISION_CONTEXT)
    decision = _rows(
        st,
        f"SELECT decision_id, ts_ns, mint, action_name AS action, reason_name AS reason, "  # noqa: S608
        f"trigger_name AS trigger, sources, confidence, price, stop_price, sol / 1e9 AS "
        f"spend_sol, max_hold_s, trails, {ctx} FROM decisions "
        f"WHERE run_id = ? AND decision_id = ?",
        [run, entry_id],
    )[0]
    out: dict[str, Any] = {"run_id": run, "decision": decision, "pos_id": pos_id}
    if pos_id is None:
        pos_id = -1  # no trade came of it: show what its own orders did, if any
    out["orders"] = _rows(
        st,
        "SELECT order_id, decision_id, ts_ns, side, reason_name AS reason, qty, sol / 1e9 AS "
        "spend_sol, price FROM orders WHERE run_id = ? AND (pos_id = ? OR decision_id = ?) "
        "ORDER BY run_seq",
        [run, pos_id, entry_id],
    )
    out["fills"] = _rows(
        st,
        "SELECT order_id, ts_ns, side, reason_name AS reason, qty, sol_amount, fee_sol, "
        "slippage / 1e9 AS slippage_sol, price, impact FROM fills "
        "WHERE run_id = ? AND pos_id = ? ORDER BY run_seq",
        [run, pos_id],
    )
    out["rejects"] = _rows(
        st,
        "SELECT order_id, ts_ns, side, reason_name AS reason, impact FROM rejects "
        "WHERE run_id = ? AND (pos_id = ? OR decision_id = ?) ORDER BY run_seq",
        [run, pos_id, entry_id],
    )
    out["exit_decisions"] = _rows(
        st,
        "SELECT decision_id, ts_ns, reason_name AS reason, price, qty, technical, social "
        "FROM decisions WHERE run_id = ? AND pos_id = ? AND side = -1 ORDER BY run_seq",
        [run, pos_id],
    )
    if pos_id >= 0:
        levels = _live_levels(st, run, pos_id, decision)
        if levels:
            out["live_levels"] = levels
    outcome = _rows(
        st,
        "SELECT entry_price, avg_exit_price, size_sol, pnl_sol, pnl_pct, outcome, exit_reasons, "
        "(exit_ts_ns - entry_ts_ns) / 1e9 AS hold_s FROM closed_trades "
        "WHERE run_id = ? AND pos_id = ?",
        [run, pos_id],
    )
    if outcome:
        out["outcome"] = outcome[0]
    else:
        out["outcome"] = {"outcome": "open" if out["pos_id"] is not None else "no trade"}
    return out
