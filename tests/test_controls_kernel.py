"""Parameter and condition-set changes as kernel input: hand-worked cases and properties.

Expected values are worked out here from the rules (the 8% and 5% stops below a known
fill price, which conditions hold on which tick), never read back from the kernel.
"""

from __future__ import annotations

from fractions import Fraction as Fr

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.conditions import ConditionSet
from engine.controls import check_conditions, check_param
from engine.events import OutKind, Refusal
from engine.kernel import Kernel, as_input
from engine.kernel_nb import params_conflict_nb
from engine.layout import G_COND_N, OF_TP1
from engine.params import SPECS, P, make_params
from tests.kernel_helpers import FIXED_SIZE, T0, S, Tape, of_kind, run
from tests.test_kernel_money import LAMPORTS, buy_fill

MS = S // 1000


def _two_entries(change_at: int | None) -> Tape:
    """Mint 0 enters at T0, mint 1 at T0 + 20 s; a stop_loss change in between."""
    tape = Tape().tick(T0, 0.001, mint=0, liq=100.0).tick(T0 + 500 * MS, 0.001, mint=0, liq=100.0)
    if change_at is not None:
        tape.param(change_at, "stop_loss", 0.05)
    return tape.tick(T0 + 20 * S, 0.001, mint=1, liq=100.0).tick(
        T0 + 20 * S + 500 * MS, 0.001, mint=1, liq=100.0
    )


def test_a_stop_loss_change_applies_to_entries_after_it_and_none_before() -> None:
    ev, k = run(_two_entries(T0 + 10 * S), position_sol=1.0)
    fill_price = float(buy_fill(LAMPORTS, Fr(1, 1000), Fr(100))["price"])
    opened = of_kind(ev, OutKind.POSITION_OPENED)
    assert [o.mint for o in opened] == [0, 1]
    # No volatility yet: the stop is exactly the base distance below the fill price.
    assert opened[0].stop == pytest.approx(fill_price * (1 - 0.08), rel=1e-12)
    assert opened[1].stop == pytest.approx(fill_price * (1 - 0.05), rel=1e-12)
    (changed,) = of_kind(ev, OutKind.PARAM_CHANGED)
    assert (changed.ts, changed.reason, changed.price, changed.conf) == (
        T0 + 10 * S, int(P.STOP_LOSS), 0.05, 0.08,
    )  # fmt: skip
    assert k.params[P.STOP_LOSS] == 0.05
    # Everything before the change is byte-identical to a run that never had it.
    plain, _ = run(_two_entries(None), position_sol=1.0)
    before = [e for e in ev if e.ts < T0 + 10 * S]
    assert repr(before) == repr([e for e in plain if e.ts < T0 + 10 * S])  # NaN-safe
    assert len(before) >= 4  # decision, order, fill, opened of mint 0


def test_a_change_at_the_same_instant_as_a_tick_applies_to_that_tick() -> None:
    # Controls are ordered before the tick they share a timestamp with (DESIGN §4b).
    tape = Tape().param(T0, "stop_loss", 0.05).tick(T0, 0.001, liq=100.0)
    tape.tick(T0 + 500 * MS, 0.001, liq=100.0)
    ev, _ = run(tape, position_sol=1.0)
    fill_price = float(buy_fill(LAMPORTS, Fr(1, 1000), Fr(100))["price"])
    (opened,) = of_kind(ev, OutKind.POSITION_OPENED)
    assert opened.stop == pytest.approx(fill_price * 0.95, rel=1e-12)


def test_a_conflicting_change_is_refused_and_changes_nothing() -> None:
    # tp1 = 0.5 would pass its own range but break tp1 < tp2 (0.30): refused, kept.
    tape = Tape().param(T0, "tp1", 0.5).tick(T0 + S, 0.001, liq=100.0)
    ev, k = run(tape, position_sol=1.0)
    (ref,) = of_kind(ev, OutKind.CONTROL_REFUSED)
    assert (ref.action, ref.reason, ref.price, ref.conf) == (
        Refusal.CONFLICT, int(P.TP1), 0.5, 0.15,
    )  # fmt: skip
    assert of_kind(ev, OutKind.PARAM_CHANGED) == []
    assert k.params[P.TP1] == 0.15
    (dec,) = [e for e in of_kind(ev, OutKind.DECIDED) if e.side == 1]
    assert dec.ctx(OF_TP1) == pytest.approx(0.001 * 1.15)  # target 1 still 15 % up


