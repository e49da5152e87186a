"""Hand-worked kernel cases: fills, fees, impact, rounding, latency, every exit, sizing.

Expected numbers are computed here from the rules in exact arithmetic (Fraction), then
floored the way the venue floors; they are never read back from the kernel. Where a
floor is involved, the exact value is first checked to sit well away from an integer,
so float rounding cannot make a case pass or fail by accident.
"""

from __future__ import annotations

import math
from fractions import Fraction as Fr

import pytest

from engine.events import Action, OutKind, Reason
from engine.layout import PI_ACTIVE
from tests.kernel_helpers import MIN, T0, S, Tape, cash, of_kind, reserved, run

MS = S // 1000
LAMPORTS = 10**9
NETFEE = 5000 + 10_000  # network + priority fee per transaction (defaults)
SCALE = 10**6  # 6-decimal token


def floor_safe(x: Fr) -> int:
    """Floor an exact value, insisting it is not within 1e-6 of an integer."""
    frac = x - math.floor(x)
    assert Fr(1, 10**6) < frac < 1 - Fr(1, 10**6), f"test input lands too near an integer: {x}"
    return math.floor(x)


def buy_fill(pay: int, price: Fr, liq: Fr | None, fee_bps: int = 100, fixed_bps: int = 50) -> dict:
    """The venue's buy rules, in exact arithmetic."""
    fee = pay * fee_bps // 10_000
    net = pay - fee
    net_sol = Fr(net, LAMPORTS)
    impact = net_sol / (liq + net_sol) if liq is not None else Fr(fixed_bps, 10_000)
    tokens = floor_safe(net_sol / price * (1 - impact) * SCALE)
    return {
        "fee": fee,
        "net": net,
        "impact": impact,
        "tokens": tokens,
        "price": net_sol / Fr(tokens, SCALE),
        "slip": math.floor(net * impact),
    }


def sell_fill(qty: int, price: Fr, liq: Fr | None, fee_bps: int = 100, fixed_bps: int = 50) -> dict:
    """The venue's sell rules, in exact arithmetic."""
    value = Fr(qty, SCALE) * price
    impact = value / (liq + value) if liq is not None else Fr(fixed_bps, 10_000)
    gross = floor_safe(value * (1 - impact) * LAMPORTS)
    fee = gross * fee_bps // 10_000
    return {"gross": gross, "fee": fee, "recv": gross - fee, "impact": impact}


def test_entry_fill_impact_fee_rounding_and_latency() -> None:
    tape = (
        Tape()
        .tick(T0, 0.001, liq=100.0)  # triggers: order placed at T0, due T0 + 400 ms
        .tick(T0 + 100 * MS, 0.002, liq=100.0)  # too early: no fill
        .tick(T0 + 500 * MS, 0.001, liq=100.0)  # first tick at or after the due time
    )
    ev, k = run(tape, position_sol=1.0)
    want = buy_fill(LAMPORTS, Fr(1, 1000), Fr(100))
    assert want["tokens"] == 980_295_078  # 990 tokens x 100/100.99 impact, in 6-dp units
    (order,) = of_kind(ev, OutKind.ORDER_PLACED)
    (fill,) = of_kind(ev, OutKind.ORDER_FILLED)
    assert (order.ts, order.in_seq, order.sol) == (T0, 0, LAMPORTS)
    assert (fill.ts, fill.in_seq, fill.order_id) == (T0 + 500 * MS, 2, order.order_id)
    assert (fill.qty, fill.sol, fill.fee, fill.netfee) == (want["tokens"], LAMPORTS, 10**7, NETFEE)
    assert fill.slip == want["slip"] == 9_704_921
    assert fill.price == pytest.approx(float(want["price"]), rel=1e-12)
    # Cash pays spend + network fees; three exit fees stay reserved for the position.
    assert cash(k) == 10 * LAMPORTS - LAMPORTS - NETFEE == 8_999_985_000
    assert reserved(k) == 3 * NETFEE
    (opened,) = of_kind(ev, OutKind.POSITION_OPENED)
    # No volatility yet, so the stop is the base 8% below the fill price.
    assert opened.stop == pytest.approx(float(want["price"]) * 0.92, rel=1e-12)


