"""The terminal status view of a live run: positions, PnL, recent decisions, feed health.

A rich `Live` display on stderr, redrawn at most four times a second from the run's
counters and kernel state; it reads, never writes, so it cannot change what the run
does. Shown only when stderr is a terminal.
"""

from __future__ import annotations

import time
from typing import IO, Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from engine.layout import G_CASH, MF_LAST_PRICE, MF_SCALE, PI_ACTIVE, PI_COST, PI_MINT, PI_QTY


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
        st = run.kernel.state
        pos = Table(title="open positions", expand=True)
        for c in ("mint", "qty", "cost SOL", "value SOL"):
            pos.add_column(c)
        for s in range(st.pos_i.shape[0]):
            if st.pos_i[s, PI_ACTIVE] != 1:
                continue
            m = int(st.pos_i[s, PI_MINT])
            value = st.pos_i[s, PI_QTY] / st.mint_f[m, MF_SCALE] * st.mint_f[m, MF_LAST_PRICE]
            pos.add_row(run.by_id.get(m, str(m))[:12], str(int(st.pos_i[s, PI_QTY])),
                        f"{st.pos_i[s, PI_COST] / 1e9:.4f}", f"{value:.4f}")  # fmt: skip
        h = feed.health
        lat = sorted(run.stats.latencies_ns[-2000:])
        p50 = f"{lat[len(lat) // 2] / 1e3:.0f} us" if lat else "-"
        p99 = f"{lat[int(len(lat) * 0.99)] / 1e3:.0f} us" if lat else "-"
        info = Table.grid(padding=(0, 2))
        info.add_row("run", run.run_id, "cash SOL", f"{int(st.glob[G_CASH]) / 1e9:.4f}")
        info.add_row("feed", "up" if h.connected else "DOWN", "frames", str(h.frames))
        info.add_row("ticks", str(run.stats.ticks), "quarantined", str(h.problems))
        info.add_row("gaps", str(h.gaps), "reconnects", str(h.reconnects))
        info.add_row("batches", str(run.stats.batches), "receipt->log p50/p99", f"{p50} / {p99}")
        recent = Table(title="recent decisions", expand=True)
        recent.add_column("event")
        for line in run.stats.recent[-5:]:
            recent.add_row(line)
        self.live.update(Group(info, pos, recent))