def test_invalid_values_are_refused_before_the_kernel_and_logged_by_it() -> None:
    bad = check_param("stop_loss", 2.0)
    assert bad.refusal is Refusal.INVALID_VALUE and "outside" in bad.detail
    assert check_param("initial_cash_sol", 5.0).refusal is Refusal.FIXED_AT_START
    unknown = check_param("stop_los", 0.1)
    assert unknown.refusal is Refusal.INVALID_VALUE and "did you mean stop_loss" in unknown.detail
    tape = Tape().param(T0, "stop_loss", 2.0).param(T0, "initial_cash_sol", 5.0)
    ev, k = run(tape.tick(T0 + S, 0.001))
    refused = of_kind(ev, OutKind.CONTROL_REFUSED)
    assert [(r.action, r.reason) for r in refused] == [
        (Refusal.INVALID_VALUE, int(P.STOP_LOSS)),
        (Refusal.FIXED_AT_START, int(P.INITIAL_CASH_SOL)),
    ]
    assert k.params[P.STOP_LOSS] == 0.08 and k.params[P.INITIAL_CASH_SOL] == 10.0


def test_a_condition_set_change_switches_the_sniper_at_its_time() -> None:
    # Rule "price > 0.002" holds on no tick; from T0 + 10 s "price > 0.0005" holds on
    # the next tick of a flat mint; "none" then turns the sniper off.
    tape = (
        Tape()
        .tick(T0, 0.001, mint=0)
        .conditions(T0 + 10 * S, "price > 0.0005")
        .tick(T0 + 11 * S, 0.001, mint=1)
        .conditions(T0 + 12 * S, "none")
        .tick(T0 + 13 * S, 0.001, mint=2)
    )
    ev, k = run(tape, rule="price > 0.002", position_sol=1.0)
    buys = [e for e in of_kind(ev, OutKind.DECIDED) if e.side == 1]
    assert [(b.mint, b.ts) for b in buys] == [(1, T0 + 11 * S)]
    changes = of_kind(ev, OutKind.CONDITIONS_CHANGED)
    assert [(c.ts, c.qty, c.sol) for c in changes] == [(T0 + 10 * S, 1, 1), (T0 + 12 * S, 0, 1)]
    assert k.state.glob[G_COND_N] == 0


def test_an_unparsable_condition_set_is_refused_and_the_old_one_stays() -> None:
    checked = check_conditions("ret_5m >= banana")
    assert checked.refusal is Refusal.INVALID_CONDITIONS and "ret_5m >= banana" in checked.detail
    tape = Tape().conditions(T0, "ret_5m >= banana").tick(T0 + S, 0.001)
    ev, _ = run(tape, rule="price > 0.0005", position_sol=1.0)
    (ref,) = of_kind(ev, OutKind.CONTROL_REFUSED)
    assert ref.action == Refusal.INVALID_CONDITIONS
    assert [e.mint for e in of_kind(ev, OutKind.DECIDED) if e.side == 1] == [0]


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_the_kernels_conflict_rule_is_make_params_rule(data: st.DataObject) -> None:
    names = ["tp1", "tp2", "tp3", "tp1_frac", "tp2_frac", "hold_confidence",
             "min_buy_confidence", "mcap_low_sol", "mcap_high_sol"]  # fmt: skip
    values = {}
    for n in names:
        spec = SPECS[P[n.upper()]]
        values[n] = data.draw(st.floats(spec.lo, min(spec.hi, 2e6)), label=n)
    vec = make_params()
    for n, v in values.items():
        vec[P[n.upper()]] = v
    try:
        make_params(values)
        valid = True
    except ValueError:
        valid = False
    assert params_conflict_nb(vec) == (not valid)


