"""`clanka report RUN --html`: one self-contained page about one run.

The page holds the run's equity and drawdown over UTC time (breaker trips marked), a
price chart per traded mint with every entry and exit fill and each position's stop and
targets, the trade table (each trade opens what `clanka explain` says about it: the
entry decision's scores and inputs and every exit), exit reasons, decisions by action
and reason, the breaker history and every parameter change. plotly.js is embedded once:
no CDN, the page opens offline and can be mailed as one file.
"""

from __future__ import annotations

import bisect
import datetime as dt
import html
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from data.mints import mint_label as label
from replay.report.run_data import RunData

_EXIT_COLOURS = {
    "stop_loss": "#d62728", "trailing_stop": "#ff7f0e", "target_1": "#2ca02c",
    "target_2": "#1f9e4a", "target_3": "#0b6e2e", "time_stop": "#7f7f7f",
    "sentiment_flip": "#9467bd", "volume_death": "#8c564b",
}  # fmt: skip
_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1200px;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
td,th{padding:2px 8px;border-bottom:1px solid #eee;text-align:right}
th{background:#f6f6f6}td.l,th.l{text-align:left}.pos{color:#1a7f37}.neg{color:#c62828}
.cards{display:flex;flex-wrap:wrap;gap:.6em}.card{border:1px solid #ddd;border-radius:6px;
padding:.4em .8em;min-width:9em}.card b{display:block;font-size:1.2em}
details{margin:.3em 0;font-size:.85em}code{background:#f3f3f3;padding:0 3px}
.note{color:#666;font-size:.85em}
"""


def when(ts_ns: int | None) -> str:
    """UTC time to the second, as a trader reads it."""
    if ts_ns is None:
        return "-"
    return dt.datetime.fromtimestamp(int(ts_ns) / 1e9, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _t(ts_ns: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts_ns / 1e9, dt.UTC)


def _num(v: Any, fmt: str = ".4f") -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and v != v:
        return "-"
    return format(v, fmt) if isinstance(v, int | float) else html.escape(str(v))


def _signed(v: float | None, fmt: str = "+.4f", scale: float = 1.0) -> str:
    if v is None:
        return "-"
    cls = "pos" if v > 0 else "neg" if v < 0 else ""
    return f'<span class="{cls}">{format(v * scale, fmt)}</span>'


def _table(head: list[str], rows: list[list[str]], left: int = 1) -> str:
    th = "".join(f'<th class="{"l" if i < left else ""}">{h}</th>' for i, h in enumerate(head))
    body = "".join(
        "<tr>"
        + "".join(f'<td class="{"l" if i < left else ""}">{c}</td>' for i, c in enumerate(r))
        + "</tr>"
        for r in rows
    )
    return f"<table><tr>{th}</tr>{body}</table>"


def _equity_figure(d: RunData) -> go.Figure:
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3],
                        vertical_spacing=0.04)  # fmt: skip
    xs = [_t(ts) for ts, _ in d.equity]
    eq = [e for _, e in d.equity]
    fig.add_trace(go.Scatter(x=xs, y=eq, mode="lines", name="equity (SOL)"), row=1, col=1)
    peak = d.header["initial_cash_sol"] or (eq[0] if eq else 0.0)
    dd = []
    for e in eq:
        peak = max(peak, e)
        dd.append(-(peak - e) / peak * 100.0 if peak > 0 else 0.0)
    fig.add_trace(go.Scatter(x=xs, y=dd, mode="lines", fill="tozeroy", name="drawdown (%)",
                             line={"color": "#c62828"}), row=2, col=1)  # fmt: skip
    trips = [b for b in d.breakers if b["event"] == 1]
    if trips and d.equity:
        times = [ts for ts, _ in d.equity]
        ys = [eq[max(0, bisect.bisect_right(times, int(b["ts_ns"])) - 1)] for b in trips]
        fig.add_trace(go.Scatter(
            x=[_t(int(b["ts_ns"])) for b in trips], y=ys, mode="markers", name="breaker tripped",
            marker={"symbol": "x", "size": 10, "color": "#ff7f0e"},
            text=[f"{b['breaker']}: {b['value']:.4g} vs limit {b['threshold']:.4g}"
                  for b in trips], hoverinfo="text+x",
        ), row=1, col=1)  # fmt: skip
    fig.update_layout(title="equity and drawdown", height=480, margin={"t": 40, "b": 30},
                      xaxis2_title="time (UTC)", yaxis_title="SOL", yaxis2_title="%")  # fmt: skip
    return fig


def _price_figure(d: RunData, mint_id: int) -> go.Figure:
    trades = [t for t in d.trades if int(t["mint_id"]) == mint_id]
    name = trades[0]["label"]
    pts = d.prices.get(mint_id, [])
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[_t(ts) for ts, _ in pts], y=[p for _, p in pts],
                             mode="lines", name="last trade price",
                             line={"color": "#555", "width": 1}))  # fmt: skip
    fills = [f for f in d.fills if int(f["mint_id"]) == mint_id]
    buys = [f for f in fills if f["side"] == 1]
    fig.add_trace(go.Scatter(
        x=[_t(int(f["ts_ns"])) for f in buys], y=[f["price"] for f in buys], mode="markers",
        name="entry", marker={"symbol": "triangle-up", "size": 12, "color": "#1a7f37"},
        text=[f"T{f['pos_id']} buy {f['sol']:.4f} SOL ({f['reason']})" for f in buys],
        hoverinfo="text+y",
    ))  # fmt: skip
    for reason in sorted({str(f["reason"]) for f in fills if f["side"] == -1}):
        sells = [f for f in fills if f["side"] == -1 and f["reason"] == reason]
        fig.add_trace(go.Scatter(
            x=[_t(int(f["ts_ns"])) for f in sells], y=[f["price"] for f in sells],
            mode="markers", name=f"exit: {reason}",
            marker={"symbol": "triangle-down", "size": 12,
                    "color": _EXIT_COLOURS.get(reason, "#1f77b4")},
            text=[f"T{f['pos_id']} sell ({reason}): {f['sol']:.4f} SOL" for f in sells],
            hoverinfo="text+y",
        ))  # fmt: skip
    last = pts[-1][0] if pts else None
    for i, t in enumerate(trades):
        a = _t(int(t["entry_ts_ns"]))
        b = _t(int(t["exit_ts_ns"] or last or t["entry_ts_ns"]))
        levels = [("stop", t["stop_price"], "#c62828", "dash")]
        levels += [(f"target {k + 1}", v, "#2ca02c", "dot") for k, v in enumerate(t["targets"])]
        for what, level, colour, dash in levels:
            fig.add_trace(go.Scatter(
                x=[a, b], y=[level, level], mode="lines", legendgroup=what, name=what,
                showlegend=i == 0, line={"color": colour, "dash": dash, "width": 1},
                hoverinfo="text", text=f"T{t['pos_id']} {what} {level:.6g}",
            ))  # fmt: skip
    fig.update_layout(title=f"{html.escape(name)}: price (SOL per token) with entries, exits, "
                      "stops and targets", height=360, margin={"t": 40, "b": 30},
                      xaxis_title="time (UTC)", yaxis_tickformat=".3~g")  # fmt: skip
    return fig


def _bar(title: str, names: list[str], values: list[float], colour: str = "#1f77b4") -> go.Figure:
    fig = go.Figure(go.Bar(x=names, y=values, marker_color=colour))
    fig.update_layout(title=title, height=300, margin={"t": 40, "b": 30})
    return fig


def _summary_cards(d: RunData) -> str:
    s, h = d.summary, d.header
    items = [
        ("strategy", html.escape(str(h["strategy"] or "?"))),
        ("mode", html.escape(str(h["mode"] or "?"))),
        ("closed trades", str(s["trades_closed"])),
        ("open positions", str(s["trades_open"])),
        ("win rate", "-" if s["win_rate"] is None else f"{s['win_rate'] * 100:.1f}%"),
        ("realized PnL (SOL)", _signed(s["realized_pnl_sol"])),
        ("fees (SOL)", _num(s["fees_sol"])),
        ("equity (SOL)", f"{_num(s['initial_cash_sol'])} → {_num(s['final_equity_sol'])}"),
        ("return", _signed(s["return_pct"], "+.2f") + "%"),
        ("max drawdown", f"{s['max_drawdown'] * 100:.2f}%"),
        ("breaker trips", str(s["breaker_trips"])),
        ("parameter changes", str(s["param_changes"])),
    ]
    return (
        '<div class="cards">'
        + "".join(f'<div class="card">{k}<b>{v}</b></div>' for k, v in items)
        + "</div>"
    )


def _trade_table(d: RunData) -> str:
    rows = []
    for t in d.trades:
        pid = int(t["pos_id"])
        rows.append([
            f'<a href="#T{pid}">T{pid}</a>', html.escape(t["label"]), when(t["entry_ts_ns"]),
            when(t["exit_ts_ns"]), _num(t["entry_price"], ".6g"),
            _num(t["avg_exit_price"], ".6g"), _num(t["size_sol"]), _signed(t["pnl_sol"]),
            _signed(t["pnl_pct"], "+.1f", 100.0) + ("%" if t["pnl_pct"] is not None else ""),
            html.escape(str(t["exit_reasons"] or "-")), html.escape(str(t["outcome"])),
        ])  # fmt: skip
    return _table(["trade", "token", "entry (UTC)", "exit (UTC)", "entry price", "exit price",
                   "size SOL", "PnL SOL", "PnL", "exits", "outcome"], rows, left=2)  # fmt: skip


def _trade_details(d: RunData) -> str:
    parts = []
    for t in d.trades:
        pid, e = int(t["pos_id"]), t["entry"]
        scores = ", ".join(
            f"{k} {e[k]:.3f}" for k in ("technical", "social", "fundamental", "risk_adjustment")
            if e.get(k) is not None and e[k] == e[k]
        )  # fmt: skip
        inputs = ", ".join(
            f"{k} {e[k]:.4g}" for k in ("liquidity", "momentum", "volume_5m")
            if e.get(k) is not None and e[k] == e[k]
        )  # fmt: skip
        exits = (
            "".join(
                f"<li>{when(x['ts_ns'])}: {html.escape(str(x['reason']))}, sold {x['qty']} raw at "
                f"{x['price']:.6g} for {x['sol']:.4f} SOL</li>"
                for x in t["exits"]
            )
            or "<li>none yet</li>"
        )
        targets = ", ".join(f"{v:.6g}" for v in t["targets"]) or "-"
        parts.append(
            f'<details id="T{pid}"><summary>T{pid} {html.escape(t["label"])}: '
            f"{html.escape(str(t['outcome']))}</summary>"
            f"<p>entry decision D{t['entry_decision_id']}: buy "
            f"({html.escape(str(e.get('reason', '?')))}) via "
            f"{html.escape(str(e.get('trigger', '?')))}, confidence "
            f"{_num(e.get('confidence'), '.3f')}; scores: {scores or '-'}; inputs: "
            f"{inputs or '-'}</p><p>filled at {t['entry_price']:.6g}; stop "
            f"{_num(t['stop_price'], '.6g')}; targets {targets}</p><ul>{exits}</ul>"
            f'<p class="note">everything the log says: <code>clanka explain T{pid} --run '
            f"{html.escape(d.run_id)}</code></p></details>"
        )
    return "".join(parts)


def _breaker_table(d: RunData) -> str:
    rows = [[when(b["ts_ns"]), html.escape(str(b["breaker"])),
             "tripped" if b["event"] == 1 else "reset", html.escape(str(b["cause"])),
             _num(b["value"], ".4g"), _num(b["threshold"], ".4g"),
             html.escape(label(b["symbol"], b["mint"], int(b["mint_id"])))
             if int(b["mint_id"]) >= 0 else "-"]
            for b in d.breakers]  # fmt: skip
    return _table(["time (UTC)", "breaker", "event", "cause", "value", "limit", "token"], rows, 4)


def _param_table(d: RunData) -> str:
    rows = [[when(p["ts_ns"]), html.escape(str(p["control"])), html.escape(str(p["name"] or "")),
             _num(p["old_value"], ".6g"), _num(p["new_value"], ".6g"),
             html.escape(str(p["status"])), html.escape(str(p["requested_by"] or "")),
             html.escape(str(p["reason"] or p["refusal"] or ""))]
            for p in d.param_changes]  # fmt: skip
    return _table(["time (UTC)", "control", "parameter", "from", "to", "status", "asked by",
                   "why"], rows, left=3)  # fmt: skip


def write_run_page(d: RunData, out: Path) -> None:
    """Write the self-contained page to `out` (its folder is created)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_run_page(d), encoding="utf-8")


def render_run_page(d: RunData, plotly_src: str | None = None) -> str:
    """The page as HTML: plotly.js inside it, or loaded from `plotly_src` (the dashboard)."""
    h = d.header
    figs: list[go.Figure] = [_equity_figure(d)]
    price_figs = [_price_figure(d, m) for m in d.charted_mints]
    more = len({int(t["mint_id"]) for t in d.trades}) - len(d.charted_mints)
    exit_fig = _bar("exits by reason (each partial exit counts)",
                    [str(r["reason"]) for r in d.exit_reasons],
                    [int(r["exits"]) for r in d.exit_reasons])  # fmt: skip
    by_action: dict[str, int] = {}
    for r in d.decisions_by_reason:
        by_action[str(r["action"])] = by_action.get(str(r["action"]), 0) + int(r["decisions"])
    action_fig = _bar("decisions by action (holds and skips are rate-limited per mint)",
                      list(by_action), list(by_action.values()), "#9467bd")  # fmt: skip
    figs += [*price_figs, exit_fig, action_fig]
    first: bool | str = True if plotly_src is None else plotly_src
    div = [f.to_html(full_html=False, include_plotlyjs=first if i == 0 else False,
                     default_width="100%") for i, f in enumerate(figs)]  # fmt: skip
    n_price = len(price_figs)
    state = "finished" if h["completed"] else "in progress or stopped without a report"
    decision_rows = [[html.escape(str(r["action"])), html.escape(str(r["reason"])),
                      str(r["decisions"])] for r in d.decisions_by_reason]  # fmt: skip
    exit_rows = [[html.escape(str(r["reason"])), str(r["exits"]), _num(r["proceeds_sol"])]
                 for r in d.exit_reasons]  # fmt: skip
    more_note = (f'<p class="note">{more} more traded token(s) not charted; raise '
                 f"<code>--charts</code> to draw them.</p>" if more > 0 else "")  # fmt: skip
    body = f"""<h1>Run {html.escape(d.run_id)}</h1>
<p class="note">{when(h["first_event_ns"])} to {when(h["last_event_ns"])} UTC (event time);
{state}. Every figure is read from the run's events in the store.</p>
{_summary_cards(d)}
<h2>Equity</h2>{div[0]}
<h2>Trades ({len(d.trades)})</h2>{_trade_table(d)}
<h2>Why each trade happened</h2>{_trade_details(d) or "<p>no trades</p>"}
<h2>Prices with entries and exits ({n_price} token(s))</h2>{"".join(div[1 : 1 + n_price])}
{more_note}
<h2>Exit reasons</h2>{div[1 + n_price]}{_table(["reason", "exits", "proceeds SOL"], exit_rows)}
<h2>Decisions by action and reason</h2>{div[2 + n_price]}
{_table(["action", "reason", "decisions"], decision_rows, left=2)}
<h2>Breaker history ({len(d.breakers)})</h2>{_breaker_table(d) if d.breakers else "<p>none</p>"}
<h2>Parameter changes ({len(d.param_changes)})</h2>
{_param_table(d) if d.param_changes else "<p>none</p>"}
"""
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><link rel='icon' "
            f"href='data:,'><title>Clanka run "
            f"{html.escape(d.run_id)}</title><style>{_STYLE}</style></head><body>{body}"
            f"</body></html>")  # fmt: skip