def test_order_never_fills_on_its_own_trigger_tick() -> None:
    # Zero latency: the order placed on tick 0 may fill on tick 1 (same ts, later
    # event), never on tick 0 itself. Liquidity unknown: fixed 50 bps impact.
    tape = Tape().tick(T0, 0.0013).tick(T0, 0.0013)
    ev, _ = run(tape, latency_ms=0, position_sol=1.0)
    (fill,) = of_kind(ev, OutKind.ORDER_FILLED)
    assert fill.in_seq == 1
    want = buy_fill(LAMPORTS, Fr(13, 10_000), None)
    assert fill.qty == want["tokens"] == 757_730_769  # 761.538... tokens x 0.995
    only_trigger, _ = run(Tape().tick(T0, 0.0013), latency_ms=0)
    assert of_kind(only_trigger, OutKind.ORDER_FILLED) == []


def test_a_scanner_order_with_zero_latency_fills_at_the_next_event_not_its_trigger() -> None:
    """Issue 11, item 17: the scanner decides at the start of an event, on the state
    before it; with zero latency its order used to fill on that very event's tick."""
    tape = (
        Tape()
        .tick(T0, 0.001, size=2_000 * SCALE, liq=100.0)  # lists: 2 SOL traded
        # The scan due at T0 + 1 min runs before this tick: mint 0 is fresh (1 min old,
        # 2 > 1 SOL in the hour), the engine (guards open) buys for 1 SOL, latency 0.
        .tick(T0 + MIN, 0.0012, liq=100.0)
        .tick(T0 + MIN + S, 0.0011, liq=100.0)  # the first later event: the fill
    )
    ev, _ = run(tape, rule=None, position_sol=1.0, latency_ms=0, max_candidates=5)
    (order,) = of_kind(ev, OutKind.ORDER_PLACED)
    (fill,) = of_kind(ev, OutKind.ORDER_FILLED)
    assert (order.ts, order.in_seq) == (T0 + MIN, 1)
    assert (fill.ts, fill.in_seq) == (T0 + MIN + S, 2)
    want = buy_fill(LAMPORTS, Fr(11, 10_000), Fr(100))
    assert fill.qty == want["tokens"]  # at the fill tick's price, not the trigger's
    assert fill.price == pytest.approx(float(want["price"]), rel=1e-12)


def test_entry_rejected_when_impact_exceeds_max_slippage() -> None:
    # Spending 0.99 SOL net into a 10 SOL pool moves the price 0.99/10.99 = 9.0% > 3%.
    tape = Tape().tick(T0, 0.001, liq=10.0).tick(T0 + S, 0.001, liq=10.0)
    ev, k = run(tape, position_sol=1.0)
    (rej,) = of_kind(ev, OutKind.ORDER_REJECTED)
    assert rej.reason == Reason.REJECT_SLIPPAGE
    assert rej.conf == pytest.approx(0.99 / 10.99, rel=1e-12)  # impact is recorded
    assert of_kind(ev, OutKind.ORDER_FILLED) == []
    assert cash(k) == 10 * LAMPORTS
    # The slot is free again: the rejecting tick itself places a new entry order, whose
    # reservation (spend + entry fee + three exit fees) is all that is reserved now.
    assert len(of_kind(ev, OutKind.ORDER_PLACED)) == 2
    assert reserved(k) == LAMPORTS + 4 * NETFEE


