"""Closed trades from the kernel's output rows, with what the engine knew at entry.

The learner sees the run as the kernel does: each slice of input rows and the output
rows it produced. `EntryMemory` keeps what the entry's context needs from the inputs
(each mint's first tick, its top3_pct and token_type signals over time); `TradeBook`
follows buy decisions to their positions and exits and hands back each position as a
`Trade` when it closes.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from data.schemas import DECISION_CONTEXT
from engine.codes import SignalKind
from engine.events import Action, InputKind, OutKind, Reason
from engine.layout import (
    O_ACTION,
    O_DEC_ID,
    O_FEE,
    O_KIND,
    O_MINT,
    O_POS_ID,
    O_QTY,
    O_REASON,
    O_SIDE,
    O_SOL,
    O_SOURCES,
    O_TRIGGER,
    O_TS,
    OF_FIRST_CONTEXT,
    OF_PRICE,
)
from engine.params import NS_PER_S
from strategies.learning.review import Trade

_NO_TICK = np.iinfo(np.int64).min
_KEPT_SIGNALS = (int(SignalKind.TOP3_PCT), int(SignalKind.TOKEN_TYPE))


def _reason_label(code: int) -> str:
    try:
        return Reason(code).label
    except ValueError:
        return f"reason_{code}"


@dataclass
class EntryMemory:
    """Per mint: the first tick's time and the history of the signals a bucket needs."""

    first_tick: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    """Each mint id's first tick time (`_NO_TICK` while it has none)."""
    signals: dict[tuple[int, int], tuple[list[int], list[float]]] = field(default_factory=dict)
    """(mint, signal kind) -> the times and values of its kept signals, in time order."""

    def see(self, kind: np.ndarray, ts: np.ndarray, mint: np.ndarray, sig_kind: np.ndarray,
            sig_value: np.ndarray) -> None:  # fmt: skip
        """Remember the first tick of new mints and every kept signal, from one slice.

        The signals are grouped by (mint, kind) with numpy and each group extends its
        lists at once, and first ticks live in an array by mint id: a dict call per row
        and per ticking mint was 13 of 68 s in a profile of a nine-day `clanka validate
        learning` run.
        """
        ticks = np.flatnonzero(kind == InputKind.TICK)
        if len(ticks):
            ms, first = np.unique(mint[ticks], return_index=True)
            if ms[-1] >= len(self.first_tick):
                grown = np.full(max(int(ms[-1]) + 1, 2 * len(self.first_tick)), _NO_TICK)
                grown[: len(self.first_tick)] = self.first_tick
                self.first_tick = grown
            fresh = self.first_tick[ms] == _NO_TICK
            self.first_tick[ms[fresh]] = ts[ticks[first[fresh]]]
        sig = np.flatnonzero((kind == InputKind.SIGNAL) & np.isin(sig_kind, _KEPT_SIGNALS))
        if not len(sig):
            return
        sig = sig[np.lexsort((sig_kind[sig], mint[sig]))]  # stable: time order kept per key
        m, k = mint[sig].astype(np.int64), sig_kind[sig].astype(np.int64)
        starts = np.flatnonzero(np.r_[True, (m[1:] != m[:-1]) | (k[1:] != k[:-1])])
        ends = np.r_[starts[1:], len(sig)].tolist()
        times, values = ts[sig].tolist(), sig_value[sig].astype(np.float64).tolist()
        for lo, hi, mm, kk in zip(starts.tolist(), ends, m[starts].tolist(), k[starts].tolist(),
                                  strict=True):  # fmt: skip
            t, v = self.signals.setdefault((mm, kk), ([], []))
            t.extend(times[lo:hi])
            v.extend(values[lo:hi])

    def signal_at(self, mint: int, kind: SignalKind, ts: int) -> float:
        """The mint's last `kind` signal with time <= ts (NaN if none)."""
        hist = self.signals.get((mint, int(kind)))
        i = bisect_right(hist[0], ts) if hist is not None else 0
        return hist[1][i - 1] if hist is not None and i else float("nan")

    def age_min(self, mint: int, ts: int) -> float:
        """Minutes from the mint's first tick to ts (NaN if never seen)."""
        first = int(self.first_tick[mint]) if 0 <= mint < len(self.first_tick) else _NO_TICK
        return float("nan") if first == _NO_TICK else (ts - first) / (60 * NS_PER_S)


