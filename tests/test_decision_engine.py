"""Hand-worked cases for the decision engine inside the kernel.

Confidence (with renormalisation), each action branch, sizing (the seed's example),
every circuit breaker tripping and resetting, the correlation guard and the scanner's
cooldown and top-5 cut. Expected numbers are worked out here from the documented rules
(README "Decision engine"), never read back from the kernel.
"""

from __future__ import annotations

import math
import statistics
from fractions import Fraction as Fr

import pytest

from engine.codes import SignalKind as K
from engine.events import Action, Breaker, BreakerCause, OutKind, Reason, Trigger
from engine.layout import (
    OF_CORR,
    OF_FUND,
    OF_PORT_RISK,
    OF_RISK_SCORE,
    OF_RISKADJ,
    OF_SCAN_SCORE,
    OF_SIZE_SOL,
    OF_SOCIAL,
    OF_TECH,
)
from tests.kernel_helpers import FIXED_SIZE, MIN, T0, Out, S, Tape, of_kind, run
from tests.test_kernel_money import LAMPORTS, NETFEE, buy_fill, sell_fill

DAY = 86_400 * S
OPEN = {"min_buy_confidence": 0.0, "hold_confidence": 0.0, "require_trend_up": 0.0,
        "min_liquidity": -1.0}  # fmt: skip
"""Decision thresholds wide open: every trigger is a buy unless a guard says no."""


def decisions(ev: list[Out]) -> list[Out]:
    return of_kind(ev, OutKind.DECIDED)


def breaker_events(ev: list[Out]) -> list[tuple[OutKind, Breaker, int]]:
    return [
        (e.kind, Breaker(int(e.reason)), e.action)
        for e in ev
        if e.kind in (OutKind.BREAKER_TRIPPED, OutKind.BREAKER_RESET)
    ]


def buys_placed(ev: list[Out]) -> list[Out]:
    return [e for e in of_kind(ev, OutKind.ORDER_PLACED) if e.side == 1]


# ------------------------------------------------------------------ confidence
def _scored_tape(*, social: bool, meme: bool = True) -> Tape:
    """One tick of a 6-decimal mint at 1e-7 SOL, 10 SOL traded, pool 50 SOL."""
    tape = Tape()
    tape.signal(T0, K.TOP3_PCT, 40.0).signal(T0, K.BOT_LIKE, 0.0)
    if social:
        tape.signal(T0, K.SENTIMENT, 0.5).signal(T0, K.UNIQUE_BUYERS, 99.0)
        tape.signal(T0, K.BUY_PRESSURE, 3.0).signal(T0, K.SELL_PRESSURE, 1.0)
    if not meme:
        tape.signal(T0, K.TOKEN_TYPE, 0.0)
    return tape.tick(T0 + S, 1e-7, size=10**14, liq=50.0)


# By hand, for that tick (first tick: both EMAs and every past close are the price):
TECH = (0.5 + 0.5 + 1.0 + 1.0) / 4  # trend 0 -> 0.5, momentum 0 -> 0.5, vol ratio 12/3
#                                     capped at 1, volatility 0 -> 1; no range yet
COMMUNITY = 2 / math.log10(1001)  # log10(1 + 99) / log10(1 + 1000)
SOCIAL = (0.75 + COMMUNITY + 0.75) / 3  # sentiment (0.5+1)/2, buyers, flow 3/(3+1)
RISK = 10 * (0.0 + 0.5 + 0.0) / 3  # volatility 0, top3 40/80, bot 0
FUND_MEME = (0.4 + 1.0 + 0.2 + 0.5) / 4  # type, mcap 100 SOL (low end), vol/mcap 0.1/0.5,
#                                           liquidity 50/100
FUND_OTHER = (0.7 + 1.0 + 0.2 + 0.5) / 4


