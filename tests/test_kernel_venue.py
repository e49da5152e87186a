"""Live mode in the kernel: orders are external, fills and rejects are input events.

With `external_venue` the simulated venue never fills; the adapter's reports
(InputKind.VENUE_FILL / VENUE_REJECT) open, reduce and close positions with the amounts
the wallet actually moved, so cash, positions, PnL and breakers come from the log alone.
Every expected figure is worked out here from the reported amounts.
"""

from __future__ import annotations

import math

import pytest

from engine.events import InputKind, OutKind, Reason
from engine.layout import G_SLOTS_USED, PI_ACTIVE
from tests.kernel_helpers import T0, Out, S, Tape, cash, of_kind, reserved, run

MS = S // 1000
SOL = 10**9
RENT_AND_FEES = 5_000 + 10_000 + 2_039_280  # base fee, priority fee, a new token account


def test_a_live_position_opens_and_closes_on_reported_amounts_only() -> None:
    tape = (
        Tape()
        .tick(T0, 0.001)  # the sniper buys: order 1 (1 SOL)
        .tick(T0 + 500 * MS, 0.001)  # the simulated venue would fill here; live never does
        .venue_fill(T0 + 600 * MS, 1, tokens=1_000 * 10**6, lamports=SOL, fees=RENT_AND_FEES)
        .venue_fill(T0 + 700 * MS, 99, tokens=5, lamports=5, fees=5)  # stale: no such order
        .tick(T0 + 1 * S, 0.0012)  # +20 % > target 1 (15 %): sell 33 % (order 2)
        .venue_reject(T0 + 1200 * MS, 2, cost=5_000)  # landed and failed: placed again (3)
        .venue_fill(T0 + 1500 * MS, 3, tokens=330_000_000, lamports=390_000_000, fees=5_000)
        .tick(T0 + 2 * S, 0.00095)  # under the stop, moved up to the entry: sell the rest (4)
        .venue_fill(T0 + 2500 * MS, 4, tokens=670_000_000, lamports=630_000_000, fees=5_000)
    )
    ev, k = run(tape, position_sol=1.0, external=True)
    placed = of_kind(ev, OutKind.ORDER_PLACED)
    assert [(o.order_id, o.side, o.reason) for o in placed] == [
        (1, 1, Reason.ENTRY_CONDITIONS), (2, -1, Reason.TARGET_1), (3, -1, Reason.TARGET_1),
        (4, -1, Reason.STOP_LOSS),
    ]  # fmt: skip
    assert placed[1].qty == placed[2].qty == 330_000_000  # 33 % of 1,000 tokens
    fills = of_kind(ev, OutKind.ORDER_FILLED)
    assert [(f.order_id, f.qty, f.sol, f.fee, f.netfee) for f in fills] == [
        (1, 1_000 * 10**6, SOL, 0, RENT_AND_FEES),
        (3, 330_000_000, 390_000_000, 0, 5_000),
        (4, 670_000_000, 630_000_000, 0, 5_000),
    ]
    assert fills[0].ts == T0 + 600 * MS and fills[0].price == pytest.approx(0.001)
    assert fills[1].price == pytest.approx(0.39 / 330)
    (rej,) = of_kind(ev, OutKind.ORDER_REJECTED)
    assert (rej.order_id, rej.reason, rej.netfee) == (2, Reason.REJECT_VENUE, 5_000)
    (opened,) = of_kind(ev, OutKind.POSITION_OPENED)
    assert opened.sol == SOL + RENT_AND_FEES and opened.stop == pytest.approx(0.00092)
    # PnL = what came back net of every fee (the failed exit's included) minus the cost.
    back = (390_000_000 - 5_000) - 5_000 + (630_000_000 - 5_000)
    (closed,) = of_kind(ev, OutKind.POSITION_CLOSED)
    assert closed.sol == back - (SOL + RENT_AND_FEES) == 17_930_720
    assert cash(k) == 10 * SOL + 17_930_720 and reserved(k) == 0
    assert k.state.pos_i[:, PI_ACTIVE].sum() == 0


def test_a_rejected_live_entry_frees_its_slot_and_pays_what_it_cost() -> None:
    tape = (
        Tape()
        .tick(T0, 0.001)
        .tick(T0 + S, 0.001)
        .venue_reject(T0 + 2 * S, 1, cost=15_000)
        .tick(T0 + 3 * S, 0.001)  # a new entry may be decided (order 2)
    )
    ev, k = run(tape, position_sol=1.0, external=True, reentry_cooldown_s=0)
    (rej,) = of_kind(ev, OutKind.ORDER_REJECTED)
    assert (rej.order_id, rej.reason, rej.sol, rej.netfee) == (1, Reason.REJECT_VENUE, SOL, 15_000)
    assert [o.order_id for o in of_kind(ev, OutKind.ORDER_PLACED)] == [1, 2]
    assert cash(k) == 10 * SOL - 15_000
    assert int(k.state.glob[G_SLOTS_USED]) == 1  # order 2 holds one slot, order 1's is free
    assert of_kind(ev, OutKind.ORDER_FILLED) == []


def test_the_simulated_venue_ignores_venue_reports() -> None:
    tape = Tape().tick(T0, 0.001).venue_fill(T0 + 100 * MS, 1, 10**9, SOL, 15_000)
    ev, k = run(tape, position_sol=1.0)
    assert of_kind(ev, OutKind.ORDER_FILLED) == [] and cash(k) == 10 * SOL


