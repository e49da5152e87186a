"""The quiet band: where a tick leaves a held position untouched, so a sweep skips it.

`engine.kernel_nb.quiet_band_nb` turns a held position's exit rules into one price band,
an end time and a volume floor; a sweep's set whose tick falls inside skips
`tick_after_nb` (replay.sweep.sweep_nb). These tests hold the band to the exit rules it
stands for: hand-worked bounds for one position, each bound's edge raising its exit, and
a property that no tick inside a band, after any path of ticks, makes an event or
changes the position.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from engine.events import OutKind, Reason
from engine.kernel import Kernel
from engine.kernel_nb import (
    N_QB,
    QB_HI,
    QB_LO,
    QB_UNTIL,
    QB_VOL_FLOOR,
    derived_ints_nb,
    in_quiet_band_nb,
    quiet_band_nb,
)
from engine.layout import G_CASH, G_RESERVED, MF_VOL60, MI_PENDING_ORDER, MI_POS_SLOT
from tests.kernel_helpers import T0, Out, S, Tape, decode, of_kind, run

PURE = {"fixed_slippage_bps": 0, "dex_fee_bps": 0, "vol_scale": 0.0, "reentry_cooldown_s": 3600}
"""No fee, no impact, no volatility in the stop: the entry fills at the tick's price."""


def _band(k: Kernel, mint: int = 0) -> tuple[bool, np.ndarray, np.ndarray]:
    row = np.zeros(N_QB, np.int64)
    st_ = k.state
    score_exits = bool(derived_ints_nb(k.params)[8])
    ok = quiet_band_nb(mint, k.params, st_.mint_i, st_.pos_i, st_.pos_f, st_.glob, st_.sig,
                       score_exits, row, row.view(np.float64))  # fmt: skip
    return bool(ok), row, row.view(np.float64)


def _probe(k: Kernel, t: int, price: float, mint: int = 0) -> list[Out]:
    """One more tick through the same kernel: its events, equity marks aside."""
    batch = Tape().tick(t, price, mint=mint).build()
    parts = list(k.run(batch))
    return [e for oi, of in parts for e in decode(oi, of)]


def _opened(**params: Any) -> Kernel:
    """A position bought at 1.0 at T0 and filled at T0 + 1 s, at exactly 1.0."""
    _, k = run(Tape().tick(T0, 1.0).tick(T0 + S, 1.0), **{**PURE, **params})
    assert int(k.state.mint_i[0, MI_POS_SLOT]) >= 0
    return k


def test_hand_worked_band_of_one_position() -> None:
    k = _opened(stop_loss=0.05, tp1=0.1, time_stop_s=3600, time_stop_other_s=3600,
                trailing_min_confidence=1.0, volume_death_ratio=0.0)  # fmt: skip
    ok, bi, bf = _band(k)
    assert ok
    # Entry 1.0 exactly (no fee, no impact): the stop at 1.0 x (1 - 0.05), target 1 at
    # 1.0 x (1 + 0.1), the time stop 3600 s after the fill at T0 + 1 s.
    assert bf[QB_LO] == 1.0 * (1.0 - 0.05)
    assert bf[QB_HI] == 1.0 * (1.0 + 0.1)
    assert bi[QB_UNTIL] == T0 + S + 3600 * S
    assert bf[QB_VOL_FLOOR] == 0.0  # a ratio of 0 times the entry's hourly volume
    t = T0 + 2 * S
    assert in_quiet_band_nb(t, 0.9500001, 1.0, bi, bf)
    assert in_quiet_band_nb(t, 1.0999999, 1.0, bi, bf)
    assert not in_quiet_band_nb(t, 0.95, 1.0, bi, bf)  # the stop: p <= stop
    assert not in_quiet_band_nb(t, 1.1, 1.0, bi, bf)  # target 1: p >= target
    assert not in_quiet_band_nb(T0 + S + 3600 * S, 1.0, 1.0, bi, bf)  # the time stop
    assert not in_quiet_band_nb(t, float("nan"), 1.0, bi, bf)
    assert in_quiet_band_nb(T0 + S + 3600 * S - 1, 1.0, 1.0, bi, bf)


def _sells(events: list[Out]) -> list[Reason]:
    return [e.reason for e in of_kind(events, OutKind.DECIDED) if e.side == -1]