@pytest.mark.parametrize(
    ("social", "meme", "want_conf", "want_fund"),
    [
        (True, True, 0.4 * TECH + 0.3 * SOCIAL + 0.2 * FUND_MEME + 0.1 * (1 - RISK / 10),
         FUND_MEME),
        # No social inputs: the social weight drops out and the rest renormalise.
        (False, True, (0.4 * TECH + 0.2 * FUND_MEME + 0.1 * (1 - RISK / 10)) / 0.7, FUND_MEME),
        # Not a meme token: social weighs 15%, and the type scores 0.7.
        (True, False,
         (0.4 * TECH + 0.15 * SOCIAL + 0.2 * FUND_OTHER + 0.1 * (1 - RISK / 10)) / 0.85,
         FUND_OTHER),
    ],
)  # fmt: skip
def test_confidence_by_hand(social: bool, meme: bool, want_conf: float, want_fund: float) -> None:
    ev, _ = run(_scored_tape(social=social, meme=meme), engine=True)
    (d,) = decisions(ev)
    assert d.conf == pytest.approx(want_conf, rel=1e-12)
    assert d.ctx(OF_TECH) == pytest.approx(TECH, rel=1e-12)
    if social:
        assert d.ctx(OF_SOCIAL) == pytest.approx(SOCIAL, rel=1e-12)
    else:
        assert math.isnan(d.ctx(OF_SOCIAL))
    assert d.ctx(OF_FUND) == pytest.approx(want_fund, rel=1e-12)
    assert d.ctx(OF_RISK_SCORE) == pytest.approx(RISK, rel=1e-12)
    assert d.ctx(OF_RISKADJ) == pytest.approx(1 - RISK / 10, rel=1e-12)
    # Confidence >= 0.65 but a flat trend (fast EMA = slow EMA): hold, not buy.
    assert (d.action, d.reason, d.trigger) == (Action.HOLD, Reason.TREND_NOT_UP, Trigger.SNIPER)


# --------------------------------------------------------------------- actions
def _rising(liq: float = 100.0) -> Tape:
    """Two ticks a minute apart, the second 10% higher: the fast EMA leads."""
    return Tape().tick(T0, 0.001, liq=liq).tick(T0 + MIN, 0.0011, liq=liq)


def test_buy_when_confident_trending_and_liquid() -> None:
    ev, _ = run(_rising(), engine=True, min_buy_confidence=0.3, hold_confidence=0.3)
    d = decisions(ev)
    # First tick: flat trend, a hold; second: trend up, pool 100 > 30 SOL: buy.
    assert [(x.action, x.reason) for x in d] == [
        (Action.HOLD, Reason.TREND_NOT_UP),
        (Action.BUY, Reason.ENTRY_CONDITIONS),
    ]
    (order,) = buys_placed(ev)
    assert order.dec_id == d[1].dec_id


@pytest.mark.parametrize(
    ("overrides", "liq", "want"),
    [
        ({"min_buy_confidence": 0.3, "hold_confidence": 0.3}, 20.0,
         (Action.HOLD, Reason.LOW_LIQUIDITY)),  # pool 20 <= min_liquidity 30
        ({"min_buy_confidence": 0.99, "hold_confidence": 0.1}, 100.0,
         (Action.HOLD, Reason.HOLD_ZONE)),
        ({"min_buy_confidence": 0.99, "hold_confidence": 0.99}, 100.0,
         (Action.SKIP, Reason.LOW_CONFIDENCE)),
    ],
)  # fmt: skip
def test_hold_and_skip_branches(overrides: dict[str, float], liq: float, want: tuple) -> None:
    ev, _ = run(_rising(liq), engine=True, decision_log_interval_s=0, **overrides)
    assert (decisions(ev)[-1].action, decisions(ev)[-1].reason) == want
    assert buys_placed(ev) == []


