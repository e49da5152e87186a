"""Kernel output events that people watching a run should hear about, as log lines.

Live (paper) runs pass every batch's outputs through `log_events`: breaker trips
(WARNING; the emergency stop CRITICAL), breaker resets (INFO), applied controls (INFO),
refused controls (WARNING), and positions opened and closed on the `clanka.trades`
logger. The events themselves are in the store; these lines are their echo for the
operator and the process manager's journal.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

import numpy as np

from engine.events import Breaker, BreakerCause, OutKind, Reason, Refusal
from engine.layout import (
    O_ACTION,
    O_KIND,
    O_MINT,
    O_POS_ID,
    O_QTY,
    O_REASON,
    O_SOL,
    O_TRIGGER,
    O_TS,
    OF_OUT_CONF,
    OF_OUT_STOP,
    OF_PRICE,
)
from engine.params import P

RISK = logging.getLogger("clanka.risk")
CONTROLS = logging.getLogger("clanka.controls")
TRADES = logging.getLogger("clanka.trades")


def _when(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts / 1e9, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _param(index: int) -> str:
    return P(index).name.lower() if 0 <= index < len(P) else f"parameter #{index}"


def log_events(out_i: np.ndarray, out_f: np.ndarray, mint_name: Callable[[int], str]) -> None:
    """Log the watched events among a batch's output rows, in their order."""
    if not len(out_i):
        return
    kinds = out_i[:, O_KIND]
    watched = (kinds >= OutKind.POSITION_OPENED) & (kinds != OutKind.EQUITY_MARKED)
    if not watched.any():  # most batches: the paper path's hot loop pays two vector ops
        return
    for k in np.flatnonzero(watched).tolist():
        r, f = out_i[k], out_f[k]
        kind, when = int(r[O_KIND]), _when(int(r[O_TS]))
        if kind == OutKind.BREAKER_TRIPPED:
            b = Breaker(int(r[O_REASON]))
            if b is Breaker.EMERGENCY_STOP:
                RISK.critical("%s emergency stop: new entries halted (exits go on)", when)
            else:
                RISK.warning("%s breaker %s tripped: %g against a limit of %g", when, b.label,
                             f[OF_PRICE], f[OF_OUT_STOP])  # fmt: skip
        elif kind == OutKind.BREAKER_RESET:
            cause = BreakerCause(int(r[O_ACTION])).name.lower().replace("_", " ")
            RISK.info("%s breaker %s reset (%s)", when, Breaker(int(r[O_REASON])).label, cause)
        elif kind == OutKind.PARAM_CHANGED:
            CONTROLS.info("%s control applied: %s %g -> %g", when, _param(int(r[O_REASON])),
                          f[OF_OUT_CONF], f[OF_PRICE])  # fmt: skip
        elif kind == OutKind.CONDITIONS_CHANGED:
            CONTROLS.info("%s control applied: a new entry set of %d conditions (was %d)", when,
                          int(r[O_QTY]), int(r[O_SOL]))  # fmt: skip
        elif kind == OutKind.CONTROL_REFUSED:
            why = Refusal(int(r[O_ACTION])).label
            what = "the new entry set" if int(r[O_TRIGGER]) == 2 else (
                f"{_param(int(r[O_REASON]))} = {f[OF_PRICE]:g}"
            )  # fmt: skip
            CONTROLS.warning("%s control refused (%s): %s; nothing changed", when, why, what)
        elif kind == OutKind.POSITION_OPENED:
            TRADES.info("%s opened T%d %s: %.6g SOL at %.6g SOL/token", when, int(r[O_POS_ID]),
                        mint_name(int(r[O_MINT])), r[O_SOL] / 1e9, f[OF_PRICE])  # fmt: skip
        elif kind == OutKind.POSITION_CLOSED:
            TRADES.info("%s closed T%d %s (%s): PnL %+.6g SOL", when, int(r[O_POS_ID]),
                        mint_name(int(r[O_MINT])), Reason(int(r[O_REASON])).label,
                        r[O_SOL] / 1e9)  # fmt: skip
