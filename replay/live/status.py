"""The terminal status view of a live run: what a trader reads, redrawn as the run goes.

`status_snapshot` reads the run's counters and kernel state into plain values: tokens by
symbol (else their shortened address), UTC times, each recent decision's action, reason
and confidence, open positions with entry price and PnL %, equity, tripped breakers and
the feed's health with its last error. `render_status` lays that out with rich; the
`StatusView` context manager redraws it on stderr at most four times a second. It reads,
never writes, so it cannot change what the run does. Shown only when stderr is a terminal
(or with --status).
"""

from __future__ import annotations

import datetime as dt
import time
from typing import IO, Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from engine.events import Action, Breaker, Reason
from engine.layout import (
    G_BREAKERS,
    G_CASH,
    G_DAY_PNL,
    G_DAY_TRADES,
    MF_LAST_PRICE,
    MF_SCALE,
    PF_ENTRY_PRICE,
    PF_STOP_PRICE,
    PI_ACTIVE,
    PI_COST,
    PI_MINT,
    PI_OPENED_TS,
    PI_POS_ID,
    PI_PROCEEDS,
    PI_QTY,
)

SOL = 1e9


def utc(ts_ns: int) -> str:
    """A nanosecond time as a trader reads it (UTC, to the second)."""
    if ts_ns <= 0:
        return "-"
    return dt.datetime.fromtimestamp(ts_ns / 1e9, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _name(enum: Any, value: int) -> str:
    try:
        return str(enum(value).label)
    except ValueError:
        return f"#{value}"


def status_snapshot(run: Any, feed: Any) -> dict[str, Any]:
    """The values the status view shows, from a `LiveRun` and its feed's health."""
    st = run.kernel.state
    positions = []
    held = 0.0
    for s in range(st.pos_i.shape[0]):
        if st.pos_i[s, PI_ACTIVE] != 1:
            continue
        m = int(st.pos_i[s, PI_MINT])
        value = st.pos_i[s, PI_QTY] / st.mint_f[m, MF_SCALE] * st.mint_f[m, MF_LAST_PRICE]
        cost = st.pos_i[s, PI_COST] / SOL
        back = st.pos_i[s, PI_PROCEEDS] / SOL
        held += value
        positions.append({
            "trade": f"T{int(st.pos_i[s, PI_POS_ID])}", "symbol": run.label(m),
            "opened": utc(int(st.pos_i[s, PI_OPENED_TS])),
            "entry_price": float(st.pos_f[s, PF_ENTRY_PRICE]),
            "last_price": float(st.mint_f[m, MF_LAST_PRICE]),
            "stop_price": float(st.pos_f[s, PF_STOP_PRICE]),
            "cost_sol": cost, "value_sol": float(value),
            "pnl_sol": float(value + back - cost),
            "pnl_pct": (value + back - cost) / cost * 100.0 if cost > 0 else None,
        })  # fmt: skip
    cash = int(st.glob[G_CASH]) / SOL
    bits = int(st.glob[G_BREAKERS])
    tripped = [b.label for b in Breaker if bits & (1 << (b.value - 1))]
    decisions = [
        {"time": utc(ts), "symbol": run.label(m), "action": _name(Action, a),
         "reason": _name(Reason, r), "confidence": c if c == c else None}
        for ts, m, a, r, c in reversed(run.stats.recent)
    ]  # fmt: skip
    lat = sorted(run.stats.latencies_ns.recent)
    h = feed.health
    return {
        "run_id": run.run_id,
        "mode": run.mode,
        "market_time": utc(int(run.last_ts)),
        "cash_sol": cash,
        "equity_sol": cash + held,
        "initial_cash_sol": run.cash0 / SOL,
        "day_pnl_sol": int(st.glob[G_DAY_PNL]) / SOL,
        "day_entries": int(st.glob[G_DAY_TRADES]),
        "breakers": tripped,
        "positions": positions,
        "decisions": decisions,
        "feed": {
            "connected": bool(h.connected),
            "frames": int(h.frames),
            "ticks": run.stats.ticks,
            "quarantined": int(h.problems),
            "gaps": int(h.gaps),
            "reconnects": int(h.reconnects),
            "last_error": str(h.last_error or ""),
        },
        "latency_us": {
            "p50": lat[len(lat) // 2] / 1e3 if lat else None,
            "p99": lat[int(len(lat) * 0.99)] / 1e3 if lat else None,
        },
    }


def _pct(v: float | None) -> str:
    if v is None:
        return "-"
    colour = "green" if v > 0 else "red" if v < 0 else "white"
    return f"[{colour}]{v:+.1f}%[/{colour}]"


def render_status(snap: dict[str, Any]) -> Group:
    """The snapshot as rich tables: the run, open positions, recent decisions."""
    f = snap["feed"]
    eq, start = snap["equity_sol"], snap["initial_cash_sol"]
    info = Table.grid(padding=(0, 2))
    info.add_row("run", f"{snap['run_id']} ({snap['mode']})", "market time (UTC)",
                 snap["market_time"])  # fmt: skip
    info.add_row("equity SOL", f"{eq:.4f} ({_pct((eq / start - 1) * 100 if start else None)})",
                 "cash SOL", f"{snap['cash_sol']:.4f}")  # fmt: skip
    info.add_row("today (UTC day)",
                 f"closed PnL {snap['day_pnl_sol']:+.4f} SOL, {snap['day_entries']} entries",
                 "breakers", "[red]" + ", ".join(snap["breakers"]) + " TRIPPED[/red]"
                 if snap["breakers"] else "all clear")  # fmt: skip
    info.add_row("feed", "[green]up[/green]" if f["connected"] else "[red]DOWN[/red]",
                 "frames / ticks", f"{f['frames']} / {f['ticks']}")  # fmt: skip
    info.add_row("quarantined / gaps", f"{f['quarantined']} / {f['gaps']}",
                 "reconnects", str(f["reconnects"]))  # fmt: skip
    lat = snap["latency_us"]
    info.add_row("receipt->log p50 / p99",
                 "-" if lat["p50"] is None else f"{lat['p50']:.0f} / {lat['p99']:.0f} us",
                 "feed last error", f["last_error"] or "none")  # fmt: skip
    pos = Table(title=f"open positions ({len(snap['positions'])})", expand=True)
    for c in ("trade", "token", "opened (UTC)", "entry price", "last price", "stop",
              "cost SOL", "value SOL", "PnL SOL", "PnL %"):  # fmt: skip
        pos.add_column(c, justify="left" if c in ("trade", "token", "opened (UTC)") else "right")
    for p in snap["positions"]:
        pos.add_row(p["trade"], p["symbol"], p["opened"], f"{p['entry_price']:.6g}",
                    f"{p['last_price']:.6g}", f"{p['stop_price']:.6g}",
                    f"{p['cost_sol']:.4f}", f"{p['value_sol']:.4f}", f"{p['pnl_sol']:+.4f}",
                    _pct(p["pnl_pct"]))  # fmt: skip
    recent = Table(title="last 10 decisions", expand=True)
    for c in ("time (UTC)", "token", "action", "reason", "confidence"):
        recent.add_column(c, justify="right" if c == "confidence" else "left")
    for d in snap["decisions"]:
        conf = "-" if d["confidence"] is None else f"{d['confidence']:.2f}"
        recent.add_row(d["time"], d["symbol"], d["action"], d["reason"], conf)
    return Group(info, pos, recent)


class StatusView:
    """Context manager around a rich Live display; `update` is the per-batch hook."""

    def __init__(self, stream: IO[str]) -> None:
        self.console = Console(file=stream)
        self.live = Live(console=self.console, refresh_per_second=4, transient=False)
        self._last = 0.0

    def __enter__(self) -> StatusView:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.__exit__(None, None, None)

    def update(self, run: Any, feed: Any) -> None:
        """Redraw (at most every 250 ms)."""
        now = time.monotonic()
        if now - self._last < 0.25:
            return
        self._last = now
        self.live.update(render_status(status_snapshot(run, feed)))