def test_strong_sell_overrides_a_buy_on_a_flat_mint() -> None:
    # Sentiment -1 is the only social input: social score 0 <= 0.15.
    tape = Tape().signal(T0, K.SENTIMENT, -1.0)
    tape.tick(T0 + S, 0.001, liq=100.0)
    ev, _ = run(tape, engine=True, **OPEN)
    (d,) = decisions(ev)
    assert (d.action, d.reason, d.side) == (Action.SELL, Reason.STRONG_SELL, -1)
    assert d.ctx(OF_SOCIAL) == 0.0
    assert of_kind(ev, OutKind.ORDER_PLACED) == []


def test_sentiment_flip_exits_a_held_position() -> None:
    tape = Tape().tick(T0, 0.001, liq=100.0).tick(T0 + S, 0.001, liq=100.0)  # buy, fill
    tape.signal(T0 + 2 * S, K.SENTIMENT, -0.9)  # social (1 - 0.9) / 2 = 0.05
    tape.tick(T0 + 3 * S, 0.001, liq=100.0).tick(T0 + 4 * S, 0.001, liq=100.0)
    ev, _ = run(tape, engine=True, latency_ms=0, **OPEN)
    sell = [d for d in decisions(ev) if d.side == -1]
    assert [(d.action, d.reason, d.ts) for d in sell] == [
        (Action.SELL, Reason.SENTIMENT_FLIP, T0 + 3 * S)
    ]
    assert sell[0].ctx(OF_SOCIAL) == pytest.approx(0.05, rel=1e-12)
    (closed,) = of_kind(ev, OutKind.POSITION_CLOSED)
    assert (closed.reason, closed.ts) == (Reason.SENTIMENT_FLIP, T0 + 4 * S)


def test_hold_and_skip_logging_is_rate_limited_per_mint() -> None:
    tape = Tape()
    for k in range(7):  # a tick a minute; the 300 s interval lets minutes 0 and 5 through
        tape.tick(T0 + k * MIN, 0.001, liq=100.0)
    ev, _ = run(tape, engine=True, min_buy_confidence=0.99, hold_confidence=0.99)
    assert [d.ts for d in decisions(ev)] == [T0, T0 + 5 * MIN]
    ev2, _ = run(tape, engine=True, min_buy_confidence=0.99, hold_confidence=0.99,
                 decision_log_interval_s=0)  # fmt: skip
    assert len(decisions(ev2)) == 7


# ---------------------------------------------------------------------- sizing
SIZING = {"w_technical": 0.0, "w_fundamental": 0.0, "w_risk": 0.0, "w_social_meme": 1.0,
          "require_trend_up": 0.0, "min_position_sol": 1.0}  # fmt: skip
"""Confidence = social score = (sentiment + 1) / 2, so the tape sets it exactly."""


def _sized(risk: float, liq: float = 100.0) -> Tape:
    tape = Tape().signal(T0, K.SENTIMENT, 0.44).signal(T0, K.RISK_SCORE, risk)
    return tape.tick(T0 + S, 0.001, liq=liq)


@pytest.mark.parametrize(
    ("risk", "liq", "overrides", "want_lamports"),
    [
        # The seed's example: confidence 0.72, risk 6. (10 - 6) / 10 = 0.4 is under the
        # 0.5 floor: 1 SOL x 0.72 / 0.65 x 0.5 = 0.5538461538... SOL.
        (6.0, 100.0, {}, math.floor(Fr(72, 100) / Fr(65, 100) * Fr(1, 2) * LAMPORTS)),
        # Risk 2: factor (10 - 2) / 10 = 0.8.
        (2.0, 100.0, {}, math.floor(Fr(72, 100) / Fr(65, 100) * Fr(8, 10) * LAMPORTS)),
        # Capped at 1% of a 40 SOL pool: 0.4 SOL.
        (6.0, 40.0, {}, 400_000_000),
        # Capped at max_position_sol.
        (6.0, 100.0, {"max_position_sol": 0.375}, 375_000_000),
        # Capped by portfolio risk: 2 SOL equity x 1/128 = 1/64 SOL of risk budget, at a
        # 1/16 stop distance: 0.25 SOL.
        (6.0, 100.0,
         {"initial_cash_sol": 2.0, "max_portfolio_risk": 0.0078125, "stop_loss": 0.0625},
         250_000_000),
    ],
)  # fmt: skip
def test_position_sizing_by_hand(
    risk: float, liq: float, overrides: dict[str, float], want_lamports: int
) -> None:
    ev, _ = run(_sized(risk, liq), engine=True, **(SIZING | overrides))
    (d,) = decisions(ev)
    assert d.conf == pytest.approx(0.72, rel=1e-12)
    assert (d.action, d.sol) == (Action.BUY, want_lamports)
    (order,) = buys_placed(ev)
    assert order.sol == want_lamports
    assert d.ctx(OF_SIZE_SOL) == pytest.approx(want_lamports / LAMPORTS, rel=1e-8)


