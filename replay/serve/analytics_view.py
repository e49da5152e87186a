"""The dashboard's analytics page: how a run has done and what it learned, from its events.

- pattern success rates: each pattern's hits, share that made money, mean return
  (the `pattern_stats` view, whole run);
- hourly PnL: realized PnL of the trades closed in each UTC hour, with their count;
- the top 5 winning and the top 5 losing trades;
- parameter evolution: every applied change of every parameter, who asked and why;
- strategist proposals: each call's time, status and change (or why not);
- learning insights: the latest lessons and changes of the hourly reflection, and the
  adaptations with their reasons.
"""

from __future__ import annotations

from typing import Any

from data.mints import mint_label
from data.store import EventStore
from replay.report.run_data import rows


def _trades(st: EventStore, run: str, order: str) -> list[dict[str, Any]]:
    # `order` is one of two literals chosen below, never user text.
    found = rows(
        st,
        "SELECT t.pos_id, t.mint_id, mi.symbol, t.mint, t.entry_ts_ns, t.exit_ts_ns, "  # noqa: S608
        "t.size_sol, t.pnl_sol, t.pnl_pct, t.exit_reasons FROM closed_trades t "
        f"LEFT JOIN mints mi ON mi.mint_id = t.mint_id WHERE t.run_id = ? AND t.pnl_sol {order} 0 "
        f"ORDER BY t.pnl_sol {'DESC' if order == '>' else 'ASC'}, t.pos_id LIMIT 5",
        [run],
    )
    for t in found:
        t["symbol"] = mint_label(t["symbol"], t.pop("mint"), int(t.pop("mint_id")))
        t["trade"] = f"T{t.pop('pos_id')}"
    return found


def analytics(st: EventStore, run: str) -> dict[str, Any]:
    """The analytics page's figures for `run` (see the module docstring)."""
    hourly = rows(
        st,
        "SELECT exit_ts_ns // 3600000000000 * 3600000000000 AS hour_ns, sum(pnl_sol) AS "
        "pnl_sol, count(*) AS trades FROM closed_trades WHERE run_id = ? GROUP BY 1 ORDER BY 1",
        [run],
    )
    evolution: dict[str, list[dict[str, Any]]] = {}
    for p in rows(
        st,
        "SELECT name, ts_ns, old_value, new_value, requested_by, reason FROM param_evolution "
        "WHERE run_id = ? ORDER BY run_seq",
        [run],
    ):
        evolution.setdefault(str(p.pop("name")), []).append(p)
    ((first, last),) = st.con.execute(
        "SELECT min(ts), max(ts) FROM (SELECT ts_ns AS ts FROM decisions WHERE run_id = ? "
        "UNION ALL SELECT ts_ns FROM equity WHERE run_id = ?)",
        [run, run],
    ).fetchall()
    return {
        "run_id": run,
        "first_ns": first,
        "last_ns": last,
        "patterns": rows(
            st,
            "SELECT pattern, occurrences, success_rate, mean_return FROM pattern_stats "
            "WHERE run_id = ? AND time_window = 'all' ORDER BY occurrences DESC, pattern",
            [run],
        ),
        "hourly_pnl": hourly,
        "top_wins": _trades(st, run, ">"),
        "top_losses": _trades(st, run, "<"),
        "param_evolution": evolution,
        "strategist": rows(
            st,
            "SELECT ts_ns, call_no, status, changes, reason FROM strategist WHERE run_id = ? "
            "ORDER BY call_no DESC LIMIT 20",
            [run],
        ),
        "insights": rows(
            st,
            "SELECT ts_ns, kind, subject, verdict, text FROM insights WHERE run_id = ? AND "
            "kind <> 'summary' ORDER BY ts_ns DESC, insight_no DESC LIMIT 20",
            [run],
        ),
        "adaptations": rows(
            st,
            "SELECT ts_ns, action, rule, param, old_value, new_value, status, reason "
            "FROM adaptations WHERE run_id = ? ORDER BY adaptation_no DESC LIMIT 20",
            [run],
        ),
    }
