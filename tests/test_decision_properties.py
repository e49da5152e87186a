"""Decision-engine properties on random event streams (hypothesis).

- an exit is never blocked: tripping the emergency stop at any point leaves every exit
  of the positions already open exactly as it was;
- no entry (buy decision or buy order) while any breaker is tripped, the breakers'
  state being read from the run's own trip and reset events;
- at every entry, the open risk (stop distance x size of each position and pending
  entry), recomputed here from the kernel's state, is within `max_portfolio_risk` of
  equity (cash plus positions at their last price).
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from engine.codes import SignalKind
from engine.events import Action, OutKind
from engine.layout import (
    G_CASH,
    MF_LAST_PRICE,
    MF_SCALE,
    OF_STOP_FRAC,
    OI_ACTIVE,
    OI_SIDE,
    OI_SOL,
    PF_ENTRY_PRICE,
    PF_STOP_PRICE,
    PI_ACTIVE,
    PI_MINT,
    PI_QTY,
)
from tests.kernel_helpers import Out, Tape, decode
from tests.test_kernel_properties import SETTINGS, _kernel, scenario

_SELL_SIDE = (OutKind.DECIDED, OutKind.ORDER_PLACED, OutKind.ORDER_FILLED,
              OutKind.ORDER_REJECTED, OutKind.POSITION_CLOSED)  # fmt: skip


def _exits_of_positions_opened_before(events: list[Out], cut: int) -> dict[tuple, list]:
    """Sell-side events of each position opened at an input event before `cut`, keyed by
    (mint, opening ts) so that ids assigned later cannot shift the comparison."""
    opened = {
        e.pos_id: (e.mint, e.ts)
        for e in events
        if e.kind == OutKind.POSITION_OPENED and e.in_seq < cut
    }
    out: dict[tuple, list] = {key: [] for key in opened.values()}
    for e in events:
        if e.kind in _SELL_SIDE and e.side == -1 and e.pos_id in opened:
            out[opened[e.pos_id]].append(
                (e.kind, e.ts, e.mint, e.reason, e.qty, e.sol, e.fee, e.price)
            )
    return out


@SETTINGS
@given(scenario(), st.integers(min_value=0, max_value=90))
def test_an_exit_is_never_blocked_by_a_breaker(sc: Any, cut: int) -> None:
    tape, params, rule = sc
    cut = min(cut, len(tape.rows))
    base = decode(*_kernel(params, rule).run_all(tape.build()))
    at = tape.rows[cut - 1][1] if cut else tape.rows[0][1]
    stopped = Tape(list(tape.rows))
    stopped.rows.insert(cut, (1, at, -1, 0.0, 0, float("nan"), SignalKind.EMERGENCY_STOP, 1.0))
    halted = decode(*_kernel(params, rule).run_all(stopped.build()))
    assert _exits_of_positions_opened_before(halted, cut) == _exits_of_positions_opened_before(
        base, cut
    )
    # And nothing is bought after the stop until a manual reset (a new day keeps it).
    resets = [i for i, r in enumerate(stopped.rows) if i > cut and r[6] == SignalKind.BREAKER_RESET]
    until = resets[0] if resets else len(stopped.rows)
    after = [e for e in halted if e.kind == OutKind.DECIDED and cut < e.in_seq < until]
    assert not [e for e in after if e.action == Action.BUY]


@SETTINGS
@given(scenario(), st.booleans())
def test_no_entry_while_a_breaker_is_tripped(sc: Any, scanner: bool) -> None:
    tape, params, rule = sc
    params = params | {"max_candidates": 5 if scanner else 0, "decision_log_interval_s": 0}
    tripped: set[int] = set()
    for e in decode(*_kernel(params, rule).run_all(tape.build())):
        if e.kind == OutKind.BREAKER_TRIPPED:
            tripped.add(int(e.reason))
        elif e.kind == OutKind.BREAKER_RESET:
            tripped.discard(int(e.reason))
        elif tripped:
            assert not (e.kind == OutKind.ORDER_PLACED and e.side == 1), (e, tripped)
            assert not (e.kind == OutKind.DECIDED and e.action == Action.BUY), (e, tripped)


def _risk_and_equity(state: Any) -> tuple[float, float]:
    risk = 0.0
    equity = float(state.glob[G_CASH])
    for s in range(len(state.pos_i)):
        if state.pos_i[s, PI_ACTIVE] != 1:
            continue
        m = state.pos_i[s, PI_MINT]
        size = state.pos_i[s, PI_QTY] / state.mint_f[m, MF_SCALE]
        risk += max(0.0, state.pos_f[s, PF_ENTRY_PRICE] - state.pos_f[s, PF_STOP_PRICE]) * size
        equity += size * state.mint_f[m, MF_LAST_PRICE] * 1e9
    for o in range(len(state.ord_i)):
        if state.ord_i[o, OI_ACTIVE] == 1 and state.ord_i[o, OI_SIDE] == 1:
            risk += state.ord_f[o, OF_STOP_FRAC] * state.ord_i[o, OI_SOL] / 1e9
    return risk, equity / 1e9


@SETTINGS
@given(scenario(), st.sampled_from([0.005, 0.02, 0.06]))
def test_open_risk_never_exceeds_max_portfolio_risk_at_entry(sc: Any, max_risk: float) -> None:
    tape, params, rule = sc
    params = params | {"max_portfolio_risk": max_risk, "max_candidates": 0}
    k = _kernel(params, rule)
    batch = tape.build()
    for i in range(len(batch)):
        out = [decode(a, b) for a, b in k.run(batch.slice(i, i + 1))]
        if any(e.kind == OutKind.ORDER_PLACED and e.side == 1 for part in out for e in part):
            risk, equity = _risk_and_equity(k.state)
            assert risk <= max_risk * equity * (1 + 1e-9) + 1e-12, (risk, equity)