def test_portfolio_risk_recorded_and_too_small_entries_skipped() -> None:
    ev, _ = run(_sized(6.0), engine=True,
                **(SIZING | {"initial_cash_sol": 2.0, "max_portfolio_risk": 0.0078125,
                             "stop_loss": 0.0625}))  # fmt: skip
    (d,) = decisions(ev)
    assert d.ctx(OF_PORT_RISK) == pytest.approx(0.0078125, rel=1e-12)  # 0.25 x 1/16 / 2
    # Budget 2 x 1/1024 = 1/512 SOL at 1/16: 1/32 SOL < min_order_sol 0.05: skip.
    ev2, _ = run(_sized(6.0), engine=True,
                 **(SIZING | {"initial_cash_sol": 2.0, "max_portfolio_risk": 1 / 1024,
                              "stop_loss": 0.0625, "min_order_sol": 0.05}))  # fmt: skip
    (d2,) = decisions(ev2)
    assert (d2.action, d2.reason) == (Action.SKIP, Reason.PORTFOLIO_RISK)
    assert buys_placed(ev2) == []


# --------------------------------------------------------------------- breakers
BREAKERS_OFF = {
    "max_consecutive_losses": 1e9,
    "max_daily_loss_sol": 1e9,
    "max_daily_loss_pct": 1e3,
    "max_daily_trades": 1e9,
    "max_slippage_pct": 1.0,
}


def _sniper(**overrides: float) -> dict[str, float]:
    """Fixed 1 SOL entries on every trigger, zero latency, no cooldown, breakers as given."""
    return FIXED_SIZE | BREAKERS_OFF | {"max_position_sol": 1.0, "latency_ms": 0,
                                        "reentry_cooldown_s": 0} | overrides  # fmt: skip


def test_three_consecutive_losses_trip_and_a_new_day_resets() -> None:
    tape = Tape()
    t = T0
    price = 0.001
    for _ in range(3):  # buy, fill, halve (stop), fill: three losing round trips
        tape.tick(t, price).tick(t + S, price)
        price /= 2
        tape.tick(t + 2 * S, price)
        t += 3 * S
    tape.tick(t, price)  # the third stop fills; the same tick's trigger is refused
    tape.tick(T0 + DAY, price)  # next UTC day: reset, then a buy
    ev, _ = run(tape, **_sniper(max_consecutive_losses=3))
    closed = of_kind(ev, OutKind.POSITION_CLOSED)
    assert [c.reason for c in closed] == [Reason.STOP_LOSS] * 3
    assert all(c.sol < 0 for c in closed)
    assert breaker_events(ev) == [
        (OutKind.BREAKER_TRIPPED, Breaker.CONSECUTIVE_LOSSES, BreakerCause.TRIPPED),
        (OutKind.BREAKER_RESET, Breaker.CONSECUTIVE_LOSSES, BreakerCause.NEW_DAY),
    ]
    (trip,) = of_kind(ev, OutKind.BREAKER_TRIPPED)
    assert (trip.price, trip.stop, trip.ts) == (3.0, 3.0, closed[2].ts)
    # While tripped, the sniper's trigger on the closing tick buys nothing.
    assert [b.ts for b in buys_placed(ev)][-2:] == [closed[2].ts - S * 3, T0 + DAY]