def test_stop_loss_exit_sell_math_and_pnl() -> None:
    tape = (
        Tape()
        .tick(T0, 0.001, liq=100.0)
        .tick(T0 + 500 * MS, 0.001, liq=100.0)  # entry fills
        .tick(T0 + 1 * S, 0.0009, liq=100.0)  # below the 8% stop: stop_loss placed
        .tick(T0 + 2 * S, 0.0009, liq=100.0)  # stop order fills
    )
    ev, k = run(tape, position_sol=1.0)
    buy = buy_fill(LAMPORTS, Fr(1, 1000), Fr(100))
    sell = sell_fill(buy["tokens"], Fr(9, 10_000), Fr(100))
    dec = [e for e in of_kind(ev, OutKind.DECIDED) if e.side == -1]
    assert [d.reason for d in dec] == [Reason.STOP_LOSS]
    fills = of_kind(ev, OutKind.ORDER_FILLED)
    assert (fills[1].qty, fills[1].sol, fills[1].fee) == (buy["tokens"], sell["recv"], sell["fee"])
    pnl = (sell["recv"] - NETFEE) - (LAMPORTS + NETFEE)
    (closed,) = of_kind(ev, OutKind.POSITION_CLOSED)
    assert (closed.reason, closed.sol) == (Reason.STOP_LOSS, pnl)
    assert cash(k) == 10 * LAMPORTS + pnl  # every lamport accounted for
    assert reserved(k) == 0
    assert k.state.pos_i[:, PI_ACTIVE].sum() == 0


def test_stop_widens_with_volatility_and_is_capped() -> None:
    # Minute closes 1.0 (minute 0), 1.1 (minute 1): entering minute 2 folds the
    # 1-minute log return ln(1.1) into the EWMA variance with alpha = 1 - 0.5**(1/30).
    tape = Tape().tick(T0, 1.0).tick(T0 + MIN, 1.1).tick(T0 + 2 * MIN, 1.2)
    alpha = 1 - 0.5 ** (1 / 30)
    vol = math.sqrt(alpha * math.log(1.1) ** 2)
    ev, _ = run(tape, rule="age_min >= 2", vol_scale=3.0)
    (dec,) = of_kind(ev, OutKind.DECIDED)
    want_frac = min(0.08 * (1 + 3.0 * vol), 0.15)
    # By hand: alpha = 0.0228403, ln(1.1)^2 = 0.0090840, sigma = 0.0144042, not capped.
    assert want_frac == pytest.approx(0.0834570, rel=1e-5)
    assert dec.stop == pytest.approx(1.2 * (1 - want_frac), rel=1e-12)
    capped, _ = run(tape, rule="age_min >= 2", vol_scale=100.0)  # 0.08 x 2.44 > 0.15
    assert of_kind(capped, OutKind.DECIDED)[0].stop == pytest.approx(1.2 * 0.85, rel=1e-12)


def _targets_tape(after: list[tuple[float, float]]) -> Tape:
    """Entry at 0.0017 (fills at t=1s), then (price multiple, seconds) ticks."""
    tape = Tape().tick(T0, 0.0017).tick(T0 + S, 0.0017)
    for mult, sec in after:
        tape.tick(T0 + int(sec * S), 0.0017 * mult)
    return tape


def test_three_targets_sell_partials_summing_to_the_position() -> None:
    tape = _targets_tape([(1.2, 2), (1.2, 3), (1.35, 4), (1.35, 5), (1.7, 6), (1.7, 7)])
    ev, k = run(tape, fixed_slippage_bps=0, position_sol=1.0)
    buy = buy_fill(LAMPORTS, Fr(17, 10_000), None, fixed_bps=0)
    n = buy["tokens"]
    assert n == 582_352_941
    sells = [f for f in of_kind(ev, OutKind.ORDER_FILLED) if f.side == -1]
    assert [s.reason for s in sells] == [Reason.TARGET_1, Reason.TARGET_2, Reason.TARGET_3]
    q1 = q2 = math.floor(n * Fr(33, 100))
    assert (
        [s.qty for s in sells] == [q1, q2, n - q1 - q2] == [192_176_470, 192_176_470, 198_000_001]
    )
    assert sum(s.qty for s in sells) == n
    prices = [Fr(17, 10_000) * Fr(m) for m in ("1.2", "1.35", "1.7")]
    recv = [
        sell_fill(q, px, None, fixed_bps=0)["recv"]
        for q, px in zip([q1, q2, n - q1 - q2], prices, strict=True)
    ]
    assert [s.sol for s in sells] == recv
    (closed,) = of_kind(ev, OutKind.POSITION_CLOSED)
    assert closed.sol == sum(recv) - 3 * NETFEE - (LAMPORTS + NETFEE)
    assert cash(k) == 10 * LAMPORTS + closed.sol