@dataclass
class _Open:
    mint: int
    entry_ts: int
    entry_price: float
    tokens: int
    cost: int
    decision_id: int
    entry: dict[str, float]
    trigger: int
    sources: int
    exits: list[tuple[int, str]] = field(default_factory=list)
    exit_fees: int = 0
    exit_gross: int = 0


@dataclass
class TradeBook:
    """Buy decisions -> positions -> exits -> closed `Trade`s."""

    scale: Callable[[int], float]
    memory: EntryMemory = field(default_factory=EntryMemory)
    buys: dict[int, tuple[dict[str, float], int, int]] = field(default_factory=dict)
    """decision_id -> (context, trigger, sources) of buy decisions not filled yet."""
    open: dict[int, _Open] = field(default_factory=dict)

    def see(
        self, out_i: np.ndarray, out_f: np.ndarray
    ) -> tuple[list[tuple[int, int]], list[Trade]]:
        """Follow one slice's output rows; the positions opened (mint, ts) and closed."""
        opened: list[tuple[int, int]] = []
        closed: list[Trade] = []
        kinds = out_i[:, O_KIND]
        rows = np.flatnonzero(np.isin(kinds, (OutKind.DECIDED, OutKind.ORDER_FILLED,
                                              OutKind.ORDER_REJECTED, OutKind.POSITION_OPENED,
                                              OutKind.POSITION_CLOSED)))  # fmt: skip
        for r in rows.tolist():
            row = out_i[r]
            k = int(row[O_KIND])
            if k == OutKind.DECIDED:
                if row[O_ACTION] == Action.BUY:
                    ctx = {name: float(out_f[r, OF_FIRST_CONTEXT + c])
                           for c, name in enumerate(DECISION_CONTEXT)}  # fmt: skip
                    self.buys[int(row[O_DEC_ID])] = (ctx, int(row[O_TRIGGER]), int(row[O_SOURCES]))
            elif k == OutKind.ORDER_REJECTED:
                if row[O_SIDE] == 1:
                    self.buys.pop(int(row[O_DEC_ID]), None)
            elif k == OutKind.POSITION_OPENED:
                did = int(row[O_DEC_ID])
                nan_ctx = dict.fromkeys(DECISION_CONTEXT, float("nan"))
                ctx, trig, src = self.buys.pop(did, (nan_ctx, -1, 0))
                m, ts = int(row[O_MINT]), int(row[O_TS])
                self.open[int(row[O_POS_ID])] = _Open(m, ts, float(out_f[r, OF_PRICE]),
                                                      int(row[O_QTY]), int(row[O_SOL]), did, ctx,
                                                      trig, src)  # fmt: skip
                opened.append((m, ts))
            elif k == OutKind.ORDER_FILLED:
                pos = self.open.get(int(row[O_POS_ID]))
                if pos is not None and row[O_SIDE] == -1:
                    pos.exits.append((int(row[O_TS]), _reason_label(int(row[O_REASON]))))
                    pos.exit_fees += int(row[O_FEE])
                    pos.exit_gross += int(row[O_SOL]) + int(row[O_FEE])
            else:  # POSITION_CLOSED
                pos = self.open.pop(int(row[O_POS_ID]), None)
                if pos is not None:
                    closed.append(self._trade(int(row[O_POS_ID]), pos, row, out_f[r]))
        return opened, closed

    def _trade(self, pos_id: int, pos: _Open, row: np.ndarray, f: np.ndarray) -> Trade:
        mem = self.memory
        return Trade(
            pos_id=pos_id, mint_id=pos.mint, entry_ts=pos.entry_ts, exit_ts=int(row[O_TS]),
            entry_price=pos.entry_price, exit_price=float(f[OF_PRICE]), tokens=pos.tokens,
            scale=self.scale(pos.mint), cost=pos.cost, pnl=int(row[O_SOL]),
            exit_reason=_reason_label(int(row[O_REASON])), exits=tuple(pos.exits),
            exit_fee_rate=pos.exit_fees / pos.exit_gross if pos.exit_gross > 0 else 0.0,
            decision_id=pos.decision_id, trigger=pos.trigger, sources=pos.sources,
            context=pos.entry, age_min=mem.age_min(pos.mint, pos.entry_ts),
            top3_pct=mem.signal_at(pos.mint, SignalKind.TOP3_PCT, pos.entry_ts),
            token_type=mem.signal_at(pos.mint, SignalKind.TOKEN_TYPE, pos.entry_ts),
        )  # fmt: skip