def _losing_trade(t: int = T0) -> Tape:
    """Buy 1 SOL at 0.0013 (fixed 50 bps impact), the price halves, the stop fills."""
    tape = Tape().tick(t, 0.0013).tick(t + S, 0.0013)
    return tape.tick(t + 2 * S, 0.00065).tick(t + 3 * S, 0.00065)


def _expected_loss_sol() -> Fr:
    buy = buy_fill(LAMPORTS, Fr(13, 10_000), None)
    sell = sell_fill(buy["tokens"], Fr(13, 20_000), None)
    return Fr((LAMPORTS + NETFEE) - (sell["recv"] - NETFEE), LAMPORTS)


@pytest.mark.parametrize(
    ("overrides", "breaker", "limit"),
    [
        ({"max_daily_loss_sol": 0.3}, Breaker.DAILY_LOSS_SOL, 0.3),
        ({"max_daily_loss_pct": 0.04}, Breaker.DAILY_LOSS_PCT, 0.4),  # 4% of 10 SOL
    ],
)
def test_daily_loss_trips_and_a_manual_reset_resumes(
    overrides: dict[str, float], breaker: Breaker, limit: float
) -> None:
    tape = _losing_trade()
    tape.tick(T0 + 4 * S, 0.00065)  # refused: the breaker is tripped
    tape.signal(T0 + 5 * S, K.BREAKER_RESET, 1.0, mint=-1)
    tape.tick(T0 + 6 * S, 0.00065)  # buys again
    ev, _ = run(tape, **_sniper(**overrides))
    loss = _expected_loss_sol()
    assert loss > Fr(1, 2)  # half the value plus fees, slippage and impact
    (trip,) = of_kind(ev, OutKind.BREAKER_TRIPPED)
    assert (Breaker(int(trip.reason)), trip.ts) == (breaker, T0 + 3 * S)
    assert trip.price == pytest.approx(float(loss), rel=1e-12)
    assert trip.stop == pytest.approx(limit, rel=1e-12)
    (reset,) = of_kind(ev, OutKind.BREAKER_RESET)
    assert (Breaker(int(reset.reason)), reset.action, reset.ts) == (
        breaker, BreakerCause.MANUAL_RESET, T0 + 5 * S,
    )  # fmt: skip
    assert [b.ts for b in buys_placed(ev)] == [T0, T0 + 6 * S]


def test_too_many_trades_today_halts_entries_until_the_next_day() -> None:
    tape = Tape().tick(T0, 0.001, mint=0).tick(T0 + S, 0.001, mint=1)
    tape.tick(T0 + 2 * S, 0.001, mint=2)  # third entry of the day: refused
    tape.tick(T0 + DAY, 0.001, mint=2)  # new day: reset, then it buys
    ev, _ = run(tape, **_sniper(max_daily_trades=2))
    assert [b.mint for b in buys_placed(ev)] == [0, 1, 2]
    assert [b.ts for b in buys_placed(ev)][-1] == T0 + DAY
    (trip,) = of_kind(ev, OutKind.BREAKER_TRIPPED)
    assert (Breaker(int(trip.reason)), trip.ts, trip.price) == (Breaker.DAILY_TRADES, T0 + S, 2.0)
    assert [d.mint for d in decisions(ev) if d.ts == T0 + 2 * S] == []  # not even asked
    assert breaker_events(ev)[-1] == (
        OutKind.BREAKER_RESET, Breaker.DAILY_TRADES, BreakerCause.NEW_DAY,
    )  # fmt: skip