def test_stop_moves_to_entry_after_target_1() -> None:
    # After target 1 fills, a dip just under the entry price is a stop-loss exit.
    tape = _targets_tape([(1.2, 2), (1.2, 3), (0.999, 4), (0.999, 5)])
    ev, _ = run(tape, fixed_slippage_bps=0)
    sells = [f for f in of_kind(ev, OutKind.ORDER_FILLED) if f.side == -1]
    assert [s.reason for s in sells] == [Reason.TARGET_1, Reason.STOP_LOSS]
    entry = of_kind(ev, OutKind.ORDER_FILLED)[0].price
    assert sells[0].stop == pytest.approx(entry, rel=1e-12)
    # Without target 1 first, the same dip is far above the 8% stop: no exit.
    quiet, _ = run(_targets_tape([(0.999, 2), (0.999, 3)]), fixed_slippage_bps=0)
    assert [f for f in of_kind(quiet, OutKind.ORDER_FILLED) if f.side == -1] == []


def test_stop_moves_to_target_1_price_after_target_2() -> None:
    tape = _targets_tape([(1.2, 2), (1.2, 3), (1.35, 4), (1.35, 5), (1.14, 6), (1.14, 7)])
    ev, _ = run(tape, fixed_slippage_bps=0)
    sells = [f for f in of_kind(ev, OutKind.ORDER_FILLED) if f.side == -1]
    assert [s.reason for s in sells] == [Reason.TARGET_1, Reason.TARGET_2, Reason.STOP_LOSS]
    entry = of_kind(ev, OutKind.ORDER_FILLED)[0].price
    assert sells[1].stop == pytest.approx(entry * 1.15, rel=1e-12)


def test_time_stop_on_a_tick_and_on_a_heartbeat() -> None:
    opened = T0 + S
    four_h = 4 * 3600 * S
    tape = Tape().tick(T0, 0.001).tick(opened, 0.001)
    tape.tick(opened + four_h - 1, 0.001).tick(opened + four_h, 0.001)
    ev, _ = run(tape, volume_death_ratio=0.0)
    dec = [e for e in of_kind(ev, OutKind.DECIDED) if e.side == -1]
    assert [(d.reason, d.ts) for d in dec] == [(Reason.TIME_STOP, opened + four_h)]
    # With heartbeats, the time stop fires without a tick; the fill waits for one.
    hb = Tape().tick(T0, 0.001).tick(opened, 0.001).heartbeat(opened + four_h)
    hb.tick(opened + four_h + 10 * S, 0.001)
    ev2, _ = run(hb, volume_death_ratio=0.0)
    dec2 = [e for e in of_kind(ev2, OutKind.DECIDED) if e.side == -1]
    assert [(d.reason, d.ts, d.in_seq) for d in dec2] == [(Reason.TIME_STOP, opened + four_h, 2)]
    fill = [f for f in of_kind(ev2, OutKind.ORDER_FILLED) if f.side == -1]
    assert [(f.ts, f.in_seq) for f in fill] == [(opened + four_h + 10 * S, 3)]


