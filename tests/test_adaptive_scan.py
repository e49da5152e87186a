"""Adaptive scan timing and USD thresholds: hand-worked kernel cases.

The scanner runs on the state as it stood before the event that triggers it; each case
below says what it sees and which interval the seed's rule then gives (base 60 s; 30 s
above a 50 % hourly change; 120 s below a 10 % daily change; at most 45 s with more
than 5 open positions). The next scan is due at the next multiple of that interval.
"""

from __future__ import annotations

import numpy as np

from engine.codes import SignalKind
from engine.conditions import ConditionSet
from engine.events import Action, OutKind, Reason
from engine.kernel import Kernel
from engine.layout import G_NEXT_SCAN_TS
from engine.params import make_params
from tests.kernel_helpers import FIXED_SIZE, MIN, T0, S, Tape, decode, of_kind

SCAN = {**FIXED_SIZE, "max_candidates": 5, "adaptive_scan": 1, "max_position_sol": 1.0}


def _next_scans(tape: Tape, rule: str | None = None, **params: float) -> list[int]:
    """G_NEXT_SCAN_TS after each input event, relative to T0, in seconds."""
    k = Kernel(make_params({**SCAN, **params}), ConditionSet.parse(rule) if rule else None,
               np.full(8, 1e6))  # fmt: skip
    batch = tape.build()
    out = []
    for i in range(len(batch)):
        k.run_all(batch.slice(i, i + 1))
        out.append((int(k.state.glob[G_NEXT_SCAN_TS]) - T0) // S)
    return out


def test_hot_quiet_and_normal_markets_set_the_interval() -> None:
    tape = (
        Tape()
        .tick(T0, 1.0, mint=0)  # scan sees no mint yet: base 60 s -> T0 + 60 s
        .tick(T0 + 10 * MIN, 1.2, mint=0)  # sees 1.0 flat today: quiet, 120 s -> 12 min
        .tick(T0 + 12 * MIN, 1.0, mint=1)  # sees +20 % (hour and day): normal -> 13 min
        .tick(T0 + 13 * MIN, 1.6, mint=0)  # sees mint 0 +20 %, mint 1 0 %: mean 10 % -> 14
        .tick(T0 + 14 * MIN, 1.0, mint=1)  # sees +60 % and 0 %: mean 30 % -> normal, 15
        .tick(T0 + 15 * MIN, 2.4, mint=1)  # still 30 % -> 16 min
        .tick(T0 + 16 * MIN, 1.6, mint=0)  # sees +60 % and +140 %: mean 100 % hot -> 16.5
    )
    assert _next_scans(tape) == [60, 720, 780, 840, 900, 960, 990]
    # Off: always the base 60 s grid.
    assert _next_scans(tape, adaptive_scan=0) == [60, 660, 780, 840, 900, 960, 1020]


def test_more_than_five_open_positions_caps_the_interval_at_45_s() -> None:
    tape = Tape()
    for m in range(6):  # each entry order placed on its mint's first tick ...
        tape.tick(T0 + m * S, 1.0, mint=m)
    for m in range(6):  # ... fills on its second (latency 0)
        tape.tick(T0 + (10 + m) * S, 1.0, mint=m)
    tape.tick(T0 + 10 * MIN, 1.0, mint=7)  # flat: quiet (120 s), but 6 open: 45 s
    k = Kernel(make_params({**SCAN, "latency_ms": 0, "max_positions": 16}),
               ConditionSet.parse("price > 0"), np.full(8, 1e6))  # fmt: skip
    oi, of = k.run_all(tape.build())
    assert len(of_kind(decode(oi, of), OutKind.POSITION_OPENED)) == 6
    # T0 is a multiple of 45 s (1,749,168,000 = 45 x 38,870,400): next is T0 + 630 s.
    assert (int(k.state.glob[G_NEXT_SCAN_TS]) - T0) // S == 630
    fewer = Kernel(make_params({**SCAN, "latency_ms": 0, "max_positions": 5}),
                   ConditionSet.parse("price > 0"), np.full(8, 1e6))  # fmt: skip
    fewer.run_all(tape.build())
    assert (int(fewer.state.glob[G_NEXT_SCAN_TS]) - T0) // S == 720  # 5 open: quiet 120 s


def test_liquidity_in_usd_applies_once_sol_usd_is_known() -> None:
    # min_liquidity 30 SOL; min_liquidity_usd 10,000 = 50 SOL at $200.
    tape = (
        Tape()
        .tick(T0, 0.001, mint=0, liq=40.0)  # 40 > 30 SOL: buy
        .signal(T0 + S, SignalKind.SOL_USD, 200.0, mint=-1)
        .tick(T0 + 2 * S, 0.001, mint=1, liq=40.0)  # 40 < 50: not a buy (low liquidity)
        .tick(T0 + 3 * S, 0.001, mint=2, liq=60.0)  # 60 > 50: buy
        .signal(T0 + 4 * S, SignalKind.SOL_USD, float("nan"), mint=-1)  # unknown again
        .tick(T0 + 5 * S, 0.001, mint=3, liq=40.0)  # back to 30 SOL: buy
    )
    k = Kernel(make_params({**FIXED_SIZE, "min_liquidity": 30, "min_liquidity_usd": 10_000,
                            "max_position_sol": 0.1, "max_positions": 4}),
               ConditionSet.parse("price > 0"), np.full(4, 1e6))  # fmt: skip
    ev = decode(*k.run_all(tape.build()))
    dec = {e.mint: (e.action, e.reason) for e in of_kind(ev, OutKind.DECIDED)}
    assert dec == {
        0: (Action.BUY, Reason.ENTRY_CONDITIONS),
        1: (Action.HOLD, Reason.LOW_LIQUIDITY),
        2: (Action.BUY, Reason.ENTRY_CONDITIONS),
        3: (Action.BUY, Reason.ENTRY_CONDITIONS),
    }