def test_a_high_slippage_fill_trips_the_slippage_breaker() -> None:
    # Entry into a 100 SOL pool (impact 0.99/100.99 < 3%); the pool then shrinks to
    # 10 SOL and the price halves: the stop sells 0.49 SOL into it, impact 4.7%.
    tape = Tape().tick(T0, 0.001, liq=100.0).tick(T0 + S, 0.001, liq=100.0)
    tape.tick(T0 + 2 * S, 0.0005, liq=10.0).tick(T0 + 3 * S, 0.0005, liq=10.0)
    tape.tick(T0 + 4 * S, 0.0005, liq=100.0)  # refused: halted
    tape.tick(T0 + DAY, 0.0005, liq=100.0)  # a new day resets it, and this tick buys
    ev, _ = run(tape, **_sniper(max_slippage_pct=0.03, max_positions=1))
    tokens = buy_fill(LAMPORTS, Fr(1, 1000), Fr(100))["tokens"]
    value = Fr(tokens, 10**6) * Fr(5, 10_000)
    impact = value / (10 + value)
    (trip,) = of_kind(ev, OutKind.BREAKER_TRIPPED)
    assert (Breaker(int(trip.reason)), trip.ts) == (Breaker.SLIPPAGE, T0 + 3 * S)
    assert trip.price == pytest.approx(float(impact), rel=1e-12)
    assert float(impact) > 0.03
    assert breaker_events(ev)[-1] == (
        OutKind.BREAKER_RESET, Breaker.SLIPPAGE, BreakerCause.NEW_DAY,
    )  # fmt: skip
    assert [b.ts for b in buys_placed(ev)] == [T0, T0 + DAY]


def test_emergency_stop_blocks_entries_never_exits_and_resets_only_by_hand() -> None:
    tape = Tape().tick(T0, 0.001).tick(T0 + S, 0.001)  # buy, fill
    tape.signal(T0 + 2 * S, K.EMERGENCY_STOP, 1.0, mint=-1)
    tape.tick(T0 + 3 * S, 0.0005).tick(T0 + 4 * S, 0.0005)  # stop placed, filled
    tape.tick(T0 + 5 * S, 0.0005)  # refused
    tape.tick(T0 + DAY, 0.0005)  # a new day does not clear an emergency stop
    tape.signal(T0 + DAY + S, K.BREAKER_RESET, 1.0, mint=-1)
    tape.tick(T0 + DAY + 2 * S, 0.0005)  # buys
    ev, _ = run(tape, **_sniper(decision_log_interval_s=0))
    assert breaker_events(ev) == [
        (OutKind.BREAKER_TRIPPED, Breaker.EMERGENCY_STOP, BreakerCause.TRIPPED),
        (OutKind.BREAKER_RESET, Breaker.EMERGENCY_STOP, BreakerCause.MANUAL_RESET),
    ]
    (closed,) = of_kind(ev, OutKind.POSITION_CLOSED)
    assert (closed.reason, closed.ts) == (Reason.STOP_LOSS, T0 + 4 * S)
    assert [b.ts for b in buys_placed(ev)] == [T0, T0 + DAY + 2 * S]


def test_scanner_candidates_are_skipped_with_the_breaker_named() -> None:
    """While a breaker is tripped the sniper is not asked at all; the scanner still hands
    its candidates to the decision engine, which logs them as skips naming the guard."""
    tape = Tape().signal(T0, K.EMERGENCY_STOP, 1.0, mint=-1)
    tape.tick(T0 + S, 0.001, size=2 * 10**9, liq=100.0).heartbeat(T0 + MIN)
    ev, _ = run(tape, engine=True, **OPEN)
    (d,) = decisions(ev)
    assert (d.action, d.reason, d.trigger, d.ts) == (
        Action.SKIP, Reason.BREAKER_ACTIVE, Trigger.SCANNER, T0 + MIN,
    )  # fmt: skip
    assert buys_placed(ev) == []


# ------------------------------------------------------------------ correlation
RETURNS = [0.01, -0.02, 0.03, 0.015, -0.01, 0.02, -0.03, 0.005, 0.01, -0.015]