def test_each_edge_of_the_band_raises_its_exit() -> None:
    params = {"stop_loss": 0.05, "tp1": 0.1, "time_stop_s": 3600, "time_stop_other_s": 3600,
              "trailing_min_confidence": 1.0}  # fmt: skip
    k = _opened(**params)
    assert _sells(_probe(k, T0 + 2 * S, 0.95)) == [Reason.STOP_LOSS]
    k = _opened(**params)
    assert _sells(_probe(k, T0 + 2 * S, 1.1)) == [Reason.TARGET_1]
    k = _opened(**params)
    assert _sells(_probe(k, T0 + S + 3600 * S, 1.0)) == [Reason.TIME_STOP]
    k = _opened(**params)
    assert _sells(_probe(k, T0 + 2 * S, 0.9500001)) == []
    # With a trailing stop the band ends at the trailing high (1.0, the entry), where
    # the high would move, and starts at the high less the trailing distance.
    k = _opened(**{**params, "trailing_min_confidence": 0.0, "trailing_pct": 0.03})
    ok, _, bf = _band(k)
    assert ok and bf[QB_HI] == 1.0 and bf[QB_LO] == 1.0 * (1.0 - 0.03)
    # Score exits read scores every tick: no band.
    k = _opened(**{**params, "strong_sell_technical": 0.5})
    assert not _band(k)[0]


def _position_state(k: Kernel, mint: int) -> tuple[Any, ...]:
    s = k.state
    return (s.pos_i.copy(), s.pos_f.copy(), s.ord_i.copy(), s.ord_f.copy(),
            int(s.mint_i[mint, MI_POS_SLOT]), int(s.mint_i[mint, MI_PENDING_ORDER]),
            int(s.glob[G_CASH]), int(s.glob[G_RESERVED]))  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    stop=st.floats(0.02, 0.3),
    tp1=st.floats(0.03, 0.4),
    tp_steps=st.tuples(st.floats(0.01, 0.3), st.floats(0.01, 0.3)),
    fracs=st.tuples(st.sampled_from([0.0, 0.3, 0.5]), st.sampled_from([0.0, 0.3, 0.5])),
    trail=st.sampled_from([0.0, 1.0]),
    trail_pct=st.floats(0.02, 0.3),
    hold_s=st.integers(60, 4 * 3600),
    voldeath=st.sampled_from([0.0, 0.2, 0.9]),
    path=st.lists(
        st.tuples(st.floats(0.9, 1.2), st.integers(1, 900), st.integers(1, 10**7)), max_size=6
    ),
    data=st.data(),
)
def test_no_tick_inside_a_band_makes_an_event_or_moves_the_position(
    stop: float, tp1: float, tp_steps: tuple[float, float], fracs: tuple[float, float],
    trail: float, trail_pct: float, hold_s: int, voldeath: float,
    path: list[tuple[float, int, int]], data: st.DataObject,
) -> None:  # fmt: skip
    tape = Tape().tick(T0, 1.0, size=10**6).tick(T0 + S, 1.0, size=10**6)
    t = T0 + S
    for mult, dt, size in path:
        t += dt * S
        tape.tick(t, mult, size=size)
    params = {**PURE, "stop_loss": stop, "tp1": tp1, "tp2": tp1 + tp_steps[0],
              "tp3": tp1 + tp_steps[0] + tp_steps[1], "tp1_frac": fracs[0],
              "tp2_frac": fracs[1], "trailing_min_confidence": trail,
              "trailing_pct": trail_pct, "time_stop_s": hold_s, "time_stop_other_s": hold_s,
              "volume_death_ratio": voldeath, "reentry_cooldown_s": 0}  # fmt: skip
    _, k = run(tape, **params)
    ok, bi, bf = _band(k)
    if not ok:
        event("no band (flat, or an order pending)")
        return
    lo, hi = float(bf[QB_LO]), float(bf[QB_HI])
    top = hi if hi < np.inf else lo * 3.0
    # Mostly inside the band (the claim under test), sometimes anywhere.
    inside = data.draw(st.integers(0, 3)) > 0
    u = data.draw(st.floats(0.0, 1.0))
    price = lo + u * (top - lo) if inside else data.draw(st.floats(0.5, 2.0))
    t_probe = t + data.draw(st.one_of(st.integers(1, 300), st.integers(1, 6 * 3600))) * S
    size = data.draw(st.one_of(st.just(10**6), st.integers(1, 10**7)))
    before = _position_state(k, 0)
    batch = Tape().tick(t_probe, price, size=size).build()
    events = [e for oi, of in k.run(batch) for e in decode(oi, of)]
    vol60 = float(k.state.mint_f[0, MF_VOL60])  # as the tick's own features left it
    if not in_quiet_band_nb(t_probe, price, vol60, bi, bf):
        event("outside the band")
        return
    event("inside the band")
    assert events == []
    after = _position_state(k, 0)
    for a, b in zip(before, after, strict=True):
        assert np.array_equal(a, b)