@st.composite
def tapes_with_controls(draw: st.DrawFn) -> Tape:
    """Ticks of 4 mints, heartbeats, and valid and invalid controls, in time order."""
    tape = Tape()
    t = T0
    for _ in range(draw(st.integers(5, 60))):
        t += draw(st.integers(0, 40)) * S
        what = draw(st.sampled_from(["tick", "tick", "tick", "param", "cond", "beat"]))
        if what == "tick":
            tape.tick(t, draw(st.sampled_from([0.001, 0.0011, 0.0009, 0.0012])),
                      mint=draw(st.integers(0, 3)), liq=100.0)  # fmt: skip
        elif what == "param":
            name, value = draw(st.sampled_from([
                ("stop_loss", 0.05), ("stop_loss", 0.2), ("tp1", 0.1), ("tp1", 0.5),
                ("max_positions", 1), ("latency_ms", 0), ("scan_interval_s", 5),
                ("initial_cash_sol", 3.0), ("stop_loss", 7.0),
            ]))  # fmt: skip
            tape.param(t, name, value)
        elif what == "cond":
            tape.conditions(t, draw(st.sampled_from(
                ["price > 0.00105", "none", "ret_1m >= 0 AND price > 0", "bogus >= 1"]
            )))  # fmt: skip
        else:
            tape.heartbeat(t)
    return tape


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_split_of_a_stream_with_controls_gives_identical_output(data: st.DataObject) -> None:
    batch = data.draw(tapes_with_controls()).build()
    params = make_params({**FIXED_SIZE, "max_position_sol": 1.0, "max_candidates": 3})
    rule = ConditionSet.parse("price > 0")
    whole = Kernel(params, rule, np.full(4, 1e6))
    wi, wf = whole.run_all(batch)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(batch)), max_size=6)))
    parts = Kernel(params, rule, np.full(4, 1e6), out_capacity=200)
    outs = []
    for lo, hi in zip([0, *cuts], [*cuts, len(batch)], strict=True):
        part = batch.slice(lo, hi)
        outs.append(parts.run_all(as_input(*part)))
    pi = np.concatenate([a for a, _ in outs])
    pf = np.concatenate([b for _, b in outs])
    assert wi.tobytes() == pi.tobytes()
    assert np.array_equal(wf, pf, equal_nan=True)
    assert np.array_equal(whole.params, parts.params)
    assert wf.tobytes() == pf.tobytes()


def test_the_emergency_exit_sells_everything_and_blocks_entries_until_a_reset() -> None:
    from engine.codes import SignalKind
    from engine.events import Breaker, Reason
    from tests.kernel_helpers import T0, S, Tape, of_kind, run

    tape = (
        Tape()
        .tick(T0, 0.001)  # buy mint 0
        .tick(T0 + S, 0.001)  # filled
        .tick(T0 + S, 0.002, mint=1)  # buy mint 1
        .tick(T0 + 2 * S, 0.002, mint=1)  # filled
        .signal(T0 + 3 * S, SignalKind.EMERGENCY_EXIT, 1.0, mint=-1)  # sell both, stop entries
        .tick(T0 + 4 * S, 0.001)  # mint 0's exit fills; no new entry
        .heartbeat(T0 + 5 * S)
        .tick(T0 + 6 * S, 0.002, mint=1)  # mint 1's exit fills
        .tick(T0 + 7 * S, 0.002, mint=2)  # no entry while the stop holds
        .signal(T0 + 8 * S, SignalKind.BREAKER_RESET, 1.0, mint=-1)
        .tick(T0 + 9 * S, 0.002, mint=2)  # entries again
    )
    ev, _ = run(tape, position_sol=1.0)
    exits = [o for o in of_kind(ev, OutKind.ORDER_PLACED) if o.side == -1]
    assert [(o.mint, o.reason, o.ts) for o in exits] == [
        (0, Reason.EMERGENCY_EXIT, T0 + 3 * S), (1, Reason.EMERGENCY_EXIT, T0 + 3 * S)
    ]  # fmt: skip
    opened = of_kind(ev, OutKind.POSITION_OPENED)
    closed = of_kind(ev, OutKind.POSITION_CLOSED)
    assert [c.reason for c in closed] == [Reason.EMERGENCY_EXIT] * 2
    assert exits[0].qty == opened[0].qty and exits[1].qty == opened[1].qty  # all of it
    (trip,) = of_kind(ev, OutKind.BREAKER_TRIPPED)
    assert trip.reason == Breaker.EMERGENCY_STOP
    buys = [o for o in of_kind(ev, OutKind.ORDER_PLACED) if o.side == 1]
    assert [(o.mint, o.ts) for o in buys] == [(0, T0), (1, T0 + S), (2, T0 + 9 * S)]