@pytest.mark.parametrize(("sign", "blocked"), [(1, True), (-1, False)])
def test_correlation_guard(sign: int, blocked: bool) -> None:
    """Mint 1 moves with (or against) mint 0 minute by minute; mint 0 is bought at
    minute 30, then mint 1 triggers: with corr 1 > 0.7 it is refused, with -1 bought."""
    tape = Tape()
    p0, p1 = 0.001, 0.002
    for k in range(31):
        tape.tick(T0 + k * MIN, p0, mint=0).tick(T0 + k * MIN + S, p1, mint=1)
        r = RETURNS[k % len(RETURNS)]
        p0 *= 1 + r
        p1 *= 1 + sign * r
    ev, _ = run(tape, rule="age_min >= 30", **_sniper(max_correlation=0.7))
    d = decisions(ev)
    assert [x.mint for x in d] == [0, 1]
    # Returns of the completed minutes 1..29 of the 30-minute window.
    r0 = [math.log(1 + RETURNS[k % len(RETURNS)]) for k in range(29)]
    r1 = [math.log(1 + sign * RETURNS[k % len(RETURNS)]) for k in range(29)]
    assert d[1].ctx(OF_CORR) == pytest.approx(statistics.correlation(r0, r1), rel=1e-9)
    if blocked:
        assert (d[1].action, d[1].reason) == (Action.SKIP, Reason.CORRELATED)
        assert [b.mint for b in buys_placed(ev)] == [0]
    else:
        assert [b.mint for b in buys_placed(ev)] == [0, 1]


# ---------------------------------------------------------------------- scanner
def test_scanner_top5_cut_and_30_minute_cooldown() -> None:
    """Seven fresh mints listed 5 s apart (2 SOL traded each): a scan ranks them by
    freshness, 2 - age / 60 min, and hands only the 5 youngest to the decision engine;
    the next scan surfaces the other two; the first five return after 30 minutes while
    the last two still rest. A scan runs at the first event past each minute boundary,
    on the state before that event, and skips mints with no tick in the last minute."""
    tape = Tape()
    for j in range(7):
        tape.tick(T0 + 5 * j * S, 0.001, mint=j, size=2 * 10**9)
    scan1 = T0 + MIN
    tape.heartbeat(scan1)
    for j in range(7):
        tape.tick(T0 + 90 * S, 0.001, mint=j, size=1)
    scan2 = T0 + 2 * MIN
    tape.heartbeat(scan2)
    for j in range(7):  # the first of these ticks finds every mint stale (no scan picks)
        tape.tick(T0 + 30 * MIN + 50 * S, 0.001, mint=j, size=1)
    scan3 = T0 + 31 * MIN + 10 * S  # the first five are rested; the other two rest to 32 min
    tape.heartbeat(scan3)
    ev, _ = run(tape, rule=None, scales=[1e6] * 7, engine=True, min_buy_confidence=0.99,
                hold_confidence=0.0, decision_log_interval_s=0)  # fmt: skip
    d = decisions(ev)
    assert all(x.trigger == Trigger.SCANNER and x.sources == 1 for x in d)  # fresh only
    by_scan = {t: [(x.mint, x.ctx(OF_SCAN_SCORE)) for x in d if x.ts == t]
               for t in (scan1, scan2, scan3)}  # fmt: skip

    def fresh(j: int, t: int) -> float:
        return float(2 - Fr(t - (T0 + 5 * j * S), 60 * MIN))

    assert [m for m, _ in by_scan[scan1]] == [6, 5, 4, 3, 2]
    assert [s for _, s in by_scan[scan1]] == pytest.approx(
        [fresh(j, scan1) for j in (6, 5, 4, 3, 2)]
    )
    assert [m for m, _ in by_scan[scan2]] == [1, 0]
    assert [m for m, _ in by_scan[scan3]] == [6, 5, 4, 3, 2]
    assert len(d) == 12