@pytest.mark.parametrize(("threshold", "trails"), [(0.0, True), (1.0, False)])
def test_trailing_stop_only_above_the_confidence_threshold(threshold: float, trails: bool) -> None:
    # Targets far away; price runs to 1.3x then slips 10.8% from that high.
    tape = Tape().tick(T0, 0.001).tick(T0 + S, 0.001)
    tape.tick(T0 + 2 * S, 0.0013).tick(T0 + 3 * S, 0.00118).tick(T0 + 4 * S, 0.00116)
    tape.tick(T0 + 5 * S, 0.00116)
    ev, _ = run(tape, fixed_slippage_bps=0, tp1=5, tp2=6, tp3=7, trailing_min_confidence=threshold)
    sells = [f for f in of_kind(ev, OutKind.ORDER_FILLED) if f.side == -1]
    if trails:
        # 0.00118 is above 0.0013 x 0.9 = 0.00117; 0.00116 is below it.
        assert [(s.reason, s.ts) for s in sells] == [(Reason.TRAILING_STOP, T0 + 5 * S)]
    else:
        assert sells == []


def test_volume_death_when_hourly_volume_falls_below_a_fifth_of_entry() -> None:
    # One 1-token tick a minute for an hour (0.001 SOL each), entry at minute 60
    # (fills 1 s later), then 1-raw-unit ticks. The 1h window [k-59, k] at minute k
    # holds (120 - k) busy minutes: below 20% of the entry hour's 60 first at k = 109.
    tape = Tape()
    for k in range(61):
        tape.tick(T0 + k * MIN, 0.001, size=1_000_000)
    tape.tick(T0 + 60 * MIN + S, 0.001, size=1)
    for k in range(61, 115):
        tape.tick(T0 + k * MIN, 0.001, size=1)
    ev, _ = run(tape, rule="age_min >= 60", fixed_slippage_bps=0)
    dec = [e for e in of_kind(ev, OutKind.DECIDED) if e.side == -1]
    assert [(d.reason, d.ts) for d in dec] == [(Reason.VOLUME_DEATH, T0 + 109 * MIN)]


def test_end_of_data_leaves_positions_open() -> None:
    ev, k = run(Tape().tick(T0, 0.001).tick(T0 + S, 0.001))
    assert len(of_kind(ev, OutKind.POSITION_OPENED)) == 1
    assert of_kind(ev, OutKind.POSITION_CLOSED) == []
    assert k.state.pos_i[:, PI_ACTIVE].tolist().count(1) == 1


def test_max_concurrent_positions_and_one_position_per_mint() -> None:
    tape = Tape()
    for m in range(4):
        tape.tick(T0, 0.001, mint=m)
    tape.tick(T0 + S, 0.001, mint=0)  # mint 0 already has a pending entry: no second one
    ev, _ = run(tape, max_positions=3)
    orders = of_kind(ev, OutKind.ORDER_PLACED)
    assert [o.mint for o in orders] == [0, 1, 2]


def test_no_entry_without_cash_for_spend_and_fees() -> None:
    # 1 SOL of cash cannot pay 1 SOL plus the entry and reserved exit network fees.
    ev, _k = run(Tape().tick(T0, 0.001), initial_cash_sol=1.0, position_sol=1.0)
    # The decision engine logs why it did not buy, and places nothing.
    assert [(e.kind, e.reason, e.action) for e in ev] == [
        (OutKind.DECIDED, Reason.NO_CASH, Action.SKIP)
    ]
    enough = 1.0 + 4 * NETFEE / LAMPORTS
    ev2, _ = run(Tape().tick(T0, 0.001), initial_cash_sol=enough, position_sol=1.0)
    assert len(of_kind(ev2, OutKind.ORDER_PLACED)) == 1


def test_signals_feed_conditions() -> None:
    yes = Tape().signal(T0, 2, 40.0).tick(T0 + S, 0.001)
    no = Tape().signal(T0, 2, 60.0).tick(T0 + S, 0.001)
    unknown = Tape().tick(T0 + S, 0.001)  # NaN never satisfies a condition
    assert len(of_kind(run(yes, rule="top3_pct < 50")[0], OutKind.DECIDED)) == 1
    assert of_kind(run(no, rule="top3_pct < 50")[0], OutKind.DECIDED) == []
    assert of_kind(run(unknown, rule="top3_pct < 50")[0], OutKind.DECIDED) == []