def test_the_chain_wins_a_start_up_reconciliation() -> None:
    tape = (
        Tape()
        .tick(T0, 0.001)
        .venue_fill(T0 + S, 1, tokens=1_000 * 10**6, lamports=SOL, fees=15_000)
        .venue_adjust(T0 + 2 * S, 7_000)  # the wallet holds 7,000 lamports more than the log
        .venue_adjust(T0 + 2 * S, -400 * 10**6, mint=0)  # and 400 tokens fewer
        .venue_adjust(T0 + 3 * S, -600 * 10**6, mint=0)  # then none at all
    )
    ev, k = run(tape, position_sol=1.0, external=True)
    assert cash(k) == 10 * SOL - SOL - 15_000 + 7_000
    (closed,) = of_kind(ev, OutKind.POSITION_CLOSED)
    assert (closed.reason, closed.ts, closed.sol) == (Reason.RECONCILED, T0 + 3 * S,
                                                      -(SOL + 15_000))  # fmt: skip
    assert closed.qty == 1_000 * 10**6  # the position's original size, as every close reports
    assert k.state.pos_i[:, PI_ACTIVE].sum() == 0


def _walk(n: int = 600, mints: int = 3, seed: int = 5) -> Tape:
    """A random walk per mint, a tick every second in turn, pools of 40 SOL."""
    import random

    rng = random.Random(seed)
    price = [0.001] * mints
    tape = Tape()
    for k in range(n):
        m = k % mints
        price[m] *= math.exp(rng.gauss(0.0, 0.04))
        tape.tick(T0 + k * S, price[m], mint=m, liq=40.0)
    return tape


def _as_venue_reports(paper: list[Out], tape: Tape) -> Tape:
    """The tape, with the simulated venue's fills reported as a live venue would report
    them, just before the tick they filled at: lamports into (or out of) the swap net of
    the DEX fee, the DEX fee counted with the network fees."""
    fills: dict[int, list[Out]] = {}
    for f in of_kind(paper, OutKind.ORDER_FILLED):
        fills.setdefault(f.in_seq, []).append(f)
    live = Tape()
    for k, row in enumerate(tape.rows):
        for f in fills.get(k, []):
            net = f.sol - f.fee if f.side == 1 else f.sol
            costs = f.netfee + f.fee if f.side == 1 else f.netfee
            live.venue_fill(row[1], f.order_id, tokens=f.qty, lamports=net, fees=costs,
                            mint=f.mint)  # fmt: skip
        live.rows.append(row)
    return live


def _decisions(events: list[Out]) -> list[tuple[int, ...]]:
    keep = (OutKind.DECIDED, OutKind.ORDER_PLACED, OutKind.POSITION_OPENED)
    return [(e.kind, e.ts, e.mint, e.side, e.reason, e.qty, e.sol, e.order_id, e.pos_id)
            for e in events if e.kind in keep]  # fmt: skip


def test_fed_the_simulated_venues_fills_a_live_kernel_decides_exactly_as_paper() -> None:
    """Paper and live are one program: a live run whose venue answers as the simulated one
    makes every decision, order and position the paper run makes, with the same cash;
    the only differences are in the fill rows (when and how the venue's answer came)."""
    tape = _walk()
    params = {"position_sol": 0.5, "max_positions": 3, "time_stop_s": 30,
              "reentry_cooldown_s": 0, "max_slippage_pct": 1.0}  # fmt: skip
    paper, kp = run(tape, "price > 0", **params)
    live, kl = run(_as_venue_reports(paper, tape), "price > 0", external=True, **params)
    assert len(of_kind(paper, OutKind.ORDER_FILLED)) > 20  # a market worth comparing
    assert _decisions(live) == _decisions(paper)
    closes = [(e.ts, e.mint, e.reason, e.sol) for e in of_kind(paper, OutKind.POSITION_CLOSED)]
    assert [(e.ts, e.mint, e.reason, e.sol) for e in of_kind(live, OutKind.POSITION_CLOSED)] \
        == closes  # the same trades with the same PnL, to the lamport  # fmt: skip
    assert cash(kl) == cash(kp) and reserved(kl) == reserved(kp)


def test_a_different_fill_is_the_first_difference_and_explains_the_rest() -> None:
    """A venue that fills one entry 3 % worse: every decision before that fill is the
    paper run's, the first difference is that fill, and the position opens on the
    venue's amounts."""
    tape = _walk()
    params = {"position_sol": 0.5, "max_positions": 3, "time_stop_s": 30,
              "reentry_cooldown_s": 0, "max_slippage_pct": 1.0}  # fmt: skip
    paper, _ = run(tape, "price > 0", **params)
    live_tape = _as_venue_reports(paper, tape)
    k = next(i for i, r in enumerate(live_tape.rows) if r[0] == InputKind.VENUE_FILL)
    r = live_tape.rows[k]
    worse = int(r[4] * 0.97)
    live_tape.rows[k] = (r[0], r[1], r[2], r[3], worse, r[5], r[6], r[7])
    live, _ = run(live_tape, "price > 0", external=True, **params)
    t_fill = r[1]
    assert [d for d in _decisions(live) if d[1] < t_fill] == \
        [d for d in _decisions(paper) if d[1] < t_fill]  # fmt: skip
    (first_l,) = [e for e in of_kind(live, OutKind.ORDER_FILLED) if e.order_id == int(r[7])]
    (first_p,) = [e for e in of_kind(paper, OutKind.ORDER_FILLED) if e.order_id == int(r[7])]
    assert (first_l.qty, first_p.qty) == (worse, r[4])
    (opened,) = [e for e in of_kind(live, OutKind.POSITION_OPENED) if e.order_id == int(r[7])]
    assert opened.qty == worse and opened.price == pytest.approx(r[3] / 1e9 / (worse / 1e6))
