"""`clanka sweep report`: one self-contained HTML page about a finished sweep.

It holds a leaderboard of the best sets, a heatmap of the ranking metric over two
swept parameters (the mean over the others), and the equity curves of the best K. Those
K are re-run through replay, so their decisions, orders, fills and equity land in the
store as ordinary runs. plotly.js is embedded once in the page: no CDN, it opens
offline.
"""

from __future__ import annotations

import datetime as dt
import html
import statistics
from pathlib import Path
from typing import Any

import plotly.graph_objects as go

from data.store import EventStore
from replay.core.runner import run_replay
from replay.sweep.results import METRIC_KEYS, sweep_rows
from strategies.config import StrategyConfig

_TABLE_METRICS = ("trades", "win_rate", "realized_pnl_sol", "max_drawdown", "sharpe",
                  "fees_sol", "final_equity_sol")  # fmt: skip


def _value(row: dict[str, Any], metric: str) -> float | None:
    v = row[metric]
    return None if v is None else float(v)


def build_report(
    store: EventStore,
    sweep_id: str,
    out: Path,
    *,
    top: int = 5,
    sort: str = "realized_pnl_sol",
    x: str | None = None,
    y: str | None = None,
) -> dict[str, Any]:
    """Write the report to `out`; return what it shows (ids of the re-run best sets)."""
    if sort not in METRIC_KEYS:
        raise ValueError(f"--sort {sort!r}: choose one of {', '.join(METRIC_KEYS)}")
    rows = sweep_rows(store, sweep_id, keep_strategy=True)
    if not rows:
        raise ValueError(f"no sweep {sweep_id!r} in this store (see the sweeps view)")
    keys = sorted({k for r in rows for k in r["set"]})
    ranked = sorted(rows, key=lambda r: (_value(r, sort) is None, -(_value(r, sort) or 0.0)))
    best = ranked[:top]
    parts = [_leaderboard(best, keys, sort)]
    swept = [k for k in keys if len({r["set"].get(k) for r in rows}) > 1]
    x = x or (swept[0] if swept else None)
    y = y or (swept[1] if len(swept) > 1 else None)
    for axis, name in (("--x", x), ("--y", y)):
        if name is not None and name not in keys:
            raise ValueError(f"{axis} {name!r} was not swept; swept: {', '.join(keys)}")
    figs: list[go.Figure] = []
    if x is not None and y is not None:
        figs.append(_heatmap(rows, x, y, sort))
    strategy = StrategyConfig.model_validate_json(best[0]["strategy_json"])
    runs = []
    curves = go.Figure()
    for r in best:
        res = run_replay(store, strategy, strategy.vector(r["set"]), start_ts=r["start_ts"],
                         end_ts=r["end_ts"], mint_ids=r["mints"])  # fmt: skip
        runs.append({"set_index": r["set_index"], "run_id": res.run_id})
        store.refresh()
        eq = store.con.execute(
            "SELECT ts_ns, equity_sol FROM equity WHERE run_id = ? ORDER BY ts_ns", [res.run_id]
        ).fetchall()
        curves.add_trace(go.Scatter(
            x=[dt.datetime.fromtimestamp(t / 1e9, dt.UTC) for t, _ in eq],
            y=[e for _, e in eq], mode="lines",
            name=f"set {r['set_index']} ({res.run_id[-8:]})",
        ))  # fmt: skip
    curves.update_layout(title=f"equity of the best {len(best)} (re-run: their events are in "
                         "the store)", xaxis_title="time (UTC)",
                         yaxis_title="equity (SOL)")  # fmt: skip
    figs.append(curves)
    divs = [
        f.to_html(full_html=False, include_plotlyjs=(i == 0), default_width="100%")
        for i, f in enumerate(figs)
    ]
    page = _page(sweep_id, len(rows), sort, parts + divs)
    out.write_text(page)
    return {"sweep_id": sweep_id, "html": str(out), "sets": len(rows), "heatmap": [x, y],
            "best_runs": runs}  # fmt: skip


def _leaderboard(best: list[dict[str, Any]], keys: list[str], sort: str) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ["set", *keys, *_TABLE_METRICS])
    body = []
    for r in best:
        cells = [str(r["set_index"]), *(f"{r['set'].get(k, ''):g}" for k in keys)]
        cells += ["-" if _value(r, m) is None else f"{_value(r, m):.6g}" for m in _TABLE_METRICS]
        body.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    return (f"<h2>Leaderboard (best {len(best)} by {html.escape(sort)})</h2>"
            f"<table><tr>{head}</tr>{''.join(body)}</table>")  # fmt: skip


def _heatmap(rows: list[dict[str, Any]], x: str, y: str, sort: str) -> go.Figure:
    xs = sorted({r["set"][x] for r in rows})
    ys = sorted({r["set"][y] for r in rows})
    z: list[list[float | None]] = []
    for yv in ys:
        line: list[float | None] = []
        for xv in xs:
            vals = [v for r in rows if r["set"][x] == xv and r["set"][y] == yv
                    if (v := _value(r, sort)) is not None]  # fmt: skip
            line.append(statistics.fmean(vals) if vals else None)
        z.append(line)
    fig = go.Figure(go.Heatmap(x=xs, y=ys, z=z, colorbar={"title": sort}))
    fig.update_layout(title=f"{sort} over {x} and {y} (mean over the other parameters)",
                      xaxis_title=x, yaxis_title=y)  # fmt: skip
    return fig


def _page(sweep_id: str, n: int, sort: str, parts: list[str]) -> str:
    style = ("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}")  # fmt: skip
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Clanka sweep "
        f"{html.escape(sweep_id)}</title><style>{style}</style></head><body>"
        f"<h1>Sweep {html.escape(sweep_id)}</h1><p>{n} parameter sets, ranked by "
        f"{html.escape(sort)}.</p>" + "".join(parts) + "</body></html>"
    )