def test_exit_rejected_for_slippage_is_retried_on_a_later_tick() -> None:
    tape = (
        Tape()
        .tick(T0, 0.001, liq=100.0)
        .tick(T0 + S, 0.001, liq=100.0)  # entry fills
        .tick(T0 + 2 * S, 0.0009, liq=100.0)  # stop loss placed
        .tick(T0 + 3 * S, 0.0009, liq=3.0)  # pool drained: 0.88 SOL into 3 SOL = 22.7%
        .tick(T0 + 4 * S, 0.0009, liq=100.0)  # retry fills
    )
    ev, _ = run(tape, position_sol=1.0)
    sell_events = [e for e in ev if e.side == -1 and e.kind != OutKind.DECIDED]
    kinds = [(e.kind, e.reason, e.ts) for e in sell_events]
    assert kinds == [
        (OutKind.ORDER_PLACED, Reason.STOP_LOSS, T0 + 2 * S),
        (OutKind.ORDER_REJECTED, Reason.REJECT_SLIPPAGE, T0 + 3 * S),
        (OutKind.ORDER_PLACED, Reason.STOP_LOSS, T0 + 3 * S),
        (OutKind.ORDER_FILLED, Reason.STOP_LOSS, T0 + 4 * S),
        (OutKind.POSITION_CLOSED, Reason.STOP_LOSS, T0 + 4 * S),
    ]
    assert sell_events[1].order_id != sell_events[2].order_id


def test_order_size_past_int64_is_refused_not_wrapped() -> None:
    # 0.99 SOL at 1e-15 SOL/token is 9.9e20 raw units: it cannot be held, so the
    # entry is refused with its own reason instead of overflowing.
    ev, k = run(Tape().tick(T0, 1e-15).tick(T0 + S, 1e-15), position_sol=1.0)
    (rej,) = of_kind(ev, OutKind.ORDER_REJECTED)
    assert rej.reason == Reason.REJECT_SIZE
    assert cash(k) == 10 * LAMPORTS


def test_equity_marks_once_per_minute_with_a_tick_at_its_end() -> None:
    # The curve the report's drawdown and Sharpe read: cash plus the position at the
    # last price seen by each minute's end; a minute with only a signal has no mark.
    tape = (
        Tape()
        .tick(T0, 0.001, liq=100.0)  # minute 0: entry placed
        .tick(T0 + 500 * MS, 0.001, liq=100.0)  # entry fills
        .tick(T0 + 30 * S, 0.00104, liq=100.0)  # same minute: no mark
        .tick(T0 + 70 * S, 0.00097, liq=100.0)  # minute 1: marks minute 0 at 0.00104
        .signal(T0 + 150 * S, 2, 40.0)  # minute 2 has no tick: no mark
        .tick(T0 + 200 * S, 0.00099, liq=100.0)  # minute 3: marks minute 1 at 0.00097
    )
    ev, k = run(tape, position_sol=1.0)
    tokens = buy_fill(LAMPORTS, Fr(1, 1000), Fr(100))["tokens"]
    cash_sol = (10 * LAMPORTS - LAMPORTS - NETFEE) / LAMPORTS
    want = [
        (T0 + MIN, cash_sol, tokens / SCALE * 0.00104),
        (T0 + 2 * MIN, cash_sol, tokens / SCALE * 0.00097),
        (T0 + 4 * MIN, cash_sol, tokens / SCALE * 0.00099),  # the open minute, at its end
    ]
    got = k.curve()
    assert [(ts, c) for ts, c, _ in got] == [(ts, c) for ts, c, _ in want]
    assert [h for _, _, h in got] == pytest.approx([h for _, _, h in want], rel=1e-12)
    assert len(of_kind(ev, OutKind.ORDER_FILLED)) == 1  # no exit: the marks are the point
    assert OutKind.EQUITY_MARKED not in {e.kind for e in ev}  # marks are not log events
    assert k.curve() == got  # reading the curve changes nothing
    empty, k0 = run(Tape())
    assert (empty, k0.curve()) == ([], [])
